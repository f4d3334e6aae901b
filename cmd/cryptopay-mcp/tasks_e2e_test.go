package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/fakebitnovo"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/mcpserver"
)

const tasksExt = "io.modelcontextprotocol/tasks"

// rpcClient sends one JSON-RPC request and returns its result or error
// object, raw, as the wire carries them (the go-sdk client has no type for
// a CreateTaskResult).
type rpcClient interface {
	rpc(t *testing.T, method string, params map[string]any) (result, rpcErr map[string]any)
}

// taskMeta2026 is the _meta a 2026-07-28 request carries, declaring the
// tasks extension.
func taskMeta2026() map[string]any {
	return map[string]any{
		"io.modelcontextprotocol/protocolVersion":    "2026-07-28",
		"io.modelcontextprotocol/clientInfo":         map[string]any{"name": "e2e-raw", "version": "0"},
		"io.modelcontextprotocol/clientCapabilities": map[string]any{"extensions": map[string]any{tasksExt: map[string]any{}}},
	}
}

// stdioRaw speaks JSON lines to the binary's stdin and stdout.
type stdioRaw struct {
	p      *httpProc
	in     io.WriteCloser
	out    *bufio.Reader
	n      int
	legacy bool // 2025-11-25: initialized once, no per-request _meta
	// meta is the _meta of every 2026-07-28 request; nil: taskMeta2026.
	meta func() map[string]any
}

func startStdioRaw(t *testing.T, env map[string]string, legacy bool) *stdioRaw {
	t.Helper()
	cmd := exec.Command(binPath)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = envList(env)
	p := &httpProc{cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = cmd.Wait()
		p.exitCode = cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = in.Close()
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	c := &stdioRaw{p: p, in: in, out: bufio.NewReader(out), legacy: legacy}
	if legacy {
		res, rerr := c.rpc(t, "initialize", map[string]any{"protocolVersion": "2025-11-25", "clientInfo": map[string]any{"name": "e2e-raw", "version": "0"},
			"capabilities": map[string]any{"extensions": map[string]any{tasksExt: map[string]any{}}}})
		if rerr != nil || res["protocolVersion"] != "2025-11-25" {
			t.Fatalf("initialize: %v %v", res, rerr)
		}
		c.write(t, map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"})
	}
	return c
}

func (c *stdioRaw) write(t *testing.T, msg map[string]any) {
	t.Helper()
	b, _ := json.Marshal(msg)
	if _, err := c.in.Write(append(b, '\n')); err != nil {
		t.Fatalf("write: %v\n%s", err, c.p.stderr.String())
	}
}

func (c *stdioRaw) rpc(t *testing.T, method string, params map[string]any) (map[string]any, map[string]any) {
	t.Helper()
	if !c.legacy {
		meta := taskMeta2026
		if c.meta != nil {
			meta = c.meta
		}
		params["_meta"] = meta()
	}
	c.n++
	c.write(t, map[string]any{"jsonrpc": "2.0", "id": c.n, "method": method, "params": params})
	for {
		line, err := c.out.ReadBytes('\n')
		if err != nil {
			t.Fatalf("%s: read: %v\n%s", method, err, c.p.stderr.String())
		}
		var msg struct {
			ID     *int           `json:"id"`
			Result map[string]any `json:"result"`
			Error  map[string]any `json:"error"`
		}
		if err := json.Unmarshal(line, &msg); err != nil {
			t.Fatalf("stdout is not JSON-RPC: %q", line)
		}
		if msg.ID != nil && *msg.ID == c.n {
			return msg.Result, msg.Error
		}
	}
}

// stop closes stdin and waits for a clean exit.
func (c *stdioRaw) stop(t *testing.T) {
	t.Helper()
	_ = c.in.Close()
	if code := c.p.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("exit %d:\n%s", code, c.p.stderr.String())
	}
}

// httpRaw posts JSON-RPC to the binary's /mcp: a 2025-11-25 session
// (initialize, Mcp-Session-Id) or sessionless 2026-07-28 requests.
type httpRaw struct {
	p       *httpProc
	n       int
	session string
	legacy  bool
}

func (c *httpRaw) post(t *testing.T, body map[string]any, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, c.p.mcpURL, strings.NewReader(string(b)))
	for k, v := range mcpHeaders(hdr) {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, out
}

func connectHTTPRaw(t *testing.T, p *httpProc, legacy bool) *httpRaw {
	t.Helper()
	c := &httpRaw{p: p, legacy: legacy}
	if legacy {
		c.n++
		resp, body := c.post(t, map[string]any{"jsonrpc": "2.0", "id": c.n, "method": "initialize", "params": map[string]any{
			"protocolVersion": "2025-11-25", "clientInfo": map[string]any{"name": "e2e-raw", "version": "0"},
			"capabilities": map[string]any{"extensions": map[string]any{tasksExt: map[string]any{}}}}}, nil)
		c.session = resp.Header.Get("Mcp-Session-Id")
		if resp.StatusCode != http.StatusOK || c.session == "" {
			t.Fatalf("initialize: %d %s", resp.StatusCode, body)
		}
		hdr := map[string]string{"Mcp-Session-Id": c.session, "MCP-Protocol-Version": "2025-11-25"}
		if resp, body := c.post(t, map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"}, hdr); resp.StatusCode >= 300 {
			t.Fatalf("initialized: %d %s", resp.StatusCode, body)
		}
	}
	return c
}

func (c *httpRaw) rpc(t *testing.T, method string, params map[string]any) (map[string]any, map[string]any) {
	t.Helper()
	hdr := map[string]string{"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": method}
	if c.legacy {
		hdr = map[string]string{"Mcp-Session-Id": c.session, "MCP-Protocol-Version": "2025-11-25"}
	} else {
		params["_meta"] = taskMeta2026()
		switch method {
		case "tools/call":
			hdr["Mcp-Name"], _ = params["name"].(string)
		case "tasks/get", "tasks/update", "tasks/cancel":
			hdr["Mcp-Name"], _ = params["taskId"].(string)
		}
	}
	c.n++
	resp, body := c.post(t, map[string]any{"jsonrpc": "2.0", "id": c.n, "method": method, "params": params}, hdr)
	// A JSON body, or an SSE stream whose data lines carry the messages.
	var lines []string
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		for _, l := range strings.Split(string(body), "\n") {
			if d, ok := strings.CutPrefix(l, "data: "); ok {
				lines = append(lines, d)
			}
		}
	} else {
		lines = []string{string(body)}
	}
	for _, l := range lines {
		var msg struct {
			ID     *int           `json:"id"`
			Result map[string]any `json:"result"`
			Error  map[string]any `json:"error"`
		}
		if json.Unmarshal([]byte(l), &msg) == nil && msg.ID != nil && *msg.ID == c.n {
			return msg.Result, msg.Error
		}
	}
	t.Fatalf("%s: no response in HTTP %d %s\n%s", method, resp.StatusCode, body, c.p.stderr.String())
	return nil, nil
}

