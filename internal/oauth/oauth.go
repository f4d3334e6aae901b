// Package oauth makes the HTTP transport an OAuth 2.1 resource server, as
// the MCP authorization spec asks: it verifies JWT access tokens against
// the authorization server's JWKS and turns them into callers with scopes.
//
// Verification is done by maintained libraries, not by hand:
// github.com/golang-jwt/jwt/v5 checks the signature and the registered
// claims, and github.com/MicahParks/keyfunc/v3 (over jwkset) fetches and
// caches the key set, refreshes it hourly and refetches it, rate-limited,
// when a token names a key id it does not know (key rotation). This
// package only decides the policy: which algorithms, which issuer and
// audience, how much clock leeway, and where the scopes are.
package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"golang.org/x/time/rate"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/access"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/loopback"
)

// Algorithms accepted for access tokens: asymmetric only. "none" and the
// HMAC family are refused, so a token "signed" with the public key as an
// HMAC secret never verifies.
var algorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// Defaults.
const (
	DefaultLeeway       = 30 * time.Second // clock skew tolerated on exp, nbf and iat
	DefaultRefetchEvery = 10 * time.Second // at most one unknown-kid refetch per this interval
	jwksRefresh         = time.Hour
	httpTimeout         = 10 * time.Second
	discoveryTimeout    = 15 * time.Second
)

// Config is what the verifier needs.
type Config struct {
	Issuer string // MCP_OAUTH_ISSUER: must equal the token's iss
	// JWKSURL is MCP_OAUTH_JWKS_URL; empty: discovered from the issuer's
	// /.well-known/oauth-authorization-server, then openid-configuration.
	JWKSURL string
	// Audiences the token's aud must name one of: this server's resource
	// URL (the public /mcp URL) and MCP_OAUTH_AUDIENCE if set.
	Audiences []string
	// TenantClaim, when set, is the claim whose (string) value names the
	// caller's tenant (CRYPTOPAY_TENANTS_FILE's claim).
	TenantClaim string
	// RequireATJWT refuses tokens whose header lacks typ "at+jwt" (or
	// "application/at+jwt", RFC 9068 §2.1): MCP_OAUTH_REQUIRE_AT_JWT.
	RequireATJWT bool
	Leeway       time.Duration // 0: DefaultLeeway
	RefetchEvery time.Duration // 0: DefaultRefetchEvery
	HTTPClient   *http.Client  // nil: a client with a 10 s timeout
	Logger       *slog.Logger
}

// Verifier checks access tokens. It is safe for concurrent use.
type Verifier struct {
	cfg     Config
	parser  *jwt.Parser
	log     *slog.Logger
	ctx     context.Context // ends the key sets' refresh goroutines
	refetch *rate.Limiter   // unknown key id: at most one refetch per RefetchEvery

	mu   sync.Mutex
	keys keyfunc.Keyfunc
	stop context.CancelFunc // of keys' refresh goroutine
}

