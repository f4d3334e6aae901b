package fakebitnovo

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testDevice = "123e4567-e89b-42d3-a456-426614174000"

// fakeClock is an injectable, advanceable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 1, 15, 10, 30, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// call sends one request straight to h and returns the recorded answer.
func call(t testing.TB, h http.Handler, method, path, contentType, body string) *httptest.ResponseRecorder {
	t.Helper()
	return callHdr(t, h, method, path, contentType, body, map[string]string{"X-Device-Id": testDevice})
}

func callHdr(t testing.TB, h http.Handler, method, path, contentType, body string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, "http://sandbox.test"+path, strings.NewReader(body))
	req.RemoteAddr = "127.0.0.1:40000"
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// decodeJSON decodes a recorded body keeping numbers as json.Number.
func decodeJSON(t testing.TB, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, b)
	}
	return v
}

func decodeObject(t testing.TB, b []byte) map[string]any {
	t.Helper()
	m, ok := decodeJSON(t, b).(map[string]any)
	if !ok {
		t.Fatalf("body is not a JSON object: %s", b)
	}
	return m
}

// createJSON creates an order from a JSON body and returns the response object.
func createJSON(t testing.TB, h http.Handler, body string) map[string]any {
	t.Helper()
	rec := call(t, h, http.MethodPost, "/api/v1/orders/", "application/json", body)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create %s: status %d, body %s", body, rec.Code, rec.Body)
	}
	return decodeObject(t, rec.Body.Bytes())
}

// mustCreate creates an order and returns its identifier.
func mustCreate(t testing.TB, h http.Handler, body string) string {
	t.Helper()
	id, _ := createJSON(t, h, body)["identifier"].(string)
	if id == "" {
		t.Fatal("create returned no identifier")
	}
	return id
}

// info fetches E2 and returns its single element.
func info(t *testing.T, h http.Handler, id string) map[string]any {
	t.Helper()
	rec := call(t, h, http.MethodGet, "/api/v1/orders/info/"+id, "", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("info %s: status %d, body %s", id, rec.Code, rec.Body)
	}
	arr, ok := decodeJSON(t, rec.Body.Bytes()).([]any)
	if !ok || len(arr) != 1 {
		t.Fatalf("info is not a one-element array: %s", rec.Body)
	}
	obj, ok := arr[0].(map[string]any)
	if !ok {
		t.Fatalf("info element is not an object: %s", rec.Body)
	}
	return obj
}

// multipartBody encodes fields as multipart/form-data.
func multipartBody(t *testing.T, fields map[string]string) (contentType, body string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), buf.String()
}

// errorBody checks the {"detail","code","message"} error shape and returns code.
func errorBody(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	m := decodeObject(t, rec.Body.Bytes())
	for _, k := range []string{"detail", "code", "message"} {
		if s, _ := m[k].(string); s == "" {
			t.Errorf("error body lacks %q: %s", k, rec.Body)
		}
	}
	code, _ := m["code"].(string)
	return code
}

func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// mustNewRequest builds an authenticated JSON request from loopback.
func mustNewRequest(t *testing.T, method, path, body string) *http.Request {
	t.Helper()
	req := httptest.NewRequest(method, "http://sandbox.test"+path, strings.NewReader(body))
	req.RemoteAddr = "127.0.0.1:40000"
	req.Header.Set("X-Device-Id", testDevice)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
