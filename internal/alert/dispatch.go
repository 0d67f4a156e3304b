package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"time"

	"github.com/trailsentry/trailsentry/internal/finding"
	"github.com/trailsentry/trailsentry/internal/store"
)

// Dispatcher works off the outbox: it claims each sink's due rows, sends
// them, and records what became of each. Several dispatchers may share one
// outbox (a PostgreSQL state): claims are leased, so they never send the
// same row at the same time.
type Dispatcher struct {
	outbox store.Outbox
	sinks  []Sink
	cfg    OutboxConfig
	owner  string
	now    func() time.Time
	jitter func() float64 // in [0, 1)
	log    *slog.Logger

	onResult func(sink string, m store.OutboxMessage, state store.OutboxState)
}

// DispatchOptions are a Dispatcher's optional parts.
type DispatchOptions struct {
	// Owner names this dispatcher in leases (default host:pid:random).
	Owner string
	// Now is the clock leases, backoff and give-up are measured by
	// (default time.Now): a test drives it.
	Now func() time.Time
	// Jitter returns numbers in [0, 1) (default math/rand/v2).
	Jitter func() float64
	Logger *slog.Logger // default: discard
	// OnResult, when set, is told what became of each row a pass sent —
	// delivered, failed or to be retried — for metrics.
	OnResult func(sink string, m store.OutboxMessage, state store.OutboxState)
}

