package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/trailsentry/trailsentry/internal/event"
	"github.com/trailsentry/trailsentry/internal/finding"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

var t0 = time.Date(2024, 3, 13, 12, 30, 0, 0, time.UTC)

// start serves opts on 127.0.0.1:0 and returns the server and its base URL;
// the test's end shuts it down and checks Serve returned nil.
func start(t *testing.T, opts Options) (*Server, string) {
	t.Helper()
	opts.Addr = "127.0.0.1:0"
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after its context ended")
		}
	})
	return s, "http://" + s.Addr()
}

var client = &http.Client{Timeout: 10 * time.Second}

func get(t *testing.T, url string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, body
}

// scrape fetches /metrics the way Prometheus does and parses the
// exposition format.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("/metrics Content-Type %q, want text/plain", ct)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// sample finds the metric of family name whose labels are exactly labels.
func sample(t *testing.T, fams map[string]*dto.MetricFamily, name string, typ dto.MetricType, labels map[string]string) *dto.Metric {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("no metric family %s", name)
	}
	if f.GetType() != typ {
		t.Fatalf("%s has type %v, want %v", name, f.GetType(), typ)
	}
	var seen []string
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		if fmt.Sprint(got) == fmt.Sprint(labels) {
			return m
		}
		seen = append(seen, fmt.Sprint(got))
	}
	t.Fatalf("%s%v not found; have %v", name, labels, seen)
	return nil
}

func counterValue(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	return sample(t, fams, name, dto.MetricType_COUNTER, labels).GetCounter().GetValue()
}

func gaugeValue(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	return sample(t, fams, name, dto.MetricType_GAUGE, labels).GetGauge().GetValue()
}

