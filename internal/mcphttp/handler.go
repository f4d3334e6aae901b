package mcphttp

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/access"
)

// Options configure a Handler.
type Options struct {
	// MCP serves the MCP endpoint, normally an *mcp.StreamableHTTPHandler
	// built with DisableLocalhostProtection: the Host check here replaces
	// the SDK's (which cannot be told about a tunnel's public host name).
	MCP http.Handler
	// Config holds the token and the allow lists.
	Config Config
	// Addr is the address the listener actually bound (port 0 resolved);
	// the default allowed origins and hosts derive from it.
	Addr net.Addr
	// Ready reports whether the server can serve: nil means ready. It is
	// called by /readyz with a 2 s deadline. Nil: always ready.
	Ready func(ctx context.Context) error
	// Metrics serves /metrics; nil: 404.
	Metrics http.Handler
	// Logger receives one line per refused request (never the token or
	// the Authorization header). Nil: discard.
	Logger *slog.Logger
	// BodyReadTimeout bounds how long a client may take to send a request
	// body; default DefaultBodyReadTimeout.
	BodyReadTimeout time.Duration
	// Verifier checks OAuth access tokens; required when Config.OAuth is
	// enabled (internal/oauth), ignored otherwise.
	Verifier auth.TokenVerifier
	// Admit, when set, is asked about every verified token; an error
	// refuses the request with 403 and the error as its text (e.g. a token
	// that names no tenant of this server).
	Admit func(*auth.TokenInfo) error
	// Observe, when set, is called once per limit a request runs into
	// (LimitBodyTimeout, LimitSessions).
	Observe func(limit string)
	// Sessions, when set with MaxSessions, counts the open MCP sessions: a
	// request that would open one more than MaxSessions is refused with
	// 503 (see limits.go).
	Sessions    func() int
	MaxSessions int
}

// Handler is the HTTP front of the MCP server. Create it with New.
type Handler struct {
	mcp     http.Handler
	metrics http.Handler
	ready   func(context.Context) error
	log     *slog.Logger
	bodyTO  time.Duration
	observe func(limit string)

	sessions    func() int
	maxSessions int

	tokenHash    [sha256.Size]byte
	tokenSet     bool
	tokenScopes  []access.Scope
	guard        func(http.Handler) http.Handler // nil: no authentication
	oauth        bool
	prm          http.Handler // protected resource metadata; nil without OAuth
	prmURL       string
	prmPaths     []string // where the metadata is served
	admit        func(*auth.TokenInfo) error
	origins      []origin
	hosts        []string // exact names and *.suffix patterns from MCP_HTTP_ALLOWED_HOSTS
	loopbackBind bool
	bindHosts    []string // the listen host as configured and as bound, lower-case, no brackets; none for 0.0.0.0 or ::

	draining    atomic.Bool
	inFlight    atomic.Int64    // /mcp requests other than streams (IsStream: GET, subscriptions/listen)
	drainCtx    context.Context // done once CloseStreams is called
	drainCancel context.CancelFunc
}

