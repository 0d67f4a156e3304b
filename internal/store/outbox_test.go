package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trailsentry/trailsentry/internal/detect"
)

// The outbox conformance suite: the same tests against SQLite and, when
// TRAILSENTRY_TEST_POSTGRES is set, PostgreSQL. open returns a new handle on
// one database, as another worker would open it.

func TestOutboxSQLite(t *testing.T) {
	testOutbox(t, func(t *testing.T) func() Store {
		path := filepath.Join(t.TempDir(), "state.db")
		return func() Store { return openT(t, path) }
	})
}

func TestOutboxPostgres(t *testing.T) {
	postgresDSN(t)
	testOutbox(t, func(t *testing.T) func() Store {
		dsn := postgresSchema(t)
		return func() Store { return openT(t, dsn) }
	})
}

func testOutbox(t *testing.T, database func(*testing.T) func() Store) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, func() Store)
	}{
		{"EnqueueWithFindings", testOutboxEnqueue},
		{"Claim", testOutboxClaim},
		{"Complete", testOutboxComplete},
		{"Workers", testOutboxWorkers},
		{"Purge", testOutboxPurge},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, database(t)) })
	}
}

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func entry(sink, id string, rev int64) OutboxEntry {
	return OutboxEntry{Sink: sink, FindingID: id, Revision: rev, Payload: []byte(`{"id":"` + id + `"}`)}
}

func enqueue(t *testing.T, st Store, now time.Time, entries ...OutboxEntry) int {
	t.Helper()
	var n int
	err := st.Update(context.Background(), func(tx detect.Tx) (err error) {
		n, err = st.Enqueue(context.Background(), tx, now, entries)
		return err
	})
	if err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	return n
}

