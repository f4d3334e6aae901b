package bitrefill

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/loopback"
)

// Default base URLs of the two APIs.
const (
	DefaultPublicBaseURL = "https://www.bitrefill.com/api"
	DefaultV2BaseURL     = "https://api.bitrefill.com/v2"
)

// Defaults for Options.
const (
	DefaultAttemptTimeout = 20 * time.Second
	DefaultMaxRetries     = 2
	DefaultRetryBaseDelay = 300 * time.Millisecond
	DefaultRetryMaxDelay  = 5 * time.Second
	DefaultMaxRetryWait   = 30 * time.Second
	DefaultUserAgent      = "cryptopay-mcp-bitrefill/1"

	// maxResponseBody caps a decoded 2xx body.
	maxResponseBody = 8 << 20
)

// Options configure a Client. The zero value talks to the real APIs without
// credentials (public endpoints and ping only).
type Options struct {
	// PublicBaseURL is the website API base; default DefaultPublicBaseURL.
	PublicBaseURL string
	// V2BaseURL is the B2B API v2 base; default DefaultV2BaseURL.
	V2BaseURL string
	// APIID and APISecret are the Basic-auth credentials for v2. Both or
	// neither must be set.
	APIID     string
	APISecret string

	// HTTPClient defaults to a client with no overall timeout (each attempt
	// is bounded by AttemptTimeout instead) that does not follow redirects.
	HTTPClient *http.Client
	// Logger receives one debug record per attempt (method, path, status,
	// duration) and a warning per retry. Never bodies or credentials.
	// Default: discard.
	Logger *slog.Logger
	// UserAgent defaults to DefaultUserAgent.
	UserAgent string

	// AttemptTimeout bounds one HTTP attempt including reading the body;
	// default DefaultAttemptTimeout. The caller's ctx bounds the whole call.
	AttemptTimeout time.Duration
	// MaxRetries is the number of retries after the first attempt for GETs;
	// 0 means DefaultMaxRetries, a negative value disables retries.
	MaxRetries int
	// RetryBaseDelay and RetryMaxDelay shape the exponential backoff
	// (full jitter in [d/2, d]); defaults DefaultRetryBaseDelay and
	// DefaultRetryMaxDelay.
	RetryBaseDelay time.Duration
	RetryMaxDelay  time.Duration
	// MaxRetryWait caps a server-announced delay (429 Retry-After etc.) the
	// client is willing to wait; a longer announced delay ends the call with
	// the 429 error. Default DefaultMaxRetryWait.
	MaxRetryWait time.Duration

	// AllowInsecureHTTP permits http:// base URLs on non-loopback hosts.
	// http:// on loopback (the fake) is always allowed.
	AllowInsecureHTTP bool

	// Observe, if set, is called after every HTTP attempt (for metrics)
	// with the endpoint's template ("GET /v2/orders/{id}"), the outcome
	// (ok, http_4xx, http_5xx, rate_limited, timeout, canceled,
	// network_error, bad_response), the 0-based attempt number (above 0
	// is a retry) and the attempt's duration. It must be fast and safe for
	// concurrent use.
	Observe func(endpoint, outcome string, attempt int, d time.Duration)
}

// Client talks to both Bitrefill APIs. It is safe for concurrent use.
type Client struct {
	public     *url.URL
	v2         *url.URL
	apiID      string
	apiSecret  string
	hc         *http.Client
	log        *slog.Logger
	userAgent  string
	attemptTO  time.Duration
	maxRetries int
	baseDelay  time.Duration
	maxDelay   time.Duration
	maxWait    time.Duration
	observe    func(endpoint, outcome string, attempt int, d time.Duration)
}

