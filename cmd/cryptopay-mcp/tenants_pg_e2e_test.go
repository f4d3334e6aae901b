package main

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/oauth/oauthtest"
)

// TestHTTPTenantsPostgres gives two tenants each a PostgreSQL store of its
// own (database_url in the tenants file) behind two replicas: a payment
// made through one replica is in its tenant's schema only, the other
// replica (with an empty data dir) answers the same idempotency key with
// the same payment, and the other tenant sees none of it. It skips without
// CRYPTOPAY_TEST_DATABASE_URL.
func TestHTTPTenantsPostgres(t *testing.T) {
	acmeDB, globexDB := replicaSchemaURL(t), replicaSchemaURL(t)
	as, err := oauthtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer as.HTTP.Close()
	file := filepath.Join(t.TempDir(), "tenants.yaml")
	if err := os.WriteFile(file, []byte("claim: merchant\ntenants:\n"+
		"  - id: acme\n    database_url: "+acmeDB+"\n"+
		"  - id: globex\n    database_url: "+globexDB+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	replica := func() *httpProc {
		env := baseEnv(t, t.TempDir())
		env["MCP_OAUTH_ISSUER"] = as.Issuer
		env["CRYPTOPAY_TENANTS_FILE"] = file
		env["CRYPTOPAY_SANDBOX"] = "true"
		return startHTTP(t, env, "--listen", "127.0.0.1:0")
	}
	connect := func(p *httpProc, merchant string) *server {
		t.Helper()
		tok, err := as.Mint(oauthtest.Token{Audience: []string{p.mcpURL}, Subject: "clerk", Scope: "payments:read payments:write",
			Extra: map[string]any{"merchant": merchant}})
		if err != nil {
			t.Fatal(err)
		}
		return p.connectAs(t, bearer(tok))
	}
	r1, r2 := replica(), replica()

	a1 := connect(r1, "acme")
	defer a1.close(t)
	var la linkOut
	a1.ok(t, "create_payment_link", map[string]any{"amount_eur": 11, "include_qr": false, "idempotency_key": "order-7"}, &la)

	count := func(db string) int {
		t.Helper()
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM payments WHERE identifier = $1", la.Identifier).Scan(&n); err != nil {
			t.Fatalf("count in %s: %v", redactedDB(db), err)
		}
		return n
	}
	if a, g := count(acmeDB), count(globexDB); a != 1 || g != 0 {
		t.Fatalf("acme's payment: %d rows in acme's database, %d in globex's", a, g)
	}

	// The other replica has nothing on disk: the key's record comes from
	// acme's database, so the same payment is returned, not a new one.
	a2 := connect(r2, "acme")
	defer a2.close(t)
	var again linkOut
	a2.ok(t, "create_payment_link", map[string]any{"amount_eur": 11, "include_qr": false, "idempotency_key": "order-7"}, &again)
	if again.Identifier != la.Identifier {
		t.Errorf("replica 2 made a second payment %s for acme's key (first %s)", again.Identifier, la.Identifier)
	}
	g2 := connect(r2, "globex")
	defer g2.close(t)
	if e := g2.fail(t, "get_payment_status", map[string]any{"identifier": la.Identifier}); e.Error.Code != "PAYMENT_NOT_FOUND" {
		t.Errorf("globex reads acme's payment: %+v", e.Error)
	}
	var lg linkOut
	g2.ok(t, "create_payment_link", map[string]any{"amount_eur": 22, "include_qr": false, "idempotency_key": "order-7"}, &lg)
	if lg.Identifier == la.Identifier {
		t.Error("globex's key returned acme's payment")
	}
}

func redactedDB(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "the database"
}
