package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/fakebitnovo"
)

const testDevice = "0f1e2d3c-4b5a-4697-8877-665544332211"

type linkOut struct {
	Identifier       string `json:"identifier"`
	WebURL           string `json:"web_url"`
	QRWebURL         string `json:"qr_web_url"`
	FiatAmount       string `json:"fiat_amount"`
	FiatCurrency     string `json:"fiat_currency"`
	IdempotentReplay bool   `json:"idempotent_replay"`
	Sandbox          bool   `json:"sandbox"`
}

type onchainOut struct {
	Identifier          string `json:"identifier"`
	Address             string `json:"address"`
	PaymentURI          string `json:"payment_uri"`
	ExpectedInputAmount string `json:"expected_input_amount"`
	CurrencyID          string `json:"currency_id"`
	FiatAmount          string `json:"fiat_amount"`
	ExpiresAt           string `json:"expires_at"`
	TagMemo             string `json:"tag_memo"`
	QRAddress           string `json:"qr_address"`
	QRPaymentURI        string `json:"qr_payment_uri"`
	Sandbox             bool   `json:"sandbox"`
}

type statusOut struct {
	Identifier        string `json:"identifier"`
	Status            string `json:"status"`
	StatusDescription string `json:"status_description"`
	FiatAmount        string `json:"fiat_amount"`
	CryptoAmount      string `json:"crypto_amount"`
	RemainingAmount   string `json:"remaining_amount"`
	RequiresAction    bool   `json:"requires_action"`
	IsCompleted       bool   `json:"is_completed"`
	IsFailed          bool   `json:"is_failed"`
	IsExpired         bool   `json:"is_expired"`
	Sandbox           bool   `json:"sandbox"`
}

type catalogOut struct {
	Currencies []struct {
		Symbol       string  `json:"symbol"`
		MinAmount    string  `json:"min_amount"`
		MaxAmount    *string `json:"max_amount"`
		RequiresMemo bool    `json:"requires_memo"`
		Decimals     int     `json:"decimals"`
	} `json:"currencies"`
	TotalCount    int  `json:"total_count"`
	FilteredCount int  `json:"filtered_count"`
	FilterApplied bool `json:"filter_applied"`
	CacheInfo     struct {
		Cached bool `json:"cached"`
		Stale  bool `json:"stale"`
	} `json:"cache_info"`
	Sandbox bool `json:"sandbox"`
}

type qrOut struct {
	QRAddress    string `json:"qr_address"`
	QRPaymentURI string `json:"qr_payment_uri"`
	QRGatewayURL string `json:"qr_gateway_url"`
	Address      string `json:"address"`
	PaymentURI   string `json:"payment_uri"`
	GatewayURL   string `json:"gateway_url"`
	Size         int    `json:"size"`
	Sandbox      bool   `json:"sandbox"`
}

var wantTools = []string{"create_payment_onchain", "create_payment_link", "get_payment_status", "list_currencies_catalog", "generate_payment_qr", "wait_for_payment", "get_webhook_events", "get_webhook_url", "get_tunnel_status"}

