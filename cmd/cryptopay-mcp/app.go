package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.opentelemetry.io/otel/attribute"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/access"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitnovo"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitrefill"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/config"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/fakebitnovo"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/logging"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/mcpserver"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/metrics"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/payments"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/qr"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/tasks"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/telemetry"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/tunnel"
)

// app is everything one server process runs, whatever the transport: the
// store, the sandbox fakes, the provider clients and the MCP server.
type app struct {
	cfg    config.Config
	log    *slog.Logger
	store  store.Store
	server *mcp.Server
	tasks  *tasks.Manager // the MCP Tasks extension's tasks of this app's store
	// readOnly names the tools that change nothing (their calls need not
	// finish when a stdio client goes away).
	readOnly map[string]bool
	metrics  *metrics.Metrics     // served at /metrics by the HTTP transport
	tel      *telemetry.Telemetry // OpenTelemetry tracing; nil when OTEL_* do not ask for it
	closers  []func()             // run in reverse order by Close
}

// newApp builds the app from a validated config. On failure it prints one
// line to stderr and returns nil with the exit status to use.
func newApp(ctx context.Context, cfg config.Config, stderr io.Writer, o appOptions) (*app, int) {
	a := &app{cfg: cfg, log: logging.NewFormat(stderr, cfg.LogLevel, cfg.LogFormat), metrics: o.metrics}
	if a.metrics == nil {
		a.metrics = metrics.New()
	}
	if o.tenant != "" {
		a.log = a.log.With("tenant", o.tenant)
	}
	ctx, cancel := context.WithCancel(ctx) // background work ends with the app
	a.onClose(cancel)
	fail := func(code int, format string, args ...any) (*app, int) {
		fmt.Fprintf(stderr, "cryptopay-mcp: "+format+"\n", args...)
		a.Close()
		return nil, code
	}

	tel := o.tel
	if !o.sharedTel {
		var err error
		if tel, err = startTelemetry(ctx, o.getenv, stderr); err != nil {
			return fail(exitConfig, "config: %v", err)
		}
		a.onClose(func() { stopTelemetry(tel) }) // last: flushes the spans of everything closed before
	}
	a.tel = tel

	raw, err := openStore(ctx, cfg, o.tenant)
	if err != nil {
		return fail(exitConfig, "config: %v", err)
	}
	a.store = raw // untraced: /readyz probes make no spans
	a.onClose(func() { _ = raw.Close() })
	st := tel.Store(raw, storeSystem(cfg))
	if _, err := st.PruneIdempotency(ctx, time.Now().Add(-30*24*time.Hour)); err != nil {
		a.log.Warn("could not prune old idempotency keys", "error", err)
	}

	var wh *webhooks
	if cfg.Webhook.Enabled {
		if wh, err = a.startWebhooks(ctx, st, o.shared); err != nil {
			return fail(exitConfig, "config: webhooks: %v", err)
		}
	}

	deviceID := cfg.DeviceID
	if cfg.Sandbox() {
		deviceID = SandboxDeviceID
		if o.tenant != "" {
			deviceID = cmp.Or(cfg.DeviceID, SandboxDeviceID) // a tenant's own id, in its own fake
		}
		fake, baseURL, stop, err := startSandboxFake(cfg.DataDir, deviceID, a.log)
		if err != nil {
			return fail(exitFail, "cannot start the sandbox: %v", err)
		}
		a.onClose(stop)
		a.cfg.BaseURL = baseURL
		if wh != nil {
			// Like a merchant pasting the URL into the dashboard: the fake
			// delivers signed webhooks through the (fake) tunnel.
			wh.tun.OnURLChange(func(publicURL string) {
				u := tunnel.JoinURL(publicURL, cfg.Webhook.Path)
				if err := fake.SetWebhookConfig(fakebitnovo.WebhookConfig{NotificationURL: u, DeviceSecret: wh.secret}); err != nil {
					a.log.Warn("sandbox: cannot point the fake at the webhook URL", "error", err)
				}
			})
		}
	}
	// One short line at info; the whole configuration (secrets masked) at debug.
	start := []any{"version", buildVersion(), "mode", a.cfg.Mode, "toolsets", a.cfg.Access.String()}
	if u := sandboxURL(a.cfg); u != "" {
		start = append(start, "sandbox_api", u)
	}
	a.log.Info("cryptopay-mcp starting", start...)
	a.log.Debug("configuration", "config", a.cfg.String())
	for _, w := range a.cfg.Warnings {
		a.log.Warn("setting ignored", "problem", w)
	}

	client, err := bitnovo.New(a.cfg.BaseURL, deviceID, bitnovo.Options{
		AttemptTimeout: cfg.APITimeout, MaxRetries: cfg.MaxRetries, BaseDelay: cfg.RetryDelay,
		UserAgent: "cryptopay-mcp/" + buildVersion(), Logger: a.log,
		Observe:    a.metrics.Provider(metrics.ProviderBitnovo),
		HTTPClient: tel.HTTPClient(bitnovo.NewDefaultHTTPClient()),
	})
	if err != nil {
		return fail(exitConfig, "config: BITNOVO_BASE_URL: %v", err)
	}
	popts := payments.Options{
		Sandbox: cfg.Sandbox(), Logger: a.log, PendingTimeout: cfg.ToolTimeout + 30*time.Second,
		QRCache: qr.NewCache(512, 128<<20),
	}
	if wh != nil {
		popts.Events = st
	}
	svc := payments.New(client, st, popts)
	shopSvc, stopShop, err := startShop(a.cfg, st, a.log, a.metrics.Provider(metrics.ProviderBitrefill), tel.HTTPClient(bitrefill.NewDefaultHTTPClient()))
	if err != nil {
		return fail(exitConfig, "config: %v", err)
	}
	a.onClose(stopShop)
	taskMgr := tasks.New(tasks.Options{Store: st, Logger: a.log})
	a.tasks = taskMgr
	deps := mcpserver.Deps{
		Version: buildVersion(), Payments: svc, Shop: shopSvc, Sandbox: cfg.Sandbox(), ToolTimeout: cfg.ToolTimeout, Logger: a.log,
		Policy: cfg.Access, Anonymous: o.anonymous, Observe: a.metrics.LimitReached, Tasks: taskMgr, UIOff: !cfg.UI,
		Subscriptions: mcpserver.SubscriptionLimits{PerSession: cfg.Subscriptions.PerSession, PerCaller: cfg.Subscriptions.PerCaller},
	}
	if wh != nil {
		deps.Webhooks = wh
	}
	a.readOnly = mcpserver.ReadOnlyTools(deps)
	a.server, err = mcpserver.New(deps)
	if err != nil {
		return fail(exitFail, "%v", err)
	}
	// Tasks run (and orphaned ones resume) from here until Close, which
	// stops them and gives their leases back before the store closes.
	taskCtx, stopTasks := context.WithCancel(ctx)
	taskMgr.Start(taskCtx)
	a.onClose(func() { stopTasks(); taskMgr.Wait() })
	if tel.Enabled() {
		var extra []attribute.KeyValue
		if o.tenant != "" {
			extra = append(extra, telemetry.TenantKey.String(o.tenant))
		}
		a.server.AddReceivingMiddleware(tel.MCPMiddleware(extra...))
	}
	// Webhook events committed to the store wake the waits and notify the
	// subscribers (resources/subscribe, subscriptions/listen): this
	// process's own, and with PostgreSQL those another replica received
	// (LISTEN/NOTIFY), so also on a replica that runs no receiver of its
	// own (an MCP-only replica behind a load balancer). SQLite is one
	// process's: without a receiver nothing would ever arrive.
	if wh != nil || storeSystem(cfg) == "postgresql" {
		if err := watchEvents(ctx, st, svc, a.server); err != nil {
			return fail(exitFail, "%v", err)
		}
	}
	return a, exitOK
}

