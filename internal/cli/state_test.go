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
	"github.com/trailsentry/trailsentry/internal/finding"
	"github.com/trailsentry/trailsentry/internal/store"
)

// stateFindings reads every finding a state holds, as JSON lines in id order.
func stateFindings(t *testing.T, dsn string) []string {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out []string
	err = st.View(ctx, func(r detect.Reader) error {
		recs, err := r.ListFindings(ctx, "", 100000)
		for _, rec := range recs {
			f, ferr := finding.FromRecord(rec)
			if ferr != nil {
				return ferr
			}
			b, _ := json.Marshal(f)
			out = append(out, string(b))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A corpus scanned once into one state, and in shuffled pieces by several
// invocations into another, leaves the same findings; a file already in the
// state is not counted twice.
func TestScanStateOneBatchEqualsShuffledInvocations(t *testing.T) {
	dir := t.TempDir()
	if _, err := corpus.Generate(context.Background(), corpus.Options{Dir: dir, Events: 6000, Files: 24, Seed: 7, Start: time.Date(2024, 3, 11, 0, 0, 0, 0, time.UTC)}, nil); err != nil {
		t.Fatal(err)
	}
	var files []string
	filepath.WalkDir(filepath.Join(dir, "AWSLogs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 24 {
		t.Fatalf("%d files", len(files))
	}

	batch := filepath.Join(t.TempDir(), "batch.db")
	if res := run(t, "", "scan", "--format", "json", "--state", batch, filepath.Join(dir, "AWSLogs")); res.code == ExitUsage {
		t.Fatalf("batch scan: %s", res.stderr)
	}

	pieces := filepath.Join(t.TempDir(), "pieces.db")
	rng := rand.New(rand.NewPCG(3, 4))
	rng.Shuffle(len(files), func(i, j int) { files[i], files[j] = files[j], files[i] })
	for i := 0; i < len(files); i += 5 {
		args := append([]string{"scan", "--format", "json", "--state", pieces}, files[i:min(i+5, len(files))]...)
		if res := run(t, "", args...); res.code == ExitUsage {
			t.Fatalf("piece %d: %s", i, res.stderr)
		}
	}
	// Again, whole: every file is in the state already, nothing changes.
	again := run(t, "", "scan", "--format", "json", "--state", pieces, filepath.Join(dir, "AWSLogs"))
	rep := parseReport(t, again.stdout)
	if rep.Summary.FilesSkipped["already_in_state"] != 24 || rep.Summary.EventsDecoded != 0 || len(rep.Findings) != 0 {
		t.Errorf("rescan: %+v, %d findings", rep.Summary, len(rep.Findings))
	}

	want, got := stateFindings(t, batch), stateFindings(t, pieces)
	if len(want) < 10 {
		t.Fatalf("only %d findings in the batch state", len(want))
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
