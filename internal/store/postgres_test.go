package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// testDatabaseEnv names a PostgreSQL database the tests may create schemas
// in (bash .ci/postgres.sh start sets one up). Without it the PostgreSQL
// tests skip.
const testDatabaseEnv = "CRYPTOPAY_TEST_DATABASE_URL"

// postgresTestURL creates a fresh schema for t, dropped when t ends, and
// returns the database URL with search_path set to it: every table, the
// migrations' bookkeeping included, lives in that schema.
func postgresTestURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(testDatabaseEnv)
	if base == "" {
		t.Skip(testDatabaseEnv + " is not set (bash .ci/postgres.sh start)")
	}
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", testDatabaseEnv, err)
	}
	defer conn.Close(ctx)
	schema := "t_" + strings.ToLower(rand.Text()[:12])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return withSearchPath(t, base, schema)
}

func withSearchPath(t testing.TB, base, schema string) string {
	t.Helper()
	if !strings.Contains(base, "://") { // key=value DSN
		return base + " search_path=" + schema
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// openTestPostgres opens a store on url, closed when t ends.
func openTestPostgres(t testing.TB, url string) *Postgres {
	t.Helper()
	s, err := OpenPostgres(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// postgresBackend is the "postgres" entry of backends: a store on a fresh
// schema. It skips when CRYPTOPAY_TEST_DATABASE_URL is unset.
func postgresBackend(t *testing.T) Store {
	return openTestPostgres(t, postgresTestURL(t))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
