package detect_test

import (
	"testing"

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