func TestSandboxEndToEnd(t *testing.T) {
	s := startServer(t, baseEnv(t, t.TempDir()))
	ctx := context.Background()

	init := s.session.InitializeResult()
	if init.ServerInfo.Name != "cryptopay-mcp" || !strings.Contains(init.Instructions, "SANDBOX") {
		t.Fatalf("initialize: %+v", init.ServerInfo)
	}
	list, err := s.session.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range list.Tools {
		names = append(names, tool.Name)
		if tool.OutputSchema == nil || tool.Annotations == nil {
			t.Errorf("%s lacks an output schema or annotations", tool.Name)
		}
	}
	slices.Sort(names)
	if want := slices.Sorted(slices.Values(wantTools)); !slices.Equal(names, want) {
		t.Fatalf("tools = %v, want %v", names, wantTools)
	}

	// The default tool: a payment link, QR included by default.
	var link linkOut
	res := s.ok(t, "create_payment_link", map[string]any{"amount_eur": 50, "notes": "Order #1"}, &link)
	if !link.Sandbox || link.FiatAmount != "50.00" || link.FiatCurrency != "EUR" || link.WebURL == "" {
		t.Fatalf("link = %+v", link)
	}
	imgs := images(res)
	if len(imgs) != 1 {
		t.Fatalf("link: %d images, want 1", len(imgs))
	}
	if got, w, h := decodeQR(t, imgs[0]); got != link.WebURL || w != 512 || h != 512 {
		t.Fatalf("link QR decodes to %q (%dx%d), want %q 512x512", got, w, h, link.WebURL)
	}
	if got, _, _ := decodeQR(t, dataURLBytes(t, link.QRWebURL)); got != link.WebURL {
		t.Fatalf("qr_web_url decodes to %q", got)
	}
	if strings.Contains(text(res), link.QRWebURL) {
		t.Error("the text block repeats the whole PNG data URL")
	}

	// A specific coin: on-chain payment.
	var oc onchainOut
	res = s.ok(t, "create_payment_onchain", map[string]any{"amount_eur": 50, "input_currency": "BTC"}, &oc)
	if oc.Address == "" || !strings.HasPrefix(oc.PaymentURI, "bitcoin:") || oc.ExpectedInputAmount != "0.00083333" || oc.CurrencyID != "BTC" || oc.ExpiresAt == "" || !oc.Sandbox {
		t.Fatalf("onchain = %+v", oc)
	}
	imgs = images(res)
	if len(imgs) != 2 {
		t.Fatalf("onchain: %d images, want 2", len(imgs))
	}
	if got, _, _ := decodeQR(t, imgs[0]); got != oc.Address {
		t.Errorf("address QR = %q, want %q", got, oc.Address)
	}
	if got, _, _ := decodeQR(t, imgs[1]); got != oc.PaymentURI {
		t.Errorf("payment URI QR = %q, want %q", got, oc.PaymentURI)
	}

	// include_qr=false really leaves the QR codes out.
	var noQR onchainOut
	res = s.ok(t, "create_payment_onchain", map[string]any{"amount_eur": 10, "input_currency": "XRP", "include_qr": false}, &noQR)
	if noQR.QRAddress != "" || len(images(res)) != 0 || noQR.TagMemo == "" {
		t.Fatalf("include_qr=false or memo wrong: %+v", noQR)
	}

	var st statusOut
	s.ok(t, "get_payment_status", map[string]any{"identifier": oc.Identifier}, &st)
	if st.Status != "PE" || !st.RequiresAction || st.IsCompleted || st.StatusDescription == "" || !st.Sandbox {
		t.Fatalf("status = %+v", st)
	}

	var cat catalogOut
	s.ok(t, "list_currencies_catalog", map[string]any{}, &cat)
	if cat.TotalCount < 10 || cat.FilterApplied || cat.Currencies[0].Symbol != "BTC" || !cat.Sandbox {
		t.Fatalf("catalog = %+v", cat)
	}
	var filtered catalogOut
	s.ok(t, "list_currencies_catalog", map[string]any{"filter_by_amount": 2}, &filtered)
	if !filtered.FilterApplied || filtered.FilteredCount >= filtered.TotalCount || filtered.FilteredCount == 0 || !filtered.CacheInfo.Cached {
		t.Fatalf("filtered = %+v", filtered)
	}
	for _, c := range filtered.Currencies {
		if min, _ := new(big.Rat).SetString(c.MinAmount); min.Cmp(big.NewRat(2, 1)) > 0 {
			t.Errorf("%s min %s > 2 passed the filter", c.Symbol, c.MinAmount)
		}
	}

	// Every QR decodes back to its payload at every size and style.
	for _, size := range []int{100, 512, 2000} {
		for _, style := range []string{"basic", "branded"} {
			var q qrOut
			res := s.ok(t, "generate_payment_qr", map[string]any{"identifier": oc.Identifier, "size": size, "style": style}, &q)
			if q.Address != oc.Address || q.PaymentURI != oc.PaymentURI || q.Size != size {
				t.Fatalf("qr %d %s = %+v", size, style, q)
			}
			imgs := images(res)
			if len(imgs) != 2 {
				t.Fatalf("qr %d %s: %d images", size, style, len(imgs))
			}
			for i, want := range []string{oc.Address, oc.PaymentURI} {
				got, w, h := decodeQR(t, imgs[i])
				if got != want || w != size || h != size {
					t.Errorf("qr %d %s #%d = %q %dx%d, want %q", size, style, i, got, w, h, want)
				}
			}
		}
	}
	// A payment link's QR is its gateway URL.
	var gq qrOut
	res = s.ok(t, "generate_payment_qr", map[string]any{"identifier": link.Identifier, "qr_type": "gateway_url", "size": 300}, &gq)
	if got, _, _ := decodeQR(t, images(res)[0]); got != link.WebURL || gq.GatewayURL != link.WebURL {
		t.Fatalf("gateway QR = %q / %q, want %q", got, gq.GatewayURL, link.WebURL)
	}
	s.ok(t, "generate_payment_qr", map[string]any{"identifier": link.Identifier}, &gq) // "both" falls back to the gateway
	if gq.QRGatewayURL == "" {
		t.Fatalf("both on a link: %+v", gq)
	}
}

