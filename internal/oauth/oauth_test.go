package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/access"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/oauth/oauthtest"
)

const resource = "https://mcp.example.test/mcp"

func newAS(t *testing.T) *oauthtest.Server {
	t.Helper()
	as, err := oauthtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(as.HTTP.Close)
	return as
}

func newVerifier(t *testing.T, as *oauthtest.Server, jwks string) *Verifier {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := New(ctx, Config{Issuer: as.Issuer, JWKSURL: jwks, Audiences: []string{resource}, RefetchEvery: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mint(t *testing.T, as *oauthtest.Server, tok oauthtest.Token) string {
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

func TestVerify(t *testing.T) {
	as := newAS(t)
	v := newVerifier(t, as, "") // discovered from the metadata
	if v.JWKSURL() != as.JWKSURL() {
		t.Fatalf("discovered %s, want %s", v.JWKSURL(), as.JWKSURL())
	}
	now := time.Now()
	tests := []struct {
		name   string
		tok    oauthtest.Token
		reason string // "" = valid
	}{
		{"valid RS256", oauthtest.Token{Scope: "payments:read payments:write openid"}, ""},
		{"valid ES256", oauthtest.Token{KID: "ec-1", Scope: "shop:read"}, ""},
		{"aud with trailing slash", oauthtest.Token{Audience: []string{resource + "/"}}, ""},
		{"one of several audiences", oauthtest.Token{Audience: []string{"https://other.example", resource}}, ""},
		{"expired within leeway", oauthtest.Token{Expires: now.Add(-10 * time.Second)}, ""},
		{"scp list", oauthtest.Token{Extra: map[string]any{"scp": []string{"webhooks:read"}}}, ""},
		{"expired", oauthtest.Token{Expires: now.Add(-2 * time.Minute)}, "token is expired"},
		{"not yet valid", oauthtest.Token{NotBefore: now.Add(5 * time.Minute)}, "token is not valid yet"},
		{"wrong audience", oauthtest.Token{Audience: []string{"https://other.example/mcp"}}, "token has invalid audience"},
		{"no audience", oauthtest.Token{Audience: []string{}}, "token has invalid audience"},
		{"wrong issuer", oauthtest.Token{Issuer: "https://evil.example"}, "token has invalid issuer"},
		{"alg none", oauthtest.Token{Alg: "none"}, "token signature is invalid"},
		{"HS256 signed with the public key", oauthtest.Token{Alg: "HS256-public"}, "token signature is invalid"},
		{"unknown kid", oauthtest.Token{KID: "never"}, ""}, // replaced below
		{"no sub", oauthtest.Token{NoSubject: true}, "token is missing required claim"},
		{"garbage", oauthtest.Token{}, "token is malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tok string
			switch tt.name {
			case "unknown kid":
				if err := as.NewHiddenKey("never"); err != nil {
					t.Fatal(err)
				}
				tt.reason = "token is unverifiable"
				tok = mint(t, as, tt.tok)
			case "garbage":
				tok = "not.a.jwt"
			case "no audience":
				tok = mint(t, as, oauthtest.Token{Extra: map[string]any{"aud": nil}})
			default:
				tok = mint(t, as, tt.tok)
			}
			ti, err := v.Verify(context.Background(), tok, nil)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				c := access.FromTokenInfo(ti)
				if c.Kind != access.KindOAuth || c.Subject != "alice" || c.ClientID != "agent-1" || ti.Expiration.IsZero() {
					t.Errorf("caller = %+v, exp %v", c, ti.Expiration)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, auth.ErrInvalidToken) || !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("err = %v, want ErrInvalidToken with %q", err, tt.reason)
			}
			if strings.Contains(err.Error(), tok) {
				t.Error("the error carries the token")
			}
		})
	}
}

func TestScopesFromClaims(t *testing.T) {
	as := newAS(t)
	v := newVerifier(t, as, as.JWKSURL())
	tests := []struct {
		tok  oauthtest.Token
		want []access.Scope
	}{
		{oauthtest.Token{Scope: "payments:read shop:read"}, []access.Scope{access.PaymentsRead, access.ShopRead}},
		{oauthtest.Token{Scope: "openid profile"}, nil},
		{oauthtest.Token{Extra: map[string]any{"scp": "shop:purchase"}}, []access.Scope{access.ShopBuy}},
		{oauthtest.Token{Scope: "payments:write", Extra: map[string]any{"scp": []string{"webhooks:read"}}}, []access.Scope{access.PaymentsWrite, access.WebhooksRead}},
	}
	for _, tt := range tests {
		c, err := v.Check(context.Background(), mint(t, as, tt.tok))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(c.Caller().Scopes, tt.want) {
			t.Errorf("%+v: scopes %v, want %v", tt.tok, c.Caller().Scopes, tt.want)
		}
	}
	c, err := v.Check(context.Background(), mint(t, as, oauthtest.Token{ClientID: "", Extra: map[string]any{"client_id": nil, "azp": "web-app"}}))
	if err != nil || c.Caller().ClientID != "web-app" {
		t.Errorf("azp fallback: %+v %v", c.Caller(), err)
	}
}

// TestKeyRotation: a token signed with a key the JWKS does not publish yet
// is refused; once the issuer publishes it, the next token verifies
// (unknown kid → refetch). A flood of unknown key ids costs at most one
// fetch per RefetchEvery.
func TestKeyRotation(t *testing.T) {
	as := newAS(t)
	v := newVerifier(t, as, as.JWKSURL())
	if err := as.NewHiddenKey("rsa-2"); err != nil {
		t.Fatal(err)
	}
	tok := mint(t, as, oauthtest.Token{KID: "rsa-2"})
	before := as.Fetches()
	for range 20 {
		if _, err := v.Verify(context.Background(), tok, nil); err == nil {
			t.Fatal("a token signed with an unpublished key verified")
		}
	}
	if n := as.Fetches() - before; n < 1 || n > 1 {
		t.Errorf("20 unknown-kid tokens made %d fetches, want exactly 1 (rate-limited)", n)
	}
	as.Publish("rsa-2")
	time.Sleep(250 * time.Millisecond) // RefetchEvery
	if _, err := v.Verify(context.Background(), tok, nil); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	// The old key still works: the refetched set holds both.
	if _, err := v.Verify(context.Background(), mint(t, as, oauthtest.Token{}), nil); err != nil {
		t.Fatalf("old key after rotation: %v", err)
	}
}

func TestDiscoveryFailure(t *testing.T) {
	as := newAS(t)
	_, err := New(context.Background(), Config{Issuer: as.Issuer + "/tenant", Audiences: []string{resource}})
	if err == nil || !strings.Contains(err.Error(), "set MCP_OAUTH_JWKS_URL") {
		t.Errorf("err = %v", err)
	}
	// A metadata document for another issuer is not trusted.
	_, err = DiscoverJWKS(context.Background(), strings.Replace(as.Issuer, "127.0.0.1", "localhost", 1), nil)
	if err == nil {
		t.Error("metadata of another issuer accepted")
	}
}

func TestTenantClaim(t *testing.T) {
	as := newAS(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := New(ctx, Config{Issuer: as.Issuer, JWKSURL: as.JWKSURL(), Audiences: []string{resource}, TenantClaim: "merchant"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		extra map[string]any
		want  string
	}{
		{map[string]any{"merchant": "acme"}, "acme"},
		{map[string]any{"merchant": 7}, ""},
		{nil, ""},
	} {
		c, err := v.Check(context.Background(), mint(t, as, oauthtest.Token{Extra: tt.extra}))
		if err != nil || c.Caller().Tenant != tt.want {
			t.Errorf("%v: tenant %q, %v; want %q", tt.extra, c.Caller().Tenant, err, tt.want)
		}
	}
}

// A key set fetched over plain http from a remote host could be swapped
// on the way, and with it every signature: the discovered jwks_uri must
// be https, as MCP_OAUTH_JWKS_URL must (http only on loopback).
func TestDiscoveredKeySetMustBeHTTPS(t *testing.T) {
	tests := []struct {
		jwks string
		ok   bool
	}{
		{"http://jwks.example.test/jwks", false},
		{"ftp://jwks.example.test/jwks", false},
		{"/jwks", false},
		{"https://jwks.example.test/jwks", true},
		{"http://127.0.0.1:9/jwks", true},
	}
	for _, tt := range tests {
		t.Run(tt.jwks, func(t *testing.T) {
			var issuer string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(map[string]any{"issuer": issuer, "jwks_uri": tt.jwks,
					"authorization_endpoint": issuer + "/authorize", "token_endpoint": issuer + "/token",
					"response_types_supported": []string{"code"}, "code_challenge_methods_supported": []string{"S256"}})
			}))
			defer srv.Close()
			issuer = srv.URL
			got, err := DiscoverJWKS(context.Background(), issuer, srv.Client())
			if tt.ok != (err == nil) || (tt.ok && got != tt.jwks) {
				t.Errorf("DiscoverJWKS = %q, %v", got, err)
			}
		})
	}
}

// TestForeignScopesDoNotSplit: a scope-token with a comma (legal in OAuth)
// is one foreign scope, never ours.
func TestForeignScopesDoNotSplit(t *testing.T) {
	as := newAS(t)
	v := newVerifier(t, as, as.JWKSURL())
	for _, tok := range []oauthtest.Token{
		{Scope: "x,payments:write openid"},
		{Extra: map[string]any{"scp": []string{"x payments:write", "shop:read,shop:purchase"}}},
	} {
		c, err := v.Check(context.Background(), mint(t, as, tok))
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Caller().Scopes) != 0 {
			t.Errorf("%+v grants %v", tok, c.Caller().Scopes)
		}
	}
}

