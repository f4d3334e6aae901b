package fakebitrefill

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newFake(t testing.TB, cfg Config) *Fake {
	t.Helper()
	f, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// do runs one request through the handler and decodes a JSON answer.
func do(t testing.TB, f *Fake, method, target, body string, auth bool) (int, map[string]any, http.Header) {
	t.Helper()
	var r *http.Request
	if body != "" {
		r = httptest.NewRequest(method, target, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
	} else {
		r = httptest.NewRequest(method, target, nil)
	}
	if auth {
		r.SetBasicAuth(DefaultAPIID, DefaultAPISecret)
	}
	w := httptest.NewRecorder()
	f.ServeHTTP(w, r)
	var m map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &m)
	return w.Code, m, w.Header()
}

func TestCatalog(t *testing.T) {
	f := newFake(t, Config{})
	ids := f.ProductIDs()
	if len(ids) < 30 || len(ids) > 45 {
		t.Fatalf("catalog has %d products", len(ids))
	}
	types := map[string]int{}
	countries := map[string]bool{}
	ranged := 0
	injection := false
	for _, id := range ids {
		code, doc, _ := do(t, f, "GET", "/api/product/"+id, "", false)
		if code != 200 {
			t.Fatalf("%s: status %d", id, code)
		}
		for _, k := range []string{"_id", "slug", "name", "baseName", "logoImage", "logoPreview", "iconPreview", "type", "categories", "countryCode", "countries", "packages", "currency"} {
			if _, ok := doc[k]; !ok {
				t.Errorf("%s: required field %s missing", id, k)
			}
		}
		types[doc["type"].(string)]++
		for _, c := range doc["countries"].([]any) {
			countries[c.(string)] = true
		}
		pkgs := doc["packages"].([]any)
		if doc["range"] != nil {
			ranged++
			if len(pkgs) != 0 {
				t.Errorf("%s: ranged product with packages", id)
			}
		} else if len(pkgs) == 0 {
			t.Errorf("%s: no packages and no range", id)
		}
		for _, p := range pkgs {
			pm := p.(map[string]any)
			if _, ok := pm["value"].(string); !ok {
				t.Errorf("%s: package value not a string", id)
			}
			prices := pm["prices"].(map[string]any)
			for _, cur := range []string{"BTC", "ETH", "USDC"} {
				if _, ok := prices[cur]; !ok {
					t.Errorf("%s: no %s price", id, cur)
				}
			}
		}
		raw, _ := json.Marshal(doc)
		if strings.Contains(string(raw), "Ignore previous instructions") || strings.Contains(string(raw), "ignore previous instructions") {
			injection = true
		}
	}
	for _, ty := range []string{"giftcards", "refills", "esims"} {
		if types[ty] < 3 {
			t.Errorf("only %d %s", types[ty], ty)
		}
	}
	for _, c := range []string{"US", "GB", "DE", "ES", "FR", "IT", "NL", "MX", "BR"} {
		if !countries[c] {
			t.Errorf("no product for %s", c)
		}
	}
	if ranged < 2 {
		t.Errorf("only %d ranged products", ranged)
	}
	if !injection {
		t.Error("no prompt-injection-looking text in the catalogue")
	}
}

func TestOmni(t *testing.T) {
	f := newFake(t, Config{})
	tests := []struct {
		query     string
		wantCode  int
		wantTotal int // -1 skip
		wantLen   int // -1 skip
		check     func(t *testing.T, p map[string]any)
	}{
		{"q=*&limit=5&skip=0", 200, len(f.ProductIDs()), 5, nil},
		{"q=*&limit=0", 200, -1, 25, nil},
		{"q=*&limit=2.5", 200, -1, 2, nil},
		{"q=amazon&country=DE", 200, 1, 1, func(t *testing.T, p map[string]any) {
			if p["id"] != "amazon_de-germany" || p["isRanged"] != true {
				t.Errorf("got %v", p["id"])
			}
		}},
		{"q=steam&country=es", 200, 1, 1, nil}, // steam-europe lists ES
		{"q=*&category=esims", 200, 4, 4, func(t *testing.T, p map[string]any) {
			if p["type"] != "esims" {
				t.Errorf("type %v", p["type"])
			}
		}},
		{"q=*&category=streaming&country=US", 200, -1, -1, func(t *testing.T, p map[string]any) {
			if !slices.Contains(p["categories"].([]any), any("streaming")) {
				t.Errorf("categories %v", p["categories"])
			}
		}},
		{"q=*&hl=nl", 200, -1, -1, nil},
		{"q=AMAZON+usa", 200, 1, 1, nil},
		{"q=*&skip=1000", 200, len(f.ProductIDs()), 0, nil},
		{"q=*&limit=-1", 400, -1, -1, nil},
		{"q=*&limit=abc", 400, -1, -1, nil},
		{"q=*&country=USA", 400, -1, -1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			code, body, _ := do(t, f, "GET", "/api/omni?"+tt.query+"&src=mcp&col=1&prefcc=1", "", false)
			if code != tt.wantCode {
				t.Fatalf("status %d", code)
			}
			if code != 200 {
				return
			}
			products := body["products"].([]any)
			if tt.wantTotal >= 0 && int(body["totalCount"].(float64)) != tt.wantTotal {
				t.Errorf("totalCount %v, want %d", body["totalCount"], tt.wantTotal)
			}
			if tt.wantLen >= 0 && len(products) != tt.wantLen {
				t.Errorf("len %d, want %d", len(products), tt.wantLen)
			}
			if _, ok := body["categories"].(map[string]any); !ok {
				t.Error("no categories map")
			}
			for _, p := range products {
				pm := p.(map[string]any)
				for _, k := range []string{"id", "name", "category", "slug", "type", "countryCode", "currency", "_priceRange"} {
					if _, ok := pm[k]; !ok {
						t.Errorf("item lacks %s", k)
					}
				}
				if tt.check != nil {
					tt.check(t, pm)
				}
			}
		})
	}
	f.SetOmitProducts(true)
	_, body, _ := do(t, f, "GET", "/api/omni?q=*", "", false)
	if _, ok := body["products"]; ok {
		t.Error("products present in omit mode")
	}
}

