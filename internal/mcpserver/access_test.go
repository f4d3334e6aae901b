package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/access"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/payments"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

func fullDeps(t *testing.T, p access.Policy) Deps {
	t.Helper()
	return Deps{Payments: payments.New(nil, store.NewMemory(), payments.Options{}), Shop: fullShop(t),
		Webhooks: &fakeWebhooks{}, Policy: p}
}

func listNames(t *testing.T, cs *mcp.ClientSession) []string {
	t.Helper()
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tl := range res.Tools {
		out = append(out, tl.Name)
	}
	slices.Sort(out)
	return out
}

func sorted(s string) []string {
	f := strings.Fields(s)
	slices.Sort(f)
	return f
}

const (
	paymentTools     = "create_payment_onchain create_payment_link get_payment_status list_currencies_catalog generate_payment_qr wait_for_payment"
	paymentReadTools = "get_payment_status list_currencies_catalog generate_payment_qr wait_for_payment"
	webhookTools3    = "get_webhook_events get_webhook_url get_tunnel_status"
	shopReadTools    = "search detail categories ping get_account_balance get_invoices get_invoice get_orders get_order"
	purchaseTools    = "create_invoice pay_invoice unseal_order"
)

func TestToolsetsListExactlyTheirTools(t *testing.T) {
	tests := []struct {
		name   string
		policy access.Policy
		want   string
	}{
		{"all", access.Policy{}, paymentTools + " " + webhookTools3 + " " + shopReadTools + " " + purchaseTools},
		{"payments", access.Policy{Toolsets: []access.Toolset{access.Payments}}, paymentTools},
		{"webhooks", access.Policy{Toolsets: []access.Toolset{access.Webhooks}}, webhookTools3},
		{"shop", access.Policy{Toolsets: []access.Toolset{access.Shop}}, shopReadTools},
		{"shop-purchase", access.Policy{Toolsets: []access.Toolset{access.ShopPurchase}}, purchaseTools},
		{"payments+shop", access.Policy{Toolsets: []access.Toolset{access.Payments, access.Shop}}, paymentTools + " " + shopReadTools},
		{"payments read-only", access.Policy{Toolsets: []access.Toolset{access.Payments}, ReadOnly: true}, paymentReadTools},
		{"read-only", access.Policy{ReadOnly: true}, paymentReadTools + " " + webhookTools3 + " " + shopReadTools + " unseal_order"},
		{"shop-purchase read-only", access.Policy{Toolsets: []access.Toolset{access.ShopPurchase}, ReadOnly: true}, "unseal_order"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := connectInMemory(t, fullDeps(t, tt.policy))
			if got, want := listNames(t, cs), sorted(tt.want); !slices.Equal(got, want) {
				t.Errorf("tools:\n got  %v\n want %v", got, want)
			}
			if !tt.policy.ReadOnly {
				return
			}
			res, err := cs.ListTools(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, tl := range res.Tools {
				if tl.Annotations == nil || !tl.Annotations.ReadOnlyHint {
					t.Errorf("read-only mode lists %s, which is not readOnlyHint: true", tl.Name)
				}
			}
		})
	}
}

func errorCode(t *testing.T, m map[string]any) string {
	t.Helper()
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func TestDisabledToolsRefuseCallsByName(t *testing.T) {
	tests := []struct {
		name   string
		deps   func(t *testing.T) Deps
		tool   string
		args   map[string]any
		reason string
	}{
		{"read-only create", func(t *testing.T) Deps { return fullDeps(t, access.Policy{ReadOnly: true}) },
			"create_payment_link", map[string]any{"amount_eur": 5}, "read-only"},
		{"read-only pay", func(t *testing.T) Deps { return fullDeps(t, access.Policy{ReadOnly: true}) },
			"pay_invoice", map[string]any{"invoice_id": "x"}, "read-only"},
		{"toolset off", func(t *testing.T) Deps {
			return fullDeps(t, access.Policy{Toolsets: []access.Toolset{access.Shop}})
		}, "get_webhook_url", nil, "webhooks toolset is off"},
		{"toolset off, webhooks not configured", func(t *testing.T) Deps {
			d := fullDeps(t, access.Policy{Toolsets: []access.Toolset{access.Payments}})
			d.Webhooks = nil
			return d
		}, "get_webhook_events", nil, "webhooks toolset is off"},
		{"payments off", func(t *testing.T) Deps {
			return fullDeps(t, access.Policy{Toolsets: []access.Toolset{access.Shop}})
		}, "create_payment_onchain", map[string]any{"amount_eur": 5, "input_currency": "BTC"}, "payments toolset is off"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := connectInMemory(t, tt.deps(t))
			m, isErr := callJSON(t, cs, tt.tool, tt.args)
			if !isErr || errorCode(t, m) != CodeToolNotEnabled {
				t.Fatalf("got %v, want %s", m, CodeToolNotEnabled)
			}
			if msg := m["error"].(map[string]any)["message"].(string); !strings.Contains(msg, tt.reason) {
				t.Errorf("message %q does not say %q", msg, tt.reason)
			}
		})
	}
}

