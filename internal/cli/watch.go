package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/trailsentry/trailsentry/internal/alert"
	"github.com/trailsentry/trailsentry/internal/detect"
	"github.com/trailsentry/trailsentry/internal/enrich"
	"github.com/trailsentry/trailsentry/internal/event"
	"github.com/trailsentry/trailsentry/internal/finding"
	"github.com/trailsentry/trailsentry/internal/ingest"
	"github.com/trailsentry/trailsentry/internal/integrity"
	"github.com/trailsentry/trailsentry/internal/server"
	"github.com/trailsentry/trailsentry/internal/store"
)

const watchSynopsis = `Usage: trailsentry watch --state DSN [--sqs-queue URL]... [--s3-poll s3://bucket/prefix]... [--lookup-region R]... [flags]

Watches CloudTrail as it is delivered — SQS queues of S3 notifications or
EventBridge events, S3 polling, the LookupEvents API — runs every detection on
it, keeps findings in the state and tells the sinks of --config's alerts:
section, through a durable outbox. A batch's findings, alert rows and
checkpoint are committed together before its message is deleted: at least
once end to end, and a redelivered message never alerts twice.`

// watchConfig is --config for watch: suppressions as for scan, and alerts.
type watchConfig struct {
	Suppressions []finding.Suppression `yaml:"suppressions"`
	Alerts       *alert.Config         `yaml:"alerts"`
	Watch        *watchSection         `yaml:"watch"`
}

// watchSection is watch's own settings in --config; a flag given on the
// command line wins over the environment, which wins over the file.
//
//	watch:
//	  state: postgres://trailsentry@db/trailsentry
//	  sqs_queues: [https://sqs.us-east-1.amazonaws.com/111122223333/trail-logs]
//	  s3_polls: [s3://my-trail-bucket/AWSLogs/]
//	  lookup_regions: [us-east-1]
//	  listen: 127.0.0.1:9466
//	  public_keys: [/etc/trailsentry/cloudtrail-us-east-1.pem]
//	  digest_grace: 30m
type watchSection struct {
	State         string   `yaml:"state"`
	SQSQueues     []string `yaml:"sqs_queues"`
	S3Polls       []string `yaml:"s3_polls"`
	LookupRegions []string `yaml:"lookup_regions"`
	Listen        *string  `yaml:"listen"`
	PublicKeys    []string `yaml:"public_keys"`
	DigestGrace   string   `yaml:"digest_grace"`
	Learning      string   `yaml:"learning"`
}

// watchSettings fills the options no flag set from the environment
// (TRAILSENTRY_STATE, TRAILSENTRY_SQS_QUEUE, comma-separated) and then
// from --config's watch: section.
func watchSettings(o *watchOptions, flagSet map[string]bool) error {
	var w watchSection
	if o.config != "" {
		c, _, err := loadWatchConfig(o.config)
		if err != nil {
			return err
		}
		if c.Watch != nil {
			w = *c.Watch
		}
	}
	if v := os.Getenv("TRAILSENTRY_STATE"); v != "" {
		w.State = v
	}
	if v := os.Getenv("TRAILSENTRY_SQS_QUEUE"); v != "" {
		var l listFlag
		l.Set(v)
		w.SQSQueues = l
	}
	if !flagSet["state"] && w.State != "" {
		o.state = w.State
	}
	if !flagSet["sqs-queue"] {
		o.queues = append(o.queues, w.SQSQueues...)
	}
	if !flagSet["s3-poll"] {
		o.polls = append(o.polls, w.S3Polls...)
	}
	if !flagSet["lookup-region"] {
		o.regions = append(o.regions, w.LookupRegions...)
	}
	if !flagSet["listen"] && w.Listen != nil {
		o.listen = *w.Listen
	}
	if !flagSet["public-key"] {
		o.publicKeys = append(o.publicKeys, w.PublicKeys...)
	}
	if !flagSet["learning"] && w.Learning != "" {
		o.learning = w.Learning
	}
	if !flagSet["digest-grace"] && w.DigestGrace != "" {
		d, err := parseSpan(w.DigestGrace)
		if err != nil {
			return fmt.Errorf("--config watch.digest_grace: %w", err)
		}
		o.digestGrace = d
	}
	return nil
}