func TestProduct404(t *testing.T) {
	f := newFake(t, Config{})
	r := httptest.NewRequest("GET", "/api/product/nope", nil)
	w := httptest.NewRecorder()
	f.ServeHTTP(w, r)
	if w.Code != 404 || !strings.Contains(w.Body.String(), "Product not found") {
		t.Fatalf("%d %q", w.Code, w.Body.String())
	}
}

func TestV2Auth(t *testing.T) {
	f := newFake(t, Config{APIID: "me", APISecret: "pw"})
	paths := []struct{ method, path string }{
		{"GET", "/v2/accounts/balance"}, {"GET", "/v2/invoices"}, {"POST", "/v2/invoices"},
		{"GET", "/v2/invoices/x"}, {"POST", "/v2/invoices/x/pay"}, {"GET", "/v2/orders"},
		{"GET", "/v2/orders/x"}, {"GET", "/v2/orders/x/unseal"}, {"GET", "/v2/products"},
		{"GET", "/v2/check_phone_number?phone_number=1"}, {"GET", "/v2/nope"},
	}
	for _, p := range paths {
		for _, creds := range [][2]string{{"", ""}, {"me", "wrong"}, {"other", "pw"}} {
			r := httptest.NewRequest(p.method, p.path, nil)
			if creds[0] != "" {
				r.SetBasicAuth(creds[0], creds[1])
			}
			w := httptest.NewRecorder()
			f.ServeHTTP(w, r)
			if w.Code != 401 {
				t.Errorf("%s %s with %v: %d", p.method, p.path, creds, w.Code)
			}
		}
	}
	r := httptest.NewRequest("GET", "/v2/ping", nil)
	w := httptest.NewRecorder()
	f.ServeHTTP(w, r)
	var body map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	if w.Code != 200 || body["message"] == "" || body["meta"].(map[string]any)["_endpoint"] != "/ping" {
		t.Fatalf("ping: %d %s", w.Code, w.Body.String())
	}
}