func TestToolsetOffHidesItsResourcesAndPrompts(t *testing.T) {
	cs := connectInMemory(t, fullDeps(t, access.Policy{Toolsets: []access.Toolset{access.Webhooks}}))
	ctx := context.Background()
	tpl, err := cs.ListResourceTemplates(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range tpl.ResourceTemplates {
		t.Errorf("template %s listed with payments and shop off", r.URITemplate)
	}
	res, err := cs.ListResources(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Resources) != 1 || res.Resources[0].URI != AccessURI {
		t.Errorf("resources = %v, want only %s", res.Resources, AccessURI)
	}
	if cs.InitializeResult().Capabilities.Prompts != nil {
		if p, err := cs.ListPrompts(ctx, nil); err == nil && len(p.Prompts) > 0 {
			t.Errorf("prompts listed with payments off: %d", len(p.Prompts))
		}
	}
	if _, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "bitnovo://payments/1040095a-737d-41a2-a2e1-d031d19ec8cd"}); err == nil {
		t.Error("payment resource readable with payments off")
	}
}

// connectWithToken serves d over Streamable HTTP behind a bearer check
// whose tokens are "scopes:<comma-separated scopes>", and returns a
// session that sends token.
func connectWithToken(t *testing.T, d Deps, token string) *mcp.ClientSession {
	t.Helper()
	return connectWithTokenCaps(t, d, token, nil)
}

// connectWithTokenCaps is connectWithToken for a client declaring caps.
func connectWithTokenCaps(t *testing.T, d Deps, token string, caps *mcp.ClientCapabilities) *mcp.ClientSession {
	t.Helper()
	s, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	verify := func(_ context.Context, tok string, _ *http.Request) (*auth.TokenInfo, error) {
		list, ok := strings.CutPrefix(tok, "scopes:")
		if !ok {
			return nil, auth.ErrInvalidToken
		}
		sc, _ := access.ParseScopes(list, false)
		return access.TokenInfo(access.Caller{Kind: access.KindOAuth, Subject: "alice", ClientID: "agent", Scopes: sc},
			time.Now().Add(time.Hour)), nil
	}
	h := auth.RequireBearerToken(verify, nil)(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	hc := &http.Client{Transport: bearer{token: token, next: http.DefaultTransport}}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "0"}, &mcp.ClientOptions{Capabilities: caps}).Connect(context.Background(),
		&mcp.StreamableClientTransport{Endpoint: srv.URL, HTTPClient: hc, DisableStandaloneSSE: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

func TestScopesFilterToolsAndCalls(t *testing.T) {
	tests := []struct {
		scopes string
		want   string
	}{
		{"payments:read", paymentReadTools},
		{"payments:write", "create_payment_onchain create_payment_link"},
		{"payments:read payments:write", paymentTools},
		{"webhooks:read", webhookTools3},
		{"shop:read", shopReadTools},
		{"shop:purchase", purchaseTools},
		{"shop:read shop:purchase other:scope", shopReadTools + " " + purchaseTools},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.scopes, func(t *testing.T) {
			cs := connectWithToken(t, fullDeps(t, access.Policy{}), "scopes:"+strings.ReplaceAll(tt.scopes, " ", ","))
			if got, want := listNames(t, cs), sorted(tt.want); !slices.Equal(got, want) {
				t.Errorf("tools:\n got  %v\n want %v", got, want)
			}
		})
	}

	cs := connectWithToken(t, fullDeps(t, access.Policy{}), "scopes:payments:read,shop:read")
	m, isErr := callJSON(t, cs, "create_payment_link", map[string]any{"amount_eur": 5})
	if !isErr || errorCode(t, m) != CodeInsufficientScope {
		t.Fatalf("create without payments:write: %v", m)
	}
	if d := m["error"].(map[string]any)["details"].(map[string]any); d["required_scope"] != "payments:write" {
		t.Errorf("details = %v", d)
	}
	m, isErr = callJSON(t, cs, "get_webhook_events", nil)
	if !isErr || errorCode(t, m) != CodeInsufficientScope {
		t.Fatalf("webhook events without webhooks:read: %v", m)
	}

	// Resources follow the same scopes.
	cs = connectWithToken(t, fullDeps(t, access.Policy{}), "scopes:shop:read")
	ctx := context.Background()
	_, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "bitnovo://payments/1040095a-737d-41a2-a2e1-d031d19ec8cd"})
	var je *jsonrpc.Error
	if !errors.As(err, &je) || je.Code != codeResourceForbidden {
		t.Fatalf("payment resource without payments:read: %v", err)
	}
	tpl, err := cs.ListResourceTemplates(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range tpl.ResourceTemplates {
		if strings.HasPrefix(r.URITemplate, "bitnovo://") {
			t.Errorf("template %s listed without payments:read", r.URITemplate)
		}
	}
	p, err := cs.ListPrompts(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Prompts) != 0 {
		t.Errorf("%d prompts listed without payments:read", len(p.Prompts))
	}

	// cryptopay://access says who the caller is and what it may call.
	rr, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: AccessURI})
	if err != nil {
		t.Fatal(err)
	}
	var info accessInfo
	if err := json.Unmarshal([]byte(rr.Contents[0].Text), &info); err != nil {
		t.Fatal(err)
	}
	if info.Caller.Kind != "oauth" || info.Caller.Subject != "alice" || info.Caller.ClientID != "agent" ||
		!slices.Equal(info.Caller.Scopes, []string{"shop:read"}) || !slices.Equal(info.Tools, sorted(shopReadTools)) {
		t.Errorf("access info = %+v", info)
	}
}

