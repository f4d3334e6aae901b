package metrics

import (
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkToolCall is what every tools/call adds: a counter and a
// histogram observation.
func BenchmarkToolCall(b *testing.B) {
	m := New()
	for b.Loop() {
		m.ToolCall("get_payment_status", "ok", CodeOK, 3*time.Millisecond)
	}
}

// BenchmarkScrape renders /metrics with a realistic number of series.
func BenchmarkScrape(b *testing.B) {
	m := New()
	for _, tool := range []string{"create_payment_link", "create_payment_onchain", "get_payment_status", "list_currencies_catalog", "generate_payment_qr", "wait_for_payment"} {
		m.ToolCall(tool, "ok", CodeOK, time.Millisecond)
		m.ToolCall(tool, "error", "PAYMENT_NOT_FOUND", time.Millisecond)
	}
	for _, ep := range []string{"GET /api/v1/currencies/", "POST /api/v1/orders/", "GET /api/v1/orders/info/{id}/"} {
		m.ProviderAttempt(ProviderBitnovo, ep, "ok", 0, time.Millisecond)
	}
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
		b.ReportMetric(float64(rec.Body.Len()), "bytes/scrape")
	}
}