func TestMetricsScrape(t *testing.T) {
	clock := newFakeClock(t0)
	m := NewMetrics(MetricsOptions{RuleIDs: []string{"cloudtrail_logging_stopped", "root_console_login"}, Now: clock.Now})
	_, base := start(t, Options{Metrics: m, Now: clock.Now})

	const q = "sqs:https://sqs.eu-central-1.amazonaws.com/739402185563/trail-notifications"
	m.EventsDecoded(q, 1200)
	m.EventsDecoded(q, 34)
	m.EventsDecoded(q, 0)  // nothing to add
	m.EventsDecoded(q, -5) // never decreases a counter
	m.BytesRead(q, 48213)
	m.BadRecords(q, 2)
	m.ObjectsRead(q, 3)
	m.Findings("cloudtrail_logging_stopped", finding.High, 2)
	m.Findings("root_console_login", finding.Critical, 1)
	m.Findings("a_rule_loaded_later", finding.Low, 4)       // not in RuleIDs: "other"
	m.Findings("root_console_login", finding.Label("?"), 1) // not a label: "other"
	m.AlertSent("slack", clock.Now().Add(-300*time.Millisecond))
	m.AlertSent("slack", clock.Now().Add(-1700*time.Millisecond))
	m.AlertSent("slack", time.Time{})                 // counted, not timed
	m.AlertSent("file", clock.Now().Add(time.Second)) // a clock ahead: 0, not negative
	m.AlertFailed("splunk")
	m.AlertFailed("splunk")
	m.SetOutboxBacklog("splunk", 7)
	m.SetOutboxBacklog("slack", 0)
	m.SetMessagesInFlight(q, 10)
	m.MessagesReceived(q, 12)
	m.MessagesDeleted(q, 11)
	m.MessagesPoison(q, 1)
	m.StateError("commit")
	m.NewestEvent(q, t0.Add(-7*time.Minute))
	m.NewestEvent(q, t0.Add(-20*time.Minute)) // older: the newest stays
	clock.Advance(30 * time.Second)

	fams := scrape(t, base)
	src := map[string]string{"source": q}
	for _, c := range []struct {
		name string
		want float64
	}{
		{"trailsentry_events_decoded_total", 1234},
		{"trailsentry_bytes_read_total", 48213},
		{"trailsentry_bad_records_total", 2},
		{"trailsentry_objects_read_total", 3},
		{"trailsentry_sqs_messages_received_total", 12},
		{"trailsentry_sqs_messages_deleted_total", 11},
		{"trailsentry_sqs_messages_poison_total", 1},
	} {
		if got := counterValue(t, fams, c.name, src); got != c.want {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
	}
	for _, c := range []struct {
		rule, sev string
		want      float64
	}{
		{"cloudtrail_logging_stopped", "high", 2},
		{"root_console_login", "critical", 1},
		{"other", "low", 4},
		{"root_console_login", "other", 1},
	} {
		if got := counterValue(t, fams, "trailsentry_findings_total", map[string]string{"rule": c.rule, "severity": c.sev}); got != c.want {
			t.Errorf("findings{rule=%s,severity=%s} = %v, want %v", c.rule, c.sev, got, c.want)
		}
	}
	if n := len(fams["trailsentry_findings_total"].GetMetric()); n != 4 {
		t.Errorf("findings_total has %d series, want 4", n)
	}
	if got := counterValue(t, fams, "trailsentry_alerts_sent_total", map[string]string{"sink": "slack"}); got != 3 {
		t.Errorf("alerts_sent{slack} = %v, want 3", got)
	}
	if got := counterValue(t, fams, "trailsentry_alerts_failed_total", map[string]string{"sink": "splunk"}); got != 2 {
		t.Errorf("alerts_failed{splunk} = %v, want 2", got)
	}
	if got := gaugeValue(t, fams, "trailsentry_outbox_backlog", map[string]string{"sink": "splunk"}); got != 7 {
		t.Errorf("outbox_backlog{splunk} = %v, want 7", got)
	}
	if got := gaugeValue(t, fams, "trailsentry_sqs_messages_in_flight", src); got != 10 {
		t.Errorf("in flight = %v, want 10", got)
	}
	if got := counterValue(t, fams, "trailsentry_state_errors_total", map[string]string{"op": "commit"}); got != 1 {
		t.Errorf("state_errors{commit} = %v, want 1", got)
	}
	// The lag is measured at the scrape: 7 minutes and the 30 s since.
	if got := gaugeValue(t, fams, "trailsentry_source_lag_seconds", src); got != 450 {
		t.Errorf("source_lag = %v, want 450", got)
	}
	if got := gaugeValue(t, fams, "trailsentry_source_newest_event_timestamp_seconds", src); got != float64(t0.Add(-7*time.Minute).Unix()) {
		t.Errorf("newest event timestamp = %v", got)
	}
	if got := gaugeValue(t, fams, "trailsentry_heartbeat_age_seconds", nil); got != 30 {
		t.Errorf("heartbeat age = %v, want 30", got)
	}

	// The latency histogram: the configured buckets, cumulative counts.
	h := sample(t, fams, "trailsentry_event_to_alert_seconds", dto.MetricType_HISTOGRAM, map[string]string{"sink": "slack"}).GetHistogram()
	if h.GetSampleCount() != 2 || math.Abs(h.GetSampleSum()-2.0) > 1e-9 {
		t.Errorf("slack latency: count %d sum %v, want 2 and 2.0", h.GetSampleCount(), h.GetSampleSum())
	}
	var bounds []float64
	want := map[float64]uint64{0.25: 0, 0.5: 1, 1.5: 1, 2: 2, 900: 2}
	for _, b := range h.GetBucket() {
		if math.IsInf(b.GetUpperBound(), 1) {
			continue
		}
		bounds = append(bounds, b.GetUpperBound())
		if w, ok := want[b.GetUpperBound()]; ok && b.GetCumulativeCount() != w {
			t.Errorf("bucket le=%v has %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), w)
		}
	}
	if !slices.Equal(bounds, LatencyBuckets) {
		t.Errorf("buckets %v, want %v", bounds, LatencyBuckets)
	}
	fh := sample(t, fams, "trailsentry_event_to_alert_seconds", dto.MetricType_HISTOGRAM, map[string]string{"sink": "file"}).GetHistogram()
	if fh.GetSampleCount() != 1 || fh.GetSampleSum() != 0 {
		t.Errorf("file latency: count %d sum %v, want 1 and 0", fh.GetSampleCount(), fh.GetSampleSum())
	}

	// Runtime and process collectors, and the handler's own counter.
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_resident_memory_bytes", "process_cpu_seconds_total", "promhttp_metric_handler_requests_total"} {
		if fams[name] == nil {
			t.Errorf("no %s", name)
		}
	}
	for name, f := range fams {
		if !strings.HasPrefix(name, "trailsentry_") && !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") && !strings.HasPrefix(name, "promhttp_") {
			t.Errorf("unexpected family %s", name)
		}
		if f.GetHelp() == "" {
			t.Errorf("%s has no help", name)
		}
	}
}

