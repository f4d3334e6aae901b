package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/fakebitnovo"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/fakebitrefill"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

const shopSecret = "e2e-bitrefill-secret-value"

// liveShopEnv runs the binary in live mode against fakes in this process,
// so the test can count the requests that reach Bitrefill.
func liveShopEnv(t *testing.T, dataDir string) (map[string]string, *fakebitrefill.Fake) {
	t.Helper()
	_, bnURL := liveFake(t, testDevice, fakebitnovo.Options{})
	fake, err := fakebitrefill.New(fakebitrefill.Config{APIID: "e2e-api-id", APISecret: shopSecret})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	pub, v2 := fakebitrefill.BaseURLs(srv.URL)
	env := baseEnv(t, dataDir)
	env["BITNOVO_DEVICE_ID"], env["BITNOVO_BASE_URL"] = testDevice, bnURL
	env["BITREFILL_API_ID"], env["BITREFILL_API_SECRET"] = "e2e-api-id", shopSecret
	env["BITREFILL_PUBLIC_API_URL"], env["BITREFILL_API_URL"] = pub, v2
	env["SHOP_PURCHASES_ENABLED"] = "true"
	env["SHOP_MAX_ORDER_EUR"], env["SHOP_DAILY_LIMIT_EUR"] = "30", "40"
	return env, fake
}

type shopSearchOut struct {
	Results []struct {
		ID  string `json:"id"`
		URL string `json:"url"`
	} `json:"results"`
	TotalCount int    `json:"total_count"`
	HasMore    bool   `json:"has_more"`
	NextSkip   *int   `json:"next_skip"`
	NextPage   string `json:"next_page"`
	Sandbox    bool   `json:"sandbox"`
}

func toolNames(t *testing.T, s *server) map[string]bool {
	t.Helper()
	list, err := s.session.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, tl := range list.Tools {
		out[tl.Name] = true
	}
	return out
}

