package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/mcpserver"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/tasks"
)

// The fixtures of the Tasks extension's scenarios (tasks-*): greet (sync
// only), slow_compute, failing_job, protocol_error_job, confirm_delete,
// multi_input and test_tool_with_task, run by the product's task machinery
// (internal/tasks, the server's tasks/* methods), as the suite's reference
// server runs them.

const fixtureTaskTTL = time.Hour

// taskKinds registers the fixtures' task kinds on m (before the server is
// built and m started).
func taskKinds(m *tasks.Manager) {
	kind := func(required bool, run tasks.Runner) tasks.Kind {
		return tasks.Kind{TTL: fixtureTaskTTL, PollInterval: 200 * time.Millisecond, Required: required, Run: run}
	}
	m.Register("slow_compute", kind(false, func(ctx context.Context, r *tasks.Run) ([]byte, *jsonrpc.Error) {
		var a slowArgs
		_ = json.Unmarshal(r.Task().Params, &a)
		sleep(ctx, time.Duration(a.Seconds*float64(time.Second)))
		return resultJSON(slowResult(a))
	}))
	m.Register("failing_job", kind(true, func(ctx context.Context, r *tasks.Run) ([]byte, *jsonrpc.Error) {
		sleep(ctx, time.Second)
		return resultJSON(failingResult())
	}))
	m.Register("protocol_error_job", kind(false, func(context.Context, *tasks.Run) ([]byte, *jsonrpc.Error) {
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "protocol_error_job: internal failure"}
	}))
	m.Register("confirm_delete", kind(false, func(ctx context.Context, r *tasks.Run) ([]byte, *jsonrpc.Error) {
		var a struct {
			Filename string `json:"filename"`
		}
		_ = json.Unmarshal(r.Task().Params, &a)
		answers, err := askTask(ctx, r, mcp.InputRequestMap{"confirm_delete": ask("Delete "+a.Filename+"?", deleteSchema)})
		if err != nil {
			return nil, err
		}
		if field(answers["confirm_delete"], "action") == "accept" && field(answers["confirm_delete"], "content", "confirm") != "false" {
			return resultJSON(text("Deleted " + a.Filename))
		}
		return resultJSON(text("Kept " + a.Filename))
	}))
	m.Register("multi_input", kind(false, func(ctx context.Context, r *tasks.Run) ([]byte, *jsonrpc.Error) {
		answers, err := askTask(ctx, r, mcp.InputRequestMap{
			"input_1": ask("First input", nameConfirmSchema),
			"input_2": ask("Second input", nameConfirmSchema),
		})
		if err != nil {
			return nil, err
		}
		return resultJSON(text(fmt.Sprintf("Got %s and %s", field(answers["input_1"], "content", "name"), field(answers["input_2"], "content", "name"))))
	}))
	m.Register("test_tool_with_task", kind(true, func(ctx context.Context, r *tasks.Run) ([]byte, *jsonrpc.Error) {
		var a struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(r.Task().Params, &a)
		sleep(ctx, 100*time.Millisecond)
		return resultJSON(text("Hello, " + a.Name + "! (from a task)"))
	}))
}

var (
	deleteSchema      = json.RawMessage(`{"type":"object","properties":{"confirm":{"type":"boolean"}},"required":["confirm"]}`)
	nameConfirmSchema = json.RawMessage(`{"type":"object","properties":{"name":{"type":"string"},"confirm":{"type":"boolean"}}}`)
)

type slowArgs struct {
	Seconds float64 `json:"seconds"`
	Label   string  `json:"label"`
}

func slowResult(a slowArgs) *mcp.CallToolResult {
	return text(fmt.Sprintf("Computed %s after %gs", a.Label, a.Seconds))
}

func failingResult() *mcp.CallToolResult {
	r := text("failing_job: the job failed")
	r.IsError = true
	return r
}

func resultJSON(r *mcp.CallToolResult) ([]byte, *jsonrpc.Error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "encode result: " + err.Error()}
	}
	return b, nil
}

// askTask parks the task in input_required with reqs and returns the
// answers, decoded as the MRTR responses they are.
func askTask(ctx context.Context, r *tasks.Run, reqs mcp.InputRequestMap) (map[string]mcp.InputResponse, *jsonrpc.Error) {
	b, err := json.Marshal(reqs)
	if err != nil {
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "encode input requests: " + err.Error()}
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "encode input requests: " + err.Error()}
	}
	answers, err := r.Ask(ctx, raw, "waiting for the client's input")
	if err != nil {
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: err.Error()}
	}
	out := map[string]mcp.InputResponse{}
	for k, a := range answers {
		var res mcp.ElicitResult
		if json.Unmarshal(a, &res) == nil {
			out[k] = &res
		}
	}
	return out, nil
}

