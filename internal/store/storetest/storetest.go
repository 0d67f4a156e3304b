// Package storetest is the conformance suite for detect.State: every
// implementation — detect.MemoryState, the SQLite and the PostgreSQL store —
// runs it, and so gives the same answers as a plain model of the contract
// written out in the tests themselves.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trailsentry/trailsentry/internal/detect"
)

// New prepares a fresh, empty state for one test and returns a function that
// opens a handle to it. Each call of that function opens another handle on
// the same state (another connection pool, as another worker would), closed
// when the test ends.
type New func(tb testing.TB) (open func(tb testing.TB) detect.State)

// Run runs the conformance suite.
func Run(t *testing.T, newState New) {
	tests := []struct {
		name string
		fn   func(*testing.T, New)
	}{
		{"OccurrencesIdempotent", testOccurrencesIdempotent},
		{"OccurrencesOrderIndependent", testOccurrencesOrderIndependent},
		{"OccurrenceRanges", testOccurrenceRanges},
		{"Canonical", testCanonical},
		{"BaselinesFirstSeen", testBaselinesFirstSeen},
		{"BaselinesMergedSightings", testBaselinesMergedSightings},
		{"BaselineQueries", testBaselineQueries},
		{"CredentialOrigin", testCredentialOrigin},
		{"FindingsMerge", testFindingsMerge},
		{"FindingsList", testFindingsList},
		{"CheckpointsAtomicWithFindings", testCheckpointsAtomic},
		{"Evict", testEvict},
		{"ConcurrentWriters", testConcurrentWriters},
		{"ViewAndTxLifetime", testViewAndLifetime},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newState) })
	}
}

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func update(t testing.TB, st detect.State, fn func(ctx context.Context, tx detect.Tx) error) {
	t.Helper()
	ctx := context.Background()
	if err := st.Update(ctx, func(tx detect.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func view(t testing.TB, st detect.State, fn func(ctx context.Context, r detect.Reader) error) {
	t.Helper()
	ctx := context.Background()
	if err := st.View(ctx, func(r detect.Reader) error { return fn(ctx, r) }); err != nil {
		t.Fatalf("View: %v", err)
	}
}

func addOccurrences(t testing.TB, st detect.State, occ []detect.Occurrence) []bool {
	t.Helper()
	var fresh []bool
	update(t, st, func(ctx context.Context, tx detect.Tx) (err error) {
		fresh, err = tx.AddOccurrences(ctx, occ)
		return err
	})
	return fresh
}

func occurrences(t testing.TB, st detect.State, ranges ...detect.OccurrenceRange) []detect.Occurrence {
	t.Helper()
	var out []detect.Occurrence
	view(t, st, func(ctx context.Context, r detect.Reader) (err error) {
		out, err = r.Occurrences(ctx, ranges)
		return err
	})
	return out
}

func diff(t testing.TB, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// randomOccurrences makes n occurrences over a few streams and groups in an
// hour, some sharing an event (same time and eventID) under another tag.
func randomOccurrences(rng *rand.Rand, n int) []detect.Occurrence {
	var out []detect.Occurrence
	for len(out) < n {
		o := detect.Occurrence{
			Stream:  fmt.Sprintf("corr-%d", rng.IntN(3)),
			Group:   fmt.Sprintf("arn:aws:iam::1111:user/u%d", rng.IntN(4)),
			Time:    t0.Add(time.Duration(rng.IntN(3600)) * time.Second),
			EventID: fmt.Sprintf("%08x-ev", rng.Uint32()),
			Value:   fmt.Sprintf("v%d", rng.IntN(5)),
		}
		if rng.IntN(3) == 0 {
			o.Value = ""
		}
		out = append(out, o)
		if rng.IntN(4) == 0 && len(out) < n {
			o.Tag = "second-rule"
			out = append(out, o)
		}
	}
	return out
}

func testOccurrencesIdempotent(t *testing.T, newState New) {
	st := newState(t)(t)
	rng := rand.New(rand.NewPCG(1, 2))
	occ := randomOccurrences(rng, 200)
	// A batch that repeats some of its own elements: only the first of a key
	// is fresh.
	batch := append(slices.Clone(occ), occ[3], occ[7])
	fresh := addOccurrences(t, st, batch)
	for i, f := range fresh {
		if want := i < len(occ); f != want {
			t.Fatalf("first add: fresh[%d] = %v, want %v", i, f, want)
		}
	}
	all := detect.OccurrenceRange{Stream: "corr-0", Group: occ[0].Group}
	before := occurrences(t, st, all)
	// Delivered again, in another order and split differently: nothing new.
	perm := rng.Perm(len(occ))
	var again []detect.Occurrence
	for _, i := range perm {
		again = append(again, occ[i])
	}
	for lo := 0; lo < len(again); lo += 37 {
		for i, f := range addOccurrences(t, st, again[lo:min(lo+37, len(again))]) {
			if f {
				t.Fatalf("re-add: fresh[%d] = true for %+v", lo+i, again[lo+i])
			}
		}
	}
	diff(t, "occurrences after replay", occurrences(t, st, all), before)

	// A new event next to stored ones is fresh; the same event under another
	// tag or value is another occurrence.
	o := occ[0]
	o.EventID = "new-event"
	o2 := occ[0]
	o2.Tag = "other-tag"
	o3 := occ[0]
	o3.Value = "other-value"
	diff(t, "fresh for new keys", addOccurrences(t, st, []detect.Occurrence{o, o2, o3, occ[0]}), []bool{true, true, true, false})
}

// model answers an occurrence query from a plain list.
func model(occ []detect.Occurrence, ranges ...detect.OccurrenceRange) []detect.Occurrence {
	var out []detect.Occurrence
	for _, o := range occ {
		o = o.Canonical()
		for _, r := range ranges {
			r = r.Canonical()
			if o.Stream == r.Stream && o.Group == r.Group && !o.Time.Before(r.From) && (r.To.IsZero() || o.Time.Before(r.To)) {
				out = append(out, o)
				break
			}
		}
	}
	slices.SortFunc(out, detect.CompareOccurrences)
	return slices.Compact(out)
}

func randomRanges(rng *rand.Rand, occ []detect.Occurrence, n int) []detect.OccurrenceRange {
	var out []detect.OccurrenceRange
	for range n {
		o := occ[rng.IntN(len(occ))]
		from := t0.Add(time.Duration(rng.IntN(3600)-60) * time.Second)
		r := detect.OccurrenceRange{Stream: o.Stream, Group: o.Group, From: from, To: from.Add(time.Duration(rng.IntN(900)) * time.Second)}
		if rng.IntN(10) == 0 {
			r.To = time.Time{}
		}
		out = append(out, r)
	}
	return out
}

func testOccurrencesOrderIndependent(t *testing.T, newState New) {
	rng := rand.New(rand.NewPCG(3, 4))
	occ := randomOccurrences(rng, 600)
	inOrder := slices.SortedFunc(slices.Values(occ), detect.CompareOccurrences)

	// One state gets the events in time order in one batch; another gets
	// them shuffled, in many small transactions, some twice — as a scan in
	// shuffled file order across invocations would.
	a := newState(t)(t)
	addOccurrences(t, a, inOrder)
	b := newState(t)(t)
	shuffled := slices.Clone(occ)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	shuffled = append(shuffled, shuffled[:100]...)
	for lo := 0; lo < len(shuffled); {
		hi := min(lo+1+rng.IntN(50), len(shuffled))
		addOccurrences(t, b, shuffled[lo:hi])
		lo = hi
	}
	ranges := randomRanges(rng, occ, 200)
	for i, r := range ranges {
		want := model(occ, r)
		diff(t, fmt.Sprintf("range %d %+v in order", i, r), occurrences(t, a, r), want)
		diff(t, fmt.Sprintf("range %d %+v shuffled", i, r), occurrences(t, b, r), want)
	}
	// All ranges in one call, overlapping: each occurrence once.
	want := model(occ, ranges...)
	diff(t, "batched ranges, in order", occurrences(t, a, ranges...), want)
	diff(t, "batched ranges, shuffled", occurrences(t, b, ranges...), want)
}

func testOccurrenceRanges(t *testing.T, newState New) {
	st := newState(t)(t)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	occ := []detect.Occurrence{
		{Stream: "s", Group: "g", Time: at(0), EventID: "e0"},
		{Stream: "s", Group: "g", Time: at(10), EventID: "e1"},
		{Stream: "s", Group: "g", Time: at(10), EventID: "e2", Tag: "b"},
		{Stream: "s", Group: "g", Time: at(20), EventID: "e3", Value: "x"},
		{Stream: "s", Group: "h", Time: at(10), EventID: "e4"},
		{Stream: "t", Group: "g", Time: at(10), EventID: "e5"},
		{Stream: "s", Group: "", Time: at(10), EventID: "e6"},
	}
	addOccurrences(t, st, occ)
	ids := func(got []detect.Occurrence) string {
		var s []string
		for _, o := range got {
			s = append(s, o.EventID)
		}
		return strings.Join(s, ",")
	}
	for _, tc := range []struct {
		r    detect.OccurrenceRange
		want string
	}{
		{detect.OccurrenceRange{Stream: "s", Group: "g", From: at(0), To: at(10)}, "e0"}, // To is exclusive
		{detect.OccurrenceRange{Stream: "s", Group: "g", From: at(10), To: at(11)}, "e1,e2"},
		{detect.OccurrenceRange{Stream: "s", Group: "g", From: at(10)}, "e1,e2,e3"}, // no To: unbounded
		{detect.OccurrenceRange{Stream: "s", Group: "g", From: at(21)}, ""},
		{detect.OccurrenceRange{Stream: "s", Group: "", From: at(0)}, "e6"},
		{detect.OccurrenceRange{Stream: "s", Group: "h", From: at(0), To: at(100)}, "e4"},
		{detect.OccurrenceRange{Stream: "u", Group: "g", From: at(0)}, ""},
		{detect.OccurrenceRange{Stream: "s", Group: "g"}, "e0,e1,e2,e3"}, // zero From: from the start
	} {
		diff(t, fmt.Sprintf("%+v", tc.r), ids(occurrences(t, st, tc.r)), tc.want)
	}
	got := occurrences(t, st, detect.OccurrenceRange{Stream: "s", Group: "g", From: at(20), To: at(21)})
	diff(t, "returned occurrence", got, []detect.Occurrence{occ[3]})
	if n := len(occurrences(t, st)); n != 0 {
		t.Errorf("no ranges: %d occurrences", n)
	}
}

// testCanonical checks that every implementation keeps the same canonical
// form: microseconds in UTC, valid UTF-8 without NUL, long keys hashed.
func testCanonical(t *testing.T, newState New) {
	st := newState(t)(t)
	long := strings.Repeat("é", 400) // 800 bytes
	longA, longB := long+"A", long+"B"
	nanos := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.FixedZone("X", 3600))
	occ := []detect.Occurrence{
		{Stream: "s", Group: longA, Time: nanos, EventID: "nul\x00id", Value: "bad\xffutf8"},
		{Stream: "s", Group: longB, Time: nanos, EventID: "e"},
	}
	diff(t, "fresh", addOccurrences(t, st, occ), []bool{true, true})
	for _, o := range occ {
		c := o.Canonical()
		if len(c.Group) > detect.MaxKeyLen {
			t.Fatalf("canonical group is %d bytes", len(c.Group))
		}
		got := occurrences(t, st, detect.OccurrenceRange{Stream: "s", Group: o.Group, From: nanos.Add(-time.Second)})
		diff(t, "canonical occurrence", got, []detect.Occurrence{c})
	}
	if occ[0].Canonical().Group == occ[1].Canonical().Group {
		t.Error("two long groups with the same prefix became one")
	}
	if got := occ[0].Canonical(); got.Time != time.Date(2026, 3, 1, 11, 0, 0, 123456000, time.UTC) ||
		got.EventID != "nul\uFFFDid" || got.Value != "bad\uFFFDutf8" {
		t.Errorf("Canonical = %+v", got)
	}
	// Re-adding the original (non-canonical) form finds the stored one.
	diff(t, "fresh again", addOccurrences(t, st, occ), []bool{false, false})

	var b []detect.Baseline
	update(t, st, func(ctx context.Context, tx detect.Tx) (err error) {
		if err := tx.Observe(ctx, []detect.Observation{{Kind: "ua", Scope: longA, Value: "x\x00y", Time: nanos, EventID: "e"}}); err != nil {
			return err
		}
		b, err = tx.Baselines(ctx, []detect.BaselineKey{{Kind: "ua", Scope: longA, Value: "x\x00y"}})
		return err
	})
	want := detect.Baseline{
		BaselineKey: detect.BaselineKey{Kind: "ua", Scope: detect.CanonicalKey(longA), Value: "x\uFFFDy"},
		First:       detect.Sighting{Time: detect.CanonicalTime(nanos), EventID: "e"},
		Last:        detect.Sighting{Time: detect.CanonicalTime(nanos), EventID: "e"},
		Count:       1,
	}
	diff(t, "observed", b, []detect.Baseline{want})
	// Observing the non-canonical form again counts toward the stored one.
	update(t, st, func(ctx context.Context, tx detect.Tx) (err error) {
		if err := tx.Observe(ctx, []detect.Observation{{Kind: "ua", Scope: longA, Value: "x\x00y", Time: nanos, EventID: "e"}}); err != nil {
			return err
		}
		b, err = tx.Baselines(ctx, []detect.BaselineKey{{Kind: "ua", Scope: longA, Value: "x\x00y"}})
		return err
	})
	want.Count = 2
	diff(t, "observed again", b, []detect.Baseline{want})
}

type obsModel map[detect.BaselineKey]detect.Baseline

func (m obsModel) add(o detect.Observation) { m[o.Key()] = detect.MergeObservation(m[o.Key()], o) }

func randomObservations(rng *rand.Rand, n int) []detect.Observation {
	kinds := []string{"api", "region", "asn"}
	var out []detect.Observation
	for range n {
		out = append(out, detect.Observation{
			Kind:  kinds[rng.IntN(len(kinds))],
			Scope: fmt.Sprintf("principal:p%d", rng.IntN(5)),
			Value: fmt.Sprintf("val-%d", rng.IntN(8)),
			// Few distinct times, so that ties on time are broken by eventID.
			Time:    t0.Add(time.Duration(rng.IntN(40)) * time.Hour),
			EventID: fmt.Sprintf("ev-%05d", rng.IntN(100000)),
		})
	}
	return out
}

func allBaselines(t testing.TB, st detect.State, m obsModel) []detect.Baseline {
	t.Helper()
	scopes := map[detect.BaselineKey]bool{}
	var keys []detect.BaselineKey
	for k := range m {
		if s := (detect.BaselineKey{Kind: k.Kind, Scope: k.Scope}); !scopes[s] {
			scopes[s] = true
			keys = append(keys, s)
		}
	}
	var out []detect.Baseline
	view(t, st, func(ctx context.Context, r detect.Reader) (err error) {
		out, err = r.Baselines(ctx, keys)
		return err
	})
	return out
}

func (m obsModel) sorted() []detect.Baseline {
	var out []detect.Baseline
	for _, b := range m {
		out = append(out, b)
	}
	slices.SortFunc(out, detect.CompareBaselines)
	return out
}

func testBaselinesFirstSeen(t *testing.T, newState New) {
	rng := rand.New(rand.NewPCG(5, 6))
	obs := randomObservations(rng, 800)
	m := obsModel{}
	for _, o := range obs {
		m.add(o)
	}

	// In time order, in one batch.
	a := newState(t)(t)
	inOrder := slices.SortedFunc(slices.Values(obs), func(x, y detect.Observation) int {
		return x.Time.Compare(y.Time)
	})
	update(t, a, func(ctx context.Context, tx detect.Tx) error {
		return tx.Observe(ctx, inOrder)
	})
	diff(t, "baselines, in order", allBaselines(t, a, m), m.sorted())

	// Shuffled, in many transactions, part of it replayed: first and last
	// are the same; the count counts the replays too.
	b := newState(t)(t)
	shuffled := slices.Clone(obs)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	replay := shuffled[:150]
	shuffled = append(shuffled, replay...)
	for lo := 0; lo < len(shuffled); {
		hi := min(lo+1+rng.IntN(60), len(shuffled))
		update(t, b, func(ctx context.Context, tx detect.Tx) error {
			return tx.Observe(ctx, shuffled[lo:hi])
		})
		lo = hi
	}
	want := obsModel{}
	for _, o := range obs {
		want.add(o)
	}
	for _, o := range replay {
		k := o.Key()
		w := want[k]
		w.Count++
		want[k] = w
	}
	diff(t, "baselines, shuffled with replays", allBaselines(t, b, m), want.sorted())

	// Ties on time go to the smaller eventID, whatever the order.
	c := newState(t)(t)
	same := []detect.Observation{
		{Kind: "api", Scope: "p", Value: "v", Time: t0, EventID: "b"},
		{Kind: "api", Scope: "p", Value: "v", Time: t0, EventID: "a"},
		{Kind: "api", Scope: "p", Value: "v", Time: t0, EventID: "c"},
	}
	for _, o := range same {
		update(t, c, func(ctx context.Context, tx detect.Tx) error {
			err := tx.Observe(ctx, []detect.Observation{o})
			return err
		})
	}
	var tie []detect.Baseline
	view(t, c, func(ctx context.Context, r detect.Reader) (err error) {
		tie, err = r.Baselines(ctx, []detect.BaselineKey{{Kind: "api", Scope: "p", Value: "v"}})
		return err
	})
	diff(t, "tie", tie, []detect.Baseline{{
		BaselineKey: detect.BaselineKey{Kind: "api", Scope: "p", Value: "v"},
		First:       detect.Sighting{Time: t0, EventID: "a"},
		Last:        detect.Sighting{Time: t0, EventID: "c"},
		Count:       3,
	}})
}

func testBaselineQueries(t *testing.T, newState New) {
	st := newState(t)(t)
	obs := []detect.Observation{
		{Kind: "api", Scope: "p1", Value: "s3:GetObject", Time: t0, EventID: "1"},
		{Kind: "api", Scope: "p1", Value: "iam:CreateUser", Time: t0.Add(time.Hour), EventID: "2"},
		{Kind: "api", Scope: "p2", Value: "s3:GetObject", Time: t0, EventID: "3"},
		{Kind: "region", Scope: "p1", Value: "us-east-1", Time: t0, EventID: "1"},
	}
	update(t, st, func(ctx context.Context, tx detect.Tx) error {
		err := tx.Observe(ctx, obs)
		return err
	})
	query := func(keys ...detect.BaselineKey) string {
		var out []detect.Baseline
		view(t, st, func(ctx context.Context, r detect.Reader) (err error) {
			out, err = r.Baselines(ctx, keys)
			return err
		})
		var s []string
		for _, b := range out {
			s = append(s, b.Kind+"/"+b.Scope+"/"+b.Value)
		}
		return strings.Join(s, " ")
	}
	diff(t, "scope", query(detect.BaselineKey{Kind: "api", Scope: "p1"}), "api/p1/iam:CreateUser api/p1/s3:GetObject")
	diff(t, "point", query(detect.BaselineKey{Kind: "api", Scope: "p2", Value: "s3:GetObject"}), "api/p2/s3:GetObject")
	diff(t, "missing", query(detect.BaselineKey{Kind: "api", Scope: "p2", Value: "iam:CreateUser"}, detect.BaselineKey{Kind: "asn", Scope: "p1"}), "")
	diff(t, "mixed and overlapping", query(
		detect.BaselineKey{Kind: "region", Scope: "p1"},
		detect.BaselineKey{Kind: "api", Scope: "p1", Value: "s3:GetObject"},
		detect.BaselineKey{Kind: "api", Scope: "p1"},
	), "api/p1/iam:CreateUser api/p1/s3:GetObject region/p1/us-east-1")
	diff(t, "none", query(), "")

	for _, bad := range []detect.Observation{
		{Kind: "", Scope: "p", Value: "v", Time: t0},
		{Kind: "api", Scope: "", Value: "v", Time: t0},
		{Kind: "api", Scope: "p", Value: "", Time: t0},
	} {
		err := st.Update(context.Background(), func(tx detect.Tx) error {
			err := tx.Observe(context.Background(), []detect.Observation{obs[0], bad})
			return err
		})
		if err == nil {
			t.Errorf("Observe(%+v): no error", bad)
		}
	}
	diff(t, "after failed observes", query(detect.BaselineKey{Kind: "api", Scope: "p1", Value: "s3:GetObject"}), "api/p1/s3:GetObject")
	var b []detect.Baseline
	view(t, st, func(ctx context.Context, r detect.Reader) (err error) {
		b, err = r.Baselines(ctx, []detect.BaselineKey{{Kind: "api", Scope: "p1", Value: "s3:GetObject"}})
		return err
	})
	if len(b) != 1 || b[0].Count != 1 {
		t.Errorf("a failed Update changed the count: %+v", b)
	}
}

// testCredentialOrigin plays the credential-origin use of baselines: where a
// temporary key was issued and where it was used, learnt in either order.
func testCredentialOrigin(t *testing.T, newState New) {
	key := "ASIAEXAMPLE0000000001"
	issued := detect.Observation{Kind: "key-issued", Scope: key, Value: "asn:16509", Time: t0, EventID: "assume"}
	uses := []detect.Observation{
		{Kind: "key-used", Scope: key, Value: "asn:16509", Time: t0.Add(time.Minute), EventID: "u1"},
		{Kind: "key-used", Scope: key, Value: "asn:14061", Time: t0.Add(2 * time.Hour), EventID: "u2"},
		{Kind: "key-used", Scope: key, Value: "asn:14061", Time: t0.Add(3 * time.Hour), EventID: "u3"},
	}
	orders := [][]detect.Observation{
		append([]detect.Observation{issued}, uses...),
		{uses[2], uses[1], uses[0], issued}, // the uses' files read before the issuance's
	}
	var results [][]detect.Baseline
	for _, order := range orders {
		st := newState(t)(t)
		for _, o := range order {
			update(t, st, func(ctx context.Context, tx detect.Tx) error {
				err := tx.Observe(ctx, []detect.Observation{o})
				return err
			})
		}
		var got []detect.Baseline
		view(t, st, func(ctx context.Context, r detect.Reader) (err error) {
			got, err = r.Baselines(ctx, []detect.BaselineKey{{Kind: "key-issued", Scope: key}, {Kind: "key-used", Scope: key}})
			return err
		})
		results = append(results, got)
	}
	diff(t, "same origin whatever the order", results[1], results[0])
	if len(results[0]) != 3 {
		t.Fatalf("got %+v", results[0])
	}
	foreign := results[0][1] // key-used asn:14061
	if foreign.Value != "asn:14061" || foreign.First.EventID != "u2" || foreign.Count != 2 {
		t.Errorf("use from another network: %+v", foreign)
	}
}

func record(id string, rng *rand.Rand, n int) detect.FindingRecord {
	r := detect.FindingRecord{ID: id, RuleID: "rule-" + id[:1], Account: "111122223333", EvidenceLimit: 5, ValuesLimit: 3}
	for range n {
		at := t0.Add(time.Duration(rng.IntN(10000)) * time.Second)
		ev := fmt.Sprintf("ev-%04d", rng.IntN(10000))
		r.Count++
		r.EvidenceTotal++
		r.Evidence = append(r.Evidence, detect.Stamp{Time: at, Value: ev})
		if r.FirstSeen.IsZero() || at.Before(r.FirstSeen) {
			r.FirstSeen = at
		}
		if at.After(r.LastSeen) {
			r.LastSeen = at
		}
		if rng.IntN(2) == 0 {
			if r.Counters == nil {
				r.Counters = map[string]int64{}
			}
			r.Counters["failed"]++
		}
		if r.Values == nil {
			r.Values = map[string][]detect.Stamp{}
		}
		r.Values["event_names"] = append(r.Values["event_names"], detect.Stamp{Time: at, Value: fmt.Sprintf("Name%d", rng.IntN(6))})
		body := fmt.Sprintf(`{"context":%q}`, ev)
		o := detect.Stamp{Time: at, Value: ev}
		if r.Body == nil || o.Time.Before(r.Origin.Time) || o.Time.Equal(r.Origin.Time) && o.Value < r.Origin.Value {
			r.Body, r.Origin = []byte(body), o
		}
	}
	return r
}

func testFindingsMerge(t *testing.T, newState New) {
	rng := rand.New(rand.NewPCG(7, 8))
	ids := []string{"a1", "b2", "c3"}
	var parts []detect.FindingRecord
	for range 30 {
		parts = append(parts, record(ids[rng.IntN(len(ids))], rng, 1+rng.IntN(4)))
	}
	want := map[string]detect.FindingRecord{}
	for _, p := range parts {
		p = p.Canonical()
		if w, ok := want[p.ID]; ok {
			want[p.ID] = detect.MergeFindingRecords(w, p)
		} else {
			want[p.ID] = p
		}
	}
	var wantList []detect.FindingRecord
	for _, id := range ids {
		wantList = append(wantList, want[id])
	}

	for round := range 3 {
		st := newState(t)(t)
		order := slices.Clone(parts)
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		var last map[string]detect.FindingRecord
		for lo := 0; lo < len(order); {
			hi := min(lo+1+rng.IntN(round*4+1), len(order))
			update(t, st, func(ctx context.Context, tx detect.Tx) error {
				got, err := tx.UpsertFindings(ctx, order[lo:hi])
				if err != nil {
					return err
				}
				if len(got) != hi-lo {
					return fmt.Errorf("UpsertFindings returned %d records for %d", len(got), hi-lo)
				}
				last = map[string]detect.FindingRecord{}
				for i, r := range got {
					if r.ID != detect.CanonicalKey(order[lo+i].ID) {
						return fmt.Errorf("result %d is %s, want %s", i, r.ID, order[lo+i].ID)
					}
					last[r.ID] = r
				}
				return nil
			})
			lo = hi
		}
		var got []detect.FindingRecord
		view(t, st, func(ctx context.Context, r detect.Reader) (err error) {
			got, err = r.Findings(ctx, append([]string{"missing", "c3"}, ids...))
			return err
		})
		diff(t, fmt.Sprintf("round %d findings", round), got, wantList)
		for id, r := range last {
			diff(t, fmt.Sprintf("round %d: last upsert's result for %s", round, id), r, want[id])
		}
	}
	for _, w := range wantList {
		if len(w.Evidence) != 5 || w.Evidence[0].Time.After(w.Evidence[4].Time) {
			t.Errorf("evidence not the 5 earliest in order: %+v", w.Evidence)
		}
	}

	st := newState(t)(t)
	err := st.Update(context.Background(), func(tx detect.Tx) error {
		_, err := tx.UpsertFindings(context.Background(), []detect.FindingRecord{{RuleID: "no id"}})
		return err
	})
	if err == nil {
		t.Error("a record without an id was accepted")
	}
}

func testFindingsList(t *testing.T, newState New) {
	st := newState(t)(t)
	var recs []detect.FindingRecord
	for i := range 25 {
		recs = append(recs, detect.FindingRecord{
			ID: fmt.Sprintf("id-%02d", (i*7)%25), RuleID: "r", Count: 1,
			FirstSeen: t0, LastSeen: t0.Add(time.Duration(i) * time.Minute),
			Body: []byte(`{"n":` + strconv.Itoa(i) + `}`), Origin: detect.Stamp{Time: t0, Value: "e"},
		})
	}
	update(t, st, func(ctx context.Context, tx detect.Tx) error {
		_, err := tx.UpsertFindings(ctx, recs)
		return err
	})
	var pages [][]string
	after := ""
	for {
		var page []detect.FindingRecord
		view(t, st, func(ctx context.Context, r detect.Reader) (err error) {
			page, err = r.ListFindings(ctx, after, 10)
			return err
		})
		if len(page) == 0 {
			break
		}
		var ids []string
		for _, r := range page {
			ids = append(ids, r.ID)
		}
		pages = append(pages, ids)
		after = page[len(page)-1].ID
	}
	if len(pages) != 3 || len(pages[0]) != 10 || len(pages[2]) != 5 || pages[0][0] != "id-00" || pages[2][4] != "id-24" {
		t.Errorf("pages: %v", pages)
	}
	var none []detect.FindingRecord
	view(t, st, func(ctx context.Context, r detect.Reader) (err error) {
		none, err = r.ListFindings(ctx, "", 0)
		return err
	})
	if len(none) != 0 {
		t.Errorf("limit 0 returned %d", len(none))
	}
}

var errAbort = errors.New("abort")

func testCheckpointsAtomic(t *testing.T, newState New) {
	st := newState(t)(t)
	ctx := context.Background()
	rec := detect.FindingRecord{ID: "f1", RuleID: "r", Count: 2, FirstSeen: t0, LastSeen: t0}
	cp := detect.Checkpoint{Key: "s3:bucket/AWSLogs/", Value: "AWSLogs/111/CloudTrail/us-east-1/2026/03/01/x.json.gz", Time: t0}
	state := func() (int, int) {
		var f []detect.FindingRecord
		var c []detect.Checkpoint
		view(t, st, func(ctx context.Context, r detect.Reader) (err error) {
			if f, err = r.Findings(ctx, []string{"f1"}); err != nil {
				return err
			}
			c, err = r.Checkpoints(ctx, []string{cp.Key, "other"})
			return err
		})
		if len(c) == 1 && c[0] != cp.Canonical() {
			t.Errorf("checkpoint = %+v", c[0])
		}
		return len(f), len(c)
	}
	write := func(tx detect.Tx) error {
		if _, err := tx.UpsertFindings(ctx, []detect.FindingRecord{rec}); err != nil {
			return err
		}
		if err := tx.SetCheckpoints(ctx, []detect.Checkpoint{cp}); err != nil {
			return err
		}
		// The transaction sees its own writes.
		c, err := tx.Checkpoints(ctx, []string{cp.Key})
		if err != nil || len(c) != 1 {
			return fmt.Errorf("own checkpoint: %v %v", c, err)
		}
		f, err := tx.Findings(ctx, []string{rec.ID})
		if err != nil || len(f) != 1 {
			return fmt.Errorf("own finding: %v %v", f, err)
		}
		return nil
	}

	// fn fails after writing both: neither is kept.
	err := st.Update(ctx, func(tx detect.Tx) error {
		if err := write(tx); err != nil {
			return err
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("Update = %v, want the function's error", err)
	}
	if f, c := state(); f != 0 || c != 0 {
		t.Fatalf("after a failed Update: %d findings, %d checkpoints", f, c)
	}

	// fn panics: neither is kept, and the panic goes on.
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic did not reach the caller")
			}
		}()
		st.Update(ctx, func(tx detect.Tx) error {
			if err := write(tx); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	if f, c := state(); f != 0 || c != 0 {
		t.Fatalf("after a panicking Update: %d findings, %d checkpoints", f, c)
	}

	// The context ends while fn runs: neither is kept.
	cctx, cancel := context.WithCancel(ctx)
	err = st.Update(cctx, func(tx detect.Tx) error {
		if err := write(tx); err != nil {
			return err
		}
		cancel()
		return nil
	})
	if err == nil {
		t.Error("Update with a context cancelled during fn succeeded")
	}
	if f, c := state(); f != 0 || c != 0 {
		t.Fatalf("after a cancelled Update: %d findings, %d checkpoints", f, c)
	}

	// Success: both.
	if err := st.Update(ctx, write); err != nil {
		t.Fatal(err)
	}
	if f, c := state(); f != 1 || c != 1 {
		t.Fatalf("after a committed Update: %d findings, %d checkpoints", f, c)
	}

	// Overwrite, and the last of a key in one call wins.
	update(t, st, func(ctx context.Context, tx detect.Tx) error {
		return tx.SetCheckpoints(ctx, []detect.Checkpoint{{Key: "k", Value: "1"}, {Key: "k", Value: "2"}, {Key: cp.Key, Value: "next", Time: t0.Add(time.Hour)}})
	})
	var c []detect.Checkpoint
	view(t, st, func(ctx context.Context, r detect.Reader) (err error) {
		c, err = r.Checkpoints(ctx, []string{"k", cp.Key, "k"})
		return err
	})
	diff(t, "checkpoints", c, []detect.Checkpoint{{Key: "k", Value: "2"}, {Key: cp.Key, Value: "next", Time: t0.Add(time.Hour)}})
}

func testEvict(t *testing.T, newState New) {
	st := newState(t)(t)
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	var occ []detect.Occurrence
	for h := range 10 {
		occ = append(occ, detect.Occurrence{Stream: "s", Group: "g" + strconv.Itoa(h%2), Time: at(h), EventID: "e" + strconv.Itoa(h)})
	}
	update(t, st, func(ctx context.Context, tx detect.Tx) error {
		if _, err := tx.AddOccurrences(ctx, occ); err != nil {
			return err
		}
		if err := tx.Observe(ctx, []detect.Observation{
			{Kind: "api", Scope: "p", Value: "old", Time: at(0), EventID: "e0"},
			{Kind: "api", Scope: "p", Value: "recent", Time: at(0), EventID: "e0"},
			{Kind: "api", Scope: "p", Value: "recent", Time: at(8), EventID: "e8"},
		}); err != nil {
			return err
		}
		if _, err := tx.UpsertFindings(ctx, []detect.FindingRecord{
			{ID: "old", Count: 1, FirstSeen: at(0), LastSeen: at(1)},
			{ID: "recent", Count: 1, FirstSeen: at(0), LastSeen: at(9)},
			{ID: "timeless", Count: 1},
		}); err != nil {
			return err
		}
		return tx.SetCheckpoints(ctx, []detect.Checkpoint{
			{Key: "done:old", Value: "x", Time: at(1)},
			{Key: "done:recent", Value: "x", Time: at(9)},
			{Key: "cursor", Value: "x"},
		})
	})
	// Nothing to evict with zero cutoffs.
	var n detect.Evicted
	update(t, st, func(ctx context.Context, tx detect.Tx) (err error) {
		n, err = tx.Evict(ctx, detect.Retention{})
		return err
	})
	diff(t, "zero retention", n, detect.Evicted{})

	// A failed Update's eviction is undone.
	st.Update(context.Background(), func(tx detect.Tx) error {
		if _, err := tx.Evict(context.Background(), detect.Retention{Occurrences: at(100), Observations: at(100), Findings: at(100), Checkpoints: at(100)}); err != nil {
			return err
		}
		return errAbort
	})
	if got := occurrences(t, st, detect.OccurrenceRange{Stream: "s", Group: "g0"}, detect.OccurrenceRange{Stream: "s", Group: "g1"}); len(got) != 10 {
		t.Fatalf("after a failed eviction: %d occurrences", len(got))
	}

	update(t, st, func(ctx context.Context, tx detect.Tx) (err error) {
		n, err = tx.Evict(ctx, detect.Retention{Occurrences: at(5), Observations: at(5), Findings: at(5), Checkpoints: at(5)})
		return err
	})
	diff(t, "evicted", n, detect.Evicted{Occurrences: 5, Observations: 1, Findings: 1, Checkpoints: 1})
	got := occurrences(t, st, detect.OccurrenceRange{Stream: "s", Group: "g0"}, detect.OccurrenceRange{Stream: "s", Group: "g1"})
	diff(t, "occurrences left", got, model(occ[5:], detect.OccurrenceRange{Stream: "s", Group: "g0"}, detect.OccurrenceRange{Stream: "s", Group: "g1"}))
	view(t, st, func(ctx context.Context, r detect.Reader) error {
		b, err := r.Baselines(ctx, []detect.BaselineKey{{Kind: "api", Scope: "p"}})
		if err != nil {
			return err
		}
		if len(b) != 1 || b[0].Value != "recent" {
			t.Errorf("baselines left: %+v", b)
		}
		f, err := r.Findings(ctx, []string{"old", "recent", "timeless"})
		if err != nil {
			return err
		}
		if len(f) != 2 || f[0].ID != "recent" || f[1].ID != "timeless" {
			t.Errorf("findings left: %+v", f)
		}
		c, err := r.Checkpoints(ctx, []string{"done:old", "done:recent", "cursor"})
		if err != nil {
			return err
		}
		if len(c) != 2 || c[0].Key != "cursor" || c[1].Key != "done:recent" {
			t.Errorf("checkpoints left: %+v", c)
		}
		return nil
	})
	// An evicted occurrence delivered again is new again.
	diff(t, "re-add evicted", addOccurrences(t, st, occ[:6]), []bool{true, true, true, true, true, false})
}

// testConcurrentWriters runs writers on two handles at once. Updates are
// serialized, so read-increment-write never loses an increment, and each
// occurrence is fresh for exactly one writer.
func testConcurrentWriters(t *testing.T, newState New) {
	open := newState(t)
	handles := []detect.State{open(t), open(t)}
	const writers, rounds = 4, 15
	var mu sync.Mutex
	freshCount := map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := handles[w%len(handles)]
			ctx := context.Background()
			for i := range rounds {
				var fresh []bool
				var batch []detect.Occurrence
				for j := range 10 { // every writer adds the same occurrences
					batch = append(batch, detect.Occurrence{Stream: "s", Group: "g", Time: t0.Add(time.Duration(i) * time.Minute), EventID: fmt.Sprintf("e%d-%d", i, j)})
				}
				err := st.Update(ctx, func(tx detect.Tx) error {
					c, err := tx.Checkpoints(ctx, []string{"counter"})
					if err != nil {
						return err
					}
					n := 0
					if len(c) == 1 {
						n, _ = strconv.Atoi(c[0].Value)
					}
					if fresh, err = tx.AddOccurrences(ctx, batch); err != nil {
						return err
					}
					if _, err := tx.UpsertFindings(ctx, []detect.FindingRecord{{ID: "f", Count: 1}}); err != nil {
						return err
					}
					return tx.SetCheckpoints(ctx, []detect.Checkpoint{{Key: "counter", Value: strconv.Itoa(n + 1)}})
				})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for j, f := range fresh {
					if f {
						freshCount[batch[j].EventID]++
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	view(t, handles[0], func(ctx context.Context, r detect.Reader) error {
		c, err := r.Checkpoints(ctx, []string{"counter"})
		if err != nil {
			return err
		}
		if want := strconv.Itoa(writers * rounds); len(c) != 1 || c[0].Value != want {
			t.Errorf("counter = %+v, want %s: an increment was lost", c, want)
		}
		f, err := r.Findings(ctx, []string{"f"})
		if err != nil {
			return err
		}
		if len(f) != 1 || f[0].Count != writers*rounds {
			t.Errorf("finding = %+v, want count %d", f, writers*rounds)
		}
		return nil
	})
	if len(freshCount) != rounds*10 {
		t.Errorf("%d occurrences were fresh for some writer, want %d", len(freshCount), rounds*10)
	}
	for id, n := range freshCount {
		if n != 1 {
			t.Errorf("occurrence %s was fresh for %d writers", id, n)
		}
	}
}

func testViewAndLifetime(t *testing.T, newState New) {
	open := newState(t)
	st, other := open(t), open(t)
	ctx := context.Background()
	var kept detect.Tx
	update(t, st, func(ctx context.Context, tx detect.Tx) error {
		kept = tx
		_, err := tx.AddOccurrences(ctx, []detect.Occurrence{{Stream: "s", Group: "g", Time: t0, EventID: "e"}})
		return err
	})
	// Another handle sees the commit.
	if got := occurrences(t, other, detect.OccurrenceRange{Stream: "s", Group: "g"}); len(got) != 1 {
		t.Errorf("other handle sees %d occurrences", len(got))
	}
	if _, err := kept.AddOccurrences(ctx, []detect.Occurrence{{Stream: "s", Group: "g", Time: t0, EventID: "late"}}); err == nil {
		t.Error("a Tx used after its Update returned accepted a write")
	}
	if _, err := kept.Occurrences(ctx, []detect.OccurrenceRange{{Stream: "s", Group: "g"}}); err == nil {
		t.Error("a Tx used after its Update returned answered a read")
	}
	// A View cannot write, even through a type assertion.
	err := st.View(ctx, func(r detect.Reader) error {
		if tx, ok := r.(detect.Tx); ok {
			if _, err := tx.AddOccurrences(ctx, []detect.Occurrence{{Stream: "s", Group: "g", Time: t0, EventID: "sneaky"}}); err == nil {
				return errors.New("a View wrote")
			}
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	if got := occurrences(t, st, detect.OccurrenceRange{Stream: "s", Group: "g"}); len(got) != 1 {
		t.Errorf("%d occurrences, want 1", len(got))
	}
	// A View's error is returned as is.
	if err := st.View(ctx, func(detect.Reader) error { return errAbort }); !errors.Is(err, errAbort) {
		t.Errorf("View = %v", err)
	}
	// An ended context is refused.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := st.Update(cctx, func(detect.Tx) error { return nil }); err == nil {
		t.Error("Update with an ended context succeeded")
	}
}

// BenchmarkOccurrences measures batched occurrence inserts: each iteration
// adds one batch of batchSize new occurrences in one Update, as a scan adds
// those of a batch of events. It reports rows/s.
func BenchmarkOccurrences(b *testing.B, newState New, batchSize int) {
	st := newState(b)(b)
	ctx := context.Background()
	batch := make([]detect.Occurrence, batchSize)
	rows := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range batch {
			n := i*batchSize + j
			batch[j] = detect.Occurrence{
				Stream:  "corr-" + strconv.Itoa(n%7),
				Group:   "arn:aws:sts::111122223333:assumed-role/role-" + strconv.Itoa(n%500) + "/session",
				Time:    t0.Add(time.Duration(n) * 10 * time.Millisecond),
				EventID: fmt.Sprintf("%08x-1111-2222-3333-%012x", n, n),
				Value:   "iam:ListUsers",
			}
		}
		err := st.Update(ctx, func(tx detect.Tx) error {
			_, err := tx.AddOccurrences(ctx, batch)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		rows += batchSize
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkObserve measures batched baseline upserts, half of them for
// values already seen.
func BenchmarkObserve(b *testing.B, newState New, batchSize int) {
	st := newState(b)(b)
	ctx := context.Background()
	batch := make([]detect.Observation, batchSize)
	rows := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range batch {
			n := i*batchSize + j
			batch[j] = detect.Observation{
				Kind:    "api",
				Scope:   "principal:arn:aws:iam::111122223333:user/u" + strconv.Itoa(n%1000),
				Value:   "svc:Action" + strconv.Itoa((n/2)%(batchSize*b.N/4+1)),
				Time:    t0.Add(time.Duration(n) * 10 * time.Millisecond),
				EventID: fmt.Sprintf("%08x-1111-2222-3333-%012x", n, n),
			}
		}
		err := st.Update(ctx, func(tx detect.Tx) error {
			err := tx.Observe(ctx, batch)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		rows += batchSize
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

// An observation that stands for several sightings (Count, and its Last
// sighting) merges as they would one by one: the earliest first, the
// latest last, the counts summed.
func testBaselinesMergedSightings(t *testing.T, newState New) {
	st := newState(t)(t)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	k := detect.Observation{Kind: "api", Scope: "principal:arn:aws:iam::111122223333:user/alice", Value: "iam:ListUsers"}
	merged, single := k, k
	merged.Time, merged.EventID, merged.Count, merged.Last = at(10), "e10", 3, detect.Sighting{Time: at(30), EventID: "e30"}
	single.Time, single.EventID = at(20), "e20"
	update(t, st, func(ctx context.Context, tx detect.Tx) error {
		err := tx.Observe(ctx, []detect.Observation{merged})
		return err
	})
	var got []detect.Baseline
	update(t, st, func(ctx context.Context, tx detect.Tx) (err error) {
		if err := tx.Observe(ctx, []detect.Observation{single}); err != nil {
			return err
		}
		got, err = tx.Baselines(ctx, []detect.BaselineKey{k.Key()})
		return err
	})
	want := detect.Baseline{BaselineKey: k.Key(), First: detect.Sighting{Time: at(10), EventID: "e10"}, Last: detect.Sighting{Time: at(30), EventID: "e30"}, Count: 4}
	if len(got) != 1 {
		t.Fatalf("%d baselines", len(got))
	}
	diff(t, "merged sightings", got[0], want)
}
