// Package fakebitnovo is an in-process fake of the Bitnovo Pay REST API.
//
// It serves the endpoints the real client uses (reference bitnovo.md §3 and
// §19) with their quirks — trailing slashes, a bare object from create, an
// array from orders/info, a bare array of currencies — simulates the payment
// lifecycle with an injectable clock, and can inject faults (status codes,
// Retry-After, delays, response shapes). The sandbox mode serves it on
// loopback; tests use it through httptest.
//
// Routes:
//
//	POST /api/v1/orders/                    E1 create (multipart, urlencoded or JSON)
//	GET  /api/v1/orders/info/{id}[/]        E2 status, a one-element array
//	GET  /api/v1/orders/{id}                E3 details: 404 unless DetailsEnabled or a Shape fault
//	GET  /api/v1/currencies                 E4 catalog, a bare array
//	GET  /health                            {"status":"ok"}
//	GET  /{shortid}/                        HTML checkout page, see checkout.go
//	GET  /{shortid}/status                  the page's JSON view of the order
//	GET  /{shortid}/qr.png                  the page's QR code of the payment URI
//	POST /{shortid}/simulate                the page's buttons (loopback only)
//	/_sandbox/...                           admin surface (loopback only), see admin.go
//
// With NotificationURL and DeviceSecret set, every status change is POSTed
// there as a signed Bitnovo webhook (see webhook.go); call Close to stop the
// delivery goroutine.
//
// Behaviour worth knowing:
//   - Money is exact: amounts are money.Decimal, never float64. Crypto amounts are
//     fiat / RateEUR rounded half up to the currency's decimals (50 EUR at
//     60000 → "0.00083333"). Any fiat is treated as EUR for rates and limits.
//   - Validation follows the real API: 404 for a missing amount, an unknown
//     currency or an amount outside the limits; 400 for malformed values;
//     415 for other content types; 413 above 64 KiB; 403 for a bad device.
//   - Expiry is lazy: an NR or PE order read at or after expired_at is EX
//     (and OnChange and the webhook fire once; an open checkout page polls,
//     so it sees expiry within a second). Choosing a crypto restarts the
//     window.
//   - Every error body is {"detail","code","message"}.
//   - Bounded memory: at most 10000 orders (oldest forgotten) and 4096
//     request counters (then counted under their route prefix).
//   - Amounts are quoted at the currency's decimals, at most 8; addresses
//     are ones real wallets refuse (address.go).
//   - New keeps orders in memory; Open keeps them in a state file across
//     restarts (persist.go).
package fakebitnovo