// TestMetricsFromCloudTrail feeds the metrics as the pipeline would from a
// real CloudTrail log file, and checks what a scrape says about it.
func TestMetricsFromCloudTrail(t *testing.T) {
	files, err := filepath.Glob("../../examples/AWSLogs/*/CloudTrail/*/*/*/*/*.json.gz")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example log files (%v)", err)
	}
	path := files[0]
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const src = "s3poll:s3://trail-bucket/AWSLogs/"
	var (
		events int
		newest time.Time
	)
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	dec := event.NewDecoder(gz)
	for {
		ev, err := dec.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		events++
		if ev.Time.After(newest) {
			newest = ev.Time
		}
	}
	if events == 0 || newest.IsZero() {
		t.Fatalf("%s: %d events, newest %v", path, events, newest)
	}
	clock := newFakeClock(newest.Add(12 * time.Minute)) // CloudTrail delivers minutes late
	m := NewMetrics(MetricsOptions{Now: clock.Now, NoRuntimeCollectors: true})
	_, base := start(t, Options{Metrics: m, Now: clock.Now})
	m.ObjectsRead(src, 1)
	m.BytesRead(src, int64(len(data)))
	m.EventsDecoded(src, events)
	m.NewestEvent(src, newest)

	fams := scrape(t, base)
	labels := map[string]string{"source": src}
	if got := counterValue(t, fams, "trailsentry_events_decoded_total", labels); got != float64(events) {
		t.Errorf("events = %v, want %d", got, events)
	}
	if got := counterValue(t, fams, "trailsentry_bytes_read_total", labels); got != float64(len(data)) {
		t.Errorf("bytes = %v, want %d", got, len(data))
	}
	if got := gaugeValue(t, fams, "trailsentry_source_lag_seconds", labels); got != 720 {
		t.Errorf("lag = %v, want 720", got)
	}
	if fams["go_goroutines"] != nil {
		t.Error("NoRuntimeCollectors still serves go_goroutines")
	}
}

func TestLabelBounds(t *testing.T) {
	m := NewMetrics(MetricsOptions{NoRuntimeCollectors: true})
	for i := range maxOpenValues + 6 {
		m.ObjectsRead(fmt.Sprintf("sqs:queue-%d", i), 1)
	}
	m.ObjectsRead("", 1)
	m.ObjectsRead("sqs:queue-0", 1) // admitted before: still its own
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		if f.GetName() != "trailsentry_objects_read_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			got[s.GetLabel()[0].GetValue()] = s.GetCounter().GetValue()
		}
	}
	if len(got) != maxOpenValues+2 || got["other"] != 6 || got["unknown"] != 1 || got["sqs:queue-0"] != 2 {
		t.Errorf("%d series, other=%v unknown=%v queue-0=%v; want %d, 6, 1, 2", len(got), got["other"], got["unknown"], got["sqs:queue-0"], maxOpenValues+2)
	}

	// Without RuleIDs the first MaxRules distinct rules are admitted.
	for i := range MaxRules + 1 {
		m.Findings(fmt.Sprintf("rule_%d", i), finding.Medium, 1)
	}
	if v := m.rules.value("rule_0"); v != "rule_0" {
		t.Errorf("rule_0 -> %q", v)
	}
	if v := m.rules.value(fmt.Sprintf("rule_%d", MaxRules)); v != "other" {
		t.Errorf("rule past MaxRules -> %q, want other", v)
	}
}

