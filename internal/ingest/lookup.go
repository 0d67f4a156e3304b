package ingest

// This file is the LookupEvents source of watch mode, for accounts without
// a trail bucket: it asks CloudTrail's LookupEvents API, region by region,
// for the events since a checkpoint. LookupEvents returns the last 90 days
// of management events (not data events, not Insights), newest first, 50 a
// page, and allows two requests per second per account per region: every
// request, retries included, waits its turn on a per-region limiter.
//
// Why a window and an overlap: an event can show up in LookupEvents minutes
// after its eventTime. Each region's cursor is the end of the last window
// queried; the next query starts Overlap before it, so late events are
// still found, and the eventIDs already handed out within the overlap are
// kept in the checkpoint so that they are not handed out twice. A window is
// at most Window long, so catching up on a long gap is done in bounded
// batches, oldest first.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/smithy-go/middleware"

	"github.com/trailsentry/trailsentry/internal/detect"
)

// LookupConfig configures a LookupEvents source.
type LookupConfig struct {
	// AWS is the configuration clients are made from (credentials; the
	// region is set per client).
	AWS aws.Config
	// Regions are the regions looked up, each with its own cursor and
	// limiter.
	Regions []string
	// Account, when set, goes into checkpoint keys (lookup:<account>:
	// <region>), so that one state can hold several accounts' cursors.
	Account string
	// ClientOptions are applied to each region's client (tests point
	// BaseEndpoint at a local server).
	ClientOptions []func(*cloudtrail.Options)
	// Interval is the wait between lookups of a region that is caught up;
	// default 1 minute.
	Interval time.Duration
	// Overlap is how far before its cursor a region's next lookup starts;
	// default 15 minutes.
	Overlap time.Duration
	// Window bounds the time one lookup covers; default 1 hour.
	Window time.Duration
	// Since is where a region without a checkpoint starts; zero means
	// Overlap before the source started.
	Since time.Time
	// RequestsPerSecond is the rate of requests per region; default 2,
	// LookupEvents's documented limit.
	RequestsPerSecond float64
	// PageSize is MaxResults, 1 to 50; default 50.
	PageSize int32
	// Checkpoints reads stored checkpoints; nil starts every region from
	// Since.
	Checkpoints CheckpointLoader
	// Logger receives the source's log lines; nil discards them.
	Logger *slog.Logger
}

// Lookup polls LookupEvents in each region. It implements Source.
type Lookup struct {
	cfg     LookupConfig
	log     *slog.Logger
	c       counters
	p       *poller
	clients map[string]*cloudtrail.Client // checkpoint key → the region's client
	regions map[string]string             // checkpoint key → region
	cancel  context.CancelFunc
}

// lookupState is a region's committed position: events before Cursor minus
// the overlap are done, and so are those in Seen (eventID → event time, in
// Unix seconds).
type lookupState struct {
	Cursor time.Time        `json:"cursor"`
	Seen   map[string]int64 `json:"seen,omitempty"`
}