// New validates the options and returns the handler.
func New(o Options) (*Handler, error) {
	if o.MCP == nil {
		return nil, errors.New("mcphttp: Options.MCP is nil")
	}
	h := &Handler{mcp: o.MCP, metrics: o.Metrics, ready: o.Ready, log: o.Logger, hosts: o.Config.AllowedHosts,
		bodyTO: cmp.Or(o.BodyReadTimeout, DefaultBodyReadTimeout), observe: o.Observe, sessions: o.Sessions, maxSessions: o.MaxSessions}
	if h.observe == nil {
		h.observe = func(string) {}
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	// The bind host as configured (it may be a name) and as bound (an IP).
	var addrs []string
	if o.Config.Listen != "" {
		addrs = append(addrs, o.Config.Listen)
	}
	if o.Addr != nil {
		addrs = append(addrs, o.Addr.String())
	}
	var host, port string
	for _, a := range addrs {
		hh, p, err := net.SplitHostPort(a)
		if err != nil {
			return nil, fmt.Errorf("mcphttp: listen address: %w", err)
		}
		host, port = strings.ToLower(strings.Trim(hh, "[]")), p // the bound address wins
		if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) && !slices.Contains(h.bindHosts, host) {
			h.bindHosts = append(h.bindHosts, host)
		}
	}
	if len(addrs) == 0 {
		return nil, errors.New("mcphttp: no listen address (Options.Addr or Config.Listen)")
	}
	h.loopbackBind = IsLoopbackHost(host)
	if !h.loopbackBind && o.Config.Token == "" && !o.Config.OAuth.Enabled() {
		return nil, fmt.Errorf("mcphttp: a token is required on the non-loopback address %s", net.JoinHostPort(host, port))
	}
	switch {
	case o.Config.OAuth.Enabled():
		if o.Verifier == nil {
			return nil, errors.New("mcphttp: OAuth is configured but Options.Verifier is nil")
		}
		resource := o.Config.ResourceURL(o.Addr)
		u, err := url.Parse(resource)
		if err != nil {
			return nil, fmt.Errorf("mcphttp: resource URL: %w", err)
		}
		h.oauth = true
		// RFC 9728 §3.1: the well-known suffix goes between host and path.
		h.prmURL = u.Scheme + "://" + u.Host + prmPath + strings.TrimSuffix(u.Path, "/")
		// Behind a proxy that strips a path prefix the request may arrive
		// with the public path or without it: serve both.
		h.prmPaths = []string{prmPath, prmPath + "/mcp", prmPath + strings.TrimSuffix(u.Path, "/")}
		h.prm = auth.ProtectedResourceMetadataHandler(&oauthex.ProtectedResourceMetadata{
			Resource:               resource,
			AuthorizationServers:   []string{o.Config.OAuth.Issuer},
			ScopesSupported:        access.ScopeStrings(access.AllScopes()),
			BearerMethodsSupported: []string{"header"},
			ResourceName:           "cryptopay-mcp",
		})
		h.guard = auth.RequireBearerToken(h.logRefusal(o.Verifier), &auth.RequireBearerTokenOptions{
			ResourceMetadataURL: h.prmURL,
			// The verifier applies the leeway itself; this is a backstop.
			ClockSkew: time.Minute,
		})
	case o.Config.Token != "":
		h.tokenHash, h.tokenSet = sha256.Sum256([]byte(o.Config.Token)), true
		h.tokenScopes = o.Config.TokenScopes
		if h.tokenScopes == nil {
			h.tokenScopes = access.AllScopes()
		}
		h.guard = auth.RequireBearerToken(h.logRefusal(h.verifyStatic), nil)
	}
	var err error
	h.origins, err = originAllowList(h.bindHosts, port, o.Config.AllowedOrigins)
	if err != nil {
		return nil, err
	}
	h.admit = o.Admit
	h.drainCtx, h.drainCancel = context.WithCancel(context.Background())
	return h, nil
}

// originAllowList is the default list plus the configured extras. The
// defaults are the loopback names on any port (http://localhost:*,
// http://127.0.0.1:*, http://[::1]:*) and the listen address's own
// http://host:port.
func originAllowList(bindHosts []string, port string, extra []string) ([]origin, error) {
	raw := []string{"http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"}
	for _, h := range bindHosts {
		if port != "0" {
			raw = append(raw, "http://"+net.JoinHostPort(h, port))
		}
	}
	var out []origin
	for _, s := range append(raw, extra...) {
		o, msg := parseOrigin(s)
		if msg != "" {
			return nil, fmt.Errorf("mcphttp: allowed origin %q %s", s, msg)
		}
		out = append(out, o)
	}
	return out, nil
}

// Graceful shutdown, in this order:
//
//	h.Drain()                      // /readyz 503, no new SSE streams
//	go srv.Shutdown(ctx)           // stop accepting; wait for active connections
//	h.WaitIdle(ctx)                // in-flight POSTs (tool calls) finish
//	h.CloseStreams()               // end the standalone SSE streams, which
//	                               // would otherwise hold Shutdown forever
//
// The streams are closed last because a client may treat the loss of its
// standalone stream as the end of the session and abandon the calls it
// is still waiting for.

// Drain starts the shutdown: /readyz answers 503 from now on and new
// standalone SSE streams (GET /mcp) are refused. Everything else,
// in-flight tool calls included, keeps being served until the server
// stops accepting connections.
func (h *Handler) Drain() { h.draining.Store(true) }

