package alert

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trailsentry/trailsentry/internal/detect"
	"github.com/trailsentry/trailsentry/internal/finding"
	"github.com/trailsentry/trailsentry/internal/store"
)

// clock is a controllable clock: minutes pass when the test says.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// receiver is a webhook endpoint at a fixed loopback address that can be
// down (nothing listening: connection refused), failing (a status of the
// test's choice) or up; it verifies signatures and counts every alert id it
// accepted.
type receiver struct {
	addr string
	key  []byte
	clk  *clock

	mu       sync.Mutex
	status   int    // answer while failing; 0: accept
	after    string // Retry-After to send with it
	accepted map[string]int
	srv      *http.Server
	requests int
}

func newReceiver(t *testing.T, clk *clock) *receiver {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{addr: ln.Addr().String(), key: []byte("shared-hmac-key"), clk: clk, accepted: map[string]int{}}
	ln.Close() // down until start
	t.Cleanup(r.stop)
	return r
}

func (r *receiver) start(t *testing.T) {
	ln, err := net.Listen("tcp", r.addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", r.addr, err)
	}
	r.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var body []byte
		body, _ = readAll(req)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.requests++
		if err := Verify(r.key, req.Header, body, r.clk.now(), 5*time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		if r.status != 0 {
			if r.after != "" {
				w.Header().Set("Retry-After", r.after)
			}
			http.Error(w, "upstream unavailable", r.status)
			return
		}
		var p WebhookPayload
		if err := json.Unmarshal(body, &p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, a := range p.Alerts {
			r.accepted[a.AlertID]++
		}
		w.WriteHeader(http.StatusNoContent)
	})}
	go r.srv.Serve(ln)
}

func (r *receiver) stop() {
	if r.srv != nil {
		r.srv.Close()
	}
}

func (r *receiver) set(status int, after string) {
	r.mu.Lock()
	r.status, r.after = status, after
	r.mu.Unlock()
}

func (r *receiver) counts() (map[string]int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for k, v := range r.accepted {
		out[k] = v
	}
	return out, r.requests
}

func readAll(req *http.Request) ([]byte, error) {
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := req.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return []byte(b.String()), nil
		}
	}
}

