package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// slowConns is how many slow connections the attack holds: more than the
// server's 1,024 descriptors.
const slowConns = 1100

// openSlowConns opens n connections from src to host that each send the
// start of a request and stop: the header of a POST announcing a body
// that never comes (with the token, without it, to /metrics) or half a
// header, in turn; with bodyOnly, all of them the first kind (an
// authorised POST /mcp). The caller closes them.
func openSlowConns(t testing.TB, src, host, token string, n int, bodyOnly bool) []net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	conns := make([]net.Conn, 0, n)
	for i := range n {
		c, err := d.Dial("tcp", host)
		if err != nil {
			if i == 0 && src != "127.0.0.1" {
				t.Skipf("cannot dial from %s: %v", src, err)
			}
			// A refused connection may be reset while connecting.
			continue
		}
		conns = append(conns, c)
		var req string
		kind := i % 4
		if bodyOnly {
			kind = 0
		}
		switch kind {
		case 0:
			req = fmt.Sprintf("POST /mcp HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 4096\r\n\r\n{", host, token)
		case 1:
			req = fmt.Sprintf("POST /mcp HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{", host)
		case 2:
			req = fmt.Sprintf("POST /metrics HTTP/1.1\r\nHost: %s\r\nContent-Length: 4096\r\n\r\n", host)
		default:
			req = fmt.Sprintf("GET /healthz HTTP/1.1\r\nHost: %s\r\nX-Slow: ", host)
		}
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = c.Write([]byte(req))
	}
	return conns
}

// countOpen counts the connections the server has neither answered nor
// closed.
func countOpen(conns []net.Conn) int {
	held := 0
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
		if _, err := bufio.NewReader(c).ReadByte(); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				held++
			}
		}
	}
	return held
}

var limitRejectionRE = regexp.MustCompile(`cryptopay_limit_rejections_total\{limit="http_connections_per_source"\} (\d+)`)

// TestSlowConnectionsDoNotLockOut drives the built binary, limited to
// 1,024 open files, with 1,100 connections that announce a body (or a
// header) and never send it, from 127.0.0.2. A client on 127.0.0.1 still
// opens a session and lists the tools within a second, the refused
// connections are counted, and SIGTERM ends the server within two
// seconds with the slow connections still open. On the old code the
// server ran out of descriptors (every slow connection was held for good)
// and SIGTERM waited the full 25 s grace.
func TestSlowConnectionsDoNotLockOut(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs Linux: all of 127.0.0.0/8 on loopback, and ulimit")
	}
	env := baseEnv(t, t.TempDir())
	env["LOG_LEVEL"] = "info"
	env["MCP_HTTP_TOKEN"] = e2eToken
	cmd := exec.Command("sh", "-c", `ulimit -n 1024 && exec "$0" "$@"`, binPath, "http", "--listen", "127.0.0.1:0")
	p := awaitListening(t, runCmd(t, env, cmd))
	host := strings.TrimPrefix(p.base, "http://")

	conns := openSlowConns(t, "127.0.0.2", host, e2eToken, slowConns, false)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	time.Sleep(200 * time.Millisecond) // let the server take in the backlog

	start := time.Now()
	s := p.connect(t, headerTransport{hdr: bearer(e2eToken)}) // initialize, tools/list
	if d := time.Since(start); d > time.Second {
		t.Errorf("session and tools/list took %v under %d slow connections, want < 1s", d, slowConns)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start = time.Now()
	if _, err := s.session.ListTools(ctx, nil); err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("tools/list took %v, want < 1s", d)
	}

	// 256 are held (MCP_HTTP_MAX_CONNS_PER_IP); the rest are refused, once
	// the server has taken the backlog in.
	refused := 0
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		code, body := p.do(t, "GET", "/metrics", "", bearer(e2eToken), "")
		m := limitRejectionRE.FindStringSubmatch(body)
		if code != 200 || m == nil {
			t.Fatalf("/metrics: %d, no per-source rejection series", code)
		}
		refused, _ = strconv.Atoi(m[1])
		if refused >= slowConns-256-50 || time.Now().After(deadline) {
			break
		}
	}
	if refused < slowConns-256-50 {
		t.Errorf("per-source refusals = %d, want about %d", refused, slowConns-256)
	}
	// A held slow connection is still open (not yet past its timeouts).
	held := countOpen(conns)
	if held == 0 {
		t.Fatal("no slow connection is held: the test does not test shutdown with them open")
	}

	_ = s.session.Close()
	s.session = nil
	start = time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exit := p.wait(t, 30*time.Second)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("SIGTERM took %v with %d slow connections open, want < 2s", d, held)
	}
	if exit != 0 {
		t.Errorf("exit %d after SIGTERM, want 0", exit)
	}
	if strings.Contains(p.stderr.String(), "too many open files") {
		t.Errorf("the server ran out of descriptors:\n%s", p.stderr.String())
	}
}

var webhookLocalRE = regexp.MustCompile(`msg="webhook receiver listening" local_url=(http://\S+)`)

