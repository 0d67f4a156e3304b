package finding

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/trailsentry/trailsentry/internal/enrich"
	"github.com/trailsentry/trailsentry/internal/event"
)

// DefaultMaxEvidence is the default cap on the eventIDs kept per finding.
const DefaultMaxEvidence = 1000

// MaxDistinct caps each list of distinct values a finding keeps (event names,
// source IPs, user agents, error codes, event sources, access keys).
const MaxDistinct = 10

// Aggregator groups matched events into findings by rule and dedup key
// (rule, account, region, actor) as they arrive, so a rule that matches most
// of a trail costs one map lookup per event, not one finding per event.
//
// An Aggregator is not safe for concurrent use: give each worker its own and
// Merge them at the end. The result does not depend on the order events were
// added in nor on how they were split between aggregators, because everything
// a finding keeps is chosen by event time, never by arrival:
//
//   - evidence: the MaxEvidence matched events that come first in (event
//     time, eventID) order, listed in that order;
//   - distinct values: the MaxDistinct values that appeared first, by the
//     event time of their first appearance and then the value itself.
type Aggregator struct {
	maxEvidence int
	groups      map[groupKey]*group
	suppress    *Suppressions
}

// groupKey is the dedup key as the map sees it. Its strings are owned copies
// in the map; at lookup they are views into the event, which is fine since a
// lookup keeps nothing.
type groupKey struct {
	rule                   *RuleInfo
	account, region, actor string
	suppressed             string // the reason when a suppression covers the events
	dedup                  string // the rule's own key part (RuleInfo.Dedup), "" by default
}

// group is one finding under construction. Times are Unix microseconds.
type group struct {
	key         groupKey
	count       int64
	failed      int64 // matched events whose call failed (errorCode set)
	withID      int64 // matched events that carried an eventID
	first, last int64 // event time range; first > last while none had a time
	evidence    evidence
	sources     distinct
	names       distinct
	ips         distinct
	agents      distinct
	errors      distinct
	messages    distinct
	keys        distinct

	context    enrich.Summary // of the earliest event
	contextAt  stamp
	hasContext bool
}

// NewAggregator returns an empty aggregator keeping up to maxEvidence eventIDs
// per finding; maxEvidence <= 0 means DefaultMaxEvidence.
func NewAggregator(maxEvidence int) *Aggregator {
	if maxEvidence <= 0 {
		maxEvidence = DefaultMaxEvidence
	}
	return &Aggregator{maxEvidence: maxEvidence, groups: make(map[groupKey]*group)}
}

// Suppress makes the aggregator mark the matches that a suppression covers:
// they go to findings of their own, marked suppressed with the reason.
func (a *Aggregator) Suppress(s *Suppressions) { a.suppress = s }

// MaxEvidence is the cap on eventIDs kept per finding.
func (a *Aggregator) MaxEvidence() int { return a.maxEvidence }

// Len is the number of findings so far.
func (a *Aggregator) Len() int { return len(a.groups) }

// Add records that rule r matched ev. It allocates nothing when the finding
// already exists and ev neither becomes evidence nor brings a new value to
// the distinct lists. It keeps no reference to ev: what it stores is copied.
//
// The actor is the enrichment's: the human behind a role session where one
// can be named. The finding's context is the enrichment of its earliest
// event (by time, then eventID), so it too is the same however the events
// were split between aggregators.
func (a *Aggregator) Add(r *RuleInfo, v *enrich.View) {
	ev := v.Event()
	k := groupKey{rule: r, account: ev.Account(), region: ev.Str(event.AWSRegion), actor: v.Actor(), dedup: r.Dedup.Key(v)}
	k.suppressed = a.suppress.match(r, v, k.actor)
	g := a.groups[k]
	if g == nil {
		g = newGroup(k)
		a.groups[g.key] = g
	}
	t := ev.Time.UnixMicro()
	g.count++
	if ev.Str(event.ErrorCode) != "" {
		g.failed++
	}
	if s := (stamp{t, ev.Str(event.EventID)}); !g.hasContext || s.before(g.contextAt) {
		g.context, g.contextAt, g.hasContext = v.Summary().Clone(), stamp{t, strings.Clone(s.s)}, true
	}
	if !ev.Time.IsZero() {
		g.first = min(g.first, t)
		g.last = max(g.last, t)
	}
	if id := ev.Str(event.EventID); id != "" {
		g.withID++
		g.evidence.add(stamp{t, id}, a.maxEvidence)
	}
	g.sources.add(stamp{t, ev.Str(event.EventSource)})
	g.names.add(stamp{t, ev.Str(event.EventName)})
	g.ips.add(stamp{t, ev.Str(event.SourceIPAddress)})
	g.agents.add(stamp{t, ev.Str(event.UserAgent)})
	g.errors.add(stamp{t, ev.Str(event.ErrorCode)})
	g.messages.add(stamp{t, ev.Str(event.ErrorMessage)})
	g.keys.add(stamp{t, ev.Str(event.IdentityAccessKeyID)})
}

