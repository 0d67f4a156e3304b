// Package store keeps detection state — correlation windows, first-seen
// baselines, credential origin, findings and source checkpoints — in a
// database, behind the detect.State interface: SQLite by default, a file in
// the user's state directory (pure Go, modernc.org/sqlite), or PostgreSQL
// through pgx when several workers share state. docs/state.md describes the
// DSN forms, the schema and its migrations, and retention.
//
// Both backends keep the same schema (migrations/<backend>/NNNN_name.sql,
// applied at Open) and give the same answers as detect.MemoryState; the
// conformance suite in store/storetest runs against all three.
//
// The files:
//
//	store.go     Open, DefaultPath, the Store interface
//	migrate.go   the embedded, numbered migrations and their runner
//	record.go    what the findings table keeps beside its columns, and time helpers
//	sqlite.go    the SQLite backend
//	postgres.go  the PostgreSQL backend
//	outbox.go    the alert outbox, on both backends
package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/trailsentry/trailsentry/internal/detect"
)

// Store is detection state kept in a database.
type Store interface {
	detect.State
	// Outbox holds the alert notifications to send, enqueued in the same
	// transactions as the findings (outbox.go).
	Outbox

	// Backend is "sqlite" or "postgres".
	Backend() string
	// Location says where the state is, without secrets: the SQLite file's
	// path, or the PostgreSQL URL without its password.
	Location() string
	// Close releases the database; the Store must not be used after.
	Close() error
}

// Open opens the state named by dsn, creating it and applying pending schema
// migrations as needed:
//
//	""                         the default SQLite file (DefaultPath)
//	PATH or sqlite:PATH        a SQLite file, created with its directory if missing
//	postgres://... or postgresql://...
//	                           a PostgreSQL database (a pgx connection URL; its
//	                           search_path parameter selects the schema)
func Open(ctx context.Context, dsn string) (Store, error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return openPostgres(ctx, dsn)
	case dsn == "":
		path, err := DefaultPath()
		if err != nil {
			return nil, err
		}
		return openSQLite(ctx, path)
	case strings.HasPrefix(dsn, "sqlite:"):
		return openSQLite(ctx, strings.TrimPrefix(dsn, "sqlite:"))
	case strings.Contains(dsn, "://"):
		scheme, _, _ := strings.Cut(dsn, "://")
		return nil, fmt.Errorf("state %s://...: unsupported; use a file path, sqlite:PATH or postgres://", scheme)
	}
	return openSQLite(ctx, dsn)
}

// DefaultPath is the SQLite file used when no state is named:
// $XDG_STATE_HOME/trailsentry/state.db, or ~/.local/state/trailsentry/state.db
// when XDG_STATE_HOME is unset or not absolute (as the XDG base directory
// specification says).
func DefaultPath() (string, error) {
	if dir := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(dir) {
		return filepath.Join(dir, "trailsentry", "state.db"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("default state path: %w", err)
	}
	if home == "" {
		return "", errors.New("default state path: no home directory")
	}
	return filepath.Join(home, ".local", "state", "trailsentry", "state.db"), nil
}
