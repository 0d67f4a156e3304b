package server

import (
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/trailsentry/trailsentry/internal/finding"
)

// Metrics are the watch pipeline's Prometheus metrics, on a registry of
// their own (never the process-wide default, so two pipelines in one test
// binary do not collide and nothing a library registers leaks in).
//
// The pipeline calls the methods below; it never touches a Prometheus type.
// Every method is safe for concurrent use and cheap enough to call once per
// batch (a label lookup and an atomic add); none is meant to be called once
// per event on the hot decode path — count a batch's events and add them.
//
// Label values are bounded, because every distinct value is a time series
// kept for ever by the process and by Prometheus:
//   - rule: the rule ids given in MetricsOptions.RuleIDs (the rule pack and
//     the user's rules are a known set when watch starts); any other id is
//     counted as "other". Without RuleIDs the first MaxRules distinct ids
//     are admitted and the rest are "other".
//   - severity: the finding labels, lower-cased (info, low, medium, high,
//     critical); anything else is "other".
//   - source, sink, op: names from configuration or from code (a queue, a
//     sink's name, "commit"), never from event data. The first
//     maxOpenValues distinct values of each are admitted, the rest counted
//     as "other", so a caller's mistake cannot grow the series without end.
//
// An empty label value is recorded as "unknown".
type Metrics struct {
	reg *prometheus.Registry
	now func() time.Time

	eventsDecoded *prometheus.CounterVec
	bytesRead     *prometheus.CounterVec
	badRecords    *prometheus.CounterVec
	objectsRead   *prometheus.CounterVec
	findings      *prometheus.CounterVec
	alertsSent    *prometheus.CounterVec
	alertsFailed  *prometheus.CounterVec
	outboxBacklog *prometheus.GaugeVec
	inFlight      *prometheus.GaugeVec
	msgReceived   *prometheus.CounterVec
	msgDeleted    *prometheus.CounterVec
	msgPoison     *prometheus.CounterVec
	stateErrors   *prometheus.CounterVec
	latency       *prometheus.HistogramVec

	rules, sources, sinks, ops *labelSet

	newestMu sync.Mutex
	newest   map[string]time.Time // newest event time seen, by (bounded) source
}

// MetricsOptions tune NewMetrics.
type MetricsOptions struct {
	// RuleIDs are the ids of every rule the pipeline runs (built-in pack,
	// user rules, correlation and profile detections). Findings of other
	// ids are counted under rule="other".
	RuleIDs []string
	// Now is the clock the source lag is measured by (default time.Now).
	Now func() time.Time
	// NoRuntimeCollectors leaves out the Go runtime and process collectors
	// (tests comparing exact output use it; watch keeps them).
	NoRuntimeCollectors bool
}

// Bounds on label values; see Metrics.
const (
	// MaxRules is how many distinct rule ids are admitted when
	// MetricsOptions.RuleIDs is empty.
	MaxRules = 1000
	// maxOpenValues is how many distinct sources, sinks or state
	// operations are admitted.
	maxOpenValues = 64
	// otherLabel stands for every value past a bound; unknownLabel for an
	// empty value.
	otherLabel   = "other"
	unknownLabel = "unknown"
)

// LatencyBuckets are the upper bounds, in seconds, of the event-to-alert
// latency histogram: fine below and around the 2-second objective, then
// coarser out to 15 minutes for a sink that was down and retried.
var LatencyBuckets = []float64{0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60, 120, 300, 900}

// metricPrefix starts every metric name of ours.
const metricPrefix = "trailsentry_"