type watchOptions struct {
	queues, polls, regions, rulePaths listFlag
	publicKeys                        listFlag
	visibility                        time.Duration
	fetchKeys                         bool
	digestGrace                       time.Duration
	state, config, listen             string
	learning, idle                    string
	noBuiltin, pathStyle              bool
	workers, maxEvidence              int
	dispatchEvery                     time.Duration
}

func runWatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o watchOptions
	fs := newFlagSet("watch", stderr, watchSynopsis)
	fs.Var(&o.queues, "sqs-queue", "SQS queue URL of S3 notifications (direct, SNS-wrapped, EventBridge) or EventBridge CloudTrail events (repeatable)")
	fs.Var(&o.polls, "s3-poll", "s3://bucket/prefix of a trail to poll, for setups without notifications (repeatable)")
	fs.Var(&o.regions, "lookup-region", "region whose LookupEvents API is polled, for accounts without a trail bucket (repeatable)")
	fs.StringVar(&o.state, "state", "default", "the state: a SQLite file, \"default\" (the user's state directory) or a postgres:// URL shared by several watchers")
	fs.StringVar(&o.config, "config", "", "YAML with suppressions: and alerts: (sinks, routing, outbox; docs/alerts.md)")
	fs.Var(&o.rulePaths, "rules", "Sigma rule file or folder to add (repeatable)")
	fs.BoolVar(&o.noBuiltin, "no-builtin", false, "do not load the built-in rule pack")
	fs.StringVar(&o.listen, "listen", server.DefaultAddr, "address of /healthz, /readyz and /metrics (\"\" for none)")
	fs.StringVar(&o.learning, "learning", "7d", "learning period of the first-seen baselines")
	fs.StringVar(&o.idle, "exit-when-idle", "", "exit once no source has had work for this long (a backfill, a test); default: run until stopped")
	fs.BoolVar(&o.pathStyle, "s3-path-style", false, "path-style S3 addressing (for S3-compatible servers)")
	fs.IntVar(&o.workers, "workers", runtime.GOMAXPROCS(0), "batches processed at once")
	fs.IntVar(&o.maxEvidence, "max-evidence", 100, "event ids kept per finding")
	fs.DurationVar(&o.dispatchEvery, "dispatch-interval", time.Second, "how often the outbox is checked for alerts to send")
	fs.DurationVar(&o.visibility, "sqs-visibility", 30*time.Second, "visibility timeout of received messages, renewed while in flight: how soon a crashed watcher's messages come back")
	fs.Var(&o.publicKeys, "public-key", "CloudTrail public key (PEM, or list-public-keys JSON) that verifies digest files as they arrive (repeatable)")
	fs.BoolVar(&o.fetchKeys, "fetch-keys", false, "ask CloudTrail ListPublicKeys for the keys digests name (default when no --public-key is given)")
	fs.DurationVar(&o.digestGrace, "digest-grace", 30*time.Minute, "how late past the hour a live trail's next digest may be before a missing-digest finding")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return usageError(stderr, err)
	}
	if len(rest) > 0 {
		return usageError(stderr, fmt.Errorf("watch takes no PATH (got %q): give --sqs-queue, --s3-poll or --lookup-region", rest[0]))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if err := watchSettings(&o, given); err != nil {
		return usageError(stderr, err)
	}
	if len(o.queues)+len(o.polls)+len(o.regions) == 0 {
		fs.Usage()
		return usageError(stderr, errors.New("watch needs a source: --sqs-queue, --s3-poll or --lookup-region (or --config's watch: section, or TRAILSENTRY_SQS_QUEUE)"))
	}
	if _, err := parseSpan(o.learning); err != nil {
		return usageError(stderr, fmt.Errorf("--learning: %w", err))
	}
	var idle time.Duration
	if o.idle != "" {
		if idle, err = parseSpan(o.idle); err != nil || idle <= 0 {
			return usageError(stderr, fmt.Errorf("--exit-when-idle %q: want a positive duration", o.idle))
		}
	}
	if o.workers < 1 || o.maxEvidence < 1 {
		return usageError(stderr, errors.New("--workers and --max-evidence must be at least 1"))
	}
	log, err := server.NewLogger(stderr, server.LogOptions{})
	if err != nil {
		return usageError(stderr, err)
	}
	w, alerts, err := prepareWatcher(ctx, o, stdout, log)
	if err != nil {
		return usageError(stderr, err)
	}
	defer w.st.Close()
	st, metrics := w.st, w.metrics
	sources, err := watchSources(ctx, o, st, w.digests.s3, w.digests.aws, log)
	if err != nil {
		return usageError(stderr, err)
	}
	defer func() {
		for _, s := range sources {
			s.Close()
		}
	}()

	ctx, stop := context.WithCancel(ctx)
	defer stop()
	var srv *server.Server
	if o.listen != "" {
		if srv, err = server.New(server.Options{Addr: o.listen, Metrics: metrics, Logger: log}); err != nil {
			return usageError(stderr, err)
		}
		srv.AddCheck("state", func(ctx context.Context) error {
			return st.View(ctx, func(detect.Reader) error { return nil })
		})
		if err := srv.Listen(); err != nil {
			return usageError(stderr, fmt.Errorf("--listen: %w", err))
		}
		go srv.Serve(ctx)
		log.Info("serving /healthz, /readyz and /metrics", "addr", srv.Addr())
	}
	if srv != nil {
		w.beat = srv.Beat
	}

	var wg sync.WaitGroup
	if len(alerts.Sinks) > 0 {
		d := alert.NewDispatcher(st, alerts.Sinks, alerts.Outbox, alert.DispatchOptions{Logger: log, OnResult: w.alertResult})
		wg.Add(1)
		go func() { defer wg.Done(); w.dispatch(ctx, d, o.dispatchEvery, idle > 0) }()
	}
	w.lastWork.Store(time.Now().UnixNano())
	go w.watchDigests(ctx, time.Minute)
	go w.sourceStats(ctx, sources, sourceNames(o), 5*time.Second)
	if idle > 0 {
		go w.exitWhenIdle(ctx, idle, stop)
	}
	var workers sync.WaitGroup
	for _, src := range sources {
		for range o.workers {
			workers.Add(1)
			go func() { defer workers.Done(); w.consume(ctx, src) }()
		}
	}
	workers.Wait()
	w.doneWorking.Store(true)
	wg.Wait()
	log.Info("watch stopped", "batches", w.batches.Load(), "events", w.events.Load(), "failed_batches", w.failed.Load())
	if ctx.Err() != nil && idle == 0 {
		return ExitOK // stopped by a signal: the normal end of a service
	}
	if w.failed.Load() > 0 {
		return ExitUsage
	}
	return ExitOK
}

