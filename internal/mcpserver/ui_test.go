package mcpserver

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/access"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitrefill"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/fakebitrefill"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/payments"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/shop"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

// cardToolNames are the model-visible tools that render a card.
var cardToolNames = []string{"create_payment_onchain", "create_payment_link", "get_payment_status", "wait_for_payment",
	"search", "detail", "create_invoice", "get_invoice", "pay_invoice", "get_order"}

// uiCaps declares the MCP Apps extension as hosts do.
func uiCaps() *mcp.ClientCapabilities {
	return &mcp.ClientCapabilities{Extensions: map[string]any{UIExtension: map[string]any{"mimeTypes": []any{UIMIMEType}}}}
}

func uiDeps(t *testing.T) Deps {
	t.Helper()
	d := fullDeps(t, access.Policy{})
	d.Payments = payments.New(fakeBitnovoAPI(t), store.NewMemory(), payments.Options{Sandbox: true})
	return d
}

func toolMap(t *testing.T, cs *mcp.ClientSession) map[string]*mcp.Tool {
	t.Helper()
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]*mcp.Tool{}
	for _, tl := range res.Tools {
		m[tl.Name] = tl
	}
	return m
}

func resourceURIs(t *testing.T, cs *mcp.ClientSession) []string {
	t.Helper()
	res, err := cs.ListResources(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range res.Resources {
		out = append(out, r.URI)
	}
	return out
}

// TestUINegotiation: a client that declares io.modelcontextprotocol/ui,
// in its 2025-11-25 initialize or in each 2026-07-28 request's _meta, gets
// the card _meta, the ui:// resource and the app-only tool; any other
// client, or any client with UIOff, gets the listings of before.
func TestUINegotiation(t *testing.T) {
	for _, rev := range []string{Revision2026, "2025-11-25"} {
		for _, tc := range []struct {
			name   string
			caps   *mcp.ClientCapabilities
			off    bool
			wantUI bool
		}{
			{"ui client", uiCaps(), false, true},
			{"plain client", nil, false, false},
			{"other extension", &mcp.ClientCapabilities{Extensions: map[string]any{"io.modelcontextprotocol/tasks": map[string]any{}}}, false, false},
			{"ui client, CRYPTOPAY_UI=off", uiCaps(), true, false},
		} {
			t.Run(rev+"/"+tc.name, func(t *testing.T) {
				d := uiDeps(t)
				d.UIOff = tc.off
				s, err := New(d)
				if err != nil {
					t.Fatal(err)
				}
				cs := connectRevision(t, s, rev, tc.caps)
				tools := toolMap(t, cs)
				for _, app := range []string{"card_payment_status", "card_pay_invoice", "card_reveal_order"} {
					if _, ok := tools[app]; ok != tc.wantUI {
						t.Errorf("%s listed = %t, want %t", app, ok, tc.wantUI)
					}
				}
				for _, name := range cardToolNames {
					tl := tools[name]
					if tl == nil {
						t.Fatalf("%s not listed", name)
					}
					ui, _ := tl.Meta["ui"].(map[string]any)
					if !tc.wantUI {
						if tl.Meta != nil {
							t.Errorf("%s carries _meta %v for a client without the UI", name, tl.Meta)
						}
						continue
					}
					if uri, _ := cardOf(name); ui["resourceUri"] != uri || tl.Meta["ui/resourceUri"] != uri || tl.Meta["openai/outputTemplate"] != uri {
						t.Errorf("%s _meta = %v", name, tl.Meta)
					}
				}
				if tc.wantUI {
					vis, _ := tools["card_payment_status"].Meta["ui"].(map[string]any)["visibility"].([]any)
					if len(vis) != 1 || vis[0] != "app" {
						t.Errorf("card_payment_status visibility = %v", vis)
					}
				}
				for _, uri := range []string{PaymentCardURI, ShopCardURI} {
					if got := slices.Contains(resourceURIs(t, cs), uri); got != tc.wantUI {
						t.Errorf("%s listed = %t, want %t", uri, got, tc.wantUI)
					}
				}
				rr, err := cs.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: PaymentCardURI})
				if !tc.wantUI {
					if err == nil {
						t.Errorf("a client without the UI read %s", PaymentCardURI)
					}
				} else if err != nil {
					t.Fatal(err)
				} else {
					c := rr.Contents[0]
					csp, _ := c.Meta["ui"].(map[string]any)["csp"].(map[string]any)
					if rev == Revision2026 && (rr.TTLMs != listTTL || rr.CacheScope != "public") {
						t.Errorf("view cache hints %+v, want %d public", rr.Cacheable, listTTL)
					}
					if c.MIMEType != UIMIMEType || !strings.HasPrefix(c.Text, "<!doctype html>") || csp == nil || len(csp["connectDomains"].([]any)) != 0 {
						t.Errorf("view: mime %q, csp %v, %d bytes", c.MIMEType, csp, len(c.Text))
					}
				}
				res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "card_payment_status",
					Arguments: map[string]any{"identifier": "00000000-0000-4000-8000-000000000000"}})
				if err != nil {
					if tc.off {
						return // not registered at all
					}
					t.Fatal(err)
				}
				m := map[string]any{}
				_ = json.Unmarshal([]byte(res.Content[0].(*mcp.TextContent).Text), &m)
				if code := errorCode(t, m); tc.wantUI == (code == CodeUINotNegotiated) {
					t.Errorf("card_payment_status from this client: code %q", code)
				}
			})
		}
	}
}

