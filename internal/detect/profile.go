package detect

import (
	"context"
	"encoding/binary"
	"hash/maphash"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/trailsentry/trailsentry/internal/enrich"
	"github.com/trailsentry/trailsentry/internal/event"
)

// This file and profile_eval.go are the detections that ask "has this been
// seen before, and from where?" rather than "does this event match?":
// first-seen baselines per principal and per account, where credentials are
// used compared with where they were issued, a new IAM user's key put to use,
// and each actor's risk tier. docs/profiles.md describes them for users.
//
// They run in two steps, so that their findings are a function of the state
// alone — the same for one batch as for shuffled pieces across invocations:
//
//  1. Per event, a worker's ProfileBatch gathers observations (State's
//     Observation: kind, scope, value, first and last sighting, count),
//     merged in memory so that a million events of one principal cost one
//     row per distinct value; Flush writes them with Tx.Observe.
//  2. Evaluate reads the baselines of the principals, accounts and keys a
//     run touched and derives the findings from them: a value is new when
//     its first sighting comes after the scope's learning period, which
//     starts at the scope's own first sighting.
//
// A finding can therefore change as older logs arrive (an earlier sighting
// moves a value into the learning period); it is derived again from the state
// each time, never accumulated.

// Profile kinds: what is observed, and whose baseline it joins.
type profileKind uint8

const (
	kindActivePrincipal profileKind = iota // "active", "principals", principal ARN
	kindActiveAccount                      // "active", "accounts", account id
	kindActiveKey                          // "active", "keys", access key id
	kindAPI                                // "api", "principal:<arn>", IAM action
	kindAPIAccount                         // "api", "account:<id>", IAM action
	kindService                            // "service", "principal:<arn>", service prefix
	kindServiceAccount                     // "service", "account:<id>", service prefix
	kindClient                             // "client", "principal:<arn>", user-agent family
	kindRegion                             // "region", "principal:<arn>", region
	kindRegionAccount                      // "region", "account:<id>", region
	kindNetwork                            // "network", "principal:<arn>", network (see networkOf)
	kindNetworkAccount                     // "network", "account:<id>", network
	kindCountry                            // "country", "principal:<arn>", ISO country code
	kindCountryAccount                     // "country", "account:<id>", ISO country code
	kindKeyNetwork                         // "network", "key:<id>", network an access key was used from
	kindKeyIssued                          // "issued", "key:<id>", network temporary credentials were issued to
	kindKeySession                         // "session", "key:<id>", "<principal ARN> <session name>"
	kindKeyCreated                         // "created", "key:<id>", user name the key was created for
	kindUserCreated                        // "user-created", "account:<id>", user name
	kindRisk                               // "risk", "actor:<account> <actor>", risk category
	kindRiskHour                           // "risk-hour", "actor:<account> <actor>", "<hour> <risk category>"
	kindTrailStop                          // "trail-stopped", "actor:<account> <actor>", "<eventName> <trail>"
	kindActiveStopper                      // "active", "trail-stoppers", "<account> <actor>"
	numKinds
)

// profileKinds names each kind's Observation Kind and the prefix of its
// Scope; for the "active" kinds the scope is fixed and the subject is the
// value, so that Evaluate can list every principal, account or key.
var profileKinds = [numKinds]struct{ kind, scope string }{
	kindActivePrincipal: {"active", "principals"},
	kindActiveAccount:   {"active", "accounts"},
	kindActiveKey:       {"active", "keys"},
	kindAPI:             {"api", "principal:"},
	kindAPIAccount:      {"api", "account:"},
	kindService:         {"service", "principal:"},
	kindServiceAccount:  {"service", "account:"},
	kindClient:          {"client", "principal:"},
	kindRegion:          {"region", "principal:"},
	kindRegionAccount:   {"region", "account:"},
	kindNetwork:         {"network", "principal:"},
	kindNetworkAccount:  {"network", "account:"},
	kindCountry:         {"country", "principal:"},
	kindCountryAccount:  {"country", "account:"},
	kindKeyNetwork:      {"network", "key:"},
	kindKeyIssued:       {"issued", "key:"},
	kindKeySession:      {"session", "key:"},
	kindKeyCreated:      {"created", "key:"},
	kindUserCreated:     {"user-created", "account:"},
	kindRisk:            {"risk", "actor:"},
	kindRiskHour:        {"risk-hour", "actor:"},
	kindTrailStop:       {"trail-stopped", "actor:"},
	kindActiveStopper:   {"active", "trail-stoppers"},
}

