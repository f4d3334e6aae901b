package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/mcpserver"
)

// The fixtures of the conformance suite's reference server
// (modelcontextprotocol/conformance, examples/servers/typescript/
// everything-server.ts): the names, arguments and answers its scenarios
// look for. They are added to the product's own MCP server, next to its
// payment tools.

// Sample content of the reference server: a 1x1 red PNG and a minimal WAV.
const (
	testImageBase64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
	testAudioBase64 = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="
)

// jsonSchema202012 is json_schema_2020_12_tool's input schema, listed as
// is: the scenario checks that $schema, $defs, $anchor, the composition and
// conditional keywords and additionalProperties survive tools/list.
const jsonSchema202012 = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "$defs": {"address": {"$anchor": "addressDef", "type": "object", "properties": {"street": {"type": "string"}, "city": {"type": "string"}}}},
  "properties": {
    "name": {"type": "string"},
    "address": {"$ref": "#/$defs/address"},
    "contactMethod": {"type": "string", "enum": ["phone", "email"]},
    "phone": {"type": "string"},
    "email": {"type": "string"}
  },
  "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
  "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
  "then": {"required": ["phone"]},
  "else": {"required": ["email"]},
  "additionalProperties": false
}`

// fixtures holds the state some fixtures need: the key that signs
// requestState for the tampering test.
type fixtures struct {
	stateKey []byte
}

func newFixtures() *fixtures {
	return &fixtures{stateKey: []byte(rand.Text())}
}

// noArgs is the input schema of the fixtures without arguments.
var noArgs = json.RawMessage(`{"type":"object","properties":{}}`)

func text(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}

// register adds every fixture to s.
func (f *fixtures) register(s *mcp.Server) {
	f.tools(s)
	f.inputRequiredTools(s)
	f.resources(s)
	f.prompts(s)
	f.taskTools(s) // the io.modelcontextprotocol/tasks extension's (tasks.go)
}

// tools are the fixtures of the tools-* scenarios of both revisions.
func (f *fixtures) tools(s *mcp.Server) {
	add := func(name, desc string, schema any, h mcp.ToolHandler) {
		if schema == nil {
			schema = noArgs
		}
		s.AddTool(&mcp.Tool{Name: name, Description: desc, InputSchema: schema}, h)
	}
	add("test_simple_text", "Tests simple text content response", nil,
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return text("This is a simple text response for testing."), nil
		})
	add("test_image_content", "Tests image content response", nil,
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.ImageContent{Data: mustB64(testImageBase64), MIMEType: "image/png"}}}, nil
		})
	add("test_audio_content", "Tests audio content response", nil,
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.AudioContent{Data: mustB64(testAudioBase64), MIMEType: "audio/wav"}}}, nil
		})
	add("test_embedded_resource", "Tests embedded resource content response", nil,
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.EmbeddedResource{Resource: &mcp.ResourceContents{
				URI: "test://embedded-resource", MIMEType: "text/plain", Text: "This is an embedded resource content."}}}}, nil
		})
	add("test_multiple_content_types", "Tests response with multiple content types (text, image, resource)", nil,
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{
				&mcp.TextContent{Text: "Multiple content types test:"},
				&mcp.ImageContent{Data: mustB64(testImageBase64), MIMEType: "image/png"},
				&mcp.EmbeddedResource{Resource: &mcp.ResourceContents{URI: "test://mixed-content-resource",
					MIMEType: "application/json", Text: `{"test":"data","value":123}`}},
			}}, nil
		})
	add("test_tool_with_logging", "Tests tool that emits log messages during execution", nil,
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			for i, msg := range []string{"Tool execution started", "Tool processing data", "Tool execution completed"} {
				if i > 0 {
					sleep(ctx, 50*time.Millisecond)
				}
				// ServerSession.Log sends only at or above the level the
				// client set (2025-11-25) or asked for in _meta (2026-07-28).
				if err := req.Session.Log(ctx, &mcp.LoggingMessageParams{Level: "info", Data: msg}); err != nil {
					return nil, err
				}
			}
			return text("Tool with logging executed successfully"), nil
		})
	add("test_tool_with_progress", "Tests tool that reports progress notifications", nil,
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			token := req.Params.GetProgressToken()
			if token == nil {
				token = 0
			}
			for i, p := range []float64{0, 50, 100} {
				if i > 0 {
					sleep(ctx, 50*time.Millisecond)
				}
				if err := req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: token, Progress: p, Total: 100,
					Message: fmt.Sprintf("Completed step %v of 100", p)}); err != nil {
					return nil, err
				}
			}
			return text(fmt.Sprint(token)), nil
		})
	add("test_error_handling", "Tests error response handling", nil,
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			// A tool error is a result with isError, not a JSON-RPC error.
			res := text("This tool intentionally returns an error for testing")
			res.IsError = true
			return res, nil
		})
	add("test_reconnection", "Tests SSE stream disconnection and client reconnection (SEP-1699). Server will close the stream mid-call and send the result after client reconnects.", nil,
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if req.Extra != nil && req.Extra.CloseSSEStream != nil {
				req.Extra.CloseSSEStream(mcp.CloseSSEStreamArgs{RetryAfter: 500 * time.Millisecond})
			}
			sleep(ctx, 100*time.Millisecond)
			return text("Reconnection test completed successfully. If you received this, the client properly reconnected after stream closure."), nil
		})
	add("test_sampling", "Tests server-initiated sampling (LLM completion request)",
		json.RawMessage(`{"type":"object","properties":{"prompt":{"type":"string","description":"The prompt to send to the LLM"}},"required":["prompt"]}`),
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			var args struct{ Prompt string }
			_ = json.Unmarshal(req.Params.Arguments, &args)
			res, err := req.Session.CreateMessage(ctx, &mcp.CreateMessageParams{MaxTokens: 100,
				Messages: []*mcp.SamplingMessage{{Role: "user", Content: &mcp.TextContent{Text: args.Prompt}}}})
			if err != nil {
				return text("Sampling not supported or error: " + err.Error()), nil
			}
			reply := "No response"
			if tc, ok := res.Content.(*mcp.TextContent); ok {
				reply = tc.Text
			}
			return text("LLM response: " + reply), nil
		})
	elicit := func(ctx context.Context, req *mcp.CallToolRequest, p *mcp.ElicitParams, prefix string) (*mcp.CallToolResult, error) {
		res, err := req.Session.Elicit(ctx, p)
		if err != nil {
			return text("Elicitation not supported or error: " + err.Error()), nil
		}
		content, _ := json.Marshal(orEmpty(res.Content))
		return text(fmt.Sprintf("%s: action=%s, content=%s", prefix, res.Action, content)), nil
	}
	add("test_elicitation", "Tests server-initiated elicitation (user input request)",
		json.RawMessage(`{"type":"object","properties":{"message":{"type":"string","description":"The message to show the user"}},"required":["message"]}`),
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			var args struct{ Message string }
			_ = json.Unmarshal(req.Params.Arguments, &args)
			return elicit(ctx, req, &mcp.ElicitParams{Message: args.Message, RequestedSchema: json.RawMessage(
				`{"type":"object","properties":{"response":{"type":"string","description":"User's response"}},"required":["response"]}`)},
				"User response")
		})
	add("test_elicitation_sep1034_defaults", "Tests elicitation with default values per SEP-1034", nil,
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return elicit(ctx, req, &mcp.ElicitParams{Message: "Please review and update the form fields with defaults",
				RequestedSchema: json.RawMessage(`{"type":"object","properties":{
  "name":{"type":"string","description":"User name","default":"John Doe"},
  "age":{"type":"integer","description":"User age","default":30},
  "score":{"type":"number","description":"User score","default":95.5},
  "status":{"type":"string","description":"User status","enum":["active","inactive","pending"],"default":"active"},
  "verified":{"type":"boolean","description":"Verification status","default":true}},"required":[]}`)},
				"Elicitation completed")
		})
	add("test_elicitation_sep1330_enums", "Tests elicitation with enum schema improvements per SEP-1330", nil,
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return elicit(ctx, req, &mcp.ElicitParams{Message: "Please select options from the enum fields",
				RequestedSchema: json.RawMessage(`{"type":"object","properties":{
  "untitledSingle":{"type":"string","description":"Select one option","enum":["option1","option2","option3"]},
  "titledSingle":{"type":"string","description":"Select one option with titles","oneOf":[{"const":"value1","title":"First Option"},{"const":"value2","title":"Second Option"},{"const":"value3","title":"Third Option"}]},
  "legacyEnum":{"type":"string","description":"Select one option (legacy)","enum":["opt1","opt2","opt3"],"enumNames":["Option One","Option Two","Option Three"]},
  "untitledMulti":{"type":"array","description":"Select multiple options","minItems":1,"maxItems":3,"items":{"type":"string","enum":["option1","option2","option3"]}},
  "titledMulti":{"type":"array","description":"Select multiple options with titles","minItems":1,"maxItems":3,"items":{"anyOf":[{"const":"value1","title":"First Choice"},{"const":"value2","title":"Second Choice"},{"const":"value3","title":"Third Choice"}]}}},"required":[]}`)},
				"Elicitation completed")
		})
	add("json_schema_2020_12_tool", "Tool with JSON Schema 2020-12 features for conformance testing (SEP-1613)", json.RawMessage(jsonSchema202012),
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return text("JSON Schema 2020-12 tool called with: " + string(req.Params.Arguments)), nil
		})

	// SEP-2243: a parameter mirrored into an Mcp-Param-Region header, which
	// the go-sdk checks against the body (http-custom-header-server-validation).
	add("test_custom_header", "Echoes a region that the client also sends in the Mcp-Param-Region header",
		json.RawMessage(`{"type":"object","properties":{"region":{"type":"string","x-mcp-header":"Region"}},"required":["region"]}`),
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			var args struct{ Region string }
			_ = json.Unmarshal(req.Params.Arguments, &args)
			return text("region: " + args.Region), nil
		})

	// 2026-07-28 (server-stateless) diagnostics.
	add("test_missing_capability", "Test tool requiring sampling", nil,
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if caps := mcpserver.ClientCaps(req); caps == nil || caps.Sampling == nil {
				return nil, mcpserver.MissingCapability("sampling")
			}
			return text("Success"), nil
		})
	add("test_streaming_elicitation", "Diagnostic tool validating response progress streams", nil,
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if err := req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: "token-abc", Progress: 50, Total: 100}); err != nil {
				return nil, err
			}
			return text("Streaming complete"), nil
		})
	add("test_logging_tool", "Diagnostic logging validator tool", nil,
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			// Sent only when the request's _meta asked for a level.
			if err := req.Session.Log(ctx, &mcp.LoggingMessageParams{Level: "info", Data: "Diagnostic trace logging activated"}); err != nil {
				return nil, err
			}
			return text("Logging evaluated"), nil
		})
	// List mutations for the subscriptions/listen checks: adding and
	// removing a feature makes the go-sdk notify the listen streams that
	// asked for that list (and the 2025-11-25 sessions).
	add("test_trigger_tool_change", "Changes the tool list (notifies listen streams)", nil,
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			s.AddTool(&mcp.Tool{Name: "test_dynamic_tool", Description: "Added by test_trigger_tool_change", InputSchema: noArgs},
				func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) { return text("dynamic"), nil })
			s.RemoveTools("test_dynamic_tool")
			return text("Mutation triggered"), nil
		})
	add("test_trigger_prompt_change", "Changes the prompt list (notifies listen streams)", nil,
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			s.AddPrompt(&mcp.Prompt{Name: "test_dynamic_prompt", Description: "Added by test_trigger_prompt_change"},
				func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
					return &mcp.GetPromptResult{}, nil
				})
			s.RemovePrompts("test_dynamic_prompt")
			return text("Mutation triggered"), nil
		})
}

// nameSchema etc. are the requested schemas of the input-required fixtures.
var (
	nameSchema    = json.RawMessage(`{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}`)
	confirmSchema = json.RawMessage(`{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"]}`)
	colorSchema   = json.RawMessage(`{"type":"object","properties":{"color":{"type":"string"}},"required":["color"]}`)
	valueSchema   = json.RawMessage(`{"type":"object","properties":{"value":{"type":"string"}},"required":["value"]}`)
	contextSchema = json.RawMessage(`{"type":"object","properties":{"context":{"type":"string"}},"required":["context"]}`)
)

