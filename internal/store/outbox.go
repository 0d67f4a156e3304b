package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trailsentry/trailsentry/internal/detect"
)

// Outbox is the alert outbox kept beside the findings: notifications to send,
// one row per sink, finding id and revision.
//
// The contract that makes alerts exactly-once-per-revision end to end:
//
//   - Enqueue is called inside Update, with the transaction Update passed to
//     the function, so the rows commit together with the findings (and the
//     source's checkpoint) or not at all: a crash never leaves a finding
//     without its notification, nor a notification for a finding that was not
//     stored.
//   - (sink, finding id, revision) is unique: enqueueing it again — an SQS
//     message redelivered and processed a second time — adds nothing.
//   - A dispatcher claims due rows with a lease (ClaimOutbox); until the lease
//     runs out no other dispatcher, in this process or another sharing the
//     PostgreSQL database, can claim them. It sends, then records the outcome
//     with CompleteOutbox, which only applies while the row is still its own.
//
// A dispatcher that dies after sending and before CompleteOutbox leaves the
// row to be claimed again when its lease runs out: delivery is at least once,
// and a lease longer than a send's timeout keeps two live dispatchers from
// ever sending the same row.
//
// Times passed in are the wall clock (a test passes its own): retries and
// leases are about now, unlike detection state, which is kept by event time.
type Outbox interface {
	// Enqueue adds entries inside tx, the transaction of an Update of this
	// same Store; now is their enqueue time, and the time they are first due.
	// It returns how many were new (the rest were already enqueued).
	Enqueue(ctx context.Context, tx detect.Tx, now time.Time, entries []OutboxEntry) (int, error)

	// ClaimOutbox leases to owner up to limit of sink's pending rows that
	// are due at now (next attempt come, no live lease), for lease; each
	// claim counts as an attempt. Rows come oldest due first.
	ClaimOutbox(ctx context.Context, sink, owner string, now time.Time, lease time.Duration, limit int) ([]OutboxMessage, error)

	// CompleteOutbox records what became of claimed rows. A result for a row
	// that owner no longer holds (its lease ran out and another claimed it,
	// or it is no longer pending) is not applied; its id is returned in lost.
	CompleteOutbox(ctx context.Context, owner string, results []OutboxResult) (lost []int64, err error)

	// ListOutbox returns the rows of a state ("" for all), oldest first, up
	// to limit: for inspection and tests.
	ListOutbox(ctx context.Context, state OutboxState, limit int) ([]OutboxMessage, error)

	// PurgeOutbox deletes delivered and failed rows finished before cutoff.
	// A purged row no longer keeps its (sink, finding id, revision) from
	// being enqueued again: keep rows longer than a message can be
	// redelivered (SQS keeps messages up to 14 days).
	PurgeOutbox(ctx context.Context, cutoff time.Time) (int64, error)
}

// OutboxEntry is one notification to send: a finding's revision for a sink.
type OutboxEntry struct {
	Sink      string // the sink's configured name
	FindingID string // the finding's dedup id
	// Revision numbers the notifications of one finding for one sink: a
	// finding is announced again only under a new revision.
	Revision int64
	Payload  []byte // what the sink renders: the finding, as JSON
}

// OutboxState is where a row is in its life.
type OutboxState string

// The states of an outbox row.
const (
	OutboxPending   OutboxState = "pending"   // waiting for its next attempt, or leased
	OutboxDelivered OutboxState = "delivered" // the sink accepted it
	OutboxFailed    OutboxState = "failed"    // given up: LastError says why
)

// OutboxMessage is an outbox row as claimed or listed.
type OutboxMessage struct {
	ID int64
	OutboxEntry
	State       OutboxState
	EnqueuedAt  time.Time
	NextAttempt time.Time
	Attempts    int // claims so far, this one included
	LeaseOwner  string
	LeaseUntil  time.Time // zero when not leased
	LastError   string
	DoneAt      time.Time // when delivered or failed
}

