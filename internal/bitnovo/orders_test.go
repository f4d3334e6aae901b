package bitnovo

import (
	"context"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const orderID = "6d1e3a3c-7c1f-4b8e-9a43-0f1d2c3b4a59"

// formOf parses a multipart create request and fails on anything else.
func formOf(t *testing.T, r *http.Request) map[string]string {
	t.Helper()
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		t.Errorf("Content-Type = %q, want multipart/form-data", r.Header.Get("Content-Type"))
		return nil
	}
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		t.Errorf("ParseMultipartForm: %v", err)
		return nil
	}
	got := map[string]string{}
	for k, vs := range r.MultipartForm.Value {
		if len(vs) != 1 {
			t.Errorf("field %s sent %d times", k, len(vs))
		}
		got[k] = vs[0]
	}
	if len(r.MultipartForm.File) != 0 {
		t.Errorf("unexpected file parts")
	}
	return got
}

func TestCreateOrderForm(t *testing.T) {
	tests := []struct {
		name string
		req  CreateOrderRequest
		want map[string]string
	}{
		{
			name: "onchain full",
			req: CreateOrderRequest{
				ExpectedOutputAmount: "50.00", InputCurrency: "BTC_TEST", Fiat: "usd", Notes: "Order #42 — café",
				Reference: "ref-42", Language: "ES", URLOK: "https://shop.example/ok?x=1", URLKO: "https://shop.example/ko",
			},
			want: map[string]string{
				"expected_output_amount": "50.00", "input_currency": "BTC_TEST", "fiat": "USD", "notes": "Order #42 — café",
				"reference": "ref-42", "language": "ES", "merchant_urlok": "https://shop.example/ok?x=1",
				"merchant_urlko": "https://shop.example/ko",
			},
		},
		{
			name: "gateway link omits empties",
			req:  CreateOrderRequest{ExpectedOutputAmount: "12.5"},
			want: map[string]string{"expected_output_amount": "12.5", "fiat": "EUR"},
		},
		{
			name: "only urlko, exponent amount canonicalised",
			req:  CreateOrderRequest{ExpectedOutputAmount: "1.5e1", URLKO: "http://localhost:8080/ko"},
			want: map[string]string{"expected_output_amount": "15", "fiat": "EUR", "merchant_urlko": "http://localhost:8080/ko"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, "", routes{"POST /api/v1/orders/": func(w http.ResponseWriter, r *http.Request) {
				if diff := cmp.Diff(tt.want, formOf(t, r)); diff != "" {
					t.Errorf("form fields (-want +got):\n%s", diff)
				}
				writeJSON(201, `{"identifier":"`+orderID+`","web_url":"https://paytest.bitnovo.com/ab12cd34/"}`)(w, r)
			}})
			c := newClient(t, srv.URL, Options{})
			o, err := c.CreateOrder(context.Background(), tt.req)
			if err != nil {
				t.Fatalf("CreateOrder: %v", err)
			}
			if o.Identifier != orderID {
				t.Errorf("Identifier = %q", o.Identifier)
			}
			if n := srv.count("POST /api/v1/orders/"); n != 1 {
				t.Errorf("%d POSTs", n)
			}
		})
	}
}

func TestCreateOrderValidation(t *testing.T) {
	tests := []struct {
		name string
		req  CreateOrderRequest
	}{
		{"missing amount", CreateOrderRequest{}},
		{"zero amount", CreateOrderRequest{ExpectedOutputAmount: "0"}},
		{"negative amount", CreateOrderRequest{ExpectedOutputAmount: "-1"}},
		{"garbage amount", CreateOrderRequest{ExpectedOutputAmount: "ten"}},
		{"bad fiat", CreateOrderRequest{ExpectedOutputAmount: "1", Fiat: "EURO"}},
		{"bad symbol", CreateOrderRequest{ExpectedOutputAmount: "1", InputCurrency: "BTC&x=1"}},
		{"javascript url", CreateOrderRequest{ExpectedOutputAmount: "1", URLOK: "javascript:alert(1)"}},
		{"relative url", CreateOrderRequest{ExpectedOutputAmount: "1", URLKO: "/ko"}},
	}
	srv := newServer(t, "", routes{})
	c := newClient(t, srv.URL, Options{})
	for _, tt := range tests {
		if _, err := c.CreateOrder(context.Background(), tt.req); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("%s: err = %v, want ErrInvalidRequest", tt.name, err)
		}
	}
}

