package bitrefill

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

func TestDecimalJSON(t *testing.T) {
	tests := []struct {
		in      string
		want    Decimal
		wantErr bool
	}{
		{`12.50`, "12.50", false},
		{`"12.50"`, "12.50", false},
		{`0.00000001`, "0.00000001", false},
		{`1234.567890123456789012`, "1234.567890123456789012", false},
		{`1e-8`, "1e-8", false},
		{`null`, "", false},
		{`""`, "", false},
		{`" 7 "`, "7", false},
		{`"ten"`, "", true},
		{`"1,000"`, "", true},
		{`"NaN"`, "", true},
		{`"+5"`, "", true},
		{`"0012"`, "", true},
		{`true`, "", true},
		{`{}`, "", true},
	}
	for _, tt := range tests {
		var d Decimal
		err := json.Unmarshal([]byte(tt.in), &d)
		if (err != nil) != tt.wantErr || (err == nil && d != tt.want) {
			t.Errorf("Unmarshal(%s) = %q, %v; want %q, err %v", tt.in, d, err, tt.want, tt.wantErr)
		}
	}
	b, err := json.Marshal(struct {
		A Decimal `json:"a"`
		B Decimal `json:"b"`
		C Decimal `json:"c,omitempty"`
	}{A: "0.10000000000000000001", B: ""})
	if err != nil || string(b) != `{"a":0.10000000000000000001,"b":null}` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	if _, err := json.Marshal(Decimal("1; DROP")); err == nil {
		t.Fatal("invalid decimal marshalled")
	}
	if Decimal("0.10").Cmp("0.1") != 0 || Decimal("2").Cmp("10") != -1 || !Decimal("0.000").IsZero() || Decimal("1e99999").IsZero() != true {
		t.Fatal("Cmp/IsZero")
	}
}

func TestRetryAfterHeaders(t *testing.T) {
	now := time.Date(2025, 3, 30, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		h    map[string]string
		want time.Duration
	}{
		{map[string]string{"Retry-After": "3"}, 3 * time.Second},
		{map[string]string{"Retry-After": now.Add(10 * time.Second).Format(http.TimeFormat)}, 10 * time.Second},
		{map[string]string{"Retry-After": now.Add(-10 * time.Second).Format(http.TimeFormat)}, 0},
		{map[string]string{"RateLimit-Reset": "5"}, 5 * time.Second},
		{map[string]string{"ratelimit-reset": "2"}, 2 * time.Second},
		{map[string]string{"X-RateLimit-Reset": "7"}, 7 * time.Second},
		{map[string]string{"X-RateLimit-Reset": "1743336020"}, 20 * time.Second}, // Unix time
		{map[string]string{"RateLimit": `"default";r=0;t=4, limit=100, remaining=0, reset=4`}, 4 * time.Second},
		{map[string]string{"Retry-After": "soon"}, 0},
		{map[string]string{"Retry-After": "-1"}, 0},
		{nil, 0},
	}
	for _, tt := range tests {
		h := http.Header{}
		for k, v := range tt.h {
			h.Set(k, v)
		}
		if got := retryAfter(h, now); got != tt.want {
			t.Errorf("retryAfter(%v) = %s, want %s", tt.h, got, tt.want)
		}
	}
}

