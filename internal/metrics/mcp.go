package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Tool-call label values that are not a tool's own.
const (
	UnknownTool   = "_unknown_"      // tools/call of a tool the server does not have
	CodeOK        = "OK"             // success
	CodeInput     = "INPUT_REQUIRED" // the call asked the client for input (SEP-2322)
	CodeProtocol  = "PROTOCOL_ERROR" // a JSON-RPC error instead of a result
	CodeUnlabeled = "UNKNOWN"        // isError without a readable {"error":{"code"}} envelope
	CodeTask      = "TASK_CREATED"   // answered with a task handle (the Tasks extension)
	CodeCancelled = "CANCELLED"      // the client cancelled the call: outcome "cancelled", not an error
)

// createdTask is a tools/call answered with a task handle instead of a
// CallToolResult (tasks.CreateTaskResult).
type createdTask interface{ CreatedTask() string }

// errorCodeRE is what an envelope code must look like to become a label.
// At most 64 bytes, checked with len (see lowerWord).
var errorCodeRE = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// MCPMiddleware observes tools/call on an *mcp.Server (install it with
// AddReceivingMiddleware): the count by tool and outcome, the duration, and
// the calls in flight. The outcome comes from the result: IsError, and then
// the "code" of the {"error":{"code":...}} envelope in its text content.
// Other methods pass through untouched.
func (m *Metrics) MCPMiddleware() mcp.Middleware {
	return func(next mcp.MethodHandler) mcp.MethodHandler {
		if m == nil {
			return next
		}
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			call, ok := req.(*mcp.CallToolRequest)
			if method != "tools/call" || !ok || call.Params == nil {
				return next(ctx, method, req)
			}
			start := time.Now()
			m.toolInFlight.Add(1)
			defer m.toolInFlight.Add(-1)
			res, err := next(ctx, method, req)
			tool, outcome, code := classifyToolCall(call.Params.Name, res, err)
			if outcome == "error" && ctx.Err() != nil && (code == CodeProtocol || code == CodeUnlabeled || code == "INTERNAL_ERROR") {
				// The client cancelled the call or went away, and the
				// handler's error says nothing more: no failure of the
				// server's. A code that tells of the call's effect (say
				// PAYMENT_OUTCOME_UNKNOWN) is kept.
				outcome, code = "cancelled", CodeCancelled
			}
			m.ToolCall(tool, outcome, code, time.Since(start))
			return res, err
		}
	}
}

// classifyToolCall turns a tools/call answer into bounded label values.
// The tool label is the requested name only when the server ran the tool
// (it answered with a result): the SDK rejects unknown names with a
// JSON-RPC error before any handler runs, so arbitrary client-chosen names
// never become series.
func classifyToolCall(name string, res mcp.Result, err error) (tool, outcome, code string) {
	if err != nil {
		var jerr *jsonrpc.Error
		if errors.As(err, &jerr) && jerr.Code == jsonrpc.CodeInvalidParams && strings.HasPrefix(jerr.Message, "unknown tool") {
			return UnknownTool, "error", CodeProtocol
		}
		// The tool exists (the SDK looks it up first) but the call failed at
		// the protocol level. The series cap is the backstop should that
		// ever stop holding.
		return name, "error", CodeProtocol
	}
	if _, ok := res.(createdTask); ok {
		return name, "ok", CodeTask
	}
	r, ok := res.(*mcp.CallToolResult)
	if !ok || r == nil {
		return name, "error", CodeProtocol
	}
	if len(r.InputRequests) > 0 {
		return name, "ok", CodeInput
	}
	if !r.IsError {
		return name, "ok", CodeOK
	}
	code = EnvelopeCode(r)
	if code == CodeCancelled {
		return name, "cancelled", code
	}
	return name, "error", code
}

// EnvelopeCode reads {"error":{"code":"X"}} from the first text content of
// a tool result: the tool error's code, or CodeUnlabeled.
func EnvelopeCode(r *mcp.CallToolResult) string {
	for _, c := range r.Content {
		tc, ok := c.(*mcp.TextContent)
		if !ok {
			continue
		}
		var env struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		if json.Unmarshal([]byte(tc.Text), &env) == nil && len(env.Error.Code) <= 64 && errorCodeRE.MatchString(env.Error.Code) {
			return env.Error.Code
		}
		break
	}
	return CodeUnlabeled
}
