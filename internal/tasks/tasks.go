// Package tasks runs the tasks of the MCP Tasks extension
// (io.modelcontextprotocol/tasks): a tool call answered with a task handle
// whose work goes on in the background, minutes or hours, and whose state
// lives in the store, so a task survives a restart and is visible from
// every replica sharing the database.
//
// A Manager owns the running tasks of one process. Each running task holds
// a lease in the store that its process renews; when a process stops
// (gracefully it gives its leases back, otherwise they run out) another
// one, or the same after a restart, claims the task and runs it again from
// its stored params. Runners must therefore be safe to run again: they
// watch and read, and whatever moves money happens before the task exists
// or is guarded by a record of its own.
package tasks

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

// ExtensionID is the extension's identifier in capabilities.
const ExtensionID = "io.modelcontextprotocol/tasks"

// Defaults of Options.
const (
	DefaultMaxActive = 16
	DefaultLease     = 30 * time.Second
)

// ErrUnknownTool: no Kind is registered for the tool.
var ErrUnknownTool = errors.New("tasks: no task kind for this tool")

// Runner does a task's work and returns the tool result (the JSON of a
// CallToolResult, which may be an isError result), or a JSON-RPC error for
// a failure that is not the tool's (the task then fails). It must return
// promptly once ctx ends; its result is then discarded.
type Runner func(ctx context.Context, r *Run) (result []byte, rpcErr *jsonrpc.Error)

// Kind is what the Manager knows about one tool's tasks.
type Kind struct {
	Run          Runner
	TTL          time.Duration // how long the task is kept after it was created
	PollInterval time.Duration // suggested to clients
	// Required: the tool cannot answer without a task, so a client that
	// did not declare the extension gets Missing Required Client
	// Capability (-32021) instead of a plain result.
	Required bool
}

// Options configure a Manager.
type Options struct {
	Store     store.Tasks
	Logger    *slog.Logger
	MaxActive int           // unfinished tasks per owner; default DefaultMaxActive
	Lease     time.Duration // how long a run holds a task without renewing; default DefaultLease
	Now       func() time.Time
}

// Manager creates, runs, resumes and answers for tasks.
type Manager struct {
	st        store.Tasks
	log       *slog.Logger
	maxActive int
	lease     time.Duration
	now       func() time.Time
	holder    string // this process's lease holder id

	mu      sync.Mutex
	kinds   map[string]Kind
	running map[string]context.CancelFunc
	base    context.Context // set by Start; runs end with it
	wg      sync.WaitGroup
	// changes is closed (and replaced) whenever this process changes a
	// task, waking the status listens at once; changes made by other
	// processes are seen by their polling.
	changes chan struct{}
}

// New returns a Manager; Start it before creating tasks.
func New(o Options) *Manager {
	m := &Manager{st: o.Store, log: o.Logger, maxActive: o.MaxActive, lease: o.Lease, now: o.Now,
		holder: "p-" + rand.Text(), kinds: map[string]Kind{}, running: map[string]context.CancelFunc{}, changes: make(chan struct{})}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.maxActive <= 0 {
		m.maxActive = DefaultMaxActive
	}
	if m.lease <= 0 {
		m.lease = DefaultLease
	}
	if m.now == nil {
		m.now = time.Now
	}
	return m
}

// Register sets the Kind of a tool's tasks. Register every kind before
// Start, so orphaned tasks of every tool are resumed.
func (m *Manager) Register(tool string, k Kind) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.kinds[tool] = k
}

