package bitnovo

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testDeviceID = "dev-0123456789-secret-device"

// routes maps "METHOD escaped-path" to a handler. Every request is checked
// for the authentication and content negotiation headers; an unknown route
// fails the test.
type routes map[string]http.HandlerFunc

// server starts an httptest server for rt and counts the requests per route.
type server struct {
	*httptest.Server
	mu   sync.Mutex
	hits map[string]int
}

func (s *server) count(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[route]
}

func newServer(t *testing.T, prefix string, rt routes) *server {
	t.Helper()
	s := &server{hits: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Method + " " + strings.TrimPrefix(r.URL.EscapedPath(), prefix)
		s.mu.Lock()
		s.hits[key]++
		s.mu.Unlock()
		if got := r.Header.Get("X-Device-Id"); got != testDeviceID {
			t.Errorf("%s: X-Device-Id = %q", key, got)
		}
		if got := r.Header.Get("Accept"); got != "application/json" {
			t.Errorf("%s: Accept = %q", key, got)
		}
		if got := r.Header.Get("User-Agent"); got != DefaultUserAgent {
			t.Errorf("%s: User-Agent = %q", key, got)
		}
		if !strings.HasPrefix(r.URL.EscapedPath(), prefix) {
			t.Errorf("%s: path lacks prefix %q", key, prefix)
		}
		h, ok := rt[key]
		if !ok {
			t.Errorf("unexpected request %s (raw %q)", key, r.RequestURI)
			http.Error(w, `{"detail":"no route"}`, http.StatusTeapot)
			return
		}
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// sleeps records the delays passed to an injected Sleep.
type sleeps struct {
	mu sync.Mutex
	ds []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.ds = append(s.ds, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) get() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.ds...)
}

// newClient makes a client for srv; zero options get fast test settings.
func newClient(t *testing.T, baseURL string, o Options) *Client {
	t.Helper()
	if o.AttemptTimeout == 0 {
		o.AttemptTimeout = 2 * time.Second
	}
	c, err := New(baseURL, testDeviceID, o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func writeJSON(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name, base, device string
		o                  Options
		wantBase           string
		wantErr            bool
	}{
		{name: "https", base: "https://pos.bitnovo.com", device: "d", wantBase: "https://pos.bitnovo.com"},
		{name: "trailing slash", base: "https://pos.bitnovo.com/", device: "d", wantBase: "https://pos.bitnovo.com"},
		{name: "prefix", base: "http://127.0.0.1:8080/fake/bitnovo/", device: "d", wantBase: "http://127.0.0.1:8080/fake/bitnovo"},
		{name: "ftp", base: "ftp://x", device: "d", wantErr: true},
		{name: "no scheme", base: "pos.bitnovo.com", device: "d", wantErr: true},
		{name: "no host", base: "https://", device: "d", wantErr: true},
		{name: "query", base: "https://x/?a=1", device: "d", wantErr: true},
		{name: "fragment", base: "https://x/#f", device: "d", wantErr: true},
		{name: "userinfo", base: "https://u:p@x/", device: "d", wantErr: true},
		{name: "garbage", base: "://", device: "d", wantErr: true},
		{name: "empty device", base: "https://x", device: "", wantErr: true},
		{name: "device newline", base: "https://x", device: "a\r\nX-Evil: 1", wantErr: true},
		{name: "device padded", base: "https://x", device: " d", wantErr: true},
		{name: "negative retries", base: "https://x", device: "d", o: Options{MaxRetries: -1}, wantErr: true},
		{name: "too many retries", base: "https://x", device: "d", o: Options{MaxRetries: 11}, wantErr: true},
		{name: "negative timeout", base: "https://x", device: "d", o: Options{AttemptTimeout: -1}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.base, tt.device, tt.o)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("New(%q) succeeded", tt.base)
				}
				if strings.Contains(err.Error(), "u:p") {
					t.Errorf("error leaks credentials: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New(%q): %v", tt.base, err)
			}
			if c.base != tt.wantBase {
				t.Errorf("base = %q, want %q", c.base, tt.wantBase)
			}
		})
	}

	c, err := New("https://x", "d", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.attemptTimeout != DefaultAttemptTimeout || c.maxRetries != 0 || c.baseDelay != DefaultBaseDelay ||
		c.maxDelay != DefaultMaxDelay || c.userAgent != DefaultUserAgent || !c.traceTrusted {
		t.Errorf("zero Options defaults: %+v", c)
	}
	c, err = New("https://x", "d", DefaultOptions())
	if err != nil || c.maxRetries != DefaultMaxRetries {
		t.Errorf("DefaultOptions: maxRetries %d, %v", c.maxRetries, err)
	}
}

