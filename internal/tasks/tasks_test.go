package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"go.uber.org/goleak"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// started returns a started Manager on st; it stops when the test ends.
func started(t *testing.T, st store.Tasks, lease time.Duration, kinds map[string]Kind) (*Manager, func()) {
	t.Helper()
	m := New(Options{Store: st, Lease: lease})
	for name, k := range kinds {
		m.Register(name, k)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.Start(ctx)
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			m.Wait()
		}
	}
	t.Cleanup(stop)
	return m, stop
}

func waitStatus(t *testing.T, m *Manager, owner, id, status string) store.Task {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := m.Get(context.Background(), owner, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status == status {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s is %s (%s), want %s", id, got.Status, got.StatusMessage, status)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestOutcomes(t *testing.T) {
	ctx := context.Background()
	kinds := map[string]Kind{
		"ok": {TTL: time.Hour, Run: func(context.Context, *Run) ([]byte, *jsonrpc.Error) {
			return []byte(`{"content":[{"type":"text","text":"hi"}]}`), nil
		}},
		"rpc": {TTL: time.Hour, Run: func(context.Context, *Run) ([]byte, *jsonrpc.Error) {
			return nil, &jsonrpc.Error{Code: -32603, Message: "boom"}
		}},
		"panic": {TTL: time.Hour, Run: func(context.Context, *Run) ([]byte, *jsonrpc.Error) { panic("bad runner") }},
	}
	m, _ := started(t, store.NewMemory(), time.Minute, kinds)
	cases := []struct{ tool, status, errMsg string }{
		{"ok", store.TaskCompleted, ""},
		{"rpc", store.TaskFailed, "boom"},
		{"panic", store.TaskFailed, "internal error; the failure was logged"},
	}
	for _, c := range cases {
		t.Run(c.tool, func(t *testing.T) {
			tk, err := m.Create(ctx, "alice", c.tool, nil, "")
			if err != nil {
				t.Fatal(err)
			}
			got := waitStatus(t, m, "alice", tk.ID, c.status)
			d := Detailed(got)
			switch c.status {
			case store.TaskCompleted:
				if string(d.Result) == "" || d.Error != nil {
					t.Fatalf("completed = %+v", d)
				}
			case store.TaskFailed:
				var e jsonrpc.Error
				if err := json.Unmarshal(d.Error, &e); err != nil || e.Message != c.errMsg || e.Code != -32603 || d.Result != nil {
					t.Fatalf("failed = %s (%v)", d.Error, err)
				}
			}
		})
	}
	if _, err := m.Create(ctx, "alice", "nope", nil, ""); !errors.Is(err, ErrUnknownTool) {
		t.Fatalf("unknown tool: %v", err)
	}
}

// TestInputRequired: a runner that asks waits in input_required until
// tasks/update answered every key; unknown keys are ignored.
func TestInputRequired(t *testing.T) {
	ctx := context.Background()
	kinds := map[string]Kind{"ask": {TTL: time.Hour, Run: func(ctx context.Context, r *Run) ([]byte, *jsonrpc.Error) {
		answers, err := r.Ask(ctx, map[string]json.RawMessage{"name": json.RawMessage(`{"method":"elicitation/create"}`)}, "who?")
		if err != nil {
			return nil, &jsonrpc.Error{Code: -32603, Message: err.Error()}
		}
		b, _ := json.Marshal(map[string]any{"content": []any{map[string]any{"type": "text", "text": string(answers["name"])}}})
		return b, nil
	}}}
	m, _ := started(t, store.NewMemory(), time.Minute, kinds)
	tk, err := m.Create(ctx, "alice", "ask", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	got := waitStatus(t, m, "alice", tk.ID, store.TaskInputRequired)
	if d := Detailed(got); string(d.InputRequests) != `{"name":{"method":"elicitation/create"}}` || got.StatusMessage != "who?" {
		t.Fatalf("input_required task = %+v", d)
	}
	if err := m.Answer(ctx, "alice", tk.ID, json.RawMessage(`{"other":1}`)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	if got, _ := m.Get(ctx, "alice", tk.ID); got.Status != store.TaskInputRequired {
		t.Fatalf("an unknown key moved the task on: %s", got.Status)
	}
	if err := m.Answer(ctx, "bob", tk.ID, json.RawMessage(`{"name":"x"}`)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another owner's answer: %v", err)
	}
	if err := m.Answer(ctx, "alice", tk.ID, json.RawMessage(`{"name":"Alice"}`)); err != nil {
		t.Fatal(err)
	}
	done := waitStatus(t, m, "alice", tk.ID, store.TaskCompleted)
	if string(done.Result) != `{"content":[{"text":"\"Alice\"","type":"text"}]}` {
		t.Fatalf("result = %s", done.Result)
	}
}

// TestLeaseTakeover: a task whose process died (its lease not given
// back) is resumed by another process once the lease runs out; a cancel
// made on one replica stops the run on another.
func TestLeaseTakeover(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory()
	var runs atomic.Int32
	block := Kind{TTL: time.Hour, Run: func(ctx context.Context, r *Run) ([]byte, *jsonrpc.Error) {
		runs.Add(1)
		<-ctx.Done()
		return nil, nil
	}}
	// A task held by a process that crashed: leased, never renewed.
	now := time.Now()
	if err := st.CreateTask(ctx, store.Task{ID: "orphan", Owner: "alice", Tool: "block", Status: store.TaskWorking,
		CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour), LeaseHolder: "dead", LeaseUntil: now.Add(300 * time.Millisecond)}, 0, now); err != nil {
		t.Fatal(err)
	}
	m1, _ := started(t, st, 300*time.Millisecond, map[string]Kind{"block": block})
	m2, _ := started(t, st, 300*time.Millisecond, map[string]Kind{"block": block})
	deadline := time.Now().Add(5 * time.Second)
	for runs.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the orphaned task was never resumed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(400 * time.Millisecond) // more than a lease: the holder renews, nobody else runs it
	if n := runs.Load(); n != 1 {
		t.Fatalf("the task ran %d times at once", n)
	}
	// Cancel through whichever manager; the holder's run stops.
	if _, err := m1.Cancel(ctx, "alice", "orphan"); err != nil {
		t.Fatal(err)
	}
	if got := waitStatus(t, m2, "alice", "orphan", store.TaskCancelled); got.StatusMessage != "cancelled by the client" {
		t.Fatalf("cancelled = %+v", got)
	}
	deadline = time.Now().Add(5 * time.Second)
	for {
		m1.mu.Lock()
		n1 := len(m1.running)
		m1.mu.Unlock()
		m2.mu.Lock()
		n2 := len(m2.running)
		m2.mu.Unlock()
		if n1+n2 == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the cancelled run did not stop")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestShutdownGivesLeaseBack: a stopped manager leaves the task working
// with its lease released, so the next one resumes it at once.
func TestShutdownGivesLeaseBack(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory()
	var runs atomic.Int32
	k := Kind{TTL: time.Hour, Run: func(ctx context.Context, r *Run) ([]byte, *jsonrpc.Error) {
		if runs.Add(1) == 1 {
			<-ctx.Done()
			return nil, nil
		}
		return []byte(`{"content":[]}`), nil
	}}
	m1, stop1 := started(t, st, time.Hour, map[string]Kind{"k": k})
	tk, err := m1.Create(ctx, "alice", "k", []byte(`{"x":1}`), "")
	if err != nil {
		t.Fatal(err)
	}
	for runs.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	stop1()
	got, err := st.GetTask(ctx, "alice", tk.ID, time.Now())
	if err != nil || got.Status != store.TaskWorking || got.LeaseUntil.After(time.Now()) {
		t.Fatalf("after shutdown: %+v, %v", got, err)
	}
	m2, _ := started(t, st, time.Hour, map[string]Kind{"k": k}) // a lease of an hour: only the release lets it resume
	waitStatus(t, m2, "alice", tk.ID, store.TaskCompleted)
}

func TestWireShape(t *testing.T) {
	created := time.Date(2026, 12, 7, 21, 0, 0, 123e6, time.UTC)
	tk := store.Task{ID: "abc", Status: store.TaskWorking, CreatedAt: created, UpdatedAt: created.Add(time.Second),
		ExpiresAt: created.Add(time.Hour), PollInterval: 2 * time.Second}
	b, err := json.Marshal(CreateTaskResult{ResultType: ResultTypeTask, Task: Wire(tk)})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"resultType":"task","taskId":"abc","status":"working","createdAt":"2026-12-07T21:00:00.123Z","lastUpdatedAt":"2026-12-07T21:00:01.123Z","ttlMs":3600000,"pollIntervalMs":2000}`
	if string(b) != want {
		t.Fatalf("CreateTaskResult:\n got %s\nwant %s", b, want)
	}
	tk.Status, tk.InputRequests, tk.InputResponses = store.TaskInputRequired, []byte(`{"a":{"method":"elicitation/create"},"b":{"method":"elicitation/create"}}`), []byte(`{"a":{"action":"accept"}}`)
	if d := Detailed(tk); string(d.InputRequests) != `{"b":{"method":"elicitation/create"}}` {
		t.Fatalf("pending input requests = %s", d.InputRequests)
	}
	tk.Status, tk.Result = store.TaskCompleted, []byte(`{"content":[]}`)
	b, _ = json.Marshal(GetTaskResult{ResultType: ResultTypeComplete, DetailedTask: Detailed(tk)})
	if want := `{"resultType":"complete","taskId":"abc","status":"completed","createdAt":"2026-12-07T21:00:00.123Z","lastUpdatedAt":"2026-12-07T21:00:01.123Z","ttlMs":3600000,"pollIntervalMs":2000,"result":{"content":[]}}`; string(b) != want {
		t.Fatalf("GetTaskResult:\n got %s\nwant %s", b, want)
	}
}

// TestServeListen: a task listen is acknowledged with the caller's own
// tasks only, notifies each state change as tasks/get shows it, and ends
// with a result once the tasks are finished; without the extension it is
// refused with -32021.
func TestServeListen(t *testing.T) {
	ctx := context.Background()
	release := make(chan struct{})
	k := Kind{TTL: time.Hour, Run: func(ctx context.Context, r *Run) ([]byte, *jsonrpc.Error) {
		r.Status(ctx, "halfway")
		select {
		case <-release:
		case <-ctx.Done():
			return nil, nil
		}
		return []byte(`{"content":[{"type":"text","text":"done"}]}`), nil
	}}
	m, _ := started(t, store.NewMemory(), time.Minute, map[string]Kind{"k": k})
	mine, err := m.Create(ctx, "alice", "k", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := m.Create(ctx, "bob", "k", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, m, "alice", mine.ID, store.TaskWorking)

	msgs := make(chan jsonrpc.Message, 16)
	id, _ := jsonrpc.MakeID(float64(9))
	params, _ := json.Marshal(map[string]any{
		"_meta":         map[string]any{"io.modelcontextprotocol/clientCapabilities": map[string]any{"extensions": map[string]any{ExtensionID: map[string]any{}}}},
		"notifications": map[string]any{"taskIds": []string{mine.ID, theirs.ID, "nope"}},
	})
	l, ok := ParseListen(params)
	if !ok || !l.Declared || len(l.TaskIDs) != 3 {
		t.Fatalf("ParseListen = %+v, %v", l, ok)
	}
	if _, ok := ParseListen(json.RawMessage(`{"notifications":{"taskIds":["a"],"toolsListChanged":true}}`)); ok {
		t.Fatal("a listen asking for more than task ids is not ours")
	}
	done := make(chan error, 1)
	go func() {
		done <- m.ServeListen(ctx, "alice", id, l, func(msg jsonrpc.Message) error { msgs <- msg; return nil })
	}()
	next := func() map[string]any {
		t.Helper()
		select {
		case msg := <-msgs:
			var v map[string]any
			switch x := msg.(type) {
			case *jsonrpc.Request:
				_ = json.Unmarshal(x.Params, &v)
				v["method"] = x.Method
			case *jsonrpc.Response:
				_ = json.Unmarshal(x.Result, &v)
				v["method"] = "(result)"
			}
			return v
		case <-time.After(5 * time.Second):
			t.Fatal("no message")
			return nil
		}
	}
	ack := next()
	if ack["method"] != "notifications/subscriptions/acknowledged" || fmt.Sprint(ack["notifications"]) != fmt.Sprintf("map[taskIds:[%s]]", mine.ID) ||
		ack["_meta"].(map[string]any)["io.modelcontextprotocol/subscriptionId"] != float64(9) {
		t.Fatalf("ack = %v", ack)
	}
	first := next()
	if first["method"] != MethodNotifyTasks || first["taskId"] != mine.ID || first["status"] != "working" {
		t.Fatalf("first notification = %v", first)
	}
	close(release)
	var last map[string]any
	for last = next(); last["status"] != "completed"; last = next() {
		if last["method"] != MethodNotifyTasks || last["status"] != "working" {
			t.Fatalf("notification = %v", last)
		}
	}
	if last["result"] == nil {
		t.Fatalf("completed notification without the result: %v", last)
	}
	if end := next(); end["method"] != "(result)" || end["resultType"] != "complete" {
		t.Fatalf("listen end = %v", end)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	_, _ = m.Cancel(ctx, "bob", theirs.ID)

	// Without the extension: refused.
	l.Declared = false
	var refusal jsonrpc.Message
	if err := m.ServeListen(ctx, "alice", id, l, func(msg jsonrpc.Message) error { refusal = msg; return nil }); err != nil {
		t.Fatal(err)
	}
	var we *jsonrpc.Error
	if r, ok := refusal.(*jsonrpc.Response); !ok || !errors.As(r.Error, &we) || we.Code != -32021 {
		t.Fatalf("undeclared listen = %#v", refusal)
	}
}