func TestShopSandboxCatalog(t *testing.T) {
	s := startServer(t, baseEnv(t, t.TempDir()))
	names := toolNames(t, s)
	for _, n := range []string{"search", "detail", "categories", "ping", "get_invoices", "get_invoice", "get_orders", "get_order", "get_account_balance"} {
		if !names[n] {
			t.Errorf("tool %s missing in sandbox mode", n)
		}
	}
	for _, n := range []string{"create_invoice", "pay_invoice", "unseal_order"} {
		if names[n] {
			t.Errorf("purchase tool %s listed although purchases are off", n)
		}
	}

	// Paging contract: walk every page; no duplicates; total_count reached.
	seen := map[string]bool{}
	skip, total := 0, 0
	for page := 0; ; page++ {
		var r shopSearchOut
		s.ok(t, "search", map[string]any{"query": "*", "limit": 9, "skip": skip}, &r)
		if !r.Sandbox {
			t.Fatal("search result lacks sandbox: true")
		}
		total = r.TotalCount
		for _, p := range r.Results {
			if seen[p.ID] {
				t.Fatalf("duplicate %s", p.ID)
			}
			seen[p.ID] = true
		}
		if !r.HasMore {
			break
		}
		if r.NextSkip == nil || *r.NextSkip != skip+len(r.Results) || !strings.Contains(r.NextPage, "skip=") {
			t.Fatalf("paging: %+v", r)
		}
		skip = *r.NextSkip
		if page > 10 {
			t.Fatal("paging never ends")
		}
	}
	if len(seen) != total || total < 30 {
		t.Fatalf("saw %d of total_count %d", len(seen), total)
	}
	var filtered shopSearchOut
	s.ok(t, "search", map[string]any{"query": "amazon", "country": "US"}, &filtered)
	if len(filtered.Results) == 0 || filtered.Results[0].ID != "amazon_com-usa" {
		t.Fatalf("filtered: %+v", filtered)
	}

	var d struct {
		Slug     string `json:"slug"`
		Packages []struct {
			Value    string             `json:"value"`
			EurPrice float64            `json:"eurPrice"`
			UsdPrice float64            `json:"usdPrice"`
			Prices   map[string]float64 `json:"prices"`
		} `json:"packages"`
		Descriptions map[string]string `json:"descriptions"`
		Untrusted    *struct {
			Note   string   `json:"note"`
			Fields []string `json:"fields"`
		} `json:"untrusted_text"`
		Sandbox bool `json:"sandbox"`
	}
	s.ok(t, "detail", map[string]any{"id": "steam-usa"}, &d)
	if d.Slug != "steam-usa" || len(d.Packages) == 0 || d.Packages[0].EurPrice <= 0 || len(d.Packages[0].Prices) == 0 || !d.Sandbox {
		t.Fatalf("detail: %+v", d)
	}
	if d.Untrusted == nil || len(d.Untrusted.Fields) == 0 || len(d.Descriptions) == 0 {
		t.Fatal("no untrusted_text")
	}
	for lang, text := range d.Descriptions {
		if !strings.HasPrefix(text, "<untrusted>") || !strings.HasSuffix(text, "</untrusted>") || len(text) > 2100 {
			t.Fatalf("descriptions.%s undelimited: %.80q", lang, text)
		}
	}

	if e := s.fail(t, "detail", map[string]any{"id": "no-such-product"}); e.Error.Code != "PRODUCT_NOT_FOUND" {
		t.Fatalf("%+v", e)
	}
	for _, id := range []string{"../invoices", "x/../../accounts/balance", "a?b", ".."} {
		if e := s.fail(t, "detail", map[string]any{"id": id}); e.Error.Code != "INVALID_ARGUMENT" {
			t.Fatalf("%q: %+v", id, e)
		}
	}
	var cats map[string]any
	s.ok(t, "categories", nil, &cats)
	if len(cats["giftcards"].([]any)) != 29 || len(cats["bills"].([]any)) != 24 || len(cats) != 5 {
		t.Fatalf("categories (a pure type → categories map): %v", cats)
	}
	var ping struct {
		Available bool `json:"available"`
	}
	s.ok(t, "ping", nil, &ping)
	var bal struct {
		Data struct {
			Balance float64 `json:"balance"`
		} `json:"data"`
		Sandbox bool `json:"sandbox"`
	}
	s.ok(t, "get_account_balance", nil, &bal)
	if bal.Data.Balance != 500 || !bal.Sandbox {
		t.Fatalf("balance %+v", bal)
	}
	if e := s.fail(t, "search", map[string]any{"query": "x", "limit": 1000}); e.Error.Code != "INVALID_ARGUMENT" {
		t.Fatalf("%+v", e)
	}

	// Resources.
	ctx := context.Background()
	rr, err := s.session.ReadResource(ctx, &mcp.ReadResourceParams{URI: "bitrefill://payment-methods"})
	if err != nil || !strings.Contains(rr.Contents[0].Text, "usdc_base") || !strings.Contains(rr.Contents[0].Text, "eth_base") {
		t.Fatalf("payment-methods: %v %v", rr, err)
	}
	rr, err = s.session.ReadResource(ctx, &mcp.ReadResourceParams{URI: "bitrefill://product-types/esims"})
	if err != nil || !strings.Contains(rr.Contents[0].Text, `"esim"`) {
		t.Fatalf("esims: %v %v", rr, err)
	}
	if _, err := s.session.ReadResource(ctx, &mcp.ReadResourceParams{URI: "bitrefill://product-types/gift-cards"}); err == nil {
		t.Fatal("unknown product type read")
	}
}

type createOut struct {
	Invoice struct {
		ID string `json:"id"`
	} `json:"invoice"`
	AmountEUR string `json:"amount_eur"`
	Sandbox   bool   `json:"sandbox"`
}

type payOut struct {
	Status            string `json:"status"`
	Paid              bool   `json:"paid"`
	ConfirmationToken string `json:"confirmation_token"`
	Quote             struct {
		AmountEUR string `json:"amount_eur"`
	} `json:"quote"`
	Invoice *struct {
		Orders []struct {
			ID string `json:"id"`
		} `json:"orders"`
	} `json:"invoice"`
}