func TestBaseURLPrefixAndIDEscaping(t *testing.T) {
	const prefix = "/fake/bitnovo"
	info := func(id string) http.HandlerFunc {
		return writeJSON(200, `[{"identifier":`+jsonString(id)+`,"status":"PE"}]`)
	}
	ids := []struct{ id, escaped string }{
		{"3f2a9c1e-0000-4000-8000-000000000001", "/api/v1/orders/info/3f2a9c1e-0000-4000-8000-000000000001"},
		{"../currencies", "/api/v1/orders/info/..%2Fcurrencies"},
		{"a/b?x", "/api/v1/orders/info/a%2Fb%3Fx"},
		{"a b%#", "/api/v1/orders/info/a%20b%25%23"},
	}
	rt := routes{"GET /api/v1/currencies": writeJSON(200, `[]`)}
	for _, tc := range ids {
		rt["GET "+tc.escaped] = info(tc.id)
	}
	srv := newServer(t, prefix, rt)
	c := newClient(t, srv.URL+prefix+"/", Options{})
	ctx := context.Background()
	for _, tc := range ids {
		got, err := c.OrderInfo(ctx, tc.id)
		if err != nil {
			t.Fatalf("OrderInfo(%q): %v", tc.id, err)
		}
		if got.Identifier != tc.id {
			t.Errorf("OrderInfo(%q).Identifier = %q", tc.id, got.Identifier)
		}
		if n := srv.count("GET " + tc.escaped); n != 1 {
			t.Errorf("route %q hit %d times", tc.escaped, n)
		}
	}
	if _, err := c.Currencies(ctx); err != nil {
		t.Fatalf("Currencies: %v", err)
	}
	if n := srv.count("GET /api/v1/currencies"); n != 1 {
		t.Errorf("currencies hit %d times, want 1 (from the Currencies call only)", n)
	}
	for _, bad := range []string{"", ".", "..", "a\nb", strings.Repeat("x", 300)} {
		if _, err := c.OrderInfo(ctx, bad); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("OrderInfo(%q) = %v, want ErrInvalidRequest", bad, err)
		}
		if _, err := c.OrderDetails(ctx, bad); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("OrderDetails(%q) = %v, want ErrInvalidRequest", bad, err)
		}
	}
}