func TestCreateOrderResponses(t *testing.T) {
	onchain := &Order{
		Identifier: orderID, Reference: "ref-1", PaymentURI: "bitcoin:tb1qxyz?amount=0.00083333", Address: "tb1qxyz",
		InputCurrency: "BTC_TEST", Fiat: "EUR", Language: "EN", ExpectedInputAmount: "0.00083333", Rate: "60000.5",
		CreatedAt: "2025-01-01T10:00:00Z", ExpiredAt: "2025-01-01T10:15:00Z", ExpectedOutputAmount: "50",
	}
	bare := `{"identifier":"` + orderID + `","reference":"ref-1","payment_uri":"bitcoin:tb1qxyz?amount=0.00083333",
		"address":"tb1qxyz","tag_memo":null,"input_currency":"BTC_TEST","expected_input_amount":0.00083333,"rate":60000.5,
		"fiat":"EUR","language":"EN","notes":null,"expected_output_amount":50,"created_at":"2025-01-01T10:00:00Z",
		"expired_at":"2025-01-01T10:15:00Z","merchant_device_id":12}`
	tests := []struct {
		name   string
		status int
		body   string
		want   *Order
	}{
		{name: "bare 201", status: 201, body: bare, want: onchain},
		{name: "wrapped data", status: 200, body: `{"data":` + bare + `}`, want: onchain},
		{name: "wrapped success", status: 200, body: `{"status":"success","data":` + bare + `}`, want: onchain},
		{name: "string amounts", status: 201, body: strings.NewReplacer(
			`0.00083333,`, `"0.00083333",`, `60000.5,`, `"60000.50",`).Replace(bare),
			want: func() *Order { o := *onchain; o.Rate = "60000.50"; return &o }()},
		{name: "exponent amount", status: 201, body: strings.Replace(bare, `0.00083333,`, `8.3333e-4,`, 1), want: onchain},
		{name: "gateway with nulls", status: 201, body: `{"identifier":"` + orderID + `","web_url":"https://paytest.bitnovo.com/ab12cd34/",
			"address":null,"payment_uri":null,"expected_input_amount":null,"rate":null,"input_currency":null,"merchant_urlok":"https://ok"}`,
			want: &Order{Identifier: orderID, WebURL: "https://paytest.bitnovo.com/ab12cd34/", URLOK: "https://ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, "", routes{"POST /api/v1/orders/": writeJSON(tt.status, tt.body)})
			c := newClient(t, srv.URL, Options{})
			got, err := c.CreateOrder(context.Background(), CreateOrderRequest{ExpectedOutputAmount: "50", InputCurrency: "BTC_TEST"})
			if err != nil {
				t.Fatalf("CreateOrder: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("order (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCreateOrderFailures covers every way a create can fail and checks that
// exactly one POST was made and how the failure is classified.
func TestCreateOrderFailures(t *testing.T) {
	tests := []struct {
		name        string
		handler     http.HandlerFunc
		attempt     time.Duration
		wantUnknown bool
		wantStatus  int // of the *APIError reachable with errors.As; 0 for none
		wantCode    string
		wantTimeout bool
		check       func(t *testing.T, err error)
	}{
		{
			name:    "slow server beyond the attempt timeout",
			attempt: 100 * time.Millisecond,
			handler: func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				<-r.Context().Done()
			},
			wantUnknown: true, wantTimeout: true,
		},
		{
			name:        "503",
			handler:     writeJSON(503, `{"detail":"Service unavailable"}`),
			wantUnknown: true, wantStatus: 503, wantCode: "HTTP_503",
		},
		{
			name:        "500 html",
			handler:     func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500); io.WriteString(w, "<h1>oops</h1>") },
			wantUnknown: true, wantStatus: 500, wantCode: "HTTP_500",
		},
		{
			name: "connection reset after the request was read",
			handler: func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				hijackClose(t, w)
			},
			wantUnknown: true,
		},
		{
			name: "2xx cut short",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "500")
				w.WriteHeader(201)
				io.WriteString(w, `{"identifier":"`)
				w.(http.Flusher).Flush()
				hijackClose(t, w)
			},
			wantUnknown: true,
		},
		{
			name:        "2xx without identifier",
			handler:     writeJSON(201, `{"status":"NR","web_url":"https://x/"}`),
			wantUnknown: true, wantStatus: 201, wantCode: CodeCreatePaymentInvalidResponse,
			check: func(t *testing.T, err error) {
				if !errors.Is(err, ErrMalformedResponse) {
					t.Errorf("err does not match ErrMalformedResponse: %v", err)
				}
			},
		},
		{
			name:        "2xx not json",
			handler:     func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html>ok</html>") },
			wantUnknown: true, wantStatus: 200, wantCode: CodeCreatePaymentInvalidResponse,
		},
		{
			name:        "2xx bad amount",
			handler:     writeJSON(201, `{"identifier":"x","rate":"lots"}`),
			wantUnknown: true, wantStatus: 201, wantCode: CodeCreatePaymentInvalidResponse,
		},
		{
			name: "2xx too large",
			handler: func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, `{"identifier":"x","notes":"`+strings.Repeat("n", maxResponseBody)+`"}`)
			},
			wantUnknown: true,
		},
		{
			name:        "redirect is not followed",
			handler:     func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/elsewhere", http.StatusFound) },
			wantUnknown: true, wantStatus: 302, wantCode: "HTTP_302",
		},
		{
			name: "429 is returned, not retried",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "7")
				writeJSON(429, `{"message":"Too many requests"}`)(w, r)
			},
			wantStatus: 429, wantCode: "HTTP_429",
			check: func(t *testing.T, err error) {
				var e *APIError
				if errors.As(err, &e) && e.RetryAfter != 7*time.Second {
					t.Errorf("RetryAfter = %v, want 7s", e.RetryAfter)
				}
			},
		},
		{
			name:       "400 field errors",
			handler:    writeJSON(400, `{"expected_output_amount":["Ensure this value is greater than or equal to 0.01."]}`),
			wantStatus: 400, wantCode: "HTTP_400",
			check: func(t *testing.T, err error) {
				var e *APIError
				if errors.As(err, &e) && e.Message != "expected_output_amount: Ensure this value is greater than or equal to 0.01." {
					t.Errorf("Message = %q", e.Message)
				}
			},
		},
		{
			name:       "404 is a rejection, not a missing payment",
			handler:    writeJSON(404, `{"detail":"Currency not found"}`),
			wantStatus: 404, wantCode: "HTTP_404",
			check: func(t *testing.T, err error) {
				if errors.Is(err, ErrNotFound) {
					t.Errorf("a create 404 matches ErrNotFound: %v", err)
				}
			},
		},
		{
			name:       "403 bad device",
			handler:    writeJSON(403, `{"code":"FORBIDDEN","message":"Invalid device"}`),
			wantStatus: 403, wantCode: "FORBIDDEN",
		},
		{
			name:        "error wrapper that names an order",
			handler:     writeJSON(200, `{"status":"error","error":"webhook failed","data":{"identifier":"x"}}`),
			wantUnknown: true, wantStatus: 200, wantCode: CodeCreatePaymentInvalidResponse,
		},
		{
			name:       "200 error wrapper",
			handler:    writeJSON(200, `{"status":"error","error":"Invalid currency"}`),
			wantStatus: 200, wantCode: CodeCreatePaymentFailed,
			check: func(t *testing.T, err error) {
				var e *APIError
				if errors.As(err, &e) && e.Message != "Invalid currency" {
					t.Errorf("Message = %q", e.Message)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, "", routes{"POST /api/v1/orders/": tt.handler})
			var sl sleeps
			c := newClient(t, srv.URL, Options{AttemptTimeout: tt.attempt, MaxRetries: 2, Sleep: sl.sleep})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			o, err := c.CreateOrder(ctx, CreateOrderRequest{ExpectedOutputAmount: "10", InputCurrency: "BTC"})
			if err == nil {
				t.Fatalf("CreateOrder = %+v, want error", o)
			}
			if n := srv.count("POST /api/v1/orders/"); n != 1 {
				t.Errorf("server saw %d POSTs, want exactly 1", n)
			}
			if n := srv.count("GET /elsewhere"); n != 0 {
				t.Errorf("redirect followed")
			}
			if len(sl.get()) != 0 {
				t.Errorf("slept %v: a create was considered for retry", sl.get())
			}
			if got := errors.Is(err, ErrOutcomeUnknown); got != tt.wantUnknown {
				t.Errorf("errors.Is(err, ErrOutcomeUnknown) = %v, want %v; err = %v", got, tt.wantUnknown, err)
			}
			if got := errors.Is(err, ErrTimeout); got != tt.wantTimeout {
				t.Errorf("errors.Is(err, ErrTimeout) = %v, want %v", got, tt.wantTimeout)
			}
			if tt.wantTimeout && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("timeout does not match context.DeadlineExceeded: %v", err)
			}
			var e *APIError
			switch {
			case tt.wantStatus == 0 && errors.As(err, &e):
				t.Errorf("unexpected APIError %v", e)
			case tt.wantStatus != 0 && !errors.As(err, &e):
				t.Errorf("no APIError in %v", err)
			case tt.wantStatus != 0 && (e.StatusCode != tt.wantStatus || e.Code != tt.wantCode || e.Method != "POST"):
				t.Errorf("APIError status %d code %q method %q, want %d %q POST", e.StatusCode, e.Code, e.Method, tt.wantStatus, tt.wantCode)
			}
			if tt.check != nil {
				tt.check(t, err)
			}
		})
	}
}