func TestCreateInvoiceErrors(t *testing.T) {
	f := newFake(t, Config{})
	tests := []struct {
		name     string
		body     string
		wantCode int
		wantErr  string
	}{
		{"not json", `{`, 400, "invalid_json"},
		{"no products", `{"products":[],"payment_method":"balance"}`, 400, "missing_products"},
		{"unknown product", `{"products":[{"product_id":"nope","value":5}],"payment_method":"balance"}`, 404, "product_not_found"},
		{"neither", `{"products":[{"product_id":"steam-usa"}],"payment_method":"balance"}`, 400, "invalid_product_value"},
		{"both", `{"products":[{"product_id":"steam-usa","value":5,"package_id":"steam-usa<&>5"}],"payment_method":"balance"}`, 400, "invalid_product_value"},
		{"value not offered", `{"products":[{"product_id":"steam-usa","value":7}],"payment_method":"balance"}`, 400, "invalid_product_value"},
		{"value out of range", `{"products":[{"product_id":"apple-usa","value":501}],"payment_method":"balance"}`, 400, "invalid_product_value"},
		{"value off step", `{"products":[{"product_id":"apple-usa","value":"2.5"}],"payment_method":"balance"}`, 400, "invalid_product_value"},
		{"bad package", `{"products":[{"product_id":"steam-usa","package_id":"steam-usa<&>7"}],"payment_method":"balance"}`, 400, "invalid_package_id"},
		{"bad method", `{"products":[{"product_id":"steam-usa","value":5}],"payment_method":"paypal"}`, 400, "invalid_payment_method"},
		{"auto_pay bitcoin", `{"products":[{"product_id":"steam-usa","value":5}],"payment_method":"bitcoin","auto_pay":true}`, 400, "invalid_auto_pay"},
		{"out of stock", `{"products":[{"product_id":"fnac-france","value":20}],"payment_method":"balance"}`, 400, "product_out_of_stock"},
		{"top-up without phone", `{"products":[{"product_id":"claro-brazil","value":20}],"payment_method":"balance"}`, 400, "invalid_phone_number"},
		{"bad quantity", `{"products":[{"product_id":"steam-usa","value":5,"quantity":0}],"payment_method":"balance"}`, 400, "invalid_quantity"},
		{"bad webhook", `{"products":[{"product_id":"steam-usa","value":5}],"payment_method":"balance","webhook_url":"javascript:x"}`, 400, "invalid_webhook_url"},
		{"too large", `{"products":[{"product_id":"` + strings.Repeat("x", MaxBodyBytes) + `"}]}`, 413, "body_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body, _ := do(t, f, "POST", "/v2/invoices", tt.body, true)
			if code != tt.wantCode || body["error_code"] != tt.wantErr || body["message"] == "" {
				t.Fatalf("got %d %v", code, body)
			}
		})
	}
	_, body, _ := do(t, f, "GET", "/v2/invoices", "", true)
	if n := len(body["data"].([]any)); n != 0 {
		t.Fatalf("failed creates stored %d invoices", n)
	}
}