// commit does what a worker does with a batch of work: store its findings'
// checkpoint and enqueue their alerts in one Update.
func commit(t *testing.T, st store.Store, router *Router, now time.Time, msgID string, fs []*finding.Finding) int {
	t.Helper()
	entries, err := router.Entries(fs)
	if err != nil {
		t.Fatal(err)
	}
	var added int
	err = st.Update(context.Background(), func(tx detect.Tx) error {
		if err := tx.SetCheckpoints(context.Background(), []detect.Checkpoint{{Key: "sqs:" + msgID, Value: "done"}}); err != nil {
			return err
		}
		added, err = st.Enqueue(context.Background(), tx, now, entries)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return added
}

func rows(t *testing.T, st store.Store, state store.OutboxState) []store.OutboxMessage {
	t.Helper()
	l, err := st.ListOutbox(context.Background(), state, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// A sink that is down, then failing, then rate limiting, then back: nothing
// is lost, everything is delivered once it is back, and nothing is sent
// twice — not after a redelivered message, not after a dispatcher restart.
func TestDispatchOutage(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	rcv := newReceiver(t, clk)
	t.Setenv("TS_HOOK_URL", "http://"+rcv.addr+"/hooks/trailsentry")
	t.Setenv("TS_HOOK_KEY", string(rcv.key))
	cfg, err := LoadConfig([]byte(`alerts:
  outbox: {initial_backoff: 10s, max_backoff: 10m, give_up_after: 6h, batch_size: 50}
  sinks:
    - name: soar
      min_severity: low
      rules: {exclude: ["AWS STS *"]}
      webhook: {url: env:TS_HOOK_URL, hmac_key: env:TS_HOOK_KEY}
      timeout: 2s
`), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	set, err := Build(context.Background(), cfg, Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	fs := append(goldenFindings(t), deniedFinding(t))
	var want []string // the alert ids the router lets through
	for _, f := range fs {
		if len(set.Router.Sinks(f)) == 1 {
			want = append(want, f.ID+"/1")
		}
	}
	if len(want) < 5 || len(want) == len(fs) {
		t.Fatalf("%d of %d findings routed: the fixture should route some and not others", len(want), len(fs))
	}
	if n := commit(t, st, set.Router, clk.now(), "m1", fs); n != len(want) {
		t.Fatalf("enqueued %d, want %d", n, len(want))
	}
	// The same SQS message redelivered and processed again: nothing new.
	if n := commit(t, st, set.Router, clk.now(), "m1", fs); n != 0 {
		t.Fatalf("a redelivery enqueued %d", n)
	}

	half := func() float64 { return 0.5 } // backoff = 3/4 of the doubled base
	d := NewDispatcher(st, set.Sinks, set.Outbox, DispatchOptions{Owner: "worker-a", Now: clk.now, Jitter: half})
	pass := func(d *Dispatcher) DispatchStats {
		t.Helper()
		s, err := d.DispatchOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	// Down: connection refused. Every row is kept, due again in 7.5s.
	if s := pass(d); s.Retried != len(want) || s.Delivered != 0 {
		t.Fatalf("while down: %+v", s)
	}
	for _, m := range rows(t, st, store.OutboxPending) {
		if !strings.Contains(m.LastError, "connection refused") || m.Attempts != 1 ||
			m.NextAttempt.Sub(clk.now()) != 7500*time.Millisecond || strings.Contains(m.LastError, "/hooks/trailsentry") {
			t.Fatalf("after a refused connection: %+v", m)
		}
	}
	clk.advance(5 * time.Second)
	if s := pass(d); s != (DispatchStats{}) {
		t.Fatalf("retried before the backoff: %+v", s)
	}

	// Up but failing with 500s: the backoff doubles (15s after attempt 2).
	rcv.start(t)
	rcv.set(http.StatusInternalServerError, "")
	clk.advance(5 * time.Second)
	if s := pass(d); s.Retried != len(want) {
		t.Fatalf("500s: %+v", s)
	}
	for _, m := range rows(t, st, store.OutboxPending) {
		if m.Attempts != 2 || m.NextAttempt.Sub(clk.now()) != 15*time.Second || !strings.Contains(m.LastError, "HTTP 500") {
			t.Fatalf("after a 500: %+v", m)
		}
	}

	// 503 with a Retry-After longer than the backoff: it is honoured.
	rcv.set(http.StatusServiceUnavailable, "120")
	clk.advance(15 * time.Second)
	if s := pass(d); s.Retried != len(want) {
		t.Fatalf("503: %+v", s)
	}
	for _, m := range rows(t, st, store.OutboxPending) {
		if m.NextAttempt.Sub(clk.now()) != 120*time.Second {
			t.Fatalf("Retry-After not honoured: next in %v", m.NextAttempt.Sub(clk.now()))
		}
	}
	clk.advance(119 * time.Second)
	if s := pass(d); s != (DispatchStats{}) {
		t.Fatalf("retried before Retry-After: %+v", s)
	}

	// Back. Everything is delivered, once.
	rcv.set(0, "")
	clk.advance(time.Second)
	if s := pass(d); s.Delivered != len(want) || s.Retried != 0 || s.Failed != 0 {
		t.Fatalf("back up: %+v", s)
	}
	got, requests := rcv.counts()
	if len(got) != len(want) {
		t.Errorf("received %d alerts, want %d", len(got), len(want))
	}
	for _, id := range want {
		if got[id] != 1 {
			t.Errorf("alert %s received %d times", id, got[id])
		}
	}

	// A restart: a new handle, a new dispatcher, hours later. Nothing is due,
	// nothing is sent again, and the redelivered message still adds nothing.
	st.Close()
	st2, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	clk.advance(3 * time.Hour)
	d2 := NewDispatcher(st2, set.Sinks, set.Outbox, DispatchOptions{Owner: "worker-b", Now: clk.now, Jitter: half})
	if n := commit(t, st2, set.Router, clk.now(), "m1", fs); n != 0 {
		t.Fatalf("re-enqueued after restart: %d", n)
	}
	if s := pass(d2); s != (DispatchStats{}) {
		t.Fatalf("after restart: %+v", s)
	}
	if got2, requests2 := rcv.counts(); len(got2) != len(got) || requests2 != requests {
		t.Errorf("sent again after restart: %d alerts, %d requests (were %d, %d)", len(got2), requests2, len(got), requests)
	}
	if n := len(rows(t, st2, store.OutboxDelivered)); n != len(want) {
		t.Errorf("%d delivered rows, want %d", n, len(want))
	}

	// The finding grows tenfold: a new revision, announced once more.
	grown := *fs[len(fs)-1]
	grown.Count = 60
	if n := commit(t, st2, set.Router, clk.now(), "m2", []*finding.Finding{&grown}); n != 1 {
		t.Fatalf("revision 2 enqueued %d", n)
	}
	if s := pass(d2); s.Delivered != 1 {
		t.Fatalf("revision 2: %+v", s)
	}
	if got, _ := rcv.counts(); got[grown.ID+"/2"] != 1 || got[grown.ID+"/1"] != 1 {
		t.Errorf("revisions received: %v", got)
	}
}

// A dispatcher that dies mid-send leaves its rows leased: another sends them
// only once the lease has run out. A sink that never recovers is given up
// after give_up_after; a permanent refusal is given up at once; both say why.
func TestDispatchLeaseAndGiveUp(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	rcv := newReceiver(t, clk)
	rcv.start(t)
	t.Setenv("TS_HOOK_URL", "http://"+rcv.addr+"/hook")
	t.Setenv("TS_HOOK_KEY", string(rcv.key))
	cfg, err := LoadConfig([]byte(`alerts:
  outbox: {lease: 1m, give_up_after: 1h}
  sinks:
    - {name: soar, webhook: {url: env:TS_HOOK_URL, hmac_key: env:TS_HOOK_KEY}}
`), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	set, err := Build(context.Background(), cfg, Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	f := deniedFinding(t)
	commit(t, st, set.Router, clk.now(), "m1", []*finding.Finding{f})

	// worker-a claims and dies before completing.
	if got, err := st.ClaimOutbox(context.Background(), "soar", "worker-a", clk.now(), time.Minute, 10); err != nil || len(got) != 1 {
		t.Fatalf("claim: %v %v", got, err)
	}
	d := NewDispatcher(st, set.Sinks, set.Outbox, DispatchOptions{Owner: "worker-b", Now: clk.now})
	clk.advance(30 * time.Second)
	if s, _ := d.DispatchOnce(context.Background()); s != (DispatchStats{}) {
		t.Fatalf("sent a row leased to another: %+v", s)
	}
	clk.advance(31 * time.Second)
	if s, _ := d.DispatchOnce(context.Background()); s.Delivered != 1 {
		t.Fatalf("after the lease ran out: %+v", s)
	}

	// Never recovers: retried until give_up_after, then failed with why.
	rcv.set(http.StatusBadGateway, "")
	g := *f
	g.ID = "0000feedface0000"
	commit(t, st, set.Router, clk.now(), "m2", []*finding.Finding{&g})
	attempts := 0
	for range 100 {
		s, err := d.DispatchOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		attempts += s.Retried + s.Failed
		if s.Failed == 1 {
			break
		}
		clk.advance(time.Minute)
	}
	failed := rows(t, st, store.OutboxFailed)
	if len(failed) != 1 || !strings.Contains(failed[0].LastError, "gave up after") || !strings.Contains(failed[0].LastError, "HTTP 502") ||
		failed[0].DoneAt.Sub(failed[0].EnqueuedAt) > time.Hour || attempts < 5 {
		t.Fatalf("given up: %+v after %d attempts", failed, attempts)
	}

	// A permanent refusal (400) fails at once.
	rcv.set(http.StatusBadRequest, "")
	h := *f
	h.ID = "0000deadbeef0000"
	commit(t, st, set.Router, clk.now(), "m3", []*finding.Finding{&h})
	if s, _ := d.DispatchOnce(context.Background()); s.Failed != 1 {
		t.Fatalf("400: %+v", s)
	}
	failed = rows(t, st, store.OutboxFailed)
	if len(failed) != 2 || !strings.HasPrefix(failed[1].LastError, "permanent: soar: HTTP 400") || failed[1].Attempts != 1 {
		t.Errorf("permanent failure: %+v", failed[1])
	}
}

// A sink down for five minutes — every dispatcher pass in between refused —
// loses nothing: when it comes back, every alert is delivered, once.
func TestDispatchSinkDownFiveMinutes(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	rcv := newReceiver(t, clk)
	t.Setenv("TS_HOOK_URL", "http://"+rcv.addr+"/hooks/trailsentry")
	t.Setenv("TS_HOOK_KEY", string(rcv.key))
	cfg, err := LoadConfig([]byte("alerts:\n  outbox: {initial_backoff: 10s, max_backoff: 2m}\n  sinks:\n    - name: soar\n      min_severity: low\n      webhook: {url: env:TS_HOOK_URL, hmac_key: env:TS_HOOK_KEY}\n      timeout: 2s\n"), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	set, err := Build(context.Background(), cfg, Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fs := append(goldenFindings(t), deniedFinding(t))
	want := commit(t, st, set.Router, clk.now(), "m1", fs)
	if want == 0 {
		t.Fatal("nothing routed")
	}
	d := NewDispatcher(st, set.Sinks, set.Outbox, DispatchOptions{Owner: "worker-a", Now: clk.now, Jitter: func() float64 { return 0.5 }})
	// Five minutes down, a pass every ten seconds.
	for elapsed := time.Duration(0); elapsed < 5*time.Minute; elapsed += 10 * time.Second {
		if s, err := d.DispatchOnce(context.Background()); err != nil || s.Delivered != 0 || s.Failed != 0 {
			t.Fatalf("at %v while down: %+v, %v", elapsed, s, err)
		}
		clk.advance(10 * time.Second)
	}
	if n := len(rows(t, st, store.OutboxPending)); n != want {
		t.Fatalf("%d rows pending after the outage, want %d", n, want)
	}
	rcv.start(t)
	for range 20 { // the backoff has grown to two minutes: passes until it comes due
		if _, err := d.DispatchOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		clk.advance(10 * time.Second)
	}
	got, _ := rcv.counts()
	if len(got) != want {
		t.Errorf("%d of %d alerts delivered after the outage", len(got), want)
	}
	for id, n := range got {
		if n != 1 {
			t.Errorf("alert %s delivered %d times", id, n)
		}
	}
}
