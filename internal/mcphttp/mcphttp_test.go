package mcphttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/auth"
	"go.uber.org/goleak"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/access"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testToken = "0123456789abcdef0123456789abcdef-token"

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadConfig(t *testing.T) {
	for _, tc := range []struct {
		name      string
		env       map[string]string
		listen    string
		stateless bool
		want      Config
		problems  []string
	}{
		{name: "defaults", want: Config{Listen: DefaultListen}},
		{name: "stateless flag", stateless: true, want: Config{Listen: DefaultListen, Stateless: true}},
		{name: "stateless env", env: map[string]string{EnvStateless: "true"}, want: Config{Listen: DefaultListen, Stateless: true}},
		{name: "bad bool", env: map[string]string{EnvStateless: "maybe"}, problems: []string{`MCP_HTTP_STATELESS: "maybe" is not a boolean (use true or false)`}},
		{name: "bad listen", listen: "8080", problems: []string{`--listen "8080": want host:port, e.g. 127.0.0.1:8080`}},
		{name: "bad port", listen: "127.0.0.1:99999", problems: []string{`--listen "127.0.0.1:99999": port must be a number from 0 to 65535`}},
		{name: "public without token", listen: "0.0.0.0:0",
			problems: []string{"MCP_HTTP_TOKEN: required when --listen is not a loopback address (got 0.0.0.0:0); generate one with: openssl rand -hex 32, or set MCP_OAUTH_ISSUER for OAuth"}},
		{name: "all interfaces without token", listen: ":8080",
			problems: []string{"MCP_HTTP_TOKEN: required when --listen is not a loopback address (got :8080); generate one with: openssl rand -hex 32, or set MCP_OAUTH_ISSUER for OAuth"}},
		{name: "token scopes", env: map[string]string{EnvToken: testToken, EnvTokenScopes: "payments:read, shop:read"},
			want: Config{Listen: DefaultListen, Token: testToken, TokenScopes: []access.Scope{access.PaymentsRead, access.ShopRead}}},
		{name: "token scopes unknown", env: map[string]string{EnvToken: testToken, EnvTokenScopes: "payments:admin"},
			problems: []string{`MCP_HTTP_TOKEN_SCOPES: unknown scope "payments:admin" (valid: payments:read, payments:write, webhooks:read, shop:read, shop:purchase, metrics:read)`}},
		{name: "token scopes without token", env: map[string]string{EnvTokenScopes: "payments:read"},
			problems: []string{"MCP_HTTP_TOKEN_SCOPES: only applies with MCP_HTTP_TOKEN"}},
		{name: "token and oauth", env: map[string]string{EnvToken: testToken, EnvOAuthIssuer: "https://auth.example.com"},
			problems: []string{"MCP_HTTP_TOKEN and MCP_OAUTH_ISSUER: set one (a static token or OAuth), not both"}},
		{name: "oauth public with url", listen: "0.0.0.0:9000", env: map[string]string{EnvOAuthIssuer: "https://auth.example.com/realms/shop",
			EnvPublicURL: "https://MCP.example.com", EnvOAuthAudience: "cryptopay"},
			want: Config{Listen: "0.0.0.0:9000", PublicURL: "https://MCP.example.com/mcp", AllowedHosts: []string{"mcp.example.com"},
				OAuth: OAuthConfig{Issuer: "https://auth.example.com/realms/shop", Audience: "cryptopay"}}},
		{name: "oauth wildcard without public url", listen: "0.0.0.0:9000", env: map[string]string{EnvOAuthIssuer: "https://auth.example.com"},
			problems: []string{"MCP_HTTP_PUBLIC_URL: required with MCP_OAUTH_ISSUER when --listen is a wildcard address (0.0.0.0:9000): it is the resource that tokens must name"}},
		{name: "oauth plain http issuer", env: map[string]string{EnvOAuthIssuer: "http://auth.example.com", EnvOAuthJWKS: "ftp://x"},
			problems: []string{`MCP_OAUTH_ISSUER: "http://auth.example.com" uses plain http; use https:// (http is only allowed for loopback hosts)`,
				`MCP_OAUTH_JWKS_URL: "ftp://x" is not an absolute http(s) URL`}},
		{name: "oauth requires at+jwt", env: map[string]string{EnvOAuthIssuer: "https://auth.example.com", EnvOAuthRequireATJWT: "true"},
			want: Config{Listen: DefaultListen, OAuth: OAuthConfig{Issuer: "https://auth.example.com", RequireATJWT: true}}},
		{name: "at+jwt not a bool", env: map[string]string{EnvOAuthIssuer: "https://auth.example.com", EnvOAuthRequireATJWT: "sure"},
			problems: []string{`MCP_OAUTH_REQUIRE_AT_JWT: "sure" is not a boolean (use true or false)`}},
		{name: "at+jwt without issuer", env: map[string]string{EnvOAuthRequireATJWT: "true"},
			problems: []string{"MCP_OAUTH_REQUIRE_AT_JWT: only applies with MCP_OAUTH_ISSUER"}},
		{name: "jwks without issuer", env: map[string]string{EnvOAuthJWKS: "https://auth.example.com/jwks"},
			problems: []string{"MCP_OAUTH_JWKS_URL: only applies with MCP_OAUTH_ISSUER"}},
		{name: "public url with query", env: map[string]string{EnvPublicURL: "https://mcp.example.com/mcp?x=1"},
			problems: []string{`MCP_HTTP_PUBLIC_URL: "https://mcp.example.com/mcp?x=1" must not carry credentials, a query or a fragment`}},
		{name: "public with token", listen: "0.0.0.0:9000", env: map[string]string{EnvToken: testToken},
			want: Config{Listen: "0.0.0.0:9000", Token: testToken}},
		{name: "ipv6 loopback", listen: "[::1]:0", want: Config{Listen: "[::1]:0"}},
		{name: "localhost", listen: "localhost:0", want: Config{Listen: "localhost:0"}},
		{name: "short token", env: map[string]string{EnvToken: "short"},
			problems: []string{"MCP_HTTP_TOKEN: too short (5 characters); use at least 32, e.g. openssl rand -hex 32"}},
		{name: "token with space", env: map[string]string{EnvToken: testToken + " x"},
			problems: []string{"MCP_HTTP_TOKEN: must be printable ASCII without spaces"}},
		{name: "lists", env: map[string]string{
			EnvAllowedOrigins: " https://App.Example.com , http://localhost:5173,http://x.test:*,https://[2001:db8::1]/",
			EnvAllowedHosts:   "MCP.example.com, *.trycloudflare.com,192.0.2.7,[2001:db8::1]",
		}, want: Config{Listen: DefaultListen,
			AllowedOrigins: []string{"https://app.example.com:443", "http://localhost:5173", "http://x.test:*", "https://[2001:db8::1]:443"},
			AllowedHosts:   []string{"mcp.example.com", "*.trycloudflare.com", "192.0.2.7", "2001:db8::1"},
		}},
		{name: "bad lists", env: map[string]string{
			EnvAllowedOrigins: "app.example.com,https://a.test/path,ftp://x,http://a.test:0",
			EnvAllowedHosts:   "https://mcp.example.com,mcp.example.com:443,bad_-.x..y,-x.test",
		}, problems: []string{
			`MCP_HTTP_ALLOWED_ORIGINS: "app.example.com" must start with http:// or https://`,
			`MCP_HTTP_ALLOWED_ORIGINS: "https://a.test/path" must be scheme://host[:port] without path, query or credentials (port * means any)`,
			`MCP_HTTP_ALLOWED_ORIGINS: "ftp://x" must start with http:// or https://`,
			`MCP_HTTP_ALLOWED_ORIGINS: "http://a.test:0" has an invalid port`,
			`MCP_HTTP_ALLOWED_HOSTS: "https://mcp.example.com" must be a bare host name such as mcp.example.com (no scheme or path)`,
			`MCP_HTTP_ALLOWED_HOSTS: "mcp.example.com:443" must not carry a port (any port is accepted)`,
			`MCP_HTTP_ALLOWED_HOSTS: "bad_-.x..y" is not a valid host name`,
			`MCP_HTTP_ALLOWED_HOSTS: "-x.test" is not a valid host name`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LoadConfig(env(tc.env), tc.listen, tc.stateless)
			if tc.problems != nil {
				var p Problems
				if !errors.As(err, &p) {
					t.Fatalf("err = %v, want problems", err)
				}
				if diff := cmp.Diff(tc.problems, []string(p)); diff != "" {
					t.Errorf("problems (-want +got):\n%s", diff)
				}
				if strings.Contains(err.Error(), testToken) {
					t.Error("a problem shows the token")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
			if tc.want.Token != "" && strings.Contains(got.String(), tc.want.Token) {
				t.Error("String shows the token")
			}
		})
	}
}

// inner is a stand-in for the MCP handler: it answers 200 "mcp", or for
// GET holds the request open until its context ends.
type inner struct{ started chan struct{} }

func (in inner) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		if in.started != nil {
			close(in.started)
		}
		<-r.Context().Done()
		return
	}
	_, _ = w.Write([]byte("mcp"))
}