func ask(msg string, schema json.RawMessage) *mcp.ElicitParams {
	return &mcp.ElicitParams{Mode: "form", Message: msg, RequestedSchema: schema}
}

func sample(prompt string, maxTokens int64) *mcp.CreateMessageParams {
	return &mcp.CreateMessageParams{MaxTokens: maxTokens, Messages: []*mcp.SamplingMessage{{Role: "user", Content: &mcp.TextContent{Text: prompt}}}}
}

func inputRequired(reqs mcp.InputRequestMap, state string) *mcp.CallToolResult {
	return &mcp.CallToolResult{InputRequests: reqs, RequestState: state}
}

// inputRequiredTools are the multi-round-trip (SEP-2322) fixtures of the
// input-required-result-* scenarios: a first call answers input_required
// with input requests, the retry carries inputResponses (and requestState).
func (f *fixtures) inputRequiredTools(s *mcp.Server) {
	add := func(name, desc string, h mcp.ToolHandler) {
		s.AddTool(&mcp.Tool{Name: name, Description: desc, InputSchema: noArgs}, h)
	}
	add("test_input_required_result_elicitation", "MRTR: returns InputRequiredResult with elicitation request",
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if r, ok := req.Params.InputResponses["user_name"]; ok {
				return text("Hello, " + field(r, "content", "name") + "!"), nil
			}
			return inputRequired(mcp.InputRequestMap{"user_name": ask("What is your name?", nameSchema)}, ""), nil
		})
	add("test_input_required_result_sampling", "MRTR: returns InputRequiredResult with sampling request",
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if r, ok := req.Params.InputResponses["sample_request"]; ok {
				return text("Sampling result: " + orDefault(field(r, "content", "text"), "no response")), nil
			}
			return inputRequired(mcp.InputRequestMap{"sample_request": sample("What is the capital of France?", 100)}, ""), nil
		})
	add("test_input_required_result_list_roots", "MRTR: returns InputRequiredResult with roots/list request",
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if r, ok := req.Params.InputResponses["roots_request"]; ok {
				return text(fmt.Sprintf("Found %d root(s)", countRoots(r))), nil
			}
			return inputRequired(mcp.InputRequestMap{"roots_request": &mcp.ListRootsParams{}}, ""), nil
		})
	add("test_input_required_result_request_state", "MRTR: returns InputRequiredResult with requestState",
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			p := req.Params
			if r, ok := p.InputResponses["confirm"]; ok && p.RequestState != "" {
				var st struct{ Kind string }
				if json.Unmarshal([]byte(p.RequestState), &st) == nil && st.Kind == "request-state" && field(r, "content", "ok") == "true" {
					return text("state-ok: requestState validated"), nil
				}
			}
			return inputRequired(mcp.InputRequestMap{"confirm": ask("Please confirm", confirmSchema)},
				plainState(map[string]any{"kind": "request-state"})), nil
		})
	add("test_input_required_result_multiple_inputs", "MRTR: returns InputRequiredResult with multiple input requests",
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			p := req.Params
			name, ok1 := p.InputResponses["user_name"]
			greeting, ok2 := p.InputResponses["greeting"]
			roots, ok3 := p.InputResponses["client_roots"]
			var st struct{ Kind string }
			if ok1 && ok2 && ok3 && p.RequestState != "" && json.Unmarshal([]byte(p.RequestState), &st) == nil && st.Kind == "multiple-inputs" {
				return text(fmt.Sprintf("Name: %s; Greeting: %s; Roots: %d", field(name, "content", "name"),
					orDefault(field(greeting, "content", "text"), "Hello there!"), countRoots(roots))), nil
			}
			return inputRequired(mcp.InputRequestMap{
				"user_name":    ask("What is your name?", nameSchema),
				"greeting":     sample("Generate a greeting", 50),
				"client_roots": &mcp.ListRootsParams{},
			}, plainState(map[string]any{"kind": "multiple-inputs"})), nil
		})
	add("test_input_required_result_multi_round", "MRTR: multi-round InputRequiredResult workflow",
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			p := req.Params
			step1 := inputRequired(mcp.InputRequestMap{"step1": ask("Step 1: What is your name?", nameSchema)},
				plainState(map[string]any{"round": 1}))
			if p.RequestState == "" {
				return step1, nil
			}
			var st struct {
				Round int
				Name  string
			}
			_ = json.Unmarshal([]byte(p.RequestState), &st)
			if r, ok := p.InputResponses["step1"]; ok && st.Round == 1 {
				name := field(r, "content", "name")
				return inputRequired(mcp.InputRequestMap{"step2": ask("Step 2: What is your favorite color?", colorSchema)},
					plainState(map[string]any{"round": 2, "name": name})), nil
			}
			if r, ok := p.InputResponses["step2"]; ok && st.Round == 2 {
				return text(fmt.Sprintf("Multi-round complete for %s who likes %s", orDefault(st.Name, "friend"), field(r, "content", "color"))), nil
			}
			return step1, nil
		})
	add("test_input_required_result_tampered_state", "MRTR: HMAC-signed requestState integrity test",
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			p := req.Params
			if p.RequestState != "" {
				st, ok := f.verify(p.RequestState)
				if !ok {
					return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "requestState integrity check failed"}
				}
				if _, confirmed := p.InputResponses["confirm"]; confirmed && st["kind"] == "tamper-test" {
					return text("integrity-ok: state verified"), nil
				}
			}
			return inputRequired(mcp.InputRequestMap{"confirm": ask("Please confirm", confirmSchema)},
				f.sign(map[string]any{"kind": "tamper-test"})), nil
		})
	add("test_input_required_result_capabilities", "MRTR: respects client capabilities in inputRequests",
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if len(req.Params.InputResponses) > 0 {
				keys := make([]string, 0, len(req.Params.InputResponses))
				for k := range req.Params.InputResponses {
					keys = append(keys, k)
				}
				return text("capabilities-ok: received " + strings.Join(slices.Sorted(slices.Values(keys)), ",")), nil
			}
			// Ask only for what the client declared on this request.
			reqs := mcp.InputRequestMap{}
			if caps := mcpserver.ClientCaps(req); caps != nil {
				if caps.Elicitation != nil {
					reqs["elicit_input"] = ask("Elicitation input", valueSchema)
				}
				if caps.Sampling != nil {
					reqs["sample_input"] = sample("Sample request", 50)
				}
			}
			if len(reqs) == 0 {
				return text("No supported capabilities declared"), nil
			}
			return inputRequired(reqs, f.sign(map[string]any{"kind": "capabilities-test"})), nil
		})
}

