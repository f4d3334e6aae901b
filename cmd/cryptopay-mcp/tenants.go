package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/access"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/config"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/logging"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/mcpserver"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/metrics"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/tasks"
)

// tenants runs one app per tenant of CRYPTOPAY_TENANTS_FILE: each has its
// own store (its own data directory), provider clients, limits and MCP
// server, so no tenant can reach another's payments, events, resources
// or spending. Requests are routed to a tenant's server by the claim of
// their access token; webhooks by the device secret that verifies them.
type tenants struct {
	claim   string
	apps    map[string]*app
	order   []string // tenant ids, file order
	closers []func()
}

// startTenants builds every tenant's app. On failure it prints one line and
// returns nil with the exit status.
func startTenants(ctx context.Context, cfg config.Config, stderr io.Writer, m *metrics.Metrics, getenv func(string) string) (*tenants, int) {
	ts := &tenants{claim: cfg.Tenants.Claim, apps: map[string]*app{}}
	// One tracer for every tenant: one exporter, flushed after the apps close.
	tel, err := startTelemetry(ctx, getenv, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "cryptopay-mcp: config: %v\n", err)
		return nil, exitConfig
	}
	ts.closers = append(ts.closers, func() { stopTelemetry(tel) })
	var shared *sharedWebhooks
	if cfg.Webhook.Enabled {
		sw, err := listenWebhooks(ctx, cfg, logging.NewFormat(stderr, cfg.LogLevel, cfg.LogFormat).With("component", "webhook"))
		if err != nil {
			ts.Close()
			fmt.Fprintf(stderr, "cryptopay-mcp: config: webhooks: %v\n", err)
			return nil, exitConfig
		}
		ts.closers = append(ts.closers, sw.close)
		sw.observe = m.LimitReached
		shared = sw
	}
	for _, t := range cfg.Tenants.List {
		a, code := newApp(ctx, cfg.ForTenant(t), stderr, appOptions{
			anonymous: access.Caller{Kind: access.KindAnonymous}, // never used: tenants need OAuth
			tenant:    t.ID, shared: shared, metrics: m, sharedTel: true, tel: tel,
		})
		if a == nil {
			ts.Close()
			return nil, code
		}
		ts.apps[t.ID] = a
		ts.order = append(ts.order, t.ID)
	}
	if shared != nil {
		if err := shared.start(ctx); err != nil {
			ts.Close()
			fmt.Fprintf(stderr, "cryptopay-mcp: config: webhooks: %v\n", err)
			return nil, exitConfig
		}
	}
	return ts, exitOK
}

// server is the MCP server of the request's tenant, nil when its token
// names none (Admit has refused such requests already).
func (ts *tenants) server(r *http.Request) *mcp.Server {
	ti := auth.TokenInfoFromContext(r.Context())
	if ti == nil {
		return nil
	}
	if a := ts.apps[access.FromTokenInfo(ti).Tenant]; a != nil {
		return a.server
	}
	return nil
}

// taskManager is the task manager of the request's tenant and the
// caller's task owner id, or nil.
func (ts *tenants) taskManager(r *http.Request) (*tasks.Manager, string) {
	ti := auth.TokenInfoFromContext(r.Context())
	if ti == nil {
		return nil, ""
	}
	c := access.FromTokenInfo(ti)
	if a := ts.apps[c.Tenant]; a != nil {
		return a.tasks, mcpserver.TaskOwner(c)
	}
	return nil, ""
}

// admit refuses a token that names no tenant of this server.
func (ts *tenants) admit(ti *auth.TokenInfo) error {
	t := access.FromTokenInfo(ti).Tenant
	if _, ok := ts.apps[t]; !ok {
		return fmt.Errorf("the access token's %q claim names no tenant of this server", ts.claim)
	}
	return nil
}

// servers are the tenants' MCP servers, in file order.
func (ts *tenants) servers() []*mcp.Server {
	var out []*mcp.Server
	for _, id := range ts.order {
		out = append(out, ts.apps[id].server)
	}
	return out
}

// ready is /readyz's probe: every tenant's store must answer.
func (ts *tenants) ready(ctx context.Context) error {
	var errs []error
	for _, id := range ts.order {
		if err := storeReady(ts.apps[id].store)(ctx); err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// Close stops every tenant's app, then the shared webhook listener.
func (ts *tenants) Close() {
	for _, id := range slices.Backward(ts.order) {
		ts.apps[id].Close()
	}
	for _, f := range slices.Backward(ts.closers) {
		f()
	}
	ts.closers = nil
}