// New discovers the JWKS if needed (within 15 s), fetches it and starts
// its hourly refresh; the refresh stops when ctx ends. A key set that cannot be
// fetched at start is not fatal (it is fetched again when a token
// arrives); a failed discovery is, since then there is nothing to fetch.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("oauth: no issuer")
	}
	if len(cfg.Audiences) == 0 {
		return nil, errors.New("oauth: no audience")
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = DefaultLeeway
	}
	if cfg.RefetchEvery == 0 {
		cfg.RefetchEvery = DefaultRefetchEvery
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: httpTimeout, CheckRedirect: secureRedirect}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.JWKSURL == "" {
		dctx, cancel := context.WithTimeout(ctx, discoveryTimeout)
		u, err := DiscoverJWKS(dctx, cfg.Issuer, cfg.HTTPClient)
		cancel()
		if err != nil {
			return nil, err
		}
		cfg.JWKSURL = u
	}
	v := &Verifier{cfg: cfg, log: log, ctx: ctx, refetch: rate.NewLimiter(rate.Every(cfg.RefetchEvery), 1),
		parser: jwt.NewParser(
			jwt.WithValidMethods(algorithms),
			jwt.WithIssuer(cfg.Issuer),
			jwt.WithLeeway(cfg.Leeway),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
		)}
	if err := v.load(true); err != nil {
		log.Warn("cannot fetch the OAuth key set yet; it is fetched again when a token arrives", "url", cfg.JWKSURL, "error", err)
		if err := v.load(false); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// load replaces the key set with a freshly fetched one. With mustFetch, a
// failed fetch is an error and the old set stays; without, an empty set
// that keeps retrying hourly is accepted.
func (v *Verifier) load(mustFetch bool) error {
	kctx, cancel := context.WithCancel(v.ctx)
	// The storage alone (not jwkset's HTTP client) so that unknown key
	// ids are handled by Check's own fail-fast limiter.
	st, err := jwkset.NewStorageFromHTTP(v.cfg.JWKSURL, jwkset.HTTPClientStorageOptions{
		Client:                    v.cfg.HTTPClient,
		Ctx:                       kctx,
		HTTPTimeout:               httpTimeout,
		NoErrorReturnFirstHTTPReq: !mustFetch,
		RefreshInterval:           jwksRefresh,
		RefreshErrorHandler: func(ctx context.Context, err error) {
			v.log.WarnContext(ctx, "cannot refresh the OAuth key set", "url", v.cfg.JWKSURL, "error", err)
		},
	})
	if err != nil {
		cancel()
		return fmt.Errorf("oauth: key set %s: %w", v.cfg.JWKSURL, err)
	}
	keys, err := keyfunc.New(keyfunc.Options{Ctx: kctx, Storage: st})
	if err != nil {
		cancel()
		return fmt.Errorf("oauth: key set %s: %w", v.cfg.JWKSURL, err)
	}
	v.mu.Lock()
	old := v.stop
	v.keys, v.stop = keys, cancel
	v.mu.Unlock()
	if old != nil {
		old()
	}
	return nil
}

func (v *Verifier) keyfunc(ctx context.Context) jwt.Keyfunc {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.keys.KeyfuncCtx(ctx)
}

// JWKSURL is the key set in use (configured or discovered).
func (v *Verifier) JWKSURL() string { return v.cfg.JWKSURL }

// claims are the parts of an RFC 9068 access token this server reads.
type claims struct {
	jwt.RegisteredClaims
	Scope    string `json:"scope"`     // RFC 9068 / RFC 8693: space-separated
	Scp      any    `json:"scp"`       // some providers: a list (or a string)
	ClientID string `json:"client_id"` // RFC 9068
	AZP      string `json:"azp"`       // OpenID Connect: authorized party
}

func (c *claims) scopes() []access.Scope {
	// "scope" is space-separated (RFC 9068 §2.2.3); "scp" is a list of
	// scope-tokens, or one space-separated string.
	items := strings.Fields(c.Scope)
	switch s := c.Scp.(type) {
	case string:
		items = append(items, strings.Fields(s)...)
	case []any:
		for _, x := range s {
			if str, ok := x.(string); ok {
				items = append(items, str)
			}
		}
	}
	return access.KnownScopes(items)
}

// Verify is an auth.TokenVerifier. Every failure unwraps to
// auth.ErrInvalidToken (HTTP 401); the reason goes to the log at info
// level, never the token.
func (v *Verifier) Verify(ctx context.Context, token string, _ *http.Request) (*auth.TokenInfo, error) {
	c, err := v.Check(ctx, token)
	if err != nil {
		v.log.InfoContext(ctx, "access token refused", "reason", err.Error())
		return nil, fmt.Errorf("%w: %s", auth.ErrInvalidToken, publicReason(err))
	}
	return access.TokenInfo(c.caller, c.expires), nil
}

// Checked is a verified token.
type Checked struct {
	caller  access.Caller
	expires time.Time
}

// Caller is who the token speaks for.
func (c Checked) Caller() access.Caller { return c.caller }

// Check verifies token and returns its caller and expiry. Besides the
// signature and registered claims (jwt/v5), it refuses a header with
// "crit" (RFC 7515 §4.1.11: this server understands no extension, so any
// critical one is unknown), exp/nbf/iat that are not JSON numbers (jwt/v5
// takes the string "9999999999" for a date), and, with RequireATJWT, a typ
// other than at+jwt.
func (v *Verifier) Check(ctx context.Context, token string) (Checked, error) {
	var c claims
	tok, err := v.parser.ParseWithClaims(token, &c, v.keyfunc(ctx))
	if errors.Is(err, jwkset.ErrKeyNotFound) && v.refetch.Allow() {
		// Key rotation: the issuer signs with a key published after our
		// last fetch. Refetch (rate-limited) and try once more.
		if lerr := v.load(true); lerr != nil {
			v.log.WarnContext(ctx, "cannot refetch the OAuth key set", "error", lerr)
		} else {
			c = claims{}
			tok, err = v.parser.ParseWithClaims(token, &c, v.keyfunc(ctx))
		}
	}
	if err != nil {
		return Checked{}, err
	}
	if err := v.checkHeader(tok.Header); err != nil {
		return Checked{}, err
	}
	payload, err := v.payload(token)
	if err != nil {
		return Checked{}, err
	}
	if err := numericDates(payload); err != nil {
		return Checked{}, err
	}
	if !audienceMatches(c.Audience, v.cfg.Audiences) {
		return Checked{}, fmt.Errorf("%w: aud %v names another resource (want %s)", jwt.ErrTokenInvalidAudience,
			[]string(c.Audience), strings.Join(v.cfg.Audiences, " or "))
	}
	if c.Subject == "" {
		return Checked{}, fmt.Errorf("%w: no sub", jwt.ErrTokenRequiredClaimMissing)
	}
	client := c.ClientID
	if client == "" {
		client = c.AZP
	}
	caller := access.Caller{Kind: access.KindOAuth, Subject: c.Subject, ClientID: client, Scopes: c.scopes()}
	if v.cfg.TenantClaim != "" {
		var raw map[string]json.RawMessage
		if json.Unmarshal(payload, &raw) == nil {
			_ = json.Unmarshal(raw[v.cfg.TenantClaim], &caller.Tenant) // not a string: no tenant
		}
	}
	return Checked{caller: caller, expires: c.ExpiresAt.Time}, nil
}

// checkHeader applies the header rules jwt/v5 leaves to the caller.
func (v *Verifier) checkHeader(h map[string]any) error {
	if crit, ok := h["crit"]; ok {
		return fmt.Errorf("%w: critical header extension %v is not understood", jwt.ErrTokenUnverifiable, crit)
	}
	if v.cfg.RequireATJWT {
		typ, _ := h["typ"].(string)
		if t := strings.TrimPrefix(strings.ToLower(typ), "application/"); t != "at+jwt" {
			return fmt.Errorf("%w: typ %q is not at+jwt (RFC 9068 access token required)", jwt.ErrTokenUnverifiable, typ)
		}
	}
	return nil
}

// payload is the decoded claims segment of an already verified token.
func (v *Verifier) payload(token string) ([]byte, error) {
	_, rest, _ := strings.Cut(token, ".")
	seg, _, ok := strings.Cut(rest, ".")
	if !ok {
		return nil, fmt.Errorf("%w: not three segments", jwt.ErrTokenMalformed)
	}
	b, err := v.parser.DecodeSegment(seg)
	if err != nil {
		return nil, fmt.Errorf("%w: claims: %w", jwt.ErrTokenMalformed, err)
	}
	return b, nil
}

// numericDates requires exp, nbf and iat, when present, to be JSON
// numbers (RFC 7519 §2 NumericDate), not strings or null.
func numericDates(payload []byte) error {
	var d struct {
		Exp json.RawMessage `json:"exp"`
		Nbf json.RawMessage `json:"nbf"`
		Iat json.RawMessage `json:"iat"`
	}
	if err := json.Unmarshal(payload, &d); err != nil {
		return fmt.Errorf("%w: claims: %w", jwt.ErrTokenMalformed, err)
	}
	for _, c := range []struct {
		name string
		v    json.RawMessage
	}{{"exp", d.Exp}, {"nbf", d.Nbf}, {"iat", d.Iat}} {
		if c.v == nil {
			continue // absent (a null arrives as the 4 bytes "null")
		}
		if c.v[0] != '-' && (c.v[0] < '0' || c.v[0] > '9') {
			return fmt.Errorf("%w: %s is not a number: %.40s", jwt.ErrTokenMalformed, c.name, c.v)
		}
	}
	return nil
}

func audienceMatches(aud jwt.ClaimStrings, want []string) bool {
	for _, w := range want {
		if oauthex.MatchesResource(aud, w) {
			return true
		}
	}
	return false
}

// publicReason is the part of a verification failure a client may see.
func publicReason(err error) string {
	for _, e := range []error{jwt.ErrTokenExpired, jwt.ErrTokenNotValidYet, jwt.ErrTokenInvalidAudience,
		jwt.ErrTokenInvalidIssuer, jwt.ErrTokenSignatureInvalid, jwt.ErrTokenUnverifiable, jwt.ErrTokenMalformed,
		jwt.ErrTokenRequiredClaimMissing, jwt.ErrTokenUsedBeforeIssued} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return "token is invalid"
}

// DiscoverJWKS finds the issuer's jwks_uri: RFC 8414 metadata first
// (/.well-known/oauth-authorization-server, inserted before the issuer's
// path), then OpenID Connect discovery. The metadata's issuer must equal
// the configured one.
func DiscoverJWKS(ctx context.Context, issuer string, c *http.Client) (string, error) {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("oauth: issuer %q is not an absolute URL", issuer)
	}
	path := strings.TrimSuffix(u.Path, "/")
	candidates := []string{
		u.Scheme + "://" + u.Host + "/.well-known/oauth-authorization-server" + path,
		u.Scheme + "://" + u.Host + "/.well-known/openid-configuration" + path,
		strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration",
	}
	var errs []error
	for _, m := range candidates {
		meta, err := oauthex.GetAuthServerMeta(ctx, m, issuer, c)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", m, err))
		case meta == nil:
			errs = append(errs, fmt.Errorf("%s: not found", m))
		case meta.JWKSURI == "":
			errs = append(errs, fmt.Errorf("%s: no jwks_uri", m))
		case !secureURL(meta.JWKSURI):
			// Keys fetched in the clear could be swapped on the way.
			errs = append(errs, fmt.Errorf("%s: jwks_uri %q is not an https URL (http only on loopback)", m, meta.JWKSURI))
		default:
			return meta.JWKSURI, nil
		}
	}
	return "", fmt.Errorf("oauth: cannot discover the key set of %s (set MCP_OAUTH_JWKS_URL): %w", issuer, errors.Join(errs...))
}

// secureURL reports whether raw is an absolute https URL, or http on a
// loopback host: the rule MCP_OAUTH_JWKS_URL is held to.
func secureURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return false
	}
	return u.Scheme == "https" || (u.Scheme == "http" && loopback.Host(u.Hostname()))
}

// secureRedirect refuses a redirect of a metadata or key-set fetch to a URL
// that secureURL would refuse (an https→http downgrade), and long chains.
func secureRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("oauth: too many redirects")
	}
	if !secureURL(req.URL.String()) {
		return fmt.Errorf("oauth: refusing a redirect to %s (https only; http only on loopback)", req.URL.Redacted())
	}
	return nil
}
