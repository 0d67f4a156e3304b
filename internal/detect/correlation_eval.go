package detect

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trailsentry/trailsentry/internal/enrich"
	"github.com/trailsentry/trailsentry/internal/event"
)

// Correlator evaluates linked correlation rules on a State, so that the
// hits after all events are processed do not depend on the order or the
// batching of the events (docs/correlation.md):
//
//   - Match turns one event's base-rule matches into Occurrences: one per
//     correlation, group and (for the temporal types) referenced rule.
//   - In a State.Update, Add stores them (Tx.AddOccurrences) and Evaluate
//     looks, around each occurrence that was new, at every window of length
//     Timespan, in event time, and reports the occurrences that now lie in a
//     window where the condition holds and did not before.
//
// An occurrence is "covered" when some window [s, s+Timespan] containing it
// satisfies the condition. Conditions are monotone (gt, gte), so the covered
// set only grows as occurrences are added, and it is a function of the
// stored occurrences alone. Each Evaluate reports what it added to that set,
// per (correlation, group): over any order and batching, every covered
// occurrence is reported exactly once, and the union of the hits is the same.
// A finding per (correlation, group) that merges hits (counts add, first and
// last seen are the extremes, evidence the union keeping the earliest) is
// therefore the same too, evidence caps included.
//
// A Correlator is immutable once built: Match is safe from many goroutines.
type Correlator struct {
	corrs     []*compiledCorrelation
	byStream  map[string]*compiledCorrelation // by canonical stream
	byRule    map[*Rule][]ruleUse
	generates map[*Rule]bool // referenced rules: whether they keep their own findings
	limit     int
}

// ruleUse is one place a rule is referenced: the correlation and the index
// of the reference.
type ruleUse struct {
	cc  *compiledCorrelation
	ref int
}

type compiledCorrelation struct {
	c      *Correlation
	stream string
	group  [][]fieldReader // [ref][group-by item]
	value  []fieldReader   // [ref]: the condition's field (value_count, value_sum)
	tags   []string        // [ref]: the occurrence tag (temporal types)
}

// NewCorrelator compiles the linked correlations (those Link resolved;
// the others are left out, Link having reported them). limit caps the
// occurrences and values each hit lists (0: DefaultEvidenceLimit).
func NewCorrelator(corrs []*Correlation, limit int) *Correlator {
	c := &Correlator{
		byStream:  map[string]*compiledCorrelation{},
		byRule:    map[*Rule][]ruleUse{},
		generates: map[*Rule]bool{},
		limit:     cmp.Or(max(limit, 0), DefaultEvidenceLimit),
	}
	for _, corr := range corrs {
		if corr == nil || len(corr.Rules) != len(corr.RuleRefs) || len(corr.Rules) == 0 {
			continue
		}
		cc := &compiledCorrelation{c: corr, stream: corr.Stream()}
		for i, r := range corr.Rules {
			var fields []fieldReader
			for _, g := range corr.GroupBy {
				fields = append(fields, newFieldReader(corr.resolveField(g, i)))
			}
			cc.group = append(cc.group, fields)
			if corr.Field != "" {
				cc.value = append(cc.value, newFieldReader(corr.resolveField(corr.Field, i)))
			}
			cc.tags = append(cc.tags, cmp.Or(r.ID, r.Name, corr.RuleRefs[i]))
			c.byRule[r] = append(c.byRule[r], ruleUse{cc, i})
			c.generates[r] = c.generates[r] || corr.Generate
		}
		c.corrs = append(c.corrs, cc)
		c.byStream[CanonicalKey(cc.stream)] = cc
	}
	return c
}

// resolveField returns the field name stands for in the events of the i-th
// referenced rule: the alias's field, or name itself.
func (c *Correlation) resolveField(name string, i int) string {
	if f, ok := c.aliasField(name, i, c.Rules); ok {
		return f
	}
	return name
}

// Correlations returns the correlations the Correlator evaluates.
func (c *Correlator) Correlations() []*Correlation {
	out := make([]*Correlation, len(c.corrs))
	for i, cc := range c.corrs {
		out[i] = cc.c
	}
	return out
}

// Generates reports whether r's own matches should become findings. A rule
// no correlation references does; a referenced one does only when one of the
// correlations referring to it says `generate: true` (the specification's
// default is that only the correlation is generated).
func (c *Correlator) Generates(r *Rule) bool {
	g, referenced := c.generates[r]
	return !referenced || g
}

// Referenced reports whether a correlation refers to r: its matches must
// reach Match even when it does not generate findings of its own.
func (c *Correlator) Referenced(r *Rule) bool {
	_, ok := c.generates[r]
	return ok
}

