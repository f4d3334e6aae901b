package fakebitnovo

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func adminCall(t *testing.T, s *Server, remote, method, path, contentType, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, "http://127.0.0.1"+path, strings.NewReader(body))
	req.RemoteAddr = remote
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return serve(s, req)
}

func TestAdminLoopbackOnly(t *testing.T) {
	tests := []struct {
		name, remote string
		hdr          map[string]string
		want         int
	}{
		{"ipv4 loopback", "127.0.0.1:1234", nil, 200},
		{"ipv6 loopback", "[::1]:1234", nil, 200},
		{"other loopback", "127.5.6.7:1", nil, 200},
		{"private network", "10.0.0.1:1234", nil, 403},
		{"public", "203.0.113.9:443", nil, 403},
		{"garbage", "not-an-address", nil, 403},
		{"empty", "", nil, 403},
		{"tunnelled", "127.0.0.1:1234", map[string]string{"X-Forwarded-For": "203.0.113.9"}, 403},
		{"forwarded", "127.0.0.1:1234", map[string]string{"Forwarded": "for=203.0.113.9"}, 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Options{})
			for _, p := range []string{"/_sandbox/orders", "/_sandbox/faults", "/_sandbox/requests"} {
				req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1"+p, nil)
				req.RemoteAddr = tc.remote
				for k, v := range tc.hdr {
					req.Header.Set(k, v)
				}
				rec := serve(s, req)
				if rec.Code != tc.want {
					t.Errorf("%s: status %d, want %d", p, rec.Code, tc.want)
				}
				if tc.want == 403 {
					errorBody(t, rec)
				}
			}
			// A refused write must not take effect.
			req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/_sandbox/faults", strings.NewReader(`{"status":503}`))
			req.RemoteAddr = tc.remote
			req.Header.Set("Content-Type", "application/json")
			for k, v := range tc.hdr {
				req.Header.Set(k, v)
			}
			serve(s, req)
			if n := len(s.Faults()); (n == 1) != (tc.want == 200) {
				t.Errorf("%d faults after POST", n)
			}
		})
	}
}

func TestAdminFaults(t *testing.T) {
	const lo = "127.0.0.1:5000"
	s := New(Options{})
	tests := []struct {
		name, contentType, body string
		want                    int
	}{
		{"valid", "application/json", `{"method":"POST","path":"/api/v1/orders/","status":503,"retry_after":"3","times":1}`, 201},
		{"delay and shape", "application/json", `{"path":"/api/v1/orders/info/","delay_ms":5,"shape":"bare"}`, 201},
		{"unknown shape", "application/json", `{"shape":"round"}`, 400},
		{"bad status", "application/json", `{"status":42}`, 400},
		{"negative delay", "application/json", `{"delay_ms":-1}`, 400},
		{"huge delay", "application/json", `{"delay_ms":3600000}`, 400},
		{"negative times", "application/json", `{"times":-2}`, 400},
		{"unknown field", "application/json", `{"statuss":503}`, 400},
		{"not json", "application/json", `status=503`, 400},
		{"trailing data", "application/json", `{} {}`, 400},
		{"form post (CSRF)", "application/x-www-form-urlencoded", `status=503`, 415},
		{"text/plain (CSRF)", "text/plain", `{"status":503}`, 415},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := adminCall(t, s, lo, http.MethodPost, "/_sandbox/faults", tc.contentType, tc.body)
			if rec.Code != tc.want {
				t.Errorf("status %d, want %d: %s", rec.Code, tc.want, rec.Body)
			}
		})
	}
	rec := adminCall(t, s, lo, http.MethodGet, "/_sandbox/faults", "", "")
	var list []faultJSON
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || len(list) != 2 {
		t.Fatalf("GET faults: %v %s", err, rec.Body)
	}
	if list[0].Status != 503 || list[0].RetryAfter != "3" || list[1].DelayMS != 5 || list[1].Shape != "bare" {
		t.Errorf("faults %+v", list)
	}
	// The fault is live.
	if rec := call(t, s, http.MethodPost, "/api/v1/orders/", "application/json", `{"expected_output_amount":10}`); rec.Code != 503 || rec.Header().Get("Retry-After") != "3" {
		t.Errorf("fault not applied: %d", rec.Code)
	}
	if rec := adminCall(t, s, lo, http.MethodDelete, "/_sandbox/faults", "", ""); rec.Code != 200 {
		t.Errorf("DELETE: %d", rec.Code)
	}
	if n := len(s.Faults()); n != 0 {
		t.Errorf("%d faults after DELETE", n)
	}
	if rec := adminCall(t, s, lo, http.MethodPut, "/_sandbox/faults", "", ""); rec.Code != 405 {
		t.Errorf("PUT: %d", rec.Code)
	}
}

