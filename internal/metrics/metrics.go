// Package metrics holds the server's Prometheus series, kept in a
// github.com/prometheus/client_golang registry that the app owns (never the
// global default registry), with the Go runtime and process collectors, and
// served by promhttp.
//
// One thing is added on top of client_golang: every labelled vector caps its
// number of series (DefaultMaxSeries). Label combinations past the cap are
// counted in one series whose labels all say "_overflow_", so a caller passing
// unbounded values (ids, user input) cannot grow memory or the scrape without
// limit; client_golang creates a series for every combination it is given.
// Label values are also made valid UTF-8 of at most 128 bytes first, since
// client_golang panics on invalid UTF-8.
package metrics

import (
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Webhook outcomes the receiver reports; they are exported at zero from
// the start so rate() works before the first delivery. Other well-formed
// outcomes are accepted too, within the family's series cap.
var WebhookOutcomes = []string{
	"accepted", "duplicate", "bad_signature", "bad_nonce", "stale", "replay", "bad_payload",
	"too_large", "unsupported_media_type", "rate_limited", "missing_headers", "store_error", "probe",
}

// Providers whose client calls are observed.
const (
	ProviderBitnovo   = "bitnovo"
	ProviderBitrefill = "bitrefill"
)

// DefaultMaxSeries bounds the series of one vector unless set otherwise.
const DefaultMaxSeries = 256

// Overflow is the label value of the series that absorbs label
// combinations past a vector's cap.
const Overflow = "_overflow_"

// maxLabelValueLen truncates label values (in bytes).
const maxLabelValueLen = 128

// DefBuckets suit request latencies in seconds, from 5 ms to 60 s.
func DefBuckets() []float64 {
	return []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
}

// Metrics are the server's series. A nil *Metrics is valid and records
// nothing, so callers never need to check.
type Metrics struct {
	reg     *prometheus.Registry
	handler http.Handler

	toolCalls    *capped[prometheus.Counter]
	toolDuration *capped[prometheus.Observer]
	toolInFlight prometheus.Gauge

	webhook *capped[prometheus.Counter]

	providerRequests *capped[prometheus.Counter]
	providerRetries  *capped[prometheus.Counter]
	providerDuration *capped[prometheus.Observer]
}

// New returns the server's metrics in a fresh registry that also holds the
// Go runtime and process collectors.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	counter := func(name, help string, labels ...string) func(...string) prometheus.Counter {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
		f(v)
		return v.WithLabelValues
	}
	histogram := func(name, help string, buckets []float64, labels ...string) func(...string) prometheus.Observer {
		v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
		f(v)
		return v.WithLabelValues
	}
	inFlight := prometheus.NewGauge(prometheus.GaugeOpts{Name: "cryptopay_tool_calls_in_flight", Help: "MCP tool calls being handled now."})
	f(inFlight)
	buckets := DefBuckets()
	m := &Metrics{
		reg:     reg,
		handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		toolCalls: capVec(counter("cryptopay_tool_calls_total",
			"MCP tool calls by tool and outcome. outcome is ok, error, or cancelled (by the client); code is OK, the error envelope's code (e.g. PAYMENT_NOT_FOUND), INPUT_REQUIRED, or PROTOCOL_ERROR for JSON-RPC errors (unknown tool: tool=\"_unknown_\").",
			"tool", "outcome", "code"), DefaultMaxSeries),
		toolDuration: capVec(histogram("cryptopay_tool_call_duration_seconds",
			"Duration of MCP tool calls, from the request reaching the server to the result.", buckets, "tool"), DefaultMaxSeries),
		toolInFlight: inFlight,
		webhook: capVec(counter("cryptopay_webhook_requests_total",
			"Webhook deliveries received, by outcome.", "outcome"), 32),
		providerRequests: capVec(counter("cryptopay_provider_requests_total",
			"HTTP attempts to payment and shop providers, by provider, endpoint and outcome (ok, http_4xx, http_5xx, timeout, network_error, ...); retries count as attempts.",
			"provider", "endpoint", "outcome"), DefaultMaxSeries),
		providerRetries: capVec(counter("cryptopay_provider_retries_total",
			"Provider HTTP attempts that were retries of an earlier failed attempt.", "provider", "endpoint"), DefaultMaxSeries),
		providerDuration: capVec(histogram("cryptopay_provider_request_duration_seconds",
			"Duration of one provider HTTP attempt, body read included.", buckets[:len(buckets)-1], "provider", "endpoint"), DefaultMaxSeries),
	}
	for _, o := range WebhookOutcomes {
		m.webhook.with(o)
	}
	return m
}

