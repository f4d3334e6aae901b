package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/fakebitnovo"
)

// TestPipedRequestsAreAnswered: requests written with stdin closed at once
// (a shell pipe) still get their answers from the binary.
func TestPipedRequestsAreAnswered(t *testing.T) {
	cmd := exec.Command(binPath)
	cmd.Env = envList(baseEnv(t, t.TempDir()))
	cmd.Stdin = strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"sh","version":"0"}}}
{"jsonrpc":"2.0","method":"notifications/initialized"}
{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_currencies_catalog","arguments":{}}}
`)
	start := time.Now()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], `{"jsonrpc":"2.0","id":1,"result"`) || !strings.HasPrefix(lines[1], `{"jsonrpc":"2.0","id":2,"result"`) {
		t.Fatalf("stdout:\n%.400s", out)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("took %v to exit", el)
	}
}

// rawStdio is the built binary driven line by line, as a client that
// writes whatever it likes would.
type rawStdio struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	stdout  io.ReadCloser
	stderr  *syncBuffer
	answers chan map[string]json.RawMessage // closed when stdout ends
}

func startRaw(t *testing.T, env map[string]string) *rawStdio {
	t.Helper()
	r := &rawStdio{cmd: exec.Command(binPath), stderr: &syncBuffer{}, answers: make(chan map[string]json.RawMessage, 100)}
	r.cmd.Env = envList(env)
	r.cmd.Stderr = r.stderr
	var err error
	if r.stdin, err = r.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := r.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r.stdout = stdout
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = r.stdin.Close()
		_ = r.cmd.Wait()
	})
	go func() {
		defer close(r.answers)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Errorf("stdout line %.100q: %v", sc.Bytes(), err)
				continue
			}
			r.answers <- m
		}
	}()
	r.send(t, `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"e2e","version":"0"}}}`)
	if m := r.next(t); string(m["id"]) != "0" || m["result"] == nil {
		t.Fatalf("initialize: %v", m)
	}
	r.send(t, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	return r
}

func (r *rawStdio) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(r.stdin, line+"\n"); err != nil {
		t.Fatalf("write: %v", err)
	}
}

func (r *rawStdio) next(t *testing.T) map[string]json.RawMessage {
	t.Helper()
	select {
	case m := <-r.answers:
		return m
	case <-time.After(20 * time.Second):
		t.Fatalf("no answer; stderr:\n%s", r.stderr.String())
		return nil
	}
}

// TestCancelledCallGetsNoAnswer: a tools/call the client cancels gets no
// answer (MCP spec), is logged as cancelled without a warning, and the
// session goes on.
func TestCancelledCallGetsNoAnswer(t *testing.T) {
	r := startRaw(t, baseEnv(t, t.TempDir()))
	r.send(t, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_payment_link","arguments":{"amount_eur":20,"include_qr":false}}}`)
	var created struct {
		StructuredContent struct{ Identifier string } `json:"structuredContent"`
	}
	if m := r.next(t); json.Unmarshal(m["result"], &created) != nil || created.StructuredContent.Identifier == "" {
		t.Fatalf("create: %v", m)
	}
	r.send(t, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"wait_for_payment","arguments":{"identifier":"`+created.StructuredContent.Identifier+`","timeout_seconds":60}}}`)
	time.Sleep(500 * time.Millisecond)
	r.send(t, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":2,"reason":"user stopped"}}`)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(r.stderr.String(), "outcome=CANCELLED") {
		if time.Now().After(deadline) {
			t.Fatalf("the cancelled call did not end; stderr:\n%s", r.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.send(t, `{"jsonrpc":"2.0","id":3,"method":"ping"}`)
	if m := r.next(t); string(m["id"]) != "3" {
		t.Fatalf("answer after the cancel: %v (the cancelled call was answered)", m)
	}
	if strings.Contains(r.stderr.String(), "level=WARN msg=\"tool failed\"") {
		t.Errorf("the cancel was logged as a failure:\n%s", r.stderr.String())
	}
}

// TestBadLinesWithCreatesInFlight drives the built binary as a hostile
// client would: bad lines interleaved with good requests while five keyed
// creates wait on Bitnovo, then the input ends (closed, or SIGTERM). Every
// bad line gets its JSON-RPC error, every request its answer, and every
// create is recorded: the same key in a new process replays it.
func TestBadLinesWithCreatesInFlight(t *testing.T) {
	for _, end := range []string{"close stdin", "SIGTERM"} {
		t.Run(end, func(t *testing.T) {
			fake, url := liveFake(t, testDevice, fakebitnovo.Options{})
			fake.AddFault(fakebitnovo.Fault{Method: http.MethodPost, Path: "/api/v1/orders", Delay: 1500 * time.Millisecond})
			dataDir := t.TempDir()
			env := baseEnv(t, dataDir)
			env["BITNOVO_DEVICE_ID"], env["BITNOVO_BASE_URL"] = testDevice, url
			r := startRaw(t, env)
			cmd, stderr, answers := r.cmd, r.stderr, r.answers
			send := func(line string) { r.send(t, line) }

			bad := []struct {
				line string
				code int
				id   string
			}{
				{"hello", -32700, "null"},
				{"NaN", -32700, "null"},
				{`{"jsonrpc":"2.0","id":50,"method":"ping"} trailing`, -32700, "null"},
				{`{"jsonrpc":"2.0","id":51,"method":"ping"}{"jsonrpc":"2.0","id":52,"method":"ping"}`, -32700, "null"},
				{`{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}`, -32600, "null"},
				{`{"jsonrpc":"2.0","id":null,"method":"ping"}`, -32600, "null"},
				{`{"jsonrpc":"2.0","id":1.5,"method":"ping"}`, -32600, "null"},
				{`{"jsonrpc":"2.0","id":9223372036854775808,"method":"ping"}`, -32600, "null"},
				{"{\"jsonrpc\":\"2.0\",\x00\"id\":53}", -32700, "null"},
				{`[{"jsonrpc":"2.0","id":54,"method":"ping"}]`, -32600, "null"},
				{strings.Repeat("[", 10001) + strings.Repeat("]", 10001), -32700, "null"},
				{`{"jsonrpc":"2.0","id":55,"method":"ping","params":{"x":"` + strings.Repeat("a", 5<<20) + `"}}`, -32700, "null"},
			}
			const creates = 5
			var want []string // ids of good requests
			for i := range creates {
				id := fmt.Sprintf(`"create-%d"`, i)
				send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"method":"tools/call","params":{"name":"create_payment_onchain","arguments":{"amount_eur":%d,"input_currency":"LTC","include_qr":false,"idempotency_key":"key-%d"}}}`, id, 10+i, i))
				want = append(want, id)
			}
			for i, b := range bad {
				send(b.line)
				id := fmt.Sprint(100 + i)
				send(`{"jsonrpc":"2.0","id":` + id + `,"method":"ping"}`)
				want = append(want, id)
			}
			switch end {
			case "close stdin":
				_ = r.stdin.Close()
			case "SIGTERM":
				time.Sleep(300 * time.Millisecond) // the last ping read
				if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
			}
			errorsByCode := map[int]int{}
			answered := map[string]json.RawMessage{}
			for m := range answers {
				if e := m["error"]; e != nil {
					var we struct{ Code int }
					_ = json.Unmarshal(e, &we)
					if string(m["id"]) != "null" {
						t.Errorf("error answer with id %s: %s", m["id"], e)
					}
					errorsByCode[we.Code]++
					continue
				}
				answered[string(m["id"])] = m["result"]
			}
			_ = cmd.Wait()
			wantCodes := map[int]int{}
			for _, b := range bad {
				wantCodes[b.code]++
			}
			if fmt.Sprint(errorsByCode) != fmt.Sprint(wantCodes) {
				t.Errorf("errors by code %v, want %v", errorsByCode, wantCodes)
			}
			for _, id := range want {
				if answered[id] == nil {
					t.Errorf("no answer to %s", id)
				}
			}
			identifiers := map[int]string{}
			for i := range creates {
				var res struct {
					IsError           bool `json:"isError"`
					StructuredContent struct {
						Identifier string `json:"identifier"`
					} `json:"structuredContent"`
				}
				_ = json.Unmarshal(answered[fmt.Sprintf(`"create-%d"`, i)], &res)
				if res.IsError || res.StructuredContent.Identifier == "" {
					t.Errorf("create %d: %s", i, answered[fmt.Sprintf(`"create-%d"`, i)])
				}
				identifiers[i] = res.StructuredContent.Identifier
			}
			if n := fake.Requests(http.MethodPost, "/api/v1/orders/"); n != creates {
				t.Errorf("Bitnovo saw %d creates, want %d", n, creates)
			}
			if t.Failed() {
				t.Fatalf("stderr:\n%s", stderr.String())
			}

			// A new process on the same store replays every key.
			fake.ClearFaults()
			s := startServer(t, env)
			for i := range creates {
				var again struct {
					Identifier       string `json:"identifier"`
					IdempotentReplay bool   `json:"idempotent_replay"`
				}
				s.ok(t, "create_payment_onchain", map[string]any{"amount_eur": 10 + i, "input_currency": "LTC", "include_qr": false, "idempotency_key": fmt.Sprintf("key-%d", i)}, &again)
				if again.Identifier != identifiers[i] || !again.IdempotentReplay {
					t.Errorf("key-%d after restart: %+v, want replay of %s", i, again, identifiers[i])
				}
			}
			if n := fake.Requests(http.MethodPost, "/api/v1/orders/"); n != creates {
				t.Errorf("Bitnovo saw %d creates after the replays, want %d", n, creates)
			}
		})
	}
}

// TestClientGoneMidCreate: a client that goes away (stdout closed, then
// stdin) while two creates wait on Bitnovo: the first answer's write fails,
// the process does not die of SIGPIPE, and the slower create still records
// its outcome before the exit.
func TestClientGoneMidCreate(t *testing.T) {
	fake, url := liveFake(t, testDevice, fakebitnovo.Options{})
	fake.AddFault(fakebitnovo.Fault{Method: http.MethodPost, Path: "/api/v1/orders", Delay: 300 * time.Millisecond, Times: 1})
	fake.AddFault(fakebitnovo.Fault{Method: http.MethodPost, Path: "/api/v1/orders", Delay: 2 * time.Second})
	env := baseEnv(t, t.TempDir())
	env["BITNOVO_DEVICE_ID"], env["BITNOVO_BASE_URL"] = testDevice, url
	r := startRaw(t, env)
	for i := range 2 {
		r.send(t, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"create_payment_onchain","arguments":{"amount_eur":20,"input_currency":"LTC","include_qr":false,"idempotency_key":"gone-%d"}}}`, 10+i, i))
		time.Sleep(50 * time.Millisecond) // in this order
	}
	_ = r.stdout.Close()
	time.Sleep(100 * time.Millisecond)
	_ = r.stdin.Close()
	err := r.cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) && !ee.Exited() {
		t.Fatalf("the process died of a signal: %v; stderr:\n%s", err, r.stderr.String())
	}
	if n := fake.Requests(http.MethodPost, "/api/v1/orders/"); n != 2 {
		t.Fatalf("Bitnovo saw %d creates, want 2", n)
	}
	fake.ClearFaults()
	s := startServer(t, env)
	for i := range 2 {
		var again struct {
			Identifier       string `json:"identifier"`
			IdempotentReplay bool   `json:"idempotent_replay"`
		}
		s.ok(t, "create_payment_onchain", map[string]any{"amount_eur": 20, "input_currency": "LTC", "include_qr": false, "idempotency_key": fmt.Sprintf("gone-%d", i)}, &again)
		if !again.IdempotentReplay {
			t.Errorf("gone-%d after restart: %+v, want a replay", i, again)
		}
	}
	if n := fake.Requests(http.MethodPost, "/api/v1/orders/"); n != 2 {
		t.Errorf("Bitnovo saw %d creates after the replays, want 2", n)
	}
}
