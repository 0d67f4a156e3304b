package detect

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"
)

// A failed Update leaves the memory state as it was, whatever mix of
// writes it made: observations then an eviction of what they touched,
// occurrences added then evicted.
func TestMemoryStateRollbackMixedWrites(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	st := NewMemoryState()
	seed := func(tx Tx) error {
		if err := tx.Observe(ctx, []Observation{{Kind: "api", Scope: "principal:a", Value: "iam:ListUsers", Time: at, EventID: "e1"}}); err != nil {
			return err
		}
		_, err := tx.AddOccurrences(ctx, []Occurrence{{Stream: "s", Group: "g", Time: at, EventID: "e1"}})
		return err
	}
	if err := st.Update(ctx, seed); err != nil {
		t.Fatal(err)
	}
	snapshot := func() ([]Baseline, []Occurrence) {
		var b []Baseline
		var o []Occurrence
		st.View(ctx, func(r Reader) error {
			b, _ = r.Baselines(ctx, []BaselineKey{{Kind: "api", Scope: "principal:a"}})
			o, _ = r.Occurrences(ctx, []OccurrenceRange{{Stream: "s", Group: "g"}})
			return nil
		})
		return b, o
	}
	wantB, wantO := snapshot()
	boom := errors.New("boom")
	err := st.Update(ctx, func(tx Tx) error {
		if err := tx.Observe(ctx, []Observation{{Kind: "api", Scope: "principal:a", Value: "iam:ListUsers", Time: at.Add(time.Hour), EventID: "e2"},
			{Kind: "api", Scope: "principal:a", Value: "iam:CreateUser", Time: at.Add(time.Hour), EventID: "e3"}}); err != nil {
			return err
		}
		if _, err := tx.AddOccurrences(ctx, []Occurrence{{Stream: "s", Group: "g", Time: at.Add(time.Minute), EventID: "e4"}}); err != nil {
			return err
		}
		if _, err := tx.Evict(ctx, Retention{Observations: at.Add(2 * time.Hour), Occurrences: at.Add(2 * time.Hour)}); err != nil {
			return err
		}
		if err := tx.Observe(ctx, []Observation{{Kind: "api", Scope: "principal:a", Value: "iam:ListUsers", Time: at.Add(3 * time.Hour), EventID: "e5"}}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update: %v", err)
	}
	gotB, gotO := snapshot()
	if !reflect.DeepEqual(gotB, wantB) || !reflect.DeepEqual(gotO, wantO) {
		t.Errorf("after rollback:\n baselines %+v\n want      %+v\n occurrences %+v\n want        %+v", gotB, wantB, gotO, wantO)
	}
}