import (
	"bytes"
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

const (
	maxBodyBytes    = 64 << 10 // request bodies larger than this get 413
	maxOrders       = 10000    // oldest orders are forgotten beyond this
	maxRequestKeys  = 4096     // distinct (method, path) request counters
	maxCountedPath  = 256      // longer paths are counted truncated
	defaultOrderTTL = 15 * time.Minute
)

// Options configures a Server. The zero value is usable.
type Options struct {
	// DeviceID is the only X-Device-Id accepted; "" accepts any UUID.
	DeviceID string
	// PublicURL is the base of web_url and image URLs, e.g.
	// "http://127.0.0.1:8089"; "" derives http://<request Host>.
	PublicURL string
	// OrderTTL is the payment window; 0 means 15 minutes.
	OrderTTL time.Duration
	// DetailsEnabled makes E3 (GET /api/v1/orders/{id}) answer instead of 404.
	DetailsEnabled bool
	// Now is the clock; nil means time.Now. It must be safe for concurrent
	// use: the webhook goroutine reads it for X-NONCE.
	Now func() time.Time
	// Rand is the source of order ids and short ids, and so of the sandbox
	// addresses derived from them; nil means crypto/rand. A test that must
	// draw the same payments on every run passes a seeded reader. It is
	// read under the server's lock.
	Rand io.Reader
	// OnChange, if set, is called synchronously after every status change,
	// outside the server's locks. It must not block for long.
	OnChange func(OrderInfo)
	// NotificationURL receives a signed webhook POST on every status change
	// (see webhook.go); "" sends nothing. Changeable at run time with
	// SetWebhookConfig or /_sandbox/webhook.
	NotificationURL string
	// DeviceSecret signs webhooks: 64 hex characters, hex-decoded into the
	// HMAC-SHA256 key. "" sends nothing.
	DeviceSecret string

	hookTuning hookTuning // delivery timing; tests only
}

// Server is the fake Bitnovo API. It implements http.Handler and is safe for
// concurrent use.
type Server struct {
	opts     Options
	now      func() time.Time
	ttl      time.Duration
	catalog  []*catalogEntry
	bySymbol map[string]*catalogEntry
	checkout *template.Template
	hooks    *webhooks

	mu       sync.Mutex
	orders   map[string]*order // by identifier
	byShort  map[string]*order // by web_url short id
	seq      []string          // identifiers in creation order
	faults   []*faultState
	requests map[requestKey]int
	journal  *journal // nil: orders live in memory only (see Open)
}

type requestKey struct{ method, path string }

// New returns a Server configured by o.
func New(o Options) *Server {
	s := &Server{
		opts:     o,
		now:      o.Now,
		ttl:      o.OrderTTL,
		checkout: template.Must(template.New("checkout").Parse(checkoutHTML)),
		orders:   make(map[string]*order),
		byShort:  make(map[string]*order),
		requests: make(map[requestKey]int),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.ttl <= 0 {
		s.ttl = defaultOrderTTL
	}
	s.hooks = newWebhooks(o, s.now)
	s.catalog, s.bySymbol = newCatalog()
	s.opts.PublicURL = strings.TrimRight(o.PublicURL, "/")
	return s
}

// reqOpts carries per-request rendering choices made by a Fault.
type reqOpts struct {
	shape string // "" = the endpoint's natural shape
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Body == nil {
		r.Body = http.NoBody
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	p := r.URL.Path
	if p == "/_sandbox" || strings.HasPrefix(p, "/_sandbox/") {
		s.serveAdmin(w, r)
		return
	}
	if short, sub, ok := checkoutControlPath(p); ok {
		s.serveCheckoutControl(w, r, short, sub)
		return
	}
	s.countRequest(r.Method, p)

	f, faulted := s.takeFault(r)
	if !faulted {
		s.route(w, r, reqOpts{})
		return
	}
	if f.replaces() {
		serveFault(w, r, f)
		return
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	ro := reqOpts{shape: f.Shape}
	if f.Delay <= 0 {
		s.route(w, r, ro)
		return
	}
	// The request reaches the fake now; only the answer is late.
	bw := newBufferedWriter()
	s.route(bw, r, ro)
	if !sleep(r.Context(), f.Delay) {
		return
	}
	bw.flushTo(w)
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, ro reqOpts) {
	p := r.URL.Path
	switch {
	case p == "/health":
		if allowMethods(w, r, http.MethodGet) {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		}
	case p == "/api/v1/orders/":
		if dev, ok := s.authorize(w, r); ok && allowMethods(w, r, http.MethodPost) {
			s.handleCreate(w, r, ro, dev)
		}
	case strings.HasPrefix(p, "/api/v1/orders/info/"):
		id := strings.TrimPrefix(p, "/api/v1/orders/info/")
		id = strings.TrimSuffix(id, "/")
		if id == "" || strings.Contains(id, "/") {
			writeNotFound(w)
			return
		}
		if _, ok := s.authorize(w, r); ok && allowMethods(w, r, http.MethodGet) {
			s.handleInfo(w, r, ro, id)
		}
	case strings.HasPrefix(p, "/api/v1/orders/"):
		id := strings.TrimPrefix(p, "/api/v1/orders/")
		if !isUUID(id) || !(s.opts.DetailsEnabled || ro.shape != "") {
			writeNotFound(w)
			return
		}
		if _, ok := s.authorize(w, r); ok && allowMethods(w, r, http.MethodGet) {
			s.handleDetails(w, r, ro, id)
		}
	case p == "/api/v1/currencies":
		if _, ok := s.authorize(w, r); ok && allowMethods(w, r, http.MethodGet) {
			s.handleCurrencies(w, r, ro)
		}
	default:
		if short, ok := checkoutShortID(p); ok {
			s.handleCheckout(w, r, short)
			return
		}
		writeNotFound(w)
	}
}

// allowMethods answers 405 unless r's method is one of methods (HEAD is
// accepted wherever GET is).
func allowMethods(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m || (m == http.MethodGet && r.Method == http.MethodHead) {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	msg := "Method \"" + r.Method + "\" not allowed."
	writeError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", msg)
	return false
}

// authorize checks X-Device-Id and answers 403 when it is missing or wrong.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) (string, bool) {
	dev := r.Header.Get("X-Device-Id")
	switch {
	case dev == "":
		const msg = "Authentication credentials were not provided."
		writeError(w, http.StatusForbidden, "NOT_AUTHENTICATED", msg)
		return "", false
	case s.opts.DeviceID != "" && dev != s.opts.DeviceID, s.opts.DeviceID == "" && !isUUID(dev):
		writeError(w, http.StatusForbidden, "INVALID_DEVICE_ID", "Invalid device")
		return "", false
	}
	return dev, true
}

// isUUID reports whether s is a canonical 8-4-4-4-12 hex UUID.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// baseURL is the origin used for web_url and image links.
func (s *Server) baseURL(r *http.Request) string {
	if s.opts.PublicURL != "" {
		return s.opts.PublicURL
	}
	host := r.Host
	if !validHost(host) {
		host = "127.0.0.1"
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + host
}

func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '-' || c == ':' || c == '[' || c == ']'
		if !ok {
			return false
		}
	}
	return true
}

// countRequest records a request that reached the fake. The number of
// distinct counters is bounded: once maxRequestKeys paths are known, a new
// path is counted under the longest route prefix it starts with (e.g.
// "/api/v1/orders/info/"), so prefix queries stay right.
func (s *Server) countRequest(method, path string) {
	switch method = strings.ToUpper(method); method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
	default:
		method = "OTHER"
	}
	if len(path) > maxCountedPath {
		path = path[:maxCountedPath]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := requestKey{method, path}
	if _, ok := s.requests[k]; !ok && len(s.requests) >= maxRequestKeys {
		k.path = routePrefix(path)
	}
	s.requests[k]++
}

// routePrefix returns the longest fixed route prefix of p.
func routePrefix(p string) string {
	for _, prefix := range []string{"/api/v1/orders/info/", "/api/v1/orders/", "/api/v1/currencies", "/api/", "/"} {
		if strings.HasPrefix(p, prefix) {
			return prefix
		}
	}
	return "/"
}

// Requests returns how many requests reached the fake (before faults were
// applied) whose method equals method ("" = any, case-insensitive) and whose
// path starts with pathPrefix. Admin (/_sandbox/) requests are not counted.
func (s *Server) Requests(method, pathPrefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, c := range s.requests {
		if (method == "" || strings.EqualFold(method, k.method)) && strings.HasPrefix(k.path, pathPrefix) {
			n += c
		}
	}
	return n
}

// apiError is an error answer in the real API's style.
type apiError struct {
	status        int
	code, message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func (e *apiError) write(w http.ResponseWriter) {
	writeError(w, e.status, e.code, e.message)
}

// writeError writes {"detail","code","message"}: DRF clients read detail,
// the old MCP client reads code and message.
func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]string{"detail": message, "code": code, "message": message})
}

func writeNotFound(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, "NOT_FOUND", "Not found.")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep "&" in payment URIs readable
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"detail":"internal error","code":"INTERNAL_ERROR","message":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// readBody reads a capped request body, mapping an oversized body to 413.
func readBody(r *http.Request) ([]byte, *apiError) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &apiError{http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE", "Request body too large."}
		}
		return nil, &apiError{http.StatusBadRequest, "BAD_REQUEST", "Could not read the request body."}
	}
	return b, nil
}
