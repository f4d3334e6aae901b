package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// End-to-end tests of `cryptopay-mcp http`: the binary built by TestMain,
// in sandbox mode, driven by the Go SDK's Streamable HTTP client and by
// plain HTTP requests.

const e2eToken = "e2e-token-7f3c9a1b5d2e4f6a8b0c1d3e5f7a9b2c"

// httpProc is a running `cryptopay-mcp http`.
type httpProc struct {
	base       string // http://127.0.0.1:PORT
	mcpURL     string // base + /mcp
	sandboxAPI string // the built-in fake Bitnovo API (admin surface at /_sandbox)
	cmd        *exec.Cmd
	stderr     *syncBuffer
	done       chan struct{} // closed when the process has exited
	exitCode   int
}

var (
	listeningRE  = regexp.MustCompile(`msg="MCP Streamable HTTP listening" url=(http://\S+)/mcp`)
	sandboxAPIRE = regexp.MustCompile(`sandbox_api=(http://\S+)`)
)

// startHTTP runs the binary with `http` and args and waits for the line
// announcing the bound address (args should bind port 0).
func startHTTP(t testing.TB, env map[string]string, args ...string) *httpProc {
	t.Helper()
	return awaitListening(t, runHTTPProc(t, env, args...))
}

// awaitListening waits for p's line announcing the bound address.
func awaitListening(t testing.TB, p *httpProc) *httpProc {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if m := listeningRE.FindStringSubmatch(p.stderr.String()); m != nil {
			p.base, p.mcpURL = m[1], m[1]+"/mcp"
			if m := sandboxAPIRE.FindStringSubmatch(p.stderr.String()); m != nil {
				p.sandboxAPI = m[1]
			}
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("server exited with %d before listening:\n%s", p.exitCode, p.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not announce its address:\n%s", p.stderr.String())
		}
	}
}

func runHTTPProc(t testing.TB, env map[string]string, args ...string) *httpProc {
	t.Helper()
	return runProc(t, env, append([]string{"http"}, args...)...)
}

// runProc runs the binary with args (stdio when empty) without a client.
func runProc(t testing.TB, env map[string]string, args ...string) *httpProc {
	t.Helper()
	return runCmd(t, env, exec.Command(binPath, args...))
}

// runCmd runs cmd (the binary, or a shell that execs it) with env.
func runCmd(t testing.TB, env map[string]string, cmd *exec.Cmd) *httpProc {
	t.Helper()
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
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if s := p.stderr.String(); strings.Contains(s, "panic") || strings.Contains(s, "goroutine ") {
			t.Errorf("server stderr shows a panic:\n%s", s)
		}
	})
	return p
}

// wait returns the exit status, failing the test after timeout.
func (p *httpProc) wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.exitCode
	case <-time.After(timeout):
		t.Fatalf("server still running after %v:\n%s", timeout, p.stderr.String())
		return -1
	}
}

// headerTransport adds headers (and optionally overrides Host) on every
// request of a client.
type headerTransport struct {
	hdr  map[string]string
	host string
}

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range h.hdr {
		r.Header.Set(k, v)
	}
	if h.host != "" {
		r.Host = h.host
	}
	return http.DefaultTransport.RoundTrip(r)
}

func bearer(token string) map[string]string {
	if token == "" {
		return nil
	}
	return map[string]string{"Authorization": "Bearer " + token}
}

// connect opens an MCP session over Streamable HTTP and loads the output
// schemas, like startServer does over stdio. The Go SDK client speaks the
// newest revision it can (2026-07-28).
func (p *httpProc) connect(t testing.TB, rt headerTransport) *server {
	t.Helper()
	return p.connectWith(t, rt, nil, "")
}

// connectWith is connect with client options and a protocol revision to
// ask for ("": the client's newest).
func (p *httpProc) connectWith(t testing.TB, rt headerTransport, opts *mcp.ClientOptions, revision string) *server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "e2e-http", Version: "0"}, opts)
	session, err := client.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint: p.mcpURL, HTTPClient: &http.Client{Transport: rt}, MaxRetries: -1,
	}, &mcp.ClientSessionOptions{ProtocolVersion: revision})
	if err != nil {
		t.Fatalf("connect %s: %v\nstderr:\n%s", p.mcpURL, err, p.stderr.String())
	}
	s := newServer(ctx, t, session, p.stderr, p.cmd)
	if len(s.schemas) < 5 {
		t.Fatalf("tools/list returned %d tools", len(s.schemas))
	}
	return s
}

