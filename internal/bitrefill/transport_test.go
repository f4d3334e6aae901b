package bitrefill_test

import (
	"bytes"
	"context"
	"encoding/json"
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

	"github.com/google/go-cmp/cmp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitrefill"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/fakebitrefill"
)

const (
	testID     = "test-id"
	testSecret = "s3cr3t-never-logged"
)

// routes is a per-test route table: "METHOD /escaped/path" → handler.
type routes map[string]http.HandlerFunc

type recorder struct {
	mu   sync.Mutex
	hits map[string]int
}

func (r *recorder) count(k string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hits[k]
}

// newRouteClient serves rt, matching on the escaped path so tests see
// exactly what went over the wire. Unmatched requests fail the test.
func newRouteClient(t *testing.T, rt routes, mod func(*bitrefill.Options)) (*bitrefill.Client, *recorder) {
	t.Helper()
	rec := &recorder{hits: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Method + " " + r.URL.EscapedPath()
		rec.mu.Lock()
		rec.hits[key]++
		rec.mu.Unlock()
		h, ok := rt[key]
		if !ok {
			t.Errorf("unexpected request %s", key)
			http.Error(w, "no route", http.StatusTeapot)
			return
		}
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	opts := bitrefill.Options{
		PublicBaseURL: srv.URL + "/api", V2BaseURL: srv.URL + "/v2",
		APIID: testID, APISecret: testSecret, HTTPClient: srv.Client(),
		RetryBaseDelay: time.Millisecond, RetryMaxDelay: 4 * time.Millisecond,
		AttemptTimeout: 2 * time.Second,
	}
	if mod != nil {
		mod(&opts)
	}
	c, err := bitrefill.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c, rec
}

func jsonHandler(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

const invoiceBody = `{"meta":{"_endpoint":"/invoices/inv1","id":"inv1"},"data":{"id":"inv1","status":"not_delivered","payment":{"method":"balance","currency":"USD","price":"12.50","status":"unpaid"},"orders":[{"id":"o1","status":"created","product":{"id":"steam-usa","value":"10"},"delivered_time":null}]}}`

func checkAuth(t *testing.T, r *http.Request, want bool) {
	t.Helper()
	id, secret, ok := r.BasicAuth()
	if want && (!ok || id != testID || secret != testSecret) {
		t.Errorf("%s %s: missing/wrong basic auth", r.Method, r.URL.Path)
	}
	if !want && r.Header.Get("Authorization") != "" {
		t.Errorf("%s %s: unexpected Authorization header", r.Method, r.URL.Path)
	}
}

// TestEveryEndpointRequestShape checks method, escaped path, query, auth
// and body of every endpoint, and the decoding of its answer.
func TestEveryEndpointRequestShape(t *testing.T) {
	listBody := func(kind string) string {
		return `{"meta":{"_endpoint":"/` + kind + `","start":0,"limit":2,"count":2,"_next":"https://api.bitrefill.com/v2/` + kind + `?start=2&limit=2&after=2025-01-01+00%3A00%3A00"},"data":[]}`
	}
	rt := routes{
		"GET /api/omni": func(w http.ResponseWriter, r *http.Request) {
			checkAuth(t, r, false)
			if got, want := r.URL.RawQuery, "q=AT%26T+card&limit=25&skip=5&src=mcp&col=1&prefcc=1&category=refills&country=US&hl=en"; got != want {
				t.Errorf("omni query = %s, want %s", got, want)
			}
			jsonHandler(200, `{"products":[{"id":"att-usa","name":"AT&T","range":{"min":"10","max":100,"step":1}}],"totalCount":31}`)(w, r)
		},
		"GET /api/product/amazon_com-usa": func(w http.ResponseWriter, r *http.Request) {
			checkAuth(t, r, false)
			jsonHandler(200, `{"_id":"amazon_com-usa","slug":"amazon_com-usa","name":"Amazon","packages":[{"value":"50","amount":50,"eurValue":"46.00","eurPrice":46,"usdPrice":50.00,"prices":{"BTC":0.00076923}}],"extra":{"x":1}}`)(w, r)
		},
		"GET /v2/ping": func(w http.ResponseWriter, r *http.Request) {
			checkAuth(t, r, false)
			jsonHandler(200, `{"meta":{"_endpoint":"/ping"},"message":"pong"}`)(w, r)
		},
		"GET /v2/accounts/balance": func(w http.ResponseWriter, r *http.Request) {
			checkAuth(t, r, true)
			jsonHandler(200, `{"meta":{"_endpoint":"/accounts/balance"},"data":{"balance":"1234.567890123456789","currency":"USD"}}`)(w, r)
		},
		"POST /v2/invoices": func(w http.ResponseWriter, r *http.Request) {
			checkAuth(t, r, true)
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("content-type = %q", ct)
			}
			var got map[string]any
			dec := json.NewDecoder(r.Body)
			dec.UseNumber()
			if err := dec.Decode(&got); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{
				"products": []any{
					map[string]any{"product_id": "steam-usa", "value": json.Number("10.5"), "quantity": json.Number("2")},
					map[string]any{"product_id": "t-mobile-usa", "package_id": "t-mobile-usa<&>25", "phone_number": "+14155550100"},
				},
				"payment_method": "usdc_base", "webhook_url": "https://example.com/hook",
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("create body (-want +got):\n%s", d)
			}
			jsonHandler(200, invoiceBody)(w, r)
		},
		"GET /v2/invoices": func(w http.ResponseWriter, r *http.Request) {
			checkAuth(t, r, true)
			if got, want := r.URL.RawQuery, "start=4&limit=2&after=2025-01-01+00%3A00%3A00&before=2025-02-01+00%3A00%3A00"; got != want {
				t.Errorf("list query = %s, want %s", got, want)
			}
			jsonHandler(200, listBody("invoices"))(w, r)
		},
		"GET /v2/invoices/inv1": func(w http.ResponseWriter, r *http.Request) {
			checkAuth(t, r, true)
			jsonHandler(200, invoiceBody)(w, r)
		},
		"POST /v2/invoices/inv1/pay": func(w http.ResponseWriter, r *http.Request) {
			checkAuth(t, r, true)
			if b, _ := io.ReadAll(r.Body); len(b) != 0 || r.Header.Get("Content-Type") != "" {
				t.Errorf("pay sent a body %q / content-type", b)
			}
			jsonHandler(200, invoiceBody)(w, r)
		},
		"GET /v2/orders": func(w http.ResponseWriter, r *http.Request) {
			checkAuth(t, r, true)
			if r.URL.RawQuery != "" {
				t.Errorf("zero ListParams sent %q", r.URL.RawQuery)
			}
			jsonHandler(200, listBody("orders"))(w, r)
		},
		"GET /v2/orders/o1": func(w http.ResponseWriter, r *http.Request) {
			checkAuth(t, r, true)
			jsonHandler(200, `{"meta":{"id":"o1"},"data":{"id":"o1","status":"delivered","product":{"id":"p"},"delivered_time":"2025-01-01T00:00:00Z","redemption_info":{"x":1}}}`)(w, r)
		},
		"GET /v2/orders/o1/unseal": func(w http.ResponseWriter, r *http.Request) {
			checkAuth(t, r, true)
			jsonHandler(200, `{"meta":{"id":"o1"},"data":{"id":"o1","status":"delivered","product":{"id":"p"},"code":"REAL-CODE-123","pin":"9876"}}`)(w, r)
		},
		"GET /v2/products": func(w http.ResponseWriter, r *http.Request) {
			checkAuth(t, r, true)
			jsonHandler(200, listBody("products"))(w, r)
		},
		"GET /v2/products/steam-usa": func(w http.ResponseWriter, r *http.Request) {
			jsonHandler(200, `{"meta":{},"data":{"id":"steam-usa","name":"Steam","packages":[{"id":"steam-usa<&>5","value":"5","price":5.1}]}}`)(w, r)
		},
		"GET /v2/check_phone_number": func(w http.ResponseWriter, r *http.Request) {
			if got, want := r.URL.RawQuery, "phone_number=%2B14155550100&operator=t-mobile-usa"; got != want {
				t.Errorf("phone query = %s want %s", got, want)
			}
			jsonHandler(200, `{"meta":{},"operator_found":true,"data":{"id":"t-mobile-usa","name":"T-Mobile","in_stock":true}}`)(w, r)
		},
	}
	var logs bytes.Buffer
	c, rec := newRouteClient(t, rt, func(o *bitrefill.Options) {
		o.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	ctx := context.Background()

	sr, err := c.Search(ctx, bitrefill.SearchParams{Query: "AT&T card", Skip: 5, Category: "refills", Country: "us", Language: "EN"})
	if err != nil {
		t.Fatal(err)
	}
	if sr.Total != 31 || !sr.TotalExact || sr.HasMore != true || sr.NextSkip != 6 {
		t.Errorf("search paging = total %d exact %v more %v next %d", sr.Total, sr.TotalExact, sr.HasMore, sr.NextSkip)
	}
	if sr.Products[0].Range.Min != "10" || sr.Products[0].Range.Max != "100" {
		t.Errorf("range = %+v", sr.Products[0].Range)
	}

	d, err := c.ProductDetail(ctx, "amazon_com-usa")
	if err != nil {
		t.Fatal(err)
	}
	if p := d.Packages[0]; p.EurValue != "46.00" || p.UsdPrice != "50.00" || p.Prices["BTC"] != "0.00076923" {
		t.Errorf("package money not exact: %+v", p)
	}
	if !strings.Contains(string(d.Raw), `"extra"`) {
		t.Error("Raw dropped unknown fields")
	}

	if p, err := c.Ping(ctx); err != nil || p.Message != "pong" {
		t.Errorf("ping = %+v, %v", p, err)
	}
	if b, err := c.Balance(ctx); err != nil || b.Balance != "1234.567890123456789" {
		t.Errorf("balance = %+v, %v", b, err)
	}
	inv, err := c.CreateInvoice(ctx, bitrefill.CreateInvoiceRequest{
		Products: []bitrefill.InvoiceProduct{
			{ProductID: "steam-usa", Value: "10.5", Quantity: 2},
			{ProductID: "t-mobile-usa", PackageID: "t-mobile-usa<&>25", PhoneNumber: "+14155550100"},
		},
		PaymentMethod: bitrefill.PaymentMethodUSDCBase, WebhookURL: "https://example.com/hook",
	})
	if err != nil {
		t.Fatal(err)
	}
	if inv.Invoice.Payment.Price != "12.50" || inv.Invoice.Orders[0].DeliveredTime != nil {
		t.Errorf("invoice = %+v", inv.Invoice)
	}
	il, err := c.ListInvoices(ctx, bitrefill.ListParams{Start: 4, Limit: 2, After: "2025-01-01 00:00:00", Before: "2025-02-01 00:00:00"})
	if err != nil {
		t.Fatal(err)
	}
	wantNext := bitrefill.ListParams{Start: 2, Limit: 2, After: "2025-01-01 00:00:00", Before: "2025-02-01 00:00:00"}
	if !il.HasMore || il.NextParams != wantNext {
		t.Errorf("next = %+v, want %+v", il.NextParams, wantNext)
	}
	if _, err := c.GetInvoice(ctx, "inv1"); err != nil {
		t.Error(err)
	}
	if _, err := c.PayInvoice(ctx, "inv1"); err != nil {
		t.Error(err)
	}
	ol, err := c.ListOrders(ctx, bitrefill.ListParams{})
	if err != nil || !ol.HasMore || ol.NextParams.Start != 2 {
		t.Errorf("orders = %+v, %v", ol, err)
	}
	o, err := c.GetOrder(ctx, "o1")
	if err != nil || string(o.Order.RedemptionInfo) != `{"x":1}` {
		t.Errorf("order = %+v, %v", o, err)
	}
	u, err := c.UnsealOrder(ctx, "o1")
	if err != nil || u.Order.Code != "REAL-CODE-123" || u.Order.Pin != "9876" {
		t.Fatalf("unseal = %+v, %v", u, err)
	}
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("unsealed", "order", u.Order, "result", *u)
	if _, err := c.ListProducts(ctx, bitrefill.ListParams{}); err != nil {
		t.Error(err)
	}
	if p, err := c.GetProduct(ctx, "steam-usa"); err != nil || p.Product.Packages[0].Price != "5.1" {
		t.Errorf("product = %+v, %v", p, err)
	}
	if ph, err := c.CheckPhoneNumber(ctx, "+14155550100", "t-mobile-usa"); err != nil || !ph.OperatorFound {
		t.Errorf("phone = %+v, %v", ph, err)
	}

	for k := range rt {
		if rec.count(k) != 1 {
			t.Errorf("%s called %d times, want 1", k, rec.count(k))
		}
	}
	for _, secret := range []string{testSecret, "REAL-CODE-123", "9876"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("logs contain %q:\n%s", secret, logs.String())
		}
	}
	if !strings.Contains(logs.String(), "/v2/orders/o1/unseal") {
		t.Error("expected a debug record per request")
	}
}

func TestIDEscaping(t *testing.T) {
	tests := []struct {
		id       string
		wantPath string
	}{
		{"../invoices", "/v2/invoices/..%2Finvoices"},
		{"a/b", "/v2/invoices/a%2Fb"},
		{"../../api/omni", "/v2/invoices/..%2F..%2Fapi%2Fomni"},
		{"x?y#z", "/v2/invoices/x%3Fy%23z"},
		{"%2e%2e", "/v2/invoices/%252e%252e"},
		{"sp ace", "/v2/invoices/sp%20ace"},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			var gotGet, gotPay string
			rt := routes{
				"GET " + tt.wantPath: func(w http.ResponseWriter, r *http.Request) {
					gotGet = r.URL.EscapedPath()
					jsonHandler(404, `{"message":"Invoice not found"}`)(w, r)
				},
				"POST " + tt.wantPath + "/pay": func(w http.ResponseWriter, r *http.Request) {
					gotPay = r.URL.EscapedPath()
					jsonHandler(404, `{"message":"not found or already paid"}`)(w, r)
				},
			}
			c, _ := newRouteClient(t, rt, nil)
			if _, err := c.GetInvoice(context.Background(), tt.id); !errors.Is(err, bitrefill.ErrNotFound) {
				t.Errorf("get err = %v", err)
			}
			if _, err := c.PayInvoice(context.Background(), tt.id); !errors.Is(err, bitrefill.ErrNotFound) {
				t.Errorf("pay err = %v", err)
			}
			if gotGet != tt.wantPath || gotPay != tt.wantPath+"/pay" {
				t.Errorf("paths = %q, %q", gotGet, gotPay)
			}
		})
	}
}

