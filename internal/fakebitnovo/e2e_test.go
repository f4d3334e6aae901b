package fakebitnovo

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestOverHTTP drives the fake as the sandbox does: a real listener on
// loopback, a real client, the admin surface to move the order along.
func TestOverHTTP(t *testing.T) {
	s := New(Options{DeviceID: testDevice})
	ts := httptest.NewServer(s)
	defer ts.Close()
	c := ts.Client()

	do := func(method, path, contentType, body string, device bool) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, ts.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if device {
			req.Header.Set("X-Device-Id", testDevice)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp, readAll(t, resp.Body)
	}

	ct, body := multipartBody(t, map[string]string{"expected_output_amount": "24.00", "fiat": "EUR"})
	resp, text := do(http.MethodPost, "/api/v1/orders/", ct, body, true)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, text)
	}
	var created struct {
		Identifier string `json:"identifier"`
		WebURL     string `json:"web_url"`
	}
	if err := json.Unmarshal([]byte(text), &created); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(created.WebURL, ts.URL+"/") {
		t.Errorf("web_url %q is not on the fake's origin %s", created.WebURL, ts.URL)
	}
	page, err := c.Get(created.WebURL)
	if err != nil {
		t.Fatal(err)
	}
	html := readAll(t, page.Body)
	page.Body.Close()
	if page.StatusCode != 200 || !strings.Contains(html, created.Identifier) {
		t.Errorf("checkout page: %d", page.StatusCode)
	}

	resp, text = do(http.MethodPost, "/_sandbox/orders/"+created.Identifier+"/pay", "application/json", `{"outcome":"full"}`, false)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("admin pay: %d %s", resp.StatusCode, text)
	}
	resp, text = do(http.MethodGet, "/api/v1/orders/info/"+created.Identifier+"/", "", "", true)
	if resp.StatusCode != http.StatusOK || !strings.Contains(text, `"status":"CO"`) || !strings.Contains(text, `"currency_id":"BTC"`) {
		t.Errorf("info after pay: %d %s", resp.StatusCode, text)
	}
	resp, text = do(http.MethodGet, "/_sandbox/requests?method=POST&path=/api/v1/orders/", "", "", false)
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(text) != `{"count":1}` {
		t.Errorf("requests: %d %s", resp.StatusCode, text)
	}
}

func TestNilBodyDoesNotPanic(t *testing.T) {
	s := New(Options{})
	req := httptest.NewRequest(http.MethodPost, "/api/v1/orders/", nil)
	req.Body = nil
	req.Header.Set("X-Device-Id", testDevice)
	rec := serve(s, req)
	if rec.Code != http.StatusNotFound {
		t.Errorf("status %d: %s", rec.Code, rec.Body)
	}
}