func TestBackoffBounded(t *testing.T) {
	c, err := New(Options{RetryBaseDelay: 100 * time.Millisecond, RetryMaxDelay: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for attempt := range 70 {
		d := c.backoff(attempt)
		if d < 50*time.Millisecond || d > time.Second {
			t.Fatalf("backoff(%d) = %s", attempt, d)
		}
	}
}

func TestConstants(t *testing.T) {
	pm := PaymentMethods()
	want := []string{"balance", "lightning", "bitcoin", "eth_base", "usdc_base"}
	if len(pm) != len(want) {
		t.Fatalf("PaymentMethods = %v", pm)
	}
	for i := range want {
		if pm[i] != want[i] {
			t.Fatalf("PaymentMethods = %v", pm)
		}
	}
	pm[0] = "mutated"
	if PaymentMethods()[0] != "balance" {
		t.Fatal("PaymentMethods shares state")
	}
	total := 0
	for _, pt := range ProductTypes() {
		cats, ok := Categories(pt)
		if !ok {
			t.Fatalf("no categories for %s", pt)
		}
		total += len(cats)
	}
	if total != 60 {
		t.Fatalf("categories = %d, want 60", total)
	}
	if _, ok := Categories("gift-cards"); ok {
		t.Fatal("unknown type accepted")
	}
}

// Fuzz targets for every decoder of outside input. In normal runs only the
// seeds run; `go test -fuzz=FuzzDecodeV2 ./internal/bitrefill` explores.

func FuzzDecodeSearch(f *testing.F) {
	for _, s := range []string{
		`{"products":[{"id":"a","name":"A","range":{"min":"1","max":2,"step":1}}],"totalCount":1}`,
		`{"products":null}`, `{"products":{}}`, `{"totalCount":"x"}`, `[]`, `{"products":[1]}`,
		`{"products":[{"cashbackPercentage":"x"}]}`, `{"categories":{"a":[1]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := DecodeSearchResponse(b)
		if err == nil {
			res.Limit = 25
			res.finishPaging()
			if res.HasMore && res.NextSkip <= res.Skip {
				t.Fatalf("NextSkip %d does not advance", res.NextSkip)
			}
		}
	})
}

func FuzzDecodeProductDetail(f *testing.F) {
	for _, s := range []string{
		`{"_id":"a","slug":"a","packages":[{"value":"5","amount":5,"eurValue":"4.6","eurPrice":4.6,"usdPrice":5,"prices":{"BTC":"0.0001"}}]}`,
		`{"_id":"a","packages":[{"display":null,"amount":"x"}]}`, `{}`, `null`, `{"ratings":{"reviews":[{}]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := DecodeProductDetail(b)
		if err == nil {
			for _, p := range d.Packages {
				if _, err := json.Marshal(p.Amount); err != nil {
					t.Fatalf("decoded decimal does not re-encode: %v", err)
				}
			}
		}
	})
}

func FuzzDecodeV2(f *testing.F) {
	for _, s := range []string{
		`{"meta":{"_endpoint":"/invoices","start":0,"limit":2,"_next":"https://x/v2/invoices?start=2&limit=2"},"data":[{"id":"i","payment":{"price":"1.5"},"orders":[{"id":"o","delivered_time":null}]}]}`,
		`{"meta":{"id":"o"},"data":{"id":"o","code":"C","pin":"1","redemption_info":"x"}}`,
		`{"meta":{},"data":{"balance":"12.3","currency":"USD"}}`,
		`{"meta":{"_endpoint":"/ping"},"message":"pong"}`,
		`{"meta":{},"operator_found":false,"data":null}`,
		`{"meta":{"_next":"::bad"},"data":[]}`, `{"data":null}`, `{"meta":[]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p := ListParams{Limit: 10}
		if l, err := DecodeInvoiceList(b, p); err == nil && l.HasMore && (l.NextParams.Start < 0 || l.NextParams.Limit > MaxListLimit) {
			t.Fatalf("bad next params %+v", l.NextParams)
		}
		_, _ = DecodeOrderList(b, p)
		_, _ = DecodeProductList(b, p)
		_, _ = DecodeInvoiceResult(b)
		_, _ = DecodeOrderResult(b)
		if u, err := DecodeUnsealResult(b); err == nil {
			_ = u.String()
		}
		_, _ = DecodeBalance(b)
		_, _ = DecodePing(b)
		_, _ = DecodeProductResult(b)
		_, _ = DecodePhoneNumberResult(b)
	})
}

func FuzzAPIError(f *testing.F) {
	for _, s := range []string{`{"message":"m","error_code":"c"}`, `{"error":"x"}`, `{"error":{"message":"y","code":1}}`, "text", "<html>", `{"errors":[{"message":"z"}]}`} {
		f.Add(403, []byte(s))
	}
	f.Fuzz(func(t *testing.T, status int, b []byte) {
		e := newAPIError("GET", "/x", status, b, 0, true)
		if len(e.Body) > maxErrorBody*3 || len(e.Message) > 600 {
			t.Fatalf("unbounded error: %d %d", len(e.Body), len(e.Message))
		}
		_ = e.Error()
	})
}
