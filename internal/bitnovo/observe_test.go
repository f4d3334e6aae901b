package bitnovo

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type observation struct {
	Endpoint, Outcome string
	Attempt           int
}

type observer struct {
	mu  sync.Mutex
	obs []observation
}

func (o *observer) observe(endpoint, outcome string, attempt int, d time.Duration) {
	if d < 0 {
		panic("negative duration")
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.obs = append(o.obs, observation{endpoint, outcome, attempt})
}

func TestObserve(t *testing.T) {
	var calls atomic.Int32
	srv := newServer(t, "", routes{
		"GET /api/v1/currencies": func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				writeJSON(503, `{"detail":"busy"}`)(w, r)
				return
			}
			writeJSON(200, `[]`)(w, r)
		},
		"GET /api/v1/orders/info/abc-123": writeJSON(404, `{"detail":"not found"}`),
		"GET /api/v1/orders/abc-123":      writeJSON(429, `{"detail":"slow down"}`),
		"POST /api/v1/orders/":            writeJSON(400, `{"detail":"bad"}`),
	})
	var o observer
	var sl sleeps
	c := newClient(t, srv.URL, Options{MaxRetries: 1, Sleep: sl.sleep, Observe: o.observe})
	ctx := context.Background()
	if _, err := c.Currencies(ctx); err != nil {
		t.Fatal(err)
	}
	_, _ = c.OrderInfo(ctx, "abc-123")
	_, _ = c.OrderDetails(ctx, "abc-123")
	_, _ = c.CreateOrder(ctx, CreateOrderRequest{ExpectedOutputAmount: "10"})
	want := []observation{
		{"GET /api/v1/currencies", "http_5xx", 0},
		{"GET /api/v1/currencies", "ok", 1},
		{"GET /api/v1/orders/info/{id}", "http_4xx", 0},
		{"GET /api/v1/orders/{id}", "rate_limited", 0},
		{"GET /api/v1/orders/{id}", "rate_limited", 1},
		{"POST /api/v1/orders/", "http_4xx", 0},
	}
	if diff := cmp.Diff(want, o.obs); diff != "" {
		t.Errorf("observations (-want +got):\n%s", diff)
	}
}

func TestAttemptOutcome(t *testing.T) {
	for _, tc := range []struct {
		res  *response
		err  error
		want string
	}{
		{&response{status: 200}, nil, "ok"},
		{&response{status: 302}, nil, "http_3xx"},
		{&response{status: 200}, errResponseTooLarge, "bad_response"},
		{nil, &timeoutError{context.DeadlineExceeded}, "timeout"},
		{nil, context.Canceled, "canceled"},
		{nil, &http.ProtocolError{}, "network_error"},
	} {
		if got := attemptOutcome(tc.res, tc.err); got != tc.want {
			t.Errorf("attemptOutcome(%v, %v) = %q, want %q", tc.res, tc.err, got, tc.want)
		}
	}
}
