package fakebitnovo

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestFaultStatusAndRetryAfter(t *testing.T) {
	tests := []struct {
		name       string
		fault      Fault
		method     string
		path       string
		wantStatus int
		wantCode   string
		wantBody   string // exact raw body when set
		retryAfter string
		created    int // orders after the request
	}{
		{"503 on create", Fault{Method: "POST", Path: "/api/v1/orders/", Status: 503, RetryAfter: "2"},
			"POST", "/api/v1/orders/", 503, "SERVICE_UNAVAILABLE", "", "2", 0},
		{"429 anywhere", Fault{Status: 429, RetryAfter: "7"},
			"GET", "/api/v1/currencies", 429, "THROTTLED", "", "7", 0},
		{"500", Fault{Status: 500}, "POST", "/api/v1/orders/", 500, "HTTP_500", "", "", 0},
		{"404 on E3", Fault{Path: "/api/v1/orders/", Status: 404}, "GET", "/api/v1/orders/{id}", 404, "NOT_FOUND", "", "", 0},
		{"405 on E3", Fault{Path: "/api/v1/orders/", Status: 405}, "GET", "/api/v1/orders/{id}", 405, "METHOD_NOT_ALLOWED", "", "", 0},
		{"raw body", Fault{Status: 502, Body: `<html>bad gateway</html>`}, "GET", "/api/v1/currencies", 502, "", `<html>bad gateway</html>`, "", 0},
		{"raw body with 200", Fault{Body: `{"weird":true}`}, "POST", "/api/v1/orders/", 200, "", `{"weird":true}`, "", 0},
		{"method mismatch", Fault{Method: "GET", Status: 503}, "POST", "/api/v1/orders/", 201, "", "", "", 1},
		{"path mismatch", Fault{Path: "/api/v1/currencies", Status: 503}, "POST", "/api/v1/orders/", 201, "", "", "", 1},
		{"method case-insensitive", Fault{Method: "post", Status: 503}, "POST", "/api/v1/orders/", 503, "SERVICE_UNAVAILABLE", "", "", 0},
		{"empty path means API only", Fault{Status: 503}, "GET", "/health", 200, "", "", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Options{})
			s.AddFault(tc.fault)
			path := strings.ReplaceAll(tc.path, "{id}", "00000000-0000-4000-8000-000000000000")
			rec := call(t, s, tc.method, path, "application/json", `{"expected_output_amount":10}`)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.wantStatus, rec.Body)
			}
			if got := rec.Header().Get("Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, tc.retryAfter)
			}
			if tc.wantCode != "" {
				if code := errorBody(t, rec); code != tc.wantCode {
					t.Errorf("code %q, want %q", code, tc.wantCode)
				}
			}
			if tc.wantBody != "" && rec.Body.String() != tc.wantBody {
				t.Errorf("body %q, want %q", rec.Body, tc.wantBody)
			}
			if n := s.OrderCount(); n != tc.created {
				t.Errorf("%d orders, want %d", n, tc.created)
			}
			if n := s.Requests(tc.method, path); n != 1 {
				t.Errorf("Requests = %d, want 1 (counted before faults)", n)
			}
		})
	}
}

func TestFaultTimesAndOrder(t *testing.T) {
	s := New(Options{})
	s.AddFault(Fault{Path: "/api/v1/currencies", Status: 503, Times: 2})
	s.AddFault(Fault{Path: "/api/v1/currencies", Status: 429}) // shadowed while the first lasts
	var got []int
	for range 4 {
		got = append(got, call(t, s, http.MethodGet, "/api/v1/currencies", "", "").Code)
	}
	want := []int{503, 503, 429, 429}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("statuses %v, want %v", got, want)
		}
	}
	if f := s.Faults(); len(f) != 1 || f[0].Status != 429 {
		t.Errorf("remaining faults %+v", f)
	}
	s.ClearFaults()
	if code := call(t, s, http.MethodGet, "/api/v1/currencies", "", "").Code; code != 200 {
		t.Errorf("after ClearFaults: %d", code)
	}
	if n := s.Requests(http.MethodGet, "/api/v1/currencies"); n != 5 {
		t.Errorf("Requests = %d, want 5", n)
	}
}