// prepareWatcher builds what watch and the Lambda handler share: the
// state, the rules, the enrichment, the alert sinks and the digest checker.
// The caller closes w.st.
func prepareWatcher(ctx context.Context, o watchOptions, stdout io.Writer, log *slog.Logger) (*watcher, *alert.Set, error) {
	cfg, suppress, err := loadWatchConfig(o.config)
	if err != nil {
		return nil, nil, err
	}
	ruleSet, corrs, loadErrs, err := loadRules(o.rulePaths, !o.noBuiltin)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range loadErrs {
		log.Warn("rule not loaded", "error", e.Error())
	}
	learning, err := parseSpan(o.learning)
	if err != nil {
		return nil, nil, fmt.Errorf("--learning: %w", err)
	}
	enricher, err := enrich.New(ctx, enrich.Options{ASNDatabase: os.Getenv("TRAILSENTRY_ASN_DB"), GeoDatabase: os.Getenv("TRAILSENTRY_GEO_DB")})
	if err != nil {
		return nil, nil, err
	}
	alerts := &alert.Set{Router: &alert.Router{}}
	if cfg.Alerts != nil {
		if alerts, err = alert.Build(ctx, cfg.Alerts, alert.Options{Stdout: stdout}); err != nil {
			return nil, nil, fmt.Errorf("--config alerts: %w", err)
		}
	}
	keys := integrity.KeySet{}
	for _, p := range o.publicKeys {
		ks, err := integrity.LoadPublicKeys(p)
		if err != nil {
			return nil, nil, fmt.Errorf("--public-key: %w", err)
		}
		keys.Add(ks...)
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("AWS configuration: %w", err)
	}
	s3src, err := ingest.NewS3(ctx, ingest.S3Config{PathStyle: o.pathStyle})
	if err != nil {
		return nil, nil, err
	}
	dsn := o.state
	if dsn == "default" {
		dsn = ""
	}
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("--state: %w", err)
	}
	infos := ruleInfos(ruleSet)
	ids := make([]string, 0, len(infos))
	for _, i := range infos {
		ids = append(ids, i.ID)
	}
	w := &watcher{
		st: st, log: log, metrics: server.NewMetrics(server.MetricsOptions{RuleIDs: ids}), enricher: enricher,
		engine: detect.NewEngine(ruleSet), infos: infos, suppress: suppress,
		corr: detect.NewCorrelator(corrs, o.maxEvidence), corrInfos: map[*detect.Correlation]*finding.RuleInfo{},
		prof: newProfiling(learning, st), router: alerts.Router, evidence: o.maxEvidence,
		digests: &digestChecker{s3: s3src, keys: keys, fetch: o.fetchKeys || len(o.publicKeys) == 0, aws: awsCfg,
			grace: o.digestGrace, now: time.Now, live: map[string]*liveChain{}},
		beat: func() {},
	}
	for _, c := range corrs {
		w.corrInfos[c] = &finding.RuleInfo{ID: c.Stream(), Title: c.Title, Source: c.Source, Level: c.Level,
			Description: c.Description, Attack: c.Attack, FalsePositives: c.FalsePositives}
	}
	return w, alerts, nil
}

