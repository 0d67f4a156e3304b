package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/trailsentry/trailsentry/internal/detect"
)

// pgChunk is the most rows one statement carries. Batches travel as arrays
// bound to one statement (INSERT ... SELECT FROM unnest($1, $2, ...)): one
// round trip per chunk, whatever the batch's size.
const pgChunk = 5000

// pgStore is state in a PostgreSQL schema (the first of the connection's
// search_path), shared by every worker that opens it. Updates take a
// transaction-scoped advisory lock for the schema first, so they are
// serialized across workers as the State contract says; reads (View) take no
// lock and see a snapshot.
type pgStore struct {
	pool     *pgxpool.Pool
	location string
	lockKey  int64 // the advisory lock Updates take
}

func openPostgres(ctx context.Context, dsn string) (Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("state postgres: %w", err) // pgx leaves the password out of its errors
	}
	loc := (&url.URL{
		Scheme: "postgres",
		User:   url.User(cfg.ConnConfig.User),
		Host:   cfg.ConnConfig.Host + ":" + strconv.Itoa(int(cfg.ConnConfig.Port)),
		Path:   "/" + cfg.ConnConfig.Database,
	}).String()
	if sp := cfg.ConnConfig.RuntimeParams["search_path"]; sp != "" {
		loc += "?search_path=" + url.QueryEscape(sp)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", loc, err)
	}
	s := &pgStore{pool: pool, location: loc}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("state %s: %w", loc, err)
	}
	return s, nil
}

func (s *pgStore) Backend() string  { return "postgres" }
func (s *pgStore) Location() string { return s.location }
func (s *pgStore) Close() error     { s.pool.Close(); return nil }

// migrate applies pending migrations in one transaction holding an advisory
// lock for the schema, so workers opening the same database at once apply
// each migration exactly once (the others wait, then find nothing to do).
func (s *pgStore) migrate(ctx context.Context) error {
	all, err := migrations("postgres")
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var schema *string
		if err := tx.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if schema == nil {
			return errors.New("migrate: no schema to use: the search_path names none that exists")
		}
		if err := tx.QueryRow(ctx, `SELECT hashtextextended('trailsentry state ' || $1, 0)`, *schema).Scan(&s.lockKey); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('trailsentry migrate ' || $1, 0))`, *schema); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if _, err := tx.Exec(ctx, createMigrationsTable); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		rows, err := tx.Query(ctx, `SELECT version FROM schema_migrations`)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		applied, err := pgx.CollectRows(rows, pgx.RowTo[int])
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		todo, err := pending(all, applied)
		if err != nil {
			return err
		}
		for _, m := range todo {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.version, m.name, time.Now().UTC().Format(time.RFC3339)); err != nil {
				return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
			}
		}
		return nil
	})
}

// Update runs fn in a transaction that first takes the schema's advisory lock.
func (s *pgStore) Update(ctx context.Context, fn func(detect.Tx) error) (err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("state: begin: %w", err)
	}
	t := &pgTx{tx: tx, write: true}
	defer func() {
		t.done = true
		if p := recover(); p != nil {
			rollback(tx)
			panic(p)
		}
		if err != nil {
			rollback(tx)
			return
		}
		if err = tx.Commit(ctx); err != nil {
			err = fmt.Errorf("state: commit: %w", err)
		}
	}()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, s.lockKey); err != nil {
		return fmt.Errorf("state: lock: %w", err)
	}
	return fn(t)
}

// View runs fn in a read-only REPEATABLE READ transaction: one snapshot.
func (s *pgStore) View(ctx context.Context, fn func(detect.Reader) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("state: begin: %w", err)
	}
	t := &pgTx{tx: tx}
	defer func() {
		t.done = true
		rollback(tx)
	}()
	return fn(t)
}

// rollback ends a transaction even when the context that ran it has ended.
func rollback(tx pgx.Tx) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tx.Rollback(ctx)
}

type pgTx struct {
	tx    pgx.Tx
	write bool
	done  bool
}

func (t *pgTx) usable(write bool) error {
	if t.done {
		return errors.New("state transaction used after it ended")
	}
	if write && !t.write {
		return errors.New("state: write in a read-only transaction")
	}
	return nil
}

// chunks calls fn with each [lo, hi) of n rows, pgChunk at a time.
func chunks(n int, fn func(lo, hi int) error) error {
	for lo := 0; lo < n; lo += pgChunk {
		if err := fn(lo, min(lo+pgChunk, n)); err != nil {
			return err
		}
	}
	return nil
}

const pgSelectOccurrences = `SELECT o.stream, o.grp, o.t, o.event_id, o.tag, o.value
FROM unnest($1::text[], $2::text[], $3::int8[], $4::int8[]) AS q(stream, grp, t_from, t_to)
JOIN occurrences o ON o.stream = q.stream COLLATE "C" AND o.grp = q.grp COLLATE "C" AND o.t >= q.t_from AND o.t < q.t_to`

func (t *pgTx) Occurrences(ctx context.Context, ranges []detect.OccurrenceRange) ([]detect.Occurrence, error) {
	if err := t.usable(false); err != nil {
		return nil, err
	}
	var out []detect.Occurrence
	err := chunks(len(ranges), func(lo, hi int) error {
		n := hi - lo
		streams, groups, from, to := make([]string, n), make([]string, n), make([]int64, n), make([]int64, n)
		for i, r := range ranges[lo:hi] {
			r = r.Canonical()
			streams[i], groups[i], from[i], to[i] = r.Stream, r.Group, toMicro(r.From), math.MaxInt64
			if !r.To.IsZero() {
				to[i] = toMicro(r.To)
			}
		}
		rows, err := t.tx.Query(ctx, pgSelectOccurrences, streams, groups, from, to)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var o detect.Occurrence
			var us int64
			if err := rows.Scan(&o.Stream, &o.Group, &us, &o.EventID, &o.Tag, &o.Value); err != nil {
				return err
			}
			o.Time = fromMicro(us)
			out = append(out, o)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("occurrences: %w", err)
	}
	return sortOccurrences(out), nil
}

const (
	pgBaselinePoints = `SELECT b.kind, b.scope, b.value, b.first_t, b.first_event_id, b.last_t, b.last_event_id, b.count
