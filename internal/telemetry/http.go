package telemetry

import (
	"net/http"
	"strconv"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"
)

// HTTPClient returns a copy of c (nil: a copy of http.DefaultClient's
// settings) whose transport makes a CLIENT span per provider HTTP attempt
// (otelhttp: method, status, server address, URL without credentials; no
// headers, so no device id or API key) and passes the trace context on in
// traceparent. Disabled, it returns c itself.
func (t *Telemetry) HTTPClient(c *http.Client) *http.Client {
	if t == nil {
		return c
	}
	var out http.Client
	if c != nil {
		out = *c
	}
	base := out.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	out.Transport = otelhttp.NewTransport(base,
		otelhttp.WithTracerProvider(t.tp),
		otelhttp.WithPropagators(t.propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return "HTTP " + r.Method }),
	)
	return &out
}

// WebhookHandler wraps the webhook receiver so that each delivery is a
// SERVER span "webhook delivery", parent of the store operations it makes.
// Deliveries come from the provider, not from a traced caller: an incoming
// traceparent is not trusted as the parent. Only the method and the status
// code are recorded (the path may be a secret, the headers carry the
// signature).
func (t *Telemetry) WebhookHandler(h http.Handler) http.Handler {
	if t == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := t.start(r.Context(), "webhook delivery", trace.SpanKindServer,
			semconv.HTTPRequestMethodKey.String(r.Method))
		defer span.End()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r.WithContext(ctx))
		span.SetAttributes(semconv.HTTPResponseStatusCode(sw.status))
		if sw.status >= 400 {
			span.SetAttributes(attribute.String(string(semconv.ErrorTypeKey), strconv.Itoa(sw.status)))
			if sw.status >= 500 {
				span.SetStatus(codes.Error, strconv.Itoa(sw.status))
			}
		}
	})
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