func buyArgs(value float64) map[string]any {
	return map[string]any{"payment_method": "balance", "products": []map[string]any{{"product_id": "amazon_com-usa", "value": value}}}
}

// TestShopPurchasesLimitsAudit drives the whole purchase flow through the
// binary: limits, tokens, unseal, restart, audit log and log hygiene.
func TestShopPurchasesLimitsAudit(t *testing.T) {
	dir := t.TempDir()
	env, fake := liveShopEnv(t, dir)
	s := startServer(t, env)
	moneyCalls := 0
	ok := func(tool string, args map[string]any, out any) *mcp.CallToolResult {
		moneyCalls++
		return s.ok(t, tool, args, out)
	}
	fail := func(tool string, args map[string]any) toolError {
		moneyCalls++
		return s.fail(t, tool, args)
	}

	// Schemas are strict: no argument can carry a limit.
	if e := fail("create_invoice", map[string]any{"payment_method": "balance", "max_order_eur": 1000,
		"products": []map[string]any{{"product_id": "amazon_com-usa", "value": 10}}}); e.Error.Code != "INVALID_ARGUMENT" {
		t.Fatalf("%+v", e)
	}
	moneyCalls-- // refused by the schema before the handler: not a money-moving call
	// Either value or package_id.
	if e := fail("create_invoice", map[string]any{"payment_method": "balance", "products": []map[string]any{{"product_id": "amazon_com-usa"}}}); e.Error.Code != "INVALID_ARGUMENT" {
		t.Fatalf("%+v", e)
	}
	// Over the per-order cap (30 EUR): refused, nothing sent.
	if e := fail("create_invoice", buyArgs(50)); e.Error.Code != "LIMIT_PER_ORDER_EXCEEDED" {
		t.Fatalf("%+v", e)
	}
	if n := fake.Requests("POST", "/v2/invoices"); n != 0 {
		t.Fatalf("over-cap invoice reached Bitrefill (%d)", n)
	}
	// usdc_base is accepted.
	var crypto createOut
	ok("create_invoice", map[string]any{"payment_method": "usdc_base", "products": []map[string]any{{"product_id": "amazon_com-usa", "package_id": "amazon_com-usa<&>10"}}}, &crypto)

	var a, b createOut
	ok("create_invoice", buyArgs(10), &a)
	ok("create_invoice", buyArgs(10), &b)
	var q payOut
	ok("pay_invoice", map[string]any{"id": a.Invoice.ID}, &q)
	if q.Paid || q.Status != "confirmation_required" || q.ConfirmationToken == "" || q.Quote.AmountEUR != a.AmountEUR {
		t.Fatalf("quote: %+v", q)
	}
	if n := fake.Requests("POST", "/v2/invoices/"+a.Invoice.ID+"/pay"); n != 0 {
		t.Fatal("the quote paid")
	}
	if e := fail("pay_invoice", map[string]any{"id": b.Invoice.ID, "confirmation_token": q.ConfirmationToken}); e.Error.Code != "CONFIRMATION_INVALID" {
		t.Fatalf("token of another invoice: %+v", e)
	}
	var p payOut
	ok("pay_invoice", map[string]any{"id": a.Invoice.ID, "confirmation_token": q.ConfirmationToken}, &p)
	if !p.Paid || p.Invoice == nil || len(p.Invoice.Orders) != 1 {
		t.Fatalf("pay: %+v", p)
	}
	if e := fail("pay_invoice", map[string]any{"id": a.Invoice.ID, "confirmation_token": q.ConfirmationToken}); e.Error.Code != "INVOICE_NOT_PAYABLE" && e.Error.Code != "CONFIRMATION_INVALID" {
		t.Fatalf("token reuse: %+v", e)
	}
	if n := fake.Requests("POST", "/v2/invoices/"+a.Invoice.ID+"/pay"); n != 1 {
		t.Fatalf("pay sent %d times", n)
	}

	// Unseal: secret, for the user's eyes.
	var u struct {
		Secret bool   `json:"secret"`
		Code   string `json:"code"`
		Pin    string `json:"pin"`
	}
	res := ok("unseal_order", map[string]any{"id": p.Invoice.Orders[0].ID}, &u)
	if !u.Secret || !strings.HasPrefix(u.Code, "SANDBOX-") {
		t.Fatalf("unseal: %+v", u)
	}
	tc := res.Content[0].(*mcp.TextContent)
	if tc.Annotations == nil || len(tc.Annotations.Audience) != 1 || tc.Annotations.Audience[0] != "user" {
		t.Fatalf("unseal content not marked for the user: %+v", tc.Annotations)
	}

	// Ids cannot reach another path.
	before := fake.Requests("", "/v2/accounts")
	for _, id := range []string{"../accounts/balance", "x/../../accounts/balance", "..%2Faccounts"} {
		if e := s.fail(t, "get_invoice", map[string]any{"id": id}); e.Error.Code != "INVALID_ARGUMENT" {
			t.Fatalf("%q: %+v", id, e)
		}
	}
	if fake.Requests("", "/v2/accounts") != before {
		t.Fatal("an id reached /v2/accounts")
	}

	// Many small orders stop at the daily cap (40 EUR; each ~9-10 EUR).
	paidCount, capHit := 1, false
	for range 6 {
		var c createOut
		r := s.call(t, "create_invoice", buyArgs(10))
		moneyCalls++
		if r.IsError {
			if !strings.Contains(text(r), "DAILY_LIMIT_EXCEEDED") {
				t.Fatalf("create: %s", text(r))
			}
			capHit = true
			break
		}
		_ = json.Unmarshal([]byte(text(r)), &c)
		var q payOut
		r = s.call(t, "pay_invoice", map[string]any{"id": c.Invoice.ID})
		moneyCalls++
		if r.IsError {
			if !strings.Contains(text(r), "DAILY_LIMIT_EXCEEDED") {
				t.Fatalf("quote: %s", text(r))
			}
			capHit = true
			break
		}
		_ = json.Unmarshal([]byte(text(r)), &q)
		var pp payOut
		r = s.call(t, "pay_invoice", map[string]any{"id": c.Invoice.ID, "confirmation_token": q.ConfirmationToken})
		moneyCalls++
		if r.IsError {
			if !strings.Contains(text(r), "DAILY_LIMIT_EXCEEDED") {
				t.Fatalf("pay: %s", text(r))
			}
			capHit = true
			break
		}
		_ = json.Unmarshal([]byte(text(r)), &pp)
		paidCount++
	}
	if !capHit || paidCount < 2 || paidCount > 4 {
		t.Fatalf("cap hit %v after %d payments", capHit, paidCount)
	}
	logs := s.stderr.String()
	s.close(t)
	_ = s.cmd.Wait()

	// The cap holds across a restart.
	s2 := startServer(t, env)
	if e := s2.fail(t, "create_invoice", buyArgs(10)); e.Error.Code != "DAILY_LIMIT_EXCEEDED" {
		t.Fatalf("after restart, create: %+v", e)
	}
	moneyCalls++
	// b (created before the restart) cannot be paid either.
	if e := s2.fail(t, "pay_invoice", map[string]any{"id": b.Invoice.ID}); e.Error.Code != "DAILY_LIMIT_EXCEEDED" {
		t.Fatalf("after restart, pay: %+v", e)
	}
	moneyCalls++
	logs += s2.stderr.String()
	s2.close(t)
	_ = s2.cmd.Wait()

	// One audit entry per money-moving call.
	st, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "cryptopay.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	audit, err := st.ListAudit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) != moneyCalls {
		for _, a := range audit {
			t.Logf("%+v", a)
		}
		t.Fatalf("%d audit entries for %d money-moving calls", len(audit), moneyCalls)
	}

	// Logs (debug level) hold no code, PIN, API secret or device id.
	for _, secret := range []string{u.Code, shopSecret, testDevice, q.ConfirmationToken} {
		if secret != "" && strings.Contains(logs, secret) {
			t.Errorf("logs contain a secret %q", secret[:min(8, len(secret))])
		}
	}
	if u.Pin != "" && strings.Contains(logs, u.Pin) {
		t.Error("logs contain the PIN")
	}
	if !strings.Contains(logs, "shop purchase audit") {
		t.Error("debug logs show no purchase activity at all; the check above would be vacuous")
	}
}

