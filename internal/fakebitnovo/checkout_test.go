package fakebitnovo

import (
	"bytes"
	"encoding/json"
	"image/png"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/makiuchi-d/gozxing"
	gzqr "github.com/makiuchi-d/gozxing/qrcode"
)

// shortOf returns the short id of a created order.
func shortOf(t *testing.T, m map[string]any) string {
	t.Helper()
	u, _ := m["web_url"].(string)
	short, ok := checkoutShortID(strings.TrimPrefix(u, "http://sandbox.test"))
	if !ok {
		t.Fatalf("web_url %q", u)
	}
	return short
}

func pageState(t *testing.T, s *Server, short string) checkoutState {
	t.Helper()
	rec := call(t, s, http.MethodGet, "/"+short+"/status", "", "")
	if rec.Code != 200 {
		t.Fatalf("status: %d %s", rec.Code, rec.Body)
	}
	var st checkoutState
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestCheckoutSimulate(t *testing.T) {
	const redirect = `{"expected_output_amount":"24.00","fiat":"EUR"}`
	type step struct {
		body     string
		code     int
		status   string // after the step
		currency string
	}
	tests := []struct {
		name     string
		steps    []step
		timeline []string
	}{
		{"pay in full assigns BTC", []step{{`{"action":"pay"}`, 200, "CO", "BTC"}}, []string{"NR", "PE", "AC", "CO"}},
		{"pay in the picked currency", []step{{`{"action":"pay","currency":"ETH"}`, 200, "CO", "ETH"}}, []string{"NR", "PE", "AC", "CO"}},
		{"choose then underpay then pay", []step{
			{`{"action":"choose","currency":"LTC"}`, 200, "PE", "LTC"},
			{`{"action":"underpay"}`, 200, "IA", "LTC"},
			{`{"action":"underpay"}`, 409, "IA", "LTC"},
			{`{"action":"pay"}`, 200, "CO", "LTC"},
		}, []string{"NR", "PE", "IA", "AC", "CO"}},
		{"expire", []step{{`{"action":"expire"}`, 200, "EX", ""}, {`{"action":"pay"}`, 409, "EX", ""}}, []string{"NR", "EX"}},
		{"cancel", []step{{`{"action":"cancel"}`, 200, "CA", ""}, {`{"action":"cancel"}`, 409, "CA", ""}}, []string{"NR", "CA"}},
		{"bad requests change nothing", []step{
			{`{"action":"refund"}`, 400, "NR", ""},
			{`{"action":"choose","currency":"DOGE"}`, 400, "NR", ""},
			{`{"action":"choose","currency":"XRP","extra":1}`, 400, "NR", ""},
		}, []string{"NR"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			s := New(Options{OnChange: rec.OnChange})
			short := shortOf(t, createJSON(t, s, redirect))
			for i, st := range tc.steps {
				r := call(t, s, http.MethodPost, "/"+short+"/simulate", "application/json", st.body)
				if r.Code != st.code {
					t.Fatalf("step %d %s: %d %s", i, st.body, r.Code, r.Body)
				}
				if r.Code == http.StatusConflict && !strings.Contains(r.Body.String(), "Cannot ") {
					t.Errorf("step %d: 409 without a message: %s", i, r.Body)
				}
				got := pageState(t, s, short)
				if got.Status != st.status || got.Currency != st.currency {
					t.Errorf("step %d: %s %q, want %s %q", i, got.Status, got.Currency, st.status, st.currency)
				}
				if got.Final != pageFinal(st.status) || got.Meaning != statusNames[st.status][1] {
					t.Errorf("step %d: final %v meaning %q", i, got.Final, got.Meaning)
				}
			}
			var timeline []string
			for _, e := range pageState(t, s, short).Timeline {
				timeline = append(timeline, e.Status)
			}
			if diff := cmp.Diff(tc.timeline, timeline); diff != "" {
				t.Errorf("timeline (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.timeline[1:], append([]string{}, rec.statuses()...)); diff != "" {
				t.Errorf("OnChange (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckoutSimulateRules(t *testing.T) {
	s := New(Options{})
	short := shortOf(t, createJSON(t, s, `{"expected_output_amount":"3.00"}`))
	path := "/" + short + "/simulate"

	req := mustNewRequest(t, http.MethodPost, path, `{"action":"cancel"}`)
	req.RemoteAddr = "203.0.113.9:5555"
	if rec := serve(s, req); rec.Code != 403 {
		t.Errorf("remote: %d", rec.Code)
	}
	req = mustNewRequest(t, http.MethodPost, path, `{"action":"cancel"}`)
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	if rec := serve(s, req); rec.Code != 403 {
		t.Errorf("proxied: %d", rec.Code)
	}
	if rec := call(t, s, http.MethodPost, path, "text/plain", `{"action":"cancel"}`); rec.Code != 415 {
		t.Errorf("text/plain: %d", rec.Code)
	}
	if rec := call(t, s, http.MethodGet, path, "", ""); rec.Code != 405 {
		t.Errorf("GET simulate: %d", rec.Code)
	}
	if rec := call(t, s, http.MethodPost, "/"+short+"/status", "application/json", `{}`); rec.Code != 405 {
		t.Errorf("POST status: %d", rec.Code)
	}
	if rec := call(t, s, http.MethodPost, "/ZZZZZZZZ/simulate", "application/json", `{"action":"cancel"}`); rec.Code != 404 {
		t.Errorf("unknown order: %d", rec.Code)
	}
	if rec := call(t, s, http.MethodGet, "/ZZZZZZZZ/status", "", ""); rec.Code != 404 {
		t.Errorf("unknown order status: %d", rec.Code)
	}
	// 3 EUR is below BTC's 5 EUR minimum.
	rec := call(t, s, http.MethodPost, path, "application/json", `{"action":"pay","currency":"BTC"}`)
	if rec.Code != 409 || !strings.Contains(rec.Body.String(), "outside its limits") {
		t.Errorf("out of range: %d %s", rec.Code, rec.Body)
	}
	// The control endpoints are not counted as API requests and ignore faults.
	s.AddFault(Fault{Path: "/", Status: 500})
	if rec := call(t, s, http.MethodGet, "/"+short+"/status", "", ""); rec.Code != 200 {
		t.Errorf("status under a fault: %d", rec.Code)
	}
	s.ClearFaults()
	if n := s.Requests("", "/"+short); n != 0 {
		t.Errorf("%d control requests counted", n)
	}
}

func TestCheckoutPageContents(t *testing.T) {
	s := New(Options{})
	m := createJSON(t, s, `{"expected_output_amount":"3.00","fiat":"EUR"}`)
	short := shortOf(t, m)
	rec := call(t, s, http.MethodGet, "/"+short+"/", "", "")
	if rec.Code != 200 {
		t.Fatalf("page: %d", rec.Code)
	}
	body := rec.Body.String()
	for _, id := range []string{"status", "status-text", "pay-full", "underpay", "expire", "cancel", "timeline", "currency", "choose", "message"} {
		if !strings.Contains(body, `id="`+id+`"`) {
			t.Errorf("page lacks #%s", id)
		}
	}
	for _, want := range []string{"Bitnovo Pay — sandbox", "3.00", ">NR<", statusNames["NR"][1], `data-status="NR"`,
		`<option value="LTC" selected>`, `<option value="XRP">`, "Pay in full", "Underpay", "Let it expire", "Cancel"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// The picker offers only currencies whose limits admit 3 EUR (BTC's
	// minimum is 5 EUR).
	if strings.Contains(body, `value="BTC"`) {
		t.Error("BTC offered for 3 EUR")
	}
	// No external resources; the inline script carries the CSP nonce.
	if regexp.MustCompile(`(?i)(src|href)="(https?:)?//`).MatchString(body) {
		t.Error("page references an external resource")
	}
	csp := rec.Header().Get("Content-Security-Policy")
	nonce := regexp.MustCompile(`'nonce-([^']+)'`).FindStringSubmatch(csp)
	if nonce == nil || !strings.Contains(body, `<script nonce="`+nonce[1]+`">`) {
		t.Errorf("CSP %q does not match the script's nonce", csp)
	}
	if !strings.Contains(csp, "connect-src 'self'") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
	// A final order renders with the buttons disabled.
	if r := call(t, s, http.MethodPost, "/"+short+"/simulate", "application/json", `{"action":"cancel"}`); r.Code != 200 {
		t.Fatal(r.Code)
	}
	body = call(t, s, http.MethodGet, "/"+short+"/", "", "").Body.String()
	if n := strings.Count(body, " disabled>"); n != 4 {
		t.Errorf("%d disabled buttons on a cancelled order, want 4", n)
	}
	if strings.Contains(body, `id="picker">`) {
		t.Error("picker shown on a cancelled order")
	}
}

// An unknown checkout link is a page a person can read, not raw JSON.
func TestCheckoutNotFoundPage(t *testing.T) {
	s := New(Options{})
	rec := call(t, s, http.MethodGet, "/ZZZZZZZZ/", "", "")
	if rec.Code != http.StatusNotFound || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("%d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	body := rec.Body.String()
	for _, want := range []string{"<title>Payment not found", "There is no payment at this address", "Test payment"} {
		if !strings.Contains(body, want) {
			t.Errorf("404 page lacks %q", want)
		}
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
	if rec := call(t, s, http.MethodHead, "/ZZZZZZZZ/", "", ""); rec.Code != http.StatusNotFound || rec.Body.Len() != 0 {
		t.Errorf("HEAD: %d, %d bytes", rec.Code, rec.Body.Len())
	}
}

// The page's QR image encodes exactly the payment URI, and decodes without
// the forgiving TryHarder mode.
func TestCheckoutQRImage(t *testing.T) {
	s := New(Options{})
	for _, sym := range []string{"ETH", "XRP", "BCH", "USDC_POLYGON"} {
		m := createJSON(t, s, `{"expected_output_amount":"42.50","input_currency":"`+sym+`"}`)
		rec := call(t, s, http.MethodGet, "/"+shortOf(t, m)+"/qr.png", "", "")
		if rec.Code != 200 || rec.Header().Get("Content-Type") != "image/png" {
			t.Fatalf("%s: %d %q", sym, rec.Code, rec.Header().Get("Content-Type"))
		}
		img, err := png.Decode(bytes.NewReader(rec.Body.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		bmp, err := gozxing.NewBinaryBitmapFromImage(img)
		if err != nil {
			t.Fatal(err)
		}
		res, err := gzqr.NewQRCodeReader().Decode(bmp, nil)
		if err != nil {
			t.Fatalf("%s: decode: %v", sym, err)
		}
		if got, want := res.GetText(), m["payment_uri"]; got != want {
			t.Errorf("%s: QR says %q, payment_uri %q", sym, got, want)
		}
	}
	gateway := createJSON(t, s, `{"expected_output_amount":"42.50"}`)
	if rec := call(t, s, http.MethodGet, "/"+shortOf(t, gateway)+"/qr.png", "", ""); rec.Code != 404 {
		t.Errorf("QR before a currency is chosen: %d", rec.Code)
	}
	if rec := call(t, s, http.MethodGet, "/ZZZZZZZZ/qr.png", "", ""); rec.Code != 404 {
		t.Errorf("QR of an unknown order: %d", rec.Code)
	}
}

// The page of an on-chain order shows what a customer needs: the QR,
// amount and address with copy buttons, a countdown, amounts at the
// currency's decimals, an aria-live status, and the test controls marked.
func TestCheckoutPagePaysLikeACheckout(t *testing.T) {
	clock := newClock()
	s := New(Options{Now: clock.Now})
	m := createJSON(t, s, `{"expected_output_amount":"42.50","input_currency":"ETH"}`)
	short := shortOf(t, m)
	body := call(t, s, http.MethodGet, "/"+short+"/", "", "").Body.String()
	for _, want := range []string{
		`<img id="qr" src="/` + short + `/qr.png"`,
		`data-amount="0.01416667">0.01416667 ETH</span>`, // not 0.014166666666666667
		`id="copy-amount"`, `id="copy-address"`, `<code id="address">` + m["address"].(string) + `</code>`,
		`role="timer"`, `>15:00</time>`,
		`id="status-box" class="status" role="status" aria-live="polite"`,
		`<fieldset class="test-controls" id="test-controls">`, `<legend>Test controls · sandbox only</legend>`,
		`<title>Test payment · 42.50 EUR`, `id="test-banner"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(body, "0.014166666666666667") {
		t.Error("page shows the amount to the wei")
	}

	clock.Advance(5*time.Minute + 30*time.Second)
	if st := pageState(t, s, short); st.SecondsLeft != 570 {
		t.Errorf("seconds_left after 5m30s = %d, want 570", st.SecondsLeft)
	}
	if body := call(t, s, http.MethodGet, "/"+short+"/", "", "").Body.String(); !strings.Contains(body, ">09:30</time>") {
		t.Error("countdown not 09:30 after 5m30s")
	}
	clock.Advance(10 * time.Minute)
	if st := pageState(t, s, short); st.SecondsLeft != 0 || st.Status != StatusExpired {
		t.Errorf("after the window: %d s left, %s", st.SecondsLeft, st.Status)
	}
}

func TestCountdown(t *testing.T) {
	for sec, want := range map[int]string{0: "00:00", 59: "00:59", 900: "15:00", 3599: "59:59", 3600: "1:00:00", 7384: "2:03:04"} {
		if got := countdown(sec); got != want {
			t.Errorf("countdown(%d) = %q, want %q", sec, got, want)
		}
	}
}