// loadWatchConfig reads watch's --config: unknown keys are errors.
func loadWatchConfig(path string) (watchConfig, *finding.Suppressions, error) {
	var c watchConfig
	if path == "" {
		return c, nil, nil
	}
	if err := decodeConfig(path, &c); err != nil {
		return c, nil, err
	}
	s, _, err := finding.NewSuppressions(c.Suppressions, time.Now())
	if err != nil {
		return c, nil, fmt.Errorf("--config %s: %w", path, err)
	}
	return c, s, nil
}

// watchSources builds the sources the flags name.
func watchSources(ctx context.Context, o watchOptions, st store.Store, s3 *ingest.S3, awsCfg aws.Config, log *slog.Logger) ([]ingest.Source, error) {
	checkpoints := func(ctx context.Context, keys []string) ([]detect.Checkpoint, error) {
		var out []detect.Checkpoint
		err := st.View(ctx, func(r detect.Reader) error {
			var err error
			out, err = r.Checkpoints(ctx, keys)
			return err
		})
		return out, err
	}
	var out []ingest.Source
	for _, q := range o.queues {
		src, err := ingest.NewSQS(ctx, ingest.SQSConfig{QueueURL: q, Client: sqs.NewFromConfig(awsCfg), S3: s3, Logger: log, Visibility: o.visibility})
		if err != nil {
			return nil, fmt.Errorf("--sqs-queue %s: %w", q, err)
		}
		out = append(out, src)
	}
	for _, p := range o.polls {
		loc, err := ingest.ParseS3URL(p)
		if err != nil {
			return nil, fmt.Errorf("--s3-poll %s: %w", p, err)
		}
		src, err := ingest.NewS3Poll(ingest.S3PollConfig{S3: s3, Location: loc, Checkpoints: checkpoints, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("--s3-poll %s: %w", p, err)
		}
		out = append(out, src)
	}
	if len(o.regions) > 0 {
		src, err := ingest.NewLookup(ingest.LookupConfig{AWS: awsCfg, Regions: o.regions, Checkpoints: checkpoints, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("--lookup-region: %w", err)
		}
		out = append(out, src)
	}
	return out, nil
}

// watcher runs batches through detection into the state and the outbox.
type watcher struct {
	st        store.Store
	log       *slog.Logger
	metrics   *server.Metrics
	enricher  *enrich.Enricher
	engine    *detect.Engine
	infos     map[*detect.Rule]*finding.RuleInfo
	suppress  *finding.Suppressions
	corr      *detect.Correlator
	corrInfos map[*detect.Correlation]*finding.RuleInfo
	prof      *profiling
	router    *alert.Router
	evidence  int
	digests   *digestChecker
	beat      func()

	batches, events, failed atomic.Int64
	lastWork                atomic.Int64 // Unix nanoseconds of the last batch taken or finished
	doneWorking             atomic.Bool
}

// consume takes batches from one source until the context ends.
func (w *watcher) consume(ctx context.Context, src ingest.Source) {
	opener := ingest.NewOpener()
	view := w.enricher.NewView()
	for {
		w.beat()
		b, err := src.Next(ctx)
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, ingest.ErrClosed) {
				w.log.Error("source failed", "error", err)
			}
			return
		}
		w.lastWork.Store(time.Now().UnixNano())
		if err := w.process(ctx, b, opener, view); err != nil {
			w.failed.Add(1)
			w.log.Error("batch not committed; it will come back", "source", b.Source, "batch", b.ID, "error", err)
			w.metrics.StateError("commit")
			b.Nack(ctx, err)
			continue
		}
		if err := b.Ack(ctx); err != nil {
			w.log.Warn("batch committed but not acknowledged; a redelivery will be absorbed", "source", b.Source, "batch", b.ID, "error", err)
		}
		w.batches.Add(1)
		w.lastWork.Store(time.Now().UnixNano())
	}
}

