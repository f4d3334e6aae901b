// Package mcpserver builds the MCP server: one constructor per tool, typed
// inputs and outputs with inferred JSON schemas, and a single wrapper that
// validates arguments, applies the call deadline and turns every failure
// into an isError result carrying {"error":{"code","message","details"}}.
package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/access"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/payments"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/toolerr"
)

// Output is what a tool handler returns: the structured result and the
// images that go next to it as MCP image content.
type Output[Out any] struct {
	Value  Out
	Images []payments.Image
	// Secret marks the result as meant for the user's eyes (redemption
	// codes): its content blocks carry audience ["user"], priority 1.
	Secret bool
	// Meta goes into the result's _meta, for what must stay out of a
	// result whose shape is fixed (the categories map).
	Meta mcp.Meta
}

// value adapts a domain call returning (*Out, error) to a handler's result.
func value[Out any](r *Out, err error) (Output[Out], error) {
	if err != nil {
		return Output[Out]{}, err
	}
	return Output[Out]{Value: *r}, nil
}

// Tool is one tool definition bound to its typed handler.
type Tool[In, Out any] struct {
	// Toolset is the group the tool belongs to; with the readOnlyHint in
	// Def.Annotations it decides the scope a caller needs (package access).
	Toolset access.Toolset
	Def     mcp.Tool
	Patch   func(in *jsonschema.Schema) // adds constraints the struct tags cannot express
	Handler func(ctx context.Context, req *mcp.CallToolRequest, in In) (Output[Out], error)
	// NoDeadline: the handler bounds its own duration (wait_for_payment)
	// instead of the server-wide tool timeout.
	NoDeadline bool
}

// registrar is implemented by every Tool[In, Out].
type registrar interface {
	register(s *mcp.Server, env *env) error
	definition() (*mcp.Tool, error)
	name() string
	toolset() access.Toolset
	readOnly() bool
	appOnly() bool
}

func (t Tool[In, Out]) definition() (*mcp.Tool, error) {
	def, _, _, err := t.build()
	return def, err
}

func (t Tool[In, Out]) name() string { return t.Def.Name }

func (t Tool[In, Out]) toolset() access.Toolset { return t.Toolset }

func (t Tool[In, Out]) appOnly() bool { return isAppOnly(t.Def.Meta) }

func (t Tool[In, Out]) readOnly() bool {
	return t.Def.Annotations != nil && t.Def.Annotations.ReadOnlyHint
}

// env is what every tool call shares.
type env struct {
	log     *slog.Logger
	timeout time.Duration
	sandbox bool
	// anonymous is the caller of a request that carries no token: the
	// stdio user, or loopback HTTP without authentication.
	anonymous access.Caller
}

// build infers the schemas and returns the finished tool definition with
// its resolved input schema and what normalizes arguments toward it.
// Every string argument gets a maxLength (boundStrings).
func (t Tool[In, Out]) build() (*mcp.Tool, *jsonschema.Resolved, *argSchema, error) {
	in, err := jsonschema.For[In](nil)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("tool %s: input schema: %w", t.Def.Name, err)
	}
	if t.Patch != nil {
		t.Patch(in)
	}
	boundStrings(in)
	resolved, err := in.Resolve(nil)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("tool %s: resolve input schema: %w", t.Def.Name, err)
	}
	args, err := newArgSchema(in)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("tool %s: input schema: %w", t.Def.Name, err)
	}
	out, err := jsonschema.For[Out](nil)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("tool %s: output schema: %w", t.Def.Name, err)
	}
	compactOutput(reflect.TypeFor[Out](), out)
	if out, err = shareDefs(out); err != nil {
		return nil, nil, nil, fmt.Errorf("tool %s: output schema: %w", t.Def.Name, err)
	}
	def := t.Def
	def.InputSchema, def.OutputSchema = in, out
	return &def, resolved, args, nil
}

func (t Tool[In, Out]) register(s *mcp.Server, e *env) error {
	def, resolved, args, err := t.build()
	if err != nil {
		return err
	}
	// Registered pre-encoded: on every 2026-07-28 HTTP call the go-sdk
	// (v1.8.0, validateParamHeaders) re-encodes the tool's input schema to
	// look for x-mcp-header annotations, which for a *jsonschema.Schema
	// costs ~45 allocations; raw JSON is copied instead. The listing is the
	// same JSON.
	rawIn, err := json.Marshal(def.InputSchema)
	if err != nil {
		return fmt.Errorf("tool %s: encode input schema: %w", def.Name, err)
	}
	def.InputSchema = json.RawMessage(rawIn)
	s.AddTool(def, t.handler(def, resolved, args, e))
	return nil
}

