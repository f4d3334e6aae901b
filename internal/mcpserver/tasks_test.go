package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/access"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitnovo"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitrefill"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/fakebitnovo"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/fakebitrefill"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/payments"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/shop"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/tasks"
)

// rawClient speaks 2026-07-28 JSON-RPC to a server over an in-memory
// transport, so results the go-sdk client has no type for (CreateTaskResult,
// tasks/get) are seen as they are on the wire.
type rawClient struct {
	t    *testing.T
	conn mcp.Connection
	n    int64
	caps map[string]any // client capabilities besides the extension
}

func rawConnect(t *testing.T, s *mcp.Server) *rawClient {
	t.Helper()
	ct, st := mcp.NewInMemoryTransports()
	ss, err := s.Connect(t.Context(), st, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ss.Close() })
	conn, err := ct.Connect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &rawClient{t: t, conn: conn}
}

// call sends method with params; withTasks declares the extension in the
// request's client capabilities.
func (c *rawClient) call(method string, params map[string]any, withTasks bool) (map[string]any, *jsonrpc.Error) {
	c.t.Helper()
	caps := map[string]any{}
	for k, v := range c.caps {
		caps[k] = v
	}
	if withTasks {
		caps["extensions"] = map[string]any{tasks.ExtensionID: map[string]any{}}
	}
	if params == nil {
		params = map[string]any{}
	}
	params["_meta"] = map[string]any{
		mcp.MetaKeyProtocolVersion:           "2026-07-28",
		mcp.MetaKeyClientCapabilities:        caps,
		"io.modelcontextprotocol/clientInfo": map[string]any{"name": "raw", "version": "0"},
	}
	b, err := json.Marshal(params)
	if err != nil {
		c.t.Fatal(err)
	}
	c.n++
	id, _ := jsonrpc.MakeID(float64(c.n))
	ctx, cancel := context.WithTimeout(c.t.Context(), 20*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, &jsonrpc.Request{ID: id, Method: method, Params: b}); err != nil {
		c.t.Fatal(err)
	}
	for {
		msg, err := c.conn.Read(ctx)
		if err != nil {
			c.t.Fatalf("%s: %v", method, err)
		}
		resp, ok := msg.(*jsonrpc.Response)
		if !ok || resp.ID != id {
			continue // a notification
		}
		if resp.Error != nil {
			var we *jsonrpc.Error
			if !errors.As(resp.Error, &we) {
				c.t.Fatalf("%s: %v", method, resp.Error)
			}
			return nil, we
		}
		var m map[string]any
		if err := json.Unmarshal(resp.Result, &m); err != nil {
			c.t.Fatal(err)
		}
		return m, nil
	}
}

func (c *rawClient) ok(method string, params map[string]any) map[string]any {
	c.t.Helper()
	m, err := c.call(method, params, true)
	if err != nil {
		c.t.Fatalf("%s: %v", method, err)
	}
	return m
}

