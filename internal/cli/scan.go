package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/trailsentry/trailsentry/internal/detect"
	"github.com/trailsentry/trailsentry/internal/enrich"
	"github.com/trailsentry/trailsentry/internal/event"
	"github.com/trailsentry/trailsentry/internal/finding"
	"github.com/trailsentry/trailsentry/internal/ingest"
	"github.com/trailsentry/trailsentry/internal/store"
	"github.com/trailsentry/trailsentry/rules"
)

const scanSynopsis = `Usage: trailsentry scan [flags] PATH...

Scans CloudTrail from files, folders walked recursively (the S3 layout
AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/), s3://bucket/prefix (read
straight from S3, listing only the days --since/--until need), or - for
standard input.
Content is recognised by its bytes: CloudTrail log files {"Records":[...]},
JSON arrays, JSON Lines and EventBridge envelopes, plain or gzip. Digest and
Insights files are skipped.`

// scanMemoryLimit is the Go heap's soft limit during a scan (GOMEMLIMIT
// overrides it; a container's memory limit lowers it). The heap's live part
// is bounded — evidence caps, the in-memory state's budgets and expiry — at
// about 250–280 MiB with every stateful detection on at 10 million events
// over 30 days: the limit leaves the collector room for twice that, as its
// default pacing wants. At 320 MiB it ran almost without pause at 10M
// events, and the scan took twice the CPU time it takes at 768 MiB.
const scanMemoryLimit = 768 << 20

// memoryLimit is the heap limit for a scan: scanMemoryLimit, or three
// quarters of the container's memory limit (cgroup v2, else v1) when that
// is lower.
func memoryLimit() int64 {
	limit := int64(scanMemoryLimit)
	for _, f := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// "max" (v2) or a huge number (v1) when there is no limit.
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && n > 0 {
			limit = min(limit, n/4*3)
		}
		break
	}
	return limit
}

// listReloadInterval is how often threat and trusted lists are checked for
// changes during a scan.
const listReloadInterval = 15 * time.Second

type scanOptions struct {
	rulePaths   listFlag
	noBuiltin   bool
	format      string
	failOn      string
	since       string
	until       string
	accounts    listFlag
	regions     listFlag
	workers     int
	maxEvidence int
	progress    string
	color       string
	cpuProfile  string
	threatLists listFlag
	trusted     listFlag
	state       string
	config      string
	suppressed  bool
	shadow      bool
	s3PathStyle bool
	learning    string
	retention   string
	noProfiles  bool
	noCorr      bool
	asnDB       string
	geoDB       string
}