// refusedURL returns a loopback URL where nothing listens.
func refusedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func TestCreateOrderDialRefusedIsRetried(t *testing.T) {
	var dials atomic.Int32
	d := &net.Dialer{Timeout: time.Second}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return d.DialContext(ctx, network, addr)
	}}
	defer tr.CloseIdleConnections()
	var sl sleeps
	c := newClient(t, refusedURL(t), Options{HTTPClient: &http.Client{Transport: tr}, MaxRetries: 2, Sleep: sl.sleep})
	_, err := c.CreateOrder(context.Background(), CreateOrderRequest{ExpectedOutputAmount: "10"})
	if err == nil {
		t.Fatal("want error")
	}
	if errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("dial refused reported as outcome unknown: %v", err)
	}
	var e *APIError
	if errors.As(err, &e) {
		t.Errorf("dial refused reported as APIError: %v", err)
	}
	if got := dials.Load(); got != 3 {
		t.Errorf("%d dials, want 1+MaxRetries = 3", got)
	}
	if len(sl.get()) != 2 {
		t.Errorf("slept %v, want 2 sleeps", sl.get())
	}
}

// roundTripFunc is a transport that is not an *http.Transport, so the client
// cannot rely on connection tracing and must inspect errors.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestCreateOrderCustomTransport(t *testing.T) {
	tests := []struct {
		name        string
		err         error
		wantCalls   int32
		wantUnknown bool
	}{
		{name: "dial error retried", err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, wantCalls: 3},
		{name: "dns error retried", err: &net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}, wantCalls: 3},
		{name: "other error not retried", err: errors.New("broken pipe"), wantCalls: 1, wantUnknown: true},
		{name: "write error not retried", err: &net.OpError{Op: "write", Net: "tcp", Err: errors.New("reset")}, wantCalls: 1, wantUnknown: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				calls.Add(1)
				return nil, tt.err
			})}
			c := newClient(t, "https://pos.example", Options{HTTPClient: hc, MaxRetries: 2, Sleep: (&sleeps{}).sleep})
			_, err := c.CreateOrder(context.Background(), CreateOrderRequest{ExpectedOutputAmount: "10"})
			if got := calls.Load(); got != tt.wantCalls {
				t.Errorf("%d round trips, want %d", got, tt.wantCalls)
			}
			if got := errors.Is(err, ErrOutcomeUnknown); got != tt.wantUnknown {
				t.Errorf("outcome unknown = %v, want %v (%v)", got, tt.wantUnknown, err)
			}
		})
	}
}

