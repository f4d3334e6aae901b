package telemetry_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitnovo"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/fakebitnovo"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/mcpserver"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/payments"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/telemetry"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/webhook"
)

const (
	device     = "5a4d0b0e-0000-4000-8000-00000000d3v1"
	secretHex  = "5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7"
	remoteTID  = "4bf92f3577b34da6a3ce929d0e0e4736"
	remoteSpan = "00f067aa0ba902b7"
)

func newTracing(t *testing.T) (*telemetry.Telemetry, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return telemetry.New(tp), exp
}

// byName indexes spans by name; a name seen twice keeps the first.
func byName(spans tracetest.SpanStubs) map[string]tracetest.SpanStub {
	m := map[string]tracetest.SpanStub{}
	for _, s := range spans {
		if _, ok := m[s.Name]; !ok {
			m[s.Name] = s
		}
	}
	return m
}

// noSecrets fails when any attribute (span or event) holds one of secrets.
func noSecrets(t *testing.T, spans tracetest.SpanStubs, secrets ...string) {
	t.Helper()
	for _, s := range spans {
		for _, kv := range s.Attributes {
			for _, sec := range secrets {
				if strings.Contains(kv.Value.Emit(), sec) {
					t.Errorf("span %q attribute %s carries a secret: %q", s.Name, kv.Key, kv.Value.Emit())
				}
			}
		}
		for _, ev := range s.Events {
			for _, kv := range ev.Attributes {
				for _, sec := range secrets {
					if strings.Contains(kv.Value.Emit(), sec) {
						t.Errorf("span %q event %s attribute %s carries a secret", s.Name, ev.Name, kv.Key)
					}
				}
			}
		}
	}
}

func attr(s tracetest.SpanStub, key string) (string, bool) {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value.Emit(), true
		}
	}
	return "", false
}

// TestCreateSpanTree runs create_payment_link through the MCP server with
// every layer instrumented, as the app wires it, and checks the span tree:
// the client's traceparent (in _meta) → the MCP SERVER span → the provider
// HTTP CLIENT span and the store spans.
func TestCreateSpanTree(t *testing.T) {
	tel, exp := newTracing(t)
	fake := httptest.NewServer(fakebitnovo.New(fakebitnovo.Options{DeviceID: device}))
	t.Cleanup(fake.Close)
	api, err := bitnovo.New(fake.URL, device, bitnovo.Options{HTTPClient: tel.HTTPClient(bitnovo.NewDefaultHTTPClient())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(api.CloseIdleConnections)
	st := tel.Store(store.NewMemory(), "memory")
	srv, err := mcpserver.New(mcpserver.Deps{Version: "test", Sandbox: true, ToolTimeout: 10 * time.Second,
		Payments: payments.New(api, st, payments.Options{Sandbox: true})})
	if err != nil {
		t.Fatal(err)
	}
	srv.AddReceivingMiddleware(tel.MCPMiddleware())
	ctx := context.Background()
	sct, cct := mcp.NewInMemoryTransports()
	ss, err := srv.Connect(ctx, sct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ss.Close() })
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "0"}, nil).Connect(ctx, cct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	exp.Reset()

	res, err := cs.CallTool(ctx, &mcp.CallToolParams{
		Meta:      mcp.Meta{"traceparent": "00-" + remoteTID + "-" + remoteSpan + "-01"},
		Name:      "create_payment_link",
		Arguments: map[string]any{"amount_eur": 25, "idempotency_key": "order-secret-key-1"},
	})
	if err != nil || res.IsError {
		t.Fatalf("create_payment_link: %v %+v", err, res)
	}
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "get_payment_status", Arguments: map[string]any{"identifier": "no-such-payment"}}); err != nil {
		t.Fatal(err)
	}

	spans := exp.GetSpans()
	names := byName(spans)
	root, ok := names["tools/call create_payment_link"]
	if !ok {
		t.Fatalf("no MCP span; spans: %v", spanNames(spans))
	}
	if root.SpanKind != trace.SpanKindServer || root.Parent.TraceID().String() != remoteTID ||
		root.Parent.SpanID().String() != remoteSpan || !root.Parent.IsRemote() {
		t.Errorf("MCP span kind %v parent %v, want a SERVER span under the client's traceparent", root.SpanKind, root.Parent)
	}
	for key, want := range map[string]string{
		"mcp.method.name":       "tools/call",
		"gen_ai.tool.name":      "create_payment_link",
		"gen_ai.operation.name": "execute_tool",
		"network.transport":     "pipe",
	} {
		if got, _ := attr(root, key); got != want {
			t.Errorf("MCP span %s = %q, want %q", key, got, want)
		}
	}
	if _, ok := attr(root, "error.type"); ok {
		t.Error("a successful call has error.type")
	}
	provider, ok := names["HTTP POST"]
	if !ok {
		t.Fatalf("no provider HTTP span; spans: %v", spanNames(spans))
	}
	if provider.SpanKind != trace.SpanKindClient || provider.Parent.SpanID() != root.SpanContext.SpanID() {
		t.Errorf("provider span kind %v, parent %v; want a CLIENT child of the MCP span", provider.SpanKind, provider.Parent.SpanID())
	}
	if got, _ := attr(provider, "http.response.status_code"); got != "201" {
		t.Errorf("provider span status %q", got)
	}
	var storeOps []string
	for _, s := range spans {
		if strings.HasPrefix(s.Name, "store ") && s.SpanContext.TraceID() == root.SpanContext.TraceID() {
			if s.Parent.SpanID() != root.SpanContext.SpanID() {
				t.Errorf("%s is not a child of the MCP span", s.Name)
			}
			if sys, _ := attr(s, "db.system.name"); sys != "memory" {
				t.Errorf("%s db.system.name %q", s.Name, sys)
			}
			storeOps = append(storeOps, strings.TrimPrefix(s.Name, "store "))
		}
	}
	if !strings.Contains(strings.Join(storeOps, ","), "SavePayment") || !strings.Contains(strings.Join(storeOps, ","), "Idempotency") {
		t.Errorf("store spans %v lack SavePayment and the idempotency record", storeOps)
	}

	// A tool error is error.type tool_error with the envelope's code.
	miss, ok := names["tools/call get_payment_status"]
	if !ok {
		t.Fatal("no span for the failing get_payment_status")
	}
	if et, _ := attr(miss, "error.type"); et != "tool_error" {
		t.Errorf("failing tool error.type %q", et)
	}
	if code, _ := attr(miss, "cryptopay.tool.error_code"); code == "" || code == "UNKNOWN" {
		t.Errorf("failing tool error code %q", code)
	}
	if miss.Parent.IsValid() {
		t.Error("a call without traceparent has a parent")
	}
	noSecrets(t, spans, device, "order-secret-key-1")
}