func jsonString(s string) string {
	var b bytes.Buffer
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

func TestLoggingNeverShowsDeviceID(t *testing.T) {
	var mu sync.Mutex
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var n atomic.Int32
	srv := newServer(t, "", routes{
		"GET /api/v1/currencies": func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				writeJSON(503, `{"detail":"busy"}`)(w, r)
				return
			}
			writeJSON(200, `[]`)(w, r)
		},
	})
	var sl sleeps
	c := newClient(t, srv.URL, Options{Logger: logger, MaxRetries: 2, Sleep: sl.sleep})
	if _, err := c.Currencies(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if strings.Contains(out, testDeviceID) || strings.Contains(out, "secret-device") {
		t.Errorf("log contains the device id:\n%s", out)
	}
	if got := strings.Count(out, "level=DEBUG msg=\"bitnovo request\""); got != 2 {
		t.Errorf("%d debug lines, want 2:\n%s", got, out)
	}
	if got := strings.Count(out, "level=WARN"); got != 1 {
		t.Errorf("%d warn lines, want 1:\n%s", got, out)
	}
	if !strings.Contains(out, "status=503") || !strings.Contains(out, "path=/api/v1/currencies") {
		t.Errorf("log lacks status or path:\n%s", out)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestAPIErrorBodies(t *testing.T) {
	tests := []struct {
		name            string
		status          int
		header          map[string]string
		body            string
		wantCode        string
		wantMsg         string
		wantRetryAfter  time.Duration
		wantNotFound    bool
		wantBodyPrefix  string
		wantBodyLenCapd bool
	}{
		{name: "code and message", status: 403, body: `{"code":"INVALID_DEVICE","message":"Device not allowed"}`,
			wantCode: "INVALID_DEVICE", wantMsg: "Device not allowed"},
		{name: "numeric code", status: 400, body: `{"code":1001,"message":"bad"}`, wantCode: "1001", wantMsg: "bad"},
		{name: "drf detail", status: 403, body: `{"detail":"Authentication credentials were not provided."}`,
			wantCode: "HTTP_403", wantMsg: "Authentication credentials were not provided."},
		{name: "drf detail list", status: 400, body: `{"detail":["one","two"]}`, wantCode: "HTTP_400", wantMsg: "one; two"},
		{name: "drf field errors", status: 400,
			body:     `{"input_currency":["Invalid currency."],"expected_output_amount":["A valid number is required."]}`,
			wantCode: "HTTP_400", wantMsg: "expected_output_amount: A valid number is required.; input_currency: Invalid currency."},
		{name: "error string", status: 400, body: `{"status":"error","error":"Amount too low"}`, wantCode: "HTTP_400", wantMsg: "Amount too low"},
		{name: "error object", status: 400, body: `{"error":{"message":"nested"}}`, wantCode: "HTTP_400", wantMsg: "nested"},
		{name: "bare list", status: 400, body: `["Order already paid"]`, wantCode: "HTTP_400", wantMsg: "Order already paid"},
		{name: "html", status: 401, body: `<html><body>Unauthorized</body></html>`, wantCode: "HTTP_401", wantMsg: "Unauthorized",
			wantBodyPrefix: "<html>"},
		{name: "empty", status: 404, body: ``, wantCode: "HTTP_404", wantMsg: "Not Found", wantNotFound: true},
		{name: "not found detail", status: 404, body: `{"detail":"Not found."}`, wantCode: "HTTP_404", wantMsg: "Not found.", wantNotFound: true},
		{name: "huge body capped", status: 400, body: `{"detail":"` + strings.Repeat("x", 10000) + `"}`, wantCode: "HTTP_400",
			wantMsg: strings.Repeat("x", maxErrorMsgLen) + "…", wantBodyLenCapd: true},
		{name: "401 ignores retry-after", status: 401, header: map[string]string{"Retry-After": "5"}, body: `{}`,
			wantCode: "HTTP_401", wantMsg: "Unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, "", routes{"GET /api/v1/currencies": func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}})
			c := newClient(t, srv.URL, Options{MaxRetries: 2, Sleep: (&sleeps{}).sleep})
			_, err := c.Currencies(context.Background())
			var e *APIError
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *APIError", err)
			}
			if e.StatusCode != tt.status || e.Code != tt.wantCode || e.Message != tt.wantMsg {
				t.Errorf("got status %d code %q message %q", e.StatusCode, e.Code, e.Message)
			}
			if e.Method != "GET" || e.Path != "/api/v1/currencies" || e.RetryAfter != tt.wantRetryAfter {
				t.Errorf("got method %q path %q retry-after %v", e.Method, e.Path, e.RetryAfter)
			}
			if errors.Is(err, ErrNotFound) != tt.wantNotFound {
				t.Errorf("errors.Is(err, ErrNotFound) = %v", !tt.wantNotFound)
			}
			if tt.wantBodyLenCapd && len(e.Body) != maxErrorBody {
				t.Errorf("len(Body) = %d, want %d", len(e.Body), maxErrorBody)
			}
			if !bytes.HasPrefix(e.Body, []byte(tt.wantBodyPrefix)) {
				t.Errorf("Body = %q", e.Body)
			}
			if n := srv.count("GET /api/v1/currencies"); n != 1 {
				t.Errorf("%d requests, want 1 (4xx is not retried)", n)
			}
			if !strings.Contains(e.Error(), tt.wantCode) || !strings.HasPrefix(e.Error(), "bitnovo: GET /api/v1/currencies: ") {
				t.Errorf("Error() = %q", e.Error())
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"1", time.Second},
		{" 120 ", 2 * time.Minute},
		{"0", 0},
		{"-5", 0},
		{"1.5", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"99999999999999", 365 * 24 * time.Hour},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestGetRetriesTransientStatuses(t *testing.T) {
	for _, status := range []int{408, 425, 429, 500, 502, 503, 504} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			srv := newServer(t, "", routes{"GET /api/v1/currencies": writeJSON(status, `{"detail":"try later"}`)})
			var sl sleeps
			c := newClient(t, srv.URL, Options{MaxRetries: 2, BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second, Sleep: sl.sleep})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := c.Currencies(ctx)
			var e *APIError
			if !errors.As(err, &e) || e.StatusCode != status {
				t.Fatalf("err = %v, want APIError %d", err, status)
			}
			if n := srv.count("GET /api/v1/currencies"); n != 3 {
				t.Errorf("%d attempts, want 1+MaxRetries = 3", n)
			}
			ds := sl.get()
			if len(ds) != 2 {
				t.Fatalf("slept %v, want 2 sleeps", ds)
			}
			// Exponential backoff with 50–100 % jitter.
			for i, d := range ds {
				full := 100 * time.Millisecond << i
				if d < full/2 || d > full {
					t.Errorf("sleep %d = %v, want within [%v, %v]", i, d, full/2, full)
				}
			}
		})
	}
}

func TestGetNoRetryOn4xx(t *testing.T) {
	for _, status := range []int{400, 401, 403, 404, 405, 409, 422} {
		srv := newServer(t, "", routes{"GET /api/v1/currencies": writeJSON(status, `{}`)})
		c := newClient(t, srv.URL, Options{MaxRetries: 2, Sleep: (&sleeps{}).sleep})
		_, err := c.Currencies(context.Background())
		var e *APIError
		if !errors.As(err, &e) || e.StatusCode != status {
			t.Errorf("%d: err = %v", status, err)
		}
		if n := srv.count("GET /api/v1/currencies"); n != 1 {
			t.Errorf("%d: %d attempts, want 1", status, n)
		}
	}
}

func TestGetMaxRetriesZero(t *testing.T) {
	srv := newServer(t, "", routes{"GET /api/v1/currencies": writeJSON(503, `{}`)})
	var sl sleeps
	c := newClient(t, srv.URL, Options{MaxRetries: 0, Sleep: sl.sleep})
	if _, err := c.Currencies(context.Background()); err == nil {
		t.Fatal("want error")
	}
	if n := srv.count("GET /api/v1/currencies"); n != 1 || len(sl.get()) != 0 {
		t.Errorf("%d attempts, %d sleeps; want 1, 0", n, len(sl.get()))
	}
}

func TestGet5xxStormRealTime(t *testing.T) {
	srv := newServer(t, "", routes{"GET /api/v1/orders/info/abc": writeJSON(500, `{"message":"boom"}`)})
	c := newClient(t, srv.URL, Options{MaxRetries: 3, BaseDelay: 2 * time.Millisecond, MaxDelay: 10 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	_, err := c.OrderInfo(ctx, "abc")
	var e *APIError
	if !errors.As(err, &e) || e.StatusCode != 500 || e.Message != "boom" {
		t.Fatalf("err = %v", err)
	}
	if n := srv.count("GET /api/v1/orders/info/abc"); n != 4 {
		t.Errorf("%d attempts, want 4", n)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("took %v", el)
	}
}

func TestGetRetryAfter(t *testing.T) {
	t.Run("seconds via injected sleep", func(t *testing.T) {
		var n atomic.Int32
		srv := newServer(t, "", routes{"GET /api/v1/currencies": func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				w.Header().Set("Retry-After", "1")
				writeJSON(429, `{"message":"slow down"}`)(w, r)
				return
			}
			writeJSON(200, `[{"symbol":"BTC"}]`)(w, r)
		}})
		var sl sleeps
		c := newClient(t, srv.URL, Options{MaxRetries: 2, BaseDelay: time.Millisecond, Sleep: sl.sleep})
		list, err := c.Currencies(context.Background())
		if err != nil || len(list) != 1 {
			t.Fatalf("Currencies = %v, %v", list, err)
		}
		if ds := sl.get(); len(ds) != 1 || ds[0] < time.Second {
			t.Errorf("slept %v, want one sleep ≥ 1s", ds)
		}
	})
	t.Run("http date via injected sleep", func(t *testing.T) {
		var n atomic.Int32
		srv := newServer(t, "", routes{"GET /api/v1/currencies": func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				w.Header().Set("Retry-After", time.Now().Add(4*time.Second).UTC().Format(http.TimeFormat))
				writeJSON(503, `{}`)(w, r)
				return
			}
			writeJSON(200, `[]`)(w, r)
		}})
		var sl sleeps
		c := newClient(t, srv.URL, Options{MaxRetries: 2, BaseDelay: time.Millisecond, Sleep: sl.sleep})
		if _, err := c.Currencies(context.Background()); err != nil {
			t.Fatal(err)
		}
		if ds := sl.get(); len(ds) != 1 || ds[0] < 2*time.Second {
			t.Errorf("slept %v, want one sleep ≥ 2s", ds)
		}
	})
	t.Run("real time one second", func(t *testing.T) {
		var n atomic.Int32
		srv := newServer(t, "", routes{"GET /api/v1/currencies": func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				w.Header().Set("Retry-After", "1")
				writeJSON(429, `{}`)(w, r)
				return
			}
			writeJSON(200, `[]`)(w, r)
		}})
		c := newClient(t, srv.URL, Options{MaxRetries: 1, BaseDelay: time.Millisecond})
		start := time.Now()
		if _, err := c.Currencies(context.Background()); err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el < time.Second {
			t.Errorf("retried after %v, want ≥ 1s", el)
		}
	})
	t.Run("longer than the deadline", func(t *testing.T) {
		srv := newServer(t, "", routes{"GET /api/v1/currencies": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "5")
			writeJSON(429, `{"message":"rate limited"}`)(w, r)
		}})
		c := newClient(t, srv.URL, Options{MaxRetries: 2})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		start := time.Now()
		_, err := c.Currencies(ctx)
		var e *APIError
		if !errors.As(err, &e) || e.StatusCode != 429 || e.RetryAfter != 5*time.Second {
			t.Fatalf("err = %v, want the 429 APIError", err)
		}
		if el := time.Since(start); el > 500*time.Millisecond {
			t.Errorf("returned after %v, want promptly", el)
		}
		if n := srv.count("GET /api/v1/currencies"); n != 1 {
			t.Errorf("%d attempts, want 1", n)
		}
	})
	t.Run("longer than MaxDelay without deadline", func(t *testing.T) {
		srv := newServer(t, "", routes{"GET /api/v1/currencies": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "3600")
			writeJSON(503, `{}`)(w, r)
		}})
		var sl sleeps
		c := newClient(t, srv.URL, Options{MaxRetries: 2, Sleep: sl.sleep})
		_, err := c.Currencies(context.Background())
		var e *APIError
		if !errors.As(err, &e) || e.RetryAfter != time.Hour {
			t.Fatalf("err = %v", err)
		}
		if len(sl.get()) != 0 || srv.count("GET /api/v1/currencies") != 1 {
			t.Errorf("slept %v, attempts %d; want no retry", sl.get(), srv.count("GET /api/v1/currencies"))
		}
	})
}