// process decodes, detects and commits one batch: findings merged into the
// state, correlation occurrences and profile observations, the alert
// outbox rows and the batch's checkpoints, in one transaction.
func (w *watcher) process(ctx context.Context, b *ingest.Batch, opener *ingest.Opener, view *enrich.View) error {
	agg := finding.NewAggregator(w.evidence)
	agg.Suppress(w.suppress)
	prof := w.prof.prof.NewBatch()
	var occ []detect.Occurrence
	var matched []*detect.Rule
	add := func(r *detect.Rule) {
		matched = append(matched, r)
		if w.corr.Generates(r) {
			agg.Add(w.infos[r], view)
		}
	}
	var n int64
	var newest time.Time
	each := func(name string, dec *event.Decoder) error {
		for {
			ev, err := dec.Next()
			var rerr *event.RecordError
			switch {
			case err == io.EOF, errors.Is(err, event.ErrSkipFile):
				return nil
			case errors.As(err, &rerr):
				w.metrics.BadRecords(b.Source, 1)
				w.log.Warn("bad record", "source", b.Source, "object", name, "record", rerr.Index, "offset", rerr.Offset, "error", rerr.Err)
				continue
			case err != nil:
				return fmt.Errorf("%s: %w", name, err)
			}
			n++
			if ev.Time.After(newest) {
				newest = ev.Time
			}
			view.Reset(ev)
			matched = matched[:0]
			w.engine.Match(view, add)
			for _, o := range w.corr.Match(view, matched) {
				occ = append(occ, own(o))
			}
			prof.Observe(view)
		}
	}
	// Digest files are verified as they come; objects already done (a
	// redelivered notification) are skipped.
	var problems []integrity.Problem
	var chainCPs []detect.Checkpoint
	for _, obj := range b.Objects {
		if !ingest.IsDigest(obj) {
			continue
		}
		ps, cp, err := w.digests.check(ctx, w.st, obj)
		if err != nil {
			return err
		}
		problems = append(problems, ps...)
		if cp != nil {
			chainCPs = append(chainCPs, *cp)
		}
	}
	marks, todo, err := w.unread(ctx, b.Objects)
	if err != nil {
		return err
	}
	for _, obj := range todo {
		r, err := opener.Open(obj)
		if err != nil {
			return err
		}
		dec := event.NewDecoder(r)
		err = each(obj.Name, dec)
		opener.Close()
		if err != nil {
			return err
		}
		w.metrics.ObjectsRead(b.Source, 1)
		w.metrics.BytesRead(b.Source, obj.Size)
	}
	var recordsMark []detect.Checkpoint
	if len(b.Records) > 0 {
		key := "watch:batch:" + b.Source + ":" + b.ID
		done, err := w.done(ctx, key)
		if err != nil {
			return err
		}
		if !done {
			if err := each(b.Source, event.NewDecoder(bytes.NewReader(bytes.Join(b.Records, []byte("\n"))))); err != nil {
				return err
			}
			recordsMark = append(recordsMark, detect.Checkpoint{Key: key, Value: "done", Time: newest})
		}
	}
	w.events.Add(n)
	w.metrics.EventsDecoded(b.Source, int(n))
	if !newest.IsZero() {
		w.metrics.NewestEvent(b.Source, newest)
	}

	recs, err := agg.Records()
	if err != nil {
		return err
	}
	obs := prof.Observations()
	touched := prof.Touched()
	var alerted int
	err = w.st.Update(ctx, func(tx detect.Tx) error {
		hits, err := w.corr.Add(ctx, tx, occ)
		if err != nil {
			return err
		}
		for _, h := range hits {
			rec, err := finding.HitRecord(h, w.corrInfos[h.Correlation], w.evidence)
			if err != nil {
				return err
			}
			recs = append(recs, rec)
		}
		if len(obs) > 0 {
			if err := tx.Observe(ctx, obs); err != nil {
				return err
			}
		}
		merged, err := tx.UpsertFindings(ctx, recs)
		if err != nil {
			return err
		}
		var findings []*finding.Finding
		for _, rec := range merged {
			f, err := finding.FromRecord(rec)
			if err != nil {
				return err
			}
			findings = append(findings, f)
		}
		// Profile findings are derived from the state as it now stands,
		// for what this batch touched; alerted once per revision.
		phits, err := w.prof.prof.Evaluate(ctx, tx, touched)
		if err != nil {
			return err
		}
		for _, h := range phits {
			findings = append(findings, finding.FromProfileHit(h, w.prof.infos[h.Detector], w.suppress))
		}
		if len(problems) > 0 {
			report := integrity.Report{Problems: problems}
			findings = append(findings, report.Findings()...)
		}
		for _, f := range findings {
			w.metrics.Findings(f.Rule.ID, f.Severity.Label, 1)
		}
		entries, err := w.router.Entries(findings)
		if err != nil {
			return err
		}
		if alerted, err = w.st.Enqueue(ctx, tx, time.Now(), entries); err != nil {
			return err
		}
		cps := append(append(marks, recordsMark...), chainCPs...)
		if b.Checkpoint != nil {
			cps = append(cps, *b.Checkpoint)
		}
		return tx.SetCheckpoints(ctx, cps)
	})
	if err == nil && alerted > 0 {
		w.log.Info("alerts queued", "source", b.Source, "batch", b.ID, "rows", alerted)
	}
	return err
}

