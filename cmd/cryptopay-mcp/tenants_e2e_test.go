package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/oauth/oauthtest"
)

// TestHTTPTenants runs two merchants behind one `cryptopay-mcp http` in
// sandbox mode (each with its own fake Bitnovo, store and webhook secret),
// picked by the "merchant" claim of the caller's token: neither can read
// the other's payments, resources or events, and one's webhook does not
// wake the other's waiter.
func TestHTTPTenants(t *testing.T) {
	as, err := oauthtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer as.HTTP.Close()
	dir := t.TempDir()
	file := filepath.Join(dir, "tenants.yaml")
	if err := os.WriteFile(file, []byte(`claim: merchant
tenants:
  - id: acme
    bitnovo_device_id: 1a2b3c4d-0000-4000-8000-00000000000a
    shop_purchases_enabled: true
    shop_max_order_eur: 15
    shop_daily_limit_eur: 15
  - id: globex
    bitnovo_device_id: 1a2b3c4d-0000-4000-8000-00000000000b
    shop_purchases_enabled: true
`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := baseEnv(t, filepath.Join(dir, "data"))
	env["MCP_OAUTH_ISSUER"] = as.Issuer
	env["CRYPTOPAY_TENANTS_FILE"] = file
	env["CRYPTOPAY_SANDBOX"] = "true"
	env["SHOP_PURCHASES_ENABLED"] = "true"
	p := startHTTP(t, env, "--listen", "127.0.0.1:0")

	token := func(merchant string) map[string]string {
		t.Helper()
		extra := map[string]any{}
		if merchant != "" {
			extra["merchant"] = merchant
		}
		tok, err := as.Mint(oauthtest.Token{Audience: []string{p.mcpURL}, Subject: "clerk-" + merchant,
			Scope: "payments:read payments:write webhooks:read shop:read shop:purchase", Extra: extra})
		if err != nil {
			t.Fatal(err)
		}
		return bearer(tok)
	}
	for _, m := range []string{"", "initech"} {
		if code, body := p.do(t, "POST", "/mcp", initializeBody, mcpHeaders(token(m)), ""); code != 403 || !strings.Contains(body, "names no tenant") {
			t.Errorf("merchant %q: %d %s, want 403", m, code, body)
		}
	}

	acme, globex := p.connectAs(t, token("acme")), p.connectAs(t, token("globex"))
	defer acme.close(t)
	defer globex.close(t)
	var la, lg linkOut
	acme.ok(t, "create_payment_link", map[string]any{"amount_eur": 11, "include_qr": false, "idempotency_key": "order-1"}, &la)
	globex.ok(t, "create_payment_link", map[string]any{"amount_eur": 22, "include_qr": false, "idempotency_key": "order-1"}, &lg)
	if la.Identifier == lg.Identifier || la.FiatAmount != "11.00" || lg.FiatAmount != "22.00" {
		t.Fatalf("one key, two tenants: %+v %+v", la, lg)
	}
	// Neither sees the other's payment, as a tool or as a resource.
	if e := globex.fail(t, "get_payment_status", map[string]any{"identifier": la.Identifier}); e.Error.Code != "PAYMENT_NOT_FOUND" {
		t.Errorf("globex reads acme's payment: %+v", e.Error)
	}
	if e := acme.fail(t, "generate_payment_qr", map[string]any{"identifier": lg.Identifier}); e.Error.Code != "PAYMENT_NOT_FOUND" {
		t.Errorf("acme draws globex's QR: %+v", e.Error)
	}
	if _, err := globex.session.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: "bitnovo://payments/" + la.Identifier}); err == nil {
		t.Error("globex reads acme's payment resource")
	}

	// acme waits on its own payment while globex's is paid: globex's
	// webhook lands in globex's store and does not wake acme.
	type waitOut struct {
		TimedOut       bool `json:"timed_out"`
		WokenByWebhook bool `json:"woken_by_webhook"`
	}
	done := make(chan waitOut, 1)
	go func() {
		res, err := acme.session.CallTool(context.Background(), &mcp.CallToolParams{Name: "wait_for_payment",
			Arguments: map[string]any{"identifier": la.Identifier, "timeout_seconds": 3}})
		var w waitOut
		if err == nil && !res.IsError {
			b, _ := json.Marshal(res.StructuredContent)
			_ = json.Unmarshal(b, &w)
		}
		done <- w
	}()
	time.Sleep(200 * time.Millisecond)
	simulate(t, lg.WebURL, "pay")
	events := func(s *server, id string) int {
		var evs struct {
			Events []struct {
				Identifier string `json:"identifier"`
			} `json:"events"`
		}
		s.ok(t, "get_webhook_events", map[string]any{"identifier": id}, &evs)
		return len(evs.Events)
	}
	for end := time.Now().Add(10 * time.Second); events(globex, lg.Identifier) == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("globex's webhook never arrived\n%s", p.stderr.String())
		}
	}
	if n := events(acme, lg.Identifier); n != 0 {
		t.Errorf("acme's store holds %d of globex's events", n)
	}
	select {
	case w := <-done:
		if w.WokenByWebhook || !w.TimedOut {
			t.Errorf("acme's wait: %+v, want timed_out without a webhook", w)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("acme's wait did not return")
	}
	// acme's own payment wakes acme.
	simulate(t, la.WebURL, "pay")
	for end := time.Now().Add(10 * time.Second); events(acme, la.Identifier) == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("acme's webhook never arrived\n%s", p.stderr.String())
		}
	}
	if n := events(globex, la.Identifier); n != 0 {
		t.Errorf("globex's store holds %d of acme's events", n)
	}
	// Spending caps are per tenant: acme's 15 EUR a day stops its second
	// ~10 EUR purchase; globex, with the server's 200, buys on.
	buy := func(s *server) string {
		t.Helper()
		r := s.call(t, "create_invoice", buyArgs(10))
		if r.IsError {
			return text(r)
		}
		var c createOut
		_ = json.Unmarshal([]byte(text(r)), &c)
		var q payOut
		if r = s.call(t, "pay_invoice", map[string]any{"id": c.Invoice.ID}); r.IsError {
			return text(r)
		}
		_ = json.Unmarshal([]byte(text(r)), &q)
		if r = s.call(t, "pay_invoice", map[string]any{"id": c.Invoice.ID, "confirmation_token": q.ConfirmationToken}); r.IsError {
			return text(r)
		}
		return "paid"
	}
	if got := buy(acme); got != "paid" {
		t.Fatalf("acme's first purchase: %s", got)
	}
	if got := buy(acme); !strings.Contains(got, "DAILY_LIMIT_EXCEEDED") {
		t.Fatalf("acme's second purchase: %s, want DAILY_LIMIT_EXCEEDED", got)
	}
	for i := range 2 {
		if got := buy(globex); got != "paid" {
			t.Fatalf("globex's purchase %d: %s", i+1, got)
		}
	}
	// Each tenant's state is in its own directory.
	for _, id := range []string{"acme", "globex"} {
		if _, err := os.Stat(filepath.Join(dir, "data", "tenants", id, "cryptopay.db")); err != nil {
			t.Errorf("tenant %s has no store of its own: %v", id, err)
		}
	}
	syscallTerm(t, p)
}

// TestTenantsNeedOAuth: a tenants file without OAuth (or over stdio) is a
// one-line config error.
func TestTenantsNeedOAuth(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tenants.json")
	if err := os.WriteFile(file, []byte(`{"tenants": [{"id": "a"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := baseEnv(t, t.TempDir())
	env["CRYPTOPAY_TENANTS_FILE"] = file
	env["CRYPTOPAY_SANDBOX"] = "true"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--listen", "127.0.0.1:0"}, "CRYPTOPAY_TENANTS_FILE: needs MCP_OAUTH_ISSUER"},
		{nil, "CRYPTOPAY_TENANTS_FILE: only for `cryptopay-mcp http`"},
	} {
		var p *httpProc
		if tc.args == nil {
			p = runProc(t, env) // stdio; stdin is empty
		} else {
			p = runHTTPProc(t, env, tc.args...)
		}
		if code := p.wait(t, 10*time.Second); code != 2 {
			t.Errorf("%v: exit %d, want 2", tc.args, code)
		}
		if lines := strings.Split(strings.TrimSpace(p.stderr.String()), "\n"); len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
			t.Errorf("%v: want one line with %q, got:\n%s", tc.args, tc.want, p.stderr.String())
		}
	}
}
