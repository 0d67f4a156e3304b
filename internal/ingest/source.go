package ingest

// This file is the contract between the live sources of watch mode (SQS
// notifications and EventBridge events, S3 polling, the LookupEvents API)
// and whatever runs their work through detection and sinks.
//
// A Source hands out Batches. A Batch is a unit of work together with its
// acknowledgement: S3 log objects to read, or raw CloudTrail records, and —
// for the polling sources — the checkpoint that says how far the source got
// once this batch is done. The caller:
//
//  1. decodes and detects the batch's objects and records;
//  2. commits, in ONE state transaction, the findings, the alert outbox rows
//     and the batch's Checkpoint (when it has one): the checkpoint moves
//     forward exactly when the findings derived from the work are stored;
//  3. then calls Ack. A failure at any step calls Nack instead, and the work
//     comes back: the SQS message becomes visible again, the polling source
//     lists or looks up from its old checkpoint.
//
// Delivery is at least once. A crash between the commit and the Ack, a
// visibility timeout that ran out, or SQS's own duplicates deliver the same
// work twice; findings keyed by eventID make that harmless. Nothing is ever
// acknowledged before the caller says so.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trailsentry/trailsentry/internal/detect"
)

// Source is a live input: it yields batches of work until closed.
//
// Next blocks until a batch is ready, ctx is done (it returns ctx's error)
// or the source is closed (ErrClosed). It is safe to call from several
// goroutines at once: each idle worker calling Next is the back-pressure, as
// a source fetches more only when asked. Transient failures to reach AWS are
// logged, counted in Stats and retried inside Next; they are not returned.
//
// Close stops the source. Batches handed out and not yet settled are not
// lost: an SQS message comes back after its visibility timeout (Close makes
// it visible at once where it can), a polling source's checkpoint was never
// advanced. Close does not wait for the caller's work; call it after the
// workers have stopped.
type Source interface {
	Next(ctx context.Context) (*Batch, error)
	Close() error
	Stats() Stats
}

// ErrClosed is returned by Next, and by Ack, once the source is closed.
var ErrClosed = errors.New("source closed")

// ErrSettled is returned by Ack when the batch was already acknowledged or
// negatively acknowledged.
var ErrSettled = errors.New("batch already settled")

// Batch is one unit of work from a Source.
type Batch struct {
	// Source names the source and the part of it the batch came from, for
	// logs and metrics: "sqs:<queue URL>", "s3poll:s3://bucket/prefix/",
	// "lookup:<region>".
	Source string
	// ID identifies the batch in logs: the SQS message ID, or the
	// checkpoint key and the first item of a polled batch.
	ID string
	// Objects are S3 log objects to read (with an Opener or OpenStored).
	// They include CloudTrail digest files when the source is configured to
	// keep them (IsDigest tells them apart); event.Decoder skips digests.
	Objects []Object
	// Records are raw CloudTrail records, one JSON object each: the detail
	// of an EventBridge "AWS API Call via CloudTrail" event, or a
	// LookupEvents CloudTrailEvent. event.NewDecoder reads them as JSON
	// Lines when joined with newlines.
	Records [][]byte
	// Checkpoint, when not nil, must be written in the same state
	// transaction as the findings derived from this batch, before Ack.
	// Polling sources set it; SQS batches have none (deleting the message
	// is their progress).
	Checkpoint *detect.Checkpoint
	// Received is when the source got the work: the SQS receive, the
	// listing or the lookup.
	Received time.Time
	// Sent is when the work was first available, where the source knows
	// it (SQS's SentTimestamp; the newest LastModified of listed objects);
	// zero otherwise. Received minus Sent is the source's lag.
	Sent time.Time

	ack     func(context.Context) error
	nack    func(context.Context, error)
	settled atomic.Bool
}

// Ack says the batch's work is done and committed: the SQS message is
// deleted, the polling source moves on from the batch's checkpoint. It
// returns an error when that failed; the work then comes back, and the
// caller's idempotent findings absorb the repeat. Ack or Nack once.
func (b *Batch) Ack(ctx context.Context) error {
	if !b.settled.CompareAndSwap(false, true) {
		return ErrSettled
	}
	if b.ack == nil {
		return nil
	}
	return b.ack(ctx)
}