func runScan(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var o scanOptions
	fs := newFlagSet("scan", stderr, scanSynopsis)
	fs.Var(&o.rulePaths, "rules", "Sigma rule file or folder to add (repeatable)")
	fs.BoolVar(&o.noBuiltin, "no-builtin", false, "do not load the built-in rule pack")
	fs.StringVar(&o.format, "format", "", "output: table, json, jsonl or ocsf (default table on a terminal, json otherwise)")
	fs.StringVar(&o.failOn, "fail-on", "low", "exit 1 when a finding is at or above: info, low, medium, high, critical, or none")
	fs.StringVar(&o.since, "since", "", "only events at or after this time (2024-05-01, RFC 3339, or an age such as 36h or 7d)")
	fs.StringVar(&o.until, "until", "", "only events before this time (same forms as --since)")
	fs.Var(&o.accounts, "account", "only events of this account id (repeatable, or comma-separated)")
	fs.Var(&o.regions, "region", "only events of this region (repeatable, or comma-separated)")
	fs.IntVar(&o.workers, "workers", runtime.GOMAXPROCS(0), "files decoded in parallel")
	fs.IntVar(&o.maxEvidence, "max-evidence", 100, "event ids kept per finding (the count is always complete); memory grows with it")
	fs.StringVar(&o.progress, "progress", "auto", "progress line on stderr: auto (when a terminal), always, never")
	fs.StringVar(&o.color, "color", "auto", "colour in the table: auto, always, never")
	fs.Var(&o.threatLists, "threat-list", "file of threat IPs/CIDRs (text or CSV): a call from one is a finding (repeatable)")
	fs.Var(&o.trusted, "trusted-list", "file of trusted IPs/CIDRs: network-based rules leave calls from them alone (repeatable)")
	fs.StringVar(&o.state, "state", "", "merge findings into this state and skip files it already holds: a SQLite file, \"default\" (the user's state directory) or a postgres:// URL")
	fs.StringVar(&o.config, "config", "", "configuration file (YAML) with suppressions: matches people judged benign, kept but not reported")
	fs.BoolVar(&o.suppressed, "include-suppressed", false, "also show suppressed findings (they never count toward the exit code)")
	fs.BoolVar(&o.shadow, "include-shadow", false, "also show the findings of rules in shadow mode (they never count toward the exit code)")
	fs.StringVar(&o.learning, "learning", "7d", "learning period of the first-seen baselines: what a principal, account or key does in its first LEARNING is learnt, not reported")
	fs.StringVar(&o.asnDB, "asn-db", os.Getenv("TRAILSENTRY_ASN_DB"), "MaxMind ASN database (GeoLite2-ASN.mmdb): the caller's network is its autonomous system")
	fs.StringVar(&o.geoDB, "geo-db", os.Getenv("TRAILSENTRY_GEO_DB"), "MaxMind country or city database (GeoLite2-Country.mmdb): the caller's country")
	fs.StringVar(&o.retention, "retention", "", "with --state: after the scan, drop state (correlation windows, baselines, findings, file marks) older than this before the newest event (90d); unset keeps everything")
	fs.BoolVar(&o.noCorr, "no-correlations", false, "leave out the correlation rules (and the silent steps only they use): with --no-profiles, a stateless scan")
	fs.BoolVar(&o.noProfiles, "no-profiles", false, "leave out the profile detections (first-seen baselines, credential origin, risk tiers)")
	fs.BoolVar(&o.s3PathStyle, "s3-path-style", false, "address S3 buckets path-style (http://host/bucket/key), for S3-compatible servers given with AWS_ENDPOINT_URL_S3")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a Go CPU profile of the scan to this file (for performance work)")
	paths, err := parseFlags(fs, args)
	if err != nil {
		return usageError(stderr, err)
	}
	if len(paths) == 0 {
		fs.Usage()
		return usageError(stderr, errors.New("scan needs at least one PATH (or - for standard input)"))
	}

	threshold, err := finding.ParseThreshold(o.failOn)
	if err != nil {
		return usageError(stderr, fmt.Errorf("--fail-on: %w", err))
	}
	filter, err := newEventFilter(o.since, o.until, o.accounts, o.regions, time.Now())
	if err != nil {
		return usageError(stderr, err)
	}
	write, err := findingWriter(o.format, stdout)
	if err != nil {
		return usageError(stderr, err)
	}
	if o.workers < 1 {
		return usageError(stderr, fmt.Errorf("--workers must be at least 1"))
	}
	if o.maxEvidence < 1 {
		return usageError(stderr, fmt.Errorf("--max-evidence must be at least 1"))
	}
	learning, err := parseSpan(o.learning)
	if err != nil {
		return usageError(stderr, fmt.Errorf("--learning: %w", err))
	}
	var retention time.Duration
	if o.retention != "" {
		if o.state == "" {
			return usageError(stderr, errors.New("--retention needs --state: without one nothing is kept"))
		}
		if retention, err = parseSpan(o.retention); err != nil || retention <= 0 {
			return usageError(stderr, fmt.Errorf("--retention %q: want a positive duration such as 90d", o.retention))
		}
	}
	for flag, v := range map[string]string{"--progress": o.progress, "--color": o.color} {
		if v != "auto" && v != "always" && v != "never" {
			return usageError(stderr, fmt.Errorf("%s %q: want auto, always or never", flag, v))
		}
	}
	stdinTwice := 0
	for _, p := range paths {
		if p == ingest.Stdin {
			stdinTwice++
		}
	}
	if stdinTwice > 1 {
		return usageError(stderr, errors.New("standard input (-) can be read only once"))
	}
	if err := ingest.CheckPaths(paths); err != nil {
		return usageError(stderr, err)
	}
	s3src, err := newS3Source(ctx, paths, o.s3PathStyle, filter.selection())
	if err != nil {
		return usageError(stderr, err)
	}

	if os.Getenv("GOMEMLIMIT") == "" {
		// Memory stays bounded whatever the corpus: past this soft limit the
		// collector works harder instead of letting the heap double.
		debug.SetMemoryLimit(memoryLimit())
		if os.Getenv("GOGC") == "" {
			// Below the limit, the heap may triple its live part before a
			// collection rather than double it: a scan's state is long-lived,
			// and each collection marks all of it (34 collections of a
			// 1M-event scan become 15).
			debug.SetGCPercent(200)
		}
	}
	tty := isTerminal(stderr)
	con := newConsole(stderr, tty)
	suppressions, notes, err := loadConfig(o.config, time.Now())
	if err != nil {
		return usageError(stderr, err)
	}
	for _, n := range notes {
		con.warn(n)
	}
	ruleSet, corrs, loadErrs, err := loadRules(o.rulePaths, !o.noBuiltin)
	if err != nil {
		return usageError(stderr, err)
	}
	if o.noCorr {
		ruleSet, corrs = withoutCorrelations(ruleSet, corrs), nil
	}
	for _, e := range loadErrs {
		con.warn("rule not loaded: " + e.Error())
	}
	if len(ruleSet) == 0 {
		return usageError(stderr, errors.New("no rules to run: drop --no-builtin or give --rules"))
	}

	enricher, err := enrich.New(ctx, enrich.Options{ThreatLists: o.threatLists, TrustedLists: o.trusted, ASNDatabase: o.asnDB, GeoDatabase: o.geoDB})
	if err != nil {
		return usageError(stderr, err)
	}
	if len(o.threatLists)+len(o.trusted) > 0 || o.asnDB != "" || o.geoDB != "" {
		// A scan of a stream (stdin) can run for days: edited lists apply
		// without a restart.
		watchCtx, stopWatch := context.WithCancel(ctx)
		defer stopWatch()
		go enricher.Watch(watchCtx, listReloadInterval, func(err error) {
			if err != nil {
				con.warn("intel list not reloaded, the previous one stays in force", "error", err)
			} else {
				con.info("intel lists reloaded")
			}
		})
	}

	var st store.Store
	if o.state != "" {
		dsn := o.state
		if dsn == "default" {
			dsn = ""
		}
		if st, err = store.Open(ctx, dsn); err != nil {
			return usageError(stderr, fmt.Errorf("--state: %w", err))
		}
		defer st.Close()
	}

	var state detect.State = detect.NewMemoryState() // the run's, without --state
	if st != nil {
		state = st
	}
	var corr *correlating
	if len(corrs) > 0 {
		corr = newCorrelating(corrs, state, st == nil, o.maxEvidence)
	}
	var prof *profiling
	if !o.noProfiles {
		prof = newProfiling(learning, state)
	}

	showProgress := o.progress == "always" || (o.progress == "auto" && tty)
	var stateNewest, horizon time.Time
	if st != nil {
		if stateNewest, horizon, err = stateTimes(ctx, st); err != nil {
			return usageError(stderr, fmt.Errorf("--state: %w", err))
		}
	}
	sc := &scanner{
		horizon:  horizon,
		corr:     corr,
		s3:       s3src,
		prof:     prof,
		suppress: suppressions,
		ctx:      ctx,
		state:    st,
		enricher: enricher,
		engine:   detect.NewEngine(ruleSet),
		infos:    ruleInfos(ruleSet),
		filter:   filter,
		con:      con,
		workers:  o.workers,
		evCap:    o.maxEvidence,
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return usageError(stderr, err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return usageError(stderr, err)
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	res := sc.run(ctx, paths, stdin, showProgress)
	elapsed := time.Since(start)
	if p := os.Getenv("TRAILSENTRY_MEMPROFILE"); p != "" { // for performance work
		if f, err := os.Create(p); err == nil {
			pprof.WriteHeapProfile(f)
			f.Close()
		}
	}

	findings := res.agg.Findings()
	var corrRecs []detect.FindingRecord
	if corr != nil {
		corrRecs = corr.records()
	}
	switch {
	case st != nil && ctx.Err() == nil:
		if findings, err = persist(ctx, st, res, corrRecs); err != nil {
			fmt.Fprintf(stderr, "trailsentry: --state %s: %v\n", st.Location(), err)
			return ExitUsage
		}
	case len(corrRecs) > 0:
		for _, rec := range corrRecs {
			f, err := finding.FromRecord(rec)
			if err != nil {
				fmt.Fprintf(stderr, "trailsentry: %v\n", err)
				return ExitUsage
			}
			findings = append(findings, f)
		}
		finding.Sort(findings)
	}
	if prof != nil && ctx.Err() == nil {
		pf, err := prof.findings(ctx, false, findings, suppressions)
		if err != nil {
			con.warn("profile findings not derived", "error", err)
			res.stateErrors++
		}
		findings = append(findings, pf...)
		finding.Sort(findings)
	}
	if st != nil && ctx.Err() == nil {
		newest := stateNewest
		if res.newest.After(newest) {
			newest = res.newest
			if err := recordNewest(ctx, st, newest); err != nil {
				con.warn("state not updated", "error", err)
				res.stateErrors++
			}
		}
		if retention > 0 && !newest.IsZero() {
			if err := evict(ctx, st, newest, retention, corr, con); err != nil {
				con.warn("state retention not applied", "error", err)
				res.stateErrors++
			}
		}
	}
	if res.beforeHorizon > 0 {
		con.warn("events older than the state's retention horizon were left out: what they would join was dropped",
			"events", res.beforeHorizon, "horizon", horizon.Format(time.RFC3339))
	}
	findings, silenced, shadowed := splitSilenced(findings, o.suppressed, o.shadow)
	sum := res.summary(len(ruleSet), len(loadErrs))
	sum.Finish(reported(findings), elapsed)
	sum.FindingsSuppressed, sum.FindingsShadow = silenced, shadowed
	color := o.color == "always" || (o.color == "auto" && isTerminal(stdout) && os.Getenv("NO_COLOR") == "")
	opts := finding.Options{Width: terminalWidth(stdout, finding.DefaultWidth), Color: color, Version: Version}
	if err := write(stdout, findings, sum, opts); err != nil {
		fmt.Fprintf(stderr, "trailsentry: write findings: %v\n", err)
		return ExitUsage
	}
	printSummary(con, sum)
	if sum.EventsDecoded > 0 && sum.EventsFiltered == sum.EventsDecoded {
		con.warn("every event was filtered out by --since/--until/--account/--region; nothing was matched")
	}

	switch {
	case ctx.Err() != nil:
		con.warn("interrupted: the findings above cover only what was scanned before")
		return ExitUsage
	case res.unreadable > 0 || res.unrecognised > 0 || res.stateErrors > 0:
		return ExitUsage
	case finding.CountAtOrAbove(reported(findings), threshold) > 0:
		return ExitFindings
	}
	return ExitOK
}

// splitSilenced counts the suppressed findings and those of rules in shadow
// mode, and leaves them out unless they are to be shown.
func splitSilenced(all []*finding.Finding, showSuppressed, showShadow bool) (out []*finding.Finding, suppressed, shadow int) {
	out = all[:0:0]
	for _, f := range all {
		switch {
		case f.Suppressed:
			suppressed++
			if !showSuppressed {
				continue
			}
		case f.Shadow:
			shadow++
			if !showShadow {
				continue
			}
		}
		out = append(out, f)
	}
	return out, suppressed, shadow
}

// reported leaves out what is never reported: suppressed findings and
// those of rules in shadow mode.
func reported(all []*finding.Finding) []*finding.Finding {
	out, _, _ := splitSilenced(all, false, false)
	return out
}

// findingWriter returns the writer of the format asked for: by default the
// table on a terminal, one JSON document otherwise.
func findingWriter(format string, stdout io.Writer) (finding.WriteFunc, error) {
	if format == "" {
		format = "json"
		if isTerminal(stdout) {
			format = "table"
		}
	}
	return finding.Writer(format)
}

// loadRules gathers the built-in pack and every --rules path: detection
// rules and the correlation rules over them. A path that does not exist is
// an error; a rule that does not compile is reported and left out.
func loadRules(paths []string, builtin bool) ([]*detect.Rule, []*detect.Correlation, []error, error) {
	var all []*detect.Rule
	var corrs []*detect.Correlation
	var errs []error
	if builtin {
		rs, cs, es := detect.LoadPackFS(rules.FS, "builtin")
		all, corrs, errs = append(all, rs...), append(corrs, cs...), append(errs, es...)
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return nil, nil, nil, fmt.Errorf("--rules %s: %w", p, errors.Unwrap(err))
		}
		rs, cs, es := detect.LoadPackPath(p)
		all, corrs, errs = append(all, rs...), append(corrs, cs...), append(errs, es...)
	}
	all, dup := detect.CheckDuplicates(all)
	errs = append(errs, dup...)
	errs = append(errs, detect.Link(all, corrs)...)
	linked := corrs[:0]
	for _, c := range corrs {
		if c.Rules != nil {
			linked = append(linked, c)
		}
	}
	return all, linked, errs, nil
}

// withoutCorrelations leaves out the rules that exist only as silent steps
// of correlations: without the correlations they would report every step.
func withoutCorrelations(rs []*detect.Rule, corrs []*detect.Correlation) []*detect.Rule {
	c := detect.NewCorrelator(corrs, 0)
	out := rs[:0:0]
	for _, r := range rs {
		if c.Generates(r) {
			out = append(out, r)
		}
	}
	return out
}

// ruleInfos describes each rule once for the findings it produces.
func ruleInfos(rs []*detect.Rule) map[*detect.Rule]*finding.RuleInfo {
	m := make(map[*detect.Rule]*finding.RuleInfo, len(rs))
	for _, r := range rs {
		id := r.ID
		if id == "" {
			// Sigma makes id optional; findings need one that tells rules
			// apart and stays the same from run to run.
			id = "noid-" + finding.DedupID(r.Source, r.Title, "", "")[:16]
		}
		m[r] = &finding.RuleInfo{
			ID: id, Title: r.Title, Source: r.Source, Level: r.Level,
			Description: r.Description, Attack: r.Attack, FalsePositives: r.FalsePositives,
			Shadow: r.Shadow, Dedup: r.Dedup,
		}
	}
	return m
}

// scanner runs the pipeline: a walker feeds objects to workers; each worker
// decodes, filters, matches and aggregates on its own; the aggregates merge
// at the end, so workers never contend on the hot path.
type scanner struct {
	horizon  time.Time    // the state's retention horizon: older events are left out
	corr     *correlating // nil without correlation rules
	s3       *ingest.S3   // nil when no PATH is an s3:// URL
	prof     *profiling   // nil with --no-profiles
	suppress *finding.Suppressions
	ctx      context.Context
	state    store.Store // nil without --state
	enricher *enrich.Enricher
	engine   *detect.Engine
	infos    map[*detect.Rule]*finding.RuleInfo
	filter   *eventFilter
	con      *console
	workers  int
	evCap    int
}

// counts are one worker's tallies.
type counts struct {
	files         int // files that held events (or were empty)
	digest        int
	insights      int
	unrecognised  int
	unreadable    int
	events        int64
	filtered      int64
	bad           int64
	inState       int       // files the state says were scanned already
	stateErrors   int       // correlation batches the state refused
	newest        time.Time // the latest event time scanned
	beforeHorizon int64     // events older than the state's retention horizon, left out
	fileNewest    time.Time // the latest event time of the file being scanned
}

func (c *counts) add(o counts) {
	c.files += o.files
	c.digest += o.digest
	c.insights += o.insights
	c.unrecognised += o.unrecognised
	c.unreadable += o.unreadable
	c.events += o.events
	c.filtered += o.filtered
	c.bad += o.bad
	c.inState += o.inState
	c.stateErrors += o.stateErrors
	c.beforeHorizon += o.beforeHorizon
	if o.newest.After(c.newest) {
		c.newest = o.newest
	}
}

type scanResult struct {
	counts
	agg  *finding.Aggregator
	done []detect.Checkpoint  // files read to the end, for the state
	occ  []detect.Occurrence  // correlation occurrences not yet stored
	prof *detect.ProfileBatch // profile observations not yet stored
}

func (r *scanResult) summary(rules, ruleErrs int) *finding.Summary {
	skipped := map[string]int{}
	for kind, n := range map[string]int{"digest": r.digest, "insights": r.insights, "not_cloudtrail": r.unrecognised, "unreadable": r.unreadable, "already_in_state": r.inState} {
		if n > 0 {
			skipped[kind] = n
		}
	}
	return &finding.Summary{
		FilesScanned:   r.files,
		FilesSkipped:   skipped,
		EventsDecoded:  r.events,
		EventsFiltered: r.filtered,
		BadRecords:     r.bad,
		RulesLoaded:    rules,
		RuleLoadErrors: ruleErrs,
	}
}

// printSummary ends the run on stderr: a few readable lines on a terminal,
// one key=value line elsewhere.
func printSummary(con *console, s *finding.Summary) {
	sev := s.FindingsBySeverity
	if !con.tty {
		con.info("summary", "files", s.FilesScanned, "files_skipped", s.FilesSkippedTotal(),
			"events", s.EventsDecoded, "events_filtered", s.EventsFiltered, "bad_records", s.BadRecords,
			"seconds", fmt.Sprintf("%.3f", s.Duration.Seconds()), "events_per_second", int64(s.EventsPerSecond),
			"critical", sev.Critical, "high", sev.High, "medium", sev.Medium, "low", sev.Low, "info", sev.Info,
			"rules", s.RulesLoaded, "rule_errors", s.RuleLoadErrors)
		return
	}
	skipped := ""
	if n := s.FilesSkippedTotal(); n > 0 {
		skipped = fmt.Sprintf(" (%d skipped: %v)", n, s.FilesSkipped)
	}
	filtered := ""
	if s.EventsFiltered > 0 {
		filtered = fmt.Sprintf(", %s filtered out", group(s.EventsFiltered))
	}
	con.info(fmt.Sprintf("Scanned %s files%s, %s events%s, %s bad records in %.1fs (%s events/s).",
		group(int64(s.FilesScanned)), skipped, group(s.EventsDecoded), filtered, group(s.BadRecords),
		s.Duration.Seconds(), group(int64(s.EventsPerSecond))))
	con.info(fmt.Sprintf("Findings: %d critical, %d high, %d medium, %d low, %d info. Rules: %d loaded, %d not loaded.",
		sev.Critical, sev.High, sev.Medium, sev.Low, sev.Info, s.RulesLoaded, s.RuleLoadErrors))
}

func (s *scanner) run(ctx context.Context, paths []string, stdin io.Reader, showProgress bool) scanResult {
	objs := make(chan ingest.Object, 256)
	prog := &progress{}
	var walkErrs counts
	found := make(chan ingest.Object, 256)
	go ingest.Walk(ctx, paths, stdin, s.s3, found, func(err error) {
		s.con.warn(err.Error())
		walkErrs.unreadable++ // only the walker goroutine writes this
	})
	go func() { // count what the walker finds, for the progress line
		for o := range found {
			prog.filesTotal.Add(1)
			prog.bytesTotal.Add(o.Size)
			objs <- o
		}
		prog.walkingDone.Store(true)
		close(objs)
	}()

	stop := make(chan struct{})
	var drawn sync.WaitGroup
	if showProgress {
		drawn.Add(1)
		go func() { defer drawn.Done(); s.con.draw(prog, time.Now(), stop) }()
	}

	results := make([]scanResult, s.workers)
	var wg sync.WaitGroup
	for w := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[w] = s.work(ctx, objs, prog)
		}()
	}
	wg.Wait()
	close(stop)
	drawn.Wait()

	out := scanResult{agg: s.aggregator()}
	out.add(walkErrs)
	for _, r := range results {
		out.add(r.counts)
		out.agg.Merge(r.agg)
		out.done = append(out.done, r.done...)
	}
	return out
}