func TestAdminOrders(t *testing.T) {
	const lo = "[::1]:5000"
	rec := &recorder{}
	s := New(Options{OnChange: rec.OnChange})
	id := mustCreate(t, s, `{"expected_output_amount":50}`)
	other := mustCreate(t, s, `{"expected_output_amount":50,"input_currency":"BTC"}`)

	list := adminCall(t, s, lo, http.MethodGet, "/_sandbox/orders", "", "")
	var orders []OrderInfo
	if err := json.Unmarshal(list.Body.Bytes(), &orders); err != nil || len(orders) != 2 || orders[0].Identifier != id {
		t.Fatalf("GET orders: %v %s", err, list.Body)
	}

	tests := []struct {
		name, method, path, body string
		want                     int
		status                   string // order status afterwards ("" = skip)
	}{
		{"choose currency", "POST", "/_sandbox/orders/" + id + "/currency", `{"symbol":"LTC"}`, 200, "PE"},
		{"pay full", "POST", "/_sandbox/orders/" + id + "/pay", `{"outcome":"full"}`, 200, "CO"},
		{"pay again", "POST", "/_sandbox/orders/" + id + "/pay", `{"outcome":"full"}`, 409, "CO"},
		{"bad outcome", "POST", "/_sandbox/orders/" + other + "/pay", `{"outcome":"maybe"}`, 400, "PE"},
		{"set status", "POST", "/_sandbox/orders/" + other + "/status", `{"status":"AC"}`, 200, "AC"},
		{"illegal status", "POST", "/_sandbox/orders/" + other + "/status", `{"status":"NR"}`, 409, "AC"},
		{"unknown status", "POST", "/_sandbox/orders/" + other + "/status", `{"status":"ZZ"}`, 400, "AC"},
		{"get one", "GET", "/_sandbox/orders/" + other, "", 200, "AC"},
		{"unknown order", "POST", "/_sandbox/orders/00000000-0000-4000-8000-000000000000/pay", `{"outcome":"full"}`, 404, ""},
		{"unknown order get", "GET", "/_sandbox/orders/nope", "", 404, ""},
		{"unknown action", "POST", "/_sandbox/orders/" + other + "/refund", `{}`, 404, "AC"},
		{"wrong method", "GET", "/_sandbox/orders/" + other + "/pay", "", 405, "AC"},
		{"unknown admin path", "GET", "/_sandbox/nothing", "", 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ct := ""
			if tc.body != "" {
				ct = "application/json"
			}
			r := adminCall(t, s, lo, tc.method, tc.path, ct, tc.body)
			if r.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", r.Code, tc.want, r.Body)
			}
			if r.Code >= 400 {
				errorBody(t, r)
			}
			if r.Code == 200 {
				var inf OrderInfo
				if err := json.Unmarshal(r.Body.Bytes(), &inf); err != nil || inf.Status != tc.status {
					t.Errorf("answer %v %s", err, r.Body)
				}
			}
			if tc.status != "" {
				oid := id
				if strings.Contains(tc.path, other) {
					oid = other
				}
				if inf, _ := s.Order(oid); inf.Status != tc.status {
					t.Errorf("order status %s, want %s", inf.Status, tc.status)
				}
			}
		})
	}
	if got := strings.Join(rec.statuses(), ","); got != "PE,AC,CO,AC" {
		t.Errorf("notifications %s", got)
	}
}

func TestAdminRequests(t *testing.T) {
	s := New(Options{})
	for range 3 {
		call(t, s, http.MethodPost, "/api/v1/orders/", "application/json", `{"expected_output_amount":10}`)
	}
	call(t, s, http.MethodPost, "/api/v1/orders", "application/json", `{}`)
	call(t, s, http.MethodGet, "/api/v1/currencies", "", "")
	tests := []struct {
		query string
		want  int
	}{
		{"method=POST&path=/api/v1/orders/", 3},
		{"method=post&path=/api/v1/orders", 4},
		{"path=/api/", 5},
		{"method=GET", 1},
		{"", 5},
		{"method=DELETE", 0},
	}
	for _, tc := range tests {
		rec := adminCall(t, s, "127.0.0.1:1", http.MethodGet, "/_sandbox/requests?"+tc.query, "", "")
		var got struct{ Count int }
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.Count != tc.want {
			t.Errorf("%s: %s, want count %d", tc.query, rec.Body, tc.want)
		}
	}
	// Admin calls above were not counted.
	if n := s.Requests("", "/"); n != 5 {
		t.Errorf("Requests(all) = %d, want 5", n)
	}
}

