// Package fakebitrefill is an in-process fake of the two Bitrefill APIs —
// the public website API (under PublicPrefix, "/api") and the B2B API v2
// (under V2Prefix, "/v2") — served by one http.Handler, so a single loopback
// listener serves both. It backs the offline sandbox mode and the tests of
// internal/bitrefill.
//
// It holds an embedded catalogue of about forty products (gift cards,
// mobile top-ups, eSIMs, one crypto utility) across US, GB, DE, ES, FR, IT,
// NL, MX and BR, an account balance, invoices and orders. Unsealed orders
// return obviously fake codes ("SANDBOX-XXXX-XXXX"). Some catalogue texts
// (a Steam USA review, the Airbnb USA description) deliberately contain
// prompt-injection-looking text, for testing untrusted-text handling.
//
// Faults (errors, delays, rate limits, dropped connections) can be injected
// with AddFault; Requests counts the requests that reached the fake.
//
// A Fake is safe for concurrent use.
package fakebitrefill

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/money"
)

// Path prefixes of the two APIs. Point the client's public base URL at
// serverURL+PublicPrefix and its v2 base URL at serverURL+V2Prefix.
const (
	PublicPrefix = "/api"
	V2Prefix     = "/v2"
)

// Defaults of Config.
const (
	DefaultAPIID           = "sandbox-api-id"
	DefaultAPISecret       = "sandbox-api-secret"
	DefaultBalance         = "500.00"
	DefaultBalanceCurrency = "USD"
	// MaxBodyBytes caps request bodies.
	MaxBodyBytes = 64 << 10
)

// Config configures a Fake. The zero value is usable.
type Config struct {
	// APIID and APISecret are the expected v2 Basic credentials; defaults
	// DefaultAPIID and DefaultAPISecret.
	APIID     string
	APISecret string
	// Balance is the starting account balance as decimal text in
	// BalanceCurrency (only USD is supported); default DefaultBalance.
	Balance string
	// Now is the clock; default time.Now.
	Now func() time.Time
	// OrderQuantities makes an invoice hold one order per product line,
	// carrying its "quantity", instead of one order per unit: the other
	// shape an invoice may take, so that spend caps are tested on both.
	OrderQuantities bool
}

// Fault is an injected failure. A request matches when Method (empty: any)
// equals its method and Path (empty: any) is a prefix of its URL path.
type Fault struct {
	Method string
	Path   string
	// Status is the status to answer with; 0 means "no error": only Delay
	// applies and the request is then served normally.
	Status int
	// Body is the response body; empty means a JSON {message, error_code}.
	Body string
	// RetryAfter, when > 0, sets Retry-After (whole seconds, rounded up).
	RetryAfter time.Duration
	// RateLimitHeaders adds RateLimit-Limit/-Remaining(0)/-Reset and the
	// X-RateLimit-* equivalents; the reset is RetryAfter (or 1s). A 429
	// always carries them.
	RateLimitHeaders bool
	// Delay is waited (or until the client goes away) before answering.
	Delay time.Duration
	// AfterHandling serves the request normally first (side effects happen,
	// e.g. an invoice is created), then waits Delay, then replaces the
	// answer with the fault (Status 0: the normal answer is lost and a 500
	// is sent): the "processed but the answer was lost" case.
	AfterHandling bool
	// CloseConnection drops the connection without an answer (after
	// handling when AfterHandling is set). Status is ignored.
	CloseConnection bool
	// Times is how many matching requests the fault applies to; 0 means
	// every one until ClearFaults.
	Times int
}

type faultState struct {
	Fault
	left int // remaining uses; -1 unlimited
}

// Fake is the fake Bitrefill. Create it with New.
type Fake struct {
	apiID, apiSecret string
	now              func() time.Time
	cat              *catalog
	mux              *http.ServeMux

	mu           sync.Mutex
	balance      money.Decimal
	seq          int
	invoices     []*invoice // creation order
	invoiceByID  map[string]*invoice
	orders       []*order
	orderByID    map[string]*order
	faults       []*faultState
	requests     map[[2]string]int
	omitProducts bool
	holdDelivery bool
	orderQty     bool // Config.OrderQuantities
}