// Registry returns the registry holding the series, for extra collectors
// and for tests (it is a prometheus.Gatherer).
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// ServeHTTP serves the exposition (GET and HEAD only), in the format the
// scraper negotiates (text 0.0.4 by default).
func (m *Metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if m == nil {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	m.handler.ServeHTTP(w, r)
}

// lowerWord bounds free-form outcome labels, with isLowerWord's length
// check (a counted repetition would compile to 40 copies of the class).
var lowerWord = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

func isLowerWord(s string) bool { return len(s) <= 40 && lowerWord.MatchString(s) }

// ToolCall records one finished tools/call.
func (m *Metrics) ToolCall(tool, outcome, code string, d time.Duration) {
	if m == nil {
		return
	}
	m.toolCalls.with(tool, outcome, code).Inc()
	m.toolDuration.with(tool).Observe(d.Seconds())
}

// Webhook counts one webhook delivery by outcome (accepted, duplicate,
// bad_signature, ...). Outcomes that are not lower-case words are counted as
// "other".
func (m *Metrics) Webhook(outcome string) {
	if m == nil {
		return
	}
	if !isLowerWord(outcome) {
		outcome = "other"
	}
	m.webhook.with(outcome).Inc()
}

// ProviderAttempt records one HTTP attempt to a provider. attempt is
// 0-based: anything above 0 is a retry.
func (m *Metrics) ProviderAttempt(provider, endpoint, outcome string, attempt int, d time.Duration) {
	if m == nil {
		return
	}
	if !isLowerWord(outcome) {
		outcome = "other"
	}
	m.providerRequests.with(provider, endpoint, outcome).Inc()
	m.providerDuration.with(provider, endpoint).Observe(d.Seconds())
	if attempt > 0 {
		m.providerRetries.with(provider, endpoint).Inc()
	}
}

// Provider returns an observer for one provider's client options
// (bitnovo.Options.Observe, bitrefill.Options.Observe); nil on a nil
// *Metrics, which the clients treat as "not observed".
func (m *Metrics) Provider(provider string) func(endpoint, outcome string, attempt int, d time.Duration) {
	if m == nil {
		return nil
	}
	return func(endpoint, outcome string, attempt int, d time.Duration) {
		m.ProviderAttempt(provider, endpoint, outcome, attempt, d)
	}
}

// capped is a client_golang vector (its WithLabelValues) with a bound on
// its series.
type capped[S any] struct {
	get func(...string) S
	max int

	mu   sync.Mutex
	seen map[string]struct{}
}

func capVec[S any](get func(...string) S, max int) *capped[S] {
	return &capped[S]{get: get, max: max, seen: map[string]struct{}{}}
}

// with returns the series of values, or the overflow series once the cap
// is reached and values are new.
func (c *capped[S]) with(values ...string) S {
	for i, s := range values {
		values[i] = cleanValue(s)
	}
	key := strings.Join(values, "\xff")
	c.mu.Lock()
	if _, ok := c.seen[key]; !ok {
		if len(c.seen) < c.max {
			c.seen[key] = struct{}{}
		} else {
			for i := range values {
				values[i] = Overflow
			}
		}
	}
	c.mu.Unlock()
	return c.get(values...)
}

// cleanValue makes a label value valid UTF-8 of at most maxLabelValueLen
// bytes, cut at a rune boundary.
func cleanValue(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= maxLabelValueLen {
		return s
	}
	s = s[:maxLabelValueLen]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