// TestMetricsConcurrent records from many goroutines while scraping: run
// with -race.
func TestMetricsConcurrent(t *testing.T) {
	m := NewMetrics(MetricsOptions{RuleIDs: []string{"r"}})
	srv, base := start(t, Options{Metrics: m})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			src := fmt.Sprintf("sqs:q%d", w%3)
			for i := range 200 {
				m.EventsDecoded(src, 3)
				m.BytesRead(src, 100)
				m.Findings("r", finding.High, 1)
				m.AlertSent("slack", time.Now().Add(-time.Duration(i)*time.Millisecond))
				m.NewestEvent(src, t0.Add(time.Duration(i)*time.Second))
				m.SetOutboxBacklog("slack", i)
				m.StateError("commit")
				srv.Beat()
			}
		})
	}
	for range 5 {
		scrape(t, base)
	}
	wg.Wait()
	fams := scrape(t, base)
	var total float64
	for _, s := range fams["trailsentry_events_decoded_total"].GetMetric() {
		total += s.GetCounter().GetValue()
	}
	if total != 8*200*3 {
		t.Errorf("events total %v, want %d", total, 8*200*3)
	}
	if got := counterValue(t, fams, "trailsentry_findings_total", map[string]string{"rule": "r", "severity": "high"}); got != 1600 {
		t.Errorf("findings = %v, want 1600", got)
	}
}

func TestHealthz(t *testing.T) {
	clock := newFakeClock(t0)
	s, base := start(t, Options{Now: clock.Now, StuckAfter: 30 * time.Second})
	probe := func(wantCode int, wantStatus string) {
		t.Helper()
		code, hdr, body := get(t, base+"/healthz")
		var got struct {
			Status  string  `json:"status"`
			BeatAge float64 `json:"last_beat_age_seconds"`
		}
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("healthz body %q: %v", body, err)
		}
		if code != wantCode || got.Status != wantStatus {
			t.Errorf("healthz: %d %q, want %d %q (body %s)", code, got.Status, wantCode, wantStatus, body)
		}
		if ct := hdr.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
	}
	probe(http.StatusOK, "ok") // alive from the start
	clock.Advance(30 * time.Second)
	probe(http.StatusOK, "ok") // at the threshold: not yet stuck
	clock.Advance(time.Second)
	probe(http.StatusServiceUnavailable, "stuck")
	s.Beat()
	probe(http.StatusOK, "ok")
	clock.Advance(10 * time.Minute)
	probe(http.StatusServiceUnavailable, "stuck")
}

type readyBody struct {
	Status  string        `json:"status"`
	Failing []string      `json:"failing"`
	Checks  []checkResult `json:"checks"`
}

func probeReady(t *testing.T, base string) (int, readyBody) {
	t.Helper()
	code, _, body := get(t, base+"/readyz")
	var rb readyBody
	if err := json.Unmarshal(body, &rb); err != nil {
		t.Fatalf("readyz body %q: %v", body, err)
	}
	return code, rb
}