type testAddr string

func (a testAddr) Network() string { return "tcp" }
func (a testAddr) String() string  { return string(a) }

func newHandler(t *testing.T, cfg Config, bound string, logw *bytes.Buffer) *Handler {
	t.Helper()
	var log *slog.Logger
	if logw != nil {
		log = slog.New(slog.NewTextHandler(logw, nil))
	}
	h, err := New(Options{MCP: inner{}, Config: cfg, Addr: testAddr(bound), Logger: log,
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("metrics")) })})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// request builds a request that arrived on local (the listener's address
// as the server sees it).
func request(method, path, host, local string, hdr map[string]string) *http.Request {
	r := httptest.NewRequest(method, path, nil)
	r.Host = host
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	if local != "" {
		r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, testAddr(local)))
	}
	return r
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func TestHostCheck(t *testing.T) {
	bearer := map[string]string{"Authorization": "Bearer " + testToken}
	for _, tc := range []struct {
		name  string
		bind  string // the bound listener address
		hosts []string
		host  string // Host header
		local string // address the request arrived on
		want  int
	}{
		{"loopback bind, loopback host", "127.0.0.1:8080", nil, "127.0.0.1:8080", "127.0.0.1:8080", 200},
		{"loopback bind, localhost", "127.0.0.1:8080", nil, "localhost:8080", "127.0.0.1:8080", 200},
		{"loopback bind, localhost. any port", "127.0.0.1:8080", nil, "LOCALHOST.:1234", "127.0.0.1:8080", 200},
		{"loopback bind, ::1", "[::1]:8080", nil, "[::1]:8080", "[::1]:8080", 200},
		{"loopback bind, rebinding", "127.0.0.1:8080", nil, "evil.example.com:8080", "127.0.0.1:8080", 403},
		{"loopback bind, public ip", "127.0.0.1:8080", nil, "192.0.2.1:8080", "127.0.0.1:8080", 403},
		{"loopback bind, empty host", "127.0.0.1:8080", nil, "", "127.0.0.1:8080", 403},
		{"loopback bind, declared tunnel host", "127.0.0.1:8080", []string{"mcp.example.com"}, "mcp.example.com", "127.0.0.1:8080", 200},
		{"loopback bind, declared host, other name", "127.0.0.1:8080", []string{"mcp.example.com"}, "evil.example.com", "127.0.0.1:8080", 403},
		{"loopback bind, wildcard", "127.0.0.1:8080", []string{"*.trycloudflare.com"}, "abc-def.trycloudflare.com", "127.0.0.1:8080", 200},
		{"loopback bind, wildcard needs a subdomain", "127.0.0.1:8080", []string{"*.trycloudflare.com"}, "trycloudflare.com", "127.0.0.1:8080", 403},
		{"loopback bind, wildcard suffix trick", "127.0.0.1:8080", []string{"*.trycloudflare.com"}, "eviltrycloudflare.com", "127.0.0.1:8080", 403},
		{"specific bind, own ip", "192.0.2.10:8080", nil, "192.0.2.10:8080", "192.0.2.10:8080", 200},
		{"specific bind, other name", "192.0.2.10:8080", nil, "evil.example.com:8080", "192.0.2.10:8080", 403},
		{"specific bind, declared hosts replace own ip", "192.0.2.10:8080", []string{"mcp.example.com"}, "192.0.2.10:8080", "192.0.2.10:8080", 403},
		{"specific bind, declared host", "192.0.2.10:8080", []string{"mcp.example.com"}, "MCP.example.com", "192.0.2.10:8080", 200},
		{"wildcard bind, arrival ip", "0.0.0.0:8080", nil, "192.0.2.10:8080", "192.0.2.10:8080", 200},
		{"wildcard bind, other ip", "0.0.0.0:8080", nil, "192.0.2.99:8080", "192.0.2.10:8080", 403},
		{"wildcard bind, name", "0.0.0.0:8080", nil, "evil.example.com", "192.0.2.10:8080", 403},
		{"wildcard bind, localhost via loopback", "0.0.0.0:8080", nil, "localhost:8080", "127.0.0.1:8080", 200},
		{"wildcard bind, localhost via public ip", "0.0.0.0:8080", nil, "localhost:8080", "192.0.2.10:8080", 403},
		{"ipv6 wildcard bind, arrival ip", "[::]:8080", nil, "[2001:db8::5]:8080", "[2001:db8::5]:8080", 200},
		{"wildcard bind, declared host", "0.0.0.0:8080", []string{"mcp.example.com"}, "mcp.example.com", "10.0.0.5:8080", 200},
		{"wildcard bind, declared hosts replace arrival ip", "0.0.0.0:8080", []string{"mcp.example.com"}, "10.0.0.5:8080", "10.0.0.5:8080", 403},
		{"malformed host", "127.0.0.1:8080", nil, "local host", "127.0.0.1:8080", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHandler(t, Config{Token: testToken, AllowedHosts: tc.hosts}, tc.bind, nil)
			for _, path := range []string{"/mcp", "/metrics"} {
				rec := serve(h, request(http.MethodPost, path, tc.host, tc.local, bearer))
				if rec.Code != tc.want {
					t.Errorf("%s: status %d, want %d (%s)", path, rec.Code, tc.want, rec.Body)
				}
			}
			// The probes are open whatever the Host.
			if rec := serve(h, request(http.MethodGet, "/healthz", tc.host, tc.local, nil)); rec.Code != 200 {
				t.Errorf("/healthz: %d", rec.Code)
			}
		})
	}
}