func TestEveryToolDeclaresAToolset(t *testing.T) {
	for _, tl := range Tools(fullDeps(t, access.Policy{})) {
		if _, err := access.ScopeFor(tl.toolset(), tl.readOnly()); err != nil {
			t.Errorf("%s: %v", tl.name(), err)
		}
	}
	// A state-changing tool in a read-only toolset cannot be registered.
	bad := getTunnelStatus(&fakeWebhooks{}, false)
	bad.Def.Annotations = &mcp.ToolAnnotations{ReadOnlyHint: false}
	if _, err := access.ScopeFor(bad.toolset(), bad.readOnly()); err == nil {
		t.Error("a webhooks tool without readOnlyHint got a scope")
	}
}

// completion/complete reaches the prompts' and the resource templates'
// data (the currency catalog), so it needs the scope that lists them, and
// the toolset they belong to.
func TestCompletionFollowsScopesAndToolsets(t *testing.T) {
	api := fakeBitnovoAPI(t)
	deps := func(p access.Policy) Deps {
		d := fullDeps(t, p)
		d.Payments = payments.New(api, store.NewMemory(), payments.Options{})
		return d
	}
	prompt := &mcp.CompleteReference{Type: "ref/prompt", Name: PromptRequestPayment}
	category := &mcp.CompleteReference{Type: "ref/resource", URI: "bitrefill://product-types/{productType}"}
	all := strings.Join(access.ScopeStrings(access.AllScopes()), ",")
	tests := []struct {
		name   string
		policy access.Policy
		scopes string
		ref    *mcp.CompleteReference
		arg    string
		allow  bool
	}{
		{"prompt with payments:read", access.Policy{}, "payments:read", prompt, "currency", true},
		{"prompt without payments:read", access.Policy{}, "payments:write,shop:read", prompt, "currency", false},
		{"prompt with payments off", access.Policy{Toolsets: []access.Toolset{access.Shop}}, all, prompt, "currency", false},
		{"template with shop:read", access.Policy{}, "shop:read", category, "productType", true},
		{"template without shop:read", access.Policy{}, "payments:read", category, "productType", false},
		{"template with shop off", access.Policy{Toolsets: []access.Toolset{access.Payments}}, all, category, "productType", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := connectWithToken(t, deps(tt.policy), "scopes:"+tt.scopes)
			res, err := cs.Complete(context.Background(), &mcp.CompleteParams{Ref: tt.ref,
				Argument: mcp.CompleteParamsArgument{Name: tt.arg, Value: ""}})
			switch {
			case tt.allow && (err != nil || len(res.Completion.Values) == 0):
				t.Errorf("completion refused or empty: %v %v", res, err)
			case !tt.allow && err == nil:
				t.Errorf("completion answered: %v", res.Completion.Values)
			}
		})
	}
}