// taskTools adds the tools whose work is a task (with the extension) or
// done at once (without it, where the tool allows).
func (f *fixtures) taskTools(s *mcp.Server) {
	add := func(name, desc string, schema any, h mcp.ToolHandler) {
		if schema == nil {
			schema = noArgs
		}
		s.AddTool(&mcp.Tool{Name: name, Description: desc, InputSchema: schema}, h)
	}
	args := func(req *mcp.CallToolRequest, v any) {
		if len(req.Params.Arguments) > 0 {
			_ = json.Unmarshal(req.Params.Arguments, v)
		}
	}
	// started answers a call whose task was created; the client receives
	// the CreateTaskResult instead.
	started := &mcp.CallToolResult{Content: []mcp.Content{}}

	add("greet", "Sync only: returns Hello, {name}!",
		json.RawMessage(`{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}`),
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			var a struct {
				Name string `json:"name"`
			}
			args(req, &a)
			return text("Hello, " + a.Name + "!"), nil
		})
	add("slow_compute", "Task-supporting: sleeps seconds, then returns a result",
		json.RawMessage(`{"type":"object","properties":{"seconds":{"type":"number","minimum":0},"label":{"type":"string"}}}`),
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			var a slowArgs
			args(req, &a)
			if ok, err := mcpserver.StartTask(ctx, a, "computing "+a.Label); ok || err != nil {
				return started, err
			}
			sleep(ctx, time.Duration(a.Seconds*float64(time.Second)))
			return slowResult(a), nil
		})
	add("failing_job", "Task required: fails with a tool error after about a second", nil,
		func(ctx context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			ok, err := mcpserver.StartTask(ctx, struct{}{}, "running")
			if ok || err != nil {
				return started, err
			}
			return failingResult(), nil // not reached: the tasks middleware answers -32021 first
		})
	add("protocol_error_job", "Task-supporting: fails with a JSON-RPC error", nil,
		func(ctx context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if ok, err := mcpserver.StartTask(ctx, struct{}{}, "running"); ok || err != nil {
				return started, err
			}
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "protocol_error_job: internal failure"}
		})
	add("confirm_delete", "Task-supporting: asks (elicitation) before deleting filename",
		json.RawMessage(`{"type":"object","properties":{"filename":{"type":"string"}},"required":["filename"]}`),
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			var a struct {
				Filename string `json:"filename"`
			}
			args(req, &a)
			if ok, err := mcpserver.StartTask(ctx, a, "asking"); ok || err != nil {
				return started, err
			}
			if r, ok := req.Params.InputResponses["confirm_delete"]; ok {
				return text("Deleted " + a.Filename + " (" + field(r, "action") + ")"), nil
			}
			return inputRequired(mcp.InputRequestMap{"confirm_delete": ask("Delete "+a.Filename+"?", deleteSchema)}, ""), nil
		})
	add("multi_input", "Task-supporting: asks two questions at once", nil,
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if ok, err := mcpserver.StartTask(ctx, struct{}{}, "asking"); ok || err != nil {
				return started, err
			}
			in := req.Params.InputResponses
			if a, ok := in["input_1"]; ok {
				if b, ok := in["input_2"]; ok {
					return text(fmt.Sprintf("Got %s and %s", field(a, "content", "name"), field(b, "content", "name"))), nil
				}
			}
			return inputRequired(mcp.InputRequestMap{"input_1": ask("First input", nameConfirmSchema), "input_2": ask("Second input", nameConfirmSchema)}, ""), nil
		})
	add("test_tool_with_task", "Task required: asks for user_name (multi round-trip), then greets from a task", nil,
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			r, ok := req.Params.InputResponses["user_name"]
			if !ok {
				return inputRequired(mcp.InputRequestMap{"user_name": ask("What is your name?", nameSchema)}, ""), nil
			}
			if ok, err := mcpserver.StartTask(ctx, map[string]string{"name": field(r, "content", "name")}, "greeting"); ok || err != nil {
				return started, err
			}
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "test_tool_with_task runs only as a task"}
		})
}