func TestErrorCodes(t *testing.T) {
	fake, url := liveFake(t, testDevice, fakebitnovo.Options{})
	env := baseEnv(t, t.TempDir())
	env["BITNOVO_DEVICE_ID"], env["BITNOVO_BASE_URL"] = testDevice, url
	s := startServer(t, env)

	var oc onchainOut
	s.ok(t, "create_payment_onchain", map[string]any{"amount_eur": 20, "input_currency": "LTC", "include_qr": false}, &oc)
	if oc.Identifier == "" {
		t.Fatal("no identifier")
	}
	var expiring onchainOut
	s.ok(t, "create_payment_onchain", map[string]any{"amount_eur": 20, "input_currency": "LTC", "include_qr": false}, &expiring)
	if err := fake.Pay(expiring.Identifier, "expire"); err != nil {
		t.Fatal(err)
	}
	var underpaid onchainOut
	s.ok(t, "create_payment_onchain", map[string]any{"amount_eur": 20, "input_currency": "LTC", "include_qr": false}, &underpaid)
	if err := fake.Pay(underpaid.Identifier, "underpay"); err != nil {
		t.Fatal(err)
	}
	var st statusOut
	s.ok(t, "get_payment_status", map[string]any{"identifier": underpaid.Identifier}, &st)
	if st.Status != "IA" || st.RemainingAmount == "" || !st.RequiresAction {
		t.Errorf("underpaid status = %+v", st)
	}
	s.ok(t, "get_payment_status", map[string]any{"identifier": expiring.Identifier}, &st)
	if st.Status != "EX" || !st.IsExpired || !st.IsFailed || st.RequiresAction {
		t.Errorf("expired status = %+v", st)
	}

	cases := []struct {
		name, tool string
		args       map[string]any
		code       string
		check      func(t *testing.T, e toolError)
	}{
		{"unknown currency lists the supported ones", "create_payment_onchain", map[string]any{"amount_eur": 10, "input_currency": "INVALID_COIN"}, "CURRENCY_NOT_SUPPORTED",
			func(t *testing.T, e toolError) {
				list, _ := e.Error.Details["supported_currencies"].([]any)
				if !slices.Contains(list, any("BTC")) {
					t.Errorf("details = %v", e.Error.Details)
				}
			}},
		// "btc" and "Bitcoin" are taken as BTC (issue 21); what cannot be
		// placed is refused with the symbols meant.
		{"a bare asset on several networks", "create_payment_onchain", map[string]any{"amount_eur": 10, "input_currency": "usdt"}, "CURRENCY_NOT_SUPPORTED",
			func(t *testing.T, e toolError) {
				if !strings.Contains(e.Error.Message, "did you mean USDT_ERC20 or USDT_TRC20?") {
					t.Errorf("message = %q", e.Error.Message)
				}
			}},
		{"a symbol that is not one", "create_payment_onchain", map[string]any{"amount_eur": 10, "input_currency": "btc!"}, "INVALID_ARGUMENT", nil},
		{"below minimum", "create_payment_onchain", map[string]any{"amount_eur": 1, "input_currency": "BTC"}, "AMOUNT_TOO_LOW",
			func(t *testing.T, e toolError) {
				if e.Error.Details["min_amount"] != "5.00" {
					t.Errorf("details = %v", e.Error.Details)
				}
			}},
		{"above maximum", "create_payment_onchain", map[string]any{"amount_eur": 6000, "input_currency": "XRP"}, "AMOUNT_TOO_HIGH", nil},
		{"amount below schema minimum", "create_payment_link", map[string]any{"amount_eur": 0.001}, "INVALID_ARGUMENT", nil},
		{"three decimals", "create_payment_link", map[string]any{"amount_eur": 10.005}, "INVALID_ARGUMENT", nil},
		{"missing amount", "create_payment_link", map[string]any{}, "INVALID_ARGUMENT", nil},
		{"unknown argument", "create_payment_link", map[string]any{"amount_eur": 5, "colour": "red"}, "INVALID_ARGUMENT", nil},
		{"bad fiat", "create_payment_link", map[string]any{"amount_eur": 5, "fiat": "euro"}, "INVALID_ARGUMENT", nil},
		{"javascript redirect", "create_payment_link", map[string]any{"amount_eur": 5, "url_ok": "javascript:alert(1)"}, "INVALID_ARGUMENT", nil},
		{"redirect with credentials", "create_payment_link", map[string]any{"amount_eur": 5, "url_ko": "https://user:pw@shop.example/ko"}, "INVALID_REDIRECT_URLS", nil},
		{"unknown payment", "get_payment_status", map[string]any{"identifier": "11111111-2222-4333-8444-555555555555"}, "PAYMENT_NOT_FOUND", nil},
		{"not a uuid", "get_payment_status", map[string]any{"identifier": "../currencies"}, "INVALID_ARGUMENT", nil},
		{"expired payment QR", "generate_payment_qr", map[string]any{"identifier": expiring.Identifier}, "PAYMENT_EXPIRED", nil},
		{"QR too large", "generate_payment_qr", map[string]any{"identifier": oc.Identifier, "size": 2001}, "INVALID_ARGUMENT", nil},
		{"QR too small", "generate_payment_qr", map[string]any{"identifier": oc.Identifier, "size": 99}, "INVALID_ARGUMENT", nil},
		{"QR bad type", "generate_payment_qr", map[string]any{"identifier": oc.Identifier, "qr_type": "png"}, "INVALID_ARGUMENT", nil},
		{"gateway QR of an on-chain payment without web_url", "generate_payment_qr", map[string]any{"identifier": oc.Identifier, "qr_type": "gateway_url", "gateway_environment": "nowhere"}, "INVALID_ARGUMENT", nil},
		{"filter below minimum", "list_currencies_catalog", map[string]any{"filter_by_amount": 0}, "INVALID_ARGUMENT", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := s.fail(t, tc.tool, tc.args)
			if e.Error.Code != tc.code || e.Error.Message == "" {
				t.Fatalf("code = %s (%s), want %s", e.Error.Code, e.Error.Message, tc.code)
			}
			if e.Sandbox {
				t.Error("live mode error says sandbox")
			}
			if tc.check != nil {
				tc.check(t, e)
			}
		})
	}

	t.Run("wrong device id", func(t *testing.T) {
		env := baseEnv(t, t.TempDir())
		env["BITNOVO_DEVICE_ID"], env["BITNOVO_BASE_URL"] = "99999999-9999-4999-8999-999999999999", url
		other := startServer(t, env)
		if e := other.fail(t, "list_currencies_catalog", nil); e.Error.Code != "INVALID_DEVICE_ID" {
			t.Fatalf("code = %s", e.Error.Code)
		}
	})

	if strings.Contains(s.stderr.String(), testDevice) {
		t.Error("stderr contains the device id")
	}
}

