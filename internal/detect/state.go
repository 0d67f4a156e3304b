package detect

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// This file declares the state that detections which remember across events
// need — correlation windows, first-seen baselines, credential origin,
// persisted findings, source checkpoints — as one small interface, State.
// NewMemoryState implements it in memory (the reference the tests use);
// package store implements it on SQLite and PostgreSQL, and
// store/storetest holds the conformance suite every implementation passes.
//
// Everything is keyed by event time, never by the wall clock, and every
// answer is a function of what was stored, not of the order it arrived in:
// scanning last month's logs in one batch, or in shuffled pieces across many
// invocations sharing one state, leaves the same state behind. Writes are
// idempotent where a replay could repeat them (an occurrence is stored once
// per key; first/last seen are minima and maxima), and the rest (counts)
// become exact when a source writes its checkpoint in the same transaction
// as what it derived, and skips what its checkpoints say is done.
//
// Values are kept in a canonical form that every implementation applies the
// same way, so all of them give byte-identical answers:
//
//   - times to the microsecond, in UTC (CanonicalTime);
//   - strings as valid UTF-8 without NUL bytes (PostgreSQL's text refuses
//     both), and strings that are part of a key cut to at most MaxKeyLen
//     bytes, the cut ones ending in a hash of the whole (CanonicalKey).

// State is the memory detections keep across events and across invocations.
//
// Update runs fn in a read-write transaction: everything fn writes is
// committed together when it returns nil, and nothing of it when it returns
// an error (or panics, or the context ends). Updates on one state are
// serialized, across handles and processes sharing it: each fn sees every
// Update committed before it and no other Update's writes while it runs, so a
// read-decide-write inside fn is safe. Keep CPU work (matching, enrichment)
// outside fn and hand it batches: the lock is held while fn runs.
//
// View runs fn in a read-only transaction over a consistent snapshot of what
// was committed. The databases let it run beside an Update; MemoryState makes
// it wait for one to finish.
//
// fn runs exactly once. It must not call Update or View on the same state
// (it would wait for itself): it reads through the Tx it is given. The Tx or
// Reader must not be used after fn returns.
type State interface {
	Update(ctx context.Context, fn func(Tx) error) error
	View(ctx context.Context, fn func(Reader) error) error
}

// Reader is the read side of a transaction. Every method takes a batch, so a
// batch of events costs one round trip per kind of question, not one per
// event.
type Reader interface {
	// Occurrences returns the stored occurrences that fall in any of the
	// ranges, each once, sorted by CompareOccurrences.
	Occurrences(ctx context.Context, ranges []OccurrenceRange) ([]Occurrence, error)

	// Baselines returns the stored baselines for the keys, sorted by kind,
	// scope and value. A key with an empty Value asks for every value of its
	// kind and scope. Keys with nothing stored are left out.
	Baselines(ctx context.Context, keys []BaselineKey) ([]Baseline, error)

	// Findings returns the stored findings with these ids, sorted by id;
	// ids with no finding are left out.
	Findings(ctx context.Context, ids []string) ([]FindingRecord, error)

	// ListFindings returns up to limit findings whose id sorts after the
	// given one ("" for the first page), sorted by id.
	ListFindings(ctx context.Context, after string, limit int) ([]FindingRecord, error)

	// Checkpoints returns the stored checkpoints with these keys, sorted by
	// key; keys with no checkpoint are left out.
	Checkpoints(ctx context.Context, keys []string) ([]Checkpoint, error)
}

// Tx is a read-write transaction. Its reads see its own writes.
type Tx interface {
	Reader

	// AddOccurrences stores occurrences, idempotently: an occurrence whose
	// key (OccurrenceKey) is already stored is left as it is. fresh[i]
	// reports whether occ[i] was new — not stored before and not an earlier
	// element of occ — so a caller can count each event once however often
	// it is delivered.
	AddOccurrences(ctx context.Context, occ []Occurrence) (fresh []bool, err error)

	// Observe merges observations into the baselines of their keys: the
	// earliest and latest (time, eventID) win and the count grows by each
	// observation's Count (one when unset). An empty Kind, Scope or Value is
	// an error, and then nothing of obs is written. Baselines reads the
	// result.
	Observe(ctx context.Context, obs []Observation) error

	// UpsertFindings merges each record into the stored finding with the
	// same id (MergeFindingRecords), creating it when there is none, and
	// returns the merged records in the order given. Records sharing an id in
	// one call are merged together first. An empty ID is an error.
	UpsertFindings(ctx context.Context, recs []FindingRecord) ([]FindingRecord, error)

	// SetCheckpoints writes checkpoints, replacing those with the same key.
	SetCheckpoints(ctx context.Context, cps []Checkpoint) error

	// Evict removes what the retention's cutoffs age out and says how much.
	Evict(ctx context.Context, r Retention) (Evicted, error)
}