func TestFaultTimesReportsRemaining(t *testing.T) {
	s := New(Options{})
	s.AddFault(Fault{Status: 500, Times: 3})
	call(t, s, http.MethodGet, "/api/v1/currencies", "", "")
	if f := s.Faults(); len(f) != 1 || f[0].Times != 2 {
		t.Errorf("faults %+v, want Times 2 left", f)
	}
}

func TestFaultDelayCreatesOrderThenAnswersLate(t *testing.T) {
	s := New(Options{})
	s.AddFault(Fault{Method: "POST", Path: "/api/v1/orders/", Delay: 50 * time.Millisecond, Times: 1})
	start := time.Now()
	rec := call(t, s, http.MethodPost, "/api/v1/orders/", "application/json", `{"expected_output_amount":10}`)
	if elapsed := time.Since(start); elapsed < 50*time.Millisecond {
		t.Errorf("answered after %v, want ≥ 50ms", elapsed)
	}
	if rec.Code != http.StatusCreated || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("status %d %q: %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	if id := decodeObject(t, rec.Body.Bytes())["identifier"]; id == nil {
		t.Error("delayed answer lost its body")
	}
}

func TestFaultDelayHonoursClientCancellation(t *testing.T) {
	s := New(Options{})
	s.AddFault(Fault{Method: "POST", Path: "/api/v1/orders/", Delay: time.Minute})
	ts := httptest.NewServer(s)
	defer ts.Close()

	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+"/api/v1/orders/",
		strings.NewReader(`{"expected_output_amount":10,"input_currency":"BTC"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Device-Id", testDevice)
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := ts.Client().Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("got an answer (%d) despite the delay", resp.StatusCode)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	// The request reached the fake: the order exists, exactly once.
	if n := s.OrderCount(); n != 1 {
		t.Errorf("OrderCount = %d, want 1", n)
	}
	if n := s.Requests(http.MethodPost, "/api/v1/orders/"); n != 1 {
		t.Errorf("POST count = %d, want 1", n)
	}
	// The handler stops waiting once the client is gone: Close returns
	// quickly instead of after a minute.
	ts.Close()
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("handler kept sleeping for %v after the client left", elapsed)
	}
}

func TestFaultDelayWithStatus(t *testing.T) {
	s := New(Options{})
	s.AddFault(Fault{Status: 504, Delay: 20 * time.Millisecond})
	start := time.Now()
	rec := call(t, s, http.MethodPost, "/api/v1/orders/", "application/json", `{"expected_output_amount":10}`)
	if rec.Code != 504 || time.Since(start) < 20*time.Millisecond {
		t.Errorf("status %d after %v", rec.Code, time.Since(start))
	}
	if s.OrderCount() != 0 {
		t.Error("a replaced answer must not create the order")
	}
}

func TestShapes(t *testing.T) {
	type check func(t *testing.T, v any)
	isObject := func(key string, want any) check {
		return func(t *testing.T, v any) {
			m, ok := v.(map[string]any)
			if !ok || m[key] != want {
				t.Errorf("want an object with %s=%v, got %#v", key, want, v)
			}
		}
	}
	wrapped := func(inner check) check {
		return func(t *testing.T, v any) {
			m, ok := v.(map[string]any)
			if !ok || m["status"] != "success" {
				t.Fatalf("not wrapped: %#v", v)
			}
			inner(t, m["data"])
		}
	}
	array := func(inner check) check {
		return func(t *testing.T, v any) {
			a, ok := v.([]any)
			if !ok || len(a) != 1 {
				t.Fatalf("not a one-element array: %#v", v)
			}
			inner(t, a[0])
		}
	}
	amountKind := func(key string, wantString bool, unwrap func(any) any) check {
		return func(t *testing.T, v any) {
			m, _ := unwrap(v).(map[string]any)
			switch x := m[key].(type) {
			case string:
				if !wantString {
					t.Errorf("%s is a string %q, want a number", key, x)
				}
			case json.Number:
				if wantString {
					t.Errorf("%s is a number %s, want a string", key, x)
				}
			default:
				t.Errorf("%s = %#v", key, x)
			}
		}
	}
	first := func(v any) any {
		if a, ok := v.([]any); ok && len(a) > 0 {
			return a[0]
		}
		return nil
	}
	data := func(v any) any { m, _ := v.(map[string]any); return m["data"] }
	self := func(v any) any { return v }
	const id = "{id}"
	tests := []struct {
		name, method, path, shape string
		status                    int
		check                     check
	}{
		{"E1 natural", "POST", "/api/v1/orders/", "", 201, isObject("status", "PE")},
		{"E1 bare", "POST", "/api/v1/orders/", ShapeBare, 201, isObject("status", "PE")},
		{"E1 wrapped", "POST", "/api/v1/orders/", ShapeWrapped, 201, wrapped(isObject("status", "PE"))},
		{"E1 array", "POST", "/api/v1/orders/", ShapeArray, 201, array(isObject("status", "PE"))},
		{"E1 string amounts", "POST", "/api/v1/orders/", ShapeStringAmounts, 201, amountKind("expected_input_amount", true, self)},
		{"E1 number amounts", "POST", "/api/v1/orders/", ShapeNumberAmounts, 201, amountKind("rate", false, self)},
		{"E1 error wrapper", "POST", "/api/v1/orders/", ShapeErrorWrapper, 200, isObject("status", "error")},
		{"E2 natural", "GET", "/api/v1/orders/info/" + id, "", 200, array(isObject("identifier", id))},
		{"E2 bare", "GET", "/api/v1/orders/info/" + id, ShapeBare, 200, isObject("identifier", id)},
		{"E2 wrapped", "GET", "/api/v1/orders/info/" + id, ShapeWrapped, 200, wrapped(isObject("identifier", id))},
		{"E2 array", "GET", "/api/v1/orders/info/" + id, ShapeArray, 200, array(isObject("identifier", id))},
		{"E2 string amounts", "GET", "/api/v1/orders/info/" + id, ShapeStringAmounts, 200, amountKind("crypto_amount", true, first)},
		{"E2 number amounts", "GET", "/api/v1/orders/info/" + id, ShapeNumberAmounts, 200, amountKind("fiat_amount", false, first)},
		{"E2 error wrapper", "GET", "/api/v1/orders/info/" + id, ShapeErrorWrapper, 200, isObject("status", "error")},
		{"E3 enabled by a shape", "GET", "/api/v1/orders/" + id, ShapeWrapped, 200, wrapped(isObject("identifier", id))},
		{"E3 bare", "GET", "/api/v1/orders/" + id, ShapeBare, 200, isObject("identifier", id)},
		{"E3 array", "GET", "/api/v1/orders/" + id, ShapeArray, 200, array(isObject("identifier", id))},
		{"E3 string amounts", "GET", "/api/v1/orders/" + id, ShapeStringAmounts, 200, amountKind("expected_input_amount", true, data)},
		{"E4 wrapped", "GET", "/api/v1/currencies", ShapeWrapped, 200, func(t *testing.T, v any) {
			m, _ := v.(map[string]any)
			if a, ok := m["data"].([]any); !ok || len(a) != len(Currencies()) {
				t.Errorf("E4 wrapped: %#v", v)
			}
		}},
		{"E4 array stays flat", "GET", "/api/v1/currencies", ShapeArray, 200, func(t *testing.T, v any) {
			if a, ok := v.([]any); !ok || len(a) != len(Currencies()) {
				t.Errorf("E4 array: %#v", v)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Options{})
			realID := mustCreate(t, s, `{"expected_output_amount":50,"input_currency":"BTC"}`)
			path := strings.ReplaceAll(tc.path, id, realID)
			s.AddFault(Fault{Method: tc.method, Path: path, Shape: tc.shape})
			rec := call(t, s, tc.method, path, "application/json", `{"expected_output_amount":50,"input_currency":"BTC"}`)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			// Replace the placeholder in expectations by re-decoding with the real id.
			v := decodeJSON(t, []byte(strings.ReplaceAll(rec.Body.String(), realID, id)))
			tc.check(t, v)
			wantOrders := 2
			if tc.method != "POST" || tc.shape == ShapeErrorWrapper {
				wantOrders = 1
			}
			if n := s.OrderCount(); n != wantOrders {
				t.Errorf("%d orders, want %d", n, wantOrders)
			}
		})
	}
}

func TestShapeErrorWrapperBody(t *testing.T) {
	s := New(Options{})
	s.AddFault(Fault{Shape: ShapeErrorWrapper})
	rec := call(t, s, http.MethodGet, "/api/v1/currencies", "", "")
	m := decodeObject(t, rec.Body.Bytes())
	if rec.Code != 200 || m["status"] != "error" || m["error"] == "" || m["data"] != nil {
		t.Errorf("%d %s", rec.Code, rec.Body)
	}
}