func TestGetContextCancelledMidBackoff(t *testing.T) {
	srv := newServer(t, "", routes{"GET /api/v1/currencies": writeJSON(503, `{}`)})
	c := newClient(t, srv.URL, Options{MaxRetries: 2, BaseDelay: 8 * time.Second, MaxDelay: 8 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Currencies(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if errors.Is(err, ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancellation reported as timeout: %v", err)
	}
	var e *APIError
	if !errors.As(err, &e) || e.StatusCode != 503 {
		t.Errorf("err does not carry the last APIError: %v", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("returned after %v, want promptly", el)
	}
}

func TestGetAlreadyCancelled(t *testing.T) {
	srv := newServer(t, "", routes{})
	c := newClient(t, srv.URL, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Currencies(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if _, err := c.CreateOrder(ctx, CreateOrderRequest{ExpectedOutputAmount: "1"}); !errors.Is(err, context.Canceled) ||
		errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("CreateOrder err = %v, want a plain context error", err)
	}
}

func TestGetAttemptTimeout(t *testing.T) {
	t.Run("slow then fast", func(t *testing.T) {
		var n atomic.Int32
		srv := newServer(t, "", routes{"GET /api/v1/currencies": func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				<-r.Context().Done()
				return
			}
			writeJSON(200, `[{"symbol":"ETH"}]`)(w, r)
		}})
		c := newClient(t, srv.URL, Options{AttemptTimeout: 100 * time.Millisecond, MaxRetries: 2, BaseDelay: time.Millisecond})
		list, err := c.Currencies(context.Background())
		if err != nil || len(list) != 1 || list[0].Symbol != "ETH" {
			t.Fatalf("Currencies = %v, %v", list, err)
		}
		if got := n.Load(); got != 2 {
			t.Errorf("%d attempts, want 2", got)
		}
	})
	t.Run("always slow", func(t *testing.T) {
		srv := newServer(t, "", routes{"GET /api/v1/currencies": func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}})
		c := newClient(t, srv.URL, Options{AttemptTimeout: 50 * time.Millisecond, MaxRetries: 1, BaseDelay: time.Millisecond})
		start := time.Now()
		_, err := c.Currencies(context.Background())
		if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want ErrTimeout and DeadlineExceeded", err)
		}
		var te interface{ Timeout() bool }
		if !errors.As(err, &te) || !te.Timeout() {
			t.Errorf("err has no Timeout() true: %v", err)
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Errorf("took %v", el)
		}
		if n := srv.count("GET /api/v1/currencies"); n != 2 {
			t.Errorf("%d attempts, want 2", n)
		}
	})
	t.Run("caller deadline", func(t *testing.T) {
		srv := newServer(t, "", routes{"GET /api/v1/currencies": func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}})
		c := newClient(t, srv.URL, Options{AttemptTimeout: 5 * time.Second, MaxRetries: 2})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.Currencies(ctx)
		if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v", err)
		}
		if el := time.Since(start); el > time.Second {
			t.Errorf("took %v", el)
		}
		if n := srv.count("GET /api/v1/currencies"); n != 1 {
			t.Errorf("%d attempts, want 1", n)
		}
	})
}