// TestUIPlainClientListingUnchanged: the whole tools/list a client without
// the extension gets is the one of a server with the UI off.
func TestUIPlainClientListingUnchanged(t *testing.T) {
	list := func(off bool, caps *mcp.ClientCapabilities) string {
		d := uiDeps(t)
		d.UIOff = off
		s, err := New(d)
		if err != nil {
			t.Fatal(err)
		}
		cs := connectRevision(t, s, "", caps)
		res, err := cs.ListTools(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(res.Tools)
		return string(b)
	}
	on, off := list(false, nil), list(true, uiCaps())
	if on != off {
		t.Error("a plain client's tools/list differs from the UI-off server's")
	}
	t.Logf("tools/list: %d bytes for a plain client, %d for a UI client", len(on), len(list(false, uiCaps())))
}

// TestAppOnlyToolsObeyAccess: an app-only tool is in its toolset, needs
// its scope, and is named in cryptopay://access only to UI clients; its
// calls are logged with the caller.
func TestAppOnlyToolsObeyAccess(t *testing.T) {
	d := uiDeps(t)
	d.Policy = access.Policy{Toolsets: []access.Toolset{access.Shop}}
	s, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := toolMap(t, connectRevision(t, s, "", uiCaps()))["card_payment_status"]; ok {
		t.Error("card_payment_status listed with the payments toolset off")
	}
	// Read-only: the card may still refresh and reveal, never pay.
	d = uiDeps(t)
	d.Policy = access.Policy{ReadOnly: true}
	s, err = New(d)
	if err != nil {
		t.Fatal(err)
	}
	ro := connectRevision(t, s, "", uiCaps())
	tools := toolMap(t, ro)
	if tools["card_pay_invoice"] != nil || tools["card_payment_status"] == nil || tools["card_reveal_order"] == nil {
		t.Errorf("read-only server lists app-only tools %v", slices.Sorted(maps.Keys(tools)))
	}
	if _, err := ro.CallTool(context.Background(), &mcp.CallToolParams{Name: "card_pay_invoice", Arguments: map[string]any{"id": "inv_1"}}); err == nil {
		t.Error("a read-only server ran card_pay_invoice")
	}

	var logs bytes.Buffer
	d = uiDeps(t)
	d.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	cs := connectWithTokenCaps(t, d, "scopes:shop:read", uiCaps())
	if _, ok := toolMap(t, cs)["card_payment_status"]; ok {
		t.Error("card_payment_status listed to a caller without payments:read")
	}
	m, isErr := callJSON(t, cs, "card_payment_status", map[string]any{"identifier": "00000000-0000-4000-8000-000000000000"})
	if !isErr || errorCode(t, m) != CodeInsufficientScope {
		t.Errorf("call without payments:read: %v", m)
	}
	cs = connectWithTokenCaps(t, d, "scopes:payments:read", uiCaps())
	callJSON(t, cs, "card_payment_status", map[string]any{"identifier": "00000000-0000-4000-8000-000000000000"})
	if !regexp.MustCompile(`app-only tool call.*tool=card_payment_status.*caller=.*alice`).MatchString(logs.String()) {
		t.Errorf("no audit line with the caller:\n%s", logs.String())
	}
	rr, err := cs.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: AccessURI})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rr.Contents[0].Text, "card_payment_status") {
		t.Error("cryptopay://access does not name the app-only tool to a UI client")
	}
	plain := connectWithToken(t, d, "scopes:payments:read")
	rr, err = plain.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: AccessURI})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(rr.Contents[0].Text, "card_payment_status") {
		t.Error("cryptopay://access names the app-only tool to a client without the UI")
	}
}