// New returns a Fake. It fails only on an invalid Config.Balance.
func New(cfg Config) (*Fake, error) {
	cat, err := loadCatalog()
	if err != nil {
		return nil, err
	}
	f := &Fake{
		apiID:       cfg.APIID,
		apiSecret:   cfg.APISecret,
		now:         cfg.Now,
		cat:         cat,
		invoiceByID: map[string]*invoice{},
		orderByID:   map[string]*order{},
		requests:    map[[2]string]int{},
		orderQty:    cfg.OrderQuantities,
	}
	if f.apiID == "" {
		f.apiID = DefaultAPIID
	}
	if f.apiSecret == "" {
		f.apiSecret = DefaultAPISecret
	}
	if f.now == nil {
		f.now = time.Now
	}
	bal := cfg.Balance
	if bal == "" {
		bal = DefaultBalance
	}
	if f.balance, err = parseAmount(bal); err != nil {
		return nil, fmt.Errorf("fakebitrefill: Balance: %w", err)
	}
	f.routes()
	return f, nil
}

// BaseURLs returns the public and v2 base URLs for a server serving the
// fake at serverURL (e.g. httptest.Server.URL).
func BaseURLs(serverURL string) (public, v2 string) {
	serverURL = strings.TrimRight(serverURL, "/")
	return serverURL + PublicPrefix, serverURL + V2Prefix
}

// Credentials returns the expected API id and secret.
func (f *Fake) Credentials() (id, secret string) { return f.apiID, f.apiSecret }

// Balance returns the current balance as decimal text (2 decimals).
func (f *Fake) Balance() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.balance.Round(2, money.HalfUp).String()
}

// SetBalance sets the balance (decimal text, >= 0).
func (f *Fake) SetBalance(amount string) error {
	r, err := parseAmount(amount)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.balance = r
	return nil
}

// SetHoldDelivery makes payments leave the orders undelivered (invoice
// status not_delivered) until Deliver is called, as when Bitrefill takes a
// while to deliver; false restores immediate delivery for later payments.
func (f *Fake) SetHoldDelivery(hold bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.holdDelivery = hold
}

// SetOmitProducts makes /api/omni answer without a `products` key (the
// upstream shape the client must treat as an empty result).
func (f *Fake) SetOmitProducts(omit bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.omitProducts = omit
}

// ProductIDs returns the catalogue slugs, most popular first.
func (f *Fake) ProductIDs() []string {
	out := make([]string, 0, len(f.cat.products))
	for _, p := range f.cat.products {
		out = append(out, p.seed.Slug)
	}
	return out
}

// AddFault injects a fault. Faults are checked in the order added; the
// first match applies.
func (f *Fake) AddFault(ft Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	left := ft.Times
	if left <= 0 {
		left = -1
	}
	f.faults = append(f.faults, &faultState{Fault: ft, left: left})
}

// ClearFaults removes all faults.
func (f *Fake) ClearFaults() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = nil
}

// Requests counts requests that reached the fake (before faults) with the
// given method (empty: any) whose URL path starts with pathPrefix.
func (f *Fake) Requests(method, pathPrefix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for k, c := range f.requests {
		if (method == "" || k[0] == method) && strings.HasPrefix(k[1], pathPrefix) {
			n += c
		}
	}
	return n
}

// ResetRequests zeroes the request counters.
func (f *Fake) ResetRequests() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.requests)
}

// ServeHTTP implements http.Handler.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			writeJSON(w, http.StatusInternalServerError, errBody("", "internal error", "internal_error"))
		}
	}()
	ft := f.record(r)
	if ft == nil {
		f.mux.ServeHTTP(w, r)
		return
	}
	if ft.AfterHandling {
		// Processed first; the answer is then delayed and/or replaced.
		f.mux.ServeHTTP(&discardWriter{h: http.Header{}}, r)
	}
	if ft.Delay > 0 {
		t := time.NewTimer(ft.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if !ft.AfterHandling && ft.Status == 0 && !ft.CloseConnection {
		f.mux.ServeHTTP(w, r)
		return
	}
	if ft.CloseConnection {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	status := ft.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	h := w.Header()
	reset := ft.RetryAfter
	if ft.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(ceilSeconds(ft.RetryAfter)))
	}
	if ft.RateLimitHeaders || status == http.StatusTooManyRequests {
		if reset <= 0 {
			reset = time.Second
		}
		secs := strconv.Itoa(ceilSeconds(reset))
		h.Set("RateLimit-Limit", "100")
		h.Set("RateLimit-Remaining", "0")
		h.Set("RateLimit-Reset", secs)
		h.Set("X-RateLimit-Limit", "100")
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Reset", secs)
	}
	if ft.Body != "" {
		if json.Valid([]byte(ft.Body)) {
			h.Set("Content-Type", "application/json")
		} else {
			h.Set("Content-Type", "text/plain; charset=utf-8")
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(ft.Body))
		return
	}
	writeJSON(w, status, errBody("", http.StatusText(status), faultCode(status)))
}

func ceilSeconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}

func faultCode(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return "rate_limited"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusNotFound:
		return "not_found"
	}
	if status >= 500 {
		return "server_error"
	}
	return "error"
}

// record counts the request and returns the fault to apply, if any.
func (f *Fake) record(r *http.Request) *Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests[[2]string{r.Method, r.URL.Path}]++
	for i, fs := range f.faults {
		if fs.Method != "" && fs.Method != r.Method {
			continue
		}
		if !strings.HasPrefix(r.URL.Path, fs.Path) {
			continue
		}
		ft := fs.Fault
		if fs.left > 0 {
			fs.left--
			if fs.left == 0 {
				f.faults = append(f.faults[:i:i], f.faults[i+1:]...)
			}
		}
		return &ft
	}
	return nil
}

// discardWriter swallows a response (AfterHandling faults).
type discardWriter struct {
	h http.Header
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

func (f *Fake) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET "+PublicPrefix+"/omni", f.handleOmni)
	m.HandleFunc("GET "+PublicPrefix+"/product/{id}", f.handleProduct)
	m.HandleFunc(PublicPrefix+"/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "Not Found", http.StatusNotFound)
	})

	m.HandleFunc("GET "+V2Prefix+"/ping", f.handlePing)
	m.HandleFunc("GET "+V2Prefix+"/accounts/balance", f.auth(f.handleBalance))
	m.HandleFunc("POST "+V2Prefix+"/invoices", f.auth(f.handleCreateInvoice))
	m.HandleFunc("GET "+V2Prefix+"/invoices", f.auth(f.handleListInvoices))
	m.HandleFunc("GET "+V2Prefix+"/invoices/{id}", f.auth(f.handleGetInvoice))
	m.HandleFunc("POST "+V2Prefix+"/invoices/{id}/pay", f.auth(f.handlePayInvoice))
	m.HandleFunc("GET "+V2Prefix+"/orders", f.auth(f.handleListOrders))
	m.HandleFunc("GET "+V2Prefix+"/orders/{id}", f.auth(f.handleGetOrder))
	m.HandleFunc("GET "+V2Prefix+"/orders/{id}/unseal", f.auth(f.handleUnseal))
	m.HandleFunc("GET "+V2Prefix+"/products", f.auth(f.handleListProducts))
	m.HandleFunc("GET "+V2Prefix+"/products/{id}", f.auth(f.handleGetProduct))
	m.HandleFunc("GET "+V2Prefix+"/check_phone_number", f.auth(f.handleCheckPhone))
	m.HandleFunc(V2Prefix+"/", f.auth(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, errBody(endpoint(r), "Endpoint not found", "not_found"))
	}))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "Not Found", http.StatusNotFound)
	})
	f.mux = m
}

// auth enforces v2 Basic authentication.
func (f *Fake) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		idOK := subtle.ConstantTimeCompare([]byte(id), []byte(f.apiID)) == 1
		secretOK := subtle.ConstantTimeCompare([]byte(secret), []byte(f.apiSecret)) == 1
		if !ok || !idOK || !secretOK {
			w.Header().Set("WWW-Authenticate", `Basic realm="Bitrefill API"`)
			writeJSON(w, http.StatusUnauthorized, errBody(endpoint(r), "Invalid API credentials", "unauthorized"))
			return
		}
		h(w, r)
	}
}

// endpoint is the v2 path without the prefix, e.g. "/invoices".
func endpoint(r *http.Request) string {
	return strings.TrimPrefix(r.URL.Path, V2Prefix)
}

func errBody(ep, message, code string) map[string]any {
	body := map[string]any{"message": message, "error_code": code}
	if ep != "" {
		body["meta"] = map[string]any{"_endpoint": ep}
	}
	return body
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, `{"message":"encode error"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func parseAmount(s string) (money.Decimal, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 40 || strings.ContainsAny(s, "eE") {
		return "", fmt.Errorf("invalid amount %q", s)
	}
	d, err := money.Parse(s)
	if err != nil || d.Sign() < 0 {
		return "", fmt.Errorf("invalid amount %q", s)
	}
	return d, nil
}