func TestRequestCountersAreBounded(t *testing.T) {
	s := New(Options{})
	const n = maxRequestKeys + 500
	for i := range n {
		call(t, s, http.MethodGet, fmt.Sprintf("/api/v1/orders/info/x%d", i), "", "")
	}
	call(t, s, "BREW", "/coffee", "", "")
	s.mu.Lock()
	keys := len(s.requests)
	s.mu.Unlock()
	if keys > maxRequestKeys+2 {
		t.Errorf("%d request counters, want ≤ %d", keys, maxRequestKeys+2)
	}
	if got := s.Requests(http.MethodGet, "/api/v1/orders/info/"); got != n {
		t.Errorf("count under the collapsed prefix = %d, want %d", got, n)
	}
	if got := s.Requests("OTHER", "/"); got != 1 {
		t.Errorf("unknown method counted as OTHER: %d", got)
	}
}

func TestCheckoutPage(t *testing.T) {
	clk := newClock()
	s := New(Options{Now: clk.Now})
	m := createJSON(t, s, `{"expected_output_amount":"12.50","fiat":"USD","input_currency":"XRP","notes":"<script>alert(1)</script>"}`)
	short := strings.Split(strings.TrimPrefix(m["web_url"].(string), "http://sandbox.test/"), "/")[0]
	for _, p := range []string{"/" + short + "/", "/" + short} {
		rec := call(t, s, http.MethodGet, p, "", "")
		if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
			t.Fatalf("%s: %d %q", p, rec.Code, rec.Header().Get("Content-Type"))
		}
		body := rec.Body.String()
		for _, want := range []string{"<!DOCTYPE html>", "12.50", "USD", ">PE<", m["identifier"].(string),
			"25.000000 XRP", m["address"].(string), m["tag_memo"].(string), "&lt;script&gt;"} {
			if !strings.Contains(body, want) {
				t.Errorf("page lacks %q", want)
			}
		}
		if strings.Contains(body, "<script>") {
			t.Error("notes not escaped")
		}
	}
	clk.Advance(time.Hour)
	if body := call(t, s, http.MethodGet, "/"+short+"/", "", "").Body.String(); !strings.Contains(body, ">EX<") {
		t.Error("checkout page does not show expiry")
	}
	if rec := call(t, s, http.MethodPost, "/"+short+"/", "", ""); rec.Code != 405 {
		t.Errorf("POST: %d", rec.Code)
	}
	if rec := call(t, s, http.MethodGet, "/abc/", "", ""); rec.Code != 404 {
		t.Errorf("too short id: %d", rec.Code)
	}
}

func TestConcurrentUse(t *testing.T) {
	rec := &recorder{}
	s := New(Options{OnChange: rec.OnChange})
	const workers, each = 8, 25
	var wg sync.WaitGroup
	ids := make(chan string, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				body := `{"expected_output_amount":50,"input_currency":"BTC"}`
				if (w+i)%2 == 0 {
					body = `{"expected_output_amount":50}`
				}
				req := mustNewRequest(t, http.MethodPost, "/api/v1/orders/", body)
				r := serve(s, req)
				if r.Code != http.StatusCreated {
					t.Errorf("create: %d", r.Code)
					return
				}
				var m struct{ Identifier string }
				if err := json.Unmarshal(r.Body.Bytes(), &m); err != nil {
					t.Error(err)
					return
				}
				ids <- m.Identifier
				_ = s.Pay(m.Identifier, OutcomeFull)
				serve(s, mustNewRequest(t, http.MethodGet, "/api/v1/orders/info/"+m.Identifier, ""))
				s.Orders()
				s.Requests("POST", "/api/")
				if i%5 == 0 {
					s.AddFault(Fault{Path: "/nothing", Times: 1})
				}
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			s.Faults()
			s.ClearFaults()
			serve(s, mustNewRequest(t, http.MethodGet, "/api/v1/currencies", ""))
		}
	})
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		if seen[id] {
			t.Errorf("duplicate identifier %s", id)
		}
		seen[id] = true
	}
	if s.OrderCount() != workers*each || len(seen) != workers*each {
		t.Errorf("OrderCount %d, unique ids %d", s.OrderCount(), len(seen))
	}
	if n := s.Requests(http.MethodPost, "/api/v1/orders/"); n != workers*each {
		t.Errorf("POST count %d", n)
	}
	for _, o := range s.Orders() {
		if o.Status != StatusCompleted {
			t.Errorf("%s is %s", o.Identifier, o.Status)
		}
	}
}