// MaxTimespan is the longest window of the correlations. Evaluate reads the
// occurrences up to twice that far around each new one: occurrences must be
// kept (Retention.Occurrences) at least 2*MaxTimespan plus the lateness
// allowed behind the latest event time.
func (c *Correlator) MaxTimespan() time.Duration {
	var m time.Duration
	for _, cc := range c.corrs {
		m = max(m, cc.c.Timespan)
	}
	return m
}

// Match returns the occurrences the event contributes, given the rules it
// matched (all of them, whether they generate findings or not). An event
// without a time contributes nothing; nor does it to a correlation when a
// group-by field (or the value_count/value_sum field) is missing, null or
// empty in it, as a SIEM's "stats by" leaves such events out.
func (c *Correlator) Match(v *enrich.View, matched []*Rule) []Occurrence {
	ev := subjectOf(v)
	if ev.Event == nil || ev.Time.IsZero() || len(c.byRule) == 0 {
		return nil
	}
	var out []Occurrence
	for _, r := range matched {
		for _, u := range c.byRule[r] {
			o, ok := u.cc.occurrence(ev, u.ref)
			if ok && !slices.Contains(out, o) {
				out = append(out, o)
			}
		}
	}
	return out
}

func (cc *compiledCorrelation) occurrence(ev Subject, ref int) (Occurrence, bool) {
	o := Occurrence{Stream: cc.stream, Time: ev.Time, EventID: ev.Str(event.EventID)}
	if fields := cc.group[ref]; len(fields) > 0 {
		vals := make([]string, len(fields))
		for i, f := range fields {
			v, ok := f.first(ev)
			if !ok {
				return Occurrence{}, false
			}
			vals[i] = v
		}
		o.Group = groupKey(vals)
	}
	switch cc.c.Type {
	case CorrelationValueCount, CorrelationValueSum:
		v, ok := cc.value[ref].first(ev)
		if !ok {
			return Occurrence{}, false
		}
		if cc.c.Type == CorrelationValueSum {
			x, err := strconv.ParseFloat(v, 64)
			if err != nil || x < 0 || math.IsInf(x, 0) || math.IsNaN(x) {
				return Occurrence{}, false // only non-negative numbers keep the sum monotone
			}
		}
		o.Value = v
	case CorrelationTemporal, CorrelationTemporalOrdered:
		o.Tag = cc.tags[ref]
	}
	return o, true
}

// groupKey joins group-by values unambiguously: a JSON array of strings.
func groupKey(vals []string) string {
	b, _ := json.Marshal(vals)
	return string(b)
}

// fieldReader reads a field the way rules do: a trailsentry.* field from the
// enrichment view, any other from the record by dotted path.
type fieldReader struct {
	name    string
	path    *event.Path
	derived *enrich.FieldRef
}

func newFieldReader(name string) fieldReader {
	f := fieldReader{name: name, path: event.ParsePath(name)}
	if ref, err := enrich.CompileField(name); err == nil {
		f.derived = &ref
	}
	return f
}

// first returns the text of the first non-null value the field reaches (the
// first element of a list); ok is false when there is none or it is "".
func (f fieldReader) first(ev Subject) (string, bool) {
	var out string
	visit := func(v event.Value) bool {
		if v.Kind == event.Null {
			return false
		}
		out = v.Text()
		return true
	}
	if f.derived != nil {
		if ev.View != nil {
			ev.View.Lookup(*f.derived, visit)
		}
	} else {
		ev.Lookup(f.path, visit)
	}
	return out, out != ""
}

// CorrelationHit reports the occurrences of one group of one correlation
// that an Evaluate found newly covered: each lies in a window of Timespan
// where the condition holds, and did not before.
type CorrelationHit struct {
	Correlation *Correlation
	// Group is the occurrences' group key; GroupValues the group-by fields
	// (as written, aliases included) with their values, nil when the
	// correlation has no group-by.
	Group       string
	GroupValues []GroupValue
	// First and Last are the event times of the earliest and latest of the
	// newly covered occurrences.
	First, Last time.Time
	// Count is how many occurrences were newly covered (for the temporal
	// types an event matching two referenced rules is two occurrences).
	Count int
	// Occurrences are the earliest of them, sorted, at most the
	// Correlator's limit.
	Occurrences []Occurrence
	// Values are the distinct values among them, each at its earliest time,
	// earliest first, at most the limit: the counted or summed values
	// (value_count, value_sum) or the referenced rules that matched (their
	// id or name; temporal types); nil for event_count.
	Values []Stamp
}

// GroupValue is one group-by field and its value.
type GroupValue struct{ Field, Value string }

// Evidence returns the hit's occurrences as (time, eventID) stamps, as
// FindingRecord.Evidence keeps them.
func (h CorrelationHit) Evidence() []Stamp {
	out := make([]Stamp, 0, len(h.Occurrences))
	for _, o := range h.Occurrences {
		s := Stamp{o.Time, o.EventID}
		if len(out) == 0 || out[len(out)-1] != s {
			out = append(out, s)
		}
	}
	return out
}

