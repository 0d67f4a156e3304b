// Package corpus writes realistic CloudTrail log files for trials,
// benchmarks and detection tests: gzip files in the layout CloudTrail
// delivers to S3, holding ordinary traffic of a small organization (people,
// pipelines, instances, pods, Lambda functions, a monitoring integration, AWS
// services) with a known set of attack events planted in it.
//
// The output depends only on the Options: the same seed gives byte-identical
// files whatever the number of CPUs.
package corpus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
)

// Options says what to generate.
type Options struct {
	Dir      string        // output root; files go under Dir/AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/
	Events   int           // total events
	Files    int           // number of .json.gz files (events spread evenly); 0 means one per 500 events
	Seed     int64         // deterministic output for a given seed
	Start    time.Time     // first event time; zero means 2024-03-11T00:00:00Z
	Span     time.Duration // time the files cover; zero means 72 hours
	Accounts []string      // 12-digit account IDs; default three. With two or more, the last one is
	// delivered by an organization trail, under AWSLogs/o-…/<account>/…
}

// Planted is the ground truth for one attack event in the corpus.
type Planted struct {
	EventID     string `json:"eventID"`
	EventSource string `json:"eventSource"`
	EventName   string `json:"eventName"`
	Technique   string `json:"technique"` // MITRE ATT&CK technique ID
	Description string `json:"description"`
	File        string `json:"file"` // path relative to Options.Dir, with forward slashes
}

// GroundTruthFile is the name, under Options.Dir, of the JSON array of
// Planted records that Generate writes. The leading dot keeps it out of a
// scan of Dir: it is not CloudTrail.
const GroundTruthFile = ".ground-truth.json"

// span is how much time the corpus covers by default, and window how much
// one file covers (CloudTrail delivers about every five minutes).
const (
	span   = 72 * time.Hour
	window = 5 * time.Minute
)

var defaultAccounts = []string{"482915730126", "739402185563", "205817364490"}

