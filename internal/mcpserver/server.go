package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/access"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/payments"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/shop"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/tasks"
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
	// Subscriptions caps resource subscriptions per session and caller.
	Subscriptions SubscriptionLimits
	// Observe, when set, is called once per request a limit refuses
	// (the Limit* constants).
	Observe func(limit string)
	// Subscribable, if set, names resources besides the payment resources
	// that clients may subscribe to (resources/subscribe, or
	// subscriptions/listen): the conformance server's fixtures.
	Subscribable func(uri string) bool
	// Tasks, if set, offers the Tasks extension (io.modelcontextprotocol/tasks):
	// New registers the task tools' kinds; start it afterwards.
	Tasks *tasks.Manager
	// UIOff turns the MCP Apps cards off (CRYPTOPAY_UI=off): no UI _meta,
	// no ui:// resources, no app-only tools, even for clients that declare
	// the extension.
	UIOff bool
}

const instructions = `Crypto payments through Bitnovo Pay.
To get paid: if the user names a cryptocurrency (Bitcoin, BTC, ETH, USDC, ...) use create_payment_onchain; otherwise use create_payment_link (the default).
Check a payment with get_payment_status, or wait for it with wait_for_payment (returns as soon as it completes; subscribe to bitnovo://payments/{identifier} for pushed updates); list accepted coins and limits with list_currencies_catalog; re-draw QR codes with generate_payment_qr.
Never create a payment twice for one request: pass an idempotency_key (e.g. the order number) and reuse it when retrying.`

const tasksInstructions = `Tasks (io.modelcontextprotocol/tasks): for a client that declares the extension, wait_for_payment, and pay_invoice or create_invoice with auto_pay once paid, answer with a task (resultType "task"); poll it with tasks/get until completed, then read its result. A waiting task ignores timeout_seconds and ends when the payment does.`

// Tools returns every tool this server offers, in listing order.
func Tools(d Deps) []registrar {
	return append([]registrar{
		createPaymentOnchain(d.Payments),
		createPaymentLink(d.Payments),
		getPaymentStatus(d.Payments),
		listCurrenciesCatalog(d.Payments),
		generatePaymentQR(d.Payments),
		waitForPayment(d.Payments),
	}, append(append(webhookTools(d.Webhooks, d.Sandbox), shopTools(d.Shop)...), appTools(d)...)...)
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

// errPaymentsOff refuses a subscription while the payments toolset is off.
var errPaymentsOff = errors.New("the payments toolset is off (CRYPTOPAY_TOOLSETS)")

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
	var caps *mcp.ServerCapabilities
	if d.Tasks != nil {
		caps = &mcp.ServerCapabilities{Logging: &mcp.LoggingCapabilities{}} // the SDK's default, which Capabilities replaces
		caps.AddExtension(tasks.ExtensionID, nil)
		ins += "\n" + tasksInstructions
	}
	if d.Anonymous.Kind == "" {
		d.Anonymous = access.Caller{Kind: access.KindStdio, Scopes: access.AllScopes()}
	}
	e := &env{log: d.Logger, timeout: d.ToolTimeout, sandbox: d.Sandbox, anonymous: d.Anonymous}
	subs := newSubscriptions(d.Subscriptions, d.Observe)
	// subscribable says whether clients may subscribe to uri at all: a
	// conformance fixture, or a payment resource while the payments toolset
	// is on. Whether that payment exists, and the caps, are checked by subs.
	subscribable := func(uri string) error {
		if d.Subscribable != nil && d.Subscribable(uri) {
			return nil
		}
		if !d.Policy.Enabled(access.Payments) {
			return errPaymentsOff
		}
		_, err := paymentID(uri)
		return err
	}
	s := mcp.NewServer(&mcp.Implementation{Name: Name, Title: "CryptoPay MCP (Bitnovo Pay)", Version: d.Version},
		&mcp.ServerOptions{Instructions: ins, Logger: sdkLog, CompletionHandler: completions(d), Capabilities: caps,
			SubscribeHandler: func(ctx context.Context, r *mcp.SubscribeRequest) error {
				if d.Subscribable != nil && d.Subscribable(r.Params.URI) {
					return nil // a conformance fixture: no payment, no cap
				}
				if !d.Policy.Enabled(access.Payments) {
					return errPaymentsOff
				}
				return subs.subscribe(ctx, r, subscriber(ctx, e, r), d.Payments) // checks the URI itself
			},
			UnsubscribeHandler: subs.unsubscribe,
			SetCacheable:       setCacheable,
		})
	s.AddReceivingMiddleware(listenFilterMiddleware(func(uri string) bool { return subscribable(uri) == nil }))
	u := &uiState{off: d.UIOff, appOnly: map[string]bool{}, views: map[string]bool{}}
	g := &gate{policy: d.Policy, scope: map[string]access.Scope{}, disabled: map[string]string{}, ui: u}
	if d.Webhooks == nil {
		s.AddReceivingMiddleware(notEnabledMiddleware(e))
	}
	if !d.Policy.Enabled(access.Webhooks) {
		for _, n := range webhookToolNames {
			g.disabled[n] = "the webhooks toolset is off (CRYPTOPAY_TOOLSETS)"
		}
	}
	for _, t := range Tools(d) {
		if t.appOnly() && d.UIOff {
			continue
		}
		sc, err := access.ScopeFor(t.toolset(), t.readOnly())
		if err != nil {
			return nil, fmt.Errorf("register %s: %w", t.name(), err)
		}
		if !d.Policy.Allows(t.toolset(), t.readOnly()) {
			if !t.appOnly() { // an app-only tool is never named to the model
				g.disabled[t.name()] = disabledReason(d.Policy, t.toolset())
			}
			continue
		}
		if err := t.register(s, e); err != nil {
			return nil, fmt.Errorf("register %s: %w", t.name(), err)
		}
		if t.appOnly() {
			u.appOnly[t.name()] = true
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
	if !d.UIOff {
		vs, err := views(d)
		if err != nil {
			return nil, err
		}
		for _, v := range vs {
			u.views[v.uri] = true
		}
		addViews(s, vs)
	}
	addAccessResource(s, e, g)
	if d.Tasks != nil {
		registerTaskKinds(d.Tasks, d, e)
		if err := addTaskMethods(s, d.Tasks); err != nil {
			return nil, fmt.Errorf("register the tasks methods: %w", err)
		}
		s.AddReceivingMiddleware(tasksMiddleware(e, d.Tasks)) // inside the access checks
	}
	s.AddReceivingMiddleware(accessMiddleware(e, g), callerContext(e), uiMiddleware(e, u))
	return s, nil
}

func disabledReason(p access.Policy, t access.Toolset) string {
	if !p.Enabled(t) {
		return "the " + string(t) + " toolset is off (CRYPTOPAY_TOOLSETS)"
	}
	return "the server is read-only (CRYPTOPAY_READ_ONLY) and this tool changes state"
}
