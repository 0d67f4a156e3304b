package detect_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/trailsentry/trailsentry/internal/detect"
	"github.com/trailsentry/trailsentry/internal/store/storetest"
)

// memoryState gives every test a fresh MemoryState; its "handles" are the
// same value, which is how goroutines share one.
func memoryState(testing.TB) func(testing.TB) detect.State {
	st := detect.NewMemoryState()
	return func(testing.TB) detect.State { return st }
}

func TestStateMemory(t *testing.T) { storetest.Run(t, memoryState) }

func BenchmarkStateMemoryOccurrences(b *testing.B) {
	storetest.BenchmarkOccurrences(b, memoryState, 10000)
}

func BenchmarkStateMemoryObserve(b *testing.B) {
	storetest.BenchmarkObserve(b, memoryState, 10000)
}

// An Observe call that fails writes nothing, even when the transaction
// goes on and commits.
func TestStateMemoryObserveAllOrNothing(t *testing.T) {
	ctx := context.Background()
	st := detect.NewMemoryState()
	t0 := time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC)
	good := detect.Observation{Kind: "api", Scope: "principal:arn:aws:iam::123456789012:user/alice", Value: "s3:GetObject", Time: t0, EventID: "e1"}
	err := st.Update(ctx, func(tx detect.Tx) error {
		if err := tx.Observe(ctx, []detect.Observation{good}); err != nil {
			return err
		}
		if err := tx.Observe(ctx, []detect.Observation{good, {Kind: "api", Scope: good.Scope, Time: t0}}); err == nil {
			t.Error("an observation without a value: no error")
		}
		return nil // the caller goes on: the first call stays, the second is undone
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []detect.Baseline
	st.View(ctx, func(r detect.Reader) (err error) {
		got, err = r.Baselines(ctx, []detect.BaselineKey{good.Key()})
		return err
	})
	if len(got) != 1 || got[0].Count != 1 {
		t.Errorf("baselines %+v, want s3:GetObject counted once", got)
	}
}

// A scope with many values (every principal is a value of one) finds them
// through an index: it stays right as values come and go.
func TestStateMemoryLargeScope(t *testing.T) {
	ctx := context.Background()
	st := detect.NewMemoryState()
	t0 := time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC)
	var obs []detect.Observation
	for i := range 50 {
		obs = append(obs, detect.Observation{Kind: "active", Scope: "principals", Value: fmt.Sprintf("arn:aws:iam::123456789012:user/u%02d", i),
			Time: t0.Add(time.Duration(i) * time.Minute), EventID: fmt.Sprintf("e%02d", i)})
	}
	if err := st.Update(ctx, func(tx detect.Tx) error { return tx.Observe(ctx, obs) }); err != nil {
		t.Fatal(err)
	}
	values := func() []string {
		var out []string
		st.View(ctx, func(r detect.Reader) error {
			got, err := r.Baselines(ctx, []detect.BaselineKey{{Kind: "active", Scope: "principals"}})
			for _, b := range got {
				out = append(out, b.Value)
			}
			return err
		})
		return out
	}
	count := func(v string) int64 {
		var n int64
		st.View(ctx, func(r detect.Reader) error {
			got, err := r.Baselines(ctx, []detect.BaselineKey{{Kind: "active", Scope: "principals", Value: v}})
			if len(got) == 1 {
				n = got[0].Count
			}
			return err
		})
		return n
	}
	// Every other one goes; the rest are still found, and counted on.
	dropped := st.DropBaselines(func(b detect.Baseline) bool { return b.First.EventID[2]%2 == 1 })
	if got := values(); dropped != 25 || len(got) != 25 || st.BaselineCount() != 25 || got[0] != "arn:aws:iam::123456789012:user/u00" {
		t.Fatalf("dropped %d, left %d (%v)", dropped, st.BaselineCount(), got)
	}
	if err := st.Update(ctx, func(tx detect.Tx) error { return tx.Observe(ctx, obs[:4]) }); err != nil {
		t.Fatal(err)
	}
	// u02 was kept and counts twice; u01 and u03 went and start again.
	if count(obs[2].Value) != 2 || count(obs[1].Value) != 1 || count(obs[3].Value) != 1 || st.BaselineCount() != 27 {
		t.Errorf("after a second observation: u02 %d, u01 %d, u03 %d, %d baselines", count(obs[2].Value), count(obs[1].Value), count(obs[3].Value), st.BaselineCount())
	}
	// Down to a few: found without the index.
	st.DropBaselines(func(b detect.Baseline) bool { return b.Value > "arn:aws:iam::123456789012:user/u04" })
	if got := values(); len(got) != 5 || count(obs[4].Value) != 1 || count(obs[3].Value) != 1 {
		t.Errorf("left %v", got)
	}
}