// Generate writes the corpus and returns the planted attack events (also
// written to Dir/.ground-truth.json). progress, if not nil, is called after
// each file with the number of files written so far; calls never overlap.
func Generate(ctx context.Context, opt Options, progress func(done, total int)) ([]Planted, error) {
	if err := opt.normalize(); err != nil {
		return nil, err
	}
	cat := newCatalog()
	est := newEstate(opt.Seed, opt.Accounts, cat.masks)
	files, planted := makePlan(opt, est)

	dirs := map[string]bool{}
	for _, f := range files {
		dirs[filepath.Dir(f.path)] = true
	}
	for d := range dirs {
		if err := os.MkdirAll(filepath.Join(opt.Dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("corpus: %w", err)
		}
	}

	if err := writeFiles(ctx, opt, est, cat, files, progress); err != nil {
		return nil, err
	}

	if planted == nil {
		planted = []Planted{} // an empty array, not null
	}
	truth, err := json.MarshalIndent(planted, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("corpus: ground truth: %w", err)
	}
	if err := os.WriteFile(filepath.Join(opt.Dir, GroundTruthFile), append(truth, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("corpus: %w", err)
	}
	return planted, nil
}

func (o *Options) normalize() error {
	if o.Dir == "" {
		return errors.New("corpus: no output folder")
	}
	if o.Events < 1 {
		return fmt.Errorf("corpus: events must be positive, got %d", o.Events)
	}
	if o.Files == 0 {
		o.Files = max(1, (o.Events+499)/500)
	}
	if o.Files < 1 || o.Files > o.Events {
		return fmt.Errorf("corpus: need 1 <= files <= events, got %d files for %d events", o.Files, o.Events)
	}
	if o.Span <= 0 {
		o.Span = span
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2024, 3, 11, 0, 0, 0, 0, time.UTC)
	}
	o.Start = o.Start.UTC()
	if len(o.Accounts) == 0 {
		o.Accounts = defaultAccounts
	}
	seen := map[string]bool{}
	for _, a := range o.Accounts {
		if len(a) != 12 || !allDigits(a) {
			return fmt.Errorf("corpus: account %q is not a 12-digit account ID", a)
		}
		if seen[a] {
			return fmt.Errorf("corpus: account %s listed twice", a)
		}
		seen[a] = true
	}
	return nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// writeFiles generates the files on GOMAXPROCS workers. Every file has its
// own random stream, so the result does not depend on which worker writes
// which file.
func writeFiles(ctx context.Context, opt Options, est *estate, cat *catalog, files []*fileSpec, progress func(done, total int)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	jobs := make(chan *fileSpec)
	results := make(chan error)
	workers := min(runtime.GOMAXPROCS(0), len(files))
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := newFileWriter(opt, est, cat)
			for f := range jobs {
				results <- g.write(f)
			}
		}()
	}
	go func() {
		defer close(jobs)
		for _, f := range files {
			select {
			case jobs <- f:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		wg.Wait()
		close(results)
	}()

	var first error
	done := 0
	for err := range results {
		if err != nil && first == nil {
			first = err
			cancel()
		}
		if err == nil {
			done++
			if progress != nil && first == nil {
				progress(done, len(files))
			}
		}
	}
	if first == nil && done < len(files) {
		first = ctx.Err()
	}
	if first != nil {
		return fmt.Errorf("corpus: %w", first)
	}
	return nil
}

// fileWriter is one worker's reusable state.
type fileWriter struct {
	opt  Options
	est  *estate
	cat  *catalog
	w    jsonWriter
	zw   *gzip.Writer
	c    call
	offs []int64
}

func newFileWriter(opt Options, est *estate, cat *catalog) *fileWriter {
	zw, _ := gzip.NewWriterLevel(nil, gzip.DefaultCompression) // the level is valid
	return &fileWriter{opt: opt, est: est, cat: cat, zw: zw, w: jsonWriter{buf: make([]byte, 0, 1<<20)}}
}

func (g *fileWriter) write(f *fileSpec) error {
	g.render(f)
	path := filepath.Join(g.opt.Dir, filepath.FromSlash(f.path))
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	g.zw.Reset(out)
	if _, err := g.zw.Write(g.w.buf); err != nil {
		out.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := g.zw.Close(); err != nil {
		out.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return out.Close()
}

// render builds the JSON of one file in g.w.buf: its records in time
// order, with the planted ones at random positions among the background.
func (g *fileWriter) render(f *fileSpec) {
	r := newRand(g.opt.Seed, uint64(f.index))
	n := f.events

	// Event times: sorted random offsets within the file's window.
	g.offs = g.offs[:0]
	for i := 0; i < n; i++ {
		g.offs = append(g.offs, r.Int64N(int64(window/time.Millisecond)))
	}
	slices.Sort(g.offs)
	if f.index == 0 {
		g.offs[0] = 0 // the corpus starts exactly at Options.Start
	}

	// Slots for the planted records, in order.
	var slots []int
	if len(f.plants) > 0 {
		perm := r.Perm(n)[:len(f.plants)]
		slices.Sort(perm)
		slots = perm
	}

	w := &g.w
	w.buf = append(w.buf[:0], `{"Records":[`...)
	w.comma = false
	next := 0
	for i := 0; i < n; i++ {
		if i > 0 {
			w.buf = append(w.buf, ',')
		}
		c := &g.c
		*c = call{
			r: r, est: g.est, acct: f.account, region: f.region,
			time:   f.start.Add(time.Duration(g.offs[i]) * time.Millisecond),
			reqBuf: c.reqBuf,
		}
		if next < len(slots) && slots[next] == i {
			p := f.plants[next]
			next++
			p.write(w, c)
			continue
		}
		g.background(c)
		writeRecord(w, c, "")
	}
	w.buf = append(w.buf, "]}"...)
}

// background fills c with an ordinary call: an API drawn by weight (global
// services only in us-east-1), then a caller that plausibly makes it.
func (g *fileWriter) background(c *call) {
	cum := g.cat.cumOther
	if c.region == "us-east-1" {
		cum = g.cat.cumEast
	}
	x := c.r.IntN(cum[len(cum)-1])
	i := searchInts(cum, x)
	a := g.cat.apis[i]
	c.api = a

	switch {
	case a.caller != nil:
		a.caller(c)
	case len(a.services) > 0 && c.r.IntN(100) < a.serviceShare:
		c.kind = idService
		c.invokedBy = c.pick(a.services)
		c.ip = c.invokedBy
		c.agentTx = c.invokedBy
	default:
		p := c.acct.picker(a.callers).pick(c.r)
		if p == nil {
			p = c.acct.picker(callerAnyone).pick(c.r)
		}
		usePersona(c, p)
		if len(a.onBehalf) > 0 && c.r.IntN(100) < 30 {
			c.invokedBy = c.pick(a.onBehalf)
			c.ip = c.invokedBy
			c.agentTx = c.invokedBy
			c.console = false
			c.vpce = ""
		}
	}
}

// endpointServices are reached through VPC endpoints from inside the VPCs.
func endpointService(svc string) bool {
	switch svc {
	case "s3", "dynamodb", "kms", "sts", "ssm", "logs", "ecr", "secretsmanager", "sqs":
		return true
	}
	return false
}

// usePersona makes p the caller of c, with one of its sessions, addresses
// and user agents.
func usePersona(c *call, p *persona) {
	c.who = p
	session := -1
	if p.user {
		c.kind = idIAMUser
	} else {
		c.kind = idAssumedRole
		session = c.r.IntN(len(p.sessions))
		c.sess = &p.sessions[session]
	}
	c.agent = p.agents[c.r.IntN(len(p.agents))]
	c.ip = p.ips[c.r.IntN(len(p.ips))]
	if session >= 0 {
		// A role session is one machine's: an instance behind one NAT
		// address, a person's laptop, a CI runner. Its credentials are
		// used from one place, the place they were issued to.
		c.ip = p.ips[session%len(p.ips)]
	}
	switch {
	case p.kind == callerConfig:
		c.invokedBy = "config.amazonaws.com"
	case p.console && c.r.IntN(100) < 35:
		c.console = true
		if c.r.IntN(5) == 0 {
			c.agentTx = "AWS Internal"
		} else {
			c.agentTx = "console.amazonaws.com"
		}
	case len(p.private) > 0 && c.api != nil && endpointService(c.api.svc) && c.r.IntN(2) == 0:
		c.ip = p.private[c.r.IntN(len(p.private))]
		c.vpce = c.acct.vpcEndpoints[int(hash(c.api.svc))%len(c.acct.vpcEndpoints)]
	}
}

func searchInts(cum []int, x int) int {
	lo, hi := 0, len(cum)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if cum[mid] > x {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}
