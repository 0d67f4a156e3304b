package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"modernc.org/sqlite" // registers the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/trailsentry/trailsentry/internal/detect"
)

// sqliteBusyTimeout is how long a writer waits for another to finish (another
// handle or process on the same file) before giving up.
const sqliteBusyTimeout = 30 * time.Second

// sqliteStore is state in a SQLite file, in WAL mode: one writer connection
// whose transactions start with BEGIN IMMEDIATE, so Updates are serialized
// across handles and processes (the file lock, waited for up to
// sqliteBusyTimeout), and a pool of read-only connections for View, which
// WAL lets read while a write is under way.
type sqliteStore struct {
	path   string
	writer *sql.DB
	reader *sql.DB
}

func openSQLite(ctx context.Context, path string) (Store, error) {
	if path == "" {
		return nil, errors.New("state: empty SQLite path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	// A file: URI, so that any character may appear in the path.
	uri := "file:" + (&url.URL{Path: abs}).EscapedPath()
	busy := fmt.Sprintf("_pragma=busy_timeout(%d)", sqliteBusyTimeout.Milliseconds())
	// The writer: WAL with synchronous=NORMAL (a commit survives a crash of
	// the process; the OS losing power may take the last ones back, never
	// leaving the file inconsistent); a 16 MiB page cache (64 MiB measured
	// 35k -> 46k rows/s in BenchmarkStoreOccurrences, but a scan's peak RSS
	// must stay under 256 MiB with its findings in memory) and a checkpoint
	// every 64 MiB of WAL; BEGIN IMMEDIATE so that Updates queue on
	// the file lock instead of failing when a read turns into a write.
	writer, err := sql.Open("sqlite", uri+"?"+busy+"&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"+
		"&_pragma=cache_size(-16384)&_pragma=wal_autocheckpoint(16384)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", abs, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetConnMaxIdleTime(0)
	s := &sqliteStore{path: abs, writer: writer}
	if err := s.migrateRetrying(ctx); err != nil {
		writer.Close()
		return nil, fmt.Errorf("state %s: %w", abs, err)
	}
	reader, err := sql.Open("sqlite", uri+"?"+busy+"&_query_only=1")
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("state %s: %w", abs, err)
	}
	reader.SetMaxOpenConns(max(2, runtime.GOMAXPROCS(0)))
	reader.SetMaxIdleConns(max(2, runtime.GOMAXPROCS(0)))
	s.reader = reader
	return s, nil
}

func (s *sqliteStore) Backend() string  { return "sqlite" }
func (s *sqliteStore) Location() string { return s.path }

func (s *sqliteStore) Close() error {
	return errors.Join(s.reader.Close(), s.writer.Close())
}

// migrateRetrying migrates, trying again while the file is busy. Workers
// opening a new file at once race to switch it to WAL, and SQLite reports
// that race as SQLITE_BUSY at once rather than through the busy timeout.
func (s *sqliteStore) migrateRetrying(ctx context.Context) error {
	deadline := time.Now().Add(sqliteBusyTimeout)
	delay := 2 * time.Millisecond
	for {
		err := s.migrate(ctx)
		var e *sqlite.Error
		if err == nil || !errors.As(err, &e) || e.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 100*time.Millisecond)
	}
}

func (s *sqliteStore) migrate(ctx context.Context) error {
	all, err := migrations("sqlite")
	if err != nil {
		return err
	}
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, createMigrationsTable); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var applied []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("migrate: %w", err)
		}
		applied = append(applied, v)
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	todo, err := pending(all, applied)
	if err != nil {
		return err
	}
	for _, m := range todo {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.version, m.name, time.Now().UTC().Format(time.RFC3339)); err != nil {
			return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// Update runs fn in a BEGIN IMMEDIATE transaction on the writer connection.
func (s *sqliteStore) Update(ctx context.Context, fn func(detect.Tx) error) (err error) {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("state: begin: %w", err)
	}
	t := &sqliteTx{tx: tx, write: true}
	defer func() {
		t.close()
		if p := recover(); p != nil {
			tx.Rollback()
			panic(p)
		}
		if err != nil {
			tx.Rollback()
			return
		}
		if err = tx.Commit(); err != nil {
			err = fmt.Errorf("state: commit: %w", err)
		}
	}()
	return fn(t)
}

// View runs fn in a read transaction on a reader connection.
func (s *sqliteStore) View(ctx context.Context, fn func(detect.Reader) error) error {
	tx, err := s.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("state: begin: %w", err)
	}
	t := &sqliteTx{tx: tx}
	defer func() {
		t.close()
		tx.Rollback()
	}()
	return fn(t)
}