func (k profileKind) active() bool { return k <= kindActiveKey || k == kindActiveStopper }

// baselineKey returns the state's key for a kind, subject and value.
func (k profileKind) baselineKey(subject, value string) BaselineKey {
	pk := profileKinds[k]
	if k.active() {
		return BaselineKey{Kind: pk.kind, Scope: pk.scope, Value: subject}
	}
	return BaselineKey{Kind: pk.kind, Scope: pk.scope + subject, Value: value}
}

// ProfileOptions configure the profile detections.
type ProfileOptions struct {
	// Learning is how long after a principal, account or key is first seen
	// its values are only learnt, not reported. Zero means
	// DefaultLearning; a negative one, none at all.
	Learning time.Duration
}

// DefaultLearning is the learning period of the profile detections.
const DefaultLearning = 7 * 24 * time.Hour

// Profiler derives profile observations from events and findings from the
// state. It is immutable: safe for many workers.
type Profiler struct {
	learning time.Duration
}

// NewProfiler returns a Profiler.
func NewProfiler(o ProfileOptions) *Profiler {
	switch {
	case o.Learning == 0:
		o.Learning = DefaultLearning
	case o.Learning < 0:
		o.Learning = 0
	}
	return &Profiler{learning: o.Learning}
}

// Learning is the learning period in force.
func (p *Profiler) Learning() time.Duration { return p.learning }

// profileKey is one baseline entry in a batch, as an event gives it: its
// kind, subject and value, spelled as the state keys it (baselineKey) only
// when the batch makes the entry.
type profileKey struct {
	kind    profileKind
	subject string
	value   string
	extra   string // appended to value after a space: a session's name; an actor
	net     enrich.Network
	hour    int64 // kindRiskHour: Unix hours
}

// sightings are the first and last of count sightings (count 0: none).
type sightings struct {
	first, last stamp
	count       int64
}

// profileAgg is an entry: its state key and its sightings since the last
// flush. An entry outlives the flush when it was seen since the one before,
// so that the next events of its shape find it; marked says it was (it is
// to be written).
type profileAgg struct {
	sightings
	marked bool
	key    BaselineKey
}

// stamp is a sighting as a batch keeps it: the time in Unix nanoseconds,
// so that the comparison made for every entry of every event is of
// integers (the eventID only breaks ties).
type stamp struct {
	t  int64
	id string
}

func (s stamp) before(o stamp) bool { return s.t < o.t || s.t == o.t && s.id < o.id }

func (s stamp) sighting() Sighting { return Sighting{time.Unix(0, s.t).UTC(), s.id} }

// ProfileBatch is one worker's observations not yet written to the state.
// It is not safe for concurrent use; give each worker its own.
//
// Entries and shapes live across flushes while they are in use: a flush
// writes and resets the entries seen since the one before, and forgets
// those that were not (and the shapes that were not), so a batch holds
// about what two flushes' worth of events touch.
type ProfileBatch struct {
	p       *Profiler
	entries map[keyHash]*profileAgg
	pending int                       // entries marked since the last flush
	where   map[keyHash]*whereEntries // the entries of each shape
	what    map[keyHash]*whatEntries
	keyBuf  []byte
	seeds   [2]maphash.Seed
	obs     []Observation // Flush's, kept for the next
	single  []Observation // sightings recorded by once
	// touched lists the subjects seen since the batch was made (not reset
	// by Flush): what Evaluate looks at.
	touched Touched
	newest  time.Time // the latest event time observed
}

// Touched is the principals, accounts, keys and actors whose profiles a run
// fed, for Evaluate to derive their findings.
type Touched struct {
	Principals, Accounts, Keys map[string]bool
	// Stoppers are the actors ("<account> <actor>") who stopped a trail.
	Stoppers map[string]bool
}

