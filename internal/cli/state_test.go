package cli

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trailsentry/trailsentry/internal/corpus"
	"github.com/trailsentry/trailsentry/internal/detect"
	"github.com/trailsentry/trailsentry/internal/store"
)

// allFindings reads every finding a state holds — stored, and profile
// findings derived from its baselines — as JSON lines in order.
func allFindings(t *testing.T, dsn string) []string {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	all, err := stateFindings(ctx, st, detect.DefaultLearning, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range all {
		b, _ := json.Marshal(f)
		out = append(out, string(b))
	}
	return out
}

// A 30-day corpus scanned once into one state, and in shuffled order by ten
// invocations into another, leaves the same findings — correlations and
// profile findings included; a file already in the state is not counted
// twice.
func TestScanStateOneBatchEqualsShuffledInvocations(t *testing.T) {
	dir := t.TempDir()
	const nfiles = 60
	if _, err := corpus.Generate(context.Background(), corpus.Options{Dir: dir, Events: 12000, Files: nfiles, Seed: 7,
		Start: time.Date(2024, 3, 11, 0, 0, 0, 0, time.UTC), Span: 30 * 24 * time.Hour}, nil); err != nil {
		t.Fatal(err)
	}
	var files []string
	filepath.WalkDir(filepath.Join(dir, "AWSLogs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != nfiles {
		t.Fatalf("%d files", len(files))
	}

	batch := filepath.Join(t.TempDir(), "batch.db")
	if res := run(t, "", "scan", "--format", "json", "--state", batch, filepath.Join(dir, "AWSLogs")); res.code == ExitUsage {
		t.Fatalf("batch scan: %s", res.stderr)
	}

	pieces := filepath.Join(t.TempDir(), "pieces.db")
	rng := rand.New(rand.NewPCG(3, 4))
	rng.Shuffle(len(files), func(i, j int) { files[i], files[j] = files[j], files[i] })
	for i := 0; i < len(files); i += nfiles / 10 {
		args := append([]string{"scan", "--format", "json", "--state", pieces}, files[i:min(i+nfiles/10, len(files))]...)
		if res := run(t, "", args...); res.code == ExitUsage {
			t.Fatalf("piece %d: %s", i, res.stderr)
		}
	}
	// Again, whole: every file is in the state already, nothing changes.
	again := run(t, "", "scan", "--format", "json", "--state", pieces, filepath.Join(dir, "AWSLogs"))
	rep := parseReport(t, again.stdout)
	if rep.Summary.FilesSkipped["already_in_state"] != nfiles || rep.Summary.EventsDecoded != 0 || len(rep.Findings) != 0 {
		t.Errorf("rescan: %+v, %d findings", rep.Summary, len(rep.Findings))
	}

	want, got := allFindings(t, batch), allFindings(t, pieces)
	if len(want) < 10 {
		t.Fatalf("only %d findings in the batch state", len(want))
	}
	all := strings.Join(want, "\n")
	for _, kind := range []string{`"rarity":"`, `"correlated_values"`, `"actor_risk"`} {
		if !strings.Contains(all, kind) {
			t.Errorf("no finding has %s: the comparison does not cover it", kind)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d findings from the pieces, %d from one batch", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("finding %d differs:\n batch  %s\n pieces %s", i, want[i], got[i])
			break
		}
	}
	// What a run prints with --state is the state's merged view: the last
	// piece's findings count events of earlier pieces too.
	if !strings.Contains(strings.Join(want, "\n"), `"count"`) {
		t.Error("no counts")
	}
}

func TestScanStateBadDSN(t *testing.T) {
	res := run(t, "", "scan", "--state", "postgres://nobody@127.0.0.1:1/none?connect_timeout=1", trailDir(t))
	if res.code != ExitUsage || !strings.Contains(res.stderr, "--state") {
		t.Errorf("exit %d: %s", res.code, res.stderr)
	}
}