// OutboxResult is what became of one claimed row.
type OutboxResult struct {
	ID    int64
	State OutboxState // OutboxDelivered, OutboxFailed, or OutboxPending to retry
	// At is when it was delivered or given up, or, to retry, when the next
	// attempt is due.
	At    time.Time
	Error string // why it failed or is retried (secrets already removed)
}

func (e OutboxEntry) check() error {
	switch {
	case e.Sink == "":
		return errors.New("outbox entry without a sink")
	case e.FindingID == "":
		return fmt.Errorf("outbox entry for sink %s without a finding id", e.Sink)
	case e.Revision < 1:
		return fmt.Errorf("outbox entry for sink %s, finding %s: revision %d, want 1 or more", e.Sink, e.FindingID, e.Revision)
	case e.Payload == nil:
		return fmt.Errorf("outbox entry for sink %s, finding %s: no payload", e.Sink, e.FindingID)
	}
	return nil
}

func checkEntries(entries []OutboxEntry) error {
	for _, e := range entries {
		if err := e.check(); err != nil {
			return fmt.Errorf("enqueue: %w", err)
		}
	}
	return nil
}

func checkClaim(sink, owner string, lease time.Duration) error {
	switch {
	case sink == "":
		return errors.New("claim outbox: no sink")
	case owner == "":
		return errors.New("claim outbox: no owner")
	case lease <= 0:
		return fmt.Errorf("claim outbox: lease %v, want a positive duration", lease)
	}
	return nil
}

func checkResult(r OutboxResult) error {
	switch r.State {
	case OutboxDelivered, OutboxFailed, OutboxPending:
		return nil
	}
	return fmt.Errorf("complete outbox: row %d: unknown state %q", r.ID, r.State)
}

// The statements both backends share, with $n placeholders (SQLite reads
// them as numbered parameters too).
const (
	outboxColumns = `id, sink, finding_id, revision, payload, state, enqueued_at, next_attempt, attempts,
    lease_owner, lease_until, last_error, done_at`

	// Complete: each applies only while the row is pending and leased to
	// the owner ($1).
	outboxDelivered = `UPDATE outbox SET state = 'delivered', done_at = $3, last_error = $4,
    lease_owner = NULL, lease_until = NULL
WHERE id = $2 AND lease_owner = $1 AND state = 'pending'`
	outboxFailed = `UPDATE outbox SET state = 'failed', done_at = $3, last_error = $4,
    lease_owner = NULL, lease_until = NULL
WHERE id = $2 AND lease_owner = $1 AND state = 'pending'`
	outboxRetry = `UPDATE outbox SET next_attempt = $3, last_error = $4,
    lease_owner = NULL, lease_until = NULL
WHERE id = $2 AND lease_owner = $1 AND state = 'pending'`

	outboxPurge = `DELETE FROM outbox WHERE state <> 'pending' AND done_at < $1`
)

func completeStatement(s OutboxState) string {
	switch s {
	case OutboxDelivered:
		return outboxDelivered
	case OutboxFailed:
		return outboxFailed
	}
	return outboxRetry
}

func scanOutbox(r scanner) (OutboxMessage, error) {
	var m OutboxMessage
	var state string
	var enq, next int64
	var owner *string
	var until, done *int64
	if err := r.Scan(&m.ID, &m.Sink, &m.FindingID, &m.Revision, &m.Payload, &state, &enq, &next, &m.Attempts,
		&owner, &until, &m.LastError, &done); err != nil {
		return m, err
	}
	m.State, m.EnqueuedAt, m.NextAttempt = OutboxState(state), fromMicro(enq), fromMicro(next)
	if owner != nil {
		m.LeaseOwner = *owner
	}
	m.LeaseUntil, m.DoneAt = fromNullMicro(until), fromNullMicro(done)
	if m.Payload == nil {
		m.Payload = []byte{}
	}
	return m, nil
}