// work is one worker: it takes objects until there are none left.
func (s *scanner) work(ctx context.Context, objs <-chan ingest.Object, prog *progress) scanResult {
	res := scanResult{agg: s.aggregator()}
	if s.prof != nil {
		res.prof = s.prof.prof.NewBatch()
	}
	opener := ingest.NewOpener()
	view := s.enricher.NewView() // reset for each event; its caches last the whole run
	var dec *event.Decoder
	for obj := range objs {
		if ctx.Err() != nil {
			continue // drain, so the walker can finish
		}
		cp, scanned := s.checkpoint(obj)
		if scanned {
			res.inState++
			prog.filesDone.Add(1)
			prog.bytesDone.Add(obj.Size)
			continue
		}
		r, err := opener.Open(obj)
		if err != nil {
			s.con.warn(err.Error())
			res.unreadable++
			prog.filesDone.Add(1)
			continue
		}
		if dec == nil {
			dec = event.NewDecoder(r)
			dec.Reuse() // nothing downstream keeps an event: the aggregator copies what it stores
		} else {
			dec.Reset(r)
		}
		res.fileNewest = time.Time{}
		if s.decodeObject(obj.Name, dec, view, &res, prog) && cp != nil {
			cp.Time = res.fileNewest // --retention lets the mark go with the file's events
			res.done = append(res.done, *cp)
		}
		if res.fileNewest.After(res.newest) {
			res.newest = res.fileNewest
		}
		opener.Close()
		prog.filesDone.Add(1)
		prog.bytesDone.Add(obj.Size)
	}
	s.flushOccurrences(&res)
	s.flushProfile(&res)
	return res
}