func newTouched() Touched {
	return Touched{Principals: map[string]bool{}, Accounts: map[string]bool{}, Keys: map[string]bool{}, Stoppers: map[string]bool{}}
}

// Merge adds o's subjects to t.
func (t *Touched) Merge(o Touched) {
	if t.Principals == nil {
		*t = newTouched()
	}
	for k := range o.Principals {
		t.Principals[k] = true
	}
	for k := range o.Accounts {
		t.Accounts[k] = true
	}
	for k := range o.Keys {
		t.Keys[k] = true
	}
	for k := range o.Stoppers {
		t.Stoppers[k] = true
	}
}

// NewBatch returns an empty batch.
func (p *Profiler) NewBatch() *ProfileBatch {
	return &ProfileBatch{p: p, entries: map[keyHash]*profileAgg{}, where: map[keyHash]*whereEntries{}, what: map[keyHash]*whatEntries{},
		touched: newTouched(), seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}}
}

// Len is the number of distinct entries waiting to be flushed.
func (b *ProfileBatch) Len() int { return b.pending }

// Full reports whether the batch holds n entries: time to flush.
func (b *ProfileBatch) Full(n int) bool { return b.pending >= n }

// maxShapes bounds the shapes a batch remembers: past it they are
// forgotten (the entries stay), and found again as events need them.
const maxShapes = 50_000

// Newest is the latest event time the batch has observed.
func (b *ProfileBatch) Newest() time.Time { return b.newest }

// Touched returns the subjects the batch has seen.
func (b *ProfileBatch) Touched() Touched { return b.touched }

// entry returns the batch's entry for k, creating it (with no sighting yet)
// when there is none. Strings are cloned only then: they may point into an
// event the decoder reuses.
func (b *ProfileBatch) entry(k profileKey) *profileAgg {
	b.keyBuf = binary.LittleEndian.AppendUint64(append(b.keyBuf[:0], byte(k.kind)), uint64(k.hour))
	b.keyBuf = shapeKey(b.keyBuf, k.net, k.subject, k.value, k.extra)
	h := b.hash(b.keyBuf)
	if a := b.entries[h]; a != nil {
		return a
	}
	a := &profileAgg{key: k.baselineKey()}
	b.entries[h] = a
	switch subject := a.key.Value; k.kind {
	case kindActivePrincipal:
		b.touched.Principals[subject] = true
	case kindActiveAccount:
		b.touched.Accounts[subject] = true
	case kindActiveKey:
		b.touched.Keys[subject] = true
	case kindActiveStopper:
		b.touched.Stoppers[subject] = true
	}
	return a
}

// hourName spells a Unix hour as risk-hour values keep it.
func hourName(h int64) string { return time.Unix(h*3600, 0).UTC().Format("2006-01-02T15") }

// sighting is one event's sighting, its eventID copied at most once however
// many entries keep it.
type sighting struct {
	Sighting
	at    stamp
	owned bool
}

func newSighting(s Sighting) sighting {
	return sighting{Sighting: s, at: stamp{s.Time.UnixNano(), s.EventID}}
}

func (s *sighting) own() stamp {
	if !s.owned {
		s.at.id, s.owned = strings.Clone(s.at.id), true
	}
	return s.at
}

// record adds the sighting to a.
func (a *sightings) record(s *sighting) {
	switch {
	case a.count == 0:
		a.first = s.own()
		a.last = a.first
	case s.at.before(a.first):
		a.first = s.own()
	case a.last.before(s.at):
		a.last = s.own()
	}
	a.count++
}

// merge adds o's sightings to a.
func (a *sightings) merge(o *sightings) {
	switch {
	case o.count == 0:
		return
	case a.count == 0:
		a.first, a.last = o.first, o.last
	default:
		if o.first.before(a.first) {
			a.first = o.first
		}
		if a.last.before(o.last) {
			a.last = o.last
		}
	}
	a.count += o.count
}

// mark notes that the entries are to be written at the next flush.
func (b *ProfileBatch) mark(aggs ...*profileAgg) {
	for _, a := range aggs {
		if !a.marked {
			a.marked = true
			b.pending++
		}
	}
}