// resources are the fixtures of the resources-* scenarios.
func (f *fixtures) resources(s *mcp.Server) {
	static := func(uri, name, title, desc, mime string, contents *mcp.ResourceContents) {
		s.AddResource(&mcp.Resource{URI: uri, Name: name, Title: title, Description: desc, MIMEType: mime},
			func(context.Context, *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
				return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{contents}}, nil
			})
	}
	static("test://static-text", "static-text", "Static Text Resource", "A static text resource for testing", "text/plain",
		&mcp.ResourceContents{URI: "test://static-text", MIMEType: "text/plain", Text: "This is the content of the static text resource."})
	static("test://static-binary", "static-binary", "Static Binary Resource", "A static binary resource (image) for testing", "image/png",
		&mcp.ResourceContents{URI: "test://static-binary", MIMEType: "image/png", Blob: mustB64(testImageBase64)})
	static("test://watched-resource", "watched-resource", "Watched Resource", "A resource that auto-updates every 3 seconds", "text/plain",
		&mcp.ResourceContents{URI: "test://watched-resource", MIMEType: "text/plain", Text: "Watched resource content"})
	static("test://stateless-static-text", "Stateless Static Text", "", "A static text resource served on the draft path", "text/plain",
		&mcp.ResourceContents{URI: "test://stateless-static-text", MIMEType: "text/plain", Text: "Static text content from the stateless draft path."})
	s.AddResourceTemplate(&mcp.ResourceTemplate{URITemplate: "test://template/{id}/data", Name: "template", Title: "Resource Template",
		Description: "A resource template with parameter substitution", MIMEType: "application/json"},
		func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			uri := req.Params.URI
			id := strings.TrimSuffix(strings.TrimPrefix(uri, "test://template/"), "/data")
			body, _ := json.Marshal(map[string]any{"id": id, "templateTest": true, "data": "Data for ID: " + id})
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: uri, MIMEType: "application/json", Text: string(body)}}}, nil
		})
}

