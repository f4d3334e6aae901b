package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/mcpserver"
)

// The MCP Apps host test: the built binary (stdio, sandbox) behind a host
// page built on the host side of @modelcontextprotocol/ext-apps
// (AppBridge, e2e/apps-host, bundled by e2e/apps-host/build.sh) in
// headless Chromium. This Go test is the host's MCP client: it declares
// the UI extension, calls the model-visible tool, reads the ui:// view the
// tool names and hands both to the page; the page forwards the view's
// tools/call back here. Skipped without Chromium, zbarimg or the bundle,
// unless CRYPTOPAY_REQUIRE_BROWSER=1 (CI). CRYPTOPAY_UPDATE_SCREENSHOT=1
// rewrites docs/apps-payment-card-{light,dark,390}.png.

// appsHostBundle finds the bundled host harness.
func appsHostBundle(t *testing.T) string {
	t.Helper()
	p := os.Getenv("CRYPTOPAY_APPS_HOST_JS")
	if p == "" {
		p = filepath.Join("..", "..", "e2e", "apps-host", "dist", "host.js")
	}
	if _, err := os.Stat(p); err != nil {
		requireOrSkip(t, "MCP Apps host bundle not built (cd e2e && npm ci && apps-host/build.sh): "+err.Error())
	}
	return p
}

func requireOrSkip(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CRYPTOPAY_REQUIRE_BROWSER") == "1" {
		t.Fatal(why + " and CRYPTOPAY_REQUIRE_BROWSER=1")
	}
	t.Skip(why)
}

func lookTool(t *testing.T, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	requireOrSkip(t, names[0]+" not found (apt-get install chromium zbar-tools)")
	return ""
}

// appsHost is the page, its MCP client side and the view's calls.
type appsHost struct {
	srv   *httptest.Server
	mu    sync.Mutex
	calls []hostCall // tools/call from the view, in order
}

type hostCall struct {
	name string
	at   time.Time
}

func newAppsHost(t *testing.T, s *server, bundle string) *appsHost {
	t.Helper()
	js, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	h := &appsHost{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html><head><meta charset="utf-8"><title>host</title>`+
			`<style>body{margin:0;background:#888}iframe{border:0;width:100%;display:block;height:600px}</style>`+
			`</head><body><script src="/host.js"></script></body></html>`)
	})
	mux.HandleFunc("GET /host.js", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		_, _ = w.Write(js)
	})
	mux.HandleFunc("POST /call", func(w http.ResponseWriter, r *http.Request) {
		var p mcp.CallToolParams
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.calls = append(h.calls, hostCall{p.Name, time.Now()})
		h.mu.Unlock()
		res, err := s.session.CallTool(r.Context(), &p)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(res)
	})
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	return h
}

func (h *appsHost) callsOf(name string) []hostCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []hostCall
	for _, c := range h.calls {
		if c.name == name {
			out = append(out, c)
		}
	}
	return out
}

// hostEvent is one entry of the page's window.hostEvents.
type hostEvent struct {
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
}

// viewText evaluates a JS expression on the view's document (the harness
// iframe is same-origin so the test can read it).
func viewJS(expr string) string {
	return `(() => { const d = document.getElementById("view").contentDocument; return ` + expr + `; })()`
}

// renderCard lists the tools, checks that tool names the payment card,
// reads the view and starts it in a new tab with the tool's result.
func renderCard(t *testing.T, browser context.Context, s *server, h *appsHost, tool string, args map[string]any,
	res *mcp.CallToolResult, hostCtx map[string]any) context.Context {
	t.Helper()
	return renderView(t, browser, s, h, mcpserver.PaymentCardURI, `d.getElementById("status").getAttribute("data-status") !== null`, tool, args, res, hostCtx)
}

