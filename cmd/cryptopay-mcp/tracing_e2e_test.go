package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestTracingExport drives the built binary with OTEL_EXPORTER_OTLP_ENDPOINT
// pointing at a loopback collector: the spans of a tool call reach it as
// OTLP/HTTP protobuf when the server exits, and carry no device id.
func TestTracingExport(t *testing.T) {
	var mu sync.Mutex
	var bodies [][]byte
	var contentTypes []string
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
			http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusNotFound)
			return
		}
		var rd io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			rd = zr
		}
		b, err := io.ReadAll(rd)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		bodies = append(bodies, b)
		contentTypes = append(contentTypes, r.Header.Get("Content-Type"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()

	env := baseEnv(t, t.TempDir())
	env["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.URL
	env["OTEL_EXPORTER_OTLP_COMPRESSION"] = "gzip"
	env["OTEL_SERVICE_NAME"] = "cryptopay-e2e"
	s := startServer(t, env)
	var link linkOut
	s.ok(t, "create_payment_link", map[string]any{"amount_eur": 12, "include_qr": false}, &link)
	s.call(t, "get_payment_status", map[string]any{"identifier": link.Identifier})
	s.close(t) // the batch processor flushes on shutdown

	deadline := time.Now().Add(5 * time.Second)
	var all []byte
	for {
		mu.Lock()
		all = bytes.Join(bodies, nil)
		mu.Unlock()
		if bytes.Contains(all, []byte("get_payment_status")) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{"cryptopay-e2e", "tools/call create_payment_link", "get_payment_status", "mcp.method.name", "gen_ai.tool.name"} {
		if !bytes.Contains(all, []byte(want)) {
			t.Errorf("exported spans lack %q (%d requests, %d bytes)", want, len(bodies), len(all))
		}
	}
	for _, secret := range []string{SandboxDeviceID} {
		if bytes.Contains(all, []byte(secret)) {
			t.Errorf("exported spans hold %q", secret)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, ct := range contentTypes {
		if ct != "application/x-protobuf" {
			t.Errorf("Content-Type %q", ct)
		}
	}
}

// TestTelemetryEnvIsInjected: the OTEL_* variables are read through run's
// getenv like every other setting, not from the process environment.
func TestTelemetryEnvIsInjected(t *testing.T) {
	env := baseEnv(t, t.TempDir())
	env["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:4318"
	env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "grpc"
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), nil, io.NopCloser(strings.NewReader("")), &stdout, &stderr, func(k string) string { return env[k] })
	if code != exitConfig || !strings.Contains(stderr.String(), "OTEL_EXPORTER_OTLP_PROTOCOL") || stdout.Len() != 0 {
		t.Fatalf("exit %d, want %d with the OTEL error\nstdout: %s\nstderr: %s", code, exitConfig, &stdout, &stderr)
	}
}
