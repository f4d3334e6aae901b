package telemetry

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// collector is a loopback OTLP/HTTP receiver that decodes what it gets.
type collector struct {
	mu       sync.Mutex
	fail     int // answer 503 to this many requests first
	requests int
	headers  []http.Header
	spans    []string
	service  []string
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests++
	c.headers = append(c.headers, r.Header.Clone())
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if c.fail > 0 {
		c.fail--
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for len(b) > 0 { // ExportTraceServiceRequest: field 1, repeated ResourceSpans
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || num != 1 || typ != protowire.BytesType {
			http.Error(w, "bad field", http.StatusBadRequest)
			return
		}
		b = b[n:]
		m, n := protowire.ConsumeBytes(b)
		if n < 0 {
			http.Error(w, "bad length", http.StatusBadRequest)
			return
		}
		b = b[n:]
		var rs tracepb.ResourceSpans
		if err := proto.Unmarshal(m, &rs); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				c.service = append(c.service, a.GetValue().GetStringValue())
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				c.spans = append(c.spans, s.GetName())
			}
		}
	}
	w.WriteHeader(http.StatusOK)
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestOTLPExportThroughFromEnv(t *testing.T) {
	col := &collector{}
	srv := httptest.NewServer(col)
	defer srv.Close()
	tel, err := FromEnv(context.Background(), env(map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT":    srv.URL + "/",
		"OTEL_EXPORTER_OTLP_HEADERS":     "authorization=Bearer%20t0ken, x-tenant = a",
		"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
	}), "1.2.3", io.Discard)
	if err != nil || !tel.Enabled() {
		t.Fatalf("FromEnv = %v, %v", tel.Enabled(), err)
	}
	_, span := tel.TracerProvider().Tracer("t").Start(context.Background(), "tools/call create_payment_link")
	span.End()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tel.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	if strings.Join(col.spans, ",") != "tools/call create_payment_link" {
		t.Fatalf("collector got spans %q", col.spans)
	}
	if len(col.service) != 1 || col.service[0] != "cryptopay-mcp" {
		t.Errorf("service.name = %q", col.service)
	}
	h := col.headers[0]
	if h.Get("Authorization") != "Bearer t0ken" || h.Get("X-Tenant") != "a" || h.Get("Content-Encoding") != "gzip" ||
		!strings.HasPrefix(h.Get("User-Agent"), "cryptopay-mcp/1.2.3") {
		t.Errorf("headers = %v", h)
	}
}

func TestOTLPRetriesRetryableStatus(t *testing.T) {
	col := &collector{fail: 2}
	srv := httptest.NewServer(col)
	defer srv.Close()
	c, err := newOTLPHTTPClient(env(map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": srv.URL + "/v1/traces"}), "t")
	if err != nil {
		t.Fatal(err)
	}
	c.retryWait = time.Millisecond
	exp, err := otlptrace.New(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	_, span := tp.Tracer("t").Start(context.Background(), "s")
	span.End()
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	if col.requests != 3 || len(col.spans) != 1 {
		t.Fatalf("requests %d, spans %q; want 3 attempts and one span", col.requests, col.spans)
	}
}

func TestOTLPNoRetryOnClientError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusBadRequest)
	}))
	defer srv.Close()
	c, err := newOTLPHTTPClient(env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": srv.URL}), "t")
	if err != nil {
		t.Fatal(err)
	}
	c.retryWait = time.Hour // a retry would hang the test
	err = c.UploadTraces(context.Background(), []*tracepb.ResourceSpans{{}})
	if err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("UploadTraces = %v; want the 400", err)
	}
}

func TestOTLPConfigErrors(t *testing.T) {
	tests := []struct {
		name, want string
		env        map[string]string
	}{
		{"not a URL", "OTEL_EXPORTER_OTLP_ENDPOINT", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "127.0.0.1:4318"}},
		{"bad headers", "OTEL_EXPORTER_OTLP_HEADERS", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_EXPORTER_OTLP_HEADERS": "novalue"}},
		{"header name with a space", "OTEL_EXPORTER_OTLP_HEADERS", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_EXPORTER_OTLP_HEADERS": "a b=c"}},
		{"header value not URL-encoded", "OTEL_EXPORTER_OTLP_HEADERS", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_EXPORTER_OTLP_HEADERS": "a=%zz"}},
		{"header value with a newline", "OTEL_EXPORTER_OTLP_HEADERS", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_EXPORTER_OTLP_HEADERS": "a=x%0Ay"}},
		{"bad timeout", "OTEL_EXPORTER_OTLP_TIMEOUT", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "10s"}},
		{"bad compression", "OTEL_EXPORTER_OTLP_COMPRESSION", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"}},
		{"missing CA", "OTEL_EXPORTER_OTLP_CERTIFICATE", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://127.0.0.1:4318", "OTEL_EXPORTER_OTLP_CERTIFICATE": "/nonexistent/ca.pem"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newOTLPHTTPClient(env(tt.env), "t")
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error = %v; want one line naming %s", err, tt.want)
			}
		})
	}
}