func TestInvalidIDsRejectedLocally(t *testing.T) {
	c, _ := newRouteClient(t, routes{}, nil)
	for _, id := range []string{"", " ", ".", "..", "a\nb", strings.Repeat("x", 300)} {
		if _, err := c.GetOrder(context.Background(), id); !errors.Is(err, bitrefill.ErrInvalidInput) {
			t.Errorf("GetOrder(%q) err = %v, want ErrInvalidInput", id, err)
		}
	}
}

func TestGetRetries(t *testing.T) {
	tests := []struct {
		name      string
		handler   func(n int32) (status int, hdr map[string]string)
		wantCalls int
		wantErr   error
		minDur    time.Duration
	}{
		{"5xx storm is bounded", func(int32) (int, map[string]string) { return 503, nil }, 3, bitrefill.ErrServerError, 0},
		{"500 then ok", func(n int32) (int, map[string]string) {
			if n == 1 {
				return 500, nil
			}
			return 200, nil
		}, 2, nil, 0},
		{"404 is not retried", func(int32) (int, map[string]string) { return 404, nil }, 1, bitrefill.ErrNotFound, 0},
		{"401 is not retried", func(int32) (int, map[string]string) { return 401, nil }, 1, bitrefill.ErrUnauthorized, 0},
		{"429 honours Retry-After", func(n int32) (int, map[string]string) {
			if n == 1 {
				return 429, map[string]string{"Retry-After": "1"}
			}
			return 200, nil
		}, 2, nil, 900 * time.Millisecond},
		{"429 honours RateLimit-Reset", func(n int32) (int, map[string]string) {
			if n == 1 {
				return 429, map[string]string{"RateLimit-Remaining": "0", "RateLimit-Reset": "1"}
			}
			return 200, nil
		}, 2, nil, 900 * time.Millisecond},
		{"429 storm ends in ErrRateLimited", func(int32) (int, map[string]string) { return 429, nil }, 3, bitrefill.ErrRateLimited, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int32
			c, _ := newRouteClient(t, routes{"GET /v2/accounts/balance": func(w http.ResponseWriter, r *http.Request) {
				status, hdr := tt.handler(n.Add(1))
				for k, v := range hdr {
					w.Header().Set(k, v)
				}
				if status == 200 {
					jsonHandler(200, `{"meta":{},"data":{"balance":1,"currency":"USD"}}`)(w, r)
					return
				}
				jsonHandler(status, `{"message":"nope","error_code":"e"}`)(w, r)
			}}, func(o *bitrefill.Options) { o.MaxRetries = 2 })
			start := time.Now()
			_, err := c.Balance(context.Background())
			if tt.wantErr == nil && err != nil {
				t.Fatalf("err = %v", err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got := int(n.Load()); got != tt.wantCalls {
				t.Errorf("calls = %d, want %d", got, tt.wantCalls)
			}
			if el := time.Since(start); el < tt.minDur {
				t.Errorf("returned after %s, want >= %s", el, tt.minDur)
			}
		})
	}
}

func TestRetryAfterBeyondDeadlineReturnsPromptly(t *testing.T) {
	var n atomic.Int32
	c, _ := newRouteClient(t, routes{"GET /api/product/x": func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Retry-After", "30")
		jsonHandler(429, `{"message":"slow down"}`)(w, r)
	}}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err := c.ProductDetail(ctx, "x")
	if el := time.Since(start); el > 500*time.Millisecond {
		t.Fatalf("took %s; must not wait for Retry-After past the deadline", el)
	}
	var apiErr *bitrefill.APIError
	if !errors.Is(err, bitrefill.ErrRateLimited) || !errors.As(err, &apiErr) || apiErr.RetryAfter != 30*time.Second {
		t.Fatalf("err = %v", err)
	}
	if n.Load() != 1 {
		t.Fatalf("calls = %d", n.Load())
	}
}

func TestCallerDeadlineBoundsRetries(t *testing.T) {
	c, _ := newRouteClient(t, routes{"GET /v2/ping": func(w http.ResponseWriter, r *http.Request) {
		jsonHandler(503, `{}`)(w, r)
	}}, func(o *bitrefill.Options) {
		o.MaxRetries = 100
		o.RetryBaseDelay, o.RetryMaxDelay = 50*time.Millisecond, 50*time.Millisecond
	})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Ping(ctx)
	if err == nil || time.Since(start) > time.Second {
		t.Fatalf("err = %v after %s", err, time.Since(start))
	}
}

func TestAttemptTimeoutRetriesGet(t *testing.T) {
	var n atomic.Int32
	c, _ := newRouteClient(t, routes{"GET /v2/ping": func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			select {
			case <-r.Context().Done():
			case <-time.After(2 * time.Second):
			}
			return
		}
		jsonHandler(200, `{"meta":{},"message":"pong"}`)(w, r)
	}}, func(o *bitrefill.Options) { o.AttemptTimeout = 100 * time.Millisecond })
	if _, err := c.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n.Load() != 2 {
		t.Fatalf("calls = %d", n.Load())
	}
}