func TestPayAndBalance(t *testing.T) {
	f := newFake(t, Config{Balance: "50"})
	// eSIM plan priced in USD: 18 → 18.00 USD.
	code, body, _ := do(t, f, "POST", "/v2/invoices", `{"products":[{"product_id":"esim-europe","package_id":"esim-europe<&>5GB, 30 Days","quantity":2}],"payment_method":"balance"}`, true)
	if code != 200 {
		t.Fatalf("create: %d %v", code, body)
	}
	meta := body["meta"].(map[string]any)
	if meta["_endpoint"] != "/invoices" || meta["payment_method"] != "balance" {
		t.Errorf("meta = %v", meta)
	}
	inv := body["data"].(map[string]any)
	id := inv["id"].(string)
	if p := inv["payment"].(map[string]any); p["price"] != 36.0 || p["status"] != "unpaid" {
		t.Fatalf("payment = %v", p)
	}
	code, body, _ = do(t, f, "POST", "/v2/invoices/"+id+"/pay", "", true)
	if code != 200 || body["data"].(map[string]any)["payment"].(map[string]any)["status"] != "payment_confirmed" {
		t.Fatalf("pay: %d %v", code, body)
	}
	if f.Balance() != "14.00" {
		t.Fatalf("balance %s", f.Balance())
	}
	_, body, _ = do(t, f, "GET", "/v2/accounts/balance", "", true)
	if body["data"].(map[string]any)["balance"] != 14.0 {
		t.Fatalf("balance doc %v", body)
	}
	code, _, _ = do(t, f, "POST", "/v2/invoices/"+id+"/pay", "", true)
	if code != 404 {
		t.Fatalf("double pay: %d", code)
	}
	// Not enough for another: 403, balance unchanged.
	_, body, _ = do(t, f, "POST", "/v2/invoices", `{"products":[{"product_id":"steam-usa","value":20}],"payment_method":"balance"}`, true)
	id2 := body["data"].(map[string]any)["id"].(string)
	code, body, _ = do(t, f, "POST", "/v2/invoices/"+id2+"/pay", "", true)
	if code != 403 || body["error_code"] != "insufficient_funds" || f.Balance() != "14.00" {
		t.Fatalf("insufficient: %d %v %s", code, body, f.Balance())
	}
	// Crypto invoice: pay via API refused; SimulatePayment delivers.
	_, body, _ = do(t, f, "POST", "/v2/invoices", `{"products":[{"product_id":"esim-usa","value":12}],"payment_method":"lightning"}`, true)
	inv3 := body["data"].(map[string]any)
	if inv3["payment"].(map[string]any)["lightning_invoice"] == nil || inv3["payment"].(map[string]any)["currency"] != "BTC" {
		t.Fatalf("lightning invoice = %v", inv3["payment"])
	}
	id3 := inv3["id"].(string)
	if code, _, _ := do(t, f, "POST", "/v2/invoices/"+id3+"/pay", "", true); code != 400 {
		t.Fatalf("pay lightning via API: %d", code)
	}
	if err := f.SimulatePayment(id3); err != nil {
		t.Fatal(err)
	}
	if err := f.SimulatePayment(id3); err == nil {
		t.Fatal("double SimulatePayment accepted")
	}
	orderID := inv3["orders"].([]any)[0].(map[string]any)["id"].(string)
	code, body, _ = do(t, f, "GET", "/v2/orders/"+orderID+"/unseal", "", true)
	d := body["data"].(map[string]any)
	if code != 200 || !strings.Contains(d["code"].(string), "SANDBOX-") || d["delivered_time"] == nil {
		t.Fatalf("unseal esim: %d %v", code, body)
	}
	if f.Balance() != "14.00" {
		t.Fatalf("crypto payment touched balance: %s", f.Balance())
	}
}

func TestUnsealShapes(t *testing.T) {
	f := newFake(t, Config{Balance: "10000"})
	tests := []struct {
		item      string
		wantKeys  []string
		wantNoKey []string
	}{
		{`{"product_id":"steam-usa","value":5}`, []string{"code"}, []string{"pin"}},
		{`{"product_id":"netflix-usa","value":25}`, []string{"code", "pin"}, nil},
		{`{"product_id":"t-mobile-usa","value":10,"phone_number":"+14155550100"}`, []string{"phone_number"}, []string{"code"}},
		{`{"product_id":"esim-usa","value":12}`, []string{"code", "link"}, nil},
	}
	for _, tt := range tests {
		code, body, _ := do(t, f, "POST", "/v2/invoices", `{"products":[`+tt.item+`],"payment_method":"balance","auto_pay":true}`, true)
		if code != 200 {
			t.Fatalf("%s: %d %v", tt.item, code, body)
		}
		inv := body["data"].(map[string]any)
		if inv["status"] != "all_delivered" {
			t.Fatalf("auto_pay did not settle: %v", inv["status"])
		}
		oid := inv["orders"].([]any)[0].(map[string]any)["id"].(string)
		_, body, _ = do(t, f, "GET", "/v2/orders/"+oid+"/unseal", "", true)
		d := body["data"].(map[string]any)
		for _, k := range tt.wantKeys {
			v, _ := d[k].(string)
			if v == "" {
				t.Errorf("%s: no %s", tt.item, k)
			}
		}
		for _, k := range tt.wantNoKey {
			if _, ok := d[k]; ok {
				t.Errorf("%s: unexpected %s", tt.item, k)
			}
		}
		// Plain order detail never carries secrets.
		_, body, _ = do(t, f, "GET", "/v2/orders/"+oid, "", true)
		if _, ok := body["data"].(map[string]any)["code"]; ok {
			t.Errorf("order detail leaks code")
		}
	}
}

