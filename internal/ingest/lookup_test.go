package ingest

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"

	"github.com/trailsentry/trailsentry/internal/ingest/lookuptest"
)

// lookupEvents makes n events in a region, one every step back from last,
// with CloudTrail-shaped records.
func lookupEvents(prefix, region string, n int, last time.Time, step time.Duration) []lookuptest.Event {
	var evs []lookuptest.Event
	for i := range n {
		at := last.Add(-time.Duration(i) * step).UTC().Truncate(time.Second)
		id := fmt.Sprintf("%s-%03d", prefix, i)
		rec := strings.NewReplacer(
			"3b9d2c1a-8e7f-4a6b-9c0d-1e2f3a4b5c6d", id,
			"2024-03-11T07:15:02Z", at.Format(time.RFC3339),
			`"awsRegion":"us-east-1"`, `"awsRegion":"`+region+`"`,
		).Replace(record)
		evs = append(evs, lookuptest.Event{ID: id, Name: "CreateAccessKey", Source: "iam.amazonaws.com", Time: at, Record: rec})
	}
	return evs
}

func newLookup(t *testing.T, srv *lookuptest.Server, store *checkpointStore, cfg LookupConfig) *Lookup {
	t.Helper()
	cfg.AWS = aws.Config{Credentials: srv.Options("us-east-1").Credentials}
	cfg.ClientOptions = []func(*cloudtrail.Options){func(o *cloudtrail.Options) { o.BaseEndpoint = aws.String(srv.URL) }}
	cfg.Checkpoints = store.load
	cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	l, err := NewLookup(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// drainIDs is drain for record batches: it returns the eventIDs handed out,
// in order, and the batches' sources.
func drainIDs(t *testing.T, src Source, store *checkpointStore, quiet time.Duration) (ids, sources []string) {
	t.Helper()
	for {
		b, err := nextWithin(t, src, quiet)
		if err != nil {
			return ids, sources
		}
		ids = append(ids, eventIDs(t, b)...)
		sources = append(sources, b.Source)
		store.commit(b.Checkpoint)
		if err := b.Ack(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}

// LookupEvents is paged to the end within each window, never above two
// requests per second per region (measured at the server), each region with
// its own cursor; events come out oldest first, each once — a later lookup
// overlapping the last finds only the late events — and a restarted source
// hands out nothing it committed.
func TestLookupPagesRateLimitsAndDedups(t *testing.T) {
	srv := lookuptest.Start(t)
	now := time.Now().UTC()
	srv.Add("us-east-1", lookupEvents("use1", "us-east-1", 230, now.Add(-time.Minute), 5*time.Second)...)
	srv.Add("eu-west-1", lookupEvents("euw1", "eu-west-1", 60, now.Add(-2*time.Minute), 10*time.Second)...)
	store := &checkpointStore{}
	cfg := LookupConfig{
		Regions: []string{"us-east-1", "eu-west-1"}, Account: "111122223333",
		Interval: 200 * time.Millisecond, Overlap: 10 * time.Minute, Window: 4 * time.Hour,
		Since: now.Add(-time.Hour),
	}
	src := newLookup(t, srv, store, cfg)
	ids, sources := drainIDs(t, src, store, 4*time.Second)

	var want []string
	for i := 229; i >= 0; i-- {
		want = append(want, fmt.Sprintf("use1-%03d", i))
	}
	var gotUSE1 []string
	for _, id := range ids {
		if strings.HasPrefix(id, "use1") {
			gotUSE1 = append(gotUSE1, id)
		}
	}
	if !slices.Equal(gotUSE1, want) {
		t.Fatalf("us-east-1: %d events %v...; want all 230 once, oldest first", len(gotUSE1), gotUSE1[:min(5, len(gotUSE1))])
	}
	if len(ids) != 290 {
		t.Errorf("%d events in all, want 290", len(ids))
	}
	if !slices.Contains(sources, "lookup:eu-west-1") || !slices.Contains(sources, "lookup:us-east-1") {
		t.Errorf("batch sources %v", sources)
	}
	reqs := srv.Requests()
	pages := 0
	for _, r := range reqs {
		if r.Throttled {
			t.Errorf("a request was throttled at %v", r.At)
		}
		if r.Region == "us-east-1" && r.MaxResults == 50 && r.StartTime != nil && r.EndTime != nil {
			pages++
		}
		if r.StartTime == nil || r.EndTime == nil || r.MaxResults != 50 {
			t.Errorf("request %+v: want StartTime, EndTime and MaxResults 50", r)
		}
	}
	if pages < 5 {
		t.Errorf("%d us-east-1 requests, want the 5 pages of 230 events at least", pages)
	}
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		if n := lookuptest.MaxInWindow(reqs, region, time.Second); n > 2 {
			t.Errorf("%s: %d requests within one second, want at most 2", region, n)
		}
	}
	if first := reqs[0]; !first.StartTime.Equal(cfg.Since.Truncate(time.Microsecond)) && first.StartTime.Sub(cfg.Since).Abs() > time.Millisecond {
		t.Errorf("first StartTime %v, want Since %v", first.StartTime, cfg.Since)
	}
	cp := store.cps["lookup:111122223333:us-east-1"]
	if cp.Value == "" || !cp.Time.IsZero() {
		t.Fatalf("checkpoint %+v", cp)
	}

	// Late events: one whose time is a minute ago (before the cursor, within
	// the overlap), and a new one. Only these two come out.
	srv.Add("us-east-1",
		lookuptest.Event{ID: "late-1", Time: now.Add(-90 * time.Second).Truncate(time.Second), Record: recordWithID("late-1")},
		lookuptest.Event{ID: "new-1", Time: time.Now().UTC().Truncate(time.Second), Record: recordWithID("new-1")})
	time.Sleep(1100 * time.Millisecond) // the new event's second is past
	ids, _ = drainIDs(t, src, store, 2*time.Second)
	if !sameSet(ids, []string{"late-1", "new-1"}) {
		t.Fatalf("after late events: %v, want late-1 and new-1 only", ids)
	}

	src.Close()
	// A new source (a restarted process) starts with a fresh limiter: the
	// limit is one process's, so the test leaves a second between the two.
	time.Sleep(time.Second)
	src2 := newLookup(t, srv, store, cfg)
	if ids, _ := drainIDs(t, src2, store, 2*time.Second); len(ids) != 0 {
		t.Fatalf("a restarted source handed out %d events again: %v", len(ids), ids[:min(5, len(ids))])
	}
	if n := lookuptest.MaxInWindow(srv.Requests(), "us-east-1", time.Second); n > 2 {
		t.Errorf("%d requests within one second, want at most 2", n)
	}
}

// A long gap is caught up window by window, oldest first, each batch no
// wider than Window.
func TestLookupCatchesUpInWindows(t *testing.T) {
	srv := lookuptest.Start(t)
	now := time.Now().UTC()
	srv.Add("us-east-1", lookupEvents("gap", "us-east-1", 10, now.Add(-time.Minute), 50*time.Minute)...) // over ~8 hours
	store := &checkpointStore{}
	src := newLookup(t, srv, store, LookupConfig{
		Regions: []string{"us-east-1"}, Interval: time.Hour, Overlap: time.Minute, Window: 2 * time.Hour,
		Since: now.Add(-9 * time.Hour),
	})
	var batches [][]string
	for {
		b, err := nextWithin(t, src, 3*time.Second)
		if err != nil {
			break
		}
		batches = append(batches, eventIDs(t, b))
		store.commit(b.Checkpoint)
		b.Ack(t.Context())
	}
	var all []string
	for _, b := range batches {
		all = append(all, b...)
		if len(b) > 3 {
			t.Errorf("a batch of %d events from a 2-hour window; events are 50 minutes apart", len(b))
		}
	}
	want := []string{"gap-009", "gap-008", "gap-007", "gap-006", "gap-005", "gap-004", "gap-003", "gap-002", "gap-001", "gap-000"}
	if !slices.Equal(all, want) || len(batches) < 4 {
		t.Fatalf("batches %v, want %v over several windows", batches, want)
	}
	var spans []time.Duration
	for _, r := range srv.Requests() {
		spans = append(spans, r.EndTime.Sub(*r.StartTime))
	}
	for _, d := range spans {
		if d > 2*time.Hour+time.Minute {
			t.Errorf("a lookup spanning %v, want at most Window plus Overlap", d)
		}
	}
}

// testWriter sends log lines to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
