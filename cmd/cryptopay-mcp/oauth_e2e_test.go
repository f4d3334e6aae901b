package main

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/oauth/oauthtest"
)

// connectAs opens an MCP session over Streamable HTTP with extra headers,
// without connect's minimum-tool check (a narrow token lists few tools).
func (p *httpProc) connectAs(t testing.TB, hdr map[string]string) *server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "e2e-oauth", Version: "0"}, nil)
	session, err := client.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint: p.mcpURL, HTTPClient: &http.Client{Transport: headerTransport{hdr: hdr}}, MaxRetries: -1,
	}, nil)
	if err != nil {
		t.Fatalf("connect %s: %v\nstderr:\n%s", p.mcpURL, err, p.stderr.String())
	}
	return newServer(ctx, t, session, p.stderr, p.cmd)
}

// sortedToolNames is tools/list's names in order.
func sortedToolNames(t *testing.T, s *server) []string {
	t.Helper()
	var out []string
	for n := range toolNames(t, s) {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// TestHTTPOAuth runs `cryptopay-mcp http` as an OAuth resource server in
// front of an in-process authorization server: metadata, challenges, each
// kind of bad token (none reaches a tool), scopes that narrow tools/list
// and refuse calls, and a good token that creates a payment.
func TestHTTPOAuth(t *testing.T) {
	as, err := oauthtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer as.HTTP.Close()
	env := baseEnv(t, t.TempDir())
	env["MCP_OAUTH_ISSUER"] = as.Issuer // the JWKS is discovered from its metadata
	p := startHTTP(t, env, "--listen", "127.0.0.1:0")
	resource := p.mcpURL

	// RFC 9728 metadata, at the path-inserted and the root well-known URL.
	for _, path := range []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"} {
		code, body := p.do(t, "GET", path, "", nil, "")
		var prm struct {
			Resource             string   `json:"resource"`
			AuthorizationServers []string `json:"authorization_servers"`
			ScopesSupported      []string `json:"scopes_supported"`
			BearerMethods        []string `json:"bearer_methods_supported"`
		}
		if code != 200 || json.Unmarshal([]byte(body), &prm) != nil || prm.Resource != resource ||
			!slices.Equal(prm.AuthorizationServers, []string{as.Issuer}) || !slices.Equal(prm.BearerMethods, []string{"header"}) ||
			!slices.Equal(prm.ScopesSupported, []string{"payments:read", "payments:write", "webhooks:read", "shop:read", "shop:purchase", "metrics:read"}) {
			t.Fatalf("%s: %d %s", path, code, body)
		}
	}

	// No token: 401 pointing at the metadata.
	req, _ := http.NewRequest("POST", p.mcpURL, strings.NewReader(initializeBody))
	for k, v := range mcpHeaders(nil) {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := `resource_metadata="` + p.base + `/.well-known/oauth-protected-resource/mcp"`; resp.StatusCode != 401 ||
		!strings.Contains(resp.Header.Get("WWW-Authenticate"), want) {
		t.Fatalf("no token: %d %q, want 401 with %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), want)
	}

	mint := func(tok oauthtest.Token) string {
		t.Helper()
		if tok.Audience == nil {
			tok.Audience = []string{resource}
		}
		s, err := as.Mint(tok)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if err := as.NewHiddenKey("unpublished"); err != nil {
		t.Fatal(err)
	}
	all := "payments:read payments:write webhooks:read shop:read shop:purchase"
	for _, tc := range []struct {
		name string
		tok  oauthtest.Token
		want int
	}{
		{"expired", oauthtest.Token{Scope: all, Expires: time.Now().Add(-5 * time.Minute)}, 401},
		{"wrong audience", oauthtest.Token{Scope: all, Audience: []string{"https://other.example/mcp"}}, 401},
		{"wrong issuer", oauthtest.Token{Scope: all, Issuer: "https://evil.example"}, 401},
		{"unknown kid", oauthtest.Token{Scope: all, KID: "unpublished"}, 401},
		{"alg none", oauthtest.Token{Scope: all, Alg: "none"}, 401},
		{"HS256 with the public key", oauthtest.Token{Scope: all, Alg: "HS256-public"}, 401},
		{"none of our scopes", oauthtest.Token{Scope: "openid email"}, 403},
		{"good", oauthtest.Token{Scope: "payments:read"}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := p.do(t, "POST", "/mcp", initializeBody, mcpHeaders(bearer(mint(tc.tok))), "")
			if code != tc.want {
				t.Errorf("%d, want %d: %.200s", code, tc.want, body)
			}
		})
	}
	// /metrics wants metrics:read: every caller's calls are in it.
	for _, tc := range []struct {
		scope string
		want  int
	}{{all, 403}, {"metrics:read", 200}, {"", 401}} {
		hdr := map[string]string{}
		if tc.scope != "" {
			hdr = bearer(mint(oauthtest.Token{Scope: tc.scope}))
		}
		code, body := p.do(t, "GET", "/metrics", "", hdr, "")
		if code != tc.want || (code == 200 && !strings.Contains(body, "cryptopay_tool_calls_in_flight")) {
			t.Errorf("/metrics with scope %q: %d, want %d: %.200s", tc.scope, code, tc.want, body)
		}
	}
	if !strings.Contains(p.stderr.String(), "token is expired") || !strings.Contains(p.stderr.String(), "invalid audience") {
		t.Errorf("refusals are not logged with their reason:\n%s", p.stderr.String())
	}

	// A read-only token lists the read tools only and cannot create.
	reader := p.connectAs(t, bearer(mint(oauthtest.Token{Scope: "payments:read"})))
	if got, want := sortedToolNames(t, reader), []string{"generate_payment_qr", "get_payment_status", "list_currencies_catalog", "wait_for_payment"}; !slices.Equal(got, want) {
		t.Errorf("payments:read lists %v, want %v", got, want)
	}
	if e := reader.fail(t, "create_payment_link", map[string]any{"amount_eur": 5}); e.Error.Code != "INSUFFICIENT_SCOPE" ||
		e.Error.Details["required_scope"] != "payments:write" {
		t.Errorf("create with payments:read: %+v", e.Error)
	}
	reader.close(t)

	// A full token creates a payment; cryptopay://access names the caller.
	writer := p.connectAs(t, bearer(mint(oauthtest.Token{Scope: "payments:read payments:write", Subject: "merchant-7", ClientID: "claude"})))
	payLinkAndStatus(t, writer)
	rr, err := writer.session.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: "cryptopay://access"})
	if err != nil {
		t.Fatal(err)
	}
	if txt := rr.Contents[0].Text; !strings.Contains(txt, `"subject":"merchant-7"`) || !strings.Contains(txt, `"client_id":"claude"`) {
		t.Errorf("cryptopay://access: %s", txt)
	}
	writer.close(t)
	syscallTerm(t, p)
}

// TestHTTPStaticTokenScopes: MCP_HTTP_TOKEN_SCOPES narrows what the static
// token may do.
func TestHTTPStaticTokenScopes(t *testing.T) {
	env := baseEnv(t, t.TempDir())
	env["MCP_HTTP_TOKEN"] = e2eToken
	env["MCP_HTTP_TOKEN_SCOPES"] = "payments:read"
	p := startHTTP(t, env, "--listen", "127.0.0.1:0")
	s := p.connectAs(t, bearer(e2eToken))
	if got := sortedToolNames(t, s); len(got) != 4 || slices.Contains(got, "create_payment_link") {
		t.Errorf("tools = %v", got)
	}
	if e := s.fail(t, "create_payment_onchain", map[string]any{"amount_eur": 5, "input_currency": "BTC"}); e.Error.Code != "INSUFFICIENT_SCOPE" {
		t.Errorf("create: %+v", e.Error)
	}
	s.close(t)
	syscallTerm(t, p)
}

func TestHTTPTokenAndOAuthIsAConfigError(t *testing.T) {
	env := baseEnv(t, t.TempDir())
	env["MCP_HTTP_TOKEN"] = e2eToken
	env["MCP_OAUTH_ISSUER"] = "https://auth.example.com"
	p := runHTTPProc(t, env, "--listen", "127.0.0.1:0")
	if code := p.wait(t, 10*time.Second); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	if lines := strings.Split(strings.TrimSpace(p.stderr.String()), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "not both") {
		t.Errorf("want one config line, got:\n%s", p.stderr.String())
	}
}