func TestOriginCheck(t *testing.T) {
	for _, tc := range []struct {
		name   string
		bind   string
		extra  []string
		origin string
		want   int
	}{
		{"no origin", "127.0.0.1:8080", nil, "", 200},
		{"localhost any port", "127.0.0.1:8080", nil, "http://localhost:5173", 200},
		{"127.0.0.1 any port", "127.0.0.1:8080", nil, "http://127.0.0.1:6274", 200},
		{"::1", "127.0.0.1:8080", nil, "http://[::1]:3000", 200},
		{"localhost default port", "127.0.0.1:8080", nil, "http://localhost", 200},
		{"https localhost is not a default", "127.0.0.1:8080", nil, "https://localhost:8443", 403},
		{"foreign", "127.0.0.1:8080", nil, "https://evil.example.com", 403},
		{"null", "127.0.0.1:8080", nil, "null", 403},
		{"garbage", "127.0.0.1:8080", nil, "http://a b", 403},
		{"lookalike", "127.0.0.1:8080", nil, "http://localhost.evil.example.com", 403},
		{"declared", "127.0.0.1:8080", []string{"https://app.example.com"}, "https://app.example.com", 200},
		{"declared, explicit default port", "127.0.0.1:8080", []string{"https://app.example.com"}, "https://app.example.com:443", 200},
		{"declared, other port", "127.0.0.1:8080", []string{"https://app.example.com"}, "https://app.example.com:8443", 403},
		{"declared, other scheme", "127.0.0.1:8080", []string{"https://app.example.com"}, "http://app.example.com", 403},
		{"declared wildcard port", "127.0.0.1:8080", []string{"http://dev.test:*"}, "http://dev.test:1234", 200},
		{"own address", "192.0.2.10:8080", nil, "http://192.0.2.10:8080", 200},
		{"own address, other port", "192.0.2.10:8080", nil, "http://192.0.2.10:9090", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var origins []string
			for _, e := range tc.extra {
				o, msg := parseOrigin(e)
				if msg != "" {
					t.Fatal(msg)
				}
				origins = append(origins, o.String())
			}
			h := newHandler(t, Config{Token: testToken, AllowedOrigins: origins}, tc.bind, nil)
			host, _, _ := net.SplitHostPort(tc.bind)
			hdr := map[string]string{"Authorization": "Bearer " + testToken}
			if tc.origin != "" {
				hdr["Origin"] = tc.origin
			}
			rec := serve(h, request(http.MethodPost, "/mcp", host, tc.bind, hdr))
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d (%s)", rec.Code, tc.want, rec.Body)
			}
			if tc.want == 200 && tc.origin != "" && rec.Header().Get("Access-Control-Allow-Origin") != tc.origin {
				t.Errorf("Access-Control-Allow-Origin = %q", rec.Header().Get("Access-Control-Allow-Origin"))
			}
		})
	}
}