// NewLookup returns a LookupEvents source. Nothing is requested until Next
// is called.
func NewLookup(cfg LookupConfig) (*Lookup, error) {
	if len(cfg.Regions) == 0 {
		return nil, errors.New("LookupEvents source: no region")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Minute
	}
	if cfg.Overlap <= 0 {
		cfg.Overlap = 15 * time.Minute
	}
	if cfg.Window <= 0 {
		cfg.Window = time.Hour
	}
	if cfg.Since.IsZero() {
		cfg.Since = time.Now().Add(-cfg.Overlap)
	}
	if cfg.RequestsPerSecond <= 0 {
		cfg.RequestsPerSecond = 2
	}
	if cfg.PageSize <= 0 || cfg.PageSize > 50 {
		cfg.PageSize = 50
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &Lookup{
		cfg: cfg, log: loggerOr(cfg.Logger).With("source", "lookup"),
		p: newPoller(cfg.Interval, ctx.Done()), cancel: cancel,
		clients: map[string]*cloudtrail.Client{}, regions: map[string]string{},
	}
	for _, region := range cfg.Regions {
		key := "lookup:" + region
		if cfg.Account != "" {
			key = "lookup:" + cfg.Account + ":" + region
		}
		if _, dup := l.regions[key]; dup {
			continue
		}
		// Spaced 5% wider than the rate: requests sent exactly 1/rate apart
		// can arrive closer together, and the limit is counted where they
		// arrive.
		lim := newLimiter(time.Duration(1.05 * float64(time.Second) / cfg.RequestsPerSecond))
		opts := append([]func(*cloudtrail.Options){func(o *cloudtrail.Options) {
			o.Region = region
			o.APIOptions = append(o.APIOptions, lim.middleware)
		}}, cfg.ClientOptions...)
		l.clients[key] = cloudtrail.NewFromConfig(cfg.AWS, opts...)
		l.regions[key] = region
		l.p.add(key)
	}
	return l, nil
}

// Stats returns the source's counters.
func (l *Lookup) Stats() Stats { return l.c.stats() }

// Close stops the source; batches out are not acknowledged.
func (l *Lookup) Close() error {
	l.cancel()
	return nil
}

// Next returns the events of one region's next window that were not handed
// out before, oldest first, with the checkpoint to commit with them.
func (l *Lookup) Next(ctx context.Context) (*Batch, error) {
	for {
		c, state, err := l.p.take(ctx, time.Time{})
		if err != nil {
			return nil, err
		}
		region := l.regions[c.key]
		st, err := l.load(ctx, c.key, state)
		if err != nil {
			l.c.errors.Add(1)
			l.log.Warn("checkpoint not read; retrying", "region", region, "error", err)
			l.p.settle(c, nil, l.p.retryWait())
			continue
		}
		recs, next, more, err := l.lookup(ctx, l.clients[c.key], st)
		if err != nil {
			if ctx.Err() != nil {
				l.p.settle(c, st, 0)
				return nil, ctx.Err()
			}
			l.c.errors.Add(1)
			l.log.Warn("LookupEvents failed; retrying", "region", region, "error", err)
			l.p.settle(c, st, l.p.retryWait())
			continue
		}
		wait := l.cfg.Interval
		if more {
			wait = 0
		}
		if len(recs) == 0 {
			l.p.settle(c, next, wait)
			continue
		}
		value, err := json.Marshal(next)
		if err != nil {
			return nil, err
		}
		b := &Batch{
			Source: "lookup:" + region, ID: c.key + "@" + next.Cursor.Format(time.RFC3339),
			Records: recs, Received: time.Now(),
			Checkpoint: &detect.Checkpoint{Key: c.key, Value: string(value)},
		}
		l.p.handOut(b, &l.c, c, next, st, wait, func(err error) {
			l.log.Warn("batch failed; the window is looked up again", "region", region, "batch", b.ID, "error", err)
		})
		return b, nil
	}
}

// load returns a region's state: the one in memory, else the stored
// checkpoint, else a start at Since.
func (l *Lookup) load(ctx context.Context, key string, state any) (*lookupState, error) {
	if st, ok := state.(*lookupState); ok {
		return st, nil
	}
	if st, err := storedState[lookupState](ctx, l.cfg.Checkpoints, key); err != nil || st != nil {
		return st, err
	}
	return &lookupState{Cursor: l.cfg.Since.Add(l.cfg.Overlap)}, nil
}

// lookup queries one window, every page, and returns the records not seen
// before (oldest first), the state once they are done, and whether the
// window stopped short of the present (more to catch up on).
func (l *Lookup) lookup(ctx context.Context, client *cloudtrail.Client, st *lookupState) ([][]byte, *lookupState, bool, error) {
	now := time.Now().UTC().Truncate(time.Second)
	start := st.Cursor.Add(-l.cfg.Overlap)
	end := st.Cursor.Add(l.cfg.Window)
	more := end.Before(now)
	if !more {
		end = now
	}
	if end.Before(start) {
		end = start
	}
	type found struct {
		id  string
		t   time.Time
		rec []byte
	}
	var got []found
	fresh := map[string]bool{}
	pages := cloudtrail.NewLookupEventsPaginator(client, &cloudtrail.LookupEventsInput{
		StartTime: aws.Time(start), EndTime: aws.Time(end), MaxResults: aws.Int32(l.cfg.PageSize),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, nil, false, fmt.Errorf("LookupEvents %s to %s: %w", start.Format(time.RFC3339), end.Format(time.RFC3339), err)
		}
		for _, e := range page.Events {
			id := aws.ToString(e.EventId)
			if id == "" || fresh[id] {
				continue
			}
			if _, ok := st.Seen[id]; ok {
				continue
			}
			rec := aws.ToString(e.CloudTrailEvent)
			if rec == "" {
				l.log.Warn("event without CloudTrailEvent skipped", "event_id", id)
				continue
			}
			fresh[id] = true
			got = append(got, found{id: id, t: aws.ToTime(e.EventTime), rec: []byte(rec)})
		}
	}
	slices.SortStableFunc(got, func(a, b found) int { return a.t.Compare(b.t) })
	next := &lookupState{Cursor: end, Seen: map[string]int64{}}
	horizon := end.Add(-l.cfg.Overlap).Unix()
	for id, t := range st.Seen {
		if t >= horizon {
			next.Seen[id] = t
		}
	}
	recs := make([][]byte, len(got))
	for i, f := range got {
		recs[i] = f.rec
		if f.t.Unix() >= horizon {
			next.Seen[f.id] = f.t.Unix()
		}
	}
	return recs, next, more, nil
}

// limiter spaces requests at least every apart, whoever makes them,
// measured from when each was let go (a timer that fires late does not let
// the next request go early).
type limiter struct {
	every time.Duration
	turn  chan struct{} // holds a token while a caller waits for its turn
	last  time.Time     // when the last request was let go; guarded by turn
}

func newLimiter(every time.Duration) *limiter {
	return &limiter{every: every, turn: make(chan struct{}, 1)}
}

// wait blocks until the caller's turn.
func (l *limiter) wait(ctx context.Context) error {
	select {
	case l.turn <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-l.turn }()
	if !sleep(ctx, time.Until(l.last.Add(l.every))) {
		return ctx.Err()
	}
	l.last = time.Now()
	return nil
}

// middleware adds the limiter at the end of the client's finalize step,
// after the retry middleware: every attempt, retries included, waits its
// turn.
func (l *limiter) middleware(stack *middleware.Stack) error {
	return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("TrailsentryRateLimit",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			if err := l.wait(ctx); err != nil {
				return middleware.FinalizeOutput{}, middleware.Metadata{}, err
			}
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
}