// flushProfile stores a worker's pending profile observations.
func (s *scanner) flushProfile(res *scanResult) {
	if res.prof == nil || res.prof.Len() == 0 {
		return
	}
	if err := s.prof.flush(s.ctx, res.prof); err != nil {
		s.con.warn("profile state not written", "error", err)
		res.stateErrors++
	}
}

// flushOccurrences stores a worker's pending correlation occurrences.
func (s *scanner) flushOccurrences(res *scanResult) {
	if s.corr == nil || len(res.occ) == 0 {
		return
	}
	if err := s.corr.add(s.ctx, res.occ); err != nil {
		s.con.warn("correlation state not written", "error", err)
		res.stateErrors++
	}
	res.occ = res.occ[:0]
}

func (s *scanner) aggregator() *finding.Aggregator {
	a := finding.NewAggregator(s.evCap)
	a.Suppress(s.suppress)
	return a
}

// checkpoint is the mark a file leaves in the state once scanned, and
// whether the state holds it already (same path, size and modification
// time; for an S3 object, same URL, size, ETag and LastModified). Streams
// leave none.
func (s *scanner) checkpoint(obj ingest.Object) (*detect.Checkpoint, bool) {
	if s.state == nil || obj.Stream() {
		return nil, false
	}
	var cp *detect.Checkpoint
	if ingest.IsS3URL(obj.Name) {
		cp = &detect.Checkpoint{
			Key:   "scan:s3:" + obj.Name,
			Value: fmt.Sprintf("%d:%s:%d", obj.Size, obj.ETag, obj.ModTime.UnixNano()),
		}
	} else {
		path, err := filepath.Abs(obj.Name)
		if err != nil {
			return nil, false
		}
		cp = &detect.Checkpoint{
			Key:   "scan:file:" + path,
			Value: fmt.Sprintf("%d:%d", obj.Size, obj.ModTime.UnixNano()),
		}
	}
	var seen bool
	err := s.state.View(s.ctx, func(r detect.Reader) error {
		got, err := r.Checkpoints(s.ctx, []string{cp.Key})
		seen = err == nil && len(got) == 1 && got[0].Value == cp.Value
		return err
	})
	if err != nil {
		s.con.warn("state not read, the file is scanned", "file", obj.Name, "error", err)
	}
	return cp, seen
}