// alertResult counts what became of an alert: the latency histogram runs
// from the alert's enqueueing (its batch's commit) to its delivery.
func (w *watcher) alertResult(sink string, m store.OutboxMessage, state store.OutboxState) {
	switch state {
	case store.OutboxDelivered:
		w.metrics.AlertSent(sink, m.EnqueuedAt)
	default:
		w.metrics.AlertFailed(sink)
	}
}

// sourceStats copies the sources' counters into the metrics, every
// interval, and the outbox backlog beside them.
func (w *watcher) sourceStats(ctx context.Context, sources []ingest.Source, names []string, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	last := make([]ingest.Stats, len(sources))
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for i, src := range sources {
			s, p := src.Stats(), last[i]
			name := names[i]
			w.metrics.SetMessagesInFlight(name, int(s.InFlight))
			w.metrics.MessagesReceived(name, int(s.Batches-p.Batches))
			w.metrics.MessagesDeleted(name, int(s.Acked-p.Acked))
			w.metrics.MessagesPoison(name, int(s.SetAside-p.SetAside))
			last[i] = s
		}
		if n, err := w.pending(); err == nil {
			w.metrics.SetOutboxBacklog("all", n)
		}
	}
}

// sourceNames names the sources watchSources builds, in its order.
func sourceNames(o watchOptions) []string {
	var out []string
	for _, q := range o.queues {
		out = append(out, "sqs:"+q)
	}
	for _, p := range o.polls {
		out = append(out, "s3poll:"+p)
	}
	if len(o.regions) > 0 {
		out = append(out, "lookup")
	}
	return out
}