func sortMessages(out []OutboxMessage) []OutboxMessage {
	slices.SortFunc(out, func(a, b OutboxMessage) int {
		if c := a.NextAttempt.Compare(b.NextAttempt); c != 0 {
			return c
		}
		return int(min(max(a.ID-b.ID, -1), 1))
	})
	return out
}

// SQLite. Every write goes through the one writer connection in a BEGIN
// IMMEDIATE transaction: claims are serialized by the file lock, so two
// dispatchers on one file never claim the same row.

func (s *sqliteStore) Enqueue(ctx context.Context, tx detect.Tx, now time.Time, entries []OutboxEntry) (int, error) {
	t, ok := tx.(*sqliteTx)
	if !ok {
		return 0, fmt.Errorf("enqueue: a %T is not a transaction of this SQLite state", tx)
	}
	if err := t.writable(); err != nil {
		return 0, err
	}
	if err := checkEntries(entries); err != nil {
		return 0, err
	}
	st, err := t.stmt(ctx, `INSERT INTO outbox (sink, finding_id, revision, payload, enqueued_at, next_attempt)
VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (sink, finding_id, revision) DO NOTHING`)
	if err != nil {
		return 0, fmt.Errorf("enqueue: %w", err)
	}
	added := 0
	us := toMicro(now)
	for _, e := range entries {
		res, err := st.ExecContext(ctx, e.Sink, e.FindingID, e.Revision, e.Payload, us, us)
		if err != nil {
			return added, fmt.Errorf("enqueue: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return added, fmt.Errorf("enqueue: %w", err)
		}
		added += int(n)
	}
	return added, nil
}

const sqliteClaimOutbox = `UPDATE outbox SET lease_owner = $1, lease_until = $2, attempts = attempts + 1
WHERE id IN (
    SELECT id FROM outbox
    WHERE sink = $3 AND state = 'pending' AND next_attempt <= $4 AND (lease_until IS NULL OR lease_until <= $4)
    ORDER BY next_attempt, id LIMIT $5)
RETURNING ` + outboxColumns

func (s *sqliteStore) ClaimOutbox(ctx context.Context, sink, owner string, now time.Time, lease time.Duration, limit int) ([]OutboxMessage, error) {
	if err := checkClaim(sink, owner, lease); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	var out []OutboxMessage
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, sqliteClaimOutbox, owner, toMicro(now.Add(lease)), sink, toMicro(now), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			m, err := scanOutbox(rows)
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return rows.Close()
	})
	if err != nil {
		return nil, fmt.Errorf("claim outbox: %w", err)
	}
	return sortMessages(out), nil
}