// handler is the one wrapper every tool call goes through: argument
// validation, the deadline, the error envelope, the log line.
func (t Tool[In, Out]) handler(def *mcp.Tool, resolved *jsonschema.Resolved, args *argSchema, e *env) mcp.ToolHandler {
	memo := &textMemo{}
	return func(ctx context.Context, req *mcp.CallToolRequest) (res *mcp.CallToolResult, _ error) {
		start := time.Now()
		callCtx := ctx // the client's: cancelled by notifications/cancelled or a gone connection
		code := "OK"
		defer func() {
			if r := recover(); r != nil {
				e.log.Error("tool panicked", "tool", def.Name, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				code = toolerr.CodeInternal
				res = errorResult(e, &toolerr.Error{Code: toolerr.CodeInternal, Message: "internal error; the failure was logged"})
			}
			e.log.Info("tool call", "tool", def.Name, "outcome", code, "duration_ms", time.Since(start).Milliseconds())
		}()

		ctx = access.WithCaller(ctx, e.caller(req))
		in, perr := decodeArgs[In](req.Params.Arguments, resolved, args)
		if perr != nil {
			code = perr.Code
			return errorResult(e, boundEcho(perr, req.Params.Arguments)), nil
		}
		if !t.NoDeadline {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, e.timeout)
			defer cancel()
		}
		out, err := t.Handler(ctx, req, in)
		if errors.Is(err, errTaskStarted) {
			// The tasks middleware answers with the CreateTaskResult.
			code = "TASK_CREATED"
			return &mcp.CallToolResult{Content: []mcp.Content{}}, nil
		}
		var ir *inputRequired
		if errors.As(err, &ir) {
			code = "INPUT_REQUIRED"
			return &mcp.CallToolResult{InputRequests: ir.requests, RequestState: ir.state}, nil
		}
		if err != nil {
			pe := toolerr.From(err)
			if callCtx.Err() != nil && !knownOutcome(pe.Code) {
				// The client cancelled the call (or went away): not a
				// failure of ours, so no warning and no error metric. Over
				// stdio the transport sends no answer at all (MCP spec);
				// where an answer goes out anyway, it says what happened.
				code = toolerr.CodeCancelled
				return errorResult(e, &toolerr.Error{Code: toolerr.CodeCancelled, Message: "the call was cancelled by the client"}), nil
			}
			if pe.Code == toolerr.CodeInternal || strings.HasPrefix(pe.Code, "UPSTREAM") {
				e.log.Warn("tool failed", "tool", def.Name, "error", err)
			}
			code = pe.Code
			return errorResult(e, boundEcho(pe, req.Params.Arguments)), nil
		}
		r, err := successResult(out, memo)
		if err != nil {
			code = toolerr.CodeInternal
			e.log.Error("encode tool result", "tool", def.Name, "error", err)
			return errorResult(e, &toolerr.Error{Code: toolerr.CodeInternal, Message: "could not encode the result"}), nil
		}
		return r, nil
	}
}

// knownOutcome reports whether a tool error says something about the
// call's effect that a cancellation must not hide (a create whose outcome
// is unknown, a conflict found before the cancel): only the generic
// codes a cancelled context produces become CANCELLED.
func knownOutcome(code string) bool {
	switch code {
	case toolerr.CodeInternal, "API_TIMEOUT", toolerr.CodeCancelled:
		return false
	}
	return !strings.HasPrefix(code, "UPSTREAM")
}

// inputRequired ends a call with input requests for the client (multi
// round-trip requests, SEP-2322); the call is made again with the answers.
type inputRequired struct {
	requests mcp.InputRequestMap
	state    string // requestState: echoed back by the client with the answers
	err      error
}

func (e *inputRequired) Error() string { return "input required: " + e.err.Error() }
func (e *inputRequired) Unwrap() error { return e.err }

// decodeArgs normalizes the arguments' unambiguous forms, applies schema
// defaults, validates, and decodes into In.
func decodeArgs[In any](raw json.RawMessage, resolved *jsonschema.Resolved, schema *argSchema) (In, *toolerr.Error) {
	var in In
	args := map[string]any{}
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &args); err != nil {
			return in, &toolerr.Error{Code: toolerr.CodeInvalidArgument, Message: "arguments must be a JSON object"}
		}
	}
	var v any = args
	if schema != nil {
		if _, perr := schema.normalize("", schema.root, v); perr != nil {
			perr.Message = "invalid arguments: " + perr.Message
			return in, perr
		}
	}
	if err := resolved.ApplyDefaults(&v); err != nil {
		return in, &toolerr.Error{Code: toolerr.CodeInvalidArgument, Message: "invalid arguments: " + err.Error()}
	}
	if err := resolved.Validate(v); err != nil {
		msg := cleanSchemaError(err)
		if schema != nil {
			msg = schema.explain(err)
		}
		return in, &toolerr.Error{Code: toolerr.CodeInvalidArgument, Message: "invalid arguments: " + msg}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return in, &toolerr.Error{Code: toolerr.CodeInvalidArgument, Message: "invalid arguments: " + err.Error()}
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return in, &toolerr.Error{Code: toolerr.CodeInvalidArgument, Message: "invalid arguments: " + err.Error()}
	}
	return in, nil
}

