// Package bitnovo is a client for the Bitnovo Pay REST API: create an order
// (E1), read its status (E2) and details (E3), and list the currencies (E4).
//
// Authentication is the X-Device-Id header. GET requests are retried with
// exponential backoff and jitter on network errors, timeouts and transient
// statuses, honouring Retry-After. The create request is never repeated once
// any byte of it may have left the machine: the only retried create failure
// is a connection that could not be established. Ambiguous create failures
// wrap ErrOutcomeUnknown, and callers must not resend them.
//
// A Client holds no mutable state and is safe for concurrent use.
package bitnovo

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// Defaults used by DefaultOptions and for zero Options fields.
const (
	DefaultAttemptTimeout = 5 * time.Second // seed: "5 seconds maximum per API operation"
	DefaultMaxRetries     = 2               // seed: "maximum 2 retries"
	DefaultBaseDelay      = 300 * time.Millisecond
	DefaultMaxDelay       = 10 * time.Second
	DefaultUserAgent      = "cryptopay-mcp"

	// MaxRetriesLimit bounds Options.MaxRetries.
	MaxRetriesLimit = 10

	maxResponseBody = 1 << 20 // bytes read from any response
)

// API paths. The trailing-slash differences are the API's own.
const (
	pathOrders     = "/api/v1/orders/"
	pathOrderInfo  = "/api/v1/orders/info/"
	pathOrder      = "/api/v1/orders/"
	pathCurrencies = "/api/v1/currencies"
)

// Options configure a Client. Zero durations, a nil HTTPClient, an empty
// UserAgent, a nil Logger and a nil Sleep select the defaults. MaxRetries is
// taken literally: 0 means no retries; use DefaultOptions (MaxRetries 2) or
// DefaultMaxRetries for the seed's behaviour.
type Options struct {
	// HTTPClient sends the requests. Default: a client of its own with dial
	// and TLS handshake timeouts; no global state is shared or changed. The
	// client's redirect policy applies to GETs; the create request never
	// follows redirects.
	HTTPClient *http.Client
	// AttemptTimeout bounds each attempt, body read included. The overall
	// deadline is the caller's context. Default 5s.
	AttemptTimeout time.Duration
	// MaxRetries is the number of retries after the first attempt (0–10).
	// GETs use it for transient failures; CreateOrder only for connections
	// that could not be established.
	MaxRetries int
	// BaseDelay is the first backoff delay. Delay n is BaseDelay·2ⁿ capped by
	// MaxDelay, then jittered to 50–100 % of that. Default 300ms.
	BaseDelay time.Duration
	// MaxDelay caps the backoff delay. A Retry-After longer than MaxDelay is
	// not waited for: the 429/503 error is returned at once, carrying
	// RetryAfter. Default 10s.
	MaxDelay time.Duration
	// UserAgent is sent on every request. Default "cryptopay-mcp".
	UserAgent string
	// Logger receives one debug record per attempt and a warning per retry.
	// The device id and request bodies are never logged. Default: discard.
	Logger *slog.Logger
	// Sleep waits between retries; it must return ctx.Err() if ctx ends
	// first. Default: a timer raced against ctx. Tests inject it.
	Sleep func(ctx context.Context, d time.Duration) error
	// Observe, if set, is called after every HTTP attempt (for metrics)
	// with the endpoint's template ("GET /api/v1/orders/info/{id}"), the
	// outcome (ok, http_4xx, http_5xx, rate_limited, timeout, canceled,
	// network_error, bad_response), the 0-based attempt number (above 0
	// is a retry) and the attempt's duration, body read included. It
	// must be fast and safe for concurrent use.
	Observe func(endpoint, outcome string, attempt int, d time.Duration)
}

// DefaultOptions returns the seed's settings: 5s per attempt, 2 retries,
// 300ms base delay, 10s maximum delay.
func DefaultOptions() Options {
	return Options{
		AttemptTimeout: DefaultAttemptTimeout,
		MaxRetries:     DefaultMaxRetries,
		BaseDelay:      DefaultBaseDelay,
		MaxDelay:       DefaultMaxDelay,
		UserAgent:      DefaultUserAgent,
	}
}

// Client talks to one Bitnovo Pay API base URL with one device id.
type Client struct {
	base     string // scheme://host[/prefix], no trailing slash
	deviceID string

	hc     *http.Client // GETs
	postHC *http.Client // creates: same transport, redirects not followed
	// traceTrusted is true when the transport is an *http.Transport, whose
	// GotConn trace hook fires before any byte of a request is written.
	traceTrusted bool

	attemptTimeout time.Duration
	maxRetries     int
	baseDelay      time.Duration
	maxDelay       time.Duration
	userAgent      string
	log            *slog.Logger
	sleep          func(ctx context.Context, d time.Duration) error
	now            func() time.Time
	observe        func(endpoint, outcome string, attempt int, d time.Duration)
}