// once records the one sighting of a value no other event repeats.
func (b *ProfileBatch) once(k profileKey, s Sighting) {
	key := k.baselineKey()
	b.single = append(b.single, Observation{Kind: key.Kind, Scope: key.Scope, Value: key.Value, Time: s.Time, EventID: strings.Clone(s.EventID), Count: 1})
	b.pending++
}

// add records one sighting.
func (b *ProfileBatch) add(k profileKey, s Sighting) {
	sg := newSighting(s)
	a := b.entry(k)
	b.mark(a)
	a.record(&sg)
}

// Most events repeat the shape of an earlier one — the same principal, from
// the same place, calling the same API — so the entries an event feeds are
// looked up once per shape and kept, and an event's sighting is recorded in
// its shape, folded into the shape's entries at the next flush: an event
// then costs two lookups, not a dozen, and two records, not fifteen. A
// shape is cut in two, who-and-where and what, so that their combinations
// do not multiply the shapes. Shapes are looked up by one string spelling
// all their fields (shapeKey): one hash, one comparison of bytes that lie
// together.

// whereShape is who called and from where.
type whereShape struct {
	account, principal, region, country, family, key string
	session                                          string // set on a miss only (not part of the shape)
	net                                              enrich.Network
}

// whereEntries are the entries of a whereShape, and the sightings of the
// shape not yet folded into them.
type whereEntries struct {
	aggs []*profileAgg
	agg  sightings
}

// whatEntries are the entries of a whatShape, and those of the hour its
// last risky call fell in (calls come mostly in time order: the hour
// repeats), each with the sightings not yet folded into them.
type whatEntries struct {
	aggs     []*profileAgg
	agg      sightings
	hour     int64
	hourAggs []*profileAgg
	hourAgg  sightings
}

// fold adds the shape's sightings to its entries.
func (e *whereEntries) fold() {
	for _, a := range e.aggs {
		a.merge(&e.agg)
	}
	e.agg = sightings{}
}

func (e *whatEntries) fold() {
	for _, a := range e.aggs {
		a.merge(&e.agg)
	}
	e.agg = sightings{}
	e.foldHour()
}

func (e *whatEntries) foldHour() {
	for _, a := range e.hourAggs {
		a.merge(&e.hourAgg)
	}
	e.hourAgg = sightings{}
}

// keyHash names an entry or a shape in a batch's maps: 128 bits of hash of
// its spelling (shapeKey), so that a lookup compares two words in place
// rather than strings that lie elsewhere in memory. Two of a batch's keys
// share a hash with a probability of about n²/2¹²⁹: none, in practice.
type keyHash [2]uint64

func (b *ProfileBatch) hash(spelling []byte) keyHash {
	return keyHash{maphash.Bytes(b.seeds[0], spelling), maphash.Bytes(b.seeds[1], spelling)}
}

// shapeKey appends strings and a network to buf, unambiguously: each
// string after its length.
func shapeKey(buf []byte, net enrich.Network, fields ...string) []byte {
	buf = binary.LittleEndian.AppendUint32(buf, net.ASN)
	a := net.Prefix.Addr().As16()
	buf = append(append(buf, a[:]...), byte(net.Prefix.Bits()+1))
	for _, f := range fields {
		buf = appendField(buf, f)
	}
	return buf
}

func appendField(buf []byte, f string) []byte {
	return append(binary.AppendUvarint(buf, uint64(len(f))), f...)
}

// foldShapes folds every shape's sightings into its entries, and forgets
// the shapes with none (all of them when all is set).
func (b *ProfileBatch) foldShapes(all bool) {
	for k, e := range b.where {
		if e.agg.count == 0 || all {
			delete(b.where, k)
		}
		e.fold()
	}
	for k, e := range b.what {
		if e.agg.count == 0 || all {
			delete(b.what, k)
		}
		// Its hour's entries may go: they are looked up again.
		e.fold()
		e.hour, e.hourAggs = math.MinInt64, e.hourAggs[:0]
	}
}

// unixHour is the hour t falls in, counted from the Unix epoch.
func unixHour(t time.Time) int64 {
	u := t.Unix()
	h := u / 3600
	if u < 0 && u%3600 != 0 {
		h--
	}
	return h
}

