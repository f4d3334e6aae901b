package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/access"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/config"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/logging"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/mcphttp"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/mcpserver"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/metrics"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/oauth"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/tasks"
)

// HTTP transport timings.
const (
	// httpShutdownGrace bounds how long in-flight requests (tool calls)
	// may run on after SIGINT/SIGTERM before their connections are closed.
	httpShutdownGrace = 25 * time.Second
	// httpStreamLinger is the pause between the last in-flight request's end
	// and the closing of the standalone SSE streams at shutdown.
	httpStreamLinger = 500 * time.Millisecond
)

// runHTTP serves MCP over Streamable HTTP at /mcp, with /healthz, /readyz
// and /metrics next to it (internal/mcphttp). On ctx's end (SIGINT or
// SIGTERM) it stops accepting connections, ends the standalone SSE
// streams, lets in-flight requests finish for up to httpShutdownGrace,
// then closes the sessions and the app.
func runHTTP(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("http", flag.ContinueOnError)
	var f config.Flags
	f.Bind(fs)
	listenAddr := fs.String("listen", mcphttp.DefaultListen, "host:port to serve on; a non-loopback address requires MCP_HTTP_TOKEN")
	stateless := fs.Bool("stateless", false, "serve without sessions (no subscriptions or server-to-client requests); also MCP_HTTP_STATELESS=true")
	limitFlags := mcphttp.BindLimitFlags(fs)
	if code, done := parseFlags(fs, args, stdout, stderr); done {
		return code // stdout: only --help writes there
	}
	hc, herr := mcphttp.LoadConfig(getenv, *listenAddr, *stateless)
	lim, lerr := mcphttp.LoadLimits(getenv, limitFlags)
	cfg, err := config.Load(getenv, f)
	if herr != nil || lerr != nil || err != nil {
		for _, e := range []error{herr, lerr, err} {
			if e == nil {
				continue
			}
			for _, line := range strings.Split(e.Error(), "\n") {
				fmt.Fprintf(stderr, "cryptopay-mcp: config: %s\n", line)
			}
		}
		return exitConfig
	}
	if cfg.Tenants != nil && !hc.OAuth.Enabled() {
		fmt.Fprintf(stderr, "cryptopay-mcp: config: %s: needs %s (the tenant is a claim of the caller's access token)\n",
			config.EnvTenantsFile, mcphttp.EnvOAuthIssuer)
		return exitConfig
	}

	tuneGC(getenv, cgroupMemoryMax)
	ln, err := net.Listen("tcp", hc.Listen)
	if err != nil {
		// A port in use or an address not on this machine: the user picks
		// another --listen (or stops what holds it), like WEBHOOK_PORT.
		fmt.Fprintf(stderr, "cryptopay-mcp: config: --listen: cannot listen on %s: %v\n", hc.Listen, err)
		return exitConfig
	}
	// One app, or one per tenant; servers are their MCP servers.
	var (
		servers   []*mcp.Server
		getServer func(*http.Request) *mcp.Server
		ready     func(context.Context) error
		m         *metrics.Metrics
		log       *slog.Logger
		admit     func(*auth.TokenInfo) error
		tasksFor  func(*http.Request) (*tasks.Manager, string)
	)
	if cfg.Tenants != nil {
		m = metrics.New()
		ts, code := startTenants(ctx, cfg, stderr, m, getenv)
		if ts == nil {
			_ = ln.Close()
			return code
		}
		defer ts.Close()
		servers, getServer, ready, admit = ts.servers(), ts.server, ts.ready, ts.admit
		tasksFor = ts.taskManager
		log = logging.NewFormat(stderr, cfg.LogLevel, cfg.LogFormat)
	} else {
		anonymous := access.Caller{Kind: access.KindAnonymous, Scopes: access.AllScopes()}
		a, code := newApp(ctx, cfg, stderr, appOptions{anonymous: anonymous, getenv: getenv})
		if a == nil {
			_ = ln.Close()
			return code
		}
		defer a.Close()
		server := a.server
		servers, getServer, ready = []*mcp.Server{server}, func(*http.Request) *mcp.Server { return server }, storeReady(a.store)
		tasksFor = func(r *http.Request) (*tasks.Manager, string) {
			return a.tasks, mcpserver.TaskOwner(callerOf(r, anonymous))
		}
		m, log = a.metrics, a.log
	}
	for _, s := range servers {
		s.AddReceivingMiddleware(m.MCPMiddleware())
	}
	// One URL for both revisions: 2025-11-25 sessions and sessionless
	// 2026-07-28 requests (only the latter with --stateless).
	mo := mcphttp.MCPOptions{Stateless: hc.Stateless, Logger: log}
	if !hc.Stateless {
		// Every open request counts as activity, the GET stream a push
		// subscriber listens on included (mcphttp's sessionIdle).
		mo.SessionTimeout = lim.SessionIdle
		// Lets a 2025-11-25 client that lost a response stream resume it
		// (Last-Event-ID); bounded to 10 MiB by the SDK.
		mo.EventStore = mcp.NewMemoryEventStore(nil)
	}
	mh := mcphttp.NewMCPHandler(getServer, mo)
	hopts := mcphttp.Options{
		MCP: mcphttp.TaskListen(mh, tasksFor, mcp.DefaultMaxRequestBodyBytes, log), Config: hc, Addr: ln.Addr(), Ready: ready, Metrics: m, Logger: log, Admit: admit,
		BodyReadTimeout: lim.BodyTimeout, Observe: m.LimitReached,
	}
	if !hc.Stateless {
		hopts.MaxSessions = lim.MaxSessions
		hopts.Sessions = func() int {
			n := 0
			for _, s := range servers {
				for range s.Sessions() {
					n++
				}
			}
			return n
		}
	}
	resource := hc.ResourceURL(ln.Addr())
	if hc.OAuth.Enabled() {
		auds := []string{resource}
		if hc.OAuth.Audience != "" {
			auds = append(auds, hc.OAuth.Audience)
		}
		// The key set's refresh lives as long as the server (ctx).
		oc := oauth.Config{Issuer: hc.OAuth.Issuer, JWKSURL: hc.OAuth.JWKSURL, Audiences: auds, RequireATJWT: hc.OAuth.RequireATJWT, Logger: log}
		if cfg.Tenants != nil {
			oc.TenantClaim = cfg.Tenants.Claim
		}
		v, err := oauth.New(ctx, oc)
		if err != nil {
			_ = ln.Close()
			fmt.Fprintf(stderr, "cryptopay-mcp: %v\n", err)
			return exitFail
		}
		hopts.Verifier = v.Verify
	}
	h, err := mcphttp.New(hopts)
	if err != nil {
		_ = ln.Close()
		fmt.Fprintf(stderr, "cryptopay-mcp: %v\n", err)
		return exitFail
	}
	// Connections are capped in total and per source; a shutdown cuts the
	// reads of those not serving a request (mcphttp.Listener).
	lln := mcphttp.NewListener(ln, mcphttp.ConnLimits{Max: lim.MaxConns, MaxPerSource: lim.MaxConnsPerIP}, m.LimitReached)
	if err := m.Gauge("cryptopay_http_connections_open", "Connections open on the MCP HTTP listener.",
		func() float64 { return float64(lln.Open()) }); err != nil {
		log.Warn("metrics", "error", err)
	}
	// The store's health as /readyz sees it, for an alert: 0 while a
	// fault stops writes (a replaced or corrupt SQLite file, PostgreSQL
	// down), when deliveries get 503 and creates fail closed.
	if err := m.Gauge("cryptopay_store_up", "1 when the store answers and accepts writes (what /readyz checks), 0 otherwise.",
		func() float64 {
			if h.Ready(ctx) != nil {
				return 0
			}
			return 1
		}); err != nil {
		log.Warn("metrics", "error", err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: lim.HeaderTimeout,
		// No ReadTimeout or WriteTimeout: responses stream for as long as a
		// tool call or an SSE stream lasts. mcphttp bounds every request
		// body's read instead (bodyguard.go).
		IdleTimeout:    lim.IdleTimeout,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ConnContext:    lln.ConnContext,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lln) }()
	base := "http://" + ln.Addr().String()
	// The bound address is announced whatever LOG_LEVEL says: with
	// --listen HOST:0 it is the only way to learn the port.
	logging.NewFormat(stderr, "info", cfg.LogFormat).Info("MCP Streamable HTTP listening", "url", base+"/mcp", "stateless", hc.Stateless, "revisions", hc.Revisions(), "auth", hc.AuthMode(),
		"resource", resource, "oauth_issuer", hc.OAuth.Issuer, "toolsets", cfg.Access.String(),
		"allowed_hosts", strings.Join(hc.AllowedHosts, ","), "allowed_origins", strings.Join(hc.AllowedOrigins, ","),
		"health", base+"/healthz", "metrics", base+"/metrics", "limits", lim.String())

	select {
	case <-ctx.Done():
	case err := <-errc:
		log.Error("HTTP server failed", "error", err)
		return exitFail
	}
	log.Info("shutting down: finishing in-flight requests", "grace", httpShutdownGrace)
	h.Drain()
	sctx, cancel := context.WithTimeout(context.Background(), httpShutdownGrace)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(sctx) }() // stops accepting at once
	// Connections still sending a header or a body, or idle, would hold
	// Shutdown until their timeouts: cut their reads now.
	lln.CutReads()
	if err := h.WaitIdle(sctx); err != nil {
		log.Warn("requests still running after the grace period; closing their connections", "error", err)
	} else {
		// Give clients a moment to take in the last responses before their
		// standalone streams end: some (the Go SDK's) fail the whole session
		// when that stream closes, even with a result already received.
		select {
		case <-time.After(httpStreamLinger):
		case <-sctx.Done():
		}
	}
	h.CloseStreams()
	status := exitOK
	if err := <-shut; err != nil {
		_ = srv.Close()
	}
	for _, s := range servers {
		for ss := range s.Sessions() {
			_ = ss.Close()
		}
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("HTTP server failed", "error", err)
		status = exitFail
	}
	log.Info("cryptopay-mcp stopped")
	return status
}

// storeReady is /readyz's probe: the store must be able to keep what it
// is given (store.Store.Ping).
func storeReady(st store.Store) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := st.Ping(ctx); err != nil {
			return fmt.Errorf("store: %w", err)
		}
		return nil
	}
}