// Lookup returns tool's task kind, if it has one.
func (m *Manager) Lookup(tool string) (Kind, bool) {
	if m == nil {
		return Kind{}, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.kinds[tool]
	return k, ok
}

// sweepEvery is how often (at most) a Manager looks for orphaned tasks: a
// task given back by a stopped process is resumed within it.
const sweepEvery = 2 * time.Second

// Start runs the background loop until ctx ends: it resumes orphaned
// tasks (at once, then every sweepEvery or half lease, whichever is
// shorter) and deletes expired ones. Call
// Wait after ctx ends.
func (m *Manager) Start(ctx context.Context) {
	m.mu.Lock()
	m.base = ctx
	m.mu.Unlock()
	m.wg.Go(func() {
		tick := time.NewTicker(min(m.lease/2, sweepEvery))
		defer tick.Stop()
		for {
			m.sweep(ctx)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
}

// Wait returns when the loop and every run have ended (after Start's ctx
// ended); runs give their leases back so the next process resumes them at
// once.
func (m *Manager) Wait() { m.wg.Wait() }

func (m *Manager) sweep(ctx context.Context) {
	now := m.now()
	if n, err := m.st.PruneTasks(ctx, now); err != nil && ctx.Err() == nil {
		m.log.Warn("prune expired tasks", "error", err)
	} else if n > 0 {
		m.log.Info("expired tasks deleted", "count", n)
	}
	orphans, err := m.st.OrphanedTasks(ctx, now, 100)
	if err != nil {
		if ctx.Err() == nil {
			m.log.Warn("list orphaned tasks", "error", err)
		}
		return
	}
	for _, t := range orphans {
		m.mu.Lock()
		_, known := m.kinds[t.Tool]
		_, runs := m.running[t.ID]
		m.mu.Unlock()
		if !known || runs {
			continue
		}
		claimed, ok, err := m.st.ClaimTask(ctx, t.ID, m.holder, now, now.Add(m.lease))
		if err != nil || !ok {
			continue
		}
		m.log.Info("task resumed", "task_id", claimed.ID, "tool", claimed.Tool)
		m.launch(claimed)
	}
}

// Create stores a new working task of tool for owner, held by this
// process, and starts running it. It returns once the task is durable, so
// a tasks/get for it resolves (on any replica). store.ErrTaskLimit when
// the owner has too many unfinished tasks.
func (m *Manager) Create(ctx context.Context, owner, tool string, params []byte, message string) (store.Task, error) {
	m.mu.Lock()
	k, ok := m.kinds[tool]
	started := m.base != nil
	m.mu.Unlock()
	if !ok {
		return store.Task{}, fmt.Errorf("%w: %s", ErrUnknownTool, tool)
	}
	if !started {
		return store.Task{}, errors.New("tasks: manager not started")
	}
	now := m.now()
	t := store.Task{ID: rand.Text(), Owner: owner, Tool: tool, Status: store.TaskWorking, StatusMessage: message, Params: params,
		PollInterval: k.PollInterval, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(k.TTL),
		LeaseHolder: m.holder, LeaseUntil: now.Add(m.lease)}
	if err := m.st.CreateTask(ctx, t, m.maxActive, now); err != nil {
		return store.Task{}, err
	}
	t.CreatedAt, t.UpdatedAt, t.ExpiresAt = time.UnixMilli(now.UnixMilli()), time.UnixMilli(now.UnixMilli()), time.UnixMilli(t.ExpiresAt.UnixMilli())
	m.launch(t)
	m.changed()
	return t, nil
}

// Get returns the owner's task (store.ErrNotFound for another owner's).
func (m *Manager) Get(ctx context.Context, owner, id string) (store.Task, error) {
	return m.st.GetTask(ctx, owner, id, m.now())
}

// Cancel cancels the owner's unfinished task: it is cancelled in the store
// at once (a run on another replica notices at its next lease renewal)
// and a run in this process is stopped. A finished task is left as it is.
func (m *Manager) Cancel(ctx context.Context, owner, id string) (store.Task, error) {
	before, err := m.st.GetTask(ctx, owner, id, m.now())
	if err != nil {
		return store.Task{}, err
	}
	t, err := m.st.CancelTask(ctx, owner, id, "cancelled by the client", m.now())
	if err != nil {
		return store.Task{}, err
	}
	m.mu.Lock()
	stop := m.running[id]
	m.mu.Unlock()
	if stop != nil {
		stop()
	}
	if !store.TaskTerminal(before.Status) {
		m.changed()
	}
	return t, nil
}

// Answer records the client's inputResponses for the owner's task; keys
// that are not outstanding are ignored.
func (m *Manager) Answer(ctx context.Context, owner, id string, responses json.RawMessage) error {
	if len(responses) == 0 || string(responses) == "null" {
		responses = json.RawMessage(`{}`)
	}
	_, err := m.st.AnswerTask(ctx, owner, id, responses, m.now())
	return err
}

// changed wakes the listens after this process changed a task.
func (m *Manager) changed() {
	m.mu.Lock()
	defer m.mu.Unlock()
	close(m.changes)
	m.changes = make(chan struct{})
}

// nextChange returns a channel closed at the next change made by this
// process.
func (m *Manager) nextChange() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.changes
}

// launch runs t in its own goroutine, renewing its lease.
func (m *Manager) launch(t store.Task) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := m.kinds[t.Tool]
	ctx, cancel := context.WithCancel(m.base)
	m.running[t.ID] = cancel
	m.wg.Go(func() {
		defer func() {
			m.mu.Lock()
			delete(m.running, t.ID)
			m.mu.Unlock()
			cancel()
		}()
		m.run(ctx, cancel, k, t)
	})
}

func (m *Manager) run(ctx context.Context, cancel context.CancelFunc, k Kind, t store.Task) {
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		m.renew(ctx, cancel, t.ID)
	}()
	defer func() { <-renewed }()
	defer cancel()

	r := &Run{m: m, task: t}
	result, rpcErr := m.safeRun(ctx, k, r)
	m.mu.Lock()
	base := m.base
	m.mu.Unlock()
	if base.Err() != nil {
		// Shutting down: give the lease back so the next process (or
		// another replica) resumes the task without waiting for it to run out.
		now := m.now()
		if _, _, err := m.st.ClaimTask(context.WithoutCancel(ctx), t.ID, m.holder, now, now); err != nil {
			m.log.Warn("release task", "task_id", t.ID, "error", err)
		}
		return
	}
	if ctx.Err() != nil {
		return // cancelled (in the store already) or taken over by another process
	}
	status, msg := store.TaskCompleted, ""
	var errJSON []byte
	if rpcErr != nil {
		status, msg, result = store.TaskFailed, rpcErr.Message, nil
		b, err := json.Marshal(rpcErr)
		if err != nil {
			b = []byte(`{"code":-32603,"message":"internal error"}`)
		}
		errJSON = b
	}
	now := m.now()
	done, err := m.st.FinishTask(context.WithoutCancel(ctx), t.ID, status, msg, result, errJSON, now)
	if err != nil {
		m.log.Error("finish task", "task_id", t.ID, "error", err)
		return
	}
	if done {
		m.log.Info("task finished", "task_id", t.ID, "tool", t.Tool, "status", status)
		t.Status, t.StatusMessage, t.Result, t.Error, t.UpdatedAt, t.InputRequests = status, msg, result, errJSON, time.UnixMilli(now.UnixMilli()), nil
		m.changed()
	}
}

// safeRun runs the runner, turning a panic into a failed task.
func (m *Manager) safeRun(ctx context.Context, k Kind, r *Run) (result []byte, rpcErr *jsonrpc.Error) {
	defer func() {
		if p := recover(); p != nil {
			m.log.Error("task runner panicked", "task_id", r.task.ID, "tool", r.task.Tool, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			result, rpcErr = nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "internal error; the failure was logged"}
		}
	}()
	return k.Run(ctx, r)
}

// renew keeps the lease while ctx lives; it stops the run when the task
// was cancelled, finished or taken over elsewhere.
func (m *Manager) renew(ctx context.Context, cancel context.CancelFunc, id string) {
	tick := time.NewTicker(m.lease / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := m.now()
		_, ok, err := m.st.ClaimTask(ctx, id, m.holder, now, now.Add(m.lease))
		if err != nil {
			if ctx.Err() == nil {
				m.log.Warn("renew task lease", "task_id", id, "error", err)
			}
			continue
		}
		if !ok {
			cancel()
			return
		}
	}
}

// Run is one run of a task, handed to its Runner.
type Run struct {
	m    *Manager
	task store.Task
}

// Task returns the task as it was when the run started.
func (r *Run) Task() store.Task { return r.task }

// Status sets the task's status message (it stays working).
func (r *Run) Status(ctx context.Context, message string) {
	t, err := r.m.st.UpdateTask(ctx, r.task.ID, r.m.holder, store.TaskUpdate{Status: store.TaskWorking, StatusMessage: message}, r.m.now())
	if err != nil {
		if ctx.Err() == nil {
			r.m.log.Warn("task status", "task_id", r.task.ID, "error", err)
		}
		return
	}
	if t.Status == store.TaskWorking {
		r.m.changed()
	}
}

// Checkpoint stores new params, so a resumed run starts from them.
func (r *Run) Checkpoint(ctx context.Context, params []byte) error {
	_, err := r.m.st.UpdateTask(ctx, r.task.ID, r.m.holder, store.TaskUpdate{Status: store.TaskWorking,
		StatusMessage: r.task.StatusMessage, Params: params}, r.m.now())
	if err == nil {
		r.task.Params = params
	}
	return err
}

// Ask moves the task to input_required with requests (a JSON object of
// input requests keyed by ids unique over the task's life) and waits
// until tasks/update answered every one; it returns the answers. A run
// resumed after a restart finds answers given meanwhile.
func (r *Run) Ask(ctx context.Context, requests map[string]json.RawMessage, message string) (map[string]json.RawMessage, error) {
	reqJSON, err := json.Marshal(requests)
	if err != nil {
		return nil, fmt.Errorf("encode input requests: %w", err)
	}
	t, err := r.m.st.UpdateTask(ctx, r.task.ID, r.m.holder, store.TaskUpdate{Status: store.TaskInputRequired, StatusMessage: message, InputRequests: reqJSON}, r.m.now())
	if err != nil {
		return nil, err
	}
	if t.Status != store.TaskInputRequired {
		return nil, fmt.Errorf("task %s is %s", t.ID, t.Status)
	}
	r.m.changed()
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	for {
		t, err := r.m.st.GetTask(ctx, t.Owner, t.ID, r.m.now())
		if err != nil {
			return nil, err
		}
		if store.TaskTerminal(t.Status) {
			return nil, fmt.Errorf("task %s is %s", t.ID, t.Status)
		}
		var answers map[string]json.RawMessage
		if len(t.InputResponses) > 0 {
			if err := json.Unmarshal(t.InputResponses, &answers); err != nil {
				return nil, fmt.Errorf("stored input responses: %w", err)
			}
		}
		got := map[string]json.RawMessage{}
		for k := range requests {
			if a, ok := answers[k]; ok {
				got[k] = a
			}
		}
		if len(got) == len(requests) {
			t, err := r.m.st.UpdateTask(ctx, t.ID, r.m.holder, store.TaskUpdate{Status: store.TaskWorking, InputRequests: []byte{}}, r.m.now())
			if err == nil && t.Status == store.TaskWorking {
				r.m.changed()
			}
			return got, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-poll.C:
		}
	}
}