// id is the finding's id: the hash of its dedup key. A suppressed part has
// an id of its own, so it never merges with the findings people are told of.
func (k groupKey) id() string {
	actor := k.actor
	if k.suppressed != "" {
		actor += "\x00suppressed"
	}
	if k.dedup != "" {
		actor += "\x00dedup " + k.dedup
	}
	return DedupID(k.rule.ID, k.account, k.region, actor)
}

func newGroup(k groupKey) *group {
	k.account = strings.Clone(k.account)
	k.region = strings.Clone(k.region)
	k.actor = strings.Clone(k.actor)
	return &group{key: k, first: math.MaxInt64, last: math.MinInt64}
}

// Merge adds other's findings to a, as if a had seen other's events too.
// It takes other's groups over: other is empty afterwards. Both must have been
// fed the same *RuleInfo values.
func (a *Aggregator) Merge(other *Aggregator) {
	if other == nil || other == a {
		return
	}
	for k, og := range other.groups {
		g := a.groups[k]
		if g == nil {
			og.evidence.trim(a.maxEvidence)
			a.groups[k] = og
			continue
		}
		g.count += og.count
		g.failed += og.failed
		g.withID += og.withID
		if og.hasContext && (!g.hasContext || og.contextAt.before(g.contextAt)) {
			g.context, g.contextAt, g.hasContext = og.context, og.contextAt, true
		}
		g.first = min(g.first, og.first)
		g.last = max(g.last, og.last)
		for _, s := range og.evidence {
			g.evidence.add(s, a.maxEvidence)
		}
		g.sources.merge(og.sources)
		g.names.merge(og.names)
		g.ips.merge(og.ips)
		g.agents.merge(og.agents)
		g.errors.merge(og.errors)
		g.messages.merge(og.messages)
		g.keys.merge(og.keys)
	}
	other.groups = make(map[groupKey]*group)
}

// Findings returns the findings so far, sorted (see Sort). The aggregator is
// left as it was: more events may be added and Findings called again.
func (a *Aggregator) Findings() []*Finding {
	out := make([]*Finding, 0, len(a.groups))
	for _, g := range a.groups {
		out = append(out, g.finding(a.maxEvidence))
	}
	Sort(out)
	return out
}

func (g *group) finding(maxEvidence int) *Finding {
	r := g.key.rule
	f := &Finding{
		SchemaVersion: SchemaVersion,
		ID:            g.key.id(),
		Rule: RuleRef{
			ID:             r.ID,
			Title:          r.Title,
			Source:         r.Source,
			Level:          r.Level,
			Description:    r.Description,
			FalsePositives: slices.Clone(r.FalsePositives),
		},
		Severity:          SeverityFor(r.Level),
		Outcome:           outcome(g.failed, g.count),
		FailedCount:       g.failed,
		Attack:            append([]string{}, r.Attack...),
		Actor:             g.key.actor,
		DedupKey:          g.key.dedup,
		Shadow:            r.Shadow,
		Suppressed:        g.key.suppressed != "",
		SuppressedReason:  g.key.suppressed,
		Account:           g.key.account,
		Region:            g.key.region,
		Count:             g.count,
		EventIDs:          g.evidence.ids(),
		EventIDsTruncated: g.withID > int64(maxEvidence),
		EventSources:      g.sources.values(),
		EventNames:        g.names.values(),
		SourceIPAddresses: g.ips.values(),
		UserAgents:        g.agents.values(),
		ErrorCodes:        g.errors.values(),
		ErrorMessages:     g.messages.values(),
		AccessKeyIDs:      g.keys.values(),
	}
	if g.hasContext {
		c := g.context
		f.Context = &c
	}
	if f.Outcome == OutcomeFailed {
		f.Severity = f.Severity.attempted()
	}
	if g.first <= g.last {
		f.FirstSeen = time.UnixMicro(g.first).UTC()
		f.LastSeen = time.UnixMicro(g.last).UTC()
	}
	return f
}