// Occurrence records that an event counts toward a correlation: it is the
// unit of the event-time windows behind Sigma's event_count, value_count,
// temporal and temporal_ordered rules.
type Occurrence struct {
	// Stream is what the occurrence counts toward, usually the id of a
	// correlation rule.
	Stream string
	// Group is the group-by key within the stream: the values of the
	// rule's group-by fields, joined unambiguously; "" when it has none.
	Group string
	// Time is the event's time.
	Time time.Time
	// EventID is the event's eventID.
	EventID string
	// Tag says which referenced rule matched (temporal correlations); ""
	// when that does not matter.
	Tag string
	// Value is the value counted or summed (value_count, value_sum); "" when
	// there is none.
	Value string
}

// OccurrenceKey is what makes an occurrence unique: the same event (time and
// eventID) counted toward the same stream, group, tag and value is one
// occurrence, however often it is added.
type OccurrenceKey struct {
	Stream, Group string
	Time          int64 // Unix microseconds
	EventID       string
	Tag, Value    string
}

// Key returns the occurrence's key. The occurrence should be canonical.
func (o Occurrence) Key() OccurrenceKey {
	return OccurrenceKey{o.Stream, o.Group, o.Time.UnixMicro(), o.EventID, o.Tag, o.Value}
}

// Canonical returns the occurrence as every implementation stores it.
func (o Occurrence) Canonical() Occurrence {
	return Occurrence{
		Stream:  CanonicalKey(o.Stream),
		Group:   CanonicalKey(o.Group),
		Time:    CanonicalTime(o.Time),
		EventID: CanonicalKey(o.EventID),
		Tag:     CanonicalKey(o.Tag),
		Value:   CanonicalKey(o.Value),
	}
}

// CompareOccurrences orders occurrences by stream, group, time, eventID, tag
// and value: the order of Reader.Occurrences.
func CompareOccurrences(a, b Occurrence) int {
	return cmp.Or(
		strings.Compare(a.Stream, b.Stream),
		strings.Compare(a.Group, b.Group),
		a.Time.Compare(b.Time),
		strings.Compare(a.EventID, b.EventID),
		strings.Compare(a.Tag, b.Tag),
		strings.Compare(a.Value, b.Value),
	)
}

// OccurrenceRange selects one group's occurrences in an event-time range:
// From <= Time < To, or From <= Time when To is zero.
type OccurrenceRange struct {
	Stream, Group string
	From, To      time.Time
}

// Canonical returns the range as implementations apply it.
func (r OccurrenceRange) Canonical() OccurrenceRange {
	return OccurrenceRange{CanonicalKey(r.Stream), CanonicalKey(r.Group), CanonicalTime(r.From), CanonicalTime(r.To)}
}

// Observation is one sighting of a value for a first-seen baseline or for
// credential origin. Kind names what is observed and Scope whose baseline it
// is, for example:
//
//	Kind "api",       Scope "principal:<arn>",  Value "iam:CreateAccessKey"
//	Kind "region",    Scope "account:<id>",     Value "ap-southeast-3"
//	Kind "ua-family", Scope "principal:<arn>",  Value "aws-cli"
//	Kind "asn",       Scope "principal:<arn>",  Value "16509"
//	Kind "key-issued", Scope "<ASIA… key id>",  Value "asn:16509"   (where it was issued)
//	Kind "key-used",   Scope "<ASIA… key id>",  Value "asn:14061"   (where it was used)
//
// The kinds are the detections' to define; the state only keeps, per key,
// the earliest and latest sighting and a count.
type Observation struct {
	Kind, Scope, Value string
	Time               time.Time // the event's time
	EventID            string
	// Count is how many sightings the observation stands for: a caller that
	// merged repeats in memory sends one observation per distinct value.
	// Zero counts as one.
	Count int64
	// Last is the latest of those sightings, when the caller merged
	// several; zero when it is (Time, EventID).
	Last Sighting
}

