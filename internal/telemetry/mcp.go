package telemetry

import (
	"context"
	"errors"
	"reflect"
	"strconv"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/metrics"
)

// Attributes of the server's own that the MCP conventions do not define.
const (
	// ToolErrorCodeKey is the code of a tool's error envelope
	// (PAYMENT_NOT_FOUND, ...) when the result has isError: true.
	ToolErrorCodeKey = attribute.Key("cryptopay.tool.error_code")
)

// errorTypeToolError is error.type for a tool result with isError: true.
const errorTypeToolError = "tool_error"

// MCPMiddleware returns a receiving middleware (install it with
// server.AddReceivingMiddleware) that makes one SERVER span per MCP request,
// following the OpenTelemetry MCP semantic conventions: the name is
// "{mcp.method.name} {target}" (target: the tool or prompt name), with
// mcp.method.name, gen_ai.tool.name and gen_ai.operation.name for tools/call,
// gen_ai.prompt.name, mcp.resource.uri, mcp.session.id, mcp.protocol.version,
// network.transport, and on failure error.type (the JSON-RPC error code, or
// tool_error for an isError result) and rpc.response.status_code. The
// parent is the W3C trace context the client put in the request's _meta
// (traceparent, tracestate), else in the HTTP request's headers. Arguments
// and results are never recorded. extra is added to every span, such as the
// tenant whose server this is.
func (t *Telemetry) MCPMiddleware(extra ...attribute.KeyValue) mcp.Middleware {
	return func(next mcp.MethodHandler) mcp.MethodHandler {
		if t == nil {
			return next
		}
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			ctx = t.extract(ctx, req)
			attrs := append([]attribute.KeyValue{semconv.McpMethodNameKey.String(method)}, extra...)
			name := method
			switch r := req.(type) {
			case *mcp.CallToolRequest:
				if r.Params != nil {
					name += " " + r.Params.Name
					attrs = append(attrs, semconv.GenAIToolName(r.Params.Name), semconv.GenAIOperationNameExecuteTool)
				}
			case *mcp.GetPromptRequest:
				if r.Params != nil {
					name += " " + r.Params.Name
					attrs = append(attrs, semconv.GenAIPromptName(r.Params.Name))
				}
			case *mcp.ReadResourceRequest:
				if r.Params != nil {
					attrs = append(attrs, semconv.McpResourceURI(r.Params.URI))
				}
			case *mcp.SubscribeRequest:
				if r.Params != nil {
					attrs = append(attrs, semconv.McpResourceURI(r.Params.URI))
				}
			}
			if ss, ok := req.GetSession().(*mcp.ServerSession); ok && ss != nil {
				if id := ss.ID(); id != "" {
					attrs = append(attrs, semconv.McpSessionID(id))
				}
			}
			// The revision the request was sent under: the go-sdk's
			// ServerRequest reads its _meta (2026-07-28) and falls back to
			// the session's negotiated one.
			if r, ok := req.(interface{ ProtocolVersion() string }); ok {
				if v := r.ProtocolVersion(); v != "" {
					attrs = append(attrs, semconv.McpProtocolVersion(v))
				}
			}
			if extra := req.GetExtra(); extra != nil && extra.Header != nil {
				attrs = append(attrs, semconv.NetworkTransportTCP)
			} else {
				attrs = append(attrs, semconv.NetworkTransportPipe)
			}
			ctx, span := t.start(ctx, name, trace.SpanKindServer, attrs...)
			defer span.End()
			res, err := next(ctx, method, req)
			recordOutcome(span, res, err)
			return res, err
		}
	}
}

// extract returns ctx with the remote span context of the request's _meta,
// or of its HTTP headers when _meta has none.
func (t *Telemetry) extract(ctx context.Context, req mcp.Request) context.Context {
	// Params is an interface over pointers; notifications/initialized, for
	// one, carries a nil *InitializedParams.
	if p := req.GetParams(); p != nil && !reflect.ValueOf(p).IsNil() {
		carrier := propagation.MapCarrier{}
		for k, v := range p.GetMeta() {
			if s, ok := v.(string); ok {
				carrier[k] = s
			}
		}
		if carrier["traceparent"] != "" {
			return t.propagator.Extract(ctx, carrier)
		}
	}
	if extra := req.GetExtra(); extra != nil && extra.Header != nil {
		return t.propagator.Extract(ctx, propagation.HeaderCarrier(extra.Header))
	}
	return ctx
}

// recordOutcome sets error.type and the status from the answer. Error
// messages are not recorded: they may quote arguments.
func recordOutcome(span trace.Span, res mcp.Result, err error) {
	if err != nil {
		errType := "_OTHER"
		var jerr *jsonrpc.Error
		if errors.As(err, &jerr) {
			errType = strconv.FormatInt(jerr.Code, 10)
			span.SetAttributes(semconv.RPCResponseStatusCode(errType))
		} else if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			errType = "timeout"
		}
		span.SetAttributes(semconv.ErrorTypeKey.String(errType))
		span.SetStatus(codes.Error, errType)
		return
	}
	if r, ok := res.(*mcp.CallToolResult); ok && r != nil && r.IsError {
		span.SetAttributes(semconv.ErrorTypeKey.String(errorTypeToolError), ToolErrorCodeKey.String(metrics.EnvelopeCode(r)))
		span.SetStatus(codes.Error, errorTypeToolError)
	}
}