func TestReadyz(t *testing.T) {
	s, base := start(t, Options{CheckTimeout: 300 * time.Millisecond})

	// No checks registered: nothing stands in the way.
	if code, rb := probeReady(t, base); code != http.StatusOK || rb.Status != "ready" {
		t.Errorf("no checks: %d %+v", code, rb)
	}

	var stateCalls atomic.Int32
	s.AddCheck("state", func(ctx context.Context) error { stateCalls.Add(1); return nil })
	queueDown := atomic.Bool{}
	s.AddCheck("sqs:trail-notifications", func(ctx context.Context) error {
		if queueDown.Load() {
			return errors.New("GetQueueAttributes: AWS.SimpleQueueService.NonExistentQueue: queue does not exist")
		}
		return nil
	})
	if code, rb := probeReady(t, base); code != http.StatusOK || rb.Status != "ready" || len(rb.Checks) != 2 || !rb.Checks[0].OK || !rb.Checks[1].OK {
		t.Errorf("all passing: %d %+v", code, rb)
	}
	if stateCalls.Load() != 1 {
		t.Errorf("state check ran %d times, want 1", stateCalls.Load())
	}

	queueDown.Store(true)
	code, rb := probeReady(t, base)
	if code != http.StatusServiceUnavailable || rb.Status != "not ready" || !slices.Equal(rb.Failing, []string{"sqs:trail-notifications"}) {
		t.Errorf("queue down: %d %+v", code, rb)
	}
	if !strings.Contains(rb.Checks[1].Error, "NonExistentQueue") {
		t.Errorf("failing check's error %q does not say why", rb.Checks[1].Error)
	}
	queueDown.Store(false)

	// A check's error is redacted: a PostgreSQL DSN names its password.
	s.AddCheck("state", func(ctx context.Context) error {
		return errors.New(`connect postgres://trailsentry:Xk9-pq2Lm@db.internal:5432/ts: dial tcp 10.0.0.5:5432: connection refused`)
	})
	code, rb = probeReady(t, base)
	if code != http.StatusServiceUnavailable || !slices.Equal(rb.Failing, []string{"state"}) {
		t.Errorf("state down: %d %+v", code, rb)
	}
	if e := rb.Checks[0].Error; strings.Contains(e, "Xk9-pq2Lm") || !strings.Contains(e, "postgres://trailsentry:REDACTED@db.internal:5432/ts") {
		t.Errorf("state error not redacted as expected: %q", e)
	}
	s.AddCheck("state", func(ctx context.Context) error { return nil })

	// A check that ignores its context and hangs: the probe answers after
	// the timeout, and later probes join the hung run instead of piling up
	// goroutines.
	release := make(chan struct{})
	defer close(release)
	var slowCalls atomic.Int32
	s.AddCheck("slow", func(ctx context.Context) error {
		slowCalls.Add(1)
		<-release
		return nil
	})
	for range 3 {
		begin := time.Now()
		code, rb = probeReady(t, base)
		took := time.Since(begin)
		if code != http.StatusServiceUnavailable || !slices.Equal(rb.Failing, []string{"slow"}) || !strings.Contains(rb.Checks[2].Error, "timed out after 300ms") {
			t.Errorf("slow check: %d %+v", code, rb)
		}
		if took < 300*time.Millisecond || took > 3*time.Second {
			t.Errorf("slow probe took %v, want about the 300ms timeout", took)
		}
	}
	if n := slowCalls.Load(); n != 1 {
		t.Errorf("hung check started %d times, want 1", n)
	}

	// A check that honours its context ends with it.
	s.AddCheck("slow", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	code, rb = probeReady(t, base)
	if code != http.StatusServiceUnavailable || !strings.Contains(rb.Checks[2].Error, "timed out") {
		t.Errorf("context-honouring slow check: %d %+v", code, rb)
	}

	// A panicking check fails; the server stays up.
	s.AddCheck("slow", func(ctx context.Context) error { panic("nil map") })
	code, rb = probeReady(t, base)
	if code != http.StatusServiceUnavailable || !strings.Contains(rb.Checks[2].Error, "panicked") {
		t.Errorf("panicking check: %d %+v", code, rb)
	}
	s.AddCheck("slow", func(ctx context.Context) error { return nil })
	if code, rb := probeReady(t, base); code != http.StatusOK {
		t.Errorf("recovered: %d %+v", code, rb)
	}

	// Shutting down: not ready, whatever the checks say.
	s.draining.Store(true)
	if code, rb := probeReady(t, base); code != http.StatusServiceUnavailable || rb.Status != "shutting down" {
		t.Errorf("draining: %d %+v", code, rb)
	}
}

func TestIndexAndMethods(t *testing.T) {
	_, base := start(t, Options{})
	code, hdr, body := get(t, base+"/")
	if code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
		t.Errorf("/: %d %q", code, hdr.Get("Content-Type"))
	}
	for _, p := range []string{"/metrics", "/healthz", "/readyz"} {
		if !strings.Contains(string(body), p) {
			t.Errorf("index does not list %s:\n%s", p, body)
		}
	}
	if code, _, _ := get(t, base+"/admin"); code != http.StatusNotFound {
		t.Errorf("/admin: %d, want 404", code)
	}
	resp, err := client.Post(base+"/healthz", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /healthz: %d Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

func TestNewDefaultsAndErrors(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Addr() != "127.0.0.1:9466" || DefaultAddr != "127.0.0.1:9466" {
		t.Errorf("default address %q", s.Addr())
	}
	if s.http.ReadHeaderTimeout == 0 || s.http.ReadTimeout == 0 || s.http.WriteTimeout == 0 || s.http.IdleTimeout == 0 {
		t.Errorf("timeouts not all set: %+v", s.http)
	}
	if _, err := New(Options{Addr: "9466"}); err == nil || !strings.Contains(err.Error(), `"9466"`) {
		t.Errorf("address without a port: %v", err)
	}
	m := NewMetrics(MetricsOptions{NoRuntimeCollectors: true})
	if _, err := New(Options{Metrics: m}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Metrics: m}); err == nil {
		t.Error("a second server on the same Metrics: no error")
	}

	// An address in use is reported by Listen, naming it.
	a, _ := start(t, Options{})
	b, err := New(Options{Addr: a.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Serve(context.Background()); err == nil || !strings.Contains(err.Error(), a.Addr()) {
		t.Errorf("address in use: %v", err)
	}
}

// TestGracefulShutdown: a request in progress when the context ends is
// answered; afterwards the port is closed and Serve returned nil.
func TestGracefulShutdown(t *testing.T) {
	s, err := New(Options{Addr: "127.0.0.1:0", CheckTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	entered := make(chan struct{})
	s.AddCheck("state", func(ctx context.Context) error {
		close(entered)
		time.Sleep(300 * time.Millisecond)
		return nil
	})
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	base := "http://" + s.Addr()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()

	type result struct {
		code int
		err  error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := client.Get(base + "/readyz")
		if err != nil {
			res <- result{err: err}
			return
		}
		resp.Body.Close()
		res <- result{code: resp.StatusCode}
	}()
	<-entered
	cancel()
	r := <-res
	if r.err != nil {
		t.Fatalf("request in progress at shutdown: %v", r.err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := client.Get(base + "/healthz"); err == nil {
		t.Error("still answering after shutdown")
	}
}

// TestOpenMetrics: a scraper that asks for OpenMetrics gets it.
func TestOpenMetrics(t *testing.T) {
	m := NewMetrics(MetricsOptions{NoRuntimeCollectors: true})
	_, base := start(t, Options{Metrics: m})
	m.AlertFailed("slack")
	req, _ := http.NewRequest(http.MethodGet, base+"/metrics", nil)
	req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text") {
		t.Errorf("Content-Type %q", ct)
	}
	if !strings.HasSuffix(string(body), "# EOF\n") || !strings.Contains(string(body), `trailsentry_alerts_failed_total{sink="slack"} 1`) {
		t.Errorf("OpenMetrics body:\n%s", body)
	}
}