// Add stores the occurrences in tx and evaluates those that were new: it is
// AddOccurrences followed by Evaluate. Give it every occurrence of the batch
// in one call.
func (c *Correlator) Add(ctx context.Context, tx Tx, occ []Occurrence) ([]CorrelationHit, error) {
	fresh, err := tx.AddOccurrences(ctx, occ)
	if err != nil {
		return nil, fmt.Errorf("correlation: add occurrences: %w", err)
	}
	var added []Occurrence
	for i, o := range occ {
		if fresh[i] {
			added = append(added, o)
		}
	}
	return c.Evaluate(ctx, tx, added)
}

// Evaluate reports, for the occurrences that were just added to the state
// (those Tx.AddOccurrences said were fresh, all of this transaction's at
// once), the occurrences newly covered by a window where a correlation's
// condition holds: one hit per correlation and group, sorted by stream and
// group. Occurrences of streams that are not this Correlator's are ignored.
// r is usually the Tx the occurrences were added in.
func (c *Correlator) Evaluate(ctx context.Context, r Reader, fresh []Occurrence) ([]CorrelationHit, error) {
	type sg struct{ stream, group string }
	groups := map[sg][]Occurrence{}
	for _, o := range fresh {
		o = o.Canonical()
		if c.byStream[o.Stream] == nil {
			continue
		}
		k := sg{o.Stream, o.Group}
		groups[k] = append(groups[k], o)
	}
	if len(groups) == 0 {
		return nil, nil
	}
	keys := make([]sg, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b sg) int {
		return cmp.Or(strings.Compare(a.stream, b.stream), strings.Compare(a.group, b.group))
	})

	// Whether an occurrence within span of a new one is covered depends on
	// the windows containing it: everything within 2*span of the new one.
	var ranges []OccurrenceRange
	for _, k := range keys {
		span := c.byStream[k.stream].c.Timespan
		occ := groups[k]
		slices.SortFunc(occ, CompareOccurrences)
		for _, o := range occ {
			from, to := o.Time.Add(-2*span), o.Time.Add(2*span+time.Microsecond)
			if n := len(ranges); n > 0 && ranges[n-1].Stream == k.stream && ranges[n-1].Group == k.group && !from.After(ranges[n-1].To) {
				ranges[n-1].To = to
				continue
			}
			ranges = append(ranges, OccurrenceRange{Stream: k.stream, Group: k.group, From: from, To: to})
		}
	}
	stored, err := r.Occurrences(ctx, ranges)
	if err != nil {
		return nil, fmt.Errorf("correlation: read occurrences: %w", err)
	}

	var hits []CorrelationHit
	for _, k := range keys {
		lo, _ := slices.BinarySearchFunc(stored, k, func(o Occurrence, k sg) int {
			return cmp.Or(strings.Compare(o.Stream, k.stream), strings.Compare(o.Group, k.group))
		})
		hi := lo
		for hi < len(stored) && stored[hi].Stream == k.stream && stored[hi].Group == k.group {
			hi++
		}
		cc := c.byStream[k.stream]
		if h, ok := cc.evaluate(stored[lo:hi], groups[k], c.limit); ok {
			hits = append(hits, h)
		}
	}
	return hits, nil
}

// evaluate finds the occurrences of one group (list, sorted) that the fresh
// ones (sorted) newly cover.
func (cc *compiledCorrelation) evaluate(list, fresh []Occurrence, limit int) (CorrelationHit, bool) {
	span := cc.c.Timespan
	isFresh := make([]bool, len(list))
	var before []Occurrence
	var beforeIdx []int
	f := 0 // list and fresh are both sorted by CompareOccurrences: merge
	for i, o := range list {
		for f < len(fresh) && compareInGroup(fresh[f], o) < 0 {
			f++
		}
		if f < len(fresh) && fresh[f] == o {
			isFresh[i] = true
			continue
		}
		before = append(before, o)
		beforeIdx = append(beforeIdx, i)
	}
	after := cc.cover(list)
	wasCovered := make([]bool, len(list))
	for j, covered := range cc.cover(before) {
		wasCovered[beforeIdx[j]] = covered
	}
	h := CorrelationHit{Correlation: cc.c, Group: list0Group(list, fresh)}
	firstSeen := map[string]time.Time{}
	for i, o := range list {
		if !after[i] || wasCovered[i] || !nearAny(fresh, o.Time, span) {
			continue
		}
		if h.Count == 0 {
			h.First = o.Time
		}
		h.Last = o.Time
		h.Count++
		if len(h.Occurrences) < limit {
			h.Occurrences = append(h.Occurrences, o)
		}
		if v := cmp.Or(o.Value, o.Tag); v != "" {
			if _, seen := firstSeen[v]; !seen {
				firstSeen[v] = o.Time
			}
		}
	}
	if h.Count == 0 {
		return CorrelationHit{}, false
	}
	for v, t := range firstSeen {
		h.Values = append(h.Values, Stamp{t, v})
	}
	slices.SortFunc(h.Values, compareStamps)
	if len(h.Values) > limit {
		h.Values = h.Values[:limit]
	}
	var vals []string
	if len(cc.c.GroupBy) > 0 && json.Unmarshal([]byte(h.Group), &vals) == nil && len(vals) == len(cc.c.GroupBy) {
		for i, f := range cc.c.GroupBy {
			h.GroupValues = append(h.GroupValues, GroupValue{f, vals[i]})
		}
	}
	return h, true
}