func TestGetRetriesConnectionReset(t *testing.T) {
	var n atomic.Int32
	srv := newServer(t, "", routes{"GET /api/v1/currencies": func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			hijackClose(t, w)
			return
		}
		writeJSON(200, `[]`)(w, r)
	}})
	c := newClient(t, srv.URL, Options{MaxRetries: 1, Sleep: (&sleeps{}).sleep})
	if _, err := c.Currencies(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := n.Load(); got != 2 {
		t.Errorf("%d attempts, want 2", got)
	}
}

func TestResponseTooLarge(t *testing.T) {
	srv := newServer(t, "", routes{"GET /api/v1/currencies": func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		io.WriteString(w, "["+strings.Repeat(`{"symbol":"BTC"},`, maxResponseBody/16)+`{"symbol":"BTC"}]`)
	}})
	c := newClient(t, srv.URL, Options{MaxRetries: 2, Sleep: (&sleeps{}).sleep})
	_, err := c.Currencies(context.Background())
	if !errors.Is(err, errResponseTooLarge) {
		t.Fatalf("err = %v", err)
	}
	if n := srv.count("GET /api/v1/currencies"); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
}

// hijackClose drops the connection without an answer.
func hijackClose(t *testing.T, w http.ResponseWriter) {
	t.Helper()
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0) // RST
	}
	conn.Close()
}