func TestListPagingAndDates(t *testing.T) {
	base := time.Date(2025, 3, 30, 10, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	n := 0
	f := newFake(t, Config{Now: func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		n++
		return base.Add(time.Duration(n) * time.Hour)
	}})
	for range 5 {
		if code, body, _ := do(t, f, "POST", "/v2/invoices", `{"products":[{"product_id":"uber-usa","value":15}],"payment_method":"bitcoin"}`, true); code != 200 {
			t.Fatalf("%d %v", code, body)
		}
	}
	code, body, _ := do(t, f, "GET", "/v2/invoices?start=0&limit=2", "", true)
	meta := body["meta"].(map[string]any)
	if code != 200 || meta["count"] != 2.0 || !strings.Contains(meta["_next"].(string), "start=2") || !strings.Contains(meta["_next"].(string), "limit=2") || !strings.HasPrefix(meta["_next"].(string), "http://") {
		t.Fatalf("page 1 meta = %v", meta)
	}
	_, body, _ = do(t, f, "GET", "/v2/invoices?start=4&limit=2", "", true)
	if _, ok := body["meta"].(map[string]any)["_next"]; ok || len(body["data"].([]any)) != 1 {
		t.Fatalf("last page = %v", body["meta"])
	}
	// created at 11:00 … 15:00; after inclusive, before exclusive, '+' for space
	_, body, _ = do(t, f, "GET", "/v2/orders?after=2025-03-30+12:00:00&before=2025-03-30+14:00:00", "", true)
	if got := len(body["data"].([]any)); got != 2 {
		t.Fatalf("date filter = %d orders", got)
	}
	for _, q := range []string{"limit=0", "limit=51", "start=-1", "limit=x", "after=yesterday"} {
		if code, body, _ := do(t, f, "GET", "/v2/invoices?"+q, "", true); code != 400 || body["error_code"] == nil {
			t.Errorf("%s: %d %v", q, code, body)
		}
	}
	if code, _, _ := do(t, f, "GET", "/v2/products?after=2025-01-01+00:00:00", "", true); code != 400 {
		t.Errorf("products with after: %d", code)
	}
}

func TestFaults(t *testing.T) {
	f := newFake(t, Config{})
	f.AddFault(Fault{Method: "GET", Path: "/v2/accounts", Status: 429, RetryAfter: 1500 * time.Millisecond, RateLimitHeaders: true, Times: 2})
	for i := range 3 {
		code, _, h := do(t, f, "GET", "/v2/accounts/balance", "", true)
		if i < 2 {
			if code != 429 || h.Get("Retry-After") != "2" || h.Get("RateLimit-Remaining") != "0" || h.Get("RateLimit-Reset") != "2" || h.Get("X-RateLimit-Reset") != "2" {
				t.Fatalf("try %d: %d %v", i, code, h)
			}
		} else if code != 200 {
			t.Fatalf("fault did not expire: %d", code)
		}
	}
	if got := f.Requests("GET", "/v2/accounts"); got != 3 {
		t.Fatalf("Requests = %d", got)
	}
	if got := f.Requests("", "/v2/"); got != 3 {
		t.Fatalf("Requests any = %d", got)
	}
	f.AddFault(Fault{Path: "/api/", Status: 502, Body: "<html>bad gateway</html>"})
	r := httptest.NewRequest("GET", "/api/omni?q=*", nil)
	w := httptest.NewRecorder()
	f.ServeHTTP(w, r)
	if w.Code != 502 || w.Body.String() != "<html>bad gateway</html>" {
		t.Fatalf("custom body: %d %q", w.Code, w.Body.String())
	}
	f.ClearFaults()
	if code, _, _ := do(t, f, "GET", "/api/omni?q=*", "", false); code != 200 {
		t.Fatalf("after ClearFaults: %d", code)
	}
	// AfterHandling: processed, answer replaced.
	f.AddFault(Fault{Method: "POST", Path: "/v2/invoices", Status: 503, AfterHandling: true, Times: 1})
	code, _, _ := do(t, f, "POST", "/v2/invoices", `{"products":[{"product_id":"steam-usa","value":5}],"payment_method":"balance"}`, true)
	_, body, _ := do(t, f, "GET", "/v2/invoices", "", true)
	if code != 503 || len(body["data"].([]any)) != 1 {
		t.Fatalf("after-handling fault: %d, %d invoices", code, len(body["data"].([]any)))
	}
	// Delay-only fault serves normally.
	f.AddFault(Fault{Path: "/v2/ping", Delay: 20 * time.Millisecond, Times: 1})
	start := time.Now()
	if code, _, _ := do(t, f, "GET", "/v2/ping", "", false); code != 200 || time.Since(start) < 20*time.Millisecond {
		t.Fatalf("delay fault: %d after %s", code, time.Since(start))
	}
}

