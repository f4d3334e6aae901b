package mcpserver

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/access"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/payments"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/shop"
)

// Name is the server's MCP implementation name.
const Name = "cryptopay-mcp"

// Deps are the services the tools use.
type Deps struct {
	Version     string
	Payments    *payments.Service
	Shop        *shop.Service // nil: no shop toolset
	Webhooks    Webhooks      // nil: webhooks are off
	Sandbox     bool
	ToolTimeout time.Duration
	Logger      *slog.Logger
	// Policy switches toolsets off and can make the server read-only; the
	// zero Policy offers everything.
	Policy access.Policy
	// Anonymous is the caller of requests without a token; zero: the stdio
	// user, holding every scope.
	Anonymous access.Caller
	// Subscribable, if set, names resources besides the payment resources
	// that clients may subscribe to (resources/subscribe, or
	// subscriptions/listen): the conformance server's fixtures.
	Subscribable func(uri string) bool
}

const instructions = `Crypto payments through Bitnovo Pay.
To get paid: if the user names a cryptocurrency (Bitcoin, BTC, ETH, USDC, ...) use create_payment_onchain; otherwise use create_payment_link (the default).
Check a payment with get_payment_status, or wait for it with wait_for_payment (returns as soon as it completes; subscribe to bitnovo://payments/{identifier} for pushed updates); list accepted coins and limits with list_currencies_catalog; re-draw QR codes with generate_payment_qr.
Never create a payment twice for one request: pass an idempotency_key (e.g. the order number) and reuse it when retrying.`

// Tools returns every tool this server offers, in listing order.
func Tools(d Deps) []registrar {
	return append([]registrar{
		createPaymentOnchain(d.Payments),
		createPaymentLink(d.Payments),
		getPaymentStatus(d.Payments),
		listCurrenciesCatalog(d.Payments),
		generatePaymentQR(d.Payments),
		waitForPayment(d.Payments),
	}, append(webhookTools(d.Webhooks, d.Sandbox), shopTools(d.Shop)...)...)
}

// ReadOnlyTools returns the names of the tools whose annotations say they
// change nothing (readOnlyHint).
func ReadOnlyTools(d Deps) map[string]bool {
	out := map[string]bool{}
	for _, t := range Tools(d) {
		if t.readOnly() {
			out[t.name()] = true
		}
	}
	return out
}

// New builds the MCP server with all tools registered.
func New(d Deps) (*mcp.Server, error) {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.ToolTimeout <= 0 {
		d.ToolTimeout = 30 * time.Second
	}
	ins := instructions
	if d.Policy.Toolsets != nil || d.Policy.ReadOnly {
		ins += "\nEnabled toolsets: " + d.Policy.String() + ". Read " + AccessURI + " for the tools you may call."
	}
	if d.Sandbox {
		ins += "\nSANDBOX MODE: payments are simulated by a built-in fake of Bitnovo Pay; no real money moves and every result says \"sandbox\": true."
	}
	// The SDK's own lifecycle lines are only interesting when debugging.
	sdkLog := slog.New(slog.DiscardHandler)
	if d.Logger.Enabled(context.Background(), slog.LevelDebug) {
		sdkLog = d.Logger
	}
	subscribe := func(uri string) error {
		if d.Subscribable != nil && d.Subscribable(uri) {
			return nil
		}
		if !d.Policy.Enabled(access.Payments) {
			return fmt.Errorf("the payments toolset is off (CRYPTOPAY_TOOLSETS)")
		}
		_, err := paymentID(uri)
		return err
	}
	s := mcp.NewServer(&mcp.Implementation{Name: Name, Title: "CryptoPay MCP (Bitnovo Pay)", Version: d.Version},
		&mcp.ServerOptions{Instructions: ins, Logger: sdkLog, CompletionHandler: completions(d),
			SubscribeHandler: func(_ context.Context, r *mcp.SubscribeRequest) error {
				return subscribe(r.Params.URI)
			},
			UnsubscribeHandler: func(context.Context, *mcp.UnsubscribeRequest) error { return nil },
			SetCacheable:       setCacheable,
		})
	s.AddReceivingMiddleware(listenFilterMiddleware(func(uri string) bool { return subscribe(uri) == nil }))
	if d.Anonymous.Kind == "" {
		d.Anonymous = access.Caller{Kind: access.KindStdio, Scopes: access.AllScopes()}
	}
	e := &env{log: d.Logger, timeout: d.ToolTimeout, sandbox: d.Sandbox, anonymous: d.Anonymous}
	g := &gate{policy: d.Policy, scope: map[string]access.Scope{}, disabled: map[string]string{}}
	if d.Webhooks == nil {
		s.AddReceivingMiddleware(notEnabledMiddleware(e))
	}
	if !d.Policy.Enabled(access.Webhooks) {
		for _, n := range webhookToolNames {
			g.disabled[n] = "the webhooks toolset is off (CRYPTOPAY_TOOLSETS)"
		}
	}
	for _, t := range Tools(d) {
		sc, err := access.ScopeFor(t.toolset(), t.readOnly())
		if err != nil {
			return nil, fmt.Errorf("register %s: %w", t.name(), err)
		}
		if !d.Policy.Allows(t.toolset(), t.readOnly()) {
			g.disabled[t.name()] = disabledReason(d.Policy, t.toolset())
			continue
		}
		if err := t.register(s, e); err != nil {
			return nil, fmt.Errorf("register %s: %w", t.name(), err)
		}
		g.scope[t.name()] = sc
	}
	if d.Policy.Enabled(access.Payments) {
		addPaymentResources(s, d.Payments)
		addPrompts(s, d)
	}
	if d.Shop != nil && d.Policy.Enabled(access.Shop) {
		addShopResources(s)
	}
	addAccessResource(s, e, g)
	s.AddReceivingMiddleware(accessMiddleware(e, g))
	return s, nil
}

func disabledReason(p access.Policy, t access.Toolset) string {
	if !p.Enabled(t) {
		return "the " + string(t) + " toolset is off (CRYPTOPAY_TOOLSETS)"
	}
	return "the server is read-only (CRYPTOPAY_READ_ONLY) and this tool changes state"
}