func TestGetRedirects(t *testing.T) {
	var leaked atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Add(1)
		writeJSON(200, `[]`)(w, r)
	}))
	t.Cleanup(other.Close)
	srv := newServer(t, "", routes{
		"GET /api/v1/currencies": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/api/v1/currencies/", http.StatusMovedPermanently)
		},
		"GET /api/v1/currencies/": writeJSON(200, `[{"symbol":"BTC"}]`),
		"GET /api/v1/orders/info/x": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+"/api/v1/orders/info/x", http.StatusFound)
		},
	})
	c := newClient(t, srv.URL, Options{MaxRetries: 2, Sleep: (&sleeps{}).sleep})
	list, err := c.Currencies(context.Background())
	if err != nil || len(list) != 1 {
		t.Fatalf("same-host redirect: %v, %v", list, err)
	}
	_, err = c.OrderInfo(context.Background(), "x")
	var e *APIError
	if !errors.As(err, &e) || e.StatusCode != http.StatusFound {
		t.Fatalf("cross-host redirect: err = %v, want the 302 APIError", err)
	}
	if n := leaked.Load(); n != 0 {
		t.Errorf("the other host received %d requests (device id leak)", n)
	}
}

func TestGetStatusWinsOverOversizedBody(t *testing.T) {
	srv := newServer(t, "", routes{"GET /api/v1/currencies": func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(502)
		io.WriteString(w, strings.Repeat("<p>bad gateway</p>", maxResponseBody/8))
	}})
	var sl sleeps
	c := newClient(t, srv.URL, Options{MaxRetries: 1, Sleep: sl.sleep})
	_, err := c.Currencies(context.Background())
	var e *APIError
	if !errors.As(err, &e) || e.StatusCode != 502 || len(e.Body) != maxErrorBody {
		t.Fatalf("err = %v", err)
	}
	if n := srv.count("GET /api/v1/currencies"); n != 2 {
		t.Errorf("%d attempts, want 2", n)
	}
}
