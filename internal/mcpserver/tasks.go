package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/access"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/payments"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/shop"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/tasks"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/toolerr"
)

// How long tasks are kept, and the polling interval suggested to clients.
const (
	waitTaskTTL      = 48 * time.Hour
	waitTaskPoll     = 5 * time.Second
	deliveryTaskTTL  = 24 * time.Hour
	deliveryTaskPoll = 2 * time.Second
)

// CodeTaskLimit: the caller has too many unfinished tasks.
const CodeTaskLimit = "TASK_LIMIT_REACHED"

// codeMissingCapability is SEP-2575's Missing Required Client Capability.
const codeMissingCapability = -32021

// taskSlot travels in the context of a tools/call whose client declared
// the extension: a handler that starts a task puts it here, and the tasks
// middleware answers with a CreateTaskResult instead of the tool result.
type taskSlot struct {
	m     *tasks.Manager
	log   *slog.Logger
	owner string
	tool  string
	task  *store.Task
}

type taskSlotKey struct{}

func slotFrom(ctx context.Context) *taskSlot {
	s, _ := ctx.Value(taskSlotKey{}).(*taskSlot)
	return s
}

// StartTask is for the handler of a tool with a task kind (registered on
// Deps.Tasks before New) that is not one of the server's own: when the
// call's client declared the extension it creates the task, with params
// for the kind's Runner, and reports true; the handler then returns any
// result (the client gets the CreateTaskResult). false: the client did not
// declare the extension, and the handler answers synchronously.
func StartTask(ctx context.Context, params any, message string) (bool, error) {
	slot := slotFrom(ctx)
	if slot == nil {
		return false, nil
	}
	if err := slot.start(ctx, params, message); !errors.Is(err, errTaskStarted) {
		return false, err
	}
	return true, nil
}

// errTaskStarted ends a handler whose work goes on as a task.
var errTaskStarted = errors.New("task started")

// start creates the task of the slot's call and returns errTaskStarted.
// A caller over its cap gets TASK_LIMIT_REACHED.
func (s *taskSlot) start(ctx context.Context, params any, message string) error {
	b, err := json.Marshal(params)
	if err != nil {
		return fmt.Errorf("encode task params: %w", err)
	}
	t, err := s.m.Create(ctx, s.owner, s.tool, b, message)
	if errors.Is(err, store.ErrTaskLimit) {
		return toolerr.New(CodeTaskLimit, "you have too many unfinished tasks; wait for one to finish or cancel one with tasks/cancel", nil)
	}
	if err != nil {
		return err
	}
	s.task = &t
	return errTaskStarted
}

// TaskOwner is who owns a caller's tasks: the caller kind, and for OAuth
// the subject, client and tenant.
func TaskOwner(c access.Caller) string { return c.Kind + "|" + c.Namespace() }

// declaresTasks reports whether the request's client declared the tasks
// extension, in the request's own _meta (2026-07-28) or, failing that, at
// initialize (2025-11-25 sessions).
func declaresTasks(meta map[string]any, ss *mcp.ServerSession) bool {
	if v, ok := meta[mcp.MetaKeyClientCapabilities]; ok {
		var caps struct {
			Extensions map[string]json.RawMessage `json:"extensions"`
		}
		b, err := json.Marshal(v)
		if err == nil && json.Unmarshal(b, &caps) == nil {
			_, ok := caps.Extensions[tasks.ExtensionID]
			return ok
		}
		return false
	}
	if ss == nil {
		return false
	}
	ip := ss.InitializeParams()
	if ip == nil || ip.Capabilities == nil {
		return false
	}
	_, ok := ip.Capabilities.Extensions[tasks.ExtensionID]
	return ok
}

func sessionOf(req mcp.Request) *mcp.ServerSession {
	ss, _ := req.GetSession().(*mcp.ServerSession)
	return ss
}

// tasksMiddleware gives a tools/call of a task tool, from a client that
// declared the extension, a slot to start its task in, and answers with
// the CreateTaskResult when it did; the tasks/* methods get the caller in
// their context.
func tasksMiddleware(e *env, m *tasks.Manager) mcp.Middleware {
	return func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			switch method {
			case "tools/call":
				p, ok := req.GetParams().(*mcp.CallToolParamsRaw)
				if !ok {
					break
				}
				k, task := m.Lookup(p.Name)
				if !task {
					break
				}
				if !declaresTasks(p.Meta, sessionOf(req)) {
					if k.Required {
						return nil, missingCapability()
					}
					break
				}
				slot := &taskSlot{m: m, log: e.log, owner: TaskOwner(e.caller(req)), tool: p.Name}
				res, err := next(context.WithValue(ctx, taskSlotKey{}, slot), method, req)
				if err != nil || slot.task == nil {
					return res, err
				}
				return &tasks.CreateTaskResult{ResultType: tasks.ResultTypeTask, Task: tasks.Wire(*slot.task)}, nil
			case methodTasksGet, methodTasksUpdate, methodTasksCancel:
				ctx = access.WithCaller(ctx, e.caller(req))
			}
			return next(ctx, method, req)
		}
	}
}