// whatShape is what a principal did successfully.
type whatShape struct {
	account, principal, actor string
	action                    *enrich.Action
}

// Observe adds what the event in v tells the profiles. Events without a
// time, and calls made by AWS services on their own, tell nothing.
func (b *ProfileBatch) Observe(v *enrich.View) {
	ev := v.Event()
	if ev == nil || ev.Time.IsZero() {
		return
	}
	s := newSighting(Sighting{ev.Time, ev.Str(event.EventID)})
	if len(b.where)+len(b.what) > maxShapes {
		b.foldShapes(true)
	}
	if ev.Time.After(b.newest) {
		b.newest = ev.Time
	}
	where := whereShape{account: ev.Account(), principal: principalOf(ev), region: ev.Str(event.AWSRegion)}
	where.net, _ = v.Network()
	where.country, _ = v.Country()
	if where.principal != "" {
		where.family = v.UserAgentFamily()
	}
	if key := ev.Str(event.IdentityAccessKeyID); isAccessKeyID(key) {
		where.key = key
	}
	b.keyBuf = shapeKey(b.keyBuf[:0], where.net, where.account, where.principal, where.region, where.country, where.family, where.key)
	h := b.hash(b.keyBuf)
	entries := b.where[h]
	if entries == nil {
		// A temporary key is one session's: its name is looked up only
		// when the shape is new (it is not part of the shape's key).
		if where.key != "" && where.principal != "" {
			where.session = v.Session()
		}
		entries = &whereEntries{aggs: b.whereEntries(&where)}
		b.where[h] = entries
	}
	if entries.agg.count == 0 {
		b.mark(entries.aggs...)
	}
	entries.agg.record(&s)

	if ev.Str(event.ErrorCode) != "" {
		// What a principal can do is learnt from what succeeded: refused
		// calls are the reconnaissance rules' business.
		return
	}
	if where.principal != "" {
		if a := v.Action(); a != nil && a.Name != "" {
			what := whatShape{account: where.account, principal: where.principal, action: a}
			if len(a.Risks) > 0 && what.account != "" {
				what.actor = v.Actor()
			}
			b.keyBuf = shapeKey(b.keyBuf[:0], enrich.Network{}, what.account, what.principal, what.actor, a.Name, a.Service)
			for _, r := range a.Risks {
				b.keyBuf = appendField(b.keyBuf, r)
			}
			h := b.hash(b.keyBuf)
			we := b.what[h]
			if we == nil {
				we = &whatEntries{aggs: b.whatEntries(&what), hour: math.MinInt64}
				b.what[h] = we
			}
			if we.agg.count == 0 {
				b.mark(we.aggs...)
			}
			we.agg.record(&s)
			if what.actor != "" && ev.Str(event.EventSource) != "cloudtrail.amazonaws.com" && ev.Str(event.EventCategory) != "Data" {
				// The actor's risky calls by the hour: what followed a
				// trail being stopped (CloudTrail's own calls, and data
				// events, are not that activity).
				h := unixHour(ev.Time)
				if h != we.hour {
					we.foldHour()
					we.hour, we.hourAggs = h, we.hourAggs[:0]
					for _, r := range a.Risks {
						we.hourAggs = append(we.hourAggs, b.entry(profileKey{kind: kindRiskHour, subject: what.account, extra: what.actor, value: r, hour: h}))
					}
				}
				if we.hourAgg.count == 0 {
					b.mark(we.hourAggs...)
				}
				we.hourAgg.record(&s)
			}
		}
	}
	b.observeIssue(v, ev, s.Sighting, where.account, where.net, where.net.Valid())
}