var validCreate = bitrefill.CreateInvoiceRequest{
	Products:      []bitrefill.InvoiceProduct{{ProductID: "steam-usa", Value: "10"}},
	PaymentMethod: "balance",
}

// TestPostSentAtMostOnce uses the fake's fault injection: whatever goes
// wrong after the request may have been processed, exactly one POST
// reaches the server and the error says the outcome is unknown.
func TestPostSentAtMostOnce(t *testing.T) {
	tests := []struct {
		name        string
		fault       fakebitrefill.Fault
		pay         bool
		wantUnknown bool
		wantErr     error
		wantCreated int // invoices existing afterwards
	}{
		{"503 on create", fakebitrefill.Fault{Method: "POST", Path: "/v2/invoices", Status: 503}, false, true, bitrefill.ErrServerError, 0},
		{"500 after processing", fakebitrefill.Fault{Method: "POST", Path: "/v2/invoices", Status: 500, AfterHandling: true}, false, true, bitrefill.ErrServerError, 1},
		{"slow create exceeds attempt timeout", fakebitrefill.Fault{Method: "POST", Path: "/v2/invoices", Delay: 2 * time.Second, AfterHandling: true}, false, true, context.DeadlineExceeded, 1},
		{"connection dropped after processing", fakebitrefill.Fault{Method: "POST", Path: "/v2/invoices", AfterHandling: true, CloseConnection: true}, false, true, nil, 1},
		{"429 on create is a known rejection", fakebitrefill.Fault{Method: "POST", Path: "/v2/invoices", Status: 429, RetryAfter: time.Second, RateLimitHeaders: true}, false, false, bitrefill.ErrRateLimited, 0},
		{"400 on create is a known rejection", fakebitrefill.Fault{Method: "POST", Path: "/v2/invoices", Status: 400, Body: `{"message":"bad","error_code":"x"}`}, false, false, bitrefill.ErrBadRequest, 0},
		{"503 on pay", fakebitrefill.Fault{Method: "POST", Path: "/v2/invoices/", Status: 503}, true, true, bitrefill.ErrServerError, 1},
		{"slow pay", fakebitrefill.Fault{Method: "POST", Path: "/v2/invoices/", Delay: 2 * time.Second}, true, true, context.DeadlineExceeded, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f, _ := newFakeClient(t, fakebitrefill.Config{}, func(o *bitrefill.Options) {
				o.AttemptTimeout = 200 * time.Millisecond
				o.MaxRetries = 5
			})
			ctx := context.Background()
			var err error
			if tt.pay {
				inv, cerr := c.CreateInvoice(ctx, validCreate)
				if cerr != nil {
					t.Fatal(cerr)
				}
				f.ResetRequests()
				f.AddFault(tt.fault)
				_, err = c.PayInvoice(ctx, inv.Invoice.ID)
			} else {
				f.AddFault(tt.fault)
				_, err = c.CreateInvoice(ctx, validCreate)
			}
			if err == nil {
				t.Fatal("want an error")
			}
			if got := f.Requests(http.MethodPost, "/v2/invoices"); got != 1 {
				t.Fatalf("POST requests = %d, want exactly 1", got)
			}
			if errors.Is(err, bitrefill.ErrOutcomeUnknown) != tt.wantUnknown {
				t.Fatalf("err = %v; ErrOutcomeUnknown want %v", err, tt.wantUnknown)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			f.ClearFaults()
			l, lerr := c.ListInvoices(ctx, bitrefill.ListParams{})
			if lerr != nil {
				t.Fatal(lerr)
			}
			if len(l.Invoices) != tt.wantCreated {
				t.Errorf("invoices = %d, want %d", len(l.Invoices), tt.wantCreated)
			}
		})
	}
}