// prompts are the fixtures of the prompts-* scenarios.
func (f *fixtures) prompts(s *mcp.Server) {
	msg := func(c mcp.Content) *mcp.PromptMessage { return &mcp.PromptMessage{Role: "user", Content: c} }
	s.AddPrompt(&mcp.Prompt{Name: "test_simple_prompt", Title: "Simple Test Prompt", Description: "A simple prompt without arguments"},
		func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{msg(&mcp.TextContent{Text: "This is a simple prompt for testing."})}}, nil
		})
	s.AddPrompt(&mcp.Prompt{Name: "test_prompt_with_arguments", Title: "Prompt With Arguments", Description: "A prompt with required arguments",
		Arguments: []*mcp.PromptArgument{{Name: "arg1", Description: "First test argument", Required: true}, {Name: "arg2", Description: "Second test argument", Required: true}}},
		func(_ context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			a := req.Params.Arguments
			return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{msg(&mcp.TextContent{
				Text: fmt.Sprintf("Prompt with arguments: arg1='%s', arg2='%s'", a["arg1"], a["arg2"])})}}, nil
		})
	s.AddPrompt(&mcp.Prompt{Name: "test_prompt_with_embedded_resource", Title: "Prompt With Embedded Resource", Description: "A prompt that includes an embedded resource",
		Arguments: []*mcp.PromptArgument{{Name: "resourceUri", Description: "URI of the resource to embed", Required: true}}},
		func(_ context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{
				msg(&mcp.EmbeddedResource{Resource: &mcp.ResourceContents{URI: req.Params.Arguments["resourceUri"], MIMEType: "text/plain",
					Text: "Embedded resource content for testing."}}),
				msg(&mcp.TextContent{Text: "Please process the embedded resource above."}),
			}}, nil
		})
	s.AddPrompt(&mcp.Prompt{Name: "test_prompt_with_image", Title: "Prompt With Image", Description: "A prompt that includes image content"},
		func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{
				msg(&mcp.ImageContent{Data: mustB64(testImageBase64), MIMEType: "image/png"}),
				msg(&mcp.TextContent{Text: "Please analyze the image above."}),
			}}, nil
		})
	s.AddPrompt(&mcp.Prompt{Name: "test_input_required_result_prompt", Description: "MRTR: prompt that requires elicitation input"},
		func(_ context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			if r, ok := req.Params.InputResponses["user_context"]; ok {
				return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{msg(&mcp.TextContent{Text: "Prompt with context: " + field(r, "content", "context")})}}, nil
			}
			return &mcp.GetPromptResult{InputRequests: mcp.InputRequestMap{"user_context": ask("What context should the prompt use?", contextSchema)}}, nil
		})
}