// renderView is renderCard for the view at wantURI, ready when ready
// (an expression over the view's document d) holds.
func renderView(t *testing.T, browser context.Context, s *server, h *appsHost, wantURI, ready, tool string, args map[string]any,
	res *mcp.CallToolResult, hostCtx map[string]any) context.Context {
	t.Helper()
	ctx := context.Background()
	list, err := s.session.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var def *mcp.Tool
	for _, tl := range list.Tools {
		if tl.Name == tool {
			def = tl
		}
	}
	ui, _ := def.Meta["ui"].(map[string]any)
	uri, _ := ui["resourceUri"].(string)
	if uri != wantURI {
		t.Fatalf("%s _meta = %v", tool, def.Meta)
	}
	rr, err := s.session.ReadResource(ctx, &mcp.ReadResourceParams{URI: uri})
	if err != nil {
		t.Fatal(err)
	}
	if rr.Contents[0].MIMEType != mcpserver.UIMIMEType {
		t.Fatalf("view MIME type %q", rr.Contents[0].MIMEType)
	}
	arg, err := json.Marshal(map[string]any{"html": rr.Contents[0].Text, "tool": def, "input": args, "result": res, "hostContext": hostCtx})
	if err != nil {
		t.Fatal(err)
	}
	tab, closeTab := chromedp.NewContext(browser)
	t.Cleanup(closeTab)
	if err := chromedp.Do(tab, chromedp.Navigate(h.srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(tab, chromedp.Poll[bool](`typeof window.startHost === "function"`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("host page: %v", err)
	}
	if _, err := chromedp.Run(tab, chromedp.Evaluate[chromedp.Void](`startHost(`+string(arg)+`)`, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatalf("start host: %v", err)
	}
	waitView(t, tab, ready, 10*time.Second)
	return tab
}

// waitView waits until cond (an expression over the view's document d)
// holds.
func waitView(t *testing.T, tab context.Context, cond string, timeout time.Duration) {
	t.Helper()
	if _, err := chromedp.Run(tab, chromedp.Poll[bool](viewJS(cond), chromedp.WithPollingTimeout(timeout))); err != nil {
		t.Fatalf("view: %s within %v: %v", cond, timeout, err)
	}
}

func hostEvents(t *testing.T, tab context.Context, method string) []hostEvent {
	t.Helper()
	all, err := chromedp.Run(tab, chromedp.Evaluate[[]hostEvent](`window.hostEvents`))
	if err != nil {
		t.Fatal(err)
	}
	var out []hostEvent
	for _, e := range all {
		if e.Method == method {
			out = append(out, e)
		}
	}
	return out
}

func screenshot(t *testing.T, tab context.Context, name string) []byte {
	t.Helper()
	if err := chromedp.Do(tab, chromedp.Sleep(300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(tab, chromedp.Screenshot(chromedp.ID("view")))
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("CRYPTOPAY_UPDATE_SCREENSHOT") == "1" {
		if err := os.WriteFile(filepath.Join("..", "..", "docs", name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return png
}

// zbar decodes the QR codes in a PNG with zbarimg.
func zbar(t *testing.T, zbarimg string, png []byte) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "shot.png")
	if err := os.WriteFile(f, png, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(zbarimg, "-q", "--raw", f).Output()
	if err != nil {
		t.Fatalf("zbarimg found no QR code in the card: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func uiClientOptions() *mcp.ClientOptions {
	return &mcp.ClientOptions{Capabilities: &mcp.ClientCapabilities{
		Extensions: map[string]any{mcpserver.UIExtension: map[string]any{"mimeTypes": []string{mcpserver.UIMIMEType}}}}}
}

func TestAppsPaymentCard(t *testing.T) {
	chromium := lookTool(t, "chromium", "chromium-browser")
	zbarimg := lookTool(t, "zbarimg")
	bundle := appsHostBundle(t)
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()
	browser := newAppsBrowser(t, ctx, chromium)

	s := startServerWith(t, uiClientOptions(), baseEnv(t, t.TempDir()))
	h := newAppsHost(t, s, bundle)
	light := map[string]any{"theme": "light", "locale": "en-US", "platform": "web", "displayMode": "inline",
		"containerDimensions": map[string]any{"maxWidth": 720}}

	t.Run("onchain card turns paid by itself", func(t *testing.T) {
		args := map[string]any{"amount_eur": 25, "input_currency": "BTC", "idempotency_key": "apps-e2e-1"}
		var on onchainOut
		res := s.ok(t, "create_payment_onchain", args, &on)
		tab := renderCard(t, browser, s, h, "create_payment_onchain", args, res, light)

		shown, err := chromedp.Run(tab, chromedp.Evaluate[struct{ Address, Amount, Status, Fiat, Timer string }](viewJS(`({Address: d.getElementById("address").textContent, Amount: d.getElementById("amount").textContent,
			Status: d.getElementById("status").getAttribute("data-status"), Fiat: d.getElementById("fiat").textContent, Timer: d.getElementById("timer").textContent})`)))
		if err != nil {
			t.Fatal(err)
		}
		if shown.Address != on.Address || shown.Amount != on.ExpectedInputAmount || shown.Fiat != "€25.00" || shown.Timer == "" {
			t.Errorf("card shows %+v for %+v", shown, on)
		}
		png := screenshot(t, tab, "apps-payment-card-light.png")
		if got := zbar(t, zbarimg, png); got != on.PaymentURI {
			t.Errorf("the card's QR decodes to %q, want the payment URI %q", got, on.PaymentURI)
		}
		if err := chromedp.Do(tab, chromedp.Evaluate[chromedp.Void](`setHostContext({theme: "dark"})`)); err != nil {
			t.Fatal(err)
		}
		waitView(t, tab, `d.documentElement.getAttribute("data-theme") === "dark"`, 5*time.Second)
		screenshot(t, tab, "apps-payment-card-dark.png")
		if err := chromedp.Do(tab, chromedp.EmulateViewport(390, 900),
			chromedp.Evaluate[chromedp.Void](`setHostContext({theme: "light", containerDimensions: {maxWidth: 390}})`)); err != nil {
			t.Fatal(err)
		}
		waitView(t, tab, `d.documentElement.getAttribute("data-theme") === "light"`, 5*time.Second)
		screenshot(t, tab, "apps-payment-card-390.png")

		// Pay in the sandbox; no model call follows: the card's own polls
		// of the app-only tool must show it within 20 s.
		post(t, sandboxBase(t, s)+"/_sandbox/orders/"+on.Identifier+"/pay", `{"outcome":"full"}`)
		paidBy := time.Now().Add(20 * time.Second)
		if _, err := chromedp.Run(tab, chromedp.Poll[bool](viewJS(`d.getElementById("status").getAttribute("data-status") === "CO"`),
			chromedp.WithPollingTimeout(20*time.Second))); err != nil {
			t.Fatalf("the card did not turn paid within 20 s: %v\n%s", err, s.stderr.String())
		}
		if time.Now().After(paidBy) {
			t.Error("paid after more than 20 s")
		}
		var ctxEv []hostEvent
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			if ctxEv = hostEvents(t, tab, "ui/update-model-context"); len(ctxEv) > 0 {
				break
			}
		}
		if len(ctxEv) == 0 || !strings.Contains(string(ctxEv[len(ctxEv)-1].Params), `"status":"CO"`) {
			t.Fatalf("ui/update-model-context after payment: %v", ctxEv)
		}
		polls := h.callsOf("card_payment_status")
		for i := 1; i < len(polls); i++ {
			if gap := polls[i].at.Sub(polls[i-1].at); gap < 2*time.Second {
				t.Errorf("polls %d and %d only %v apart", i-1, i, gap)
			}
		}
		// Terminal: no more polls.
		n := len(polls)
		time.Sleep(4 * time.Second)
		if len(h.callsOf("card_payment_status")) != n {
			t.Error("the card kept polling after a final status")
		}
		if other := len(h.calls) - n; other != 0 {
			t.Errorf("the card called %d other tools", other)
		}
	})

	t.Run("link card opens the checkout page through the host", func(t *testing.T) {
		args := map[string]any{"amount_eur": 12.5, "idempotency_key": "apps-e2e-2"}
		var link linkOut
		res := s.ok(t, "create_payment_link", args, &link)
		tab := renderCard(t, browser, s, h, "create_payment_link", args, res, map[string]any{"theme": "dark", "locale": "es-ES"})
		fiat, err := chromedp.Run(tab, chromedp.Evaluate[string](viewJS(`(d.getElementById("open").click(), d.getElementById("fiat").textContent)`)))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(fiat, "12,50") {
			t.Errorf("es-ES amount = %q", fiat)
		}
		var opened []hostEvent
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end) && len(opened) == 0; time.Sleep(100 * time.Millisecond) {
			opened = hostEvents(t, tab, "ui/open-link")
		}
		if len(opened) != 1 || !strings.Contains(string(opened[0].Params), link.WebURL) {
			t.Errorf("ui/open-link = %v, want %s", opened, link.WebURL)
		}
	})
}

// sandboxBase is the built-in fake Bitnovo's base URL, from a link.
func sandboxBase(t *testing.T, s *server) string {
	t.Helper()
	var link linkOut
	s.ok(t, "create_payment_link", map[string]any{"amount_eur": 1, "include_qr": false}, &link)
	return baseOf(t, link.WebURL)
}

func newAppsBrowser(t *testing.T, ctx context.Context, chromium string) context.Context {
	t.Helper()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium), chromedp.UserDataDir(t.TempDir()), chromedp.Flag("headless", true),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-extensions", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true), chromedp.WindowSize(720, 900))
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return bctx
}

// TestAppsShopCard: the shop card in the host: the search grid; the
// invoice card's Pay button, clicked twice, pays once; the order's code
// appears in the card and in no result or context the model reads.
func TestAppsShopCard(t *testing.T) {
	chromium := lookTool(t, "chromium", "chromium-browser")
	bundle := appsHostBundle(t)
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()
	browser := newAppsBrowser(t, ctx, chromium)

	env := baseEnv(t, t.TempDir())
	env["SHOP_PURCHASES_ENABLED"] = "true"
	s := startServerWith(t, uiClientOptions(), env)
	h := newAppsHost(t, s, bundle)
	light := map[string]any{"theme": "light", "locale": "en-US", "containerDimensions": map[string]any{"maxWidth": 720}}
	kind := func(k string) string { return `d.getElementById("view").getAttribute("data-kind") === "` + k + `"` }

	search := map[string]any{"query": "amazon", "limit": 6}
	var found struct {
		Results []struct{ Name string } `json:"results"`
	}
	res := s.ok(t, "search", search, &found)
	tab := renderView(t, browser, s, h, mcpserver.ShopCardURI, kind("search"), "search", search, res, light)
	n, err := chromedp.Run(tab, chromedp.Evaluate[int](viewJS(`d.querySelectorAll(".products li").length`)))
	if err != nil || n != len(found.Results) || n == 0 {
		t.Fatalf("grid shows %d products of %d: %v", n, len(found.Results), err)
	}
	screenshot(t, tab, "apps-shop-search.png")

	buy := map[string]any{"payment_method": "balance", "products": []any{map[string]any{"product_id": "amazon_com-usa", "value": 10}}}
	var created struct {
		Invoice struct {
			ID string `json:"id"`
		} `json:"invoice"`
		AmountEUR string `json:"amount_eur"`
	}
	res = s.ok(t, "create_invoice", buy, &created)
	tab = renderView(t, browser, s, h, mcpserver.ShopCardURI, kind("invoice"), "create_invoice", buy, res, light)
	waitView(t, tab, `d.getElementById("pay") && !d.getElementById("pay").disabled`, 10*time.Second)
	screenshot(t, tab, "apps-shop-invoice.png")
	// Two clicks in a row, as an impatient user does.
	if err := chromedp.Do(tab, chromedp.Evaluate[chromedp.Void](viewJS(`(d.getElementById("pay").click(), d.getElementById("pay") && d.getElementById("pay").click())`))); err != nil {
		t.Fatal(err)
	}
	waitView(t, tab, `d.getElementById("status").textContent.startsWith("Paid")`, 15*time.Second)
	if calls := h.callsOf("card_pay_invoice"); len(calls) != 2 {
		t.Fatalf("card_pay_invoice called %d times (want a quote and one payment)", len(calls))
	}
	var inv struct {
		Data struct {
			Payment struct{ Status string } `json:"payment"`
			Orders  []struct{ ID string }   `json:"orders"`
		} `json:"data"`
	}
	s.ok(t, "get_invoice", map[string]any{"id": created.Invoice.ID}, &inv)
	if inv.Data.Payment.Status != "payment_confirmed" || len(inv.Data.Orders) != 1 {
		t.Fatalf("invoice after the click: %+v", inv)
	}

	waitView(t, tab, `d.querySelector("[data-reveal]") !== null`, 10*time.Second)
	if err := chromedp.Do(tab, chromedp.Evaluate[chromedp.Void](viewJS(`d.querySelector("[data-reveal]").click()`))); err != nil {
		t.Fatal(err)
	}
	waitView(t, tab, `d.querySelector("[data-secret]") !== null`, 10*time.Second)
	code, err := chromedp.Run(tab, chromedp.Evaluate[string](viewJS(`d.querySelector("[data-secret]").textContent`)))
	if err != nil || !strings.HasPrefix(code, "SANDBOX-") {
		t.Fatalf("code in the card: %q %v", code, err)
	}
	screenshot(t, tab, "apps-shop-order.png")
	all, err := chromedp.Run(tab, chromedp.Evaluate[[]hostEvent](`window.hostEvents.filter(e => e.method !== "tools/call")`))
	if err != nil {
		t.Fatal(err)
	}
	paidCtx := false
	for _, e := range all {
		if strings.Contains(string(e.Params), code) {
			t.Errorf("%s sent the code to the host's model context", e.Method)
		}
		paidCtx = paidCtx || (e.Method == "ui/update-model-context" && strings.Contains(string(e.Params), created.Invoice.ID))
	}
	if !paidCtx {
		t.Error("no ui/update-model-context about the payment")
	}
	if e := s.fail(t, "unseal_order", map[string]any{"id": inv.Data.Orders[0].ID}); e.Error.Code != mcpserver.CodeRevealInCard {
		t.Errorf("unseal_order from the UI host: %+v", e)
	}
	for _, c := range []struct {
		name string
		args map[string]any
	}{{"get_order", map[string]any{"id": inv.Data.Orders[0].ID}}, {"get_invoice", map[string]any{"id": created.Invoice.ID}}, {"get_orders", nil}} {
		r := s.call(t, c.name, c.args)
		b, _ := json.Marshal(r)
		if strings.Contains(string(b), code) {
			t.Errorf("%s shows the model the code", c.name)
		}
	}
}

// TestAppsNegotiationOverHTTP: through the binary's one HTTP endpoint a UI
// client of either revision gets the cards and a plain one does not;
// CRYPTOPAY_UI=off hides them from the UI client too.
func TestAppsNegotiationOverHTTP(t *testing.T) {
	cardMeta := func(s *server) (bool, bool) {
		list, err := s.session.ListTools(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		var meta, appOnly bool
		for _, tl := range list.Tools {
			if tl.Name == "create_payment_onchain" {
				meta = tl.Meta["ui"] != nil
			}
			appOnly = appOnly || tl.Name == "card_payment_status"
		}
		return meta, appOnly
	}
	for _, tc := range []struct {
		name     string
		uiEnv    string
		opts     *mcp.ClientOptions
		revision string
		want     bool
	}{
		{"ui client 2026-07-28", "", uiClientOptions(), "", true},
		{"ui client 2025-11-25", "", uiClientOptions(), "2025-11-25", true},
		{"plain client", "", nil, "", false},
		{"ui client, CRYPTOPAY_UI=off", "off", uiClientOptions(), "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := baseEnv(t, t.TempDir())
			if tc.uiEnv != "" {
				env["CRYPTOPAY_UI"] = tc.uiEnv
			}
			p := startHTTP(t, env, "--listen", "127.0.0.1:0")
			s := p.connectWith(t, headerTransport{}, tc.opts, tc.revision)
			if meta, appOnly := cardMeta(s); meta != tc.want || appOnly != tc.want {
				t.Errorf("card _meta %t, app-only tool %t; want %t", meta, appOnly, tc.want)
			}
		})
	}
}
