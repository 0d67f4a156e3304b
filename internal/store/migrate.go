package store

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// The schema's migrations, one directory per backend. A migration is a file
// NNNN_name.sql; the number is its version. Migrations are applied in order,
// each once, in one transaction at Open, and recorded in schema_migrations.
// A released migration is never edited: a change is a new file, in both
// directories, with the same number.
//
//go:embed migrations
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns a backend's migrations in version order.
func migrations(backend string) ([]migration, error) {
	dir := path.Join("migrations", backend)
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration %s/%s: not NNNN_name.sql", dir, e.Name())
		}
		b, err := fs.ReadFile(migrationFiles, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{v, name, string(b)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("migrations %s: version %d where %d was expected", dir, m.version, i+1)
		}
	}
	return out, nil
}

// pending returns the migrations not yet applied, given the versions that
// were; it refuses a database that a newer trailsentry has migrated further.
func pending(all []migration, applied []int) ([]migration, error) {
	done := map[int]bool{}
	latest := 0
	for _, v := range applied {
		done[v] = true
		latest = max(latest, v)
	}
	if n := len(all); latest > n {
		return nil, fmt.Errorf("state schema is at version %d, newer than this trailsentry knows (%d): upgrade trailsentry", latest, n)
	}
	var out []migration
	for _, m := range all {
		if !done[m.version] {
			out = append(out, m)
		}
	}
	return out, nil
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at TEXT    NOT NULL
)`