// NewDispatcher makes a dispatcher for the sinks over outbox.
func NewDispatcher(outbox store.Outbox, sinks []Sink, cfg OutboxConfig, opts DispatchOptions) *Dispatcher {
	d := &Dispatcher{outbox: outbox, sinks: sinks, cfg: cfg.withDefaults(), owner: opts.Owner, now: opts.Now,
		jitter: opts.Jitter, log: opts.Logger, onResult: opts.OnResult}
	if d.owner == "" {
		host, _ := os.Hostname()
		d.owner = host + ":" + strconv.Itoa(os.Getpid()) + ":" + strconv.FormatUint(rand.Uint64()>>32, 16)
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.jitter == nil {
		d.jitter = rand.Float64
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	return d
}

// DispatchStats counts what one pass did.
type DispatchStats struct {
	Delivered, Retried, Failed int
	// Lost are results not recorded because the row's lease had passed to
	// another dispatcher (its send took longer than the lease).
	Lost int
}

func (s *DispatchStats) add(o DispatchStats) {
	s.Delivered += o.Delivered
	s.Retried += o.Retried
	s.Failed += o.Failed
	s.Lost += o.Lost
}

// DispatchOnce sends every row that is due now, sink by sink, batch by
// batch, until none is left. An error is about the outbox itself; a sink's
// failures are recorded on its rows and in the stats.
func (d *Dispatcher) DispatchOnce(ctx context.Context) (DispatchStats, error) {
	var total DispatchStats
	for _, sink := range d.sinks {
		for {
			st, n, err := d.batch(ctx, sink)
			total.add(st)
			if err != nil {
				return total, err
			}
			if n < d.cfg.BatchSize || st.Delivered == 0 && st.Failed == 0 {
				break // nothing more is due, or the sink is failing: next pass
			}
		}
	}
	return total, nil
}

// Run dispatches every interval until ctx ends, and purges finished rows
// older than the configured Keep once an hour.
func (d *Dispatcher) Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	var purged time.Time
	for {
		st, err := d.DispatchOnce(ctx)
		if err != nil && ctx.Err() == nil {
			d.log.Warn("alert dispatch", "err", err)
		}
		if st != (DispatchStats{}) {
			d.log.Info("alerts dispatched", "delivered", st.Delivered, "retried", st.Retried, "failed", st.Failed, "lost", st.Lost)
		}
		if now := d.now(); now.Sub(purged) >= time.Hour {
			if n, err := d.outbox.PurgeOutbox(ctx, now.Add(-d.cfg.Keep)); err != nil {
				d.log.Warn("alert outbox purge", "err", err)
			} else if n > 0 {
				d.log.Info("alert outbox purged", "rows", n)
			}
			purged = now
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// batch claims, sends and completes one batch for a sink; n is how many rows
// it claimed.
func (d *Dispatcher) batch(ctx context.Context, sink Sink) (DispatchStats, int, error) {
	var st DispatchStats
	now := d.now()
	msgs, err := d.outbox.ClaimOutbox(ctx, sink.Name(), d.owner, now, d.cfg.Lease, d.cfg.BatchSize)
	if err != nil || len(msgs) == 0 {
		return st, 0, err
	}
	results := make([]sendResult, 0, len(msgs))
	var batch []Delivery
	var sent []store.OutboxMessage
	for _, m := range msgs {
		var f finding.Finding
		if err := json.Unmarshal(m.Payload, &f); err != nil {
			results = append(results, sendResult{m, &SendError{Sink: sink.Name(), Permanent: true, Msg: "payload is not a finding: " + err.Error()}})
			continue
		}
		batch = append(batch, Delivery{Finding: &f, Revision: m.Revision})
		sent = append(sent, m)
	}
	if len(batch) > 0 {
		// The send must end before the lease does, or another dispatcher
		// could claim the rows while they are still being sent.
		sctx, cancel := context.WithTimeout(ctx, d.cfg.Lease*3/4)
		err := sink.Send(sctx, batch)
		cancel()
		if err != nil && ctx.Err() != nil {
			// Shutting down: leave the rows to their lease, to be retried.
			return st, len(msgs), ctx.Err()
		}
		for i, m := range sent {
			results = append(results, sendResult{m, errorFor(err, i, len(batch))})
		}
	}
	done := d.now()
	var out []store.OutboxResult
	for _, r := range results {
		res := d.outcome(r.Message, r.Err, done)
		if d.onResult != nil {
			d.onResult(sink.Name(), r.Message, res.State)
		}
		switch res.State {
		case store.OutboxDelivered:
			st.Delivered++
		case store.OutboxFailed:
			st.Failed++
			d.log.Warn("alert given up", "sink", sink.Name(), "finding", r.Message.FindingID, "revision", r.Message.Revision, "reason", res.Error)
		default:
			st.Retried++
			d.log.Info("alert retry", "sink", sink.Name(), "finding", r.Message.FindingID, "attempt", r.Message.Attempts,
				"next", res.At, "err", res.Error)
		}
		out = append(out, res)
	}
	lost, err := d.outbox.CompleteOutbox(ctx, d.owner, out)
	st.Lost = len(lost)
	if len(lost) > 0 {
		d.log.Warn("alert lease lost before completion: raise alerts.outbox.lease", "sink", sink.Name(), "rows", lost)
	}
	return st, len(msgs), err
}

// sendResult pairs a claimed row with the error of its send.
type sendResult struct {
	Message store.OutboxMessage
	Err     error
}

// outcome decides what becomes of a row whose send returned err at now:
// delivered; failed at once for a permanent error; otherwise retried after
// an exponential backoff with jitter (or the destination's Retry-After, if
// longer), unless that attempt would come after the row's give-up age, in
// which case it is failed with the last error.
func (d *Dispatcher) outcome(m store.OutboxMessage, err error, now time.Time) store.OutboxResult {
	if err == nil {
		return store.OutboxResult{ID: m.ID, State: store.OutboxDelivered, At: now}
	}
	permanent, after := Classify(err)
	if permanent {
		return store.OutboxResult{ID: m.ID, State: store.OutboxFailed, At: now, Error: "permanent: " + err.Error()}
	}
	delay := d.backoff(m.Attempts)
	if after > delay {
		delay = after
	}
	next := now.Add(delay)
	if next.After(m.EnqueuedAt.Add(d.cfg.GiveUpAfter)) {
		return store.OutboxResult{ID: m.ID, State: store.OutboxFailed, At: now,
			Error: fmt.Sprintf("gave up after %d attempts over %v: %v", m.Attempts, now.Sub(m.EnqueuedAt).Round(time.Second), err)}
	}
	return store.OutboxResult{ID: m.ID, State: store.OutboxPending, At: next, Error: err.Error()}
}

// backoff is the wait after the attempt-th failed attempt: InitialBackoff
// doubled per attempt up to MaxBackoff, then between half of it and all of
// it ("equal jitter"), so that dispatchers that failed together do not all
// come back at the same moment, yet none comes back at once.
func (d *Dispatcher) backoff(attempt int) time.Duration {
	b := d.cfg.InitialBackoff
	for i := 1; i < attempt && b < d.cfg.MaxBackoff; i++ {
		b *= 2
	}
	b = min(b, d.cfg.MaxBackoff)
	return b/2 + time.Duration(d.jitter()*float64(b/2))
}