// cleanSchemaError keeps the innermost, most useful part of a validation
// error on one line.
func cleanSchemaError(err error) string {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	msg = strings.ReplaceAll(msg, "validating root: ", "")
	// jsonschema-go reads "validating /properties/amount_eur: minimum: 0/1
	// is less than 0.010000"; say it the way an agent can act on.
	return boundRE.ReplaceAllStringFunc(msg, func(m string) string {
		g := boundRE.FindStringSubmatch(m)
		bound := g[3]
		if f, err := strconv.ParseFloat(bound, 64); err == nil {
			bound = strconv.FormatFloat(f, 'f', -1, 64)
		}
		word := "at least"
		if g[2] == "maximum" {
			word = "at most"
		}
		return g[1] + " must be " + word + " " + bound
	})
}

// boundRE matches jsonschema-go's minimum/maximum failure for a top-level
// property.
var boundRE = regexp.MustCompile(`validating /properties/([A-Za-z0-9_]+): (minimum|maximum): \S+ is (?:less|greater) than (\S+)`)

// errorEnvelope is the JSON an agent sees for a failed call.
type errorEnvelope struct {
	Error   *toolerr.Error `json:"error"`
	Sandbox bool           `json:"sandbox,omitempty"`
}

func errorResult(e *env, pe *toolerr.Error) *mcp.CallToolResult {
	b, err := jsonText(errorEnvelope{Error: pe, Sandbox: e.sandbox})
	if err != nil {
		b = []byte(`{"error":{"code":"INTERNAL_ERROR","message":"could not encode the error"}}`)
	}
	// The envelope travels as text only: structuredContent must match the
	// tool's output schema, which describes success.
	return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: string(b)}}}
}

const dataURLPrefix = "data:image/png;base64,"

// textMemo remembers a tool's last text block with the structured content
// it was made from. A cached read (list_currencies_catalog, a payment
// that has not changed) returns the same value call after call, and making
// the text block (decoding the value into maps to sort its keys, then
// indenting it) cost a third of such a call's CPU on the hosted HTTP path
// (docs/benchmarks-http.md); comparing the bytes costs next to nothing.
type textMemo struct {
	mu   sync.Mutex
	full []byte
	text string
}

func (m *textMemo) get(full []byte) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.full != nil && bytes.Equal(m.full, full) {
		return m.text, true
	}
	return "", false
}

func (m *textMemo) put(full []byte, text string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.full, m.text = full, text
}

// jsonText encodes v as compact JSON without HTML escaping: "&", "<" and
// ">" stay themselves instead of \u0026, \u003c and \u003e, so that the text
// an agent reads and pastes (a payment URI's query, the shop's <untrusted>
// markers) is the text itself, and costs one byte a character.
func jsonText(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// successResult puts the value in structuredContent, a compact JSON text
// block (with the PNG data URLs shortened, since the images follow as image
// content) for clients that read only text, and one image block per QR code.
// Neither is HTML-escaped (see jsonText); the go-sdk writes a
// json.RawMessage structuredContent as it is. memo (may be nil) keeps the
// last text block; results with images or secrets (gift card codes must not
// linger in memory) are never kept.
func successResult[Out any](out Output[Out], memo *textMemo) (*mcp.CallToolResult, error) {
	full, err := jsonText(out.Value)
	if err != nil {
		return nil, fmt.Errorf("marshal result: %w", err)
	}
	if memo == nil || len(out.Images) > 0 || out.Secret {
		memo = nil
	} else if text, ok := memo.get(full); ok {
		return &mcp.CallToolResult{StructuredContent: json.RawMessage(full), Meta: out.Meta,
			Content: []mcp.Content{&mcp.TextContent{Text: text}}}, nil
	}
	// Top-level values stay raw until known not to be data URLs: a data URL
	// (tens of kilobytes) is only measured, never decoded into a string.
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(full, &raw); err != nil {
		return nil, fmt.Errorf("result is not an object: %w", err)
	}
	index := map[string]int{}
	for i, img := range out.Images {
		index[img.Field] = i + 1
	}
	m := make(map[string]any, len(raw))
	for k, v := range raw {
		// JSON writes base64 as is (no escapes), so the string's length is
		// the raw value's less its two quotes.
		if bytes.HasPrefix(v, []byte(`"`+dataURLPrefix)) {
			m[k] = fmt.Sprintf("%s… (%d bytes of PNG, attached as image #%d)", dataURLPrefix, len(v)-2-len(dataURLPrefix), index[k])
			continue
		}
		m[k] = v // raw, as jsonText wrote it: numbers keep their digits
	}
	text, err := jsonText(m)
	if err != nil {
		return nil, fmt.Errorf("marshal text: %w", err)
	}
	if memo != nil {
		memo.put(full, string(text))
	}
	res := &mcp.CallToolResult{StructuredContent: json.RawMessage(full), Meta: out.Meta}
	res.Content = append(res.Content, &mcp.TextContent{Text: string(text)})
	for _, img := range out.Images {
		res.Content = append(res.Content, &mcp.ImageContent{Data: img.PNG, MIMEType: "image/png"})
	}
	if out.Secret {
		for _, c := range res.Content {
			if tc, ok := c.(*mcp.TextContent); ok {
				tc.Annotations = &mcp.Annotations{Audience: []mcp.Role{"user"}, Priority: 1}
			}
		}
	}
	return res, nil
}