// persist merges the run's findings into the state, with the marks of the
// files read, in one transaction, and returns the merged findings: the
// state's view of every finding this run touched.
func persist(ctx context.Context, st store.Store, res scanResult, more []detect.FindingRecord) ([]*finding.Finding, error) {
	recs, err := res.agg.Records()
	if err != nil {
		return nil, err
	}
	recs = append(recs, more...)
	// In chunks, each turned into findings at once: the encoded records of
	// a large run are never all in memory together.
	const chunk = 128
	var out []*finding.Finding
	err = st.Update(ctx, func(tx detect.Tx) error {
		out = out[:0]
		for i := 0; i < len(recs); i += chunk {
			merged, err := tx.UpsertFindings(ctx, recs[i:min(i+chunk, len(recs))])
			if err != nil {
				return err
			}
			for j, rec := range merged {
				f, err := finding.FromRecord(rec)
				if err != nil {
					return err
				}
				out = append(out, f)
				recs[i+j] = detect.FindingRecord{} // let the record go
			}
		}
		return tx.SetCheckpoints(ctx, res.done)
	})
	if err != nil {
		return nil, err
	}
	finding.Sort(out)
	return out, nil
}

// decodeObject runs every event of one stream through filter and engine. It
// reports whether the stream was read to its end.
func (s *scanner) decodeObject(name string, dec *event.Decoder, view *enrich.View, res *scanResult, prog *progress) (complete bool) {
	var n int64
	var matched []*detect.Rule // for correlation rules
	add := func(r *detect.Rule) {
		if s.corr != nil {
			matched = append(matched, r)
			if !s.corr.corr.Generates(r) {
				return // only counts toward its correlations
			}
		}
		res.agg.Add(s.infos[r], view)
	}
	filtering := s.filter.active()
	for {
		ev, err := dec.Next()
		if err == nil {
			n++
			if n&1023 == 0 {
				prog.events.Add(1024)
				if s.ctx.Err() != nil {
					break // interrupted: keep what was found so far
				}
			}
			if filtering && !s.filter.keep(ev) {
				res.filtered++
				continue
			}
			if !s.horizon.IsZero() && ev.Time.Before(s.horizon) {
				res.filtered++
				res.beforeHorizon++
				continue
			}
			if ev.Time.After(res.fileNewest) {
				res.fileNewest = ev.Time
			}
			view.Reset(ev)
			s.engine.Match(view, add)
			if res.prof != nil {
				res.prof.Observe(view)
				if res.prof.Full(profileBatch) {
					s.flushProfile(res)
				}
			}
			if len(matched) > 0 {
				for _, o := range s.corr.corr.Match(view, matched) {
					res.occ = append(res.occ, own(o))
				}
				matched = matched[:0]
				if len(res.occ) >= occurrenceBatch {
					s.flushOccurrences(res)
				}
			}
			continue
		}
		var rerr *event.RecordError
		switch {
		case err == io.EOF:
			res.files++
			complete = s.ctx.Err() == nil
		case errors.Is(err, event.ErrSkipFile):
			complete = true
			if dec.Format() == event.FormatDigest {
				res.digest++
			} else {
				res.insights++
			}
		case errors.As(err, &rerr):
			res.bad++
			s.con.warn("bad record", "file", name, "record", rerr.Index, "offset", rerr.Offset, "error", rerr.Err)
			continue
		case dec.Format() == event.FormatUnknown:
			res.unrecognised++
			what := "not CloudTrail JSON, skipped"
			if !strings.HasPrefix(err.Error(), "not JSON") {
				what = "unreadable (corrupt gzip or read error), skipped"
			}
			s.con.warn(what, "file", name, "error", err)
		default:
			res.bad++
			res.files++
			s.con.warn("input ends early", "file", name, "offset", dec.Offset(), "error", err)
		}
		break
	}
	prog.events.Add(n & 1023)
	res.events += n
	return complete
}
