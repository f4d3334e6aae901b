package fakebitnovo

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRoutesAndTrailingSlashes(t *testing.T) {
	s := New(Options{})
	id := mustCreate(t, s, `{"expected_output_amount":10,"input_currency":"BTC_TEST"}`)
	tests := []struct {
		name, method, path string
		status             int
	}{
		{"create without trailing slash", http.MethodPost, "/api/v1/orders", 404},
		{"GET on create endpoint", http.MethodGet, "/api/v1/orders/", 405},
		{"info", http.MethodGet, "/api/v1/orders/info/" + id, 200},
		{"info with trailing slash", http.MethodGet, "/api/v1/orders/info/" + id + "/", 200},
		{"info HEAD", http.MethodHead, "/api/v1/orders/info/" + id, 200},
		{"info POST", http.MethodPost, "/api/v1/orders/info/" + id, 405},
		{"info with extra segment", http.MethodGet, "/api/v1/orders/info/" + id + "/x", 404},
		{"info without id", http.MethodGet, "/api/v1/orders/info/", 404},
		{"info unknown id", http.MethodGet, "/api/v1/orders/info/00000000-0000-4000-8000-000000000000", 404},
		{"info not a uuid", http.MethodGet, "/api/v1/orders/info/abc-123-def", 404},
		{"info upper-case id", http.MethodGet, "/api/v1/orders/info/" + strings.ToUpper(id), 404},
		{"info escaped id", http.MethodGet, "/api/v1/orders/info/" + strings.Replace(id, "-", "%2D", 1), 200},
		{"details disabled", http.MethodGet, "/api/v1/orders/" + id, 404},
		{"currencies", http.MethodGet, "/api/v1/currencies", 200},
		{"currencies with trailing slash", http.MethodGet, "/api/v1/currencies/", 404},
		{"currencies POST", http.MethodPost, "/api/v1/currencies", 405},
		{"health", http.MethodGet, "/health", 200},
		{"unknown api path", http.MethodGet, "/api/v2/orders/", 404},
		{"root", http.MethodGet, "/", 404},
		// An unknown checkout link is an HTML page: TestCheckoutNotFoundPage.
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := call(t, s, tc.method, tc.path, "", "")
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if tc.status >= 400 {
				errorBody(t, rec)
			}
			if tc.status == 405 && rec.Header().Get("Allow") == "" {
				t.Error("405 without Allow header")
			}
		})
	}
}

func TestNotFoundBody(t *testing.T) {
	s := New(Options{})
	rec := call(t, s, http.MethodGet, "/api/v1/orders/info/00000000-0000-4000-8000-000000000000", "", "")
	m := decodeObject(t, rec.Body.Bytes())
	if m["detail"] != "Not found." {
		t.Errorf("detail = %v", m["detail"])
	}
}

func TestAuth(t *testing.T) {
	const other = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
	endpoints := []struct {
		method, path, body string
		ok                 int
	}{
		{http.MethodPost, "/api/v1/orders/", `{"expected_output_amount":10}`, 201},
		{http.MethodGet, "/api/v1/currencies", "", 200},
		{http.MethodGet, "/api/v1/orders/info/{id}", "", 200},
		{http.MethodGet, "/api/v1/orders/{id}", "", 200},
	}
	tests := []struct {
		name     string
		optDev   string
		header   string
		wantCode string // "" = allowed
	}{
		{"missing header", "", "", "NOT_AUTHENTICATED"},
		{"not a uuid", "", "device-1", "INVALID_DEVICE_ID"},
		{"any uuid accepted", "", other, ""},
		{"configured device matches", testDevice, testDevice, ""},
		{"configured device differs", testDevice, other, "INVALID_DEVICE_ID"},
		{"configured device missing", testDevice, "", "NOT_AUTHENTICATED"},
	}
	for _, tc := range tests {
		for _, ep := range endpoints {
			t.Run(tc.name+" "+ep.method+" "+ep.path, func(t *testing.T) {
				s := New(Options{DeviceID: tc.optDev, DetailsEnabled: true})
				id := mustCreateAs(t, s, tc.optDev)
				hdr := map[string]string{}
				if tc.header != "" {
					hdr["X-Device-Id"] = tc.header
				}
				path := strings.ReplaceAll(ep.path, "{id}", id)
				rec := callHdr(t, s, ep.method, path, "application/json", ep.body, hdr)
				if tc.wantCode == "" {
					if rec.Code != ep.ok {
						t.Fatalf("status %d, want %d: %s", rec.Code, ep.ok, rec.Body)
					}
					return
				}
				if rec.Code != http.StatusForbidden {
					t.Fatalf("status %d, want 403: %s", rec.Code, rec.Body)
				}
				if code := errorBody(t, rec); code != tc.wantCode {
					t.Errorf("code %q, want %q", code, tc.wantCode)
				}
			})
		}
	}
}