func TestPreflight(t *testing.T) {
	h := newHandler(t, Config{Token: testToken}, "127.0.0.1:8080", nil)
	rec := serve(h, request(http.MethodOptions, "/mcp", "127.0.0.1:8080", "127.0.0.1:8080", map[string]string{
		"Origin": "http://localhost:6274", "Access-Control-Request-Method": "POST",
		"Access-Control-Request-Headers": "authorization, content-type, mcp-session-id",
	}))
	if rec.Code != http.StatusNoContent || rec.Header().Get("Access-Control-Allow-Origin") != "http://localhost:6274" ||
		!strings.Contains(rec.Header().Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight: %d %v", rec.Code, rec.Header())
	}
	rec = serve(h, request(http.MethodOptions, "/mcp", "127.0.0.1:8080", "127.0.0.1:8080", map[string]string{
		"Origin": "https://evil.example.com", "Access-Control-Request-Method": "POST",
	}))
	if rec.Code != http.StatusForbidden || rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("foreign preflight: %d %v", rec.Code, rec.Header())
	}
}

func TestToken(t *testing.T) {
	var logs bytes.Buffer
	withToken := newHandler(t, Config{Token: testToken}, "127.0.0.1:8080", &logs)
	narrowToken := newHandler(t, Config{Token: testToken, TokenScopes: []access.Scope{access.PaymentsRead}}, "127.0.0.1:8080", &logs)
	noToken := newHandler(t, Config{}, "127.0.0.1:8080", &logs)
	for _, tc := range []struct {
		name string
		h    *Handler
		path string
		auth string
		want int
	}{
		{"right", withToken, "/mcp", "Bearer " + testToken, 200},
		{"scheme is case-insensitive", withToken, "/mcp", "bearer " + testToken, 200},
		{"missing", withToken, "/mcp", "", 401},
		{"wrong", withToken, "/mcp", "Bearer " + testToken + "x", 401},
		{"prefix", withToken, "/mcp", "Bearer " + testToken[:10], 401},
		{"basic", withToken, "/mcp", "Basic " + testToken, 401},
		{"bare", withToken, "/mcp", testToken, 401},
		{"metrics right", withToken, "/metrics", "Bearer " + testToken, 200},
		{"metrics missing", withToken, "/metrics", "", 401},
		{"metrics with a token narrowed to payments:read", narrowToken, "/metrics", "Bearer " + testToken, 403},
		{"metrics on loopback without token", noToken, "/metrics", "", 200},
		{"narrowed token still reaches /mcp", narrowToken, "/mcp", "Bearer " + testToken, 200},
		{"healthz is open", withToken, "/healthz", "", 200},
		{"readyz is open", withToken, "/readyz", "", 200},
		{"loopback without token", noToken, "/mcp", "", 200},
		{"loopback without token ignores a header", noToken, "/mcp", "Bearer whatever", 200},
		{"unknown path", withToken, "/other", "Bearer " + testToken, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tc.auth != "" {
				hdr["Authorization"] = tc.auth
			}
			method := http.MethodPost
			if tc.path != "/mcp" {
				method = http.MethodGet
			}
			rec := serve(tc.h, request(method, tc.path, "127.0.0.1:8080", "127.0.0.1:8080", hdr))
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d (%s)", rec.Code, tc.want, rec.Body)
			}
			if tc.want == 401 && rec.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	if strings.Contains(logs.String(), testToken[:10]) {
		t.Errorf("logs show the token:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), `reason="wrong token"`) {
		t.Errorf("refusals not logged:\n%s", logs.String())
	}
}

func TestNewRequiresTokenOffLoopback(t *testing.T) {
	if _, err := New(Options{MCP: inner{}, Addr: testAddr("0.0.0.0:8080")}); err == nil {
		t.Error("New accepted a wildcard bind without a token")
	}
	if _, err := New(Options{Addr: testAddr("127.0.0.1:8080")}); err == nil {
		t.Error("New accepted a nil MCP handler")
	}
	if _, err := New(Options{MCP: inner{}, Config: Config{Listen: "127.0.0.1:0"}}); err != nil {
		t.Errorf("New with Listen only: %v", err)
	}
}

func TestReadyAndDrain(t *testing.T) {
	var storeErr error
	started := make(chan struct{})
	h, err := New(Options{MCP: inner{started: started}, Addr: testAddr("127.0.0.1:8080"),
		Ready: func(ctx context.Context) error {
			if _, ok := ctx.Deadline(); !ok {
				t.Error("Ready called without a deadline")
			}
			return storeErr
		}})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) int {
		return serve(h, request(http.MethodGet, path, "localhost", "127.0.0.1:8080", nil)).Code
	}
	if got := get("/readyz"); got != 200 {
		t.Errorf("readyz = %d", got)
	}
	storeErr = errors.New("database is locked")
	if got := get("/readyz"); got != 503 {
		t.Errorf("readyz with a failing store = %d", got)
	}
	storeErr = nil
	if got := serve(h, request(http.MethodPost, "/readyz", "localhost", "", nil)).Code; got != 405 {
		t.Errorf("POST /readyz = %d", got)
	}

	// A standalone SSE stream stays open until Drain.
	srv := httptest.NewServer(h)
	defer srv.Close()
	done := make(chan error, 1)
	go func() {
		resp, err := http.Get(srv.URL + "/mcp")
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body) // until the server ends the stream
			resp.Body.Close()
		}
		done <- err
	}()
	<-started
	select {
	case <-done:
		t.Fatal("GET stream ended before Drain")
	case <-time.After(50 * time.Millisecond):
	}
	h.Drain()
	select {
	case <-done:
		t.Fatal("Drain ended the GET stream; only CloseStreams should")
	case <-time.After(50 * time.Millisecond):
	}
	if err := h.WaitIdle(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.CloseStreams()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("GET stream still open after CloseStreams")
	}
	for path, want := range map[string]int{"/readyz": 503, "/healthz": 200, "/mcp": 503} {
		if got := get(path); got != want {
			t.Errorf("after Drain: GET %s = %d, want %d", path, got, want)
		}
	}
	if got := serve(h, request(http.MethodPost, "/mcp", "localhost", "127.0.0.1:8080", nil)).Code; got != 200 {
		t.Errorf("after Drain: POST /mcp = %d, want 200 (in-flight work goes on)", got)
	}
}