// WaitIdle waits until no /mcp request other than a standalone SSE stream
// is in flight, or ctx ends.
func (h *Handler) WaitIdle(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for h.inFlight.Load() > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("mcphttp: %d requests still in flight: %w", h.inFlight.Load(), ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// CloseStreams ends the standalone SSE streams (and refuses new ones).
func (h *Handler) CloseStreams() {
	h.draining.Store(true)
	h.drainCancel()
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r, done := h.guardBody(w, r) // every path: see bodyguard.go
	defer done()
	switch r.URL.Path {
	case "/healthz":
		h.healthz(w, r)
	case "/readyz":
		h.readyz(w, r)
	case "/metrics":
		if !h.checkHost(w, r) {
			return
		}
		if h.metrics == nil {
			http.NotFound(w, r)
			return
		}
		h.authorize(w, r, h.serveMetrics)
	case "/mcp":
		h.serveMCP(w, r)
	default:
		if h.prm != nil && slices.Contains(h.prmPaths, r.URL.Path) {
			if h.checkHost(w, r) {
				h.prm.ServeHTTP(w, r)
			}
			return
		}
		http.NotFound(w, r)
	}
}

// serveMetrics serves /metrics to a caller holding metrics:read: the static
// token (unless MCP_HTTP_TOKEN_SCOPES leaves it out), an OAuth token granted
// it, or anyone on loopback when no token is configured.
func (h *Handler) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if ti := auth.TokenInfoFromContext(r.Context()); ti != nil && !access.FromTokenInfo(ti).Has(access.MetricsRead) {
		challenge := fmt.Sprintf(`Bearer error="insufficient_scope", scope=%q`, access.MetricsRead)
		if h.oauth {
			challenge += fmt.Sprintf(`, resource_metadata=%q`, h.prmURL)
		}
		w.Header().Set("WWW-Authenticate", challenge)
		h.refuse(w, r, http.StatusForbidden, "token lacks metrics:read",
			"forbidden: reading /metrics needs the metrics:read scope")
		return
	}
	h.metrics.ServeHTTP(w, r)
}

func (h *Handler) serveMCP(w http.ResponseWriter, r *http.Request) {
	if !h.checkHost(w, r) || !h.checkOrigin(w, r) {
		return
	}
	if r.Method == http.MethodOptions {
		h.preflight(w, r)
		return
	}
	if o := r.Header.Get("Origin"); o != "" {
		// An allowed browser origin (checkOrigin passed) may read the
		// answer, a 401's WWW-Authenticate included: that is how a browser
		// client finds the authorization server.
		w.Header().Set("Access-Control-Allow-Origin", o)
		w.Header().Set("Access-Control-Expose-Headers", "Mcp-Session-Id, Mcp-Protocol-Version, WWW-Authenticate")
		w.Header().Add("Vary", "Origin")
	}
	h.authorize(w, r, h.serveMCPAuthorized)
}

func (h *Handler) serveMCPAuthorized(w http.ResponseWriter, r *http.Request) {
	if IsStream(r) {
		if h.draining.Load() {
			w.Header().Set("Retry-After", "5")
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		// A standalone SSE stream or a subscriptions/listen stream lives as
		// long as its request context: end it when the server drains.
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		stop := context.AfterFunc(h.drainCtx, cancel)
		defer stop()
		r = r.WithContext(ctx)
	} else {
		h.inFlight.Add(1)
		defer h.inFlight.Add(-1)
		if !h.admitSession(w, r) {
			return
		}
	}
	h.mcp.ServeHTTP(w, r)
}

// preflight answers a CORS preflight from an allowed origin (checkOrigin
// has run). Preflights carry no credentials, so no token is asked for.
func (h *Handler) preflight(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Origin") == "" || r.Header.Get("Access-Control-Request-Method") == "" {
		w.Header().Set("Allow", "GET, POST, DELETE, OPTIONS")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	hd := w.Header()
	hd.Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
	hd.Set("Access-Control-Allow-Methods", "GET, POST, DELETE")
	hd.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Accept, Last-Event-ID, Mcp-Session-Id, Mcp-Protocol-Version, Mcp-Method, Mcp-Name")
	hd.Set("Access-Control-Expose-Headers", "Mcp-Session-Id, Mcp-Protocol-Version, WWW-Authenticate")
	hd.Set("Access-Control-Max-Age", "600")
	hd.Add("Vary", "Origin")
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) healthz(w http.ResponseWriter, r *http.Request) {
	if !getOrHead(w, r) {
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
}

func (h *Handler) readyz(w http.ResponseWriter, r *http.Request) {
	if !getOrHead(w, r) {
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if h.draining.Load() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	if err := h.Ready(r.Context()); err != nil {
		h.log.Warn("not ready", "error", err)
		http.Error(w, "not ready: the store does not answer", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ready\n"))
}

// readyTimeout bounds one readiness probe.
const readyTimeout = 2 * time.Second

// Ready runs the readiness probe (Options.Ready; nil: always ready) within
// readyTimeout: what /readyz answers on while not shutting down, and what
// the store's health gauge reads.
func (h *Handler) Ready(ctx context.Context) error {
	if h.ready == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	return h.ready(ctx)
}

func getOrHead(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

// refuse writes a plain-text error and logs the reason. Only the Host and
// Origin values (quoted, cut to 100 bytes) are logged, never credentials.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, status int, reason, msg string, attrs ...any) {
	h.log.Info("http request refused", append([]any{"reason", reason, "status", status, "method", r.Method,
		"path", r.URL.Path, "remote", r.RemoteAddr}, attrs...)...)
	http.Error(w, msg, status)
}

func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "…"
	}
	return s
}

// prmPath is RFC 9728's well-known path of the protected resource metadata.
const prmPath = "/.well-known/oauth-protected-resource"

// authorize runs next when the request's bearer token is good (or no
// authentication is configured), with the caller's auth.TokenInfo in the
// request context for the MCP handler. Otherwise it answers 401 with a
// WWW-Authenticate challenge: resource_metadata for OAuth, realm for the
// static token. An OAuth token holding none of this server's scopes gets
// 403 insufficient_scope, naming them.
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request, next http.HandlerFunc) {
	if h.guard == nil {
		next(w, r)
		return
	}
	cw := &challengeWriter{ResponseWriter: w}
	if !h.oauth {
		cw.challenge = `Bearer realm="cryptopay-mcp"`
	}
	h.guard(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		cw.passed = true
		if ti := auth.TokenInfoFromContext(r.Context()); h.oauth && ti != nil && len(access.FromTokenInfo(ti).Scopes) == 0 {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer error="insufficient_scope", scope=%q, resource_metadata=%q`,
				strings.Join(access.ScopeStrings(access.AllScopes()), " "), h.prmURL))
			h.refuse(w, r, http.StatusForbidden, "token holds no scope of this server",
				"forbidden: the access token holds none of this server's scopes")
			return
		}
		if h.admit != nil {
			if err := h.admit(auth.TokenInfoFromContext(r.Context())); err != nil {
				h.refuse(w, r, http.StatusForbidden, err.Error(), "forbidden: "+err.Error())
				return
			}
		}
		next(w, r) // the original writer: streaming needs its Flusher
	})).ServeHTTP(cw, r)
	if !cw.passed && r.Header.Get("Authorization") == "" {
		h.log.Info("http request refused", "reason", "missing token", "status", http.StatusUnauthorized,
			"method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
	}
}

// challengeWriter adds the static token's challenge to a 401 written by
// the SDK's middleware (which only knows resource_metadata challenges).
type challengeWriter struct {
	http.ResponseWriter
	challenge string
	passed    bool
}

func (c *challengeWriter) WriteHeader(code int) {
	if code == http.StatusUnauthorized && c.challenge != "" && c.Header().Get("WWW-Authenticate") == "" {
		c.Header().Set("WWW-Authenticate", c.challenge)
	}
	c.ResponseWriter.WriteHeader(code)
}

// logRefusal logs why a token was refused (never the token itself).
func (h *Handler) logRefusal(v auth.TokenVerifier) auth.TokenVerifier {
	return func(ctx context.Context, token string, r *http.Request) (*auth.TokenInfo, error) {
		ti, err := v(ctx, token, r)
		if err != nil {
			reason := strings.TrimPrefix(err.Error(), auth.ErrInvalidToken.Error()+": ")
			h.log.Info("http request refused", "reason", reason, "status", http.StatusUnauthorized,
				"method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
		}
		return ti, err
	}
}

// verifyStatic checks MCP_HTTP_TOKEN, comparing SHA-256 digests in
// constant time (neither the content nor the length of the token leaks
// through timing). The caller holds MCP_HTTP_TOKEN_SCOPES (default all).
func (h *Handler) verifyStatic(_ context.Context, token string, _ *http.Request) (*auth.TokenInfo, error) {
	got := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(got[:], h.tokenHash[:]) != 1 {
		return nil, fmt.Errorf("%w: wrong token", auth.ErrInvalidToken)
	}
	// The static token does not expire; the SDK wants an expiry.
	return access.TokenInfo(access.Caller{Kind: access.KindStaticToken, Scopes: h.tokenScopes}, time.Now().Add(time.Hour)), nil
}

// checkOrigin refuses a request whose Origin header (browsers send one on
// cross-origin and on most POST requests) is not in the allow list: the
// defaults (http://localhost:*, http://127.0.0.1:*, http://[::1]:*, and
// the listen address's own http://host:port) plus MCP_HTTP_ALLOWED_ORIGINS.
// Requests without Origin (non-browser clients) pass; "Origin: null"
// (sandboxed pages, file://) is refused.
func (h *Handler) checkOrigin(w http.ResponseWriter, r *http.Request) bool {
	raw := r.Header.Get("Origin")
	if raw == "" {
		return true
	}
	if o, msg := parseOrigin(raw); msg == "" && o.port != "*" {
		for _, a := range h.origins {
			if a.matches(o) {
				return true
			}
		}
	}
	h.refuse(w, r, http.StatusForbidden, "origin not allowed", "forbidden: Origin not allowed (see MCP_HTTP_ALLOWED_ORIGINS)",
		"origin", clip(raw))
	return false
}

// checkHost is the DNS-rebinding protection: a web page on evil.example
// whose name is re-pointed at this server's address makes the browser send
// "Host: evil.example", so only host names the operator knows about are
// served. The Host header's port is ignored (it gives no protection). A
// request is served when its Host is:
//
//  1. in MCP_HTTP_ALLOWED_HOSTS (exact name or IP, or *.domain for any
//     subdomain) — the public name of a tunnel or reverse proxy; or
//  2. a loopback name or IP (localhost, 127.0.0.0/8, ::1) and the request
//     arrived on a loopback address (always true for a loopback bind); or
//  3. with MCP_HTTP_ALLOWED_HOSTS empty and a non-loopback bind only: the
//     bind address's host, as given and as bound (--listen
//     myhost.lan:8080 accepts "Host: myhost.lan" and the IP address it
//     resolved to), or, for a wildcard bind (0.0.0.0, ::), the IP
//     address the request arrived on, written as an IP literal. Declaring
//     MCP_HTTP_ALLOWED_HOSTS replaces this rule: then only the declared
//     names (and loopback, per rule 2) are served.
//
// Anything else gets 403 Forbidden. This replaces the go-sdk's own check
// (loopback listener ⇒ loopback Host), which would refuse a tunnel that
// forwards to 127.0.0.1 with its public Host.
func (h *Handler) checkHost(w http.ResponseWriter, r *http.Request) bool {
	if h.hostAllowed(r) {
		return true
	}
	h.refuse(w, r, http.StatusForbidden, "host not allowed", "forbidden: Host not allowed (see MCP_HTTP_ALLOWED_HOSTS)",
		"host", clip(r.Host))
	return false
}

func (h *Handler) hostAllowed(r *http.Request) bool {
	host := requestHost(r.Host)
	if host == "" {
		return false
	}
	for _, a := range h.hosts {
		if host == a || (strings.HasPrefix(a, "*.") && strings.HasSuffix(host, a[1:])) {
			return true
		}
	}
	local := localIP(r)
	if IsLoopbackHost(host) && (h.loopbackBind || (local != nil && local.IsLoopback())) {
		return true
	}
	if h.loopbackBind || len(h.hosts) > 0 {
		return false
	}
	if len(h.bindHosts) > 0 {
		return slices.ContainsFunc(h.bindHosts, func(b string) bool { return host == b || sameIP(host, b) })
	}
	return local != nil && sameIP(host, local.String())
}

// requestHost returns the Host header's host: lower-case, without port,
// brackets or a trailing dot; "" if malformed.
func requestHost(hostport string) string {
	hostport = strings.ToLower(strings.TrimSpace(hostport))
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	} else if strings.HasPrefix(hostport, "[") && strings.HasSuffix(hostport, "]") {
		host = hostport[1 : len(hostport)-1]
	}
	host = strings.TrimSuffix(host, ".")
	if host == "" || strings.ContainsAny(host, "[]/@ ") {
		return ""
	}
	if _, err := url.Parse("http://" + hostport); err != nil {
		return ""
	}
	return host
}

func sameIP(a, b string) bool {
	ia, ib := net.ParseIP(a), net.ParseIP(b)
	return ia != nil && ib != nil && ia.Equal(ib)
}

// localIP is the address the request's connection arrived on.
func localIP(r *http.Request) net.IP {
	addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok || addr == nil {
		return nil
	}
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return nil
	}
	return net.ParseIP(host)
}