// TestShopSandboxPurchase: in sandbox mode a full purchase works offline
// and delivers fake codes.
func TestShopSandboxPurchase(t *testing.T) {
	env := baseEnv(t, t.TempDir())
	env["SHOP_PURCHASES_ENABLED"] = "true"
	s := startServer(t, env)
	var c createOut
	s.ok(t, "create_invoice", buyArgs(25), &c)
	if !c.Sandbox {
		t.Fatal("no sandbox flag")
	}
	var q, p payOut
	s.ok(t, "pay_invoice", map[string]any{"id": c.Invoice.ID}, &q)
	s.ok(t, "pay_invoice", map[string]any{"id": c.Invoice.ID, "confirmation_token": q.ConfirmationToken}, &p)
	var u struct {
		Code    string `json:"code"`
		Sandbox bool   `json:"sandbox"`
	}
	s.ok(t, "unseal_order", map[string]any{"id": p.Invoice.Orders[0].ID}, &u)
	if !strings.HasPrefix(u.Code, "SANDBOX-") || !u.Sandbox {
		t.Fatalf("%+v", u)
	}
	var inv struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
		HasMore bool `json:"has_more"`
	}
	s.ok(t, "get_invoices", map[string]any{"limit": 10}, &inv)
	if len(inv.Data) != 1 {
		t.Fatalf("%+v", inv)
	}
	var one, ord map[string]any
	s.ok(t, "get_invoice", map[string]any{"id": c.Invoice.ID}, &one)
	s.ok(t, "get_orders", nil, &ord)
	s.ok(t, "get_order", map[string]any{"id": p.Invoice.Orders[0].ID}, &ord)
	if strings.Contains(text(s.call(t, "get_order", map[string]any{"id": p.Invoice.Orders[0].ID})), u.Code) {
		t.Fatal("get_order shows the code")
	}
	if e := s.fail(t, "get_invoice", map[string]any{"id": "00000000-0000-4000-8000-000000000000"}); e.Error.Code != "INVOICE_NOT_FOUND" {
		t.Fatalf("%+v", e)
	}
	_ = time.Second
}