// Canonical returns the observation as every implementation stores it.
func (o Observation) Canonical() Observation {
	o.Kind, o.Scope, o.Value = CanonicalKey(o.Kind), CanonicalKey(o.Scope), CanonicalKey(o.Value)
	return o.canonicalSightings()
}

// canonicalSightings returns o with its sightings and count canonical, its
// key as it is.
func (o Observation) canonicalSightings() Observation {
	c := Observation{
		Kind:    o.Kind,
		Scope:   o.Scope,
		Value:   o.Value,
		Time:    CanonicalTime(o.Time),
		EventID: CanonicalKey(o.EventID),
		Count:   max(o.Count, 1),
	}
	if !o.Last.Time.IsZero() {
		c.Last = Sighting{CanonicalTime(o.Last.Time), CanonicalKey(o.Last.EventID)}
	}
	return c
}

// Key returns the baseline key the observation counts toward.
func (o Observation) Key() BaselineKey { return BaselineKey{o.Kind, o.Scope, o.Value} }

// BaselineKey names one baseline entry; in a query, an empty Value means
// every value of the kind and scope.
type BaselineKey struct {
	Kind, Scope, Value string
}

// Canonical returns the key as implementations apply it.
func (k BaselineKey) Canonical() BaselineKey {
	return BaselineKey{CanonicalKey(k.Kind), CanonicalKey(k.Scope), CanonicalKey(k.Value)}
}

// Sighting is an event a baseline entry was seen in. Sightings order by
// time, then eventID.
type Sighting struct {
	Time    time.Time
	EventID string
}

// Before reports whether s comes before t.
func (s Sighting) Before(t Sighting) bool { return compareSightings(s, t) < 0 }

func compareSightings(a, b Sighting) int {
	return cmp.Or(a.Time.Compare(b.Time), strings.Compare(a.EventID, b.EventID))
}

// Baseline is what the state knows of one (kind, scope, value): its earliest
// and latest sightings and how many observations were recorded. First and
// Last do not depend on the order observations arrived in nor on replays;
// Count counts every observation recorded, a replayed one again.
type Baseline struct {
	BaselineKey
	First, Last Sighting
	Count       int64
}

// MergeObservation folds o into b, the baseline of o's key (zero when
// there was none). Implementations that merge in Go use it.
func MergeObservation(b Baseline, o Observation) Baseline {
	s := Sighting{o.Time, o.EventID}
	last := s
	if !o.Last.Time.IsZero() && s.Before(o.Last) {
		last = o.Last
	}
	n := max(o.Count, 1)
	if b.Count == 0 {
		return Baseline{BaselineKey: o.Key(), First: s, Last: last, Count: n}
	}
	if s.Before(b.First) {
		b.First = s
	}
	if b.Last.Before(last) {
		b.Last = last
	}
	b.Count += n
	return b
}

// CompareBaselines orders baselines by kind, scope and value.
func CompareBaselines(a, b Baseline) int {
	return cmp.Or(
		strings.Compare(a.Kind, b.Kind),
		strings.Compare(a.Scope, b.Scope),
		strings.Compare(a.Value, b.Value),
	)
}

// Checkpoint is a source's note of how far it got: a key (e.g.
// "s3:bucket/prefix" or "sqs:queue-url") and an opaque value (the last S3 key
// processed, a message id). Written in the same Update as the findings
// derived from the work it covers, it moves forward exactly when they are
// committed.
type Checkpoint struct {
	Key, Value string
	// Time is the latest event time the checkpoint covers. Retention
	// evicts checkpoints by it; a zero Time keeps the checkpoint forever
	// (a cursor the source cannot do without), a set one lets a per-object
	// "done" mark age out with the events it covered.
	Time time.Time
}

// Canonical returns the checkpoint as every implementation stores it.
func (c Checkpoint) Canonical() Checkpoint {
	return Checkpoint{Key: CanonicalKey(c.Key), Value: CanonicalText(c.Value), Time: CanonicalTime(c.Time)}
}

// Retention says what Evict removes: everything whose event time is before
// the cutoff of its kind. A zero cutoff keeps everything of that kind.
type Retention struct {
	Occurrences  time.Time // occurrences with Time before it
	Observations time.Time // baselines last seen before it
	Findings     time.Time // findings with a LastSeen before it
	Checkpoints  time.Time // checkpoints with a non-zero Time before it
}

// Canonical returns the retention's cutoffs as implementations apply them.
func (r Retention) Canonical() Retention {
	return Retention{
		Occurrences:  CanonicalTime(r.Occurrences),
		Observations: CanonicalTime(r.Observations),
		Findings:     CanonicalTime(r.Findings),
		Checkpoints:  CanonicalTime(r.Checkpoints),
	}
}

