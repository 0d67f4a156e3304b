package storetest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
)

// PostgresEnv names the environment variable that holds the DSN of a
// PostgreSQL server for tests; .ci/run starts a throwaway server and sets
// it.
const PostgresEnv = "TRAILSENTRY_TEST_POSTGRES"

// PostgresDSN returns the test server's DSN, skipping the test when none is
// set.
func PostgresDSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv(PostgresEnv)
	if dsn == "" {
		tb.Skipf("%s is not set: skipping the PostgreSQL tests (.ci/run starts a server and sets it)", PostgresEnv)
	}
	return dsn
}

var schemaSeq atomic.Int64

// PostgresSchema creates an empty schema on the test server for one test,
// dropped when it ends, and returns a DSN that uses it (its search_path).
// It skips the test when no server is set.
func PostgresSchema(tb testing.TB) string {
	tb.Helper()
	base := PostgresDSN(tb)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("connect to %s: %v", PostgresEnv, err)
	}
	defer conn.Close(ctx)
	schema := fmt.Sprintf("ts_test_%d_%d", os.Getpid(), schemaSeq.Add(1))
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("%s: %v", PostgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