FROM unnest($1::text[], $2::text[], $3::text[]) AS q(kind, scope, value)
JOIN baselines b ON b.kind = q.kind COLLATE "C" AND b.scope = q.scope COLLATE "C" AND b.value = q.value COLLATE "C"`
	pgBaselineScopes = `SELECT b.kind, b.scope, b.value, b.first_t, b.first_event_id, b.last_t, b.last_event_id, b.count
FROM unnest($1::text[], $2::text[]) AS q(kind, scope)
JOIN baselines b ON b.kind = q.kind COLLATE "C" AND b.scope = q.scope COLLATE "C"`
)

func (t *pgTx) Baselines(ctx context.Context, keys []detect.BaselineKey) ([]detect.Baseline, error) {
	if err := t.usable(false); err != nil {
		return nil, err
	}
	var out []detect.Baseline
	query := func(q string, keys []detect.BaselineKey, withValue bool) error {
		return chunks(len(keys), func(lo, hi int) error {
			n := hi - lo
			kinds, scopes, values := make([]string, n), make([]string, n), make([]string, n)
			for i, k := range keys[lo:hi] {
				kinds[i], scopes[i], values[i] = k.Kind, k.Scope, k.Value
			}
			args := []any{kinds, scopes}
			if withValue {
				args = append(args, values)
			}
			rows, err := t.tx.Query(ctx, q, args...)
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
			return rows.Err()
		})
	}
	points, scopes := baselineKeys(keys)
	if err := query(pgBaselinePoints, points, true); err != nil {
		return nil, fmt.Errorf("baselines: %w", err)
	}
	if err := query(pgBaselineScopes, scopes, false); err != nil {
		return nil, fmt.Errorf("baselines: %w", err)
	}
	return sortBaselines(out), nil
}

const (
	pgSelectFindings = `SELECT ` + findingColumns + ` FROM findings WHERE id IN (SELECT unnest($1::text[]) COLLATE "C")`
	pgListFindings   = `SELECT ` + findingColumns + ` FROM findings WHERE id > $1 COLLATE "C" ORDER BY id LIMIT $2`
)

func (t *pgTx) queryFindings(ctx context.Context, q string, args ...any) ([]detect.FindingRecord, error) {
	rows, err := t.tx.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []detect.FindingRecord
	for rows.Next() {
		r, err := scanFinding(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (t *pgTx) Findings(ctx context.Context, ids []string) ([]detect.FindingRecord, error) {
	if err := t.usable(false); err != nil {
		return nil, err
	}
	ids = canonicalIDs(ids)
	var out []detect.FindingRecord
	err := chunks(len(ids), func(lo, hi int) error {
		recs, err := t.queryFindings(ctx, pgSelectFindings, ids[lo:hi])
		out = append(out, recs...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("findings: %w", err)
	}
	sortRecords(out)
	return out, nil
}

func (t *pgTx) ListFindings(ctx context.Context, after string, limit int) ([]detect.FindingRecord, error) {
	if err := t.usable(false); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	out, err := t.queryFindings(ctx, pgListFindings, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list findings: %w", err)
	}
	return out, nil
}

func (t *pgTx) Checkpoints(ctx context.Context, keys []string) ([]detect.Checkpoint, error) {
	if err := t.usable(false); err != nil {
		return nil, err
	}
	keys = canonicalIDs(keys)
	var out []detect.Checkpoint
	err := chunks(len(keys), func(lo, hi int) error {
		rows, err := t.tx.Query(ctx, `SELECT key, value, t FROM checkpoints WHERE key IN (SELECT unnest($1::text[]) COLLATE "C")`, keys[lo:hi])
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c detect.Checkpoint
			var us *int64
			if err := rows.Scan(&c.Key, &c.Value, &us); err != nil {
				return err
			}
			c.Time = fromNullMicro(us)
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("checkpoints: %w", err)
	}
	sortCheckpoints(out)
	return out, nil
}

// pgInsertOccurrences inserts a chunk and returns the ordinals (positions in
// the chunk) of the rows that were new.
const pgInsertOccurrences = `WITH input AS (
    SELECT stream COLLATE "C" AS stream, grp COLLATE "C" AS grp, t, event_id COLLATE "C" AS event_id,
           tag COLLATE "C" AS tag, value COLLATE "C" AS value, ord
    FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[], $5::text[], $6::text[], $7::int4[])
        AS u(stream, grp, t, event_id, tag, value, ord)
), added AS (
    INSERT INTO occurrences (stream, grp, t, event_id, tag, value)
    SELECT stream, grp, t, event_id, tag, value FROM input
    ON CONFLICT DO NOTHING
    RETURNING stream, grp, t, event_id, tag, value
)
SELECT input.ord FROM input JOIN added USING (stream, grp, t, event_id, tag, value)`

func (t *pgTx) AddOccurrences(ctx context.Context, occ []detect.Occurrence) ([]bool, error) {
	if err := t.usable(true); err != nil {
		return nil, err
	}
	canon, first := uniqueOccurrences(occ)
	var rowsIdx []int // positions in occ of the rows sent
	for i := range canon {
		if first[i] {
			rowsIdx = append(rowsIdx, i)
		}
	}
	fresh := make([]bool, len(occ))
	err := chunks(len(rowsIdx), func(lo, hi int) error {
		n := hi - lo
		streams, groups, times := make([]string, n), make([]string, n), make([]int64, n)
		ids, tags, values, ords := make([]string, n), make([]string, n), make([]string, n), make([]int32, n)
		for j, i := range rowsIdx[lo:hi] {
			o := canon[i]
			streams[j], groups[j], times[j], ids[j], tags[j], values[j], ords[j] =
				o.Stream, o.Group, toMicro(o.Time), o.EventID, o.Tag, o.Value, int32(j)
		}
		rows, err := t.tx.Query(ctx, pgInsertOccurrences, streams, groups, times, ids, tags, values, ords)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var ord int32
			if err := rows.Scan(&ord); err != nil {
				return err
			}
			fresh[rowsIdx[lo+int(ord)]] = true
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("add occurrences: %w", err)
	}
	return fresh, nil
}

const pgUpsertBaselines = `INSERT INTO baselines (` + baselineColumns + `)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::text[], $6::int8[], $7::text[], $8::int8[]) ` + upsertBaseline

func (t *pgTx) Observe(ctx context.Context, obs []detect.Observation) error {
	if err := t.usable(true); err != nil {
		return err
	}
	deltas, err := mergeObservations(obs)
	if err != nil {
		return err
	}
	err = chunks(len(deltas), func(lo, hi int) error {
		n := hi - lo
		kinds, scopes, values := make([]string, n), make([]string, n), make([]string, n)
		firstT, firstID, lastT, lastID, counts := make([]int64, n), make([]string, n), make([]int64, n), make([]string, n), make([]int64, n)
		for i, d := range deltas[lo:hi] {
			kinds[i], scopes[i], values[i] = d.Kind, d.Scope, d.Value
			firstT[i], firstID[i], lastT[i], lastID[i] = toMicro(d.First.Time), d.First.EventID, toMicro(d.Last.Time), d.Last.EventID
			counts[i] = d.Count
		}
		_, err := t.tx.Exec(ctx, pgUpsertBaselines, kinds, scopes, values, firstT, firstID, lastT, lastID, counts)
		return err
	})
	if err != nil {
		return fmt.Errorf("observe: %w", err)
	}
	return nil
}

const pgUpsertFindings = `INSERT INTO findings (` + findingColumns + `)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::int8[], $6::int8[], $7::bytea[])
ON CONFLICT (id) DO UPDATE SET rule_id = excluded.rule_id, account = excluded.account,
    first_seen = excluded.first_seen, last_seen = excluded.last_seen, count = excluded.count, record = excluded.record`

func (t *pgTx) UpsertFindings(ctx context.Context, recs []detect.FindingRecord) ([]detect.FindingRecord, error) {
	if err := t.usable(true); err != nil {
		return nil, err
	}
	merged, idx, err := mergeWithStored(ctx, t, recs)
	if err != nil {
		return nil, err
	}
	err = chunks(len(merged), func(lo, hi int) error {
		n := hi - lo
		ids, rules, accounts := make([]string, n), make([]string, n), make([]string, n)
		first, last, counts, data := make([]*int64, n), make([]*int64, n), make([]int64, n), make([][]byte, n)
		for i, r := range merged[lo:hi] {
			b, err := encodeRecord(r)
			if err != nil {
				return err
			}
			ids[i], rules[i], accounts[i] = r.ID, r.RuleID, r.Account
			first[i], last[i], counts[i], data[i] = nullMicro(r.FirstSeen), nullMicro(r.LastSeen), r.Count, b
		}
		_, err := t.tx.Exec(ctx, pgUpsertFindings, ids, rules, accounts, first, last, counts, data)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("upsert findings: %w", err)
	}
	out := make([]detect.FindingRecord, len(recs))
	for i, j := range idx {
		out[i] = merged[j]
	}
	return out, nil
}

const pgSetCheckpoints = `INSERT INTO checkpoints (key, value, t)
SELECT * FROM unnest($1::text[], $2::text[], $3::int8[])
ON CONFLICT (key) DO UPDATE SET value = excluded.value, t = excluded.t`

func (t *pgTx) SetCheckpoints(ctx context.Context, cps []detect.Checkpoint) error {
	if err := t.usable(true); err != nil {
		return err
	}
	// The last checkpoint of a key wins, as when they are written one by one;
	// one statement may not update a row twice.
	pos := map[string]int{}
	var uniq []detect.Checkpoint
	for _, c := range cps {
		c = c.Canonical()
		if j, ok := pos[c.Key]; ok {
			uniq[j] = c
			continue
		}
		pos[c.Key] = len(uniq)
		uniq = append(uniq, c)
	}
	err := chunks(len(uniq), func(lo, hi int) error {
		n := hi - lo
		keys, values, times := make([]string, n), make([]string, n), make([]*int64, n)
		for i, c := range uniq[lo:hi] {
			keys[i], values[i], times[i] = c.Key, c.Value, nullMicro(c.Time)
		}
		_, err := t.tx.Exec(ctx, pgSetCheckpoints, keys, values, times)
		return err
	})
	if err != nil {
		return fmt.Errorf("set checkpoints: %w", err)
	}
	return nil
}

func (t *pgTx) Evict(ctx context.Context, r detect.Retention) (detect.Evicted, error) {
	var n detect.Evicted
	if err := t.usable(true); err != nil {
		return n, err
	}
	r = r.Canonical()
	for _, e := range evictions {
		cut := e.cutoff(r)
		if cut.IsZero() {
			continue
		}
		tag, err := t.tx.Exec(ctx, e.sql, toMicro(cut))
		if err != nil {
			return n, fmt.Errorf("evict: %w", err)
		}
		*e.count(&n) = tag.RowsAffected()
	}
	return n, nil
}
