package metrics

import (
	"net/http"
	"regexp"
	"time"
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

// Metrics are the server's series. A nil *Metrics is valid and records
// nothing, so callers never need to check.
type Metrics struct {
	reg *Registry

	toolCalls    *CounterVec
	toolDuration *HistogramVec
	toolInFlight *Gauge

	webhook *CounterVec

	providerRequests *CounterVec
	providerRetries  *CounterVec
	providerDuration *HistogramVec
}

// New returns the server's metrics in a fresh registry.
func New() *Metrics {
	r := NewRegistry()
	m := &Metrics{
		reg: r,
		toolCalls: r.NewCounterVec("cryptopay_tool_calls_total",
			"MCP tool calls by tool and outcome. outcome is ok or error; code is OK, the error envelope's code (e.g. PAYMENT_NOT_FOUND), INPUT_REQUIRED, or PROTOCOL_ERROR for JSON-RPC errors (unknown tool: tool=\"_unknown_\").",
			"tool", "outcome", "code"),
		toolDuration: r.NewHistogramVec("cryptopay_tool_call_duration_seconds",
			"Duration of MCP tool calls, from the request reaching the server to the result.", DefBuckets, "tool"),
		toolInFlight: r.NewGauge("cryptopay_tool_calls_in_flight", "MCP tool calls being handled now."),
		webhook: r.NewCounterVec("cryptopay_webhook_requests_total",
			"Webhook deliveries received, by outcome.", "outcome").SetMaxSeries(32),
		providerRequests: r.NewCounterVec("cryptopay_provider_requests_total",
			"HTTP attempts to payment and shop providers, by provider, endpoint and outcome (ok, http_4xx, http_5xx, timeout, network_error, ...); retries count as attempts.",
			"provider", "endpoint", "outcome"),
		providerRetries: r.NewCounterVec("cryptopay_provider_retries_total",
			"Provider HTTP attempts that were retries of an earlier failed attempt.", "provider", "endpoint"),
		providerDuration: r.NewHistogramVec("cryptopay_provider_request_duration_seconds",
			"Duration of one provider HTTP attempt, body read included.", DefBuckets[:len(DefBuckets)-1], "provider", "endpoint"),
	}
	for _, o := range WebhookOutcomes {
		m.webhook.Init(o)
	}
	return m
}

// Registry returns the registry holding the series, for extra families.
func (m *Metrics) Registry() *Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// ServeHTTP serves the text exposition.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if m == nil {
		http.NotFound(w, r)
		return
	}
	m.reg.ServeHTTP(w, r)
}

// lowerWord bounds free-form outcome labels.
var lowerWord = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// ToolCall records one finished tools/call.
func (m *Metrics) ToolCall(tool, outcome, code string, d time.Duration) {
	if m == nil {
		return
	}
	m.toolCalls.Inc(tool, outcome, code)
	m.toolDuration.Observe(d.Seconds(), tool)
}

// Webhook counts one webhook delivery by outcome (accepted, duplicate,
// bad_signature, ...). Outcomes that are not lower-case words are counted as
// "other".
func (m *Metrics) Webhook(outcome string) {
	if m == nil {
		return
	}
	if !lowerWord.MatchString(outcome) {
		outcome = "other"
	}
	m.webhook.Inc(outcome)
}

// ProviderAttempt records one HTTP attempt to a provider. attempt is
// 0-based: anything above 0 is a retry.
func (m *Metrics) ProviderAttempt(provider, endpoint, outcome string, attempt int, d time.Duration) {
	if m == nil {
		return
	}
	if !lowerWord.MatchString(outcome) {
		outcome = "other"
	}
	m.providerRequests.Inc(provider, endpoint, outcome)
	m.providerDuration.Observe(d.Seconds(), provider, endpoint)
	if attempt > 0 {
		m.providerRetries.Inc(provider, endpoint)
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
