package detect_test

import (
	"context"
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