// whereEntries returns the entries an event of the shape feeds.
func (b *ProfileBatch) whereEntries(sh *whereShape) []*profileAgg {
	var out []*profileAgg
	add := func(k profileKey) { out = append(out, b.entry(k)) }
	netOK := sh.net.Valid()
	if a := sh.account; a != "" {
		add(profileKey{kind: kindActiveAccount, subject: a})
		if sh.region != "" {
			add(profileKey{kind: kindRegionAccount, subject: a, value: sh.region})
		}
		if netOK {
			add(profileKey{kind: kindNetworkAccount, subject: a, net: sh.net})
		}
		if sh.country != "" {
			add(profileKey{kind: kindCountryAccount, subject: a, value: sh.country})
		}
	}
	if p := sh.principal; p != "" {
		add(profileKey{kind: kindActivePrincipal, subject: p})
		if sh.family != "" {
			add(profileKey{kind: kindClient, subject: p, value: sh.family})
		}
		if sh.region != "" {
			add(profileKey{kind: kindRegion, subject: p, value: sh.region})
		}
		if netOK {
			add(profileKey{kind: kindNetwork, subject: p, net: sh.net})
		}
		if sh.country != "" {
			add(profileKey{kind: kindCountry, subject: p, value: sh.country})
		}
	}
	if k := sh.key; k != "" {
		add(profileKey{kind: kindActiveKey, subject: k})
		if netOK {
			add(profileKey{kind: kindKeyNetwork, subject: k, net: sh.net})
		}
		if sh.principal != "" {
			// Whose key it is, and for a role the session's name: an
			// instance profile's sessions are named after the instance.
			add(profileKey{kind: kindKeySession, subject: k, value: sh.principal, extra: sh.session})
		}
	}
	return out
}

// whatEntries returns the entries a successful call of the shape feeds.
func (b *ProfileBatch) whatEntries(sh *whatShape) []*profileAgg {
	var out []*profileAgg
	add := func(k profileKey) { out = append(out, b.entry(k)) }
	a, p := sh.action, sh.principal
	add(profileKey{kind: kindAPI, subject: p, value: a.Name})
	add(profileKey{kind: kindService, subject: p, value: a.Service})
	if sh.account != "" {
		add(profileKey{kind: kindAPIAccount, subject: sh.account, value: a.Name})
		add(profileKey{kind: kindServiceAccount, subject: sh.account, value: a.Service})
		if sh.actor != "" {
			for _, r := range a.Risks {
				add(profileKey{kind: kindRisk, subject: sh.account + " " + sh.actor, value: r})
			}
		}
	}
	return out
}

// observeIssue records where credentials came from: the network the
// temporary credentials an STS call returned were issued to, the user an
// access key was created for, the users created.
func (b *ProfileBatch) observeIssue(v *enrich.View, ev *event.Event, s Sighting, account string, net enrich.Network, netOK bool) {
	switch ev.Str(event.EventSource) {
	case "sts.amazonaws.com":
		key := ev.First(pathIssuedKey).Text()
		if !strings.HasPrefix(key, "ASIA") {
			return
		}
		// Each call issues credentials of their own: their one sighting
		// goes to the state as it is, without an entry to merge repeats.
		switch {
		case netOK:
			b.once(profileKey{kind: kindKeyIssued, subject: key, net: net}, s)
		case v.SourceKind() == enrich.SourceAWSService:
			// An AWS service assumed the role for its workload (EC2 for an
			// instance profile, Lambda for a function): where they are used
			// is the workload's network, not the caller's.
			b.once(profileKey{kind: kindKeyIssued, subject: key, value: "service:" + ev.Str(event.SourceIPAddress)}, s)
		}
	case "cloudtrail.amazonaws.com":
		switch name := ev.Str(event.EventName); name {
		case "StopLogging", "DeleteTrail", "DeleteEventDataStore", "StopEventDataStoreIngestion":
			if account == "" {
				return
			}
			actor := account + " " + v.Actor()
			trail := ev.First(pathTrailName).Text()
			if trail == "" {
				trail = ev.First(pathEventDataStore).Text()
			}
			b.add(profileKey{kind: kindActiveStopper, subject: actor}, s)
			b.add(profileKey{kind: kindTrailStop, subject: actor, value: name + " " + trail}, s)
		}
	case "iam.amazonaws.com":
		switch ev.Str(event.EventName) {
		case "CreateAccessKey":
			key := ev.First(pathCreatedKey).Text()
			if user := ev.First(pathCreatedKeyUser).Text(); isAccessKeyID(key) && user != "" {
				b.add(profileKey{kind: kindKeyCreated, subject: key, value: user}, s)
			}
		case "CreateUser":
			if user := ev.First(pathUserName).Text(); user != "" && account != "" {
				b.add(profileKey{kind: kindUserCreated, subject: account, value: user}, s)
			}
		}
	}
}