// NewDefaultHTTPClient returns the client used when Options.HTTPClient is
// nil. Redirects are not followed: a 3xx is returned as an *APIError, so a
// response can never steer a credentialed request elsewhere. Wrap its
// transport (tracing) and pass it back as Options.HTTPClient.
func NewDefaultHTTPClient() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// New validates opts and returns a Client.
func New(opts Options) (*Client, error) {
	c := &Client{
		apiID:      opts.APIID,
		apiSecret:  opts.APISecret,
		hc:         opts.HTTPClient,
		log:        opts.Logger,
		userAgent:  opts.UserAgent,
		attemptTO:  opts.AttemptTimeout,
		maxRetries: opts.MaxRetries,
		baseDelay:  opts.RetryBaseDelay,
		maxDelay:   opts.RetryMaxDelay,
		maxWait:    opts.MaxRetryWait,
		observe:    opts.Observe,
	}
	var err error
	if c.public, err = parseBase("PublicBaseURL", opts.PublicBaseURL, DefaultPublicBaseURL, opts.AllowInsecureHTTP); err != nil {
		return nil, err
	}
	if c.v2, err = parseBase("V2BaseURL", opts.V2BaseURL, DefaultV2BaseURL, opts.AllowInsecureHTTP); err != nil {
		return nil, err
	}
	if (c.apiID == "") != (c.apiSecret == "") {
		return nil, errors.New("bitrefill: APIID and APISecret must be set together")
	}
	if strings.Contains(c.apiID, ":") {
		return nil, errors.New("bitrefill: APIID must not contain ':'")
	}
	if c.hc == nil {
		c.hc = NewDefaultHTTPClient()
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.userAgent == "" {
		c.userAgent = DefaultUserAgent
	}
	if c.attemptTO <= 0 {
		c.attemptTO = DefaultAttemptTimeout
	}
	switch {
	case c.maxRetries == 0:
		c.maxRetries = DefaultMaxRetries
	case c.maxRetries < 0:
		c.maxRetries = 0
	}
	if c.baseDelay <= 0 {
		c.baseDelay = DefaultRetryBaseDelay
	}
	if c.maxDelay <= 0 {
		c.maxDelay = DefaultRetryMaxDelay
	}
	if c.maxDelay < c.baseDelay {
		c.maxDelay = c.baseDelay
	}
	if c.maxWait <= 0 {
		c.maxWait = DefaultMaxRetryWait
	}
	return c, nil
}

// HasCredentials reports whether the client can call authenticated v2
// endpoints.
func (c *Client) HasCredentials() bool { return c.apiID != "" && c.apiSecret != "" }

// String describes the client without revealing the secret.
func (c *Client) String() string {
	return fmt.Sprintf("bitrefill.Client{public: %s, v2: %s, credentials: %t}", c.public, c.v2, c.HasCredentials())
}

func parseBase(name, raw, def string, allowHTTP bool) (*url.URL, error) {
	if raw == "" {
		raw = def
	}
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil {
		return nil, fmt.Errorf("bitrefill: %s: %w", name, err)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("bitrefill: %s %q: want scheme://host[/path] without credentials, query or fragment", name, raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !allowHTTP && !loopback.Host(u.Hostname()) {
			return nil, fmt.Errorf("bitrefill: %s %q: http:// is only allowed on loopback hosts", name, raw)
		}
	default:
		return nil, fmt.Errorf("bitrefill: %s %q: scheme must be https", name, raw)
	}
	return u, nil
}

// api selects a base URL.
type api int

const (
	apiPublic api = iota
	apiV2
)

// request describes one logical call.
type request struct {
	api      api
	method   string
	segments []string // path segments below the base; escaped individually
	query    [][2]string
	body     any // JSON-encoded when non-nil
	auth     bool
	// fundsOn403 marks a 403 as ErrInsufficientFunds (pay, auto_pay).
	fundsOn403 bool
}

// response is a successful (2xx) answer.
type response struct {
	status int
	body   []byte
}

// pathSegment validates an id used as one path segment.
func pathSegment(field, id string) (string, error) {
	if strings.TrimSpace(id) == "" {
		return "", invalid(field, "must not be empty")
	}
	if id == "." || id == ".." {
		return "", invalid(field, "must not be %q", id)
	}
	if len(id) > 256 {
		return "", invalid(field, "longer than 256 bytes")
	}
	for _, r := range id {
		if r < 0x20 || r == 0x7f {
			return "", invalid(field, "contains control characters")
		}
	}
	return id, nil
}

func (c *Client) buildURL(r *request) string {
	base := c.public
	if r.api == apiV2 {
		base = c.v2
	}
	var b strings.Builder
	b.WriteString(base.Scheme)
	b.WriteString("://")
	b.WriteString(base.Host)
	b.WriteString(base.EscapedPath())
	for _, s := range r.segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	for i, kv := range r.query {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(kv[0]))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(kv[1]))
	}
	return b.String()
}