func TestIdempotency(t *testing.T) {
	fake, url := liveFake(t, testDevice, fakebitnovo.Options{})
	dataDir := t.TempDir()
	env := baseEnv(t, dataDir)
	env["BITNOVO_DEVICE_ID"], env["BITNOVO_BASE_URL"] = testDevice, url
	args := map[string]any{"amount_eur": 42.5, "idempotency_key": "order-7", "include_qr": false}

	s := startServer(t, env)
	var first, again linkOut
	s.ok(t, "create_payment_link", args, &first)
	s.ok(t, "create_payment_link", map[string]any{"amount_eur": 42.5, "idempotency_key": "order-7"}, &again)
	if again.Identifier != first.Identifier || !again.IdempotentReplay || again.QRWebURL == "" {
		t.Fatalf("replay = %+v, first = %+v", again, first)
	}
	if e := s.fail(t, "create_payment_link", map[string]any{"amount_eur": 43, "idempotency_key": "order-7"}); e.Error.Code != "IDEMPOTENCY_CONFLICT" {
		t.Fatalf("conflict code = %s", e.Error.Code)
	}
	if e := s.fail(t, "create_payment_onchain", map[string]any{"amount_eur": 42.5, "input_currency": "BTC", "idempotency_key": "order-7"}); e.Error.Code != "IDEMPOTENCY_CONFLICT" {
		t.Fatalf("cross-tool conflict code = %s", e.Error.Code)
	}

	// Concurrent identical calls create one order.
	var wg sync.WaitGroup
	ids := make([]string, 8)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out onchainOut
			s.ok(t, "create_payment_onchain", map[string]any{"amount_eur": 30, "input_currency": "ETH", "idempotency_key": "race", "include_qr": false}, &out)
			ids[i] = out.Identifier
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent creates returned different payments: %v", ids)
		}
	}
	s.close(t)
	if n := fake.OrderCount(); n != 2 {
		t.Fatalf("fake has %d orders, want 2", n)
	}

	// After a restart the key still maps to the same payment, and its QR
	// codes still render from the store.
	s = startServer(t, env)
	var after linkOut
	s.ok(t, "create_payment_link", args, &after)
	if after.Identifier != first.Identifier || !after.IdempotentReplay {
		t.Fatalf("after restart = %+v", after)
	}
	var q qrOut
	s.ok(t, "generate_payment_qr", map[string]any{"identifier": first.Identifier, "qr_type": "gateway_url"}, &q)
	if q.GatewayURL != first.WebURL {
		t.Fatalf("QR after restart = %+v", q)
	}
	if n := fake.OrderCount(); n != 2 {
		t.Fatalf("fake has %d orders after restart, want 2", n)
	}
	if n := fake.Requests(http.MethodPost, "/api/v1/orders/"); n != 2 {
		t.Fatalf("fake saw %d create requests, want 2", n)
	}
}