func TestSecureRedirect(t *testing.T) {
	for _, tt := range []struct {
		url string
		ok  bool
	}{
		{"https://auth.example.com/jwks", true},
		{"http://127.0.0.1:9/jwks", true},
		{"http://auth.example.com/jwks", false},
	} {
		req, _ := http.NewRequest("GET", tt.url, nil)
		if err := secureRedirect(req, nil); (err == nil) != tt.ok {
			t.Errorf("%s: %v", tt.url, err)
		}
	}
}

// TestHeaderAndDateRules: what jwt/v5 lets through and the verifier must
// not: a critical header extension (RFC 7515 §4.1.11), dates that are not
// JSON numbers, and, when configured, a typ other than at+jwt (RFC 9068).
// On main each "refused" row was accepted.
func TestHeaderAndDateRules(t *testing.T) {
	as := newAS(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	plain := newVerifier(t, as, as.JWKSURL())
	strict, err := New(ctx, Config{Issuer: as.Issuer, JWKSURL: as.JWKSURL(), Audiences: []string{resource}, RequireATJWT: true})
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour).Unix()
	tests := []struct {
		name          string
		tok           oauthtest.Token
		plain, strict string // "" = accepted, else the public reason
	}{
		{"typ at+jwt", oauthtest.Token{Header: map[string]any{"typ": "at+jwt"}}, "", ""},
		{"typ application/at+JWT", oauthtest.Token{Header: map[string]any{"typ": "application/at+JWT"}}, "", ""},
		{"typ JWT", oauthtest.Token{Header: map[string]any{"typ": "JWT"}}, "", "token is unverifiable"},
		{"no typ", oauthtest.Token{Header: map[string]any{"typ": nil}}, "", "token is unverifiable"},
		{"typ not a string", oauthtest.Token{Header: map[string]any{"typ": 1}}, "", "token is unverifiable"},
		{"crit with an unknown extension", oauthtest.Token{Header: map[string]any{"typ": "at+jwt", "crit": []string{"exp-ext"}, "exp-ext": 1}},
			"token is unverifiable", "token is unverifiable"},
		{"crit empty", oauthtest.Token{Header: map[string]any{"typ": "at+jwt", "crit": []string{}}}, "token is unverifiable", "token is unverifiable"},
		{"exp as a numeric string", oauthtest.Token{Header: map[string]any{"typ": "at+jwt"}, Extra: map[string]any{"exp": fmt.Sprint(exp)}},
			"token is malformed", "token is malformed"},
		{"nbf as a string", oauthtest.Token{Header: map[string]any{"typ": "at+jwt"}, Extra: map[string]any{"nbf": "0"}}, "token is malformed", "token is malformed"},
		{"iat null", oauthtest.Token{Header: map[string]any{"typ": "at+jwt"}, Extra: map[string]any{"iat": nil}}, "token is malformed", "token is malformed"},
		{"exp fractional number", oauthtest.Token{Header: map[string]any{"typ": "at+jwt"}, Extra: map[string]any{"exp": float64(exp) + 0.5}}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := mint(t, as, tt.tok)
			for _, c := range []struct {
				v    *Verifier
				want string
				name string
			}{{plain, tt.plain, "default"}, {strict, tt.strict, "RequireATJWT"}} {
				_, err := c.v.Verify(context.Background(), tok, nil)
				switch {
				case c.want == "" && err != nil:
					t.Errorf("%s: refused: %v", c.name, err)
				case c.want != "" && err == nil:
					t.Errorf("%s: accepted, want %q", c.name, c.want)
				case c.want != "" && (!errors.Is(err, auth.ErrInvalidToken) || !strings.Contains(err.Error(), c.want)):
					t.Errorf("%s: %v, want %q", c.name, err, c.want)
				}
			}
		})
	}
}