// sqliteTx runs each statement as a statement prepared once per transaction,
// one execution per row: in-process, a prepared execution costs about what
// one row of a multi-row VALUES does, without the SQL text to build.
type sqliteTx struct {
	tx    *sql.Tx
	write bool
	done  bool
	stmts map[string]*sql.Stmt
}

func (t *sqliteTx) close() {
	t.done = true
	for _, st := range t.stmts {
		st.Close()
	}
}

func (t *sqliteTx) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if t.done {
		return nil, errors.New("state transaction used after it ended")
	}
	if st := t.stmts[query]; st != nil {
		return st, nil
	}
	st, err := t.tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if t.stmts == nil {
		t.stmts = map[string]*sql.Stmt{}
	}
	t.stmts[query] = st
	return st, nil
}

func (t *sqliteTx) writable() error {
	if !t.write {
		return errors.New("state: write in a read-only transaction")
	}
	return nil
}

const sqliteSelectOccurrences = `SELECT stream, grp, t, event_id, tag, value FROM occurrences
WHERE stream = ? AND grp = ? AND t >= ? AND t < ? ORDER BY t, event_id, tag, value`

func (t *sqliteTx) Occurrences(ctx context.Context, ranges []detect.OccurrenceRange) ([]detect.Occurrence, error) {
	st, err := t.stmt(ctx, sqliteSelectOccurrences)
	if err != nil {
		return nil, fmt.Errorf("occurrences: %w", err)
	}
	var out []detect.Occurrence
	for _, r := range ranges {
		r = r.Canonical()
		to := int64(math.MaxInt64)
		if !r.To.IsZero() {
			to = toMicro(r.To)
		}
		rows, err := st.QueryContext(ctx, r.Stream, r.Group, toMicro(r.From), to)
		if err != nil {
			return nil, fmt.Errorf("occurrences: %w", err)
		}
		for rows.Next() {
			var o detect.Occurrence
			var us int64
			if err := rows.Scan(&o.Stream, &o.Group, &us, &o.EventID, &o.Tag, &o.Value); err != nil {
				rows.Close()
				return nil, fmt.Errorf("occurrences: %w", err)
			}
			o.Time = fromMicro(us)
			out = append(out, o)
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("occurrences: %w", err)
		}
	}
	return sortOccurrences(out), nil
}

const (
	baselineColumns    = `kind, scope, value, first_t, first_event_id, last_t, last_event_id, count`
	sqliteBaselinePt   = `SELECT ` + baselineColumns + ` FROM baselines WHERE kind = ? AND scope = ? AND value = ?`
	sqliteBaselineScop = `SELECT ` + baselineColumns + ` FROM baselines WHERE kind = ? AND scope = ?`
)

// scanner is what *sql.Rows and pgx.Rows share.
type scanner interface{ Scan(dest ...any) error }

func scanBaseline(r scanner) (detect.Baseline, error) {
	var b detect.Baseline
	var first, last int64
	err := r.Scan(&b.Kind, &b.Scope, &b.Value, &first, &b.First.EventID, &last, &b.Last.EventID, &b.Count)
	b.First.Time, b.Last.Time = fromMicro(first), fromMicro(last)
	return b, err
}

func (t *sqliteTx) Baselines(ctx context.Context, keys []detect.BaselineKey) ([]detect.Baseline, error) {
	var out []detect.Baseline
	query := func(q string, args ...any) error {
		st, err := t.stmt(ctx, q)
		if err != nil {
			return err
		}
		rows, err := st.QueryContext(ctx, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			b, err := scanBaseline(rows)
			if err != nil {
				return err
			}
			out = append(out, b)
		}
		return rows.Close()
	}
	points, scopes := baselineKeys(keys)
	for _, k := range points {
		if err := query(sqliteBaselinePt, k.Kind, k.Scope, k.Value); err != nil {
			return nil, fmt.Errorf("baselines: %w", err)
		}
	}
	for _, k := range scopes {
		if err := query(sqliteBaselineScop, k.Kind, k.Scope); err != nil {
			return nil, fmt.Errorf("baselines: %w", err)
		}
	}
	return sortBaselines(out), nil
}

const (
	findingColumns       = `id, rule_id, account, first_seen, last_seen, count, record`
	sqliteSelectFinding  = `SELECT ` + findingColumns + ` FROM findings WHERE id = ?`
	sqliteListFindings   = `SELECT ` + findingColumns + ` FROM findings WHERE id > ? ORDER BY id LIMIT ?`
	sqliteSelectCheckpnt = `SELECT key, value, t FROM checkpoints WHERE key = ?`
)