// until polls tasks/get until the task has status (or the test times out).
func (c *rawClient) until(id, status string) map[string]any {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		m := c.ok("tasks/get", map[string]any{"taskId": id})
		if m["status"] == status {
			return m
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("task %s is %v, want %s: %v", id, m["status"], status, m)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type taskEnv struct {
	fake  *fakebitnovo.Server
	svc   *payments.Service
	st    store.Store
	shopF *fakebitrefill.Fake
	deps  Deps
}

func newTaskEnv(t *testing.T, st store.Store) *taskEnv {
	t.Helper()
	const device = "5a4d0b0e-0000-4000-8000-000000000002"
	fake := fakebitnovo.New(fakebitnovo.Options{DeviceID: device})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	api, err := bitnovo.New(srv.URL, device, bitnovo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(api.CloseIdleConnections)
	svc := payments.New(api, st, payments.Options{})

	bf, err := fakebitrefill.New(fakebitrefill.Config{})
	if err != nil {
		t.Fatal(err)
	}
	bsrv := httptest.NewServer(bf)
	t.Cleanup(bsrv.Close)
	id, secret := bf.Credentials()
	pub, v2 := fakebitrefill.BaseURLs(bsrv.URL)
	bc, err := bitrefill.New(bitrefill.Options{PublicBaseURL: pub, V2BaseURL: v2, APIID: id, APISecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	sh := shop.New(bc, st, shop.Options{PurchasesEnabled: true, MaxOrderCents: 50000, DailyLimitCents: 100000, DeliveryPoll: 20 * time.Millisecond})
	return &taskEnv{fake: fake, svc: svc, st: st, shopF: bf,
		deps: Deps{Version: "test", Payments: svc, Shop: sh}}
}

// serve builds a server with its own task manager on the env's store,
// running until the returned stop is called (or the test ends).
func (te *taskEnv) serve(t *testing.T, anon access.Caller) (*rawClient, func()) {
	t.Helper()
	m := tasks.New(tasks.Options{Store: te.st, Lease: 2 * time.Second})
	d := te.deps
	d.Tasks, d.Anonymous = m, anon
	s, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
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
	return rawConnect(t, s), stop
}

func (te *taskEnv) newPayment(t *testing.T, c *rawClient) string {
	t.Helper()
	m := c.ok("tools/call", map[string]any{"name": "create_payment_link", "arguments": map[string]any{"amount_eur": 12.5, "include_qr": false}})
	sc, _ := m["structuredContent"].(map[string]any)
	id, _ := sc["identifier"].(string)
	if id == "" {
		t.Fatalf("create_payment_link: %v", m)
	}
	return id
}

// complete walks payment id to CO as a paying customer would.
func (te *taskEnv) complete(t *testing.T, id string) {
	t.Helper()
	for _, s := range []string{"PE", "AC", "CO"} {
		if err := te.fake.SetStatus(id, s); err != nil {
			t.Fatal(err)
		}
	}
	te.svc.PaymentUpdated(id)
}

func rpcErrCode(err *jsonrpc.Error) int64 {
	if err == nil {
		return 0
	}
	return err.Code
}

func TestWaitForPaymentTask(t *testing.T) {
	te := newTaskEnv(t, store.NewMemory())
	c, _ := te.serve(t, access.Caller{})
	id := te.newPayment(t, c)

	// Without the extension: the plain call, as before.
	plain, rerr := c.call("tools/call", map[string]any{"name": "wait_for_payment", "arguments": map[string]any{"identifier": id, "timeout_seconds": 1}}, false)
	if rerr != nil || plain["resultType"] != "complete" || plain["taskId"] != nil || plain["content"] == nil {
		t.Fatalf("plain wait_for_payment = %v, %v", plain, rerr)
	}

	// With it: a task handle, durable before the answer.
	created := c.ok("tools/call", map[string]any{"name": "wait_for_payment", "arguments": map[string]any{"identifier": id}})
	taskID, _ := created["taskId"].(string)
	if created["resultType"] != "task" || taskID == "" || created["status"] != "working" || created["task"] != nil ||
		created["result"] != nil || created["ttlMs"] != float64(waitTaskTTL.Milliseconds()) || created["pollIntervalMs"] != float64(5000) {
		t.Fatalf("CreateTaskResult = %v", created)
	}
	for _, k := range []string{"createdAt", "lastUpdatedAt"} {
		if _, err := time.Parse(time.RFC3339, created[k].(string)); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
	}
	got := c.ok("tasks/get", map[string]any{"taskId": taskID})
	if got["resultType"] != "complete" || got["taskId"] != taskID || got["status"] != "working" || got["result"] != nil {
		t.Fatalf("tasks/get of a working task = %v", got)
	}

	// The payment completes: the task completes with the tool's result.
	te.complete(t, id)
	te.svc.PaymentUpdated(id)
	done := c.until(taskID, "completed")
	res, _ := done["result"].(map[string]any)
	sc, _ := res["structuredContent"].(map[string]any)
	if sc["reached"] != true || sc["status"] != "CO" || res["isError"] == true {
		t.Fatalf("completed task result = %v", done)
	}
	// Cancelling a finished task is an ack that changes nothing.
	if ack := c.ok("tasks/cancel", map[string]any{"taskId": taskID}); ack["resultType"] != "complete" || ack["taskId"] != nil || ack["status"] != nil {
		t.Fatalf("cancel ack = %v", ack)
	}
	if c.ok("tasks/get", map[string]any{"taskId": taskID})["status"] != "completed" {
		t.Fatal("a completed task was cancelled")
	}
}

func TestTaskMethodsErrorsAndCancel(t *testing.T) {
	te := newTaskEnv(t, store.NewMemory())
	c, _ := te.serve(t, access.Caller{})
	id := te.newPayment(t, c)
	created := c.ok("tools/call", map[string]any{"name": "wait_for_payment", "arguments": map[string]any{"identifier": id}})
	taskID := created["taskId"].(string)

	for _, method := range []string{"tasks/get", "tasks/update", "tasks/cancel"} {
		if _, err := c.call(method, map[string]any{"taskId": taskID, "inputResponses": map[string]any{}}, false); rpcErrCode(err) != -32021 {
			t.Errorf("%s without the extension: %v, want -32021", method, err)
		} else if string(err.Data) != `{"requiredCapabilities":{"extensions":{"io.modelcontextprotocol/tasks":{}}}}` {
			t.Errorf("%s: error data %s", method, err.Data)
		}
		if _, err := c.call(method, map[string]any{"taskId": "nope", "inputResponses": map[string]any{}}, true); rpcErrCode(err) != jsonrpc.CodeInvalidParams {
			t.Errorf("%s of an unknown task: %v, want -32602", method, err)
		}
	}
	for _, method := range []string{"tasks/result", "tasks/list"} {
		if _, err := c.call(method, map[string]any{"taskId": taskID}, true); rpcErrCode(err) != jsonrpc.CodeMethodNotFound {
			t.Errorf("%s: %v, want -32601", method, err)
		}
	}
	// A sync-only tool with the legacy task param stays sync.
	if m := c.ok("tools/call", map[string]any{"name": "list_currencies_catalog", "task": map[string]any{"ttl": 1000}}); m["resultType"] != "complete" || m["taskId"] != nil {
		t.Fatalf("sync tool = %v", m)
	}

	// Another caller does not see, update or cancel the task.
	other, _ := te.serve(t, access.Caller{Kind: access.KindOAuth, Subject: "mallory", Scopes: access.AllScopes()})
	for _, method := range []string{"tasks/get", "tasks/update", "tasks/cancel"} {
		if _, err := other.call(method, map[string]any{"taskId": taskID, "inputResponses": map[string]any{}}, true); rpcErrCode(err) != jsonrpc.CodeInvalidParams {
			t.Errorf("%s by another caller: %v, want -32602", method, err)
		}
	}
	if _, err := c.call("tasks/update", map[string]any{"taskId": taskID, "inputResponses": []any{1}}, true); rpcErrCode(err) != jsonrpc.CodeInvalidParams {
		t.Fatalf("inputResponses not an object: %v, want -32602", err)
	}
	if ack := c.ok("tasks/update", map[string]any{"taskId": taskID, "inputResponses": map[string]any{"unknown": map[string]any{}}}); ack["resultType"] != "complete" {
		t.Fatalf("update ack = %v", ack)
	}
	if ack := c.ok("tasks/cancel", map[string]any{"taskId": taskID}); ack["resultType"] != "complete" {
		t.Fatalf("cancel ack = %v", ack)
	}
	if got := c.until(taskID, "cancelled"); got["result"] != nil || got["error"] != nil {
		t.Fatalf("cancelled task = %v", got)
	}
	// The payment completing later does not revive it.
	te.complete(t, id)
	time.Sleep(100 * time.Millisecond)
	if s := c.ok("tasks/get", map[string]any{"taskId": taskID})["status"]; s != "cancelled" {
		t.Fatalf("status after cancel = %v", s)
	}
}

// TestTaskCapPerCaller: over the cap a task tool answers TASK_LIMIT_REACHED;
// another caller is not affected.
func TestTaskCapPerCaller(t *testing.T) {
	te := newTaskEnv(t, store.NewMemory())
	c, _ := te.serve(t, access.Caller{})
	id := te.newPayment(t, c)
	for range tasks.DefaultMaxActive {
		if m := c.ok("tools/call", map[string]any{"name": "wait_for_payment", "arguments": map[string]any{"identifier": id}}); m["resultType"] != "task" {
			t.Fatalf("task under the cap = %v", m)
		}
	}
	m := c.ok("tools/call", map[string]any{"name": "wait_for_payment", "arguments": map[string]any{"identifier": id}})
	if m["isError"] != true || m["taskId"] != nil {
		t.Fatalf("task over the cap = %v", m)
	}
	var env errorEnvelope
	if err := json.Unmarshal([]byte(m["content"].([]any)[0].(map[string]any)["text"].(string)), &env); err != nil || env.Error.Code != CodeTaskLimit {
		t.Fatalf("over the cap: %v (%v)", m, err)
	}
	other, _ := te.serve(t, access.Caller{Kind: access.KindOAuth, Subject: "bob", Scopes: access.AllScopes()})
	if m := other.ok("tools/call", map[string]any{"name": "wait_for_payment", "arguments": map[string]any{"identifier": id}}); m["resultType"] != "task" {
		t.Fatalf("another caller's task = %v", m)
	}
}

// TestTaskSurvivesRestart: a task created by one process is resumed by the
// next one on the same SQLite file and completes there.
func TestTaskSurvivesRestart(t *testing.T) {
	st, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	te := newTaskEnv(t, st)
	c1, stop1 := te.serve(t, access.Caller{})
	id := te.newPayment(t, c1)
	taskID := c1.ok("tools/call", map[string]any{"name": "wait_for_payment", "arguments": map[string]any{"identifier": id}})["taskId"].(string)
	stop1() // the first process goes away; its run gives the task back

	c2, _ := te.serve(t, access.Caller{})
	if s := c2.ok("tasks/get", map[string]any{"taskId": taskID})["status"]; s != "working" {
		t.Fatalf("after the restart the task is %v", s)
	}
	te.complete(t, id)
	// The resumed run polls (no webhook reaches it); PaymentUpdated wakes it.
	deadline := time.Now().Add(15 * time.Second)
	for {
		te.svc.PaymentUpdated(id)
		m := c2.ok("tasks/get", map[string]any{"taskId": taskID})
		if m["status"] == "completed" {
			sc := m["result"].(map[string]any)["structuredContent"].(map[string]any)
			if sc["reached"] != true {
				t.Fatalf("resumed task result = %v", m)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("resumed task never completed: %v", m)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPayInvoiceTask: a paid invoice whose delivery takes a while becomes a
// task that completes on delivery. It is paid exactly once: retrying the
// paying call, cancelling the task, and resuming it in another process
// never pay again.
func TestPayInvoiceTask(t *testing.T) {
	st, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	te := newTaskEnv(t, st)
	te.shopF.SetHoldDelivery(true)
	c, stop := te.serve(t, access.Caller{})
	pays := func() int { return te.shopF.Requests("POST", bitrefillPayPath) }

	buy := map[string]any{"payment_method": "balance", "products": []map[string]any{{"product_id": "amazon_com-usa", "value": 10}}}
	inv := c.ok("tools/call", map[string]any{"name": "create_invoice", "arguments": buy})
	invID := inv["structuredContent"].(map[string]any)["invoice"].(map[string]any)["id"].(string)
	quote := c.ok("tools/call", map[string]any{"name": "pay_invoice", "arguments": map[string]any{"id": invID}})
	if quote["resultType"] != "complete" || quote["taskId"] != nil {
		t.Fatalf("a quote must not be a task: %v", quote)
	}
	token := quote["structuredContent"].(map[string]any)["confirmation_token"].(string)
	payArgs := map[string]any{"name": "pay_invoice", "arguments": map[string]any{"id": invID, "confirmation_token": token}}
	created := c.ok("tools/call", payArgs)
	taskID, _ := created["taskId"].(string)
	if created["resultType"] != "task" || taskID == "" || pays() != 1 {
		t.Fatalf("paying call = %v (pay requests %d)", created, pays())
	}
	// A retry of the same call does not pay again.
	retry := c.ok("tools/call", payArgs)
	if retry["isError"] != true || retry["taskId"] != nil || pays() != 1 {
		t.Fatalf("retry = %v (pay requests %d)", retry, pays())
	}

	// The process stops before delivery; the next one resumes the watch.
	stop()
	c2, _ := te.serve(t, access.Caller{})
	if s := c2.ok("tasks/get", map[string]any{"taskId": taskID})["status"]; s != "working" {
		t.Fatalf("after the restart: %v", s)
	}
	if err := te.shopF.Deliver(invID); err != nil {
		t.Fatal(err)
	}
	done := c2.until(taskID, "completed")
	sc := done["result"].(map[string]any)["structuredContent"].(map[string]any)
	if sc["paid"] != true || sc["invoice"].(map[string]any)["status"] != "all_delivered" || pays() != 1 {
		t.Fatalf("delivered task = %v (pay requests %d)", done, pays())
	}

	// Cancelling a purchase task after the payment stops only the watch.
	inv2 := c2.ok("tools/call", map[string]any{"name": "create_invoice", "arguments": buy})
	inv2ID := inv2["structuredContent"].(map[string]any)["invoice"].(map[string]any)["id"].(string)
	tok2 := c2.ok("tools/call", map[string]any{"name": "pay_invoice", "arguments": map[string]any{"id": inv2ID}})["structuredContent"].(map[string]any)["confirmation_token"].(string)
	t2 := c2.ok("tools/call", map[string]any{"name": "pay_invoice", "arguments": map[string]any{"id": inv2ID, "confirmation_token": tok2}})["taskId"].(string)
	c2.ok("tasks/cancel", map[string]any{"taskId": t2})
	c2.until(t2, "cancelled")
	if pays() != 2 {
		t.Fatalf("pay requests = %d, want 2", pays())
	}
	sp, err := st.GetSpend(t.Context(), inv2ID)
	if err != nil || sp.Status != store.SpendPaid {
		t.Fatalf("spend record of the cancelled task's invoice = %+v, %v", sp, err)
	}
}

const bitrefillPayPath = fakebitrefill.V2Prefix + "/invoices/"

// TestAutoPayTask: create_invoice with auto_pay asks the user (a
// multi-round-trip elicitation, answered synchronously), pays, and only
// then answers with a task for the delivery.
func TestAutoPayTask(t *testing.T) {
	te := newTaskEnv(t, store.NewMemory())
	te.shopF.SetHoldDelivery(true)
	c, _ := te.serve(t, access.Caller{})
	c.caps = map[string]any{"elicitation": map[string]any{}}
	args := map[string]any{"payment_method": "balance", "auto_pay": true, "products": []map[string]any{{"product_id": "amazon_com-usa", "value": 10}}}
	first := c.ok("tools/call", map[string]any{"name": "create_invoice", "arguments": args})
	if first["resultType"] != "input_required" || first["taskId"] != nil {
		t.Fatalf("round 1 = %v", first)
	}
	reqs := first["inputRequests"].(map[string]any)
	if _, ok := reqs[confirmInput]; !ok {
		t.Fatalf("round 1 input requests = %v", reqs)
	}
	second := c.ok("tools/call", map[string]any{"name": "create_invoice", "arguments": args, "requestState": first["requestState"],
		"inputResponses": map[string]any{confirmInput: map[string]any{"action": "accept", "content": map[string]any{"confirm": true}}}})
	taskID, _ := second["taskId"].(string)
	if second["resultType"] != "task" || taskID == "" || second["requestState"] != nil || second["inputRequests"] != nil {
		t.Fatalf("round 2 = %v", second)
	}
	if n := te.shopF.Requests("POST", bitrefillPayPath); n != 1 {
		t.Fatalf("pay requests = %d", n)
	}
	got := c.ok("tasks/get", map[string]any{"taskId": taskID})
	if got["status"] != "working" {
		t.Fatalf("before delivery: %v", got)
	}
	inv := te.shopF.InvoiceIDs()
	if err := te.shopF.Deliver(inv[len(inv)-1]); err != nil {
		t.Fatal(err)
	}
	done := c.until(taskID, "completed")
	sc := done["result"].(map[string]any)["structuredContent"].(map[string]any)
	if sc["payment"].(map[string]any)["invoice"].(map[string]any)["status"] != "all_delivered" {
		t.Fatalf("completed auto_pay task = %v", done)
	}
}

// TestStartTaskForOtherTools: a tool added outside this package runs as a
// task through StartTask; a kind marked Required refuses clients without
// the extension with -32021, and the capability is advertised.
func TestStartTaskForOtherTools(t *testing.T) {
	m := tasks.New(tasks.Options{Store: store.NewMemory()})
	m.Register("echo_later", tasks.Kind{TTL: time.Minute, Required: true, Run: func(_ context.Context, r *tasks.Run) ([]byte, *jsonrpc.Error) {
		return []byte(`{"content":[{"type":"text","text":` + string(r.Task().Params) + `}]}`), nil
	}})
	s, err := New(Deps{Version: "test", Payments: payments.New(nil, store.NewMemory(), payments.Options{}), Tasks: m})
	if err != nil {
		t.Fatal(err)
	}
	m.Start(t.Context())
	t.Cleanup(m.Wait)
	s.AddTool(&mcp.Tool{Name: "echo_later", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			ok, err := StartTask(ctx, "later", "echoing")
			if !ok || err != nil {
				t.Errorf("StartTask = %v, %v", ok, err)
			}
			return &mcp.CallToolResult{}, nil
		})
	c := rawConnect(t, s)
	_, rerr := c.call("tools/call", map[string]any{"name": "echo_later"}, false)
	if rpcErrCode(rerr) != -32021 || !strings.Contains(string(rerr.Data), tasks.ExtensionID) {
		t.Fatalf("required task without the extension: %v", rerr)
	}
	created := c.ok("tools/call", map[string]any{"name": "echo_later"})
	done := c.until(created["taskId"].(string), "completed")
	if txt := done["result"].(map[string]any)["content"].([]any)[0].(map[string]any)["text"]; txt != "later" {
		t.Fatalf("result = %v", done)
	}
	disc := c.ok("server/discover", map[string]any{})
	caps, _ := disc["capabilities"].(map[string]any)
	if ext, _ := caps["extensions"].(map[string]any); ext[tasks.ExtensionID] == nil || caps["tasks"] != nil || caps["logging"] == nil {
		t.Fatalf("capabilities = %v", caps)
	}
}