// NewMetrics makes the metrics and their registry.
func NewMetrics(opts MetricsOptions) *Metrics {
	m := &Metrics{
		reg:     prometheus.NewRegistry(),
		now:     opts.Now,
		sources: newLabelSet(maxOpenValues, nil),
		sinks:   newLabelSet(maxOpenValues, nil),
		ops:     newLabelSet(maxOpenValues, nil),
		newest:  make(map[string]time.Time),
	}
	if m.now == nil {
		m.now = time.Now
	}
	if len(opts.RuleIDs) > 0 {
		m.rules = newLabelSet(0, opts.RuleIDs)
	} else {
		m.rules = newLabelSet(MaxRules, nil)
	}

	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricPrefix + name, Help: help}, labels)
		m.reg.MustRegister(c)
		return c
	}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: metricPrefix + name, Help: help}, labels)
		m.reg.MustRegister(g)
		return g
	}
	m.eventsDecoded = counter("events_decoded_total", "CloudTrail events decoded, by source.", "source")
	m.bytesRead = counter("bytes_read_total", "Bytes of log objects and records read (as stored, before decompression), by source.", "source")
	m.badRecords = counter("bad_records_total", "Records that could not be decoded and were skipped, by source.", "source")
	m.objectsRead = counter("objects_read_total", "Log files and S3 objects read, by source.", "source")
	m.findings = counter("findings_total", "Findings detected, by rule id and severity label (a repeat merged into an existing finding counts again).", "rule", "severity")
	m.alertsSent = counter("alerts_sent_total", "Alerts delivered to a sink, by sink.", "sink")
	m.alertsFailed = counter("alerts_failed_total", "Alert deliveries that failed (each attempt, retried or given up), by sink.", "sink")
	m.outboxBacklog = gauge("outbox_backlog", "Alert outbox rows waiting to be delivered, by sink.", "sink")
	m.inFlight = gauge("sqs_messages_in_flight", "SQS messages received and not yet deleted or released, by source.", "source")
	m.msgReceived = counter("sqs_messages_received_total", "SQS messages received, by source.", "source")
	m.msgDeleted = counter("sqs_messages_deleted_total", "SQS messages deleted after their work was committed, by source.", "source")
	m.msgPoison = counter("sqs_messages_poison_total", "SQS messages set aside after too many receives, by source.", "source")
	m.stateErrors = counter("state_errors_total", "Failed operations on the state store, by operation.", "op")
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    metricPrefix + "event_to_alert_seconds",
		Help:    "Seconds from the work becoming available (SQS message sent, S3 object created) to its alert being delivered, by sink.",
		Buckets: LatencyBuckets,
	}, []string{"sink"})
	m.reg.MustRegister(m.latency)
	m.reg.MustRegister(&lagCollector{m: m})
	if !opts.NoRuntimeCollectors {
		m.reg.MustRegister(collectors.NewGoCollector())
		m.reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return m
}

// EventsDecoded adds n decoded events from source.
func (m *Metrics) EventsDecoded(source string, n int) {
	add(m.eventsDecoded, m.sources.value(source), n)
}

// BytesRead adds n bytes read from source.
func (m *Metrics) BytesRead(source string, n int64) {
	if n > 0 {
		m.bytesRead.WithLabelValues(m.sources.value(source)).Add(float64(n))
	}
}

// BadRecords adds n records from source that were skipped as undecodable.
func (m *Metrics) BadRecords(source string, n int) {
	add(m.badRecords, m.sources.value(source), n)
}

// ObjectsRead adds n log files or S3 objects read from source.
func (m *Metrics) ObjectsRead(source string, n int) {
	add(m.objectsRead, m.sources.value(source), n)
}

// Findings adds n findings of rule at severity label: new findings and
// repeats merged into one, as the detection stage reports them.
func (m *Metrics) Findings(rule string, label finding.Label, n int) {
	if n <= 0 {
		return
	}
	m.findings.WithLabelValues(m.rules.value(rule), severityLabel(label)).Add(float64(n))
}

// AlertSent counts an alert delivered to sink. available is when the work
// behind it first became available — the batch's Sent time (SQS
// SentTimestamp, the S3 object's LastModified) — and the time from then to
// now is observed in the latency histogram; a zero available observes
// nothing (the source did not know).
func (m *Metrics) AlertSent(sink string, available time.Time) {
	s := m.sinks.value(sink)
	m.alertsSent.WithLabelValues(s).Inc()
	if !available.IsZero() {
		d := m.now().Sub(available)
		if d < 0 {
			d = 0 // clocks of two hosts disagree; never a negative latency
		}
		m.latency.WithLabelValues(s).Observe(d.Seconds())
	}
}

// AlertFailed counts a failed delivery attempt to sink.
func (m *Metrics) AlertFailed(sink string) {
	m.alertsFailed.WithLabelValues(m.sinks.value(sink)).Inc()
}