// New returns a Client for baseURL (http or https, with an optional path
// prefix that is kept, no query or fragment) authenticating with deviceID.
// Whether plain http is acceptable is the configuration layer's decision.
func New(baseURL, deviceID string, o Options) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil {
		return nil, fmt.Errorf("bitnovo: invalid base URL: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("bitnovo: invalid base URL: scheme must be http or https, got %q", u.Scheme)
	case u.Host == "" || u.Opaque != "":
		return nil, errors.New("bitnovo: invalid base URL: missing host")
	case u.User != nil:
		return nil, errors.New("bitnovo: invalid base URL: user information is not allowed")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, errors.New("bitnovo: invalid base URL: query and fragment are not allowed")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")
	if deviceID == "" || strings.TrimSpace(deviceID) != deviceID || hasCtl(deviceID) {
		return nil, errors.New("bitnovo: invalid device id: empty, padded with spaces or containing control characters")
	}
	switch {
	case o.AttemptTimeout < 0, o.BaseDelay < 0, o.MaxDelay < 0:
		return nil, errors.New("bitnovo: negative duration in options")
	case o.MaxRetries < 0 || o.MaxRetries > MaxRetriesLimit:
		return nil, fmt.Errorf("bitnovo: MaxRetries %d out of range 0–%d", o.MaxRetries, MaxRetriesLimit)
	}

	c := &Client{
		base:           u.String(),
		deviceID:       deviceID,
		hc:             o.HTTPClient,
		attemptTimeout: cmpOr(o.AttemptTimeout, DefaultAttemptTimeout),
		maxRetries:     o.MaxRetries,
		baseDelay:      cmpOr(o.BaseDelay, DefaultBaseDelay),
		maxDelay:       cmpOr(o.MaxDelay, DefaultMaxDelay),
		userAgent:      cmpOr(o.UserAgent, DefaultUserAgent),
		log:            o.Logger,
		sleep:          o.Sleep,
		now:            time.Now,
		observe:        o.Observe,
	}
	if c.hc == nil {
		c.hc = NewDefaultHTTPClient()
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.sleep == nil {
		c.sleep = sleepCtx
	}
	// Copies of the caller's client with our redirect policies; the
	// transport (and its connection pool) is shared.
	get, post := *c.hc, *c.hc
	get.CheckRedirect = sameHostRedirects(c.hc.CheckRedirect)
	post.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.hc, c.postHC = &get, &post
	switch c.hc.Transport.(type) {
	case nil, *http.Transport:
		c.traceTrusted = true
	}
	return c, nil
}

// maxRedirects bounds the redirects a GET follows.
const maxRedirects = 5

// sameHostRedirects lets GETs follow redirects on the same host only (no
// https→http downgrade), so the X-Device-Id header never reaches another
// host. A refused redirect is returned as the 3xx answer (an *APIError). The
// caller's own policy, if any, is applied afterwards.
func sameHostRedirects(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		first := via[0].URL
		switch {
		case len(via) >= maxRedirects:
			return fmt.Errorf("bitnovo: stopped after %d redirects", maxRedirects)
		case !strings.EqualFold(req.URL.Host, first.Host), first.Scheme == "https" && req.URL.Scheme != "https":
			return http.ErrUseLastResponse
		case next != nil:
			return next(req, via)
		}
		return nil
	}
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func hasCtl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// NewDefaultHTTPClient returns the client used when Options.HTTPClient is
// nil: dial and TLS handshake timeouts, a small idle pool. Wrap its
// transport (tracing) and pass it back as Options.HTTPClient.
func NewDefaultHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          16,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
	}}
}

// CloseIdleConnections closes idle keep-alive connections of the underlying
// HTTP client, for shutdown.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// response is a completely read HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

var errResponseTooLarge = fmt.Errorf("bitnovo: response body larger than %d bytes", maxResponseBody)