// watchDigests raises a finding for each live trail whose next digest is
// late, every interval.
func (w *watcher) watchDigests(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		problems := w.digests.missing()
		if len(problems) == 0 {
			continue
		}
		report := integrity.Report{Problems: problems}
		findings := report.Findings()
		for _, p := range problems {
			w.log.Warn("digest missing", "account", p.Account, "region", p.Region, "trail", p.Trail, "detail", p.Detail)
		}
		err := w.st.Update(ctx, func(tx detect.Tx) error {
			entries, err := w.router.Entries(findings)
			if err != nil {
				return err
			}
			_, err = w.st.Enqueue(ctx, tx, time.Now(), entries)
			return err
		})
		if err != nil {
			w.log.Error("missing-digest alert not queued", "error", err)
		}
	}
}

// unread splits a batch's objects into the marks they will leave and those
// not read before (same key, size and ETag); digests are not read here.
func (w *watcher) unread(ctx context.Context, objs []ingest.Object) (marks []detect.Checkpoint, todo []ingest.Object, err error) {
	if len(objs) == 0 {
		return nil, nil, nil
	}
	keys := make([]string, 0, len(objs))
	byKey := map[string]detect.Checkpoint{}
	for _, o := range objs {
		if ingest.IsDigest(o) {
			continue
		}
		cp := detect.Checkpoint{Key: "watch:object:" + o.Name, Value: fmt.Sprintf("%d:%s", o.Size, o.ETag)}
		keys = append(keys, cp.Key)
		byKey[cp.Key] = cp
	}
	var seen []detect.Checkpoint
	err = w.st.View(ctx, func(r detect.Reader) error {
		var err error
		seen, err = r.Checkpoints(ctx, keys)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	done := map[string]bool{}
	for _, c := range seen {
		if byKey[c.Key].Value == c.Value {
			done[c.Key] = true
		}
	}
	for _, o := range objs {
		k := "watch:object:" + o.Name
		if cp, ok := byKey[k]; ok && !done[k] {
			todo = append(todo, o)
			marks = append(marks, cp)
		}
	}
	return marks, todo, nil
}

// done reports whether a checkpoint key is in the state.
func (w *watcher) done(ctx context.Context, key string) (bool, error) {
	var found bool
	err := w.st.View(ctx, func(r detect.Reader) error {
		got, err := r.Checkpoints(ctx, []string{key})
		found = len(got) > 0
		return err
	})
	return found, err
}

// dispatch sends the outbox's alerts until the context ends; with
// drain set, it keeps going after the workers stop until the outbox is
// empty or a minute has passed (a backfill's last alerts are sent).
func (w *watcher) dispatch(ctx context.Context, d *alert.Dispatcher, every time.Duration, drain bool) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	deadline := time.Time{}
	for {
		if _, err := d.DispatchOnce(context.WithoutCancel(ctx)); err != nil {
			w.log.Warn("alert dispatch", "error", err)
		}
		if w.doneWorking.Load() {
			if !drain {
				return
			}
			if deadline.IsZero() {
				deadline = time.Now().Add(time.Minute)
			}
			if pending, _ := w.pending(); pending == 0 || time.Now().After(deadline) {
				return
			}
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			if !drain {
				return
			}
			<-tick.C
		}
	}
}

// pending counts outbox rows still to send.
func (w *watcher) pending() (int, error) {
	rows, err := w.st.ListOutbox(context.Background(), store.OutboxPending, 1000)
	return len(rows), err
}

// exitWhenIdle stops the watch once no batch has come for idle.
func (w *watcher) exitWhenIdle(ctx context.Context, idle time.Duration, stop func()) {
	t := time.NewTicker(idle / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if time.Since(time.Unix(0, w.lastWork.Load())) >= idle {
				w.log.Info("no work for a while: stopping", "idle", idle.String())
				stop()
				return
			}
		}
	}
}