func (s *sqliteStore) CompleteOutbox(ctx context.Context, owner string, results []OutboxResult) ([]int64, error) {
	for _, r := range results {
		if err := checkResult(r); err != nil {
			return nil, err
		}
	}
	var lost []int64
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		lost = lost[:0]
		for _, r := range results {
			res, err := tx.ExecContext(ctx, completeStatement(r.State), owner, r.ID, toMicro(r.At), r.Error)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if n == 0 {
				lost = append(lost, r.ID)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("complete outbox: %w", err)
	}
	return lost, nil
}

func (s *sqliteStore) ListOutbox(ctx context.Context, state OutboxState, limit int) ([]OutboxMessage, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.reader.QueryContext(ctx, `SELECT `+outboxColumns+` FROM outbox
WHERE $1 = '' OR state = $1 ORDER BY id LIMIT $2`, string(state), limit)
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	defer rows.Close()
	var out []OutboxMessage
	for rows.Next() {
		m, err := scanOutbox(rows)
		if err != nil {
			return nil, fmt.Errorf("list outbox: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	return out, nil
}

func (s *sqliteStore) PurgeOutbox(ctx context.Context, cutoff time.Time) (int64, error) {
	var n int64
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, outboxPurge, toMicro(cutoff))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("purge outbox: %w", err)
	}
	return n, nil
}

// writeTx runs fn in a write transaction of its own on the writer.
func (s *sqliteStore) writeTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// PostgreSQL. The outbox takes no part in the advisory lock that serializes
// Updates: claims are made safe by row locks, FOR UPDATE SKIP LOCKED, so
// dispatchers on several machines claim disjoint rows without waiting for
// each other or for detection.

const pgEnqueue = `INSERT INTO outbox (sink, finding_id, revision, payload, enqueued_at, next_attempt)
SELECT s, f, r, p, $5::int8, $5::int8 FROM unnest($1::text[], $2::text[], $3::int8[], $4::bytea[]) AS q(s, f, r, p)
ON CONFLICT (sink, finding_id, revision) DO NOTHING`

func (s *pgStore) Enqueue(ctx context.Context, tx detect.Tx, now time.Time, entries []OutboxEntry) (int, error) {
	t, ok := tx.(*pgTx)
	if !ok {
		return 0, fmt.Errorf("enqueue: a %T is not a transaction of this PostgreSQL state", tx)
	}
	if err := t.usable(true); err != nil {
		return 0, err
	}
	if err := checkEntries(entries); err != nil {
		return 0, err
	}
	added := 0
	err := chunks(len(entries), func(lo, hi int) error {
		n := hi - lo
		sinks, ids, revs, payloads := make([]string, n), make([]string, n), make([]int64, n), make([][]byte, n)
		for i, e := range entries[lo:hi] {
			sinks[i], ids[i], revs[i], payloads[i] = e.Sink, e.FindingID, e.Revision, e.Payload
		}
		tag, err := t.tx.Exec(ctx, pgEnqueue, sinks, ids, revs, payloads, toMicro(now))
		added += int(tag.RowsAffected())
		return err
	})
	if err != nil {
		return added, fmt.Errorf("enqueue: %w", err)
	}
	return added, nil
}

const pgClaimOutbox = `UPDATE outbox SET lease_owner = $1, lease_until = $2, attempts = attempts + 1
WHERE id IN (
    SELECT id FROM outbox
    WHERE sink = $3 AND state = 'pending' AND next_attempt <= $4 AND (lease_until IS NULL OR lease_until <= $4)
    ORDER BY next_attempt, id LIMIT $5
    FOR UPDATE SKIP LOCKED)
RETURNING ` + outboxColumns

func (s *pgStore) ClaimOutbox(ctx context.Context, sink, owner string, now time.Time, lease time.Duration, limit int) ([]OutboxMessage, error) {
	if err := checkClaim(sink, owner, lease); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, pgClaimOutbox, owner, toMicro(now.Add(lease)), sink, toMicro(now), limit)
	if err != nil {
		return nil, fmt.Errorf("claim outbox: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (OutboxMessage, error) { return scanOutbox(r) })
	if err != nil {
		return nil, fmt.Errorf("claim outbox: %w", err)
	}
	return sortMessages(out), nil
}

func (s *pgStore) CompleteOutbox(ctx context.Context, owner string, results []OutboxResult) ([]int64, error) {
	for _, r := range results {
		if err := checkResult(r); err != nil {
			return nil, err
		}
	}
	var lost []int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		lost = lost[:0]
		for _, r := range results {
			tag, err := tx.Exec(ctx, completeStatement(r.State), owner, r.ID, toMicro(r.At), r.Error)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				lost = append(lost, r.ID)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("complete outbox: %w", err)
	}
	return lost, nil
}

func (s *pgStore) ListOutbox(ctx context.Context, state OutboxState, limit int) ([]OutboxMessage, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+outboxColumns+` FROM outbox
WHERE $1 = '' OR state = $1 ORDER BY id LIMIT $2`, string(state), limit)
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (OutboxMessage, error) { return scanOutbox(r) })
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	return out, nil
}

func (s *pgStore) PurgeOutbox(ctx context.Context, cutoff time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, outboxPurge, toMicro(cutoff))
	if err != nil {
		return 0, fmt.Errorf("purge outbox: %w", err)
	}
	return tag.RowsAffected(), nil
}