// SetOutboxBacklog sets how many outbox rows wait for sink.
func (m *Metrics) SetOutboxBacklog(sink string, pending int) {
	m.outboxBacklog.WithLabelValues(m.sinks.value(sink)).Set(float64(pending))
}

// SetMessagesInFlight sets how many SQS messages of source are received
// and not yet settled (ingest.Stats.InFlight).
func (m *Metrics) SetMessagesInFlight(source string, n int) {
	m.inFlight.WithLabelValues(m.sources.value(source)).Set(float64(n))
}

// MessagesReceived adds n SQS messages received from source.
func (m *Metrics) MessagesReceived(source string, n int) {
	add(m.msgReceived, m.sources.value(source), n)
}

// MessagesDeleted adds n SQS messages of source deleted after commit.
func (m *Metrics) MessagesDeleted(source string, n int) {
	add(m.msgDeleted, m.sources.value(source), n)
}

// MessagesPoison adds n SQS messages of source set aside as poison.
func (m *Metrics) MessagesPoison(source string, n int) {
	add(m.msgPoison, m.sources.value(source), n)
}

// StateError counts a failed state-store operation; op is a fixed word of
// the calling code ("commit", "load", "outbox"), never an error text.
func (m *Metrics) StateError(op string) {
	m.stateErrors.WithLabelValues(m.ops.value(op)).Inc()
}

// NewestEvent records t as an event time seen from source; the newest one
// seen is kept. trailsentry_source_lag_seconds is computed from it at each
// scrape, so the lag keeps growing while a source delivers nothing. Call it
// once per batch with the batch's newest event time.
func (m *Metrics) NewestEvent(source string, t time.Time) {
	if t.IsZero() {
		return
	}
	s := m.sources.value(source)
	m.newestMu.Lock()
	if t.After(m.newest[s]) {
		m.newest[s] = t
	}
	m.newestMu.Unlock()
}

func add(c *prometheus.CounterVec, label string, n int) {
	if n > 0 {
		c.WithLabelValues(label).Add(float64(n))
	}
}

// severityLabel is a finding label as a metric label value.
func severityLabel(l finding.Label) string {
	for _, known := range finding.Labels() {
		if l == known {
			return strings.ToLower(string(l))
		}
	}
	return otherLabel
}

// lagCollector reports, at scrape time, each source's newest event time
// and how far behind the clock it is.
type lagCollector struct{ m *Metrics }

var (
	lagDesc = prometheus.NewDesc(metricPrefix+"source_lag_seconds",
		"Seconds between now and the newest event time seen, by source (CloudTrail's own delivery delay included).",
		[]string{"source"}, nil)
	newestDesc = prometheus.NewDesc(metricPrefix+"source_newest_event_timestamp_seconds",
		"Unix time of the newest event seen, by source.",
		[]string{"source"}, nil)
)

func (c *lagCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- lagDesc
	ch <- newestDesc
}

func (c *lagCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.m.now()
	c.m.newestMu.Lock()
	defer c.m.newestMu.Unlock()
	for source, t := range c.m.newest {
		lag := now.Sub(t).Seconds()
		if lag < 0 {
			lag = 0 // an event stamped in the future: not behind
		}
		ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, lag, source)
		ch <- prometheus.MustNewConstMetric(newestDesc, prometheus.GaugeValue, float64(t.UnixNano())/1e9, source)
	}
}

// labelSet bounds the values of one label: a fixed set of known values, or
// the first max distinct values seen.
type labelSet struct {
	mu    sync.RWMutex
	known map[string]struct{}
	max   int // 0: known is fixed
}

func newLabelSet(max int, fixed []string) *labelSet {
	s := &labelSet{known: make(map[string]struct{}, len(fixed)), max: max}
	for _, v := range fixed {
		s.known[v] = struct{}{}
	}
	return s
}

// value is v when it is admitted, "other" when past the bound.
func (s *labelSet) value(v string) string {
	if v == "" {
		return unknownLabel
	}
	s.mu.RLock()
	_, ok := s.known[v]
	s.mu.RUnlock()
	if ok {
		return v
	}
	if s.max == 0 {
		return otherLabel
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.known[v]; ok {
		return v
	}
	if len(s.known) >= s.max {
		return otherLabel
	}
	s.known[v] = struct{}{}
	return v
}