func TestCloseConnectionFault(t *testing.T) {
	f := newFake(t, Config{})
	srv := httptest.NewServer(f)
	defer srv.Close()
	f.AddFault(Fault{Path: "/v2/ping", CloseConnection: true, Times: 1})
	resp, err := srv.Client().Get(srv.URL + "/v2/ping")
	if err == nil {
		resp.Body.Close()
		t.Fatal("want a transport error")
	}
	resp, err = srv.Client().Get(srv.URL + "/v2/ping")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func TestEnvelopeEverywhere(t *testing.T) {
	f := newFake(t, Config{Balance: "1000"})
	_, body, _ := do(t, f, "POST", "/v2/invoices", `{"products":[{"product_id":"steam-usa","value":5}],"payment_method":"balance","auto_pay":true}`, true)
	inv := body["data"].(map[string]any)
	oid := inv["orders"].([]any)[0].(map[string]any)["id"].(string)
	for _, p := range []string{
		"/v2/accounts/balance", "/v2/invoices", "/v2/invoices/" + inv["id"].(string), "/v2/orders", "/v2/orders/" + oid,
		"/v2/orders/" + oid + "/unseal", "/v2/products", "/v2/products/steam-usa", "/v2/check_phone_number?phone_number=%2B525512345678",
		"/v2/orders/nope", "/v2/invoices/nope", "/v2/products/nope", "/v2/whatever",
	} {
		code, body, _ := do(t, f, "GET", p, "", true)
		m, ok := body["meta"].(map[string]any)
		if !ok || !strings.HasPrefix(m["_endpoint"].(string), "/") {
			t.Errorf("%s: no meta._endpoint: %v", p, body)
		}
		if code == 200 {
			if _, ok := body["data"]; !ok {
				t.Errorf("%s: no data", p)
			}
		} else if code != 404 || body["message"] == nil {
			t.Errorf("%s: %d %v", p, code, body)
		}
	}
}

func TestConcurrentCreates(t *testing.T) {
	f := newFake(t, Config{Balance: "1000"})
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			do(t, f, "POST", "/v2/invoices", `{"products":[{"product_id":"steam-usa","value":5}],"payment_method":"balance","auto_pay":true}`, true)
			do(t, f, "GET", "/api/omni?q=*&limit="+strconv.Itoa(i%10+1), "", false)
			_ = f.Requests("", "/")
		}()
	}
	wg.Wait()
	// 50 × 5 USD at 5.00 USD each (USD face value 5 → 4.60 EUR → 5.00 USD).
	if f.Balance() != "750.00" {
		t.Fatalf("balance = %s", f.Balance())
	}
}

func FuzzServeHTTP(f *testing.F) {
	fk, err := New(Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("POST", "/v2/invoices", `{"products":[{"product_id":"steam-usa","value":"5"}],"payment_method":"balance"}`)
	f.Add("POST", "/v2/invoices", `{"products":[{"product_id":"apple-usa","value":1e400}],"payment_method":"balance"}`)
	f.Add("POST", "/v2/invoices", `{"products":[{"product_id":"apple-usa","package_id":"apple-usa<&>1/0"}],"payment_method":"balance"}`)
	f.Add("GET", "/api/omni?q=%ff&limit=1e308&skip=NaN", "")
	f.Add("GET", "/v2/invoices?start=99999999999999999999", "")
	f.Add("POST", "/v2/invoices/..%2F/pay", "garbage")
	f.Add("GET", "/v2/check_phone_number?phone_number=+&operator=%00", "")
	f.Fuzz(func(t *testing.T, method, target, body string) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n\t#") || len(target) > 2000 {
			return
		}
		switch method {
		case "GET", "POST", "PUT", "DELETE":
		default:
			return
		}
		r, err := http.NewRequest(method, "http://fake.local"+target, strings.NewReader(body))
		if err != nil {
			return
		}
		r.SetBasicAuth(DefaultAPIID, DefaultAPISecret)
		w := httptest.NewRecorder()
		fk.ServeHTTP(w, r)
		if w.Code == http.StatusInternalServerError {
			t.Fatalf("%s %s: 500 %s", method, target, w.Body.String())
		}
	})
}