func TestCreateOrderRealDelaysStayBounded(t *testing.T) {
	// A refused POST with real backoff sleeps ends within the caller's deadline.
	c := newClient(t, refusedURL(t), Options{MaxRetries: 2, BaseDelay: 5 * time.Millisecond, MaxDelay: 20 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	_, err := c.CreateOrder(ctx, CreateOrderRequest{ExpectedOutputAmount: "10"})
	if err == nil || errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("err = %v", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("took %v", el)
	}
}

func TestOrderInfoShapes(t *testing.T) {
	full := `{"identifier":"` + orderID + `","reference":"ref-1","created_at":"2025-01-01T10:00:00Z",
		"edited_at":"2025-01-01T10:05:00Z","status":"AC","fiat_amount":50.0,"crypto_amount":0.00083333,
		"unconfirmed_amount":"0.00083333","confirmed_amount":0,"received_amount":null,"currency_id":"BTC_TEST",
		"merchant_device_id":123,"merchant_device":"Shop","address":"tb1qxyz","tag_memo":"","url_ko":null,"url_ok":"https://ok",
		"url_standby":null,"expired_time":"2025-01-01T10:15:00Z","good_fee":true,"notes":"n","rbf":false,"safe":true,
		"fiat":"EUR","language":"ES","percentage":0,"balance_based":"","internal_data":{"x":1},
		"exchange_rate":"60000.00","network_fee":1e-5,
		"transactions":[{"confirmed":false,"currency":"BTC_TEST","amount":0.00083333,"tx_hash":"abc","block":null,"created_at":"2025-01-01T10:04:00Z"},
		{"confirmed":"true","currency":"BTC_TEST","amount":"1e-8","tx_hash":"def","block":"812345","created_at":""},
		{"confirmed":1,"amount":null,"block":812346}]}`
	want := &OrderInfo{
		Identifier: orderID, Reference: "ref-1", Status: "AC", CurrencyID: "BTC_TEST", Address: "tb1qxyz", Fiat: "EUR",
		Notes: "n", URLOK: "https://ok", CreatedAt: "2025-01-01T10:00:00Z", EditedAt: "2025-01-01T10:05:00Z",
		ExpiredTime: "2025-01-01T10:15:00Z", FiatAmount: "50.0", CryptoAmount: "0.00083333", UnconfirmedAmount: "0.00083333",
		ConfirmedAmount: "0", ExchangeRate: "60000.00", NetworkFee: "0.00001",
		Transactions: []Transaction{
			{Currency: "BTC_TEST", Amount: "0.00083333", TxHash: "abc", CreatedAt: "2025-01-01T10:04:00Z"},
			{Confirmed: true, Currency: "BTC_TEST", Amount: "0.00000001", TxHash: "def", Block: 812345},
			{Confirmed: true, Block: 812346},
		},
	}
	minimal := `{"identifier":"` + orderID + `","status":"RF","updated_at":"u","input_currency":"ETH","merchant_device_id":"7"}`
	wantMinimal := &OrderInfo{Identifier: orderID, Status: "RF", EditedAt: "u", CurrencyID: "ETH"}
	other := `{"identifier":"someone-else","status":"CO"}`
	tests := []struct {
		name     string
		status   int
		body     string
		want     *OrderInfo
		wantCode string
		notFound bool
	}{
		{name: "array", status: 200, body: `[` + full + `]`, want: want},
		{name: "bare object", status: 200, body: full, want: want},
		{name: "wrapped object", status: 200, body: `{"status":"success","data":` + full + `}`, want: want},
		{name: "wrapped array", status: 200, body: `{"status":"success","data":[` + full + `]}`, want: want},
		{name: "data without status", status: 200, body: `{"data":[` + minimal + `]}`, want: wantMinimal},
		{name: "unknown status passes", status: 200, body: `[` + minimal + `]`, want: wantMinimal},
		{name: "picks the matching element", status: 200, body: `[` + other + `,` + minimal + `]`, want: wantMinimal},
		{name: "empty array", status: 200, body: `[]`, wantCode: CodePaymentNotFound, notFound: true},
		{name: "wrapped empty array", status: 200, body: `{"status":"success","data":[]}`, wantCode: CodePaymentNotFound, notFound: true},
		{name: "404", status: 404, body: `{"detail":"Not found."}`, wantCode: "HTTP_404", notFound: true},
		{name: "405 is not a not-found on E2", status: 405, body: `{}`, wantCode: "HTTP_405"},
		{name: "missing status", status: 200, body: `[{"identifier":"` + orderID + `"}]`, wantCode: CodeGetPaymentStatusIncompleteData},
		{name: "missing identifier", status: 200, body: `[{"status":"PE"}]`, wantCode: CodeGetPaymentStatusIncompleteData},
		{name: "error wrapper", status: 200, body: `{"status":"error","error":"Order lookup failed"}`, wantCode: CodeGetPaymentStatusFailed},
		{name: "wrapped with failed status", status: 200, body: `{"status":"failed","data":{}}`, wantCode: CodeGetPaymentStatusFailed},
		{name: "other identifier", status: 200, body: `[` + other + `]`, wantCode: CodeIdentifierMismatch},
		{name: "several others", status: 200, body: `[` + other + `,` + other + `]`, wantCode: CodeIdentifierMismatch},
		{name: "object without identifier", status: 200, body: `{"foo":1}`, wantCode: CodeGetPaymentStatusIncompleteData},
		{name: "not json", status: 200, body: `<html>`, wantCode: CodeGetPaymentStatusInvalidFormat},
		{name: "scalar", status: 200, body: `"PE"`, wantCode: CodeGetPaymentStatusInvalidFormat},
		{name: "list of scalars", status: 200, body: `[1]`, wantCode: CodeGetPaymentStatusInvalidFormat},
		{name: "garbage amount", status: 200, body: `[{"identifier":"` + orderID + `","status":"PE","crypto_amount":"N/A"}]`,
			wantCode: CodeGetPaymentStatusInvalidFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/api/v1/orders/info/" + orderID
			srv := newServer(t, "", routes{"GET " + path: writeJSON(tt.status, tt.body)})
			c := newClient(t, srv.URL, Options{MaxRetries: 2, Sleep: (&sleeps{}).sleep})
			got, err := c.OrderInfo(context.Background(), orderID)
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("OrderInfo: %v", err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("info (-want +got):\n%s", diff)
				}
				return
			}
			var e *APIError
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *APIError", err)
			}
			if e.Code != tt.wantCode || e.StatusCode != tt.status || e.Path != path || e.Method != "GET" {
				t.Errorf("APIError = %+v, want code %s status %d", e, tt.wantCode, tt.status)
			}
			if errors.Is(err, ErrNotFound) != tt.notFound {
				t.Errorf("errors.Is(err, ErrNotFound) = %v, want %v", !tt.notFound, tt.notFound)
			}
			if n := srv.count("GET " + path); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

func TestOrderDetailsShapes(t *testing.T) {
	obj := `{"identifier":"` + orderID + `","amount":"25.50","input_currency":"LTC","fiat":"EUR","notes":"x",
		"address":"ltc1q","payment_uri":"litecoin:ltc1q?amount=0.3","web_url":null,"expected_input_amount":0.3,
		"rate":85,"url_ok":"https://ok","url_ko":"https://ko","created_at":"c","expired_time":"e","status":"PE"}`
	want := &Order{
		Identifier: orderID, ExpectedOutputAmount: "25.50", InputCurrency: "LTC", Fiat: "EUR", Notes: "x", Address: "ltc1q",
		PaymentURI: "litecoin:ltc1q?amount=0.3", ExpectedInputAmount: "0.3", Rate: "85", URLOK: "https://ok", URLKO: "https://ko",
		CreatedAt: "c", ExpiredAt: "e", Status: "PE",
	}
	tests := []struct {
		name     string
		status   int
		body     string
		want     *Order
		wantCode string
		notFound bool
	}{
		{name: "wrapped", status: 200, body: `{"status":"success","data":` + obj + `}`, want: want},
		{name: "bare", status: 200, body: obj, want: want},
		{name: "404", status: 404, body: `{"detail":"Not found."}`, wantCode: "HTTP_404", notFound: true},
		{name: "405", status: 405, body: `{"detail":"Method \"GET\" not allowed."}`, wantCode: "HTTP_405", notFound: true},
		{name: "error wrapper", status: 200, body: `{"status":"error","error":"nope"}`, wantCode: CodeGetPaymentDetailsFailed},
		{name: "no identifier", status: 200, body: `{"status":"success","data":{"address":"x"}}`, wantCode: CodeGetPaymentDetailsInvalidFormat},
		{name: "other identifier", status: 200, body: `{"identifier":"other"}`, wantCode: CodeIdentifierMismatch},
		{name: "401", status: 401, body: `{"detail":"x"}`, wantCode: "HTTP_401"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/api/v1/orders/" + orderID
			srv := newServer(t, "", routes{"GET " + path: writeJSON(tt.status, tt.body)})
			c := newClient(t, srv.URL, Options{MaxRetries: 2, Sleep: (&sleeps{}).sleep})
			got, err := c.OrderDetails(context.Background(), orderID)
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("OrderDetails: %v", err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("order (-want +got):\n%s", diff)
				}
				return
			}
			var e *APIError
			if !errors.As(err, &e) || e.Code != tt.wantCode || e.StatusCode != tt.status {
				t.Fatalf("err = %v, want APIError %s/%d", err, tt.wantCode, tt.status)
			}
			if errors.Is(err, ErrNotFound) != tt.notFound {
				t.Errorf("errors.Is(err, ErrNotFound) = %v, want %v", !tt.notFound, tt.notFound)
			}
		})
	}
}

func TestCurrenciesShapes(t *testing.T) {
	list := `[{"symbol":"BTC_TEST","name":"Bitcoin Test","min_amount":"0.10","max_amount":null,"image":"https://img/btc.png","blockchain":"BTC_TEST"},
		{"symbol":"USDC_ETH_TEST","name":"USDC","min_amount":5,"max_amount":20000.5,"image":"https://img/usdc.png","blockchain":"ETH_TEST"},
		{"symbol":"XRP","name":"Ripple","min_amount":"1e-2","max_amount":"0"}]`
	want := []Currency{
		{Symbol: "BTC_TEST", Name: "Bitcoin Test", MinAmount: "0.10", Image: "https://img/btc.png", Blockchain: "BTC_TEST"},
		{Symbol: "USDC_ETH_TEST", Name: "USDC", MinAmount: "5", MaxAmount: "20000.5", Image: "https://img/usdc.png", Blockchain: "ETH_TEST"},
		{Symbol: "XRP", Name: "Ripple", MinAmount: "0.01", MaxAmount: "0"},
	}
	tests := []struct {
		name     string
		body     string
		want     []Currency
		wantCode string
	}{
		{name: "bare array", body: list, want: want},
		{name: "data", body: `{"data":` + list + `}`, want: want},
		{name: "results", body: `{"count":3,"next":null,"results":` + list + `}`, want: want},
		{name: "status success data", body: `{"status":"success","data":` + list + `}`, want: want},
		{name: "empty", body: `[]`, want: []Currency{}},
		{name: "skips unreadable entries", body: `[{"symbol":"BTC","min_amount":"x"},{"name":"no symbol"},7,{"symbol":"ETH"}]`,
			want: []Currency{{Symbol: "ETH"}}},
		{name: "all unreadable", body: `[{"symbol":"BTC","min_amount":"x"}]`, wantCode: CodeGetCurrenciesInvalidFormat},
		{name: "object without list", body: `{"foo":[]}`, wantCode: CodeGetCurrenciesInvalidFormat},
		{name: "error wrapper", body: `{"status":"error","error":"down"}`, wantCode: CodeGetCurrenciesFailed},
		{name: "not json", body: `nope`, wantCode: CodeGetCurrenciesInvalidFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, "", routes{"GET /api/v1/currencies": writeJSON(200, tt.body)})
			c := newClient(t, srv.URL, Options{})
			got, err := c.Currencies(context.Background())
			if tt.wantCode != "" {
				var e *APIError
				if !errors.As(err, &e) || e.Code != tt.wantCode || e.StatusCode != 200 {
					t.Fatalf("err = %v, want APIError %s", err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("Currencies: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("currencies (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseOrderInfo(f *testing.F) {
	seeds := []string{
		`[{"identifier":"a","status":"PE","crypto_amount":0.1}]`,
		`{"status":"success","data":{"identifier":"a","status":"CO","transactions":[{"block":"1","amount":"1e-8"}]}}`,
		`{"status":"success","data":[]}`,
		`{"status":"error","error":"x"}`,
		`{"identifier":"a","status":"RF","fiat_amount":"12.50","network_fee":null}`,
		`[]`, `{}`, `null`, `[1,2]`, `{"data":null}`, `"x"`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), "a")
	}
	f.Fuzz(func(t *testing.T, body []byte, id string) {
		info, err := parseOrderInfo(body, id)
		if err != nil {
			var e *APIError
			if !errors.As(err, &e) || e.Code == "" {
				t.Fatalf("error is not a coded *APIError: %v", err)
			}
			return
		}
		if info.Identifier == "" || info.Status == "" || !strings.EqualFold(info.Identifier, id) {
			t.Fatalf("accepted incomplete or foreign order %+v for id %q", info, id)
		}
		for _, d := range []Decimal{info.CryptoAmount, info.FiatAmount, info.ConfirmedAmount, info.UnconfirmedAmount,
			info.ReceivedAmount, info.ExchangeRate, info.NetworkFee} {
			if d.IsSet() {
				if _, ok := d.Rat(); !ok {
					t.Fatalf("invalid decimal %q accepted", d)
				}
			}
		}
	})
}