// do sends one plain HTTP request and returns status and body.
func (p *httpProc) do(t testing.TB, method, path, body string, hdr map[string]string, host string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, p.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"0"}}}`

func mcpHeaders(extra map[string]string) map[string]string {
	h := map[string]string{"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
	for k, v := range extra {
		h[k] = v
	}
	return h
}

// payLinkAndStatus is the core flow: create a payment link, read its status.
func payLinkAndStatus(t *testing.T, s *server) linkOut {
	t.Helper()
	var link linkOut
	s.ok(t, "create_payment_link", map[string]any{"amount_eur": 12.5, "include_qr": false, "notes": "http e2e"}, &link)
	if link.Identifier == "" || !link.Sandbox || link.FiatAmount != "12.50" || !strings.HasPrefix(link.WebURL, "http") {
		t.Fatalf("create_payment_link: %+v", link)
	}
	var st statusOut
	s.ok(t, "get_payment_status", map[string]any{"identifier": link.Identifier}, &st)
	if st.Identifier != link.Identifier || st.Status == "" || !st.Sandbox {
		t.Fatalf("get_payment_status: %+v", st)
	}
	return link
}

func TestHTTPSessions(t *testing.T) {
	p := startHTTP(t, baseEnv(t, t.TempDir()), "--listen", "127.0.0.1:0")
	s := p.connectWith(t, headerTransport{}, nil, rev2025)
	if s.session.ID() == "" {
		t.Error("no Mcp-Session-Id for a 2025-11-25 client in the default mode")
	}
	link := payLinkAndStatus(t, s)
	e := s.fail(t, "get_payment_status", map[string]any{"identifier": "00000000-0000-4000-8000-00000000dead"})
	if e.Error.Code == "" {
		t.Fatal("no error code")
	}

	if code, body := p.do(t, "GET", "/healthz", "", nil, ""); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := p.do(t, "GET", "/readyz", "", nil, ""); code != 200 || body != "ready\n" {
		t.Errorf("/readyz: %d %q", code, body)
	}
	code, metrics := p.do(t, "GET", "/metrics", "", nil, "")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`cryptopay_tool_calls_total{code="OK",outcome="ok",tool="create_payment_link"} 1`,
		`cryptopay_tool_calls_total{code="OK",outcome="ok",tool="get_payment_status"} 1`,
		fmt.Sprintf(`cryptopay_tool_calls_total{code=%q,outcome="error",tool="get_payment_status"} 1`, e.Error.Code),
		`cryptopay_tool_call_duration_seconds_count{tool="create_payment_link"} 1`,
		`cryptopay_provider_requests_total{endpoint="POST /api/v1/orders/",outcome="ok",provider="bitnovo"} 1`,
		`cryptopay_store_up 1`,
	} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("/metrics lacks %s:\n%s", want, metrics)
		}
	}
	if !regexp.MustCompile(`(?m)^cryptopay_webhook_requests_total\{outcome="accepted"\} \d+$`).MatchString(metrics) {
		t.Errorf("/metrics lacks the webhook series:\n%s", metrics)
	}
	if strings.Contains(metrics, link.Identifier) {
		t.Error("a payment id leaked into a metric label")
	}
}

func TestHTTPStateless(t *testing.T) {
	p := startHTTP(t, baseEnv(t, t.TempDir()), "--listen", "127.0.0.1:0", "--stateless")
	for _, rev := range []string{rev2026, rev2025} {
		s := p.connectWith(t, headerTransport{}, nil, rev)
		if id := s.session.ID(); id != "" {
			t.Errorf("%s: stateless mode handed out session id %q", rev, id)
		}
		if got := s.session.InitializeResult().ProtocolVersion; got != rev {
			t.Errorf("stateless mode negotiated %s, want %s", got, rev)
		}
		payLinkAndStatus(t, s)
	}
	// No standalone stream without sessions.
	if code, _ := p.do(t, "GET", "/mcp", "", map[string]string{"Accept": "text/event-stream"}, ""); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /mcp in stateless mode: %d, want 405", code)
	}
	// The environment variable selects it too.
	env := baseEnv(t, t.TempDir())
	env["MCP_HTTP_STATELESS"] = "true"
	p2 := startHTTP(t, env, "--listen", "127.0.0.1:0")
	if !strings.Contains(p2.stderr.String(), "stateless=true") {
		t.Errorf("MCP_HTTP_STATELESS=true ignored:\n%s", p2.stderr.String())
	}
}

func TestHTTPPublicBindNeedsToken(t *testing.T) {
	p := runHTTPProc(t, baseEnv(t, t.TempDir()), "--listen", "0.0.0.0:0")
	if code := p.wait(t, 10*time.Second); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	lines := strings.Split(strings.TrimSpace(p.stderr.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "MCP_HTTP_TOKEN") {
		t.Errorf("want one config line naming MCP_HTTP_TOKEN, got:\n%s", p.stderr.String())
	}
}

func TestHTTPTokenAndOrigin(t *testing.T) {
	env := baseEnv(t, t.TempDir())
	env["MCP_HTTP_TOKEN"] = e2eToken
	env["MCP_HTTP_ALLOWED_ORIGINS"] = "https://app.example.test"
	// A wildcard bind with a token; clients come in over loopback.
	p := startHTTP(t, env, "--listen", "0.0.0.0:0")
	u, err := url.Parse(p.base)
	if err != nil {
		t.Fatal(err)
	}
	p.base = "http://127.0.0.1:" + u.Port()
	p.mcpURL = p.base + "/mcp"

	s := p.connect(t, headerTransport{hdr: bearer(e2eToken)})
	payLinkAndStatus(t, s)

	for _, tc := range []struct {
		name string
		path string
		hdr  map[string]string
		want int
	}{
		{"mcp without token", "/mcp", nil, 401},
		{"mcp wrong token", "/mcp", bearer(e2eToken + "0"), 401},
		{"mcp token, foreign origin", "/mcp", map[string]string{"Authorization": "Bearer " + e2eToken, "Origin": "https://evil.example.com"}, 403},
		{"mcp token, declared origin", "/mcp", map[string]string{"Authorization": "Bearer " + e2eToken, "Origin": "https://app.example.test"}, 200},
		{"mcp token, localhost origin", "/mcp", map[string]string{"Authorization": "Bearer " + e2eToken, "Origin": "http://localhost:6274"}, 200},
		{"metrics without token", "/metrics", nil, 401},
		{"metrics with token", "/metrics", bearer(e2eToken), 200},
		{"healthz is open", "/healthz", nil, 200},
		{"readyz is open", "/readyz", nil, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method, body := "GET", ""
			if tc.path == "/mcp" {
				method, body = "POST", initializeBody
			}
			if code, got := p.do(t, method, tc.path, body, mcpHeaders(tc.hdr), ""); code != tc.want {
				t.Errorf("%d, want %d: %.200s", code, tc.want, got)
			}
		})
	}
	// A client without the token cannot even connect.
	client := mcp.NewClient(&mcp.Implementation{Name: "intruder", Version: "0"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: p.mcpURL, MaxRetries: -1}, nil); err == nil {
		_ = cs.Close()
		t.Error("connected without the token")
	}
	s.close(t)
	syscallTerm(t, p)
	if strings.Contains(p.stderr.String(), e2eToken) || strings.Contains(p.stderr.String(), e2eToken[:12]) {
		t.Errorf("the token appears in the server's stderr:\n%s", p.stderr.String())
	}
}

func syscallTerm(t *testing.T, p *httpProc) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0:\n%s", code, p.stderr.String())
	}
}

func TestHTTPHostCheck(t *testing.T) {
	env := baseEnv(t, t.TempDir())
	env["MCP_HTTP_ALLOWED_HOSTS"] = "mcp.example.test"
	p := startHTTP(t, env, "--listen", "127.0.0.1:0")
	for _, tc := range []struct {
		host string
		want int
	}{
		{"evil.example.com", 403},
		{"127.0.0.1.evil.example.com", 403},
		{"mcp.example.test", 200},
		{"MCP.Example.Test:443", 200},
		{"localhost", 200},
	} {
		if code, body := p.do(t, "POST", "/mcp", initializeBody, mcpHeaders(nil), tc.host); code != tc.want {
			t.Errorf("Host %s: %d, want %d: %.200s", tc.host, code, tc.want, body)
		}
	}
	// A tunnel forwarding to 127.0.0.1 with the declared public Host: a full session works.
	s := p.connect(t, headerTransport{host: "mcp.example.test"})
	payLinkAndStatus(t, s)
}

// TestHTTPGracefulShutdown sends SIGTERM while a tool call waits on a slow
// provider answer: the call must complete and the process exit 0.
func TestHTTPGracefulShutdown(t *testing.T) {
	p := startHTTP(t, baseEnv(t, t.TempDir()), "--listen", "127.0.0.1:0")
	if p.sandboxAPI == "" {
		t.Fatalf("no sandbox_api in the start-up log:\n%s", p.stderr.String())
	}
	s := p.connect(t, headerTransport{})
	var link linkOut
	s.ok(t, "create_payment_link", map[string]any{"amount_eur": 3, "include_qr": false}, &link)

	const delay = 2 * time.Second
	fault := fmt.Sprintf(`{"method":"GET","path":"/api/v1/orders/","delay_ms":%d,"times":1}`, delay.Milliseconds())
	resp, err := http.Post(p.sandboxAPI+"/_sandbox/faults", "application/json", bytes.NewReader([]byte(fault)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("adding the delay fault: %s", resp.Status)
	}

	var wg sync.WaitGroup
	var res *mcp.CallToolResult
	var callErr error
	start := time.Now()
	wg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		res, callErr = s.session.CallTool(ctx, &mcp.CallToolParams{Name: "get_payment_status", Arguments: map[string]any{"identifier": link.Identifier}})
	})
	// Wait until the call is in flight, then ask the server to stop.
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, m := p.do(t, "GET", "/metrics", "", nil, "")
		if strings.Contains(m, "cryptopay_tool_calls_in_flight 1\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the slow call never showed up in flight")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if callErr != nil {
		t.Fatalf("in-flight call failed across SIGTERM: %v\nstderr:\n%s", callErr, p.stderr.String())
	}
	if res.IsError || time.Since(start) < delay {
		t.Fatalf("in-flight call: isError=%t after %v: %s", res.IsError, time.Since(start), text(res))
	}
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Errorf("exit %d, want 0:\n%s", code, p.stderr.String())
	}
	if !strings.Contains(p.stderr.String(), "cryptopay-mcp stopped") {
		t.Errorf("no orderly stop in the log:\n%s", p.stderr.String())
	}
	s.session = nil // the server is gone; nothing to close
}