// Nack says the batch's work failed with err: the work comes back, after a
// backoff. A message that keeps failing is set aside after the SQS source's
// MaxReceives. Calls after the first Ack or Nack do nothing.
func (b *Batch) Nack(ctx context.Context, err error) {
	if !b.settled.CompareAndSwap(false, true) {
		return
	}
	if b.nack != nil {
		b.nack(ctx, err)
	}
}

// Stats counts what a source did since it started.
type Stats struct {
	Batches  int64 // batches handed out by Next
	Acked    int64 // batches acknowledged (and, for SQS, deleted)
	Nacked   int64 // batches negatively acknowledged
	Ignored  int64 // messages with nothing to do (S3 test events, keys of other folders), deleted at once
	Invalid  int64 // messages that could not be understood
	SetAside int64 // messages moved to the dead-letter queue or left to the queue's redrive policy
	Errors   int64 // failed calls to AWS (retried)
	InFlight int64 // batches or messages handed out or buffered and not yet settled
}

// counters are a source's Stats, updated atomically.
type counters struct {
	batches, acked, nacked, ignored, invalid, setAside, errors, inFlight atomic.Int64
}

func (c *counters) stats() Stats {
	return Stats{
		Batches: c.batches.Load(), Acked: c.acked.Load(), Nacked: c.nacked.Load(),
		Ignored: c.ignored.Load(), Invalid: c.invalid.Load(), SetAside: c.setAside.Load(),
		Errors: c.errors.Load(), InFlight: c.inFlight.Load(),
	}
}

// CheckpointLoader reads stored checkpoints by key, as detect.Reader's
// Checkpoints does: a polling source calls it when it first meets a cursor
// (an account/region prefix, a region) to resume where the last run
// committed. Keys with nothing stored are left out.
type CheckpointLoader func(ctx context.Context, keys []string) ([]detect.Checkpoint, error)

// storedState reads the JSON state a polling source keeps under key; nil
// when there is no loader or nothing is stored.
func storedState[T any](ctx context.Context, load CheckpointLoader, key string) (*T, error) {
	if load == nil {
		return nil, nil
	}
	cps, err := load(ctx, []string{key})
	if err != nil {
		return nil, err
	}
	for _, cp := range cps {
		if cp.Key != key {
			continue
		}
		var st T
		if err := json.Unmarshal([]byte(cp.Value), &st); err != nil {
			return nil, fmt.Errorf("checkpoint %s: %w", key, err)
		}
		return &st, nil
	}
	return nil, nil
}

// IsDigest reports whether an object is a CloudTrail digest file, by its
// folder (AWSLogs/.../CloudTrail-Digest/...), so that a caller can route it
// to integrity checks instead of the decoder.
func IsDigest(obj Object) bool {
	l := parseLayout(obj.Name[:len(obj.Name)-len(baseName(obj.Name))])
	return l.folder == "CloudTrail-Digest"
}

func baseName(name string) string {
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '/' {
			return name[i+1:]
		}
	}
	return name
}

// isLogKey reports whether an S3 key is a file in a CloudTrail day folder
// (AWSLogs/[o-xxxx/]<account>/<folder>/<region>/YYYY/MM/DD/<name>) of one of
// folders, and not a folder marker or hidden file.
func isLogKey(key string, folders []string) bool {
	name := baseName(key)
	if name == "" || name[0] == '.' {
		return false
	}
	l := parseLayout(key[:len(key)-len(name)])
	return l.lvl == levelDay && contains(folders, l.folder)
}

// loggerOr returns l, or a logger that discards when l is nil: a source
// never writes to the process's default logger behind the caller's back.
func loggerOr(l *slog.Logger) *slog.Logger {
	if l != nil {
		return l
	}
	return slog.New(slog.DiscardHandler)
}