// TestBodyReadTimeout: a client that stalls while sending its body is cut
// off, but a handler that runs long after reading the body is not.
func TestBodyReadTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	type result struct {
		n       int
		readErr error
		ctxErr  error
	}
	results := make(chan result, 2)
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err == nil {
			time.Sleep(3 * timeout) // a long tool call
		}
		results <- result{len(b), err, r.Context().Err()}
		_, _ = w.Write([]byte("done"))
	})
	h, err := New(Options{MCP: slow, Addr: testAddr("127.0.0.1:8080"), BodyReadTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	// A complete body, then a long handler: served.
	resp, err := http.Post(srv.URL+"/mcp", "application/json", strings.NewReader(`{"jsonrpc":"2.0"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if r := <-results; r.readErr != nil || r.ctxErr != nil || string(body) != "done" {
		t.Errorf("long handler: %+v, body %q", r, body)
	}

	// A body that never arrives: the read fails after the timeout.
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /mcp HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\":", host)
	select {
	case r := <-results:
		if r.readErr == nil {
			t.Errorf("stalled body read succeeded: %+v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stalled body was not cut off")
	}
}

// TestNamedBind: a bind by name accepts the name and the bound IP, as Host
// and as the server's own origin.
func TestNamedBind(t *testing.T) {
	h, err := New(Options{MCP: inner{}, Config: Config{Listen: "MyHost.lan:8080", Token: testToken}, Addr: testAddr("192.0.2.10:8080")})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		host, origin string
		want         int
	}{
		{"myhost.lan:8080", "", 200},
		{"192.0.2.10:8080", "", 200},
		{"other.lan:8080", "", 403},
		{"myhost.lan:8080", "http://myhost.lan:8080", 200},
		{"myhost.lan:8080", "http://192.0.2.10:8080", 200},
		{"myhost.lan:8080", "http://other.lan:8080", 403},
	} {
		hdr := map[string]string{"Authorization": "Bearer " + testToken}
		if tc.origin != "" {
			hdr["Origin"] = tc.origin
		}
		if rec := serve(h, request(http.MethodPost, "/mcp", tc.host, "192.0.2.10:8080", hdr)); rec.Code != tc.want {
			t.Errorf("Host %s Origin %q: %d, want %d", tc.host, tc.origin, rec.Code, tc.want)
		}
	}
	if _, err := New(Options{MCP: inner{}}); err == nil {
		t.Error("New without any address succeeded")
	}
}

// TestProtectedResourceMetadataPaths: with a public URL under a path
// prefix, the advertised metadata URL is one the server answers.
func TestProtectedResourceMetadataPaths(t *testing.T) {
	cfg := Config{Listen: "127.0.0.1:8080", PublicURL: "https://pay.example.com/shop/mcp", AllowedHosts: []string{"pay.example.com"},
		OAuth: OAuthConfig{Issuer: "https://auth.example.com"}}
	h, err := New(Options{MCP: inner{}, Config: cfg, Addr: testAddr("127.0.0.1:8080"),
		Verifier: func(context.Context, string, *http.Request) (*auth.TokenInfo, error) {
			return nil, auth.ErrInvalidToken
		}})
	if err != nil {
		t.Fatal(err)
	}
	rec := serve(h, request("POST", "/mcp", "pay.example.com", "127.0.0.1:8080", nil))
	want := `resource_metadata="https://pay.example.com/.well-known/oauth-protected-resource/shop/mcp"`
	if rec.Code != 401 || !strings.Contains(rec.Header().Get("WWW-Authenticate"), want) {
		t.Fatalf("401 challenge: %d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	for _, path := range []string{"/.well-known/oauth-protected-resource/shop/mcp", "/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"} {
		rec := serve(h, request("GET", path, "pay.example.com", "127.0.0.1:8080", nil))
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"resource":"https://pay.example.com/shop/mcp"`) {
			t.Errorf("%s: %d %s", path, rec.Code, rec.Body)
		}
	}
	// A browser client on an allowed origin can read the 401's challenge.
	rec = serve(h, request("POST", "/mcp", "127.0.0.1:8080", "127.0.0.1:8080", map[string]string{"Origin": "http://localhost:6274"}))
	if rec.Code != 401 || rec.Header().Get("Access-Control-Allow-Origin") != "http://localhost:6274" ||
		!strings.Contains(rec.Header().Get("Access-Control-Expose-Headers"), "WWW-Authenticate") {
		t.Errorf("401 to a browser origin: %d %v", rec.Code, rec.Header())
	}
	if rec := serve(h, request("GET", "/.well-known/oauth-protected-resource", "evil.example", "127.0.0.1:8080", nil)); rec.Code != 403 {
		t.Errorf("metadata for a foreign Host: %d", rec.Code)
	}
}