// Evicted counts what Evict removed.
type Evicted struct {
	Occurrences, Observations, Findings, Checkpoints int64
}

// DefaultEvidenceLimit and DefaultValuesLimit are the caps a FindingRecord
// with no limits of its own gets (those of finding.Aggregator).
const (
	DefaultEvidenceLimit = 1000
	DefaultValuesLimit   = 10
)

// Stamp is a string with the event time it was seen at; stamps order by
// time, then string.
type Stamp struct {
	Time  time.Time
	Value string
}

func compareStamps(a, b Stamp) int {
	return cmp.Or(a.Time.Compare(b.Time), strings.Compare(a.Value, b.Value))
}

// FindingRecord is a finding as the state keeps it: the parts that merge when
// the same finding (same ID, its dedup id) is produced again — by a later
// batch, another invocation or another worker — and the rest as an opaque
// body. It mirrors finding.Finding without importing it (finding sits below
// detect on the spine). Merging is commutative and associative, so the
// stored record does not depend on the order contributions arrive in.
type FindingRecord struct {
	ID      string // the finding's dedup id
	RuleID  string
	Account string

	// Event time of the earliest and latest event; zero when unknown.
	FirstSeen, LastSeen time.Time

	Count    int64            // events counted; merged by sum
	Counters map[string]int64 // further sums, e.g. "failed"; merged by sum

	// Evidence is the eventIDs of the earliest events, each with its time,
	// sorted and without repeats; merged as a union keeping the earliest
	// EvidenceLimit. EvidenceTotal counts the evidence offered, so a reader
	// can tell it was cut.
	Evidence      []Stamp
	EvidenceTotal int64

	// Values holds lists of distinct values by name ("event_names",
	// "source_ips", ...), each value with the earliest time it was seen;
	// merged per name keeping the ValuesLimit earliest.
	Values map[string][]Stamp

	// The caps; merged by maximum. Zero means DefaultEvidenceLimit and
	// DefaultValuesLimit.
	EvidenceLimit, ValuesLimit int

	// Body is the rest of the finding (title, severity, actor, context...),
	// opaque to the state. It describes the event Origin (time, eventID);
	// on merge the body with the earliest Origin wins, ties going to the
	// smaller body.
	Body   []byte
	Origin Stamp
}

// Canonical returns the record as every implementation stores it: times and
// strings canonical, evidence and values sorted, deduplicated and capped,
// empty maps and lists nil.
func (r FindingRecord) Canonical() FindingRecord {
	out := FindingRecord{
		ID:            CanonicalKey(r.ID),
		RuleID:        CanonicalKey(r.RuleID),
		Account:       CanonicalKey(r.Account),
		FirstSeen:     CanonicalTime(r.FirstSeen),
		LastSeen:      CanonicalTime(r.LastSeen),
		Count:         r.Count,
		EvidenceTotal: r.EvidenceTotal,
		EvidenceLimit: max(r.EvidenceLimit, 0),
		ValuesLimit:   max(r.ValuesLimit, 0),
		Origin:        Stamp{CanonicalTime(r.Origin.Time), CanonicalText(r.Origin.Value)},
	}
	if len(r.Body) > 0 {
		out.Body = slices.Clone(r.Body)
	}
	for k, v := range r.Counters {
		if v == 0 {
			continue
		}
		if out.Counters == nil {
			out.Counters = map[string]int64{}
		}
		out.Counters[CanonicalText(k)] += v
	}
	out.Evidence = stampSet(nil, r.Evidence, out.evidenceLimit(), false)
	for k, v := range r.Values {
		if s := stampSet(nil, v, out.valuesLimit(), true); len(s) > 0 {
			if out.Values == nil {
				out.Values = map[string][]Stamp{}
			}
			k = CanonicalText(k)
			out.Values[k] = stampSet(out.Values[k], s, out.valuesLimit(), true)
		}
	}
	return out
}

func (r FindingRecord) evidenceLimit() int { return cmp.Or(r.EvidenceLimit, DefaultEvidenceLimit) }
func (r FindingRecord) valuesLimit() int   { return cmp.Or(r.ValuesLimit, DefaultValuesLimit) }