// attempt performs one HTTP exchange under its own timeout. It returns the
// answer, or an error; with both, the status is known but the body could not
// be read completely. mayHaveSent is false only when it is certain that no
// byte of the request left the machine.
func (c *Client) attempt(ctx context.Context, method, path string, body []byte, contentType string, n int) (res *response, mayHaveSent bool, err error) {
	actx, cancel := context.WithTimeout(ctx, c.attemptTimeout)
	defer cancel()
	var gotConn atomic.Bool
	actx = httptrace.WithClientTrace(actx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { gotConn.Store(true) },
	})
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, method, c.base+path, rd)
	if err != nil {
		return nil, false, fmt.Errorf("bitnovo: building request: %w", err)
	}
	req.Header.Set("X-Device-Id", c.deviceID)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	hc := c.hc
	if method == http.MethodPost {
		hc = c.postHC
	}

	start := time.Now()
	if c.observe != nil {
		defer func() { c.observe(endpointTemplate(method, path), attemptOutcome(res, err), n, time.Since(start)) }()
	}
	resp, err := hc.Do(req)
	if err != nil {
		sent := gotConn.Load() || !(c.traceTrusted || isDialError(err))
		err = classifyTimeout(actx, err)
		c.log.LogAttrs(ctx, slog.LevelDebug, "bitnovo request",
			slog.String("method", method), slog.String("path", path), slog.Int("attempt", n+1),
			slog.Duration("duration", time.Since(start)), slog.Bool("may_have_sent", sent), slog.Any("error", err))
		return nil, sent, err
	}
	defer resp.Body.Close()
	data, rerr := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody+1))
	switch {
	case rerr != nil:
		err = classifyTimeout(actx, fmt.Errorf("bitnovo: reading response body: %w", rerr))
	case len(data) > maxResponseBody:
		err = errResponseTooLarge
		data = data[:maxResponseBody]
	}
	attrs := []slog.Attr{
		slog.String("method", method), slog.String("path", path), slog.Int("attempt", n+1),
		slog.Int("status", resp.StatusCode), slog.Duration("duration", time.Since(start)),
	}
	if err != nil {
		attrs = append(attrs, slog.Any("error", err))
	}
	c.log.LogAttrs(ctx, slog.LevelDebug, "bitnovo request", attrs...)
	return &response{status: resp.StatusCode, header: resp.Header, body: data}, true, err
}

// endpointTemplate names an API path without its order id, for metrics.
func endpointTemplate(method, path string) string {
	switch {
	case method == http.MethodPost && path == pathOrders:
		return "POST " + pathOrders
	case strings.HasPrefix(path, pathOrderInfo):
		return method + " " + pathOrderInfo + "{id}"
	case path == pathCurrencies:
		return method + " " + pathCurrencies
	case strings.HasPrefix(path, pathOrder):
		return method + " " + pathOrder + "{id}"
	}
	return method + " other"
}

// attemptOutcome classifies one attempt for Options.Observe.
func attemptOutcome(res *response, err error) string {
	var te *timeoutError
	switch {
	case res != nil && res.status == http.StatusTooManyRequests:
		return "rate_limited"
	case res != nil && (res.status < 200 || res.status >= 300):
		return fmt.Sprintf("http_%dxx", min(max(res.status/100, 1), 5))
	case err == nil:
		return "ok"
	case errors.As(err, &te):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case res != nil:
		return "bad_response" // a 2xx whose body could not be read whole
	}
	return "network_error"
}

// isDialError reports whether err shows that no connection was established
// (refused, unreachable, DNS failure), so nothing can have been sent.
func isDialError(err error) bool {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}

// classifyTimeout marks err as a timeout when the attempt's context hit its
// deadline (per-attempt or the caller's) or the network reported a timeout.
func classifyTimeout(actx context.Context, err error) error {
	if errors.Is(actx.Err(), context.DeadlineExceeded) {
		return &timeoutError{err}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() && !errors.Is(err, context.Canceled) {
		return &timeoutError{err}
	}
	return err
}

// ctxDoneError reports that the caller's context ended, carrying the last
// attempt's error.
func (c *Client) ctxDoneError(ctx context.Context, method, path string, last error) error {
	cerr := ctx.Err()
	var err error
	if last != nil {
		err = fmt.Errorf("bitnovo: %s %s: %w (last error: %w)", method, path, cerr, last)
	} else {
		err = fmt.Errorf("bitnovo: %s %s: %w", method, path, cerr)
	}
	if errors.Is(cerr, context.DeadlineExceeded) {
		return &timeoutError{err}
	}
	return err
}

// retryableStatus lists the transient statuses retried for GETs.
func retryableStatus(s int) bool {
	switch s {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests,
		http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable,
		http.StatusGatewayTimeout:
		return true
	}
	return false
}

// retryableTransportError excludes failures that a retry cannot fix.
func retryableTransportError(err error) bool {
	var (
		certErr    *tls.CertificateVerificationError
		unknownCA  x509.UnknownAuthorityError
		hostErr    x509.HostnameError
		invalidErr x509.CertificateInvalidError
	)
	switch {
	case errors.Is(err, errResponseTooLarge), errors.Is(err, context.Canceled),
		errors.As(err, &certErr), errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalidErr):
		return false
	}
	return true
}

