// Package server is watch mode's window for operators: Prometheus metrics
// (/metrics), liveness (/healthz), readiness (/readyz) and the structured,
// secret-free logger.
//
// The watch command wires it like this:
//
//	m := server.NewMetrics(server.MetricsOptions{RuleIDs: ids})
//	srv, err := server.New(server.Options{Addr: cfg.Listen, Metrics: m, Logger: log})
//	srv.AddCheck("state", store.Ping)          // each func(ctx) error
//	srv.AddCheck("sqs", source.Ready)
//	go srv.Serve(ctx)                          // returns after ctx ends and a graceful shutdown
//	for { ...; srv.Beat(); m.EventsDecoded(batch.Source, n); ... }
//
// Dependencies point down the spine: server knows finding's severity
// labels and nothing else of ours, so every stage can report to it.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Defaults of Options.
const (
	// DefaultAddr is loopback only: metrics and health say what the tool
	// watches, and exposing them is a decision, not a default.
	DefaultAddr = "127.0.0.1:9466"
	// DefaultStuckAfter is how long the main loop may go without a Beat
	// before /healthz fails. An SQS long poll is at most 20 s and a batch
	// is seconds; two minutes of silence is a hung loop, not a slow one.
	DefaultStuckAfter = 2 * time.Minute
	// DefaultCheckTimeout bounds each readiness check.
	DefaultCheckTimeout = 2 * time.Second
	// DefaultShutdownTimeout bounds the graceful shutdown.
	DefaultShutdownTimeout = 5 * time.Second
)

// Options configure a Server.
type Options struct {
	// Addr is the host:port to listen on (default DefaultAddr); port 0
	// picks a free port (see Server.Addr).
	Addr string
	// Metrics are served at /metrics (default: NewMetrics with no rule
	// ids). The server adds trailsentry_heartbeat_age_seconds to them.
	Metrics *Metrics
	// StuckAfter: /healthz fails when the last Beat is older (default
	// DefaultStuckAfter).
	StuckAfter time.Duration
	// CheckTimeout bounds each readiness check (default
	// DefaultCheckTimeout).
	CheckTimeout time.Duration
	// ShutdownTimeout bounds the graceful shutdown once Serve's context
	// ends (default DefaultShutdownTimeout).
	ShutdownTimeout time.Duration
	// Now is the clock of the heartbeat (default time.Now); tests drive it.
	Now func() time.Time
	// Logger gets the server's own problems (default: discard).
	Logger *slog.Logger
	// Redactor hides secrets in readiness errors (nil: by form only).
	Redactor *Redactor
}

// Server serves /metrics, /healthz, /readyz and an index at /.
type Server struct {
	opts    Options
	metrics *Metrics
	log     *slog.Logger
	http    *http.Server
	handler http.Handler

	lastBeat atomic.Int64 // unix nanoseconds of the last Beat
	draining atomic.Bool  // set once shutdown starts: not ready

	mu     sync.Mutex
	checks []*check
	ln     net.Listener
	served bool
}

// check is one named readiness check. Probes that arrive while a run is
// in flight wait for that run instead of starting another, so a check that
// hangs past its timeout costs one goroutine, not one per probe.
type check struct {
	name string
	fn   func(context.Context) error

	mu       sync.Mutex
	inflight *checkRun
}

type checkRun struct {
	done chan struct{}
	err  error
}

// New makes a server; it does not listen yet.
func New(opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	if _, _, err := net.SplitHostPort(opts.Addr); err != nil {
		return nil, fmt.Errorf("listen address %q: %w", opts.Addr, err)
	}
	if opts.StuckAfter <= 0 {
		opts.StuckAfter = DefaultStuckAfter
	}
	if opts.CheckTimeout <= 0 {
		opts.CheckTimeout = DefaultCheckTimeout
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = DefaultShutdownTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(MetricsOptions{})
	}
	s := &Server{opts: opts, metrics: opts.Metrics, log: opts.Logger}
	s.Beat() // the loop counts as alive from the start; it has StuckAfter to beat
	if err := s.metrics.reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: metricPrefix + "heartbeat_age_seconds",
		Help: "Seconds since the main loop last reported it is alive; /healthz fails past the stuck threshold.",
	}, func() float64 { return s.beatAge().Seconds() })); err != nil {
		return nil, fmt.Errorf("metrics: %w (one Metrics per Server)", err)
	}

	mux := http.NewServeMux()
	metrics := promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{
		ErrorLog:            slogPrinter{s.log},
		ErrorHandling:       promhttp.ContinueOnError, // one bad collector does not hide the rest
		Registry:            s.metrics.reg,            // promhttp_metric_handler_errors_total
		EnableOpenMetrics:   true,                     // when the scraper asks for it
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
	mux.Handle("/metrics", promhttp.InstrumentMetricHandler(s.metrics.reg, metrics))
	mux.HandleFunc("/healthz", s.healthz)
	mux.HandleFunc("/readyz", s.readyz)
	mux.HandleFunc("/{$}", s.index)
	s.handler = readOnly(mux)
	s.http = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		// Room for the slowest readiness check and a large scrape.
		WriteTimeout:   opts.CheckTimeout + 15*time.Second,
		IdleTimeout:    60 * time.Second,
		MaxHeaderBytes: 16 << 10,
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// Handler is the server's handler, to mount elsewhere or test without a
// socket.
func (s *Server) Handler() http.Handler { return s.handler }

// Beat says the main loop is alive. Call it every loop iteration,
// including idle ones (an empty long poll), and from nothing else: a
// goroutine beating on a timer would hide a stuck loop.
func (s *Server) Beat() { s.lastBeat.Store(s.opts.Now().UnixNano()) }

func (s *Server) beatAge() time.Duration {
	age := s.opts.Now().Sub(time.Unix(0, s.lastBeat.Load()))
	return max(age, 0)
}

// AddCheck registers a readiness check, or replaces the one of that name.
// /readyz runs every check at each probe, each with its own timeout; the
// server is ready when all return nil. Register the state store and each
// source: "state", "sqs:<queue>", ...
func (s *Server) AddCheck(name string, fn func(ctx context.Context) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &check{name: name, fn: fn}
	for i, old := range s.checks {
		if old.name == name {
			s.checks[i] = c
			return
		}
	}
	s.checks = append(s.checks, c)
}

// Listen binds the configured address. Serve calls it when it was not
// called; call it first to learn the port chosen for ":0" (Addr) or to
// fail early on an address in use.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.opts.Addr, err)
	}
	s.ln = ln
	if host, _, _ := net.SplitHostPort(s.opts.Addr); host == "" || net.ParseIP(host).IsUnspecified() {
		s.log.Warn("metrics and health endpoints listen on every interface", "addr", ln.Addr().String())
	}
	return nil
}