// stamp is a string with the event time (Unix microseconds) it was seen at.
// Stamps order by time, then string.
type stamp struct {
	t int64
	s string
}

func (a stamp) before(b stamp) bool { return a.t < b.t || a.t == b.t && a.s < b.s }

func compareStamps(a, b stamp) int {
	switch {
	case a.before(b):
		return -1
	case b.before(a):
		return 1
	}
	return 0
}

// evidence keeps the earliest stamps (eventIDs) up to a cap, as a max-heap:
// the root is the latest kept, the one to drop when an earlier one comes.
// Stamps arriving in time order are rejected by a single comparison once the
// cap is reached.
type evidence []stamp

func (e *evidence) add(s stamp, limit int) {
	h := *e
	if len(h) < limit {
		s.s = strings.Clone(s.s)
		h = append(h, s)
		for i := len(h) - 1; i > 0; { // sift up
			p := (i - 1) / 2
			if !h[p].before(h[i]) {
				break
			}
			h[p], h[i] = h[i], h[p]
			i = p
		}
		*e = h
		return
	}
	if len(h) == 0 || !s.before(h[0]) {
		return
	}
	s.s = strings.Clone(s.s)
	h[0] = s
	h.down(0)
}

// trim drops the latest stamps until at most limit remain.
func (e *evidence) trim(limit int) {
	h := *e
	for len(h) > limit {
		n := len(h) - 1
		h[0] = h[n]
		h = h[:n]
		h.down(0)
	}
	*e = h
}

func (h evidence) down(i int) {
	for {
		c := 2*i + 1
		if c >= len(h) {
			return
		}
		if c+1 < len(h) && h[c].before(h[c+1]) {
			c++
		}
		if !h[i].before(h[c]) {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}

// ids returns the kept eventIDs in (time, eventID) order, each once.
func (h evidence) ids() []string {
	sorted := slices.SortedFunc(slices.Values(h), compareStamps)
	out := make([]string, 0, len(sorted))
	for i, s := range sorted {
		if i > 0 && s == sorted[i-1] {
			continue // the same record delivered twice
		}
		out = append(out, s.s)
	}
	return out
}

// distinct keeps up to MaxDistinct distinct non-empty values, each with the
// earliest time it was seen at. When more values come, the ones that appeared
// first win.
type distinct []stamp

func (d *distinct) add(s stamp) {
	if s.s == "" {
		return
	}
	vals := *d
	for i := range vals {
		if vals[i].s == s.s {
			vals[i].t = min(vals[i].t, s.t)
			return
		}
	}
	if len(vals) < MaxDistinct {
		s.s = strings.Clone(s.s)
		*d = append(vals, s)
		return
	}
	latest := 0
	for i := 1; i < len(vals); i++ {
		if vals[latest].before(vals[i]) {
			latest = i
		}
	}
	if s.before(vals[latest]) {
		s.s = strings.Clone(s.s)
		vals[latest] = s
	}
}

func (d *distinct) merge(other distinct) {
	for _, s := range other {
		d.add(s)
	}
}

// values returns the values in order of first appearance.
func (d distinct) values() []string {
	sorted := slices.SortedFunc(slices.Values(d), compareStamps)
	out := make([]string, len(sorted))
	for i, s := range sorted {
		out[i] = s.s
	}
	return out
}
