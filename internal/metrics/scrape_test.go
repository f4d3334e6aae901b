package metrics

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

// TestScrapeDocumentedSeries scrapes /metrics as Prometheus would and checks
// every series the README lists, the runtime and process collectors, and
// that promlint finds nothing to fix.
func TestScrapeDocumentedSeries(t *testing.T) {
	m := New()
	m.ToolCall("get_payment_status", "ok", CodeOK, 30*time.Millisecond)
	m.ToolCall("get_payment_status", "error", "PAYMENT_NOT_FOUND", 10*time.Millisecond)
	m.Webhook("accepted")
	m.ProviderAttempt(ProviderBitnovo, "POST /api/v1/orders/", "ok", 0, 40*time.Millisecond)
	m.ProviderAttempt(ProviderBitnovo, "POST /api/v1/orders/", "http_5xx", 1, 2*time.Second)

	srv := httptest.NewServer(m)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	body := string(raw)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	problems, err := promlint.New(strings.NewReader(body)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	for _, family := range []string{
		"go_goroutines", "go_memstats_heap_alloc_bytes", "go_gc_duration_seconds",
		"process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
	} {
		if !strings.Contains(body, "\n"+family) {
			t.Errorf("scrape lacks %s", family)
		}
	}

	const want = `
# HELP cryptopay_provider_retries_total Provider HTTP attempts that were retries of an earlier failed attempt.
# TYPE cryptopay_provider_retries_total counter
cryptopay_provider_retries_total{endpoint="POST /api/v1/orders/",provider="bitnovo"} 1
# HELP cryptopay_tool_calls_in_flight MCP tool calls being handled now.
# TYPE cryptopay_tool_calls_in_flight gauge
cryptopay_tool_calls_in_flight 0
`
	if err := testutil.ScrapeAndCompare(srv.URL, strings.NewReader(want), "cryptopay_provider_retries_total", "cryptopay_tool_calls_in_flight"); err != nil {
		t.Error(err)
	}
	for name, n := range map[string]int{
		"cryptopay_tool_calls_total":                  2,
		"cryptopay_tool_call_duration_seconds":        1,
		"cryptopay_tool_calls_in_flight":              1,
		"cryptopay_webhook_requests_total":            len(WebhookOutcomes),
		"cryptopay_provider_requests_total":           2,
		"cryptopay_provider_retries_total":            1,
		"cryptopay_provider_request_duration_seconds": 1,
	} {
		if got, err := testutil.GatherAndCount(m.Registry(), name); err != nil || got != n {
			t.Errorf("%s: %d series, %v; want %d", name, got, err, n)
		}
	}
	for _, line := range []string{
		`cryptopay_tool_calls_total{code="PAYMENT_NOT_FOUND",outcome="error",tool="get_payment_status"} 1`,
		`cryptopay_tool_call_duration_seconds_bucket{tool="get_payment_status",le="0.05"} 2`,
		`cryptopay_tool_call_duration_seconds_bucket{tool="get_payment_status",le="60"} 2`,
		`cryptopay_webhook_requests_total{outcome="accepted"} 1`,
		`cryptopay_webhook_requests_total{outcome="replay"} 0`,
		`cryptopay_provider_requests_total{endpoint="POST /api/v1/orders/",outcome="http_5xx",provider="bitnovo"} 1`,
		`cryptopay_provider_request_duration_seconds_bucket{endpoint="POST /api/v1/orders/",provider="bitnovo",le="30"} 2`,
		`cryptopay_provider_request_duration_seconds_bucket{endpoint="POST /api/v1/orders/",provider="bitnovo",le="+Inf"} 2`,
	} {
		if !strings.Contains(body, line+"\n") {
			t.Errorf("scrape lacks %s", line)
		}
	}
	if strings.Contains(body, `cryptopay_provider_request_duration_seconds_bucket{endpoint="POST /api/v1/orders/",provider="bitnovo",le="60"}`) {
		t.Error("provider durations have a 60 s bucket; they stop at 30 s")
	}
}

func TestSeriesCap(t *testing.T) {
	m := New()
	for i := range 300 {
		m.ProviderAttempt(ProviderBitnovo, fmt.Sprint("endpoint-", i), "ok", 0, time.Millisecond)
	}
	if n, err := testutil.GatherAndCount(m.Registry(), "cryptopay_provider_requests_total"); err != nil || n != DefaultMaxSeries+1 {
		t.Errorf("%d series, %v; want %d plus the overflow series", n, err, DefaultMaxSeries)
	}
	out := scrape(t, m)
	if !strings.Contains(out, `cryptopay_provider_requests_total{endpoint="_overflow_",outcome="_overflow_",provider="_overflow_"} 44`+"\n") {
		t.Errorf("no overflow series of 44 in:\n%s", out)
	}
	// Existing series keep counting after the cap is reached.
	m.ProviderAttempt(ProviderBitnovo, "endpoint-0", "ok", 0, time.Millisecond)
	if !strings.Contains(out, `cryptopay_provider_requests_total{endpoint="endpoint-0",outcome="ok",provider="bitnovo"} 1`+"\n") ||
		!strings.Contains(scrape(t, m), `cryptopay_provider_requests_total{endpoint="endpoint-0",outcome="ok",provider="bitnovo"} 2`+"\n") {
		t.Error("endpoint-0 did not keep counting")
	}
	long := strings.Repeat("é", 200)
	m.ToolCall(long, "ok", CodeOK, time.Millisecond)
	m.ToolCall("bad\xff", "ok", CodeOK, time.Millisecond)
	out = scrape(t, m)
	if strings.Contains(out, long) || !utf8.ValidString(out) {
		t.Errorf("label values not truncated to valid UTF-8:\n%s", out)
	}
	if !strings.Contains(out, `tool="`+strings.Repeat("é", 64)+`"} 1`) || !strings.Contains(out, `tool="bad`+"\uFFFD"+`"} 1`) {
		t.Errorf("long or invalid value not cleaned:\n%s", out)
	}
}

func TestServeHTTPMethods(t *testing.T) {
	m := New()
	for _, tc := range []struct {
		method string
		status int
	}{
		{http.MethodGet, 200},
		{http.MethodHead, 200},
		{http.MethodPost, 405},
	} {
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, httptest.NewRequest(tc.method, "/metrics", nil))
		if rec.Code != tc.status {
			t.Errorf("%s: %d, want %d", tc.method, rec.Code, tc.status)
		}
		if tc.status == 200 && rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", tc.method, rec.Header().Get("Cache-Control"))
		}
	}
}

// TestRegistriesAreIndependent checks that no state is shared through the
// global default registry: two apps each count their own.
func TestRegistriesAreIndependent(t *testing.T) {
	a, b := New(), New()
	a.Webhook("accepted")
	if strings.Contains(scrape(t, b), `cryptopay_webhook_requests_total{outcome="accepted"} 1`) {
		t.Error("a second Metrics sees the first one's count")
	}
}
