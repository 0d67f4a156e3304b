package detect

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// eventRecord is one event's contribution to a finding.
func eventRecord(rng *rand.Rand, i int) FindingRecord {
	at := time.Date(2026, 3, 1, 0, 0, rng.IntN(600), 0, time.UTC)
	id := fmt.Sprintf("ev-%04d", i)
	r := FindingRecord{
		ID: "f", RuleID: "r", Account: "1", FirstSeen: at, LastSeen: at, Count: 1,
		Evidence: []Stamp{{at, id}}, EvidenceTotal: 1, EvidenceLimit: 7, ValuesLimit: 3,
		Values: map[string][]Stamp{"names": {{at, fmt.Sprintf("N%d", rng.IntN(9))}}},
		Body:   []byte(id), Origin: Stamp{at, id},
	}
	if rng.IntN(3) == 0 {
		r.Counters = map[string]int64{"failed": 1}
	}
	return r.Canonical()
}

// TestStateMergeFindingRecordsOrderFree checks that however a finding's
// events are split into contributions and in whatever order those are
// merged, the result is the same.
func TestStateMergeFindingRecordsOrderFree(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	var events []FindingRecord
	for i := range 200 {
		events = append(events, eventRecord(rng, i))
	}
	want := events[0]
	for _, e := range events[1:] {
		want = MergeFindingRecords(want, e)
	}
	if want.Count != 200 || len(want.Evidence) != 7 || len(want.Values["names"]) != 3 {
		t.Fatalf("merged: %+v", want)
	}
	for round := range 50 {
		perm := rng.Perm(len(events))
		var parts []FindingRecord
		for lo := 0; lo < len(perm); {
			hi := min(lo+1+rng.IntN(30), len(perm))
			p := events[perm[lo]]
			for _, i := range perm[lo+1 : hi] {
				p = MergeFindingRecords(p, events[i])
			}
			parts = append(parts, p)
			lo = hi
		}
		got := parts[len(parts)-1]
		for i := len(parts) - 2; i >= 0; i-- {
			got = MergeFindingRecords(parts[i], got)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d:\n got %+v\nwant %+v", round, got, want)
		}
	}
	// Merging with an empty record changes nothing.
	if got := MergeFindingRecords(FindingRecord{}, want); !reflect.DeepEqual(got, want) {
		t.Errorf("merge with empty:\n got %+v\nwant %+v", got, want)
	}
	if got := MergeFindingRecords(want, FindingRecord{}); !reflect.DeepEqual(got, want) {
		t.Errorf("merge with empty (right):\n got %+v\nwant %+v", got, want)
	}
}

func TestStateCanonical(t *testing.T) {
	if !CanonicalTime(time.Time{}).IsZero() {
		t.Error("zero time not kept zero")
	}
	long := strings.Repeat("ü", MaxKeyLen) // 2*MaxKeyLen bytes
	for _, s := range []string{long, long + "x", strings.Repeat("a", MaxKeyLen+1), "\xff" + long} {
		c := CanonicalKey(s)
		if len(c) > MaxKeyLen || !utf8.ValidString(c) {
			t.Errorf("CanonicalKey(%d bytes) = %d bytes, valid %v", len(s), len(c), utf8.ValidString(c))
		}
		if CanonicalKey(c) != c {
			t.Errorf("CanonicalKey is not idempotent on %q", c)
		}
	}
	if CanonicalKey(long) == CanonicalKey(long+"x") {
		t.Error("distinct long keys collide")
	}
	if s := strings.Repeat("a", MaxKeyLen); CanonicalKey(s) != s {
		t.Error("a key of MaxKeyLen bytes was changed")
	}
	if got := CanonicalText("a\x00b\xc3"); got != "a\uFFFDb\uFFFD" {
		t.Errorf("CanonicalText = %q", got)
	}
	r := FindingRecord{ID: "x", Counters: map[string]int64{"zero": 0}, Values: map[string][]Stamp{"empty": {{Value: ""}}}}.Canonical()
	if r.Counters != nil || r.Values != nil || r.Evidence != nil {
		t.Errorf("empty parts not dropped: %+v", r)
	}
}