var (
	pathIssuedKey      = event.ParsePath("responseElements.credentials.accessKeyId")
	pathCreatedKey     = event.ParsePath("responseElements.accessKey.accessKeyId")
	pathCreatedKeyUser = event.ParsePath("responseElements.accessKey.userName")
	pathUserName       = event.ParsePath("requestParameters.userName")
	pathTrailName      = event.ParsePath("requestParameters.name")
	pathEventDataStore = event.ParsePath("requestParameters.eventDataStore")
)

// principalOf is the principal a profile belongs to: the IAM user or root
// (its ARN), the role behind an assumed-role session (the role's ARN: a
// role's sessions share one profile), a federated user's ARN. Calls made by
// AWS services and by principals of other accounts named only by account
// have none.
func principalOf(ev *event.Event) string {
	switch ev.Str(event.IdentityType) {
	case "AssumedRole":
		if arn := ev.Str(event.SessionIssuerARN); arn != "" {
			return arn
		}
	case "AWSService", "AWSAccount", "":
		return ""
	}
	return ev.Str(event.IdentityARN)
}

// isAccessKeyID reports whether s looks like an AWS access key id.
func isAccessKeyID(s string) bool {
	return len(s) >= 16 && len(s) <= 128 && (strings.HasPrefix(s, "AKIA") || strings.HasPrefix(s, "ASIA"))
}

// Observations turns the batch into observations for Tx.Observe, one per
// entry seen since the last flush (its first and last sighting and its
// count), and resets it: the entries and shapes seen stay, empty, for the
// events to come; the others go.
func (b *ProfileBatch) Observations() []Observation {
	return b.appendObservations(make([]Observation, 0, b.pending))
}

func (b *ProfileBatch) appendObservations(out []Observation) []Observation {
	b.foldShapes(false)
	for k, a := range b.entries {
		if !a.marked || a.count == 0 {
			delete(b.entries, k)
			continue
		}
		first := a.first.sighting()
		o := Observation{Kind: a.key.Kind, Scope: a.key.Scope, Value: a.key.Value, Time: first.Time, EventID: first.EventID, Count: a.count}
		if a.count > 1 {
			o.Last = a.last.sighting()
		}
		out = append(out, o)
		a.sightings, a.marked = sightings{}, false
	}
	out = append(out, b.single...)
	clear(b.single)
	b.single = b.single[:0]
	b.pending = 0
	return out
}

// baselineKey spells the entry's key as the state keeps it, in strings of
// its own (k's may point into an event the decoder reuses).
func (k profileKey) baselineKey() BaselineKey {
	subject, value := k.subject, k.value
	switch {
	case k.kind.active():
		subject = strings.Clone(subject) // the value
	case k.net.Valid():
		value = k.net.String()
	case k.kind == kindKeySession:
		value += " " + k.extra
	case k.kind == kindRiskHour:
		subject, value = subject+" "+k.extra, hourName(k.hour)+" "+value
	default:
		value = strings.Clone(value)
	}
	return k.kind.baselineKey(subject, value)
}

// Flush writes the batch to the state in one transaction.
func (b *ProfileBatch) Flush(ctx context.Context, st State) error {
	if b.pending == 0 {
		return nil
	}
	obs := b.appendObservations(b.obs[:0])
	defer func() { b.obs = obs[:0]; clear(obs) }() // the next flush's, empty
	return st.Update(ctx, func(tx Tx) error {
		return tx.Observe(ctx, obs)
	})
}

// TouchedSet gathers the subjects of many batches, safely from many
// goroutines.
type TouchedSet struct {
	mu sync.Mutex
	t  Touched
}

// Add merges t in.
func (s *TouchedSet) Add(t Touched) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t.Merge(t)
}

// Get returns what was gathered.
func (s *TouchedSet) Get() Touched {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.t.Principals == nil {
		return newTouched()
	}
	return s.t
}