// do runs r with the retry policy and returns the 2xx answer.
func (c *Client) do(ctx context.Context, r *request) (*response, error) {
	if r.auth && !c.HasCredentials() {
		return nil, ErrNoCredentials
	}
	var payload []byte
	if r.body != nil {
		var err error
		if payload, err = json.Marshal(r.body); err != nil {
			return nil, fmt.Errorf("bitrefill: encode request: %w", err)
		}
	}
	rawURL := c.buildURL(r)
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("bitrefill: build URL: %w", err)
	}
	path := u.EscapedPath()
	idempotent := r.method == http.MethodGet

	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("bitrefill: %s %s: %w", r.method, path, err)
		}
		start := time.Now()
		resp, sent, err := c.attempt(ctx, r, u, payload)
		dur := time.Since(start)
		if c.observe != nil {
			c.observe(r.endpoint(), attemptOutcome(err), attempt, dur)
		}
		if err == nil {
			c.log.LogAttrs(ctx, slog.LevelDebug, "bitrefill request",
				slog.String("method", r.method), slog.String("path", path),
				slog.Int("status", resp.status), slog.Int("attempt", attempt+1),
				slog.Duration("duration", dur))
			return resp, nil
		}
		var apiErr *APIError
		isAPI := errors.As(err, &apiErr)
		c.log.LogAttrs(ctx, slog.LevelDebug, "bitrefill request failed",
			slog.String("method", r.method), slog.String("path", path),
			slog.Int("status", statusOf(apiErr)), slog.Int("attempt", attempt+1),
			slog.Duration("duration", dur), slog.String("error", errSummary(err)))

		if !idempotent {
			// A POST is retried only when provably nothing was sent.
			if sent {
				if isAPI && !apiErr.Temporary() {
					return nil, err // a definite rejection (4xx): outcome known
				}
				if isAPI && apiErr.StatusCode == http.StatusTooManyRequests {
					return nil, err // rejected by the rate limiter, not processed
				}
				return nil, fmt.Errorf("%w: %s %s: %w", ErrOutcomeUnknown, r.method, path, err)
			}
		}
		retryable := !sent || (isAPI && apiErr.Temporary()) ||
			(!isAPI && ctx.Err() == nil && !errors.Is(err, ErrInvalidResponse))
		if !retryable || attempt >= c.maxRetries {
			if !isAPI && ctx.Err() != nil {
				return nil, fmt.Errorf("bitrefill: %s %s: %w", r.method, path, ctx.Err())
			}
			return nil, err
		}
		wait := c.backoff(attempt)
		if isAPI && apiErr.RetryAfter > 0 {
			if apiErr.RetryAfter > c.maxWait {
				return nil, err
			}
			wait = max(wait, apiErr.RetryAfter)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			// Waiting would outlive the caller's deadline: give up now.
			return nil, err
		}
		c.log.LogAttrs(ctx, slog.LevelWarn, "bitrefill retrying",
			slog.String("method", r.method), slog.String("path", path),
			slog.Int("attempt", attempt+1), slog.Duration("wait", wait),
			slog.String("error", errSummary(err)))
		if !sleepCtx(ctx, wait) {
			return nil, fmt.Errorf("bitrefill: %s %s: %w (last error: %w)", r.method, path, ctx.Err(), err)
		}
	}
}

// fixedSegments are the path words below the first that are not ids.
var fixedSegments = map[string]bool{"pay": true, "unseal": true, "balance": true}

// endpoint names the request without its ids, for metrics: the first
// segment is always a literal from this package; any later one that is
// not a known word becomes {id}.
func (r *request) endpoint() string {
	var b strings.Builder
	b.WriteString(r.method)
	if r.api == apiV2 {
		b.WriteString(" /v2")
	} else {
		b.WriteString(" /api")
	}
	for i, s := range r.segments {
		b.WriteByte('/')
		if i == 0 || fixedSegments[s] {
			b.WriteString(s)
		} else {
			b.WriteString("{id}")
		}
	}
	return b.String()
}

// attemptOutcome classifies one attempt's error for Options.Observe.
func attemptOutcome(err error) string {
	var apiErr *APIError
	var ne net.Error
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusTooManyRequests:
		return "rate_limited"
	case errors.As(err, &apiErr):
		return fmt.Sprintf("http_%dxx", min(max(apiErr.StatusCode/100, 1), 5))
	case errors.Is(err, ErrInvalidResponse):
		return "bad_response"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return "network_error"
}