// TestViewsSelfContained: every view is one document under 300 KB that
// names no network origin and loads no script.
func TestViewsSelfContained(t *testing.T) {
	d := uiDeps(t)
	d.Shop, _, _ = sandboxShop(t)
	vs, err := views(d)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 {
		t.Fatalf("%d views, want the payment and the shop card", len(vs))
	}
	origin := regexp.MustCompile(`(?i)(https?:|wss?:)//|<script[^>]+src=|<link[^>]+href=|fetch\(|XMLHttpRequest|WebSocket\(|@import`)
	for _, v := range vs {
		var gz bytes.Buffer
		w := gzip.NewWriter(&gz)
		_, _ = w.Write([]byte(v.html))
		_ = w.Close()
		t.Logf("view %s: %d bytes, %d gzipped", v.uri, len(v.html), gz.Len())
		if len(v.html) > 300<<10 {
			t.Errorf("%s: %d bytes, over 300 KB", v.uri, len(v.html))
		}
		if loc := origin.FindStringIndex(v.html); loc != nil {
			t.Errorf("%s reaches the network: %q", v.uri, v.html[max(0, loc[0]-40):min(len(v.html), loc[1]+40)])
		}
		if !strings.Contains(v.html, "default-src 'none'") {
			t.Errorf("%s has no CSP meta", v.uri)
		}
	}
}

func TestBuildViewRefusesMissingScript(t *testing.T) {
	if _, err := buildView("nonexistent.html"); err == nil {
		t.Error("buildView of a missing view succeeded")
	}
}