// appOptions are what differs between the apps of one process.
type appOptions struct {
	// anonymous is the caller of requests that carry no token: the stdio
	// user, or loopback HTTP without authentication.
	anonymous access.Caller
	// tenant names the app of one tenant (CRYPTOPAY_TENANTS_FILE); "" for
	// the one merchant of a server without tenants.
	tenant string
	// shared, for a tenant's app, is the one webhook listener and tunnel
	// that all tenants use; nil: the app runs its own.
	shared *sharedWebhooks
	// metrics is the registry to count in; nil: a new one.
	metrics *metrics.Metrics
	// getenv reads the OTEL_* variables, as config.Load read the others
	// (run's getenv); unused with sharedTel.
	getenv func(string) string
	// sharedTel, for a tenant's app, says tel is the tracer all tenants
	// share (nil when tracing is off), which the caller shuts down; without
	// it the app starts and stops its own.
	sharedTel bool
	tel       *telemetry.Telemetry
}

// startTelemetry sets up tracing from the OTEL_* variables of getenv.
func startTelemetry(ctx context.Context, getenv func(string) string, stderr io.Writer) (*telemetry.Telemetry, error) {
	return telemetry.FromEnv(ctx, getenv, buildVersion(), stderr)
}

// stopTelemetry flushes and stops tracing, waiting at most 5 s.
func stopTelemetry(tel *telemetry.Telemetry) {
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = tel.Shutdown(sctx)
}

// observeWebhook counts receiver outcomes (cryptopay_webhook_requests_total).
func (a *app) observeWebhook(outcome string) { a.metrics.Webhook(outcome) }

// storeSystem names the store backend for traces (db.system.name).
func storeSystem(cfg config.Config) string {
	if cfg.DatabaseURL != "" {
		return "postgresql"
	}
	return "sqlite"
}

// openStore opens PostgreSQL when cfg has a database URL (CRYPTOPAY_DATABASE_URL,
// or a tenant's database_url: state shared by replicas), else the embedded
// SQLite file in the data dir. tenant, if set, names the tenant in errors.
func openStore(ctx context.Context, cfg config.Config, tenant string) (store.Store, error) {
	dbVar, dirVar := "CRYPTOPAY_DATABASE_URL", "CRYPTOPAY_DATA_DIR"
	if tenant != "" {
		dbVar = fmt.Sprintf("%s: tenant %q: database_url", config.EnvTenantsFile, tenant)
		dirVar = fmt.Sprintf("tenant %q: CRYPTOPAY_DATA_DIR", tenant)
	}
	if cfg.DatabaseURL != "" {
		octx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		st, err := store.OpenPostgres(octx, cfg.DatabaseURL)
		if err != nil {
			return nil, fmt.Errorf("%s: cannot open the PostgreSQL store: %w", dbVar, err)
		}
		return st, nil
	}
	st, err := store.OpenSQLite(ctx, filepath.Join(cfg.DataDir, "cryptopay.db"))
	if err != nil {
		return nil, fmt.Errorf("%s: cannot open the store in %s: %w", dirVar, cfg.DataDir, err)
	}
	return st, nil
}

func (a *app) onClose(f func()) { a.closers = append(a.closers, f) }

// Close stops everything newApp started, last first.
func (a *app) Close() {
	for _, f := range slices.Backward(a.closers) {
		f()
	}
	a.closers = nil
}