func statusOf(e *APIError) int {
	if e == nil {
		return 0
	}
	return e.StatusCode
}

// errSummary renders an error for logs: API errors by status and code only
// (their message could echo request data), others by text.
func errSummary(err error) string {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return fmt.Sprintf("status %d %s", apiErr.StatusCode, apiErr.Code)
	}
	return err.Error()
}

// backoff returns the jittered exponential delay before retry attempt+1.
// Kept by hand for the reason given at bitnovo's backoff: a pure function
// with a [d/2, d] band that never exceeds RetryMaxDelay.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.baseDelay
	for i := 0; i < attempt && d < c.maxDelay; i++ {
		d *= 2
	}
	d = min(d, c.maxDelay)
	half := d / 2
	return half + rand.N(half+1)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// attempt performs one HTTP exchange. sent reports whether any byte of the
// request may have left the machine (false only for dial/DNS failures).
func (c *Client) attempt(ctx context.Context, r *request, u *url.URL, payload []byte) (_ *response, sent bool, _ error) {
	actx, cancel := context.WithTimeout(ctx, c.attemptTO)
	defer cancel()

	var gotConn atomic.Bool
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { gotConn.Store(true) }}
	actx = httptrace.WithClientTrace(actx, trace)

	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(actx, r.method, u.String(), body)
	if err != nil {
		return nil, false, fmt.Errorf("bitrefill: new request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Accept-Language", "en-US,en;q=0.9")
	req.Header.Set("User-Agent", c.userAgent)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.auth {
		req.SetBasicAuth(c.apiID, c.apiSecret)
	}
	path := u.EscapedPath()

	resp, err := c.hc.Do(req)
	if err != nil {
		sent = gotConn.Load() || !isDialError(err)
		var ue *url.Error
		if errors.As(err, &ue) {
			// url.Error repeats the full URL, query included (search terms,
			// phone numbers); keep only method and path.
			err = ue.Err
		}
		if ctx.Err() == nil && actx.Err() != nil {
			err = fmt.Errorf("attempt timed out after %s: %w", c.attemptTO, err)
		}
		return nil, sent, fmt.Errorf("bitrefill: %s %s: %w", r.method, path, err)
	}
	defer resp.Body.Close()

	limit := int64(maxResponseBody)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		limit = maxErrorBody
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
			return nil, true, fmt.Errorf("bitrefill: %s %s: read body: %w", r.method, path, err)
		}
		// An error status is known; the body is best effort.
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		ra := retryAfter(resp.Header, time.Now())
		return nil, true, newAPIError(r.method, path, resp.StatusCode, data, ra, r.fundsOn403)
	}
	if int64(len(data)) > limit {
		return nil, true, fmt.Errorf("%w: %s %s: body exceeds %d bytes", ErrInvalidResponse, r.method, path, limit)
	}
	return &response{status: resp.StatusCode, body: data}, true, nil
}

// isDialError reports whether err happened while connecting, before any
// request byte could be written.
func isDialError(err error) bool {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}

// retryAfter reads the delay announced by Retry-After (seconds or HTTP
// date), RateLimit-Reset / X-RateLimit-Reset (seconds, or a Unix time when
// larger than 10^9) or the structured RateLimit header ("reset=N").
func retryAfter(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if n, err := strconv.ParseFloat(v, 64); err == nil && n >= 0 && n < 1e7 {
			return time.Duration(n * float64(time.Second))
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(now), 0)
		}
	}
	for _, k := range []string{"RateLimit-Reset", "X-RateLimit-Reset", "X-Rate-Limit-Reset"} {
		if d, ok := resetValue(h.Get(k), now); ok {
			return d
		}
	}
	for _, part := range strings.Split(h.Get("RateLimit"), ",") {
		for _, kv := range strings.Split(part, ";") {
			kv = strings.TrimSpace(kv)
			if v, ok := strings.CutPrefix(kv, "reset="); ok {
				if d, ok := resetValue(v, now); ok {
					return d
				}
			}
		}
	}
	return 0
}

func resetValue(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || n < 0 || n > 1e12 {
		return 0, false
	}
	if n > 1e9 { // Unix timestamp
		return max(time.Unix(int64(n), 0).Sub(now), 0), true
	}
	return time.Duration(n * float64(time.Second)), true
}