// MergeFindingRecords merges two records of the same finding (see the field
// comments of FindingRecord). Both should be canonical; the result is. The
// ID, rule and account are a's unless a has none.
func MergeFindingRecords(a, b FindingRecord) FindingRecord {
	out := FindingRecord{
		ID:            cmp.Or(a.ID, b.ID),
		RuleID:        cmp.Or(a.RuleID, b.RuleID),
		Account:       cmp.Or(a.Account, b.Account),
		FirstSeen:     minTime(a.FirstSeen, b.FirstSeen),
		LastSeen:      maxTime(a.LastSeen, b.LastSeen),
		Count:         a.Count + b.Count,
		EvidenceTotal: a.EvidenceTotal + b.EvidenceTotal,
		EvidenceLimit: max(a.EvidenceLimit, b.EvidenceLimit),
		ValuesLimit:   max(a.ValuesLimit, b.ValuesLimit),
	}
	for _, m := range [...]map[string]int64{a.Counters, b.Counters} {
		for k, v := range m {
			if out.Counters == nil {
				out.Counters = map[string]int64{}
			}
			out.Counters[k] += v
		}
	}
	for k, v := range out.Counters {
		if v == 0 {
			delete(out.Counters, k)
		}
	}
	if len(out.Counters) == 0 {
		out.Counters = nil
	}
	out.Evidence = stampSet(slices.Clone(a.Evidence), b.Evidence, out.evidenceLimit(), false)
	for _, m := range [...]map[string][]Stamp{a.Values, b.Values} {
		for k, v := range m {
			if out.Values == nil {
				out.Values = map[string][]Stamp{}
			}
			out.Values[k] = stampSet(slices.Clone(out.Values[k]), v, out.valuesLimit(), true)
		}
	}
	winner := a
	switch {
	case !b.hasBody():
	case !a.hasBody():
		winner = b
	case cmp.Or(compareStamps(b.Origin, a.Origin), strings.Compare(string(b.Body), string(a.Body))) < 0:
		winner = b
	}
	out.Body, out.Origin = slices.Clone(winner.Body), winner.Origin
	return out
}

func (r FindingRecord) hasBody() bool { return len(r.Body) > 0 || r.Origin != (Stamp{}) }

// stampSet adds more to set and returns the result sorted and capped at
// limit, leaving out empty values. With byValue, a value appears once, at its
// earliest time; without, only identical stamps collapse.
func stampSet(set, more []Stamp, limit int, byValue bool) []Stamp {
	for _, s := range more {
		s = Stamp{CanonicalTime(s.Time), CanonicalText(s.Value)}
		if s.Value == "" {
			continue
		}
		set = append(set, s)
	}
	if len(set) == 0 {
		return nil
	}
	if byValue {
		slices.SortFunc(set, func(a, b Stamp) int { return cmp.Or(strings.Compare(a.Value, b.Value), a.Time.Compare(b.Time)) })
		set = slices.CompactFunc(set, func(a, b Stamp) bool { return a.Value == b.Value })
	}
	slices.SortFunc(set, compareStamps)
	set = slices.Compact(set)
	if len(set) > limit {
		set = set[:limit]
	}
	return slices.Clip(set)
}

func minTime(a, b time.Time) time.Time {
	if a.IsZero() || !b.IsZero() && b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if a.IsZero() || !b.IsZero() && b.After(a) {
		return b
	}
	return a
}

// MaxKeyLen is the longest string kept as part of a key (stream, group,
// eventID, tag and value of an occurrence; kind, scope and value of a
// baseline; ids; checkpoint keys). It keeps PostgreSQL's b-tree entries
// under their size limit and the state small whatever a field holds.
const MaxKeyLen = 512

// CanonicalKey returns s as implementations store it in a key: valid UTF-8
// without NUL bytes (CanonicalText), and, when longer than MaxKeyLen bytes,
// its first part followed by "~" and a SHA-256 of the whole, MaxKeyLen bytes
// in all, so distinct long strings stay distinct.
func CanonicalKey(s string) string {
	s = CanonicalText(s)
	if len(s) <= MaxKeyLen {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	suffix := "~" + hex.EncodeToString(sum[:])
	cut := MaxKeyLen - len(suffix)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + suffix
}

// CanonicalText returns s as valid UTF-8 without NUL bytes: each invalid
// byte sequence and each NUL becomes U+FFFD.
func CanonicalText(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// CanonicalTime returns t in UTC, cut to the microsecond (the precision
// every implementation keeps). The zero time stays zero.
func CanonicalTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.UnixMicro(t.UnixMicro()).UTC()
}