func TestFaultModes(t *testing.T) {
	fake, url := liveFake(t, testDevice, fakebitnovo.Options{})
	env := baseEnv(t, t.TempDir())
	env["BITNOVO_DEVICE_ID"], env["BITNOVO_BASE_URL"] = testDevice, url
	env["API_TIMEOUT"], env["MAX_RETRIES"], env["RETRY_DELAY"], env["CRYPTOPAY_TOOL_TIMEOUT"] = "700", "2", "50", "5000"
	s := startServer(t, env)

	t.Run("5xx storm ends in a clear error within the deadline", func(t *testing.T) {
		fake.ClearFaults()
		fake.AddFault(fakebitnovo.Fault{Path: "/api/v1/currencies", Status: 503})
		defer fake.ClearFaults()
		before := fake.Requests(http.MethodGet, "/api/v1/currencies")
		start := time.Now()
		e := s.fail(t, "list_currencies_catalog", nil)
		if e.Error.Code != "UPSTREAM_API_ERROR" || time.Since(start) > 5*time.Second {
			t.Fatalf("code %s after %v", e.Error.Code, time.Since(start))
		}
		if n := fake.Requests(http.MethodGet, "/api/v1/currencies") - before; n != 3 {
			t.Fatalf("%d attempts, want 1 + MAX_RETRIES = 3", n)
		}
	})

	t.Run("stale catalog served when the API fails", func(t *testing.T) {
		fake.ClearFaults()
		var cat catalogOut
		s.ok(t, "list_currencies_catalog", nil, &cat)
		if cat.CacheInfo.Stale {
			t.Fatalf("fresh catalog marked stale: %+v", cat.CacheInfo)
		}
	})

	t.Run("timed-out create is not sent twice", func(t *testing.T) {
		fake.ClearFaults()
		fake.AddFault(fakebitnovo.Fault{Method: http.MethodPost, Path: "/api/v1/orders/", Delay: 3 * time.Second})
		defer fake.ClearFaults()
		before := fake.Requests(http.MethodPost, "/api/v1/orders/")
		orders := fake.OrderCount()
		args := map[string]any{"amount_eur": 15, "idempotency_key": "slow-1", "include_qr": false}
		if e := s.fail(t, "create_payment_link", args); e.Error.Code != "PAYMENT_OUTCOME_UNKNOWN" {
			t.Fatalf("code = %s", e.Error.Code)
		}
		fake.ClearFaults()
		// Retrying with the same key does not send it again either.
		if e := s.fail(t, "create_payment_link", args); e.Error.Code != "PAYMENT_OUTCOME_UNKNOWN" {
			t.Fatalf("retry code = %s", e.Error.Code)
		}
		time.Sleep(3 * time.Second) // let the slow request finish on the fake
		if n := fake.Requests(http.MethodPost, "/api/v1/orders/") - before; n != 1 {
			t.Fatalf("fake saw %d POSTs, want 1", n)
		}
		if n := fake.OrderCount() - orders; n != 1 {
			t.Fatalf("%d orders created, want 1", n)
		}
	})

	t.Run("create 5xx is not retried", func(t *testing.T) {
		fake.ClearFaults()
		fake.AddFault(fakebitnovo.Fault{Method: http.MethodPost, Path: "/api/v1/orders/", Status: 502, Times: 1})
		defer fake.ClearFaults()
		before := fake.Requests(http.MethodPost, "/api/v1/orders/")
		if e := s.fail(t, "create_payment_link", map[string]any{"amount_eur": 15}); e.Error.Code != "PAYMENT_OUTCOME_UNKNOWN" {
			t.Fatalf("code = %s", e.Error.Code)
		}
		if n := fake.Requests(http.MethodPost, "/api/v1/orders/") - before; n != 1 {
			t.Fatalf("fake saw %d POSTs, want 1", n)
		}
	})

	t.Run("429 waits for Retry-After", func(t *testing.T) {
		var link linkOut
		fake.ClearFaults()
		s.ok(t, "create_payment_link", map[string]any{"amount_eur": 5, "include_qr": false}, &link)
		fake.AddFault(fakebitnovo.Fault{Path: "/api/v1/orders/info/", Status: 429, RetryAfter: "1", Times: 1})
		defer fake.ClearFaults()
		start := time.Now()
		var st statusOut
		s.ok(t, "get_payment_status", map[string]any{"identifier": link.Identifier}, &st)
		if el := time.Since(start); el < time.Second {
			t.Fatalf("retried after %v, before Retry-After", el)
		}
	})

	t.Run("Retry-After beyond the deadline fails fast", func(t *testing.T) {
		fake.ClearFaults()
		fake.AddFault(fakebitnovo.Fault{Path: "/api/v1/orders/info/", Status: 429, RetryAfter: "60"})
		defer fake.ClearFaults()
		start := time.Now()
		e := s.fail(t, "get_payment_status", map[string]any{"identifier": "11111111-2222-4333-8444-555555555555"})
		if e.Error.Code != "RATE_LIMIT_EXCEEDED" || time.Since(start) > 3*time.Second {
			t.Fatalf("code %s after %v", e.Error.Code, time.Since(start))
		}
		if e.Error.Details["retry_after_seconds"] != float64(60) {
			t.Errorf("details = %v", e.Error.Details)
		}
	})

	t.Run("slow status times out cleanly", func(t *testing.T) {
		fake.ClearFaults()
		fake.AddFault(fakebitnovo.Fault{Path: "/api/v1/orders/info/", Delay: 10 * time.Second})
		defer fake.ClearFaults()
		start := time.Now()
		e := s.fail(t, "get_payment_status", map[string]any{"identifier": "11111111-2222-4333-8444-555555555555"})
		if e.Error.Code != "API_TIMEOUT" && e.Error.Code != "UPSTREAM_API_ERROR" {
			t.Fatalf("code = %s", e.Error.Code)
		}
		if el := time.Since(start); el > 6*time.Second {
			t.Fatalf("took %v, tool deadline is 5s", el)
		}
	})

	t.Run("string amounts and wrapped bodies", func(t *testing.T) {
		fake.ClearFaults()
		var link onchainOut
		s.ok(t, "create_payment_onchain", map[string]any{"amount_eur": 12, "input_currency": "ETH", "include_qr": false}, &link)
		for _, shape := range []string{"string_amounts", "wrapped", "bare", "number_amounts"} {
			fake.ClearFaults()
			fake.AddFault(fakebitnovo.Fault{Path: "/api/v1/orders/info/", Shape: shape, Times: 1})
			var st statusOut
			s.ok(t, "get_payment_status", map[string]any{"identifier": link.Identifier}, &st)
			if st.Identifier != link.Identifier || st.Status != "PE" || st.FiatAmount == "" {
				t.Errorf("%s: %+v", shape, st)
			}
		}
		fake.ClearFaults()
	})
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"bad device id", map[string]string{"BITNOVO_DEVICE_ID": "abc"}, []string{"BITNOVO_DEVICE_ID: must be a UUID"}},
		{"plain http", map[string]string{"BITNOVO_DEVICE_ID": testDevice, "BITNOVO_BASE_URL": "http://pos.bitnovo.com"}, []string{"BITNOVO_BASE_URL"}},
		{"secret and retries", map[string]string{"BITNOVO_DEVICE_SECRET": "xyz", "MAX_RETRIES": "x"}, []string{"BITNOVO_DEVICE_SECRET", "MAX_RETRIES"}},
		{"unknown toolset", map[string]string{"CRYPTOPAY_TOOLSETS": "payments,wallet"}, []string{"CRYPTOPAY_TOOLSETS: unknown toolset \"wallet\" (valid: all, payments, webhooks, shop, shop-purchase)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := baseEnv(t, t.TempDir())
			for k, v := range tc.env {
				env[k] = v
			}
			cmd := exec.Command(binPath)
			cmd.Env = envList(env)
			out, err := cmd.CombinedOutput()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 2 {
				t.Fatalf("exit = %v, want status 2; output:\n%s", err, out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(tc.want), out)
			}
			for i, w := range tc.want {
				if !strings.Contains(lines[i], w) || !strings.HasPrefix(lines[i], "cryptopay-mcp: config: ") {
					t.Errorf("line %q, want %q", lines[i], w)
				}
			}
		})
	}
	t.Run("unwritable data dir", func(t *testing.T) {
		env := baseEnv(t, "/proc/cryptopay-cannot-write-here")
		cmd := exec.Command(binPath)
		cmd.Env = envList(env)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "CRYPTOPAY_DATA_DIR") {
			t.Fatalf("exit %v, output %s", err, out)
		}
	})
	t.Run("corrupt store", func(t *testing.T) {
		// A corrupt database is one line naming the file and the way out,
		// exit 2, no stack trace (issue 19, finding 3).
		dir := t.TempDir()
		db := filepath.Join(dir, "cryptopay.db")
		if err := os.WriteFile(db, []byte(strings.Repeat("garbage, not SQLite ", 400)), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(binPath)
		cmd.Env = envList(baseEnv(t, dir))
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
			t.Fatalf("exit %v, want status 2; output:\n%s", err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != 1 || !strings.HasPrefix(lines[0], "cryptopay-mcp: config: ") ||
			!strings.Contains(lines[0], db) || !strings.Contains(lines[0], "corrupt") || !strings.Contains(lines[0], "aside") {
			t.Fatalf("want one line naming %s and the way out, got:\n%s", db, out)
		}
	})
	t.Run("unknown command", func(t *testing.T) {
		out, err := exec.Command(binPath, "serve-everything").CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
			t.Fatalf("exit %v, output %s", err, out)
		}
	})
}