// TestWebhookTrustedProxiesThroughTheBinary: with nothing trusted, a
// client on loopback that rotates X-Forwarded-For is one source and runs
// into the rate limit; with CRYPTOPAY_TRUSTED_PROXIES naming loopback,
// each forwarded address is its own source.
func TestWebhookTrustedProxiesThroughTheBinary(t *testing.T) {
	for _, tc := range []struct {
		trusted   string
		wantLimit bool
	}{{"", true}, {"127.0.0.1/32,::1/128", false}} {
		t.Run("trusted="+tc.trusted, func(t *testing.T) {
			env := baseEnv(t, t.TempDir())
			env["LOG_LEVEL"] = "info"
			env["WEBHOOK_RATE_LIMIT"] = "1" // burst 2
			if tc.trusted != "" {
				env["CRYPTOPAY_TRUSTED_PROXIES"] = tc.trusted
			}
			p := startHTTP(t, env, "--listen", "127.0.0.1:0")
			var hook string
			for deadline := time.Now().Add(10 * time.Second); hook == ""; time.Sleep(20 * time.Millisecond) {
				if m := webhookLocalRE.FindStringSubmatch(p.stderr.String()); m != nil {
					hook = m[1]
				} else if time.Now().After(deadline) {
					t.Fatalf("no webhook receiver line:\n%s", p.stderr.String())
				}
			}
			limited := 0
			for i := range 6 {
				req, _ := http.NewRequest(http.MethodPost, hook, strings.NewReader(`{}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i+1))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				_ = resp.Body.Close()
				if resp.StatusCode == http.StatusTooManyRequests {
					limited++
				}
			}
			if got := limited > 0; got != tc.wantLimit {
				t.Errorf("%d of 6 deliveries rate-limited, want limited=%t", limited, tc.wantLimit)
			}
		})
	}
}

// TestHTTPSessionCap: past MCP_HTTP_MAX_SESSIONS a new session is refused
// with 503 and counted, while the open sessions go on.
func TestHTTPSessionCap(t *testing.T) {
	env := baseEnv(t, t.TempDir())
	env["LOG_LEVEL"] = "info"
	p := startHTTP(t, env, "--listen", "127.0.0.1:0", "--max-sessions", "2")
	a := p.connectWith(t, headerTransport{}, nil, "2025-11-25")
	p.connectWith(t, headerTransport{}, nil, "2025-11-25")
	code, body := p.do(t, "POST", "/mcp", initializeBody, mcpHeaders(nil), "")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "MCP_HTTP_MAX_SESSIONS") {
		t.Errorf("third session: %d %q, want 503 naming MCP_HTTP_MAX_SESSIONS", code, body)
	}
	// A 2026-07-28 client opens no session: the cap does not refuse it.
	p.connect(t, headerTransport{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := a.session.ListTools(ctx, nil); err != nil {
		t.Errorf("an open session after the refusal: %v", err)
	}
	_, metrics := p.do(t, "GET", "/metrics", "", nil, "")
	if !strings.Contains(metrics, `cryptopay_limit_rejections_total{limit="http_sessions_total"} 1`) {
		t.Errorf("refusal not counted:\n%s", metrics)
	}
}

// TestSlowWebhookConnectionsDoNotLockOut: 1,100 connections to the webhook
// port that announce a delivery and never send it no longer take the
// descriptors the whole process shares (1,024 here): the webhook listener
// holds at most 64 per source, and MCP over HTTP goes on.
func TestSlowWebhookConnectionsDoNotLockOut(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs Linux: all of 127.0.0.0/8 on loopback, and ulimit")
	}
	env := baseEnv(t, t.TempDir())
	env["LOG_LEVEL"] = "info"
	cmd := exec.Command("sh", "-c", `ulimit -n 1024 && exec "$0" "$@"`, binPath, "http", "--listen", "127.0.0.1:0")
	p := awaitListening(t, runCmd(t, env, cmd))
	var hook string
	for deadline := time.Now().Add(10 * time.Second); hook == ""; time.Sleep(20 * time.Millisecond) {
		if m := webhookLocalRE.FindStringSubmatch(p.stderr.String()); m != nil {
			hook = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no webhook receiver line:\n%s", p.stderr.String())
		}
	}
	host := strings.TrimPrefix(strings.TrimPrefix(hook, "http://"), "/")
	host, path, _ := strings.Cut(host, "/")

	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 5 * time.Second}
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for i := range slowConns {
		c, err := d.Dial("tcp", host)
		if err != nil {
			if i == 0 {
				t.Skipf("cannot dial from 127.0.0.2: %v", err)
			}
			continue
		}
		conns = append(conns, c)
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
		fmt.Fprintf(c, "POST /%s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{", path, host)
	}
	time.Sleep(200 * time.Millisecond)

	start := time.Now()
	p.connect(t, headerTransport{}) // initialize, tools/list
	if d := time.Since(start); d > time.Second {
		t.Errorf("session and tools/list took %v under %d slow webhook connections, want < 1s", d, slowConns)
	}
	// The server may still be taking the backlog in: give it time.
	held := countOpen(conns)
	for deadline := time.Now().Add(5 * time.Second); held > 64 && time.Now().Before(deadline); held = countOpen(conns) {
		time.Sleep(100 * time.Millisecond)
	}
	if held > 64 {
		t.Errorf("the webhook listener holds %d slow connections from one source, want at most 64", held)
	}
	_, body := p.do(t, "GET", "/metrics", "", nil, "")
	if !regexp.MustCompile(`cryptopay_limit_rejections_total\{limit="webhook_connections_per_source"\} [1-9]`).MatchString(body) {
		t.Error("refused webhook connections not counted")
	}
}