// mustCreateAs creates an order authenticated as dev (or testDevice).
func mustCreateAs(t *testing.T, s *Server, dev string) string {
	t.Helper()
	if dev == "" {
		dev = testDevice
	}
	rec := callHdr(t, s, http.MethodPost, "/api/v1/orders/", "application/json",
		`{"expected_output_amount":10,"input_currency":"LTC"}`, map[string]string{"X-Device-Id": dev})
	if rec.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	return decodeObject(t, rec.Body.Bytes())["identifier"].(string)
}

func TestInfoFields(t *testing.T) {
	s := New(Options{})
	id := mustCreate(t, s, `{"expected_output_amount":"50.00","input_currency":"BTC","notes":"n","reference":"r"}`)
	got := info(t, s, id)
	want := []string{
		"identifier", "reference", "created_at", "edited_at", "status", "fiat_amount", "crypto_amount",
		"unconfirmed_amount", "confirmed_amount", "received_amount", "currency_id", "merchant_device_id",
		"merchant_device", "address", "tag_memo", "url_ko", "url_ok", "url_standby", "expired_time", "good_fee",
		"notes", "rbf", "safe", "fiat", "language", "percentage", "balance_based", "internal_data", "transactions",
		"exchange_rate", "network_fee", "payment_uri", "web_url",
	}
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	sort.Strings(want)
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("E2 keys (-want +got):\n%s", diff)
	}
	checks := map[string]any{
		"identifier": id, "status": "PE", "fiat_amount": json.Number("50.00"), "crypto_amount": json.Number("0.00083333"),
		"confirmed_amount": json.Number("0.00000000"), "unconfirmed_amount": json.Number("0.00000000"),
		"currency_id": "BTC", "exchange_rate": json.Number("60000"), "notes": "n", "reference": "r", "fiat": "EUR",
	}
	for k, v := range checks {
		if got[k] != v {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	if _, ok := got["merchant_device_id"].(json.Number); !ok {
		t.Errorf("merchant_device_id %#v is not a number", got["merchant_device_id"])
	}
	if txs, ok := got["transactions"].([]any); !ok || len(txs) != 0 {
		t.Errorf("transactions = %#v, want []", got["transactions"])
	}
}

func TestInfoGatewayNulls(t *testing.T) {
	s := New(Options{})
	id := mustCreate(t, s, `{"expected_output_amount":10}`)
	got := info(t, s, id)
	for _, k := range []string{"crypto_amount", "currency_id", "address", "exchange_rate", "payment_uri"} {
		if v, ok := got[k]; !ok || v != nil {
			t.Errorf("%s = %#v, want null", k, v)
		}
	}
	if got["status"] != "NR" {
		t.Errorf("status %v", got["status"])
	}
}

func TestDetails(t *testing.T) {
	s := New(Options{DetailsEnabled: true})
	id := mustCreate(t, s, `{"expected_output_amount":10,"input_currency":"ETH_TEST"}`)
	rec := call(t, s, http.MethodGet, "/api/v1/orders/"+id, "", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	m := decodeObject(t, rec.Body.Bytes())
	data, ok := m["data"].(map[string]any)
	if m["status"] != "success" || !ok {
		t.Fatalf("not wrapped: %s", rec.Body)
	}
	if data["identifier"] != id || data["input_currency"] != "ETH_TEST" || data["address"] == nil {
		t.Errorf("data = %v", data)
	}
	if rec := call(t, s, http.MethodGet, "/api/v1/orders/00000000-0000-4000-8000-000000000000", "", ""); rec.Code != 404 {
		t.Errorf("unknown id: %d", rec.Code)
	}
	if rec := call(t, s, http.MethodGet, "/api/v1/orders/"+id+"/", "", ""); rec.Code != 404 {
		t.Errorf("trailing slash: %d", rec.Code)
	}
}

func TestCurrenciesEndpoint(t *testing.T) {
	s := New(Options{PublicURL: "http://127.0.0.1:8089"})
	cat := Currencies()
	tests := []struct {
		shape string
		want  func(c Currency, idx int) bool // true = limits are strings
	}{
		{"", func(_ Currency, i int) bool { return i%2 == 0 }},
		{ShapeStringAmounts, func(Currency, int) bool { return true }},
		{ShapeNumberAmounts, func(Currency, int) bool { return false }},
	}
	for _, tc := range tests {
		t.Run("shape="+tc.shape, func(t *testing.T) {
			s.ClearFaults()
			if tc.shape != "" {
				s.AddFault(Fault{Path: "/api/v1/currencies", Shape: tc.shape})
			}
			rec := call(t, s, http.MethodGet, "/api/v1/currencies", "", "")
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d", rec.Code)
			}
			var list []map[string]json.RawMessage
			if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil {
				t.Fatalf("not a bare array: %v", err)
			}
			if len(list) != len(cat) {
				t.Fatalf("%d currencies, want %d", len(list), len(cat))
			}
			sawString, sawNumber := false, false
			for i, c := range cat {
				el := list[i]
				if string(el["symbol"]) != `"`+c.Symbol+`"` || string(el["blockchain"]) != `"`+c.Blockchain+`"` {
					t.Errorf("%d: symbol %s blockchain %s", i, el["symbol"], el["blockchain"])
				}
				wantMin := c.MinAmount
				if tc.want(c, i) {
					wantMin = `"` + wantMin + `"`
					sawString = true
				} else {
					sawNumber = true
				}
				if string(el["min_amount"]) != wantMin {
					t.Errorf("%s min_amount %s, want %s", c.Symbol, el["min_amount"], wantMin)
				}
				if c.MaxAmount == "" && string(el["max_amount"]) != "null" {
					t.Errorf("%s max_amount %s, want null", c.Symbol, el["max_amount"])
				}
				if c.MaxAmount != "" && !strings.Contains(string(el["max_amount"]), c.MaxAmount) {
					t.Errorf("%s max_amount %s, want %s", c.Symbol, el["max_amount"], c.MaxAmount)
				}
				var img string
				if err := json.Unmarshal(el["image"], &img); err != nil || !strings.HasPrefix(img, "http://127.0.0.1:8089/") {
					t.Errorf("%s image %s", c.Symbol, el["image"])
				}
			}
			if tc.shape == "" && !(sawString && sawNumber) {
				t.Error("default catalog should mix string and number limits")
			}
		})
	}
}

func TestCurrenciesCatalog(t *testing.T) {
	cat := Currencies()
	if len(cat) < 14 {
		t.Fatalf("catalog has %d entries", len(cat))
	}
	seen := map[string]bool{}
	hasMax, hasNoMax := false, false
	for _, c := range cat {
		if seen[c.Symbol] {
			t.Errorf("duplicate %s", c.Symbol)
		}
		seen[c.Symbol] = true
		min, err := parseAmount(c.MinAmount)
		if err != nil || min.Sign() <= 0 {
			t.Errorf("%s min %q", c.Symbol, c.MinAmount)
		}
		if rate, err := parseAmount(c.RateEUR); err != nil || rate.Sign() <= 0 {
			t.Errorf("%s rate %q", c.Symbol, c.RateEUR)
		}
		if c.Decimals <= 0 || c.Name == "" || c.Blockchain == "" {
			t.Errorf("%s incomplete: %+v", c.Symbol, c)
		}
		if c.MaxAmount == "" {
			hasNoMax = true
			continue
		}
		hasMax = true
		if max, err := parseAmount(c.MaxAmount); err != nil || max.Cmp(min) <= 0 {
			t.Errorf("%s max %q", c.Symbol, c.MaxAmount)
		}
	}
	for _, sym := range []string{"BTC", "ETH", "LTC", "BCH", "XRP", "XLM", "ALGO", "DASH", "USDC_ERC20",
		"USDT_TRC20", "USDC_POLYGON", "BTC_TEST", "ETH_TEST", "USDC_ETH_TEST"} {
		if !seen[sym] {
			t.Errorf("catalog lacks %s", sym)
		}
	}
	if !hasMax || !hasNoMax {
		t.Error("catalog should have currencies with and without a maximum")
	}
	// Callers may modify the result without affecting the fake.
	cat[0].Symbol = "CHANGED"
	if Currencies()[0].Symbol == "CHANGED" {
		t.Error("Currencies returns shared state")
	}
}

func TestPublicURLDerivation(t *testing.T) {
	tests := []struct {
		name, publicURL, host, want string
	}{
		{"configured with slash", "https://pay.example/", "ignored.test", "https://pay.example/"},
		{"from host", "", "127.0.0.1:8089", "http://127.0.0.1:8089/"},
		{"hostile host", "", "evil.test/<x>", "http://127.0.0.1/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Options{PublicURL: tc.publicURL})
			req := mustNewRequest(t, http.MethodPost, "/api/v1/orders/", `{"expected_output_amount":10}`)
			req.Host = tc.host
			rec := serve(s, req)
			if rec.Code != http.StatusCreated {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			web := decodeObject(t, rec.Body.Bytes())["web_url"].(string)
			if !strings.HasPrefix(web, tc.want) || len(web) != len(tc.want)+9 {
				t.Errorf("web_url %q, want %s<8 chars>/", web, tc.want)
			}
		})
	}
}
