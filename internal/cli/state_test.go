package cli

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
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

// --retention drops from the state what lies more than the retention before
// the newest event: old findings and the marks of old files go (a later scan
// reads those files again), recent ones stay.
func TestScanStateRetention(t *testing.T) {
	dir := t.TempDir()
	if _, err := corpus.Generate(context.Background(), corpus.Options{Dir: dir, Events: 4000, Files: 20, Seed: 3,
		Start: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), Span: 10 * 24 * time.Hour}, nil); err != nil {
		t.Fatal(err)
	}
	var files []string
	filepath.WalkDir(filepath.Join(dir, "AWSLogs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	// Oldest first: the corpus's file names carry their delivery time.
	stamp := func(p string) string { return strings.Split(filepath.Base(p), "_")[3] }
	slices.SortFunc(files, func(a, b string) int { return strings.Compare(stamp(a), stamp(b)) })
	db := filepath.Join(t.TempDir(), "state.db")
	if res := run(t, "", append([]string{"scan", "--format", "json", "--state", db}, files[:15]...)...); res.code == ExitUsage {
		t.Fatalf("scan: %s", res.stderr)
	}
	if len(allFindings(t, db)) == 0 {
		t.Fatal("no findings in the state")
	}
	res := run(t, "", append([]string{"scan", "--format", "json", "--state", db, "--retention", "2d"}, files[15:]...)...)
	if res.code == ExitUsage || !strings.Contains(res.stderr, "state retention applied") {
		t.Fatalf("retention scan: exit %d\n%s", res.code, res.stderr)
	}
	// The newest event is about day 10: nothing last seen before day 8
	// is left.
	cut := time.Date(2024, 3, 8, 0, 0, 0, 0, time.UTC)
	for _, line := range allFindings(t, db) {
		var f struct {
			LastSeen time.Time `json:"last_seen"`
			Rule     struct{ ID string }
		}
		json.Unmarshal([]byte(line), &f)
		if strings.HasPrefix(f.Rule.ID, "trailsentry-") {
			continue // profile findings: derived from the baselines that are left
		}
		if !f.LastSeen.IsZero() && f.LastSeen.Before(cut) {
			t.Errorf("finding of %s last seen %s survived a 2-day retention", f.Rule.ID, f.LastSeen)
		}
	}
	// The first files' marks went with their events: they are read again,
	// but their events are older than the state's retention horizon and are
	// left out, so nothing that survived is counted twice.
	kept := allFindings(t, db)
	res = run(t, "", append([]string{"scan", "--format", "json", "--state", db}, files...)...)
	again := parseReport(t, res.stdout)
	if skipped := again.Summary.FilesSkipped["already_in_state"]; skipped < 3 || skipped >= 20 || again.Summary.EventsDecoded == 0 {
		t.Errorf("after retention: %d files skipped as in the state, %d events decoded", skipped, again.Summary.EventsDecoded)
	}
	if again.Summary.EventsFiltered != again.Summary.EventsDecoded || !strings.Contains(res.stderr, "retention horizon") {
		t.Errorf("rescan of dropped files: %d of %d events left out\n%s", again.Summary.EventsFiltered, again.Summary.EventsDecoded, res.stderr)
	}
	if after := allFindings(t, db); !slices.Equal(after, kept) {
		t.Errorf("rescanning dropped files changed the state's findings: %d before, %d after", len(kept), len(after))
	}
	// An idle run prunes too: a 1-day retention from the newest event the
	// state has seen.
	idle := run(t, "", "scan", "--format", "json", "--state", db, "--retention", "1d", files[len(files)-1])
	if !strings.Contains(idle.stderr, "state retention applied") {
		t.Errorf("idle retention: %s", idle.stderr)
	}
	if bad := run(t, "", "scan", "--retention", "30d", files[0]); bad.code != ExitUsage || !strings.Contains(bad.stderr, "--retention needs --state") {
		t.Errorf("--retention without --state: exit %d %s", bad.code, bad.stderr)
	}
}