// TestPostDialFailureIsRetried: a dial error proves nothing was sent, so
// the POST may be retried and succeeds exactly once.
func TestPostDialFailureIsRetried(t *testing.T) {
	f, err := fakebitrefill.New(fakebitrefill.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(f)
	defer srv.Close()
	var dials atomic.Int32
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dials.Add(1) == 1 {
			return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("connection refused")}
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	defer tr.CloseIdleConnections()
	pub, v2 := fakebitrefill.BaseURLs(srv.URL)
	id, secret := f.Credentials()
	c, err := bitrefill.New(bitrefill.Options{PublicBaseURL: pub, V2BaseURL: v2, APIID: id, APISecret: secret,
		HTTPClient: &http.Client{Transport: tr}, RetryBaseDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateInvoice(context.Background(), validCreate); err != nil {
		t.Fatal(err)
	}
	if got := f.Requests(http.MethodPost, "/v2/invoices"); got != 1 {
		t.Fatalf("POSTs = %d", got)
	}
	if dials.Load() != 2 {
		t.Fatalf("dials = %d", dials.Load())
	}
}

// TestPostNotRetriedWithOpaqueTransport: a RoundTripper that fails without
// a dial error might have sent the request, so it is not retried.
func TestPostNotRetriedWithOpaqueTransport(t *testing.T) {
	var calls atomic.Int32
	rtFunc := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		calls.Add(1)
		return nil, io.ErrUnexpectedEOF
	})
	c, err := bitrefill.New(bitrefill.Options{APIID: "a", APISecret: "b", HTTPClient: &http.Client{Transport: rtFunc}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.PayInvoice(context.Background(), "inv")
	if !errors.Is(err, bitrefill.ErrOutcomeUnknown) || calls.Load() != 1 {
		t.Fatalf("err = %v, calls = %d", err, calls.Load())
	}
	// The same failure on a GET is retried.
	calls.Store(0)
	_, err = c.GetInvoice(context.Background(), "inv")
	if err == nil || calls.Load() != 3 {
		t.Fatalf("GET err = %v, calls = %d", err, calls.Load())
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestCreateInvoiceValidation(t *testing.T) {
	c, rec := newRouteClient(t, routes{}, nil)
	p := func(mut func(*bitrefill.InvoiceProduct)) bitrefill.CreateInvoiceRequest {
		ip := bitrefill.InvoiceProduct{ProductID: "steam-usa", Value: "10"}
		mut(&ip)
		return bitrefill.CreateInvoiceRequest{Products: []bitrefill.InvoiceProduct{ip}, PaymentMethod: "balance"}
	}
	tests := []struct {
		name  string
		req   bitrefill.CreateInvoiceRequest
		field string
	}{
		{"no products", bitrefill.CreateInvoiceRequest{PaymentMethod: "balance"}, "products"},
		{"neither value nor package", p(func(ip *bitrefill.InvoiceProduct) { ip.Value = "" }), "products[0].value"},
		{"both value and package", p(func(ip *bitrefill.InvoiceProduct) { ip.PackageID = "steam-usa<&>10" }), "products[0].value"},
		{"zero value", p(func(ip *bitrefill.InvoiceProduct) { ip.Value = "0" }), "products[0].value"},
		{"negative value", p(func(ip *bitrefill.InvoiceProduct) { ip.Value = "-5" }), "products[0].value"},
		{"garbage value", p(func(ip *bitrefill.InvoiceProduct) { ip.Value = "ten" }), "products[0].value"},
		{"missing product id", p(func(ip *bitrefill.InvoiceProduct) { ip.ProductID = " " }), "products[0].product_id"},
		{"negative quantity", p(func(ip *bitrefill.InvoiceProduct) { ip.Quantity = -1 }), "products[0].quantity"},
		{"bad phone", p(func(ip *bitrefill.InvoiceProduct) { ip.PhoneNumber = "call me" }), "products[0].phone_number"},
		{"missing method", bitrefill.CreateInvoiceRequest{Products: validCreate.Products}, "payment_method"},
		{"unknown method", bitrefill.CreateInvoiceRequest{Products: validCreate.Products, PaymentMethod: "dogecoin"}, "payment_method"},
		{"auto_pay with bitcoin", bitrefill.CreateInvoiceRequest{Products: validCreate.Products, PaymentMethod: "bitcoin", AutoPay: true}, "auto_pay"},
		{"bad webhook", bitrefill.CreateInvoiceRequest{Products: validCreate.Products, PaymentMethod: "balance", WebhookURL: "ftp://x"}, "webhook_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.CreateInvoice(context.Background(), tt.req)
			var ve *bitrefill.ValidationError
			if !errors.Is(err, bitrefill.ErrInvalidInput) || !errors.As(err, &ve) || ve.Field != tt.field {
				t.Fatalf("err = %v, want ValidationError on %s", err, tt.field)
			}
		})
	}
	if n := rec.count("POST /v2/invoices"); n != 0 {
		t.Fatalf("invalid requests were sent: %d", n)
	}
	for _, m := range append(bitrefill.PaymentMethods(), "ethereum") {
		r := validCreate
		r.PaymentMethod = m
		if err := r.Validate(); err != nil {
			t.Errorf("method %s rejected: %v", m, err)
		}
	}
}

func TestSearchValidation(t *testing.T) {
	c, _ := newRouteClient(t, routes{}, nil)
	for _, p := range []bitrefill.SearchParams{
		{Query: ""}, {Query: "x", Limit: -1}, {Query: "x", Limit: bitrefill.MaxSearchLimit + 1},
		{Query: "x", Skip: -1}, {Query: "x", Country: "USA"}, {Query: "x", Language: "english!"},
		{Query: "x", Category: "../etc"},
	} {
		if _, err := c.Search(context.Background(), p); !errors.Is(err, bitrefill.ErrInvalidInput) {
			t.Errorf("Search(%+v) err = %v", p, err)
		}
	}
	for _, p := range []bitrefill.ListParams{{Start: -1}, {Limit: 51}, {After: "yesterday"}, {Before: "2025-01-01T00:00:00Z"}} {
		if _, err := c.ListOrders(context.Background(), p); !errors.Is(err, bitrefill.ErrInvalidInput) {
			t.Errorf("ListOrders(%+v) err = %v", p, err)
		}
	}
}

func TestSearchWithoutTotalCount(t *testing.T) {
	items := func(n int) string {
		var parts []string
		for i := range n {
			parts = append(parts, `{"id":"p`+string(rune('a'+i))+`","name":"x"}`)
		}
		return `{"products":[` + strings.Join(parts, ",") + `]}`
	}
	tests := []struct {
		name      string
		body      string
		limit     int
		skip      int
		wantMore  bool
		wantTotal int
		wantNext  int
	}{
		{"full page guesses more", items(3), 3, 6, true, 9, 9},
		{"short page is the end", items(2), 3, 6, false, 8, 0},
		{"products not an array", `{"products":{"a":1},"totalCount":"x"}`, 3, 0, false, 0, 0},
		{"products missing", `{}`, 3, 3, false, 3, 0},
		{"total count says more", `{"products":[{"id":"a"}],"totalCount":10}`, 1, 0, true, 10, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newRouteClient(t, routes{"GET /api/omni": jsonHandler(200, tt.body)}, nil)
			res, err := c.Search(context.Background(), bitrefill.SearchParams{Query: "*", Limit: tt.limit, Skip: tt.skip})
			if err != nil {
				t.Fatal(err)
			}
			if res.HasMore != tt.wantMore || res.Total != tt.wantTotal || res.NextSkip != tt.wantNext {
				t.Errorf("more=%v total=%d next=%d; want %v %d %d", res.HasMore, res.Total, res.NextSkip, tt.wantMore, tt.wantTotal, tt.wantNext)
			}
		})
	}
}

func TestAPIErrorShapes(t *testing.T) {
	tests := []struct {
		name     string
		path     string
		status   int
		body     string
		wantIs   error
		wantNot  error
		wantCode string
		wantMsg  string
	}{
		{"v2 message/error_code", "GET /v2/orders/x", 404, `{"message":"Order not found","error_code":"order_not_found"}`, bitrefill.ErrNotFound, nil, "order_not_found", "Order not found"},
		{"nested error object", "GET /v2/orders/x", 400, `{"error":{"message":"bad","code":42}}`, bitrefill.ErrBadRequest, nil, "42", "bad"},
		{"plain text", "GET /v2/orders/x", 404, "Product not found", bitrefill.ErrNotFound, nil, "", "Product not found"},
		{"html page", "GET /v2/orders/x", 503, "<html>" + strings.Repeat("x", 10000) + "</html>", bitrefill.ErrServerError, nil, "", "Service Unavailable"},
		{"403 permission on get", "GET /v2/orders/x", 403, `{"message":"API key lacks permission"}`, bitrefill.ErrForbidden, bitrefill.ErrInsufficientFunds, "", "API key lacks permission"},
		{"403 on pay is funds", "POST /v2/invoices/x/pay", 403, `{"message":"Forbidden"}`, bitrefill.ErrInsufficientFunds, bitrefill.ErrForbidden, "", "Forbidden"},
		{"403 on pay about auth", "POST /v2/invoices/x/pay", 403, `{"message":"auth failed"}`, bitrefill.ErrForbidden, bitrefill.ErrInsufficientFunds, "", "auth failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newRouteClient(t, routes{tt.path: jsonHandler(tt.status, tt.body)}, func(o *bitrefill.Options) { o.MaxRetries = -1 })
			var err error
			if strings.HasPrefix(tt.path, "POST") {
				_, err = c.PayInvoice(context.Background(), "x")
			} else {
				_, err = c.GetOrder(context.Background(), "x")
			}
			var apiErr *bitrefill.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v", err)
			}
			if !errors.Is(err, tt.wantIs) || (tt.wantNot != nil && errors.Is(err, tt.wantNot)) {
				t.Errorf("err = %v: Is(%v) want true, Is(%v) want false", err, tt.wantIs, tt.wantNot)
			}
			if apiErr.Code != tt.wantCode || apiErr.Message != tt.wantMsg || apiErr.StatusCode != tt.status {
				t.Errorf("got code %q msg %q status %d", apiErr.Code, apiErr.Message, apiErr.StatusCode)
			}
			if len(apiErr.Body) > 2048 {
				t.Errorf("body not capped: %d", len(apiErr.Body))
			}
		})
	}
}

func TestNewValidatesOptions(t *testing.T) {
	for _, o := range []bitrefill.Options{
		{V2BaseURL: "http://api.example.com/v2"},
		{PublicBaseURL: "ftp://x"},
		{V2BaseURL: "https://user:pw@x/v2"},
		{APIID: "id"},
		{APIID: "a:b", APISecret: "s"},
	} {
		if _, err := bitrefill.New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
	c, err := bitrefill.New(bitrefill.Options{V2BaseURL: "http://127.0.0.1:1/v2", APIID: "id", APISecret: "topsecret"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(c.String(), "topsecret") || strings.Contains(c.String(), "id") && strings.Contains(c.String(), "topsecret") {
		t.Error("String leaks the secret")
	}
}

func TestConcurrentUse(t *testing.T) {
	c, _, _ := newFakeClient(t, fakebitrefill.Config{Balance: "100000"}, nil)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				_, err := c.Search(ctx, bitrefill.SearchParams{Query: "steam"})
				errs <- err
				return
			}
			inv, err := c.CreateInvoice(ctx, validCreate)
			if err == nil {
				_, err = c.PayInvoice(ctx, inv.Invoice.ID)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	l, err := c.ListOrders(ctx, bitrefill.ListParams{})
	if err != nil || len(l.Orders) != 10 {
		t.Fatalf("orders = %d, %v", len(l.Orders), err)
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	var hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
	}))
	defer target.Close()
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/steal", http.StatusFound)
	}))
	defer src.Close()
	c, err := bitrefill.New(bitrefill.Options{V2BaseURL: src.URL + "/v2", APIID: "a", APISecret: "b"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Balance(context.Background())
	var apiErr *bitrefill.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusFound || hits.Load() != 0 {
		t.Fatalf("err = %v, redirect target hits = %d", err, hits.Load())
	}
}

func TestTransportErrorHidesQuery(t *testing.T) {
	c, err := bitrefill.New(bitrefill.Options{V2BaseURL: "http://127.0.0.1:1/v2", APIID: "a", APISecret: "b", MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CheckPhoneNumber(context.Background(), "+14155550100", "")
	if err == nil || strings.Contains(err.Error(), "4155550100") || !strings.Contains(err.Error(), "/v2/check_phone_number") {
		t.Fatalf("err = %v", err)
	}
}
