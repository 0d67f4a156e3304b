package integrity_test

import (
	"context"
	"testing"
	"time"

	"github.com/trailsentry/trailsentry/internal/integrity"
	"github.com/trailsentry/trailsentry/internal/integrity/integritytest"
)

// thirtyDays is the bar's trail: 720 hourly digests and their log files, 12 a
// hour (CloudTrail's usual five-minute cadence) of 25 events each.
var thirtyDays = integritytest.Options{Hours: 720, LogsPerHour: 12, RecordsPerLog: 25}

// thirtyDayBar is how long verifying thirty days may take.
const thirtyDayBar = 5 * time.Second

// TestVerifyThirtyDays verifies a valid 30-day chain from scratch (walk, read,
// hash, check signatures) and holds it to the bar.
func TestVerifyThirtyDays(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 30-day trail")
	}
	tr := writeTrail(t, thirtyDays)
	start := time.Now()
	rep := verify(t, tr)
	elapsed := time.Since(start)
	wantProblems(t, rep)
	if rep.Digests != 720 || rep.SignaturesValid != 720 || rep.LogsValid != 720*12 || rep.LogsLocal != 720*12 {
		t.Errorf("digests %d, signatures verified %d, logs verified %d of %d", rep.Digests, rep.SignaturesValid, rep.LogsValid, rep.LogsLocal)
	}
	t.Logf("30 days: %d digests, %d log files verified in %s", rep.Digests, rep.LogsValid, elapsed.Round(time.Millisecond))
	if elapsed > thirtyDayBar && !raceEnabled {
		t.Errorf("verifying 30 days took %s, over the bar of %s", elapsed, thirtyDayBar)
	}
}

// BenchmarkVerifyThirtyDays times Collect and Verify of a valid 30-day chain.
func BenchmarkVerifyThirtyDays(b *testing.B) {
	o := thirtyDays
	o.Key = cloudTrailKey()
	tr, err := integritytest.Write(b.TempDir(), o)
	if err != nil {
		b.Fatal(err)
	}
	keys, err := integrity.LoadPublicKeys(tr.PublicKeyFile)
	if err != nil {
		b.Fatal(err)
	}
	ks := integrity.KeySet{}
	ks.Add(keys...)
	sigs, err := integrity.LoadSignatures(tr.SignaturesFile)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		inv, err := integrity.Collect(ctx, []string{tr.Dir})
		if err != nil {
			b.Fatal(err)
		}
		rep, err := integrity.Verify(ctx, inv, integrity.Options{Keys: ks, Signatures: sigs})
		if err != nil {
			b.Fatal(err)
		}
		if len(rep.Problems) != 0 || rep.SignaturesValid != 720 {
			b.Fatalf("problems %d, signatures verified %d", len(rep.Problems), rep.SignaturesValid)
		}
	}
}