func TestLifecycle(t *testing.T) {
	t.Run("version", func(t *testing.T) {
		out, err := exec.Command(binPath, "version").Output()
		if err != nil || !strings.HasPrefix(string(out), "cryptopay-mcp ") {
			t.Fatalf("version: %q %v", out, err)
		}
	})
	t.Run("stdin EOF exits 0", func(t *testing.T) {
		cmd := exec.Command(binPath)
		cmd.Env = envList(baseEnv(t, t.TempDir()))
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr syncBuffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		if _, err := io.WriteString(stdin, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}`+"\n"); err != nil {
			t.Fatal(err)
		}
		// stdout carries only JSON-RPC messages: the first line is the answer.
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil {
			t.Fatalf("read answer: %v\n%s", err, stderr.String())
		}
		var msg map[string]any
		if err := json.Unmarshal([]byte(line), &msg); err != nil || msg["jsonrpc"] != "2.0" || msg["result"] == nil {
			t.Fatalf("stdout line is not a JSON-RPC answer: %q", line)
		}
		_ = stdin.Close()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("exit: %v\n%s", err, stderr.String())
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatal("server did not exit on stdin EOF")
		}
		if !strings.Contains(stderr.String(), "mode=sandbox") {
			t.Errorf("no start-up line on stderr: %s", stderr.String())
		}
	})
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run("signal "+sig.String(), func(t *testing.T) {
			s := startServer(t, baseEnv(t, t.TempDir()))
			if err := s.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- s.session.Wait() }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("server did not stop on signal")
			}
			deadline := time.Now().Add(5 * time.Second)
			for s.cmd.ProcessState == nil && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if s.cmd.ProcessState == nil || s.cmd.ProcessState.ExitCode() != 0 {
				t.Fatalf("exit state %v", s.cmd.ProcessState)
			}
		})
	}
}

func TestSandboxSubcommand(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	cmd := exec.Command(binPath, "sandbox", "--listen", addr)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var resp *http.Response
	for i := 0; i < 100; i++ {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/api/v1/currencies", nil)
		req.Header.Set("X-Device-Id", testDevice)
		resp, err = http.DefaultClient.Do(req)
		if err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("sandbox never answered: %v\n%s", err, stderr.String())
	}
	defer resp.Body.Close()
	var list []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || resp.StatusCode != 200 || len(list) == 0 {
		t.Fatalf("currencies: %d %v %v", resp.StatusCode, len(list), err)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sandbox exit: %v", err)
	}
	out, err := exec.Command(binPath, "sandbox", "--listen", "0.0.0.0:0").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("non-loopback listen: %v %s", err, out)
	}
}

// A payment this server did not create (another device, or a lost store) is
// looked up through Bitnovo: orders/info, then the details endpoint (404 in
// the fake, as in the real API), and its QR codes still render.
func TestQRForPaymentCreatedElsewhere(t *testing.T) {
	_, url := liveFake(t, testDevice, fakebitnovo.Options{})
	req, _ := http.NewRequest(http.MethodPost, url+"/api/v1/orders/", strings.NewReader(`{"expected_output_amount":"30","input_currency":"ETH","fiat":"EUR"}`))
	req.Header.Set("X-Device-Id", testDevice)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var order struct {
		Identifier string `json:"identifier"`
		Address    string `json:"address"`
		PaymentURI string `json:"payment_uri"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&order); err != nil || order.Identifier == "" {
		t.Fatalf("create on the fake: %v %+v", err, order)
	}
	resp.Body.Close()

	env := baseEnv(t, t.TempDir())
	env["BITNOVO_DEVICE_ID"], env["BITNOVO_BASE_URL"] = testDevice, url
	s := startServer(t, env)
	var q qrOut
	res := s.ok(t, "generate_payment_qr", map[string]any{"identifier": order.Identifier, "qr_type": "payment_uri", "size": 400}, &q)
	if q.PaymentURI != order.PaymentURI {
		t.Fatalf("qr = %+v, want URI %q", q, order.PaymentURI)
	}
	if got, _, _ := decodeQR(t, images(res)[0]); got != order.PaymentURI {
		t.Fatalf("QR decodes to %q", got)
	}
}