func rawOK(t *testing.T, c rpcClient, method string, params map[string]any) map[string]any {
	t.Helper()
	res, rerr := c.rpc(t, method, params)
	if rerr != nil {
		t.Fatalf("%s: %v", method, rerr)
	}
	return res
}

// startWaitTask creates a payment link and a wait_for_payment task for it.
func startWaitTask(t *testing.T, c rpcClient) (paymentID, taskID string) {
	t.Helper()
	link := rawOK(t, c, "tools/call", map[string]any{"name": "create_payment_link", "arguments": map[string]any{"amount_eur": 9.5, "include_qr": false}})
	paymentID, _ = link["structuredContent"].(map[string]any)["identifier"].(string)
	created := rawOK(t, c, "tools/call", map[string]any{"name": "wait_for_payment", "arguments": map[string]any{"identifier": paymentID}})
	taskID, _ = created["taskId"].(string)
	if created["resultType"] != "task" || taskID == "" || created["status"] != "working" {
		t.Fatalf("wait_for_payment with the tasks extension = %v", created)
	}
	return paymentID, taskID
}

// finishAfterRestart checks the task is still working in the new process,
// completes the payment at the fake, and polls until the task completes.
func finishAfterRestart(t *testing.T, c rpcClient, fake *fakebitnovo.Server, paymentID, taskID string) {
	t.Helper()
	if got := rawOK(t, c, "tasks/get", map[string]any{"taskId": taskID}); got["status"] != "working" {
		t.Fatalf("after the restart: %v", got)
	}
	for _, s := range []string{"PE", "AC", "CO"} {
		if err := fake.SetStatus(paymentID, s); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(40 * time.Second) // the resumed wait polls with backoff
	for {
		got := rawOK(t, c, "tasks/get", map[string]any{"taskId": taskID})
		if got["status"] == "completed" {
			sc := got["result"].(map[string]any)["structuredContent"].(map[string]any)
			if sc["reached"] != true || sc["status"] != "CO" {
				t.Fatalf("completed task = %v", got)
			}
			return
		}
		if got["status"] != "working" || time.Now().After(deadline) {
			t.Fatalf("task = %v", got)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestTaskOutlivesRestart: a wait_for_payment task created through the
// built binary survives the process: the next process on the same data
// dir resumes it, and it completes when the payment does. Over stdio the
// task is made with a 2026-07-28 request and read back through a
// 2025-11-25 session; over HTTP the other way round.
func TestTaskOutlivesRestart(t *testing.T) {
	t.Run("stdio", func(t *testing.T) {
		fake, url := liveFake(t, testDevice, fakebitnovo.Options{})
		env := baseEnv(t, t.TempDir())
		env["BITNOVO_DEVICE_ID"], env["BITNOVO_BASE_URL"] = testDevice, url
		a := startStdioRaw(t, env, false)
		paymentID, taskID := startWaitTask(t, a)
		a.stop(t)
		b := startStdioRaw(t, env, true)
		finishAfterRestart(t, b, fake, paymentID, taskID)
		// Plain calls without the extension are unchanged.
		plain := rawOK(t, b, "tools/call",
			map[string]any{"name": "list_currencies_catalog", "arguments": map[string]any{}})
		if plain["taskId"] != nil || plain["structuredContent"] == nil {
			t.Fatalf("plain call = %v", plain)
		}
	})
	t.Run("http", func(t *testing.T) {
		fake, url := liveFake(t, testDevice, fakebitnovo.Options{})
		env := baseEnv(t, t.TempDir())
		env["BITNOVO_DEVICE_ID"], env["BITNOVO_BASE_URL"] = testDevice, url
		a := startHTTP(t, env, "--listen", "127.0.0.1:0")
		paymentID, taskID := startWaitTask(t, connectHTTPRaw(t, a, true))
		syscallTerm(t, a)
		if code := a.wait(t, 15*time.Second); code != 0 {
			t.Fatalf("exit %d", code)
		}
		b := startHTTP(t, env, "--listen", "127.0.0.1:0", "--stateless")
		finishAfterRestart(t, connectHTTPRaw(t, b, false), fake, paymentID, taskID)
		// Another caller's view: an unknown task.
		if _, rerr := connectHTTPRaw(t, b, false).rpc(t, "tasks/get", map[string]any{"taskId": "nope"}); rerr == nil || rerr["code"] != float64(-32602) {
			t.Fatalf("unknown task: %v", rerr)
		}
	})
}

// TestTasksWithUI: a client that declares both the tasks and the UI
// extension gets both: wait_for_payment names the payment card and runs as
// a task, the completed task's result is the one the card reads (the
// payment's structuredContent), and the card's view reads back.
func TestTasksWithUI(t *testing.T) {
	fake, url := liveFake(t, testDevice, fakebitnovo.Options{})
	env := baseEnv(t, t.TempDir())
	env["BITNOVO_DEVICE_ID"], env["BITNOVO_BASE_URL"] = testDevice, url
	c := startStdioRaw(t, env, false)
	c.meta = func() map[string]any {
		m := taskMeta2026()
		m["io.modelcontextprotocol/clientCapabilities"] = map[string]any{"extensions": map[string]any{
			tasksExt:              map[string]any{},
			mcpserver.UIExtension: map[string]any{"mimeTypes": []string{mcpserver.UIMIMEType}},
		}}
		return m
	}

	tools := rawOK(t, c, "tools/list", map[string]any{})
	var wait map[string]any
	for _, tl := range tools["tools"].([]any) {
		if tm := tl.(map[string]any); tm["name"] == "wait_for_payment" {
			wait = tm
		}
	}
	if wait == nil {
		t.Fatal("no wait_for_payment in tools/list")
	}
	ui, _ := wait["_meta"].(map[string]any)["ui"].(map[string]any)
	if ui["resourceUri"] != mcpserver.PaymentCardURI {
		t.Fatalf("wait_for_payment _meta = %v, want the payment card", wait["_meta"])
	}

	paymentID, taskID := startWaitTask(t, c)
	for _, s := range []string{"PE", "AC", "CO"} {
		if err := fake.SetStatus(paymentID, s); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(40 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		got := rawOK(t, c, "tasks/get", map[string]any{"taskId": taskID})
		if got["status"] == "completed" {
			sc := got["result"].(map[string]any)["structuredContent"].(map[string]any)
			if sc["identifier"] != paymentID || sc["status"] != "CO" || sc["reached"] != true {
				t.Fatalf("completed task's result = %v", sc)
			}
			break
		}
		if got["status"] != "working" || time.Now().After(deadline) {
			t.Fatalf("task = %v", got)
		}
	}

	read := rawOK(t, c, "resources/read", map[string]any{"uri": mcpserver.PaymentCardURI})
	contents, _ := read["contents"].([]any)
	if len(contents) != 1 || contents[0].(map[string]any)["mimeType"] != mcpserver.UIMIMEType {
		t.Fatalf("resources/read %s = %v", mcpserver.PaymentCardURI, read)
	}
}

// listenParams asks for the status notifications of taskID.
func listenParams(taskID string) map[string]any {
	return map[string]any{"_meta": taskMeta2026(), "notifications": map[string]any{"taskIds": []string{taskID}}}
}

// checkListen reads a task listen's messages from next: the
// acknowledgement, a working notification, then (after complete is
// called) the completed one with the result, and the listen's end.
func checkListen(t *testing.T, taskID string, next func() map[string]any, complete func()) {
	t.Helper()
	ack := next()
	if ack["method"] != "notifications/subscriptions/acknowledged" {
		t.Fatalf("first message = %v", ack)
	}
	if ids := ack["params"].(map[string]any)["notifications"].(map[string]any)["taskIds"].([]any); len(ids) != 1 || ids[0] != taskID {
		t.Fatalf("acknowledged = %v", ack)
	}
	if n := next(); n["method"] != "notifications/tasks" || n["params"].(map[string]any)["status"] != "working" {
		t.Fatalf("first notification = %v", n)
	}
	complete()
	for {
		n := next()
		if n["result"] != nil { // the listen's end
			t.Fatalf("the listen ended before the completed notification: %v", n)
		}
		p := n["params"].(map[string]any)
		if n["method"] != "notifications/tasks" || p["taskId"] != taskID {
			t.Fatalf("notification = %v", n)
		}
		if p["status"] == "completed" {
			if p["result"].(map[string]any)["structuredContent"].(map[string]any)["reached"] != true {
				t.Fatalf("completed notification = %v", n)
			}
			break
		}
	}
	if end := next(); end["result"] == nil {
		t.Fatalf("listen end = %v", end)
	}
}

func payCO(t *testing.T, fake *fakebitnovo.Server, id string) func() {
	return func() {
		for _, s := range []string{"PE", "AC", "CO"} {
			if err := fake.SetStatus(id, s); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestTaskStatusNotifications: a subscriptions/listen naming a task gets
// notifications/tasks for it until it completes, over stdio and over HTTP.
func TestTaskStatusNotifications(t *testing.T) {
	t.Run("stdio", func(t *testing.T) {
		fake, url := liveFake(t, testDevice, fakebitnovo.Options{})
		env := baseEnv(t, t.TempDir())
		env["BITNOVO_DEVICE_ID"], env["BITNOVO_BASE_URL"] = testDevice, url
		c := startStdioRaw(t, env, false)
		paymentID, taskID := startWaitTask(t, c)
		c.n++
		c.write(t, map[string]any{"jsonrpc": "2.0", "id": c.n, "method": "subscriptions/listen", "params": listenParams(taskID)})
		next := func() map[string]any {
			line, err := c.out.ReadBytes('\n')
			if err != nil {
				t.Fatalf("read: %v\n%s", err, c.p.stderr.String())
			}
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				t.Fatal(err)
			}
			return m
		}
		checkListen(t, taskID, next, payCO(t, fake, paymentID))
		c.stop(t)
	})
	t.Run("http", func(t *testing.T) {
		fake, url := liveFake(t, testDevice, fakebitnovo.Options{})
		env := baseEnv(t, t.TempDir())
		env["BITNOVO_DEVICE_ID"], env["BITNOVO_BASE_URL"] = testDevice, url
		p := startHTTP(t, env, "--listen", "127.0.0.1:0")
		paymentID, taskID := startWaitTask(t, connectHTTPRaw(t, p, false))
		b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 77, "method": "subscriptions/listen", "params": listenParams(taskID)})
		req, _ := http.NewRequest(http.MethodPost, p.mcpURL, strings.NewReader(string(b)))
		for k, v := range mcpHeaders(map[string]string{"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "subscriptions/listen"}) {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			body, _ := io.ReadAll(resp.Body)
			t.Fatalf("listen: %d %s", resp.StatusCode, body)
		}
		sse := bufio.NewReader(resp.Body)
		next := func() map[string]any {
			for {
				line, err := sse.ReadString('\n')
				if err != nil {
					t.Fatalf("read: %v", err)
				}
				if d, ok := strings.CutPrefix(strings.TrimRight(line, "\n"), "data: "); ok {
					var m map[string]any
					if err := json.Unmarshal([]byte(d), &m); err != nil {
						t.Fatal(err)
					}
					return m
				}
			}
		}
		checkListen(t, taskID, next, payCO(t, fake, paymentID))
	})
}

// TestTaskReplicas: two HTTP replicas on one PostgreSQL schema. A task
// made on one is visible (to its owner) on the other; when the first
// stops, the second takes the task over and completes it.
func TestTaskReplicas(t *testing.T) {
	db := replicaSchemaURL(t) // skips without CRYPTOPAY_TEST_DATABASE_URL
	fake, url := liveFake(t, testDevice, fakebitnovo.Options{})
	env := func() map[string]string {
		e := baseEnv(t, t.TempDir())
		e["BITNOVO_DEVICE_ID"], e["BITNOVO_BASE_URL"], e["CRYPTOPAY_DATABASE_URL"] = testDevice, url, db
		return e
	}
	a := startHTTP(t, env(), "--listen", "127.0.0.1:0")
	b := startHTTP(t, env(), "--listen", "127.0.0.1:0", "--stateless")
	paymentID, taskID := startWaitTask(t, connectHTTPRaw(t, a, false))
	onB := connectHTTPRaw(t, b, false)
	if got := rawOK(t, onB, "tasks/get", map[string]any{"taskId": taskID}); got["status"] != "working" {
		t.Fatalf("on the other replica: %v", got)
	}
	syscallTerm(t, a)
	if code := a.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	finishAfterRestart(t, onB, fake, paymentID, taskID)
	if !strings.Contains(b.stderr.String(), `msg="task resumed" task_id=`+taskID) {
		t.Fatalf("replica b did not resume the task:\n%s", b.stderr.String())
	}
}

// TestTaskListenEndOfInput: a client that closes stdin with a task listen
// open does not hold the exit (the listen ends with its result at the end
// of input), and a cancelled listen gets no answer.
func TestTaskListenEndOfInput(t *testing.T) {
	env := baseEnv(t, t.TempDir())
	c := startStdioRaw(t, env, false)
	_, taskID := startWaitTask(t, c)
	for _, id := range []int{101, 102} {
		c.write(t, map[string]any{"jsonrpc": "2.0", "id": id, "method": "subscriptions/listen", "params": listenParams(taskID)})
	}
	for range 4 { // two acknowledgements, two working notifications
		if _, err := c.out.ReadBytes('\n'); err != nil {
			t.Fatal(err)
		}
	}
	c.write(t, map[string]any{"jsonrpc": "2.0", "method": "notifications/cancelled", "params": map[string]any{"requestId": 101}})
	rawOK(t, c, "tools/list", map[string]any{}) // the cancel, read before it, has been handled
	start := time.Now()
	_ = c.in.Close()
	rest, _ := io.ReadAll(c.out) // until the process closes its stdout
	if code := c.p.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("exit %d:\n%s", code, c.p.stderr.String())
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("exit took %v with a listen open", d)
	}
	if strings.Contains(string(rest), `"id":101`) {
		t.Fatalf("the cancelled listen was answered: %s", rest)
	}
	if !strings.Contains(string(rest), `{"jsonrpc":"2.0","id":102,"result":{"_meta":{"io.modelcontextprotocol/subscriptionId":102}}}`) {
		t.Fatalf("the open listen did not end with its result: %s", rest)
	}
}