// compareInGroup is CompareOccurrences for occurrences of one stream and group.
func compareInGroup(a, b Occurrence) int {
	return cmp.Or(a.Time.Compare(b.Time), strings.Compare(a.EventID, b.EventID), strings.Compare(a.Tag, b.Tag), strings.Compare(a.Value, b.Value))
}

func list0Group(list, fresh []Occurrence) string {
	if len(list) > 0 {
		return list[0].Group
	}
	return fresh[0].Group
}

// nearAny reports whether some time in sorted (by time) lies within span of t.
func nearAny(sorted []Occurrence, t time.Time, span time.Duration) bool {
	from := t.Add(-span)
	i, _ := slices.BinarySearchFunc(sorted, from, func(o Occurrence, t time.Time) int { return o.Time.Compare(t) })
	return i < len(sorted) && !sorted[i].Time.After(t.Add(span))
}

// cover marks the occurrences of list (sorted by time) that lie in a window
// [s, s+Timespan] where the condition holds. Only windows starting at an
// occurrence need testing: any other window holds no more than the one
// starting at its first occurrence, and conditions are monotone.
func (cc *compiledCorrelation) cover(list []Occurrence) []bool {
	n := len(list)
	out := make([]bool, n)
	if n == 0 {
		return out
	}
	c := cc.c
	diff := make([]int, n+1)
	var (
		counts = map[string]int{} // value_count: values; temporal: tags
		sum    float64
		nums   []float64
		next   [][]int // temporal_ordered: next[k][p], the first index >= p with step k's tag
		run    []int   // temporal_ordered: the first index with the same time
	)
	switch c.Type {
	case CorrelationValueSum:
		nums = make([]float64, n)
		for i, o := range list {
			nums[i], _ = strconv.ParseFloat(o.Value, 64)
		}
	case CorrelationTemporalOrdered:
		step := map[string]int{}
		for k, tag := range cc.tags {
			step[CanonicalKey(tag)] = k
		}
		next = make([][]int, len(cc.tags))
		for k := range next {
			next[k] = make([]int, n+1)
			next[k][n] = n
		}
		for p := n - 1; p >= 0; p-- {
			for k := range next {
				next[k][p] = next[k][p+1]
			}
			if k, ok := step[list[p].Tag]; ok {
				next[k][p] = p
			}
		}
		run = make([]int, n)
		for p := range list {
			if p > 0 && list[p].Time.Equal(list[p-1].Time) {
				run[p] = run[p-1]
			} else {
				run[p] = p
			}
		}
	}
	add := func(p int, d int) {
		switch c.Type {
		case CorrelationValueCount, CorrelationTemporal:
			key := list[p].Value
			if c.Type == CorrelationTemporal {
				key = list[p].Tag
			}
			if counts[key] += d; counts[key] == 0 {
				delete(counts, key)
			}
		case CorrelationValueSum:
			sum += float64(d) * nums[p]
		}
	}
	holds := func(i, j int) bool { // the window is list[i:j]
		switch c.Type {
		case CorrelationEventCount:
			return c.holds(float64(j - i))
		case CorrelationValueCount, CorrelationTemporal:
			return c.holds(float64(len(counts)))
		case CorrelationValueSum:
			return c.holds(sum)
		case CorrelationTemporalOrdered:
			p := i
			for k := range next {
				q := next[k][p]
				if q >= j {
					return false
				}
				p = run[q] // events at the same time count as in order
			}
			return true
		}
		return false
	}
	j := 0
	for i := 0; i < n; {
		end := list[i].Time.Add(c.Timespan)
		for ; j < n && !list[j].Time.After(end); j++ {
			add(j, 1)
		}
		if holds(i, j) {
			diff[i]++
			diff[j]--
		}
		t := list[i].Time
		for ; i < n && list[i].Time.Equal(t); i++ {
			add(i, -1)
		}
	}
	depth := 0
	for p := range n {
		depth += diff[p]
		out[p] = depth > 0
	}
	return out
}