// The sandbox now also lists the shop's catalogue and account tools (the
// purchase tools stay off by default). TestSandboxEndToEnd checks the exact
// tool list through wantTools; extend it here rather than editing that file.
func init() {
	wantTools = append(wantTools, "search", "detail", "categories", "get_invoices", "get_invoice",
		"get_orders", "get_order", "get_account_balance", "ping")
}

// TestShopElicitation: a client that supports elicitation is asked before
// money moves; a "no" pays nothing, a "yes" pays at once without a token.
func TestShopElicitation(t *testing.T) {
	env := baseEnv(t, t.TempDir())
	env["SHOP_PURCHASES_ENABLED"] = "true"
	var mu sync.Mutex
	answer, asked := "decline", []string{}
	opts := &mcp.ClientOptions{ElicitationHandler: func(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, req.Params.Message)
		if answer == "accept" {
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"confirm": true}}, nil
		}
		return &mcp.ElicitResult{Action: answer}, nil
	}}
	s := startServerWith(t, opts, env)
	var c createOut
	s.ok(t, "create_invoice", buyArgs(25), &c)

	t.Cleanup(func() {
		if t.Failed() {
			t.Log(s.stderr.String())
		}
	})
	e := s.fail(t, "pay_invoice", map[string]any{"id": c.Invoice.ID})
	if e.Error.Code != "CONFIRMATION_DECLINED" {
		t.Fatalf("declined: %+v", e)
	}
	mu.Lock()
	answer = "accept"
	mu.Unlock()
	var p payOut
	s.ok(t, "pay_invoice", map[string]any{"id": c.Invoice.ID}, &p)
	if !p.Paid || p.ConfirmationToken != "" {
		t.Fatalf("accepted: %+v", p)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) != 2 || !strings.Contains(asked[1], c.Invoice.ID) {
		t.Fatalf("elicitation messages: %q", asked)
	}
}