// TestWebhookSpanTree posts a signed delivery to the instrumented receiver
// and checks the delivery span and its store child, and that neither the
// device secret, the signature nor the (secret) path is in an attribute.
func TestWebhookSpanTree(t *testing.T) {
	tel, exp := newTracing(t)
	key, err := hex.DecodeString(secretHex)
	if err != nil {
		t.Fatal(err)
	}
	const path = "/webhook/s3cr3t-path-token"
	rc, err := webhook.New(webhook.Options{Path: path, Key: key, Store: tel.Store(store.NewMemory(), "memory"),
		RateLimit: webhook.RateLimit{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	h := tel.WebhookHandler(rc)
	body := []byte(`{"identifier": "pay-tr-1", "status": "CO", "fiat_amount": 10.5, "currency": "BTC"}`)
	nonce := strconv.FormatInt(time.Now().Unix(), 10)
	sig := webhook.Sign(key, nonce, body)
	for _, want := range []int{http.StatusOK, http.StatusUnauthorized} { // the second is a replay
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Nonce", nonce)
		req.Header.Set("X-Signature", sig)
		req.Header.Set("traceparent", "00-"+remoteTID+"-"+remoteSpan+"-01")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Fatalf("delivery: %d %s", rec.Code, rec.Body)
		}
	}
	bad := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	bad.Header.Set("X-Nonce", nonce)
	bad.Header.Set("X-Signature", strings.Repeat("0", 64))
	h.ServeHTTP(httptest.NewRecorder(), bad)

	spans := exp.GetSpans()
	var deliveries, saves []tracetest.SpanStub
	for _, s := range spans {
		switch s.Name {
		case "webhook delivery":
			deliveries = append(deliveries, s)
		case "store SaveEvent":
			saves = append(saves, s)
		}
	}
	if len(deliveries) != 3 || len(saves) != 2 {
		t.Fatalf("%d delivery spans and %d SaveEvent spans, want 3 and 2; spans: %v", len(deliveries), len(saves), spanNames(spans))
	}
	for i, d := range deliveries {
		if d.SpanKind != trace.SpanKindServer || d.Parent.IsValid() {
			t.Errorf("delivery %d: kind %v parent %v; want a SERVER root (a provider's traceparent is not trusted)", i, d.SpanKind, d.Parent)
		}
		if i < 2 && saves[i].Parent.SpanID() != d.SpanContext.SpanID() {
			t.Errorf("SaveEvent %d is not a child of its delivery", i)
		}
	}
	if got, _ := attr(deliveries[0], "http.response.status_code"); got != "200" {
		t.Errorf("delivery status %q", got)
	}
	for i, name := range []string{"replay", "bad signature"} {
		if got, _ := attr(deliveries[i+1], "error.type"); got != "401" {
			t.Errorf("%s delivery error.type %q, want 401", name, got)
		}
	}
	if saves[1].Status.Code != 0 {
		t.Errorf("a replay answered by the store is a span error: %v", saves[1].Status)
	}
	noSecrets(t, spans, secretHex, sig, "s3cr3t-path-token", nonce+":")
}

func TestDisabledIsPassThrough(t *testing.T) {
	var tel *telemetry.Telemetry
	st := store.NewMemory()
	hc := bitnovo.NewDefaultHTTPClient()
	h := http.NotFoundHandler()
	if tel.Enabled() || tel.Store(st, "memory") != store.Store(st) || tel.HTTPClient(hc) != hc || tel.TracerProvider() != nil {
		t.Error("a disabled Telemetry wraps something")
	}
	if got := tel.WebhookHandler(h); got == nil {
		t.Error("nil handler")
	}
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		enabled bool
		wantErr bool
	}{
		{"nothing set", nil, false, false},
		{"endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, true, false},
		{"traces endpoint", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, true, false},
		{"sdk disabled", map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, false, false},
		{"exporter none", map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, false, false},
		{"console", map[string]string{"OTEL_TRACES_EXPORTER": "console"}, true, false},
		{"grpc", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, false, true},
		{"unknown exporter", map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			tel, err := telemetry.FromEnv(context.Background(), func(k string) string { return tt.env[k] }, "test", &stderr)
			if (err != nil) != tt.wantErr || tel.Enabled() != tt.enabled {
				t.Fatalf("FromEnv = %v, %v; want enabled %v, error %v", tel.Enabled(), err, tt.enabled, tt.wantErr)
			}
			if tel.Enabled() {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				_ = tel.Shutdown(ctx) // nothing listens on the endpoint: an export error is fine
			}
		})
	}
}

func spanNames(spans tracetest.SpanStubs) []string {
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = s.Name
	}
	return out
}
