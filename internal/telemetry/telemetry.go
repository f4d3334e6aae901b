// Package telemetry is the server's OpenTelemetry tracing. It is off unless
// the standard OTEL_* variables ask for it, and then it traces one span per
// MCP request (the OpenTelemetry MCP semantic conventions), with child spans
// for the provider HTTP calls (otelhttp), the store operations and webhook
// deliveries. Spans carry no secret, device id, token or gift-card code: only
// method, tool and resource names, session and request ids, status codes and
// error types.
//
// Nothing here touches the OpenTelemetry globals (otel.SetTracerProvider,
// otel.SetTextMapPropagator): the app owns its *Telemetry and hands it to
// what it instruments. A nil or disabled *Telemetry instruments nothing and
// returns what it is given unchanged.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the server's own spans.
const ScopeName = "github.com/cryptopay-mcp/cryptopay-mcp"

// Telemetry holds the tracer provider and propagator the app instruments
// with.
type Telemetry struct {
	tp         trace.TracerProvider
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
	shutdown   func(context.Context) error
}

// New wraps a tracer provider (tests pass an SDK provider with an in-memory
// exporter); a nil tp gives a disabled Telemetry.
func New(tp trace.TracerProvider) *Telemetry {
	if tp == nil {
		return nil
	}
	return &Telemetry{
		tp:         tp,
		tracer:     tp.Tracer(ScopeName),
		propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		shutdown:   func(context.Context) error { return nil },
	}
}

// Enabled reports whether spans are recorded.
func (t *Telemetry) Enabled() bool { return t != nil }

// TracerProvider returns the provider (nil when disabled).
func (t *Telemetry) TracerProvider() trace.TracerProvider {
	if t == nil {
		return nil
	}
	return t.tp
}

// Shutdown flushes the spans still queued and stops the exporter.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.shutdown(ctx)
}

// FromEnv sets tracing up from the standard variables. Whether tracing is on
// is decided from getenv; the exporter, the sampler and the resource then read
// their variables from the process environment, as the SDK does:
//
//   - OTEL_SDK_DISABLED=true, or OTEL_TRACES_EXPORTER=none: off.
//   - OTEL_TRACES_EXPORTER=otlp (the default): on when OTEL_EXPORTER_OTLP_ENDPOINT
//     or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, exporting OTLP over
//     HTTP/protobuf (otlphttp.go reads the other OTEL_EXPORTER_OTLP_*
//     variables from getenv: headers, timeout, compression, certificates).
//   - OTEL_TRACES_EXPORTER=console: on, spans as JSON lines to stderr (stdout
//     carries the MCP protocol).
//   - OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES name the resource
//     (default service.name "cryptopay-mcp"); OTEL_TRACES_SAMPLER and
//     OTEL_TRACES_SAMPLER_ARG choose the sampler (default parentbased_always_on);
//     OTEL_BSP_* tune the batch span processor.
//
// It returns a nil *Telemetry (off) when tracing is not asked for.
func FromEnv(ctx context.Context, getenv func(string) string, version string, stderr io.Writer) (*Telemetry, error) {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return nil, nil
	}
	var exp sdktrace.SpanExporter
	switch kind := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))); kind {
	case "none":
		return nil, nil
	case "", "otlp":
		if getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
			return nil, nil
		}
		proto := getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
		if proto == "" {
			proto = getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
		}
		if proto != "" && proto != "http/protobuf" {
			return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL: %q is not supported; use http/protobuf (port 4318)", proto)
		}
		client, err := newOTLPHTTPClient(getenv, version)
		if err != nil {
			return nil, err
		}
		e, err := otlptrace.New(ctx, client)
		if err != nil {
			return nil, fmt.Errorf("OTLP trace exporter: %w", err)
		}
		exp = e
	case "console":
		e, err := stdouttrace.New(stdouttrace.WithWriter(stderr))
		if err != nil {
			return nil, fmt.Errorf("console trace exporter: %w", err)
		}
		exp = e
	default:
		return nil, fmt.Errorf("OTEL_TRACES_EXPORTER: %q is not supported; use otlp, console or none", kind)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "cryptopay-mcp"), attribute.String("service.version", version)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES win
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		_ = exp.Shutdown(ctx)
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	// No sampler option: the SDK reads OTEL_TRACES_SAMPLER itself.
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	t := New(tp)
	t.shutdown = tp.Shutdown
	return t, nil
}

// TenantKey names the tenant (CRYPTOPAY_TENANTS_FILE) on the spans of its
// MCP requests.
const TenantKey = attribute.Key("cryptopay.tenant")

// start begins one of the server's own spans.
func (t *Telemetry) start(ctx context.Context, name string, kind trace.SpanKind, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return t.tracer.Start(ctx, name, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
}
