package telemetry

// Why this file exists instead of otlptracehttp: the OTLP/HTTP exporter of
// opentelemetry-go imports the collector's generated service package, which
// imports gRPC and grpc-gateway, so linking it (for an HTTP exporter) added
// 3.5 MB to the binary, 87 packages and their init functions to every start,
// and 2.3 MiB to the idle RSS of a server that traces nothing (measured in
// docs/benchmarks.md, "Standard parts (issue 11)"). What the exporter needs
// beyond the libraries is small: the span → OTLP transform, the protobuf
// types and the batching stay opentelemetry-go's (otlptrace.New over the
// Client below, go.opentelemetry.io/proto/otlp, sdktrace's batcher); this
// file only POSTs the encoded request, as the OTLP/HTTP specification says,
// and reads the standard OTEL_EXPORTER_OTLP_* variables.

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// otlpHTTPClient sends ExportTraceServiceRequest messages over HTTP/protobuf.
type otlpHTTPClient struct {
	endpoint string
	headers  map[string]string
	gzip     bool
	timeout  time.Duration
	hc       *http.Client
	agent    string
	// retryWait is the first back-off between attempts (doubled each time,
	// capped by the export timeout); tests shorten it.
	retryWait time.Duration
}

// otlpVar reads OTEL_EXPORTER_OTLP_TRACES_<name>, falling back to
// OTEL_EXPORTER_OTLP_<name>.
func otlpVar(getenv func(string) string, name string) string {
	if v := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_" + name)); v != "" {
		return v
	}
	return strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_" + name))
}

// newOTLPHTTPClient reads the exporter's configuration from getenv. A bad
// value is an error naming the variable.
func newOTLPHTTPClient(getenv func(string) string, version string) (*otlpHTTPClient, error) {
	c := &otlpHTTPClient{
		headers:   map[string]string{},
		timeout:   10 * time.Second,
		agent:     "cryptopay-mcp/" + version + " (OTLP/HTTP trace exporter)",
		retryWait: time.Second,
	}
	// The signal-specific endpoint is used as given; the generic one gets
	// the signal's path appended (OTLP exporter specification).
	name, raw := "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
	c.endpoint = raw
	if raw == "" {
		name, raw = "OTEL_EXPORTER_OTLP_ENDPOINT", strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_ENDPOINT"))
		c.endpoint = strings.TrimRight(raw, "/") + "/v1/traces"
	}
	u, err := url.Parse(c.endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s: %q is not an http(s) URL", name, raw)
	}
	if v := otlpVar(getenv, "HEADERS"); v != "" {
		for _, kv := range strings.Split(v, ",") {
			k, val, ok := strings.Cut(kv, "=")
			k = strings.TrimSpace(k)
			if !ok || k == "" {
				return nil, errors.New("OTEL_EXPORTER_OTLP_HEADERS: want key=value pairs separated by commas")
			}
			if !headerToken(k) {
				return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_HEADERS: %q is not a valid header name", k)
			}
			dv, err := url.PathUnescape(strings.TrimSpace(val))
			if err != nil {
				return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_HEADERS: the value of %q is not URL-encoded", k)
			}
			if strings.ContainsFunc(dv, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
				return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_HEADERS: the value of %q holds control characters", k)
			}
			c.headers[k] = dv
		}
	}
	if v := otlpVar(getenv, "TIMEOUT"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms <= 0 {
			return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_TIMEOUT: %q is not a positive number of milliseconds", v)
		}
		c.timeout = time.Duration(ms) * time.Millisecond
	}
	switch v := strings.ToLower(otlpVar(getenv, "COMPRESSION")); v {
	case "", "none":
	case "gzip":
		c.gzip = true
	default:
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_COMPRESSION: %q is not supported; use gzip or none", v)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if ca, cert, key := otlpVar(getenv, "CERTIFICATE"), otlpVar(getenv, "CLIENT_CERTIFICATE"), otlpVar(getenv, "CLIENT_KEY"); ca != "" || cert != "" || key != "" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if ca != "" {
			pem, err := os.ReadFile(ca)
			if err != nil {
				return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_CERTIFICATE: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_CERTIFICATE: %s holds no PEM certificate", ca)
			}
			cfg.RootCAs = pool
		}
		if cert != "" || key != "" {
			pair, err := tls.LoadX509KeyPair(cert, key)
			if err != nil {
				return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE/CLIENT_KEY: %w", err)
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
		tr.TLSClientConfig = cfg
	}
	c.hc = &http.Client{Transport: tr}
	return c, nil
}

func (c *otlpHTTPClient) Start(context.Context) error { return nil }

func (c *otlpHTTPClient) Stop(context.Context) error {
	c.hc.CloseIdleConnections()
	return nil
}

// encodeExportRequest encodes an ExportTraceServiceRequest: field 1,
// repeated ResourceSpans.
func encodeExportRequest(spans []*tracepb.ResourceSpans) ([]byte, error) {
	var b []byte
	for _, rs := range spans {
		m, err := proto.Marshal(rs)
		if err != nil {
			return nil, fmt.Errorf("encode spans: %w", err)
		}
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, m)
	}
	return b, nil
}

// UploadTraces sends one batch, retrying what the specification calls
// retryable (429, 502, 503, 504 and transport errors) with back-off, within
// the export timeout.
func (c *otlpHTTPClient) UploadTraces(ctx context.Context, spans []*tracepb.ResourceSpans) error {
	if len(spans) == 0 {
		return nil
	}
	body, err := encodeExportRequest(spans)
	if err != nil {
		return err
	}
	if c.gzip {
		var zb bytes.Buffer
		zw := gzip.NewWriter(&zb)
		_, _ = zw.Write(body)
		if err := zw.Close(); err != nil {
			return fmt.Errorf("gzip spans: %w", err)
		}
		body = zb.Bytes()
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	wait := c.retryWait
	for {
		retry, after, err := c.post(ctx, body)
		if err == nil || !retry {
			return err
		}
		if after > 0 {
			wait = after
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("OTLP export gave up: %w (last: %w)", ctx.Err(), err)
		case <-t.C:
		}
		wait *= 2
	}
}

// post makes one attempt; it reports whether a failure may be retried and
// the Retry-After the collector asked for.
func (c *otlpHTTPClient) post(ctx context.Context, body []byte) (retry bool, after time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return false, 0, fmt.Errorf("OTLP export: %w", err)
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("User-Agent", c.agent)
	if c.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return ctx.Err() == nil, 0, fmt.Errorf("OTLP export: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, 0, nil
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusBadGateway,
		resp.StatusCode == http.StatusServiceUnavailable, resp.StatusCode == http.StatusGatewayTimeout:
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			after = time.Duration(s) * time.Second
		}
		return true, after, fmt.Errorf("OTLP export: collector answered %s", resp.Status)
	default:
		return false, 0, fmt.Errorf("OTLP export: collector answered %s", resp.Status)
	}
}

// headerToken reports whether k is an HTTP field name (RFC 9110 token):
// every request would fail on anything else, so it is a start-up error.
func headerToken(k string) bool {
	return k != "" && !strings.ContainsFunc(k, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r))
	})
}