func list(t *testing.T, st Store, state OutboxState) []OutboxMessage {
	t.Helper()
	l, err := st.ListOutbox(context.Background(), state, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func claim(t *testing.T, st Store, sink, owner string, now time.Time, limit int) []OutboxMessage {
	t.Helper()
	m, err := st.ClaimOutbox(context.Background(), sink, owner, now, time.Minute, limit)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func ids(l []OutboxMessage) string {
	var s []string
	for _, m := range l {
		s = append(s, fmt.Sprintf("%s/%s/%d", m.Sink, m.FindingID, m.Revision))
	}
	return strings.Join(s, " ")
}

// Rows commit with the findings or not at all, and a (sink, finding,
// revision) is enqueued once however often the work is redone.
func testOutboxEnqueue(t *testing.T, open func() Store) {
	st := open()
	ctx := context.Background()
	rec := detect.FindingRecord{ID: "f1", RuleID: "r1", Account: "111122223333", FirstSeen: t0, LastSeen: t0, Count: 1}
	process := func(fail error) error {
		return st.Update(ctx, func(tx detect.Tx) error {
			if _, err := tx.UpsertFindings(ctx, []detect.FindingRecord{rec}); err != nil {
				return err
			}
			if _, err := st.Enqueue(ctx, tx, t0, []OutboxEntry{entry("slack", "f1", 1), entry("siem", "f1", 1)}); err != nil {
				return err
			}
			if err := tx.SetCheckpoints(ctx, []detect.Checkpoint{{Key: "sqs:msg-1", Value: "done"}}); err != nil {
				return err
			}
			return fail
		})
	}
	// A failure after Enqueue (the commit never happens) leaves nothing.
	boom := errors.New("worker died")
	if err := process(boom); !errors.Is(err, boom) {
		t.Fatalf("Update = %v", err)
	}
	if l := list(t, st, ""); len(l) != 0 {
		t.Fatalf("rolled-back Update left outbox rows: %s", ids(l))
	}
	// The message processed, then redelivered and processed again.
	for range 2 {
		if err := process(nil); err != nil {
			t.Fatal(err)
		}
	}
	l := list(t, st, "")
	if got := ids(l); got != "slack/f1/1 siem/f1/1" {
		t.Fatalf("outbox after a redelivery = %q", got)
	}
	m := l[0]
	if m.State != OutboxPending || !m.EnqueuedAt.Equal(t0) || !m.NextAttempt.Equal(t0) || m.Attempts != 0 ||
		string(m.Payload) != `{"id":"f1"}` || m.LeaseOwner != "" || !m.LeaseUntil.IsZero() {
		t.Errorf("enqueued row = %+v", m)
	}
	// A new revision is a new notification; Enqueue counts what was new.
	if n := enqueue(t, st, t0, entry("slack", "f1", 1), entry("slack", "f1", 2)); n != 1 {
		t.Errorf("Enqueue added %d, want 1", n)
	}
	// Rows written through one handle are seen by another.
	if got := ids(list(t, open(), OutboxPending)); got != "slack/f1/1 siem/f1/1 slack/f1/2" {
		t.Errorf("pending from another handle: %q", got)
	}

	// Misuse is an error naming what is wrong.
	for _, bad := range []OutboxEntry{
		{FindingID: "f", Revision: 1, Payload: []byte("{}")},
		{Sink: "s", Revision: 1, Payload: []byte("{}")},
		{Sink: "s", FindingID: "f", Payload: []byte("{}")},
		{Sink: "s", FindingID: "f", Revision: 1},
	} {
		err := st.Update(ctx, func(tx detect.Tx) error { _, err := st.Enqueue(ctx, tx, t0, []OutboxEntry{bad}); return err })
		if err == nil || !strings.Contains(err.Error(), "enqueue") {
			t.Errorf("Enqueue(%+v) = %v", bad, err)
		}
	}
	mem := detect.NewMemoryState()
	err := mem.Update(ctx, func(tx detect.Tx) error {
		_, err := st.Enqueue(ctx, tx, t0, []OutboxEntry{entry("s", "f", 1)})
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "not a transaction of this") {
		t.Errorf("Enqueue with another state's transaction = %v", err)
	}
	err = st.View(ctx, func(r detect.Reader) error {
		tx, _ := r.(detect.Tx)
		if tx == nil {
			return errors.New("read-only")
		}
		_, err := st.Enqueue(ctx, tx, t0, []OutboxEntry{entry("s", "f", 1)})
		return err
	})
	if err == nil {
		t.Error("Enqueue in a View succeeded")
	}
}

func testOutboxClaim(t *testing.T, open func() Store) {
	st := open()
	enqueue(t, st, t0, entry("slack", "a", 1), entry("slack", "b", 1), entry("slack", "c", 1), entry("siem", "a", 1))
	enqueue(t, st, t0.Add(time.Hour), entry("slack", "later", 1))

	// Nothing is due before it was enqueued; then the oldest first, up to
	// the limit, of the sink asked for.
	if got := claim(t, st, "slack", "w1", t0.Add(-time.Second), 10); len(got) != 0 {
		t.Errorf("claimed before due: %s", ids(got))
	}
	got := claim(t, st, "slack", "w1", t0, 2)
	if ids(got) != "slack/a/1 slack/b/1" {
		t.Fatalf("claim = %s", ids(got))
	}
	for _, m := range got {
		if m.LeaseOwner != "w1" || !m.LeaseUntil.Equal(t0.Add(time.Minute)) || m.Attempts != 1 {
			t.Errorf("claimed row = %+v", m)
		}
	}
	// Leased rows are not claimed again while the lease lasts, by anyone.
	if got := claim(t, open(), "slack", "w2", t0.Add(30*time.Second), 10); ids(got) != "slack/c/1" {
		t.Errorf("second claim = %s", ids(got))
	}
	if got := claim(t, st, "slack", "w2", t0.Add(59*time.Second), 10); len(got) != 0 {
		t.Errorf("claim during leases = %s", ids(got))
	}
	// A lease that ran out (its worker died) frees the row: at least once.
	got = claim(t, st, "slack", "w3", t0.Add(61*time.Second), 10)
	if ids(got) != "slack/a/1 slack/b/1" || got[0].Attempts != 2 || got[0].LeaseOwner != "w3" {
		t.Errorf("claim after lease expiry = %s %+v", ids(got), got)
	}
	if got := claim(t, st, "siem", "w1", t0, 10); ids(got) != "siem/a/1" {
		t.Errorf("siem claim = %s", ids(got))
	}
	// Two hours on, every lease has run out: the rows nobody completed come
	// back with the one that was not due before.
	if got := claim(t, st, "slack", "w1", t0.Add(2*time.Hour), 10); ids(got) != "slack/a/1 slack/b/1 slack/c/1 slack/later/1" {
		t.Errorf("claim later = %s", ids(got))
	}
	for _, bad := range []func() error{
		func() error { _, err := st.ClaimOutbox(context.Background(), "", "w", t0, time.Minute, 1); return err },
		func() error { _, err := st.ClaimOutbox(context.Background(), "s", "", t0, time.Minute, 1); return err },
		func() error { _, err := st.ClaimOutbox(context.Background(), "s", "w", t0, 0, 1); return err },
	} {
		if err := bad(); err == nil {
			t.Error("a claim without sink, owner or lease succeeded")
		}
	}
}

func testOutboxComplete(t *testing.T, open func() Store) {
	st := open()
	ctx := context.Background()
	enqueue(t, st, t0, entry("hook", "ok", 1), entry("hook", "retry", 1), entry("hook", "bad", 1))
	got := claim(t, st, "hook", "w1", t0, 10)
	if len(got) != 3 {
		t.Fatalf("claimed %s", ids(got))
	}
	at := t0.Add(5 * time.Second)
	lost, err := st.CompleteOutbox(ctx, "w1", []OutboxResult{
		{ID: got[0].ID, State: OutboxDelivered, At: at},
		{ID: got[1].ID, State: OutboxPending, At: t0.Add(40 * time.Second), Error: "HTTP 503"},
		{ID: got[2].ID, State: OutboxFailed, At: at, Error: "HTTP 400: invalid_payload"},
	})
	if err != nil || len(lost) != 0 {
		t.Fatalf("CompleteOutbox = %v, %v", lost, err)
	}
	rows := list(t, st, "")
	want := []struct {
		state OutboxState
		err   string
		done  time.Time
	}{{OutboxDelivered, "", at}, {OutboxPending, "HTTP 503", time.Time{}}, {OutboxFailed, "HTTP 400: invalid_payload", at}}
	for i, w := range want {
		r := rows[i]
		if r.State != w.state || r.LastError != w.err || !r.DoneAt.Equal(w.done) || r.LeaseOwner != "" {
			t.Errorf("row %s = %+v, want %+v", r.FindingID, r, w)
		}
	}
	// The retry is due at its next attempt, not before.
	if got := claim(t, st, "hook", "w1", t0.Add(39*time.Second), 10); len(got) != 0 {
		t.Errorf("retry claimed early: %s", ids(got))
	}
	again := claim(t, st, "hook", "w2", t0.Add(40*time.Second), 10)
	if ids(again) != "hook/retry/1" || again[0].Attempts != 2 || again[0].LastError != "HTTP 503" {
		t.Fatalf("retry claim = %+v", again)
	}
	// Only the lease holder completes a row; a row already finished stays so.
	lost, err = st.CompleteOutbox(ctx, "w1", []OutboxResult{
		{ID: again[0].ID, State: OutboxDelivered, At: at},
		{ID: got[0].ID, State: OutboxFailed, At: at, Error: "late"},
	})
	if err != nil || !slices.Equal(lost, []int64{again[0].ID, got[0].ID}) {
		t.Errorf("CompleteOutbox by a non-owner: lost %v, %v", lost, err)
	}
	if lost, err := st.CompleteOutbox(ctx, "w2", []OutboxResult{{ID: again[0].ID, State: OutboxDelivered, At: at}}); err != nil || len(lost) != 0 {
		t.Errorf("CompleteOutbox by the owner: %v %v", lost, err)
	}
	if n := len(list(t, st, OutboxDelivered)); n != 2 {
		t.Errorf("%d delivered, want 2", n)
	}
	if _, err := st.CompleteOutbox(ctx, "w2", []OutboxResult{{ID: 1, State: "sent"}}); err == nil {
		t.Error("an unknown state was accepted")
	}
}

// Workers on separate handles claim concurrently until nothing is left:
// every row is claimed by exactly one of them.
func testOutboxWorkers(t *testing.T, open func() Store) {
	st := open()
	const rows = 300
	var entries []OutboxEntry
	for i := range rows {
		entries = append(entries, entry("siem", fmt.Sprintf("f%03d", i), 1))
	}
	enqueue(t, st, t0, entries...)
	var mu sync.Mutex
	claimedBy := map[int64][]string{}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := open()
			owner := fmt.Sprintf("worker-%d", w)
			for {
				got, err := h.ClaimOutbox(context.Background(), "siem", owner, t0, time.Hour, 7)
				if err != nil {
					errs <- err
					return
				}
				if len(got) == 0 {
					return
				}
				var res []OutboxResult
				mu.Lock()
				for _, m := range got {
					claimedBy[m.ID] = append(claimedBy[m.ID], owner)
					res = append(res, OutboxResult{ID: m.ID, State: OutboxDelivered, At: t0})
				}
				mu.Unlock()
				if lost, err := h.CompleteOutbox(context.Background(), owner, res); err != nil || len(lost) > 0 {
					errs <- fmt.Errorf("complete: lost %v, %v", lost, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(claimedBy) != rows {
		t.Errorf("%d rows claimed, want %d", len(claimedBy), rows)
	}
	for id, owners := range claimedBy {
		if len(owners) != 1 {
			t.Errorf("row %d claimed by %v", id, owners)
		}
	}
	if n := len(list(t, st, OutboxDelivered)); n != rows {
		t.Errorf("%d delivered, want %d", n, rows)
	}
}

func testOutboxPurge(t *testing.T, open func() Store) {
	st := open()
	ctx := context.Background()
	enqueue(t, st, t0, entry("s", "old", 1), entry("s", "new", 1), entry("s", "waiting", 1))
	got := claim(t, st, "s", "w", t0, 2)
	if _, err := st.CompleteOutbox(ctx, "w", []OutboxResult{
		{ID: got[0].ID, State: OutboxDelivered, At: t0},
		{ID: got[1].ID, State: OutboxFailed, At: t0.Add(48 * time.Hour), Error: "x"},
	}); err != nil {
		t.Fatal(err)
	}
	n, err := st.PurgeOutbox(ctx, t0.Add(24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("PurgeOutbox = %d, %v", n, err)
	}
	if got := ids(list(t, st, "")); got != "s/new/1 s/waiting/1" {
		t.Errorf("after purge: %s", got)
	}
	// A purged key may be enqueued again: why rows are kept for long.
	if n := enqueue(t, st, t0, entry("s", "old", 1)); n != 1 {
		t.Errorf("re-enqueue after purge added %d", n)
	}
}