func scanFinding(r scanner) (detect.FindingRecord, error) {
	var id, rule, account string
	var first, last *int64
	var count int64
	var data []byte
	if err := r.Scan(&id, &rule, &account, &first, &last, &count, &data); err != nil {
		return detect.FindingRecord{}, err
	}
	return decodeRecord(id, rule, account, first, last, count, data)
}

func (t *sqliteTx) Findings(ctx context.Context, ids []string) ([]detect.FindingRecord, error) {
	st, err := t.stmt(ctx, sqliteSelectFinding)
	if err != nil {
		return nil, fmt.Errorf("findings: %w", err)
	}
	var out []detect.FindingRecord
	for _, id := range canonicalIDs(ids) {
		r, err := scanFinding(st.QueryRowContext(ctx, id))
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("findings: %w", err)
		}
		out = append(out, r)
	}
	return out, nil
}

func (t *sqliteTx) ListFindings(ctx context.Context, after string, limit int) ([]detect.FindingRecord, error) {
	if limit <= 0 {
		return nil, nil
	}
	st, err := t.stmt(ctx, sqliteListFindings)
	if err != nil {
		return nil, fmt.Errorf("list findings: %w", err)
	}
	rows, err := st.QueryContext(ctx, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list findings: %w", err)
	}
	defer rows.Close()
	var out []detect.FindingRecord
	for rows.Next() {
		r, err := scanFinding(rows)
		if err != nil {
			return nil, fmt.Errorf("list findings: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("list findings: %w", err)
	}
	return out, nil
}

func (t *sqliteTx) Checkpoints(ctx context.Context, keys []string) ([]detect.Checkpoint, error) {
	st, err := t.stmt(ctx, sqliteSelectCheckpnt)
	if err != nil {
		return nil, fmt.Errorf("checkpoints: %w", err)
	}
	var out []detect.Checkpoint
	for _, k := range canonicalIDs(keys) {
		var c detect.Checkpoint
		var us *int64
		err := st.QueryRowContext(ctx, k).Scan(&c.Key, &c.Value, &us)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("checkpoints: %w", err)
		}
		c.Time = fromNullMicro(us)
		out = append(out, c)
	}
	return out, nil
}

const sqliteInsertOccurrence = `INSERT INTO occurrences (stream, grp, t, event_id, tag, value)
VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`

func (t *sqliteTx) AddOccurrences(ctx context.Context, occ []detect.Occurrence) ([]bool, error) {
	if err := t.writable(); err != nil {
		return nil, err
	}
	st, err := t.stmt(ctx, sqliteInsertOccurrence)
	if err != nil {
		return nil, fmt.Errorf("add occurrences: %w", err)
	}
	canon, fresh := uniqueOccurrences(occ)
	for i, o := range canon {
		if !fresh[i] {
			continue
		}
		res, err := st.ExecContext(ctx, o.Stream, o.Group, toMicro(o.Time), o.EventID, o.Tag, o.Value)
		if err != nil {
			return nil, fmt.Errorf("add occurrences: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, fmt.Errorf("add occurrences: %w", err)
		}
		fresh[i] = n == 1
	}
	return fresh, nil
}

// upsertBaseline merges a delta (Count observations with extremes First and
// Last) into a stored baseline. Row values compare in order, text bytewise:
// the order of detect.Sighting. The same text serves PostgreSQL.
const upsertBaseline = `ON CONFLICT (kind, scope, value) DO UPDATE SET
    first_t        = CASE WHEN (excluded.first_t, excluded.first_event_id) < (baselines.first_t, baselines.first_event_id)
                          THEN excluded.first_t ELSE baselines.first_t END,
    first_event_id = CASE WHEN (excluded.first_t, excluded.first_event_id) < (baselines.first_t, baselines.first_event_id)
                          THEN excluded.first_event_id ELSE baselines.first_event_id END,
    last_t         = CASE WHEN (excluded.last_t, excluded.last_event_id) > (baselines.last_t, baselines.last_event_id)
                          THEN excluded.last_t ELSE baselines.last_t END,
    last_event_id  = CASE WHEN (excluded.last_t, excluded.last_event_id) > (baselines.last_t, baselines.last_event_id)
                          THEN excluded.last_event_id ELSE baselines.last_event_id END,
    count          = baselines.count + excluded.count`

const sqliteUpsertBaseline = `INSERT INTO baselines (` + baselineColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ` + upsertBaseline

func (t *sqliteTx) Observe(ctx context.Context, obs []detect.Observation) error {
	if err := t.writable(); err != nil {
		return err
	}
	deltas, err := mergeObservations(obs)
	if err != nil {
		return err
	}
	st, err := t.stmt(ctx, sqliteUpsertBaseline)
	if err != nil {
		return fmt.Errorf("observe: %w", err)
	}
	for _, d := range deltas {
		if _, err := st.ExecContext(ctx, d.Kind, d.Scope, d.Value,
			toMicro(d.First.Time), d.First.EventID, toMicro(d.Last.Time), d.Last.EventID, d.Count); err != nil {
			return fmt.Errorf("observe: %w", err)
		}
	}
	return nil
}

const sqliteUpsertFinding = `INSERT INTO findings (` + findingColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET rule_id = excluded.rule_id, account = excluded.account,
    first_seen = excluded.first_seen, last_seen = excluded.last_seen, count = excluded.count, record = excluded.record`

func (t *sqliteTx) UpsertFindings(ctx context.Context, recs []detect.FindingRecord) ([]detect.FindingRecord, error) {
	if err := t.writable(); err != nil {
		return nil, err
	}
	merged, idx, err := mergeWithStored(ctx, t, recs)
	if err != nil {
		return nil, err
	}
	st, err := t.stmt(ctx, sqliteUpsertFinding)
	if err != nil {
		return nil, fmt.Errorf("upsert findings: %w", err)
	}
	for _, r := range merged {
		data, err := encodeRecord(r)
		if err != nil {
			return nil, err
		}
		if _, err := st.ExecContext(ctx, r.ID, r.RuleID, r.Account, nullMicro(r.FirstSeen), nullMicro(r.LastSeen), r.Count, data); err != nil {
			return nil, fmt.Errorf("upsert findings: %w", err)
		}
	}
	out := make([]detect.FindingRecord, len(recs))
	for i, j := range idx {
		out[i] = merged[j]
	}
	return out, nil
}

const sqliteSetCheckpoint = `INSERT INTO checkpoints (key, value, t) VALUES (?, ?, ?)
ON CONFLICT (key) DO UPDATE SET value = excluded.value, t = excluded.t`

func (t *sqliteTx) SetCheckpoints(ctx context.Context, cps []detect.Checkpoint) error {
	if err := t.writable(); err != nil {
		return err
	}
	st, err := t.stmt(ctx, sqliteSetCheckpoint)
	if err != nil {
		return fmt.Errorf("set checkpoints: %w", err)
	}
	for _, c := range cps {
		c = c.Canonical()
		if _, err := st.ExecContext(ctx, c.Key, c.Value, nullMicro(c.Time)); err != nil {
			return fmt.Errorf("set checkpoints: %w", err)
		}
	}
	return nil
}

// evictions are Evict's statements, the same for both backends but for the
// placeholder, with the Retention field each one's cutoff comes from.
var evictions = [...]struct {
	sql    string
	cutoff func(detect.Retention) time.Time
	count  func(*detect.Evicted) *int64
}{
	{`DELETE FROM occurrences WHERE t < $1`,
		func(r detect.Retention) time.Time { return r.Occurrences },
		func(e *detect.Evicted) *int64 { return &e.Occurrences }},
	{`DELETE FROM baselines WHERE last_t < $1`,
		func(r detect.Retention) time.Time { return r.Observations },
		func(e *detect.Evicted) *int64 { return &e.Observations }},
	{`DELETE FROM findings WHERE last_seen < $1`,
		func(r detect.Retention) time.Time { return r.Findings },
		func(e *detect.Evicted) *int64 { return &e.Findings }},
	{`DELETE FROM checkpoints WHERE t < $1`,
		func(r detect.Retention) time.Time { return r.Checkpoints },
		func(e *detect.Evicted) *int64 { return &e.Checkpoints }},
}

func (t *sqliteTx) Evict(ctx context.Context, r detect.Retention) (detect.Evicted, error) {
	var n detect.Evicted
	if err := t.writable(); err != nil {
		return n, err
	}
	if t.done {
		return n, errors.New("state transaction used after it ended")
	}
	r = r.Canonical()
	for _, e := range evictions {
		cut := e.cutoff(r)
		if cut.IsZero() {
			continue
		}
		res, err := t.tx.ExecContext(ctx, e.sql, toMicro(cut))
		if err != nil {
			return n, fmt.Errorf("evict: %w", err)
		}
		if *e.count(&n), err = res.RowsAffected(); err != nil {
			return n, fmt.Errorf("evict: %w", err)
		}
	}
	return n, nil
}
