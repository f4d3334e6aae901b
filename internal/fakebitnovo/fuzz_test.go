package fakebitnovo

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzCreateOrder feeds arbitrary bodies and content types to the E1
// parser, validator and handler. It checks that nothing panics, that every
// answer is JSON with the right status class, and that an accepted order is
// consistent with its request.
func FuzzCreateOrder(f *testing.F) {
	seeds := []struct{ contentType, body string }{
		{"application/json", `{"expected_output_amount":50,"input_currency":"BTC"}`},
		{"application/json", `{"expected_output_amount":"12.50","fiat":"USD","notes":"x","merchant_urlok":"https://a.b/"}`},
		{"application/json", `{"expected_output_amount":1e999}`},
		{"application/json", `{"expected_output_amount":null,"input_currency":["BTC"]}`},
		{"application/json", `[]`},
		{"application/x-www-form-urlencoded", "expected_output_amount=10&input_currency=XRP&tag_memo=7"},
		{"application/x-www-form-urlencoded", "expected_output_amount=%ff&fiat=%00"},
		{"multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"expected_output_amount\"\r\n\r\n5\r\n--b--\r\n"},
		{"multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a\"\r\n\r\nx\r\n--b--"},
		{"", ""},
		{"text/plain", "hello"},
		{"application/json; charset=\"", "{}"},
	}
	for _, s := range seeds {
		f.Add(s.contentType, s.body)
	}
	srv := New(Options{})
	f.Fuzz(func(t *testing.T, contentType, body string) {
		fields, aerr := parseCreateBody(contentType, []byte(body))
		if aerr != nil {
			if aerr.status < 400 || aerr.status > 499 {
				t.Fatalf("parse error with status %d", aerr.status)
			}
		} else {
			p, verr := srv.validateCreate(fields)
			if verr == nil {
				if p.amount.Sign() <= 0 || !isFiatCode(p.fiat) || !p.amount.FitsScale(2) {
					t.Fatalf("accepted invalid params %+v", p)
				}
				if sym := fields["input_currency"]; sym != "" && (p.entry == nil || p.entry.Symbol != sym) {
					t.Fatalf("currency %q not applied", sym)
				}
			}
		}

		req := httptest.NewRequest(http.MethodPost, "http://sandbox.test/api/v1/orders/", strings.NewReader(body))
		req.Header.Set("X-Device-Id", testDevice)
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("answer is not JSON: %q", rec.Body)
		}
		switch {
		case rec.Code == http.StatusCreated:
			var m map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
			id, _ := m["identifier"].(string)
			if !isUUID(id) {
				t.Fatalf("identifier %v", m["identifier"])
			}
			if _, err := srv.Order(id); err != nil {
				t.Fatal(err)
			}
		case rec.Code >= 400 && rec.Code < 500:
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	})
}