// sandboxShop is a purchasing shop against the fake Bitrefill.
func sandboxShop(t *testing.T) (*shop.Service, *fakebitrefill.Fake, store.Store) {
	t.Helper()
	fake, err := fakebitrefill.New(fakebitrefill.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	pub, v2 := fakebitrefill.BaseURLs(srv.URL)
	id, secret := fake.Credentials()
	rc, err := bitrefill.New(bitrefill.Options{PublicBaseURL: pub, V2BaseURL: v2, APIID: id, APISecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	st := store.NewMemory()
	return shop.New(rc, st, shop.Options{Sandbox: true, PurchasesEnabled: true, MaxOrderCents: 50000, DailyLimitCents: 100000}), fake, st
}

// TestShopCardPayOnceCodeOnlyInCard drives the shop card's tools as a UI
// host does: the model creates the invoice; the card gets a quote whose
// token the model never sees; one click pays once; the code appears only
// in the app-only reveal, never in a result the model reads.
func TestShopCardPayOnceCodeOnlyInCard(t *testing.T) {
	for _, rev := range []string{Revision2026, "2025-11-25"} {
		t.Run(rev, func(t *testing.T) {
			svc, fake, st := sandboxShop(t)
			d := uiDeps(t)
			d.Shop = svc
			s, err := New(d)
			if err != nil {
				t.Fatal(err)
			}
			cs := connectRevision(t, s, rev, uiCaps())
			if _, listed := toolMap(t, cs)["unseal_order"]; listed {
				t.Error("unseal_order listed to a client that renders the shop card")
			}
			created, isErr := callJSON(t, cs, "create_invoice", map[string]any{"payment_method": "balance",
				"products": []any{map[string]any{"product_id": "amazon_com-usa", "value": 10}}})
			if isErr {
				t.Fatalf("create_invoice: %v", created)
			}
			inv := created["invoice"].(map[string]any)["id"].(string)
			quote, isErr := callJSON(t, cs, "card_pay_invoice", map[string]any{"id": inv})
			token, _ := quote["confirmation_token"].(string)
			amount, _ := quote["quote"].(map[string]any)["amount_eur"].(string)
			if isErr || token == "" || quote["paid"] != false || amount != created["amount_eur"] {
				t.Fatalf("card quote: %v", quote)
			}
			payURL := "/v2/invoices/" + inv + "/pay"
			if m, isErr := callJSON(t, cs, "card_pay_invoice", map[string]any{"id": inv, "confirmation_token": token, "amount_eur": "0.5"}); !isErr || errorCode(t, m) != shop.CodeConfirmationInvalid {
				t.Fatalf("a click at another amount: %v", m)
			}
			paid, isErr := callJSON(t, cs, "card_pay_invoice", map[string]any{"id": inv, "confirmation_token": token, "amount_eur": amount})
			if isErr || paid["paid"] != true {
				t.Fatalf("click: %v", paid)
			}
			if _, isErr := callJSON(t, cs, "card_pay_invoice", map[string]any{"id": inv, "confirmation_token": token, "amount_eur": amount}); !isErr {
				t.Fatal("a second click paid")
			}
			if n := fake.Requests("POST", payURL); n != 1 {
				t.Fatalf("Bitrefill was asked to pay %d times", n)
			}
			order := paid["invoice"].(map[string]any)["orders"].([]any)[0].(map[string]any)["id"].(string)

			revealed, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "card_reveal_order", Arguments: map[string]any{"id": order}})
			if err != nil || revealed.IsError {
				t.Fatalf("reveal: %v %v", revealed, err)
			}
			code, _ := revealed.StructuredContent.(map[string]any)["code"].(string)
			if code == "" {
				t.Fatalf("reveal without a code: %v", revealed.StructuredContent)
			}
			// The model cannot unseal for this client: the code stays in the card.
			if m, isErr := callJSON(t, cs, "unseal_order", map[string]any{"id": order}); !isErr || errorCode(t, m) != CodeRevealInCard {
				t.Errorf("unseal_order from a UI client: %v", m)
			}
			rr, err := cs.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: AccessURI})
			if err != nil || strings.Contains(rr.Contents[0].Text, `"unseal_order"`) {
				t.Errorf("cryptopay://access offers unseal_order to a UI client (%v)", err)
			}
			// Every model-visible tool that shows this purchase: no code.
			for _, c := range []struct {
				name string
				args map[string]any
			}{{"get_order", map[string]any{"id": order}}, {"get_invoice", map[string]any{"id": inv}}, {"get_orders", nil}, {"get_invoices", nil}} {
				res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: c.name, Arguments: c.args})
				if err != nil {
					t.Fatal(err)
				}
				b, _ := json.Marshal(res)
				if strings.Contains(string(b), code) {
					t.Errorf("%s result carries the gift-card code", c.name)
				}
			}
			audit, _ := st.ListAudit(context.Background())
			var tools []string
			for _, a := range audit {
				tools = append(tools, a.Tool+":"+a.Outcome)
				if strings.Contains(a.Detail, code) {
					t.Error("code in the audit log")
				}
			}
			if got := strings.Join(tools, " "); got != "create_invoice:created card_pay_invoice:quoted card_pay_invoice:refused card_pay_invoice:paid card_pay_invoice:refused card_reveal_order:unsealed" {
				t.Errorf("audit: %s", got)
			}
		})
	}
}

// TestCardPayInvoiceNotForPlainClients: a client without the UI cannot
// reach the card's Pay, whatever it sends.
func TestCardPayInvoiceNotForPlainClients(t *testing.T) {
	svc, fake, _ := sandboxShop(t)
	d := uiDeps(t)
	d.Shop = svc
	s, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	cs := connectRevision(t, s, "", nil)
	for _, name := range []string{"card_pay_invoice", "card_reveal_order"} {
		m, isErr := callJSON(t, cs, name, map[string]any{"id": "inv_1"})
		if !isErr || errorCode(t, m) != CodeUINotNegotiated {
			t.Errorf("%s from a plain client: %v", name, m)
		}
	}
	if _, listed := toolMap(t, cs)["unseal_order"]; !listed {
		t.Error("unseal_order not listed to a client without the UI")
	}
	if n := fake.Requests("POST", "/v2"); n != 0 {
		t.Errorf("%d requests reached Bitrefill", n)
	}
}

// BenchmarkReadView: resources/read of the payment card by a UI client, in
// process (the view is built once at start). The client speaks 2025-11-25:
// a 2026-07-28 client may answer a repeated read from its own cache (the
// view's ttlMs), which would not measure the server.
func BenchmarkReadView(b *testing.B) {
	s, err := New(Deps{Payments: payments.New(nil, store.NewMemory(), payments.Options{})})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	st, ct := mcp.NewInMemoryTransports()
	ss, err := s.Connect(ctx, st, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ss.Close()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "b", Version: "0"}, &mcp.ClientOptions{Capabilities: uiCaps()}).Connect(ctx, ct, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		b.Fatal(err)
	}
	defer cs.Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: PaymentCardURI}); err != nil {
			b.Fatal(err)
		}
	}
}