// Addr is the address listened on, once Listen has succeeded; the
// configured one before.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return s.ln.Addr().String()
	}
	return s.opts.Addr
}

// Serve listens (unless Listen was called) and serves until ctx ends,
// then shuts down gracefully: /readyz turns 503 at once, so a balancer
// stops sending, and requests in progress get ShutdownTimeout to finish.
// It returns nil after a clean shutdown. A Server serves once.
func (s *Server) Serve(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.served {
		s.mu.Unlock()
		return errors.New("server: Serve called twice")
	}
	s.served = true
	ln := s.ln
	s.mu.Unlock()

	s.http.BaseContext = func(net.Listener) context.Context { return context.WithoutCancel(ctx) }
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(ln) }()
	s.log.Info("serving metrics and health", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	s.draining.Store(true)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.ShutdownTimeout)
	defer cancel()
	err := s.http.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		s.http.Close()
		return fmt.Errorf("shut down server on %s: %w", ln.Addr(), err)
	}
	return nil
}

// healthz is liveness: 200 while the main loop beats, 503 once its last
// beat is older than StuckAfter (a supervisor should restart the process).
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	age := s.beatAge()
	body := struct {
		Status     string  `json:"status"`
		BeatAge    float64 `json:"last_beat_age_seconds"`
		StuckAfter float64 `json:"stuck_after_seconds"`
	}{"ok", age.Seconds(), s.opts.StuckAfter.Seconds()}
	code := http.StatusOK
	if age > s.opts.StuckAfter {
		body.Status = "stuck"
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, body)
}

// checkResult is one check in /readyz's body.
type checkResult struct {
	Name     string  `json:"name"`
	OK       bool    `json:"ok"`
	Error    string  `json:"error,omitempty"`
	Duration float64 `json:"duration_seconds"`
}

// readyz is readiness: every registered check passes within its timeout,
// and the server is not shutting down.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	checks := append([]*check(nil), s.checks...)
	s.mu.Unlock()

	results := make([]checkResult, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() { results[i] = s.run(r.Context(), c) })
	}
	wg.Wait()

	body := struct {
		Status  string        `json:"status"`
		Failing []string      `json:"failing,omitempty"`
		Checks  []checkResult `json:"checks"`
	}{Status: "ready", Checks: results}
	for _, res := range results {
		if !res.OK {
			body.Failing = append(body.Failing, res.Name)
		}
	}
	sort.Strings(body.Failing)
	code := http.StatusOK
	switch {
	case s.draining.Load():
		body.Status = "shutting down"
		code = http.StatusServiceUnavailable
	case len(body.Failing) > 0:
		body.Status = "not ready"
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, body)
}

// run runs c, or joins its run in flight, and waits at most CheckTimeout.
func (s *Server) run(ctx context.Context, c *check) checkResult {
	start := s.opts.Now()
	timeout := s.opts.CheckTimeout
	c.mu.Lock()
	run := c.inflight
	if run == nil {
		run = &checkRun{done: make(chan struct{})}
		c.inflight = run
		go func() {
			cctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			err := callCheck(cctx, c.fn)
			c.mu.Lock()
			c.inflight = nil
			c.mu.Unlock()
			run.err = err
			close(run.done)
		}()
	}
	c.mu.Unlock()

	t := time.NewTimer(timeout)
	defer t.Stop()
	res := checkResult{Name: c.name}
	var err error
	select {
	case <-run.done:
		err = run.err
	case <-t.C:
		err = fmt.Errorf("timed out after %s", timeout)
	case <-ctx.Done():
		err = fmt.Errorf("probe ended: %w", ctx.Err())
	}
	res.Duration = s.opts.Now().Sub(start).Seconds()
	if err != nil {
		res.Error = s.opts.Redactor.String(err.Error())
		return res
	}
	res.OK = true
	return res
}

// callCheck runs a check, turning a panic into a failure: a broken check
// must not take the process down through its health endpoint.
func callCheck(ctx context.Context, fn func(context.Context) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("check panicked: %v", p)
		}
	}()
	if err := fn(ctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return fmt.Errorf("timed out: %w", err)
		}
		return err
	}
	return nil
}

// index lists the endpoints, for a person who opens the address.
func (s *Server) index(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprint(w, "trailsentry watch\n\n"+
		"/metrics  Prometheus metrics\n"+
		"/healthz  liveness: 200 while the main loop runs\n"+
		"/readyz   readiness: 200 when the state store and sources are ready\n")
}

// readOnly answers 405 to anything but GET and HEAD: nothing here changes
// state, and saying so keeps scanners' POSTs out of the handlers.
func readOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away: nothing to do
}

// slogPrinter lets promhttp log through slog.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) { p.log.Warn("metrics: " + fmt.Sprint(v...)) }
