package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/trailsentry/trailsentry/internal/detect"
	"github.com/trailsentry/trailsentry/internal/store/storetest"
)

// The PostgreSQL tests run when TRAILSENTRY_TEST_POSTGRES holds a DSN
// (postgres://...); .ci/run starts a throwaway server and sets it. Each test
// works in a schema of its own, dropped at the end.
const postgresEnv = "TRAILSENTRY_TEST_POSTGRES"

func openT(tb testing.TB, dsn string) Store {
	tb.Helper()
	st, err := Open(context.Background(), dsn)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

// sqliteState makes a fresh SQLite file for one test.
func sqliteState(tb testing.TB) func(testing.TB) detect.State {
	path := filepath.Join(tb.TempDir(), "state.db")
	return func(tb testing.TB) detect.State { return openT(tb, path) }
}

func postgresDSN(tb testing.TB) string { return storetest.PostgresDSN(tb) }

// postgresSchema creates an empty schema for one test and returns a DSN that
// uses it (storetest.PostgresSchema).
func postgresSchema(tb testing.TB) string { return storetest.PostgresSchema(tb) }

func postgresState(tb testing.TB) func(testing.TB) detect.State {
	dsn := postgresSchema(tb)
	return func(tb testing.TB) detect.State { return openT(tb, dsn) }
}

func TestStoreSQLite(t *testing.T) { storetest.Run(t, sqliteState) }

func TestStorePostgres(t *testing.T) {
	postgresDSN(t)
	storetest.Run(t, postgresState)
}

// migrationRows returns the versions recorded in schema_migrations.
func migrationRows(t *testing.T, st Store) []int {
	t.Helper()
	ctx := context.Background()
	var out []int
	switch s := st.(type) {
	case *sqliteStore:
		rows, err := s.reader.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			out = append(out, v)
		}
	case *pgStore:
		rows, err := s.pool.Query(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
		if err != nil {
			t.Fatal(err)
		}
		out, err = pgx.CollectRows(rows, pgx.RowTo[int])
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func testMigrations(t *testing.T, backend, dsn string) {
	all, err := migrations(backend)
	if err != nil {
		t.Fatal(err)
	}
	var want []int
	for _, m := range all {
		want = append(want, m.version)
	}
	check := func(st Store) {
		t.Helper()
		if got := migrationRows(t, st); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("schema_migrations = %v, want %v", got, want)
		}
	}

	// Workers opening a new database at once: each migration applied once.
	var wg sync.WaitGroup
	stores := make([]Store, 6)
	errs := make([]error, len(stores))
	for i := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = Open(context.Background(), dsn)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent Open %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	check(stores[0])
	if got := stores[0].Backend(); got != backend {
		t.Errorf("Backend = %s", got)
	}
	// State written through one is there after a re-open.
	err = stores[1].Update(context.Background(), func(tx detect.Tx) error {
		return tx.SetCheckpoints(context.Background(), []detect.Checkpoint{{Key: "k", Value: "v"}})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range stores {
		st.Close()
	}
	st := openT(t, dsn)
	check(st)
	err = st.View(context.Background(), func(r detect.Reader) error {
		c, err := r.Checkpoints(context.Background(), []string{"k"})
		if err == nil && (len(c) != 1 || c[0].Value != "v") {
			err = fmt.Errorf("checkpoint after re-open: %+v", c)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	// A database a newer trailsentry migrated further is refused.
	newer := `INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 'x')`
	switch s := st.(type) {
	case *sqliteStore:
		_, err = s.writer.Exec(newer)
	case *pgStore:
		_, err = s.pool.Exec(context.Background(), newer)
	}
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if _, err := Open(context.Background(), dsn); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open of a newer schema: %v", err)
	}
}

func TestStoreMigrationsSQLite(t *testing.T) {
	testMigrations(t, "sqlite", "sqlite:"+filepath.Join(t.TempDir(), "sub dir?#", "state.db"))
}

func TestStoreMigrationsPostgres(t *testing.T) {
	testMigrations(t, "postgres", postgresSchema(t))
}

func TestStoreMigrationFiles(t *testing.T) {
	sqlite, err := migrations("sqlite")
	if err != nil {
		t.Fatal(err)
	}
	pg, err := migrations("postgres")
	if err != nil {
		t.Fatal(err)
	}
	if len(sqlite) != len(pg) {
		t.Fatalf("%d SQLite migrations, %d PostgreSQL ones: each change needs both", len(sqlite), len(pg))
	}
	for i := range sqlite {
		if sqlite[i].name != pg[i].name {
			t.Errorf("migration %d: %s in SQLite, %s in PostgreSQL", i+1, sqlite[i].name, pg[i].name)
		}
	}
	if _, err := pending(sqlite, []int{1, 7}); err == nil {
		t.Error("a version beyond the known ones was accepted")
	}
}

func TestStoreOpenDSN(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_STATE_HOME", dir)
	def, err := DefaultPath()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "trailsentry", "state.db"); def != want {
		t.Errorf("DefaultPath = %s, want %s", def, want)
	}
	st := openT(t, "")
	if st.Backend() != "sqlite" || st.Location() != def {
		t.Errorf("Open(\"\") = %s %s", st.Backend(), st.Location())
	}
	if _, err := os.Stat(def); err != nil {
		t.Errorf("default state file: %v", err)
	}

	t.Setenv("XDG_STATE_HOME", "relative/ignored")
	t.Setenv("HOME", dir)
	if def, _ := DefaultPath(); def != filepath.Join(dir, ".local", "state", "trailsentry", "state.db") {
		t.Errorf("DefaultPath without XDG_STATE_HOME = %s", def)
	}

	plain := filepath.Join(dir, "a", "b.db")
	if st := openT(t, plain); st.Location() != plain {
		t.Errorf("Location = %s", st.Location())
	}
	if st := openT(t, "sqlite:"+plain); st.Location() != plain {
		t.Errorf("Location = %s", st.Location())
	}
	if _, err := Open(context.Background(), "mysql://u:p@h/db"); err == nil || strings.Contains(err.Error(), ":p@") {
		t.Errorf("Open(mysql://) = %v", err)
	}
}

func TestStorePostgresLocation(t *testing.T) {
	dsn := postgresSchema(t)
	u, _ := url.Parse(dsn)
	u.User = url.UserPassword(u.User.Username(), "s3cret")
	st, err := Open(context.Background(), u.String())
	if err != nil {
		// The throwaway server trusts loopback, so a password is ignored;
		// a server that checks it fails here, which says nothing about
		// Location.
		t.Skipf("Open with a password: %v", err)
	}
	defer st.Close()
	if loc := st.Location(); strings.Contains(loc, "s3cret") || !strings.HasPrefix(loc, "postgres://") {
		t.Errorf("Location = %s", loc)
	}
}

// sqliteTableNames lists the tables, so a test can see what Open created.
func sqliteTableNames(t *testing.T, db *sql.DB) string {
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		names = append(names, n)
	}
	return strings.Join(names, " ")
}

func TestStoreSQLiteSchema(t *testing.T) {
	st := openT(t, filepath.Join(t.TempDir(), "s.db")).(*sqliteStore)
	if got := sqliteTableNames(t, st.reader); got != "baselines checkpoints findings occurrences outbox schema_migrations sqlite_sequence" {
		t.Errorf("tables: %s", got)
	}
	var mode string
	if err := st.reader.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v", mode, err)
	}
}

const benchBatch = 10000

func BenchmarkStoreOccurrences(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { storetest.BenchmarkOccurrences(b, sqliteState, benchBatch) })
	b.Run("postgres", func(b *testing.B) { storetest.BenchmarkOccurrences(b, postgresState, benchBatch) })
}

func BenchmarkStoreObserve(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { storetest.BenchmarkObserve(b, sqliteState, benchBatch) })
	b.Run("postgres", func(b *testing.B) { storetest.BenchmarkObserve(b, postgresState, benchBatch) })
}
