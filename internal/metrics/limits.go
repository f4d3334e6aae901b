package metrics

import "github.com/prometheus/client_golang/prometheus"

// Limits the server enforces (mcphttp's Limit* constants, mcpserver's
// subscription caps); their series are exported at zero from the start.
// Other lower-case words are counted too, within the family's cap.
var Limits = []string{
	"http_connections_total", "http_connections_per_source", "http_body_read_timeout", "http_sessions_total",
	"subscriptions_per_session", "subscriptions_per_caller", "subscription_unknown_payment",
	"webhook_connections_total", "webhook_connections_per_source",
}

func newLimits(counter func(name, help string, labels ...string) func(...string) prometheus.Counter) *capped[prometheus.Counter] {
	c := capVec(counter("cryptopay_limit_rejections_total",
		"Requests and connections refused or cut by a limit, by limit: http_connections_total and http_connections_per_source "+
			"(MCP_HTTP_MAX_CONNS, MCP_HTTP_MAX_CONNS_PER_IP), http_body_read_timeout (MCP_HTTP_BODY_TIMEOUT), "+
			"http_sessions_total (MCP_HTTP_MAX_SESSIONS), subscriptions_per_session and subscriptions_per_caller "+
			"(CRYPTOPAY_MAX_SUBSCRIPTIONS_PER_SESSION, _PER_CALLER), subscription_unknown_payment, "+
			"webhook_connections_total and webhook_connections_per_source (the webhook listener).", "limit"), 32)
	for _, l := range Limits {
		c.with(l)
	}
	return c
}

// LimitReached counts one refusal by a limit (see Limits); a value that
// is not a lower-case word is counted as "other".
func (m *Metrics) LimitReached(limit string) {
	if m == nil {
		return
	}
	if !isLowerWord(limit) {
		limit = "other"
	}
	m.limits.with(limit).Inc()
}

// Gauge registers a gauge whose value is read from f at every scrape,
// e.g. cryptopay_http_connections_open from the listener. A second gauge
// of the same name is an error.
func (m *Metrics) Gauge(name, help string, f func() float64) error {
	if m == nil {
		return nil
	}
	return m.reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
}