// sleep waits for d or until ctx is done, and reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// poller schedules the cursors of a polling source (S3 account/region
// prefixes, LookupEvents regions). Each cursor has at most one batch out at
// a time, so its checkpoints are committed in order: a later batch's
// checkpoint never lands before an earlier one's and skips its work. A
// cursor whose batch is acknowledged polls again at once when it said more
// is waiting (a full page, a lookup window behind the present), else after
// the interval; a nacked one after the interval, from its old state.
type poller struct {
	interval time.Duration
	closed   <-chan struct{}

	mu      sync.Mutex
	cursors map[string]*cursor
	order   []string      // cursor keys in the order they were added
	wake    chan struct{} // closed and replaced when a cursor is settled or added
}

// cursor is one independently checkpointed part of a polling source.
type cursor struct {
	key   string
	due   time.Time
	busy  bool // a poll is running or its batch is out
	state any  // the source's committed state for this cursor; nil before it is loaded
}

func newPoller(interval time.Duration, closed <-chan struct{}) *poller {
	return &poller{interval: interval, closed: closed, cursors: map[string]*cursor{}, wake: make(chan struct{})}
}

// add registers a cursor, due at once; an existing key is left as it is.
func (p *poller) add(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.cursors[key]; ok {
		return
	}
	p.cursors[key] = &cursor{key: key}
	p.order = append(p.order, key)
	p.signal()
}

func (p *poller) signal() {
	close(p.wake)
	p.wake = make(chan struct{})
}

// take waits for the cursor that is due first, marks it busy and returns
// it with its state. It returns a nil cursor when until (if not zero)
// passes first, and ErrClosed or ctx's error when those end the wait.
func (p *poller) take(ctx context.Context, until time.Time) (*cursor, any, error) {
	for {
		p.mu.Lock()
		var best *cursor
		for _, k := range p.order {
			c := p.cursors[k]
			if !c.busy && (best == nil || c.due.Before(best.due)) {
				best = c
			}
		}
		wake := p.wake
		now := time.Now()
		if best != nil && !best.due.After(now) {
			best.busy = true
			state := best.state
			p.mu.Unlock()
			return best, state, nil
		}
		p.mu.Unlock()
		at := until
		if best != nil && (at.IsZero() || best.due.Before(at)) {
			at = best.due
		}
		if !until.IsZero() && !until.After(now) {
			return nil, nil, nil
		}
		var t *time.Timer
		var timer <-chan time.Time
		if !at.IsZero() {
			t = time.NewTimer(at.Sub(now))
			timer = t.C
		}
		var err error
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-p.closed:
			err = ErrClosed
		case <-wake:
		case <-timer:
		}
		if t != nil {
			t.Stop()
		}
		if err != nil {
			return nil, nil, err
		}
	}
}

// settle frees a cursor: with its new state when state is not nil, due
// after wait.
func (p *poller) settle(c *cursor, state any, wait time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if state != nil {
		c.state = state
	}
	c.busy = false
	c.due = time.Now().Add(wait)
	p.signal()
}

// handOut counts b out and sets its Ack and Nack: an acknowledged batch
// settles the cursor with next, due after wait; a nacked one, once failed
// has said so, with old, due after the retry wait.
func (p *poller) handOut(b *Batch, cs *counters, c *cursor, next, old any, wait time.Duration, failed func(error)) {
	cs.batches.Add(1)
	cs.inFlight.Add(1)
	b.ack = func(context.Context) error {
		cs.inFlight.Add(-1)
		cs.acked.Add(1)
		p.settle(c, next, wait)
		return nil
	}
	b.nack = func(_ context.Context, err error) {
		cs.inFlight.Add(-1)
		cs.nacked.Add(1)
		failed(err)
		p.settle(c, old, p.retryWait())
	}
}

// minRetry is how long a polling cursor waits after a failed call at least,
// whatever the interval: a failing endpoint is not hammered.
const minRetry = time.Second

// retryWait is the wait after a failed poll: the interval, but not less
// than minRetry.
func (p *poller) retryWait() time.Duration { return max(p.interval, minRetry) }