// The extension's methods.
const (
	methodTasksGet    = "tasks/get"
	methodTasksUpdate = "tasks/update"
	methodTasksCancel = "tasks/cancel"
)

// taskParams are the params of tasks/get, tasks/update and tasks/cancel.
type taskParams struct {
	mcp.ParamsBase
	TaskID         string          `json:"taskId"`
	InputResponses json.RawMessage `json:"inputResponses,omitempty"`
}

func missingCapability() error {
	return &jsonrpc.Error{Code: codeMissingCapability, Message: "Missing required client capability: " + tasks.ExtensionID,
		Data: json.RawMessage(`{"requiredCapabilities":{"extensions":{"` + tasks.ExtensionID + `":{}}}}`)}
}

// taskLookupError maps the store's answer to the extension's errors: an
// unknown (or another caller's, or expired) task is -32602.
func taskLookupError(id string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: fmt.Sprintf("unknown task %.80q", id)}
	}
	return fmt.Errorf("task %.80q: %w", id, err)
}

// addTaskMethods registers tasks/get, tasks/update and tasks/cancel.
func addTaskMethods(s *mcp.Server, m *tasks.Manager) error {
	checked := func(ctx context.Context, ss *mcp.ServerSession, p *taskParams) (string, error) {
		if !declaresTasks(p.Meta, ss) {
			return "", missingCapability()
		}
		if p.TaskID == "" {
			return "", &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "taskId is required"}
		}
		return TaskOwner(access.CallerFrom(ctx)), nil // set by tasksMiddleware
	}
	if err := mcp.AddReceivingCustomMethod(s, methodTasksGet, func(ctx context.Context, ss *mcp.ServerSession, p *taskParams) (*tasks.GetTaskResult, error) {
		owner, err := checked(ctx, ss, p)
		if err != nil {
			return nil, err
		}
		t, err := m.Get(ctx, owner, p.TaskID)
		if err != nil {
			return nil, taskLookupError(p.TaskID, err)
		}
		return &tasks.GetTaskResult{ResultType: tasks.ResultTypeComplete, DetailedTask: tasks.Detailed(t)}, nil
	}); err != nil {
		return err
	}
	if err := mcp.AddReceivingCustomMethod(s, methodTasksUpdate, func(ctx context.Context, ss *mcp.ServerSession, p *taskParams) (*tasks.AckResult, error) {
		owner, err := checked(ctx, ss, p)
		if err != nil {
			return nil, err
		}
		var responses map[string]json.RawMessage
		if len(p.InputResponses) > 0 && json.Unmarshal(p.InputResponses, &responses) != nil {
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "inputResponses must be an object keyed by input request id"}
		}
		if err := m.Answer(ctx, owner, p.TaskID, p.InputResponses); err != nil {
			return nil, taskLookupError(p.TaskID, err)
		}
		return &tasks.AckResult{ResultType: tasks.ResultTypeComplete}, nil
	}); err != nil {
		return err
	}
	return mcp.AddReceivingCustomMethod(s, methodTasksCancel, func(ctx context.Context, ss *mcp.ServerSession, p *taskParams) (*tasks.AckResult, error) {
		owner, err := checked(ctx, ss, p)
		if err != nil {
			return nil, err
		}
		if _, err := m.Cancel(ctx, owner, p.TaskID); err != nil {
			return nil, taskLookupError(p.TaskID, err)
		}
		return &tasks.AckResult{ResultType: tasks.ResultTypeComplete}, nil
	})
}

// registerTaskKinds tells m how to run (and resume) each task tool.
func registerTaskKinds(m *tasks.Manager, d Deps, e *env) {
	m.Register("wait_for_payment", tasks.Kind{TTL: waitTaskTTL, PollInterval: waitTaskPoll, Run: waitRunner(d.Payments, e)})
	if d.Shop != nil {
		m.Register("pay_invoice", tasks.Kind{TTL: deliveryTaskTTL, PollInterval: deliveryTaskPoll,
			Run: deliveryRunner(d.Shop, e, func(p deliveryParams) (any, error) {
				var r shop.PayResult
				if err := json.Unmarshal(p.Result, &r); err != nil {
					return nil, err
				}
				return &r, nil
			})})
		m.Register("create_invoice", tasks.Kind{TTL: deliveryTaskTTL, PollInterval: deliveryTaskPoll,
			Run: deliveryRunner(d.Shop, e, func(p deliveryParams) (any, error) {
				var r shop.CreateResult
				if err := json.Unmarshal(p.Result, &r); err != nil {
					return nil, err
				}
				return &r, nil
			})})
	}
}