// backoff returns the jittered delay before retry n (0-based).
//
// Kept by hand rather than github.com/cenkalti/backoff/v5 (in the module
// graph through the OTLP exporter): it is a pure function of the attempt
// number inside a loop that also honours Retry-After, per-attempt timeouts
// and the no-retry rule for creates, and its band [d/2, d] never exceeds
// MaxDelay. backoff/v5's ExponentialBackOff is a stateful iterator whose
// RandomizationFactor band (d·(1±f)) does exceed its MaxInterval, so it
// would change the documented delays and need an instance per call.
func (c *Client) backoff(n int) time.Duration {
	d := c.maxDelay
	if n < 30 {
		if e := c.baseDelay << n; e > 0 && e < d {
			d = e
		}
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// waitBeforeRetry decides whether to retry after a failure and sleeps. It
// returns nil to retry; otherwise the error to return (last, or a context
// error).
func (c *Client) waitBeforeRetry(ctx context.Context, method, path string, n int, last error, retryAfter time.Duration) error {
	if n >= c.maxRetries {
		return last
	}
	delay := c.backoff(n)
	if retryAfter > 0 {
		if retryAfter > c.maxDelay {
			c.log.LogAttrs(ctx, slog.LevelWarn, "bitnovo: Retry-After exceeds the maximum delay, giving up",
				slog.String("method", method), slog.String("path", path), slog.Duration("retry_after", retryAfter))
			return last
		}
		delay = max(delay, retryAfter)
	}
	if dl, ok := ctx.Deadline(); ok && c.now().Add(delay).After(dl) {
		c.log.LogAttrs(ctx, slog.LevelWarn, "bitnovo: no time left for a retry before the deadline",
			slog.String("method", method), slog.String("path", path), slog.Duration("delay", delay))
		return last
	}
	c.log.LogAttrs(ctx, slog.LevelWarn, "bitnovo: retrying",
		slog.String("method", method), slog.String("path", path), slog.Int("attempt", n+1),
		slog.Duration("delay", delay), slog.Any("error", last))
	if err := c.sleep(ctx, delay); err != nil {
		return c.ctxDoneError(ctx, method, path, last)
	}
	return nil
}

// get performs a GET with retries and returns a 2xx answer, an *APIError for
// a final non-2xx answer, or a transport / context error.
func (c *Client) get(ctx context.Context, path string) (*response, error) {
	const method = http.MethodGet
	var last error
	for n := 0; ; n++ {
		if ctx.Err() != nil {
			return nil, c.ctxDoneError(ctx, method, path, last)
		}
		res, _, err := c.attempt(ctx, method, path, nil, "", n)
		var retryAfter time.Duration
		switch {
		case res != nil && (res.status < 200 || res.status >= 300):
			// The status decides, even if the body was cut short.
			apiErr := newHTTPError(method, path, res.status, res.header, res.body, c.now())
			if !retryableStatus(res.status) {
				return nil, apiErr
			}
			last, retryAfter = apiErr, apiErr.RetryAfter
		case err != nil:
			err = fmt.Errorf("bitnovo: %s %s: %w", method, path, err)
			if ctx.Err() != nil || !retryableTransportError(err) {
				return nil, err
			}
			last = err
		default: // a complete 2xx answer
			return res, nil
		}
		if err := c.waitBeforeRetry(ctx, method, path, n, last, retryAfter); err != nil {
			return nil, err
		}
	}
}

// post sends a create request at most once, except when no connection could
// be established, and returns a 2xx answer. Every failure after bytes may
// have left wraps ErrOutcomeUnknown; a 4xx is a definite *APIError.
func (c *Client) post(ctx context.Context, path string, body []byte, contentType string) (*response, error) {
	const method = http.MethodPost
	var last error
	for n := 0; ; n++ {
		if ctx.Err() != nil {
			// Every earlier attempt failed before connecting: nothing was sent.
			return nil, c.ctxDoneError(ctx, method, path, last)
		}
		res, sent, err := c.attempt(ctx, method, path, body, contentType, n)
		if err != nil && res == nil {
			if sent {
				return nil, &outcomeUnknownError{method, path, err}
			}
			last = fmt.Errorf("bitnovo: %s %s: nothing sent: %w", method, path, err)
			if ctx.Err() != nil {
				return nil, last
			}
			if err := c.waitBeforeRetry(ctx, method, path, n, last, 0); err != nil {
				return nil, err
			}
			continue
		}
		switch {
		case res.status >= 400 && res.status < 500:
			// A definite rejection, even if the body was cut short.
			return nil, newHTTPError(method, path, res.status, res.header, res.body, c.now())
		case err != nil:
			return nil, &outcomeUnknownError{method, path, fmt.Errorf("HTTP %d: %w", res.status, err)}
		case res.status >= 200 && res.status < 300:
			return res, nil
		default: // 3xx, 5xx, anything else
			return nil, &outcomeUnknownError{method, path,
				newHTTPError(method, path, res.status, res.header, res.body, c.now())}
		}
	}
}