// fixturePrompt reports whether name is a fixture prompt (completions for
// them are the reference server's: none).
func fixturePrompt(name string) bool { return strings.HasPrefix(name, "test_") }

// fixtureURI reports whether uri is a fixture resource.
func fixtureURI(uri string) bool { return strings.HasPrefix(uri, "test://") }

// plainState is an unsigned requestState: JSON with a nonce.
func plainState(v map[string]any) string {
	v["nonce"] = rand.Text()
	b, _ := json.Marshal(v)
	return string(b)
}

// sign returns v as a requestState the client cannot alter unnoticed:
// {"data": JSON, "hmac": HMAC-SHA256(data)}.
func (f *fixtures) sign(v map[string]any) string {
	v["nonce"] = rand.Text()
	data, _ := json.Marshal(v)
	b, _ := json.Marshal(map[string]string{"data": string(data), "hmac": f.mac(data)})
	return string(b)
}

func (f *fixtures) verify(raw string) (map[string]any, bool) {
	var env struct{ Data, HMAC string }
	if json.Unmarshal([]byte(raw), &env) != nil || !hmac.Equal([]byte(env.HMAC), []byte(f.mac([]byte(env.Data)))) {
		return nil, false
	}
	var v map[string]any
	if json.Unmarshal([]byte(env.Data), &v) != nil {
		return nil, false
	}
	return v, true
}

func (f *fixtures) mac(data []byte) string {
	m := hmac.New(sha256.New, f.stateKey)
	m.Write(data)
	return hex.EncodeToString(m.Sum(nil))
}

// field reads a string (or a JSON scalar as text) at path in an input
// response, "unknown" if absent.
func field(r mcp.InputResponse, path ...string) string {
	b, err := json.Marshal(r)
	if err != nil {
		return "unknown"
	}
	var v any
	_ = json.Unmarshal(b, &v)
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return "unknown"
		}
		v = m[k]
	}
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return "unknown"
	default:
		out, _ := json.Marshal(x)
		return string(out)
	}
}

func countRoots(r mcp.InputResponse) int {
	if lr, ok := r.(*mcp.ListRootsResult); ok {
		return len(lr.Roots)
	}
	return 0
}

func orDefault(s, def string) string {
	if s == "" || s == "unknown" {
		return def
	}
	return s
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