// toolResultJSON encodes a task's final tool result as the plain call
// would have returned it.
func toolResultJSON[Out any](e *env, out Output[Out], err error) ([]byte, *jsonrpc.Error) {
	var res *mcp.CallToolResult
	if err != nil {
		res = errorResult(e, toolerr.From(err))
	} else if res, err = successResult(out, nil); err != nil {
		e.log.Error("encode task result", "error", err)
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "could not encode the result"}
	}
	b, err := json.Marshal(res)
	if err != nil {
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "could not encode the result"}
	}
	return b, nil
}

// waitParams is what a wait_for_payment task needs to resume.
type waitParams struct {
	Identifier string   `json:"identifier"`
	Targets    []string `json:"target_statuses"`
}

// waitRunner waits, in rounds of payments.MaxWait, until the payment
// reaches a target or a final status; the task's TTL bounds the whole. It
// only reads, so a resumed run simply waits again.
func waitRunner(svc *payments.Service, e *env) tasks.Runner {
	return func(ctx context.Context, r *tasks.Run) ([]byte, *jsonrpc.Error) {
		var p waitParams
		if err := json.Unmarshal(r.Task().Params, &p); err != nil {
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "unreadable task params"}
		}
		var last string
		progress := func(pr payments.Progress) {
			if pr.Status != "" && pr.Status != last { // one status message per status change
				last = pr.Status
				r.Status(ctx, pr.Message)
			}
		}
		var waited float64
		checks := 0
		for {
			// Streaming: a task's client hears from it (tasks/get, status
			// notifications), so each round may last MaxWait.
			res, err := svc.Wait(ctx, payments.WaitInput{Identifier: p.Identifier, Timeout: payments.MaxWait, Targets: p.Targets, Streaming: true}, progress)
			if ctx.Err() != nil {
				return nil, nil
			}
			if err != nil {
				return toolResultJSON(e, Output[payments.WaitResult]{}, err)
			}
			waited += res.WaitedSeconds
			checks += res.Checks
			if !res.TimedOut {
				res.WaitedSeconds, res.Checks = waited, checks
				return toolResultJSON(e, Output[payments.WaitResult]{Value: *res}, nil)
			}
		}
	}
}

// deliveryParams is what a purchase task needs to resume: the invoice that
// was paid before the task was created, and the tool's result then.
type deliveryParams struct {
	InvoiceID string          `json:"invoice_id"`
	Result    json.RawMessage `json:"result"`
}

// deliveryRunner follows a paid invoice until Bitrefill has delivered it
// and completes with the tool's result carrying the delivered invoice. The
// payment happened before the task existed (exactly once, under the
// shop's spend record): this runner never pays, so resuming or cancelling
// it cannot pay twice.
func deliveryRunner(svc *shop.Service, e *env, decode func(deliveryParams) (any, error)) tasks.Runner {
	return func(ctx context.Context, r *tasks.Run) ([]byte, *jsonrpc.Error) {
		var p deliveryParams
		if err := json.Unmarshal(r.Task().Params, &p); err != nil {
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "unreadable task params"}
		}
		v, err := decode(p)
		if err != nil {
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "unreadable task params"}
		}
		last := ""
		inv, err := svc.WaitDelivery(ctx, p.InvoiceID, func(msg string) {
			if msg != last {
				last = msg
				r.Status(ctx, msg)
			}
		})
		if ctx.Err() != nil {
			return nil, nil
		}
		if err != nil {
			return toolResultJSON(e, Output[any]{}, err)
		}
		const done = "Paid and delivered. The orders are listed in invoice.orders; when the user wants the gift-card codes, call unseal_order with an order id."
		switch v := v.(type) {
		case *shop.PayResult:
			v.Invoice, v.Instructions = inv, done
			return toolResultJSON(e, Output[shop.PayResult]{Value: *v}, nil)
		case *shop.CreateResult:
			if v.Payment != nil {
				v.Payment.Invoice, v.Payment.Instructions = inv, done
			}
			v.Instructions = done
			return toolResultJSON(e, Output[shop.CreateResult]{Value: *v}, nil)
		}
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "unknown purchase result"}
	}
}

// startDeliveryTask turns a purchase call that paid into a task that
// completes on delivery. Without a slot (a client without the extension),
// or when the task cannot be created, the paid result is returned as it
// is: the payment is never lost or repeated.
func startDeliveryTask[Out any](ctx context.Context, invoiceID string, out *Out) (Output[Out], error) {
	slot := slotFrom(ctx)
	if slot == nil {
		return Output[Out]{Value: *out}, nil
	}
	b, err := json.Marshal(out)
	if err == nil {
		err = slot.start(ctx, deliveryParams{InvoiceID: invoiceID, Result: b}, "invoice "+invoiceID+" is paid; waiting for Bitrefill to deliver")
	}
	if errors.Is(err, errTaskStarted) {
		return Output[Out]{}, err
	}
	slot.log.Warn("purchase paid, but no task for its delivery; answering at once", "invoice_id", invoiceID, "error", err)
	return Output[Out]{Value: *out}, nil
}
