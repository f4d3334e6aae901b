package fakebitnovo

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestCreateOnchainPerChain(t *testing.T) {
	tests := []struct {
		symbol  string
		amount  string
		addr    string // regexp
		uri     string // regexp
		memo    bool
		crypto  string
		rateStr string
	}{
		{"BTC", "50", `^tb1q[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{38}$`, `^bitcoin:tb1q\w+\?amount=0\.00083333$`, false, "0.00083333", "60000"},
		{"BTC_TEST", "50", `^tb1q[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{38}$`, `^bitcoin:tb1q\w+\?amount=0\.00083333$`, false, "0.00083333", "60000"},
		{"LTC", "10", `^tltc1q[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{38}$`, `^litecoin:tltc1q\w+\?amount=0\.12500000$`, false, "0.12500000", "80"},
		{"BCH", "10", `^bchtest:q[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{41}$`, `^bchtest:q\w+\?amount=0\.02500000$`, false, "0.02500000", "400"},
		{"DASH", "30", `^y\w{33}$`, `^dash:y\w+\?amount=1\.00000000$`, false, "1.00000000", "30"},
		{"ETH", "30", `^0x[0-9a-fA-F]{40}$`, `^ethereum:0x[0-9a-fA-F]{40}@11155111\?value=10000000000000000$`, false, "0.01000000", "3000"},
		{"ETH_TEST", "30", `^0x[0-9a-fA-F]{40}$`, `^ethereum:0x[0-9a-fA-F]{40}@11155111\?value=10000000000000000$`, false, "0.01000000", "3000"},
		{"USDC_ERC20", "9.20", `^0x[0-9a-fA-F]{40}$`, `^ethereum:0x[0-9a-fA-F]{40}@11155111\?amount=10\.000000$`, false, "10.000000", "0.92"},
		{"USDC_POLYGON", "9.20", `^0x[0-9a-fA-F]{40}$`, `^ethereum:0x\w+@80002\?amount=10\.000000$`, false, "10.000000", "0.92"},
		{"USDC_ETH_TEST", "9.20", `^0x[0-9a-fA-F]{40}$`, `^ethereum:0x\w+@11155111\?amount=10\.000000$`, false, "10.000000", "0.92"},
		{"USDT_TRC20", "9.20", `^T\w{33}$`, `^tron:T\w+\?amount=10\.000000$`, false, "10.000000", "0.92"},
		{"XRP", "50", `^r\w{33}$`, `^ripple:r\w+\?amount=100\.000000&dt=\d+$`, true, "100.000000", "0.50"},
		{"XLM", "1", `^G[A-Z2-7]{55}$`, `^stellar:G\w+\?amount=10\.0000000&memo=\d+$`, true, "10.0000000", "0.10"},
		{"ALGO", "1", `^[A-Z2-7]{58}$`, `^algorand:[A-Z2-7]+\?amount=5\.000000&memo=\d+$`, true, "5.000000", "0.20"},
	}
	s := New(Options{PublicURL: "http://127.0.0.1:9999/"})
	for _, tc := range tests {
		t.Run(tc.symbol, func(t *testing.T) {
			rec := call(t, s, http.MethodPost, "/api/v1/orders/", "application/json",
				`{"expected_output_amount":`+tc.amount+`,"input_currency":"`+tc.symbol+`","fiat":"EUR"}`)
			if rec.Code != http.StatusCreated {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			// Exact decimal text on the wire, as a JSON number.
			if want := `"expected_input_amount":` + tc.crypto + `,`; !strings.Contains(rec.Body.String(), want) {
				t.Errorf("body lacks %s: %s", want, rec.Body)
			}
			if want := `"rate":` + tc.rateStr + `,`; !strings.Contains(rec.Body.String(), want) {
				t.Errorf("body lacks %s: %s", want, rec.Body)
			}
			m := decodeObject(t, rec.Body.Bytes())
			addr, _ := m["address"].(string)
			if !regexp.MustCompile(tc.addr).MatchString(addr) {
				t.Errorf("address %q does not match %s", addr, tc.addr)
			}
			uri, _ := m["payment_uri"].(string)
			if !regexp.MustCompile(tc.uri).MatchString(uri) {
				t.Errorf("payment_uri %q does not match %s", uri, tc.uri)
			}
			if !strings.Contains(uri, addr) {
				t.Errorf("payment_uri %q does not contain the address", uri)
			}
			memo, _ := m["tag_memo"].(string)
			if tc.memo {
				if memo == "" || !strings.Contains(uri, "="+memo) {
					t.Errorf("tag_memo %q missing or not in URI %q", memo, uri)
				}
			} else if m["tag_memo"] != nil {
				t.Errorf("tag_memo = %v, want null", m["tag_memo"])
			}
			if m["input_currency"] != tc.symbol || m["status"] != StatusPending {
				t.Errorf("input_currency %v status %v", m["input_currency"], m["status"])
			}
			if !isUUID(m["identifier"].(string)) {
				t.Errorf("identifier %v is not a UUID", m["identifier"])
			}
			web, _ := m["web_url"].(string)
			if !regexp.MustCompile(`^http://127\.0\.0\.1:9999/[A-Za-z0-9]{8}/$`).MatchString(web) {
				t.Errorf("web_url %q", web)
			}
			// The same order always gets the same address.
			if again := fakeAddress(s.bySymbol[tc.symbol], m["identifier"].(string)); again != addr {
				t.Errorf("address not deterministic: %q vs %q", again, addr)
			}
		})
	}
}

func TestCreateGatewayOrder(t *testing.T) {
	clk := newClock()
	s := New(Options{Now: clk.Now, OrderTTL: 10 * time.Minute})
	rec := call(t, s, http.MethodPost, "/api/v1/orders/", "application/json", `{"expected_output_amount":"24","fiat":"EUR"}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	m := decodeObject(t, rec.Body.Bytes())
	for _, k := range []string{"address", "payment_uri", "tag_memo", "input_currency", "expected_input_amount", "rate"} {
		v, present := m[k]
		if !present || v != nil {
			t.Errorf("%s = %v (present %v), want null", k, v, present)
		}
	}
	if m["status"] != StatusNotReady {
		t.Errorf("status %v, want NR", m["status"])
	}
	web, _ := m["web_url"].(string)
	u, err := url.Parse(web)
	if err != nil || u.Host != "sandbox.test" || u.Scheme != "http" {
		t.Fatalf("web_url %q not derived from the request host", web)
	}
	seg := strings.Split(strings.Trim(u.Path, "/"), "/")[0]
	if !regexp.MustCompile(`^[A-Za-z0-9]{4,20}$`).MatchString(seg) {
		t.Errorf("first path segment %q is not 4–20 alphanumerics", seg)
	}
	if m["created_at"] != "2025-01-15T10:30:00.000000Z" || m["expired_at"] != "2025-01-15T10:40:00.000000Z" {
		t.Errorf("created_at %v expired_at %v", m["created_at"], m["expired_at"])
	}
	created, err := time.Parse(time.RFC3339, m["created_at"].(string))
	if err != nil || !created.Equal(clk.Now()) {
		t.Errorf("created_at does not parse as RFC 3339: %v", err)
	}
}

func TestCreateBodyEncodings(t *testing.T) {
	fields := map[string]string{
		"expected_output_amount": "12.50",
		"input_currency":         "LTC",
		"fiat":                   "USD",
		"notes":                  "Coffee & cake",
		"reference":              "order-1234",
		"language":               "ES",
		"merchant_urlok":         "https://shop.example/ok",
		"merchant_urlko":         "https://shop.example/ko",
		"merchant_url_standby":   "https://shop.example/wait",
	}
	mpType, mpBody := multipartBody(t, fields)
	form := url.Values{}
	for k, v := range fields {
		form.Set(k, v)
	}
	js, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, contentType, body string
	}{
		{"multipart", mpType, mpBody},
		{"urlencoded", "application/x-www-form-urlencoded", form.Encode()},
		{"json", "application/json; charset=utf-8", string(js)},
		{"json without content type", "", string(js)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Options{})
			rec := call(t, s, http.MethodPost, "/api/v1/orders/", tc.contentType, tc.body)
			if rec.Code != http.StatusCreated {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			m := decodeObject(t, rec.Body.Bytes())
			want := map[string]any{
				"fiat": "USD", "notes": "Coffee & cake", "reference": "order-1234", "language": "ES",
				"input_currency": "LTC", "expected_input_amount": json.Number("0.15625000"),
			}
			for k, v := range want {
				if m[k] != v {
					t.Errorf("%s = %#v, want %#v", k, m[k], v)
				}
			}
			inf := info(t, s, m["identifier"].(string))
			for k, v := range map[string]string{
				"url_ok": "https://shop.example/ok", "url_ko": "https://shop.example/ko",
				"url_standby": "https://shop.example/wait", "fiat_amount": "12.50",
			} {
				if got := inf[k]; got != v && got != json.Number(v) {
					t.Errorf("info %s = %#v, want %q", k, got, v)
				}
			}
		})
	}
}

func TestCreateLegacyURLNames(t *testing.T) {
	s := New(Options{})
	id := mustCreate(t, s, `{"expected_output_amount":10,"url_ok":"https://a.example/ok","url_ko":"http://a.example/ko"}`)
	inf := info(t, s, id)
	if inf["url_ok"] != "https://a.example/ok" || inf["url_ko"] != "http://a.example/ko" {
		t.Errorf("legacy names not stored: %v %v", inf["url_ok"], inf["url_ko"])
	}
	// The documented names win when both are sent.
	id = mustCreate(t, s, `{"expected_output_amount":10,"url_ok":"https://old.example/","merchant_urlok":"https://new.example/"}`)
	if got := info(t, s, id)["url_ok"]; got != "https://new.example/" {
		t.Errorf("url_ok = %v, want merchant_urlok's value", got)
	}
}

func TestCreateValidation(t *testing.T) {
	long := func(n int) string { return strings.Repeat("é", n) }
	tests := []struct {
		name        string
		contentType string
		body        string
		status      int
		code        string
	}{
		{"missing amount", "application/json", `{"input_currency":"BTC"}`, 404, "MISSING_REQUIRED_FIELD"},
		{"empty amount", "application/x-www-form-urlencoded", `expected_output_amount=&input_currency=BTC`, 404, "MISSING_REQUIRED_FIELD"},
		{"null amount", "application/json", `{"expected_output_amount":null}`, 404, "MISSING_REQUIRED_FIELD"},
		{"empty body", "", ``, 404, "MISSING_REQUIRED_FIELD"},
		{"amount not a number", "application/json", `{"expected_output_amount":"ten"}`, 400, "INVALID_AMOUNT"},
		{"amount fraction syntax", "application/json", `{"expected_output_amount":"1/3"}`, 400, "INVALID_AMOUNT"},
		{"amount huge exponent", "application/json", `{"expected_output_amount":1e999999}`, 400, "INVALID_AMOUNT"},
		{"amount zero", "application/json", `{"expected_output_amount":0}`, 400, "INVALID_AMOUNT"},
		{"amount negative", "application/json", `{"expected_output_amount":-5}`, 400, "INVALID_AMOUNT"},
		{"amount 3 decimals", "application/json", `{"expected_output_amount":1.005}`, 400, "INVALID_AMOUNT"},
		{"amount too large", "application/json", `{"expected_output_amount":1e12}`, 400, "INVALID_AMOUNT"},
		{"amount bool", "application/json", `{"expected_output_amount":true}`, 400, "INVALID_FIELD"},
		{"amount object", "application/json", `{"expected_output_amount":{"v":1}}`, 400, "INVALID_FIELD"},
		{"unknown currency", "application/json", `{"expected_output_amount":10,"input_currency":"DOGE"}`, 404, "INVALID_CURRENCY"},
		{"currency is case-sensitive", "application/json", `{"expected_output_amount":10,"input_currency":"btc"}`, 404, "INVALID_CURRENCY"},
		{"below minimum", "application/json", `{"expected_output_amount":4.99,"input_currency":"BTC"}`, 404, "AMOUNT_BELOW_MINIMUM"},
		{"above maximum", "application/json", `{"expected_output_amount":5000.01,"input_currency":"XRP"}`, 404, "AMOUNT_ABOVE_MAXIMUM"},
		{"above maximum in USD too", "application/json", `{"expected_output_amount":1000.01,"input_currency":"USDC_ETH_TEST","fiat":"USD"}`, 404, "AMOUNT_ABOVE_MAXIMUM"},
		{"fiat lower case", "application/json", `{"expected_output_amount":10,"fiat":"eur"}`, 400, "INVALID_FIAT"},
		{"fiat too long", "application/json", `{"expected_output_amount":10,"fiat":"EURO"}`, 400, "INVALID_FIAT"},
		{"notes too long", "application/json", `{"expected_output_amount":10,"notes":"` + long(257) + `"}`, 400, "INVALID_FIELD"},
		{"reference too long", "application/json", `{"expected_output_amount":10,"reference":"` + long(257) + `"}`, 400, "INVALID_FIELD"},
		{"tag_memo control char", "application/json", `{"expected_output_amount":10,"tag_memo":"a\nb"}`, 400, "INVALID_FIELD"},
		{"javascript url", "application/json", `{"expected_output_amount":10,"merchant_urlok":"javascript:alert(1)"}`, 400, "INVALID_URL"},
		{"legacy url without host", "application/json", `{"expected_output_amount":10,"url_ko":"https://"}`, 400, "INVALID_URL"},
		{"malformed json", "application/json", `{"expected_output_amount":`, 400, "PARSE_ERROR"},
		{"json array", "application/json", `[{"expected_output_amount":10}]`, 400, "PARSE_ERROR"},
		{"json null", "application/json", `null`, 400, "PARSE_ERROR"},
		{"json trailing data", "application/json", `{"expected_output_amount":10}{}`, 400, "PARSE_ERROR"},
		{"multipart without boundary", "multipart/form-data", "--x\r\n", 400, "PARSE_ERROR"},
		{"multipart garbage", "multipart/form-data; boundary=zz", "not multipart", 400, "PARSE_ERROR"},
		{"bad content type", "text/plain", `expected_output_amount=10`, 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"malformed content type", "application/json; =", `{}`, 400, "BAD_REQUEST"},
		{"bad form escape", "application/x-www-form-urlencoded", `expected_output_amount=%zz`, 400, "PARSE_ERROR"},
		{"body too large", "application/json", `{"notes":"` + strings.Repeat("x", maxBodyBytes) + `"}`, 413, "PAYLOAD_TOO_LARGE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Options{})
			rec := call(t, s, http.MethodPost, "/api/v1/orders/", tc.contentType, tc.body)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if code := errorBody(t, rec); code != tc.code {
				t.Errorf("code %q, want %q", code, tc.code)
			}
			if n := s.OrderCount(); n != 0 {
				t.Errorf("%d orders created by a rejected request", n)
			}
		})
	}
}

func TestCreateBoundaries(t *testing.T) {
	tests := []struct {
		name, body string
	}{
		{"exactly minimum", `{"expected_output_amount":5,"input_currency":"BTC"}`},
		{"exactly maximum", `{"expected_output_amount":"5000.00","input_currency":"XRP"}`},
		{"exponent notation", `{"expected_output_amount":5e1,"input_currency":"BTC"}`},
		{"notes of 256 characters", `{"expected_output_amount":10,"notes":"` + strings.Repeat("é", 256) + `"}`},
		{"other fiat", `{"expected_output_amount":10,"fiat":"GBP"}`},
		{"unknown fields ignored", `{"expected_output_amount":10,"order_type":"in","extra":[1,2]}`},
		{"number as string field", `{"expected_output_amount":10,"reference":1234}`},
		{"smallest fiat amount", `{"expected_output_amount":0.01}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Options{})
			createJSON(t, s, tc.body)
		})
	}
}

func TestCreateTagMemoOverride(t *testing.T) {
	s := New(Options{})
	m := createJSON(t, s, `{"expected_output_amount":10,"input_currency":"XLM","tag_memo":"INV 42"}`)
	if m["tag_memo"] != "INV 42" {
		t.Errorf("tag_memo = %v, want the requested one", m["tag_memo"])
	}
	if uri := m["payment_uri"].(string); !strings.Contains(uri, "memo=INV+42") {
		t.Errorf("payment_uri %q lacks the escaped memo", uri)
	}
	// A memo is meaningless for BTC and is not echoed.
	m = createJSON(t, s, `{"expected_output_amount":10,"input_currency":"BTC","tag_memo":"x"}`)
	if m["tag_memo"] != nil {
		t.Errorf("BTC tag_memo = %v, want null", m["tag_memo"])
	}
}
