package mcphttp

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// limitRecorder collects the limits a Handler or Listener reports.
type limitRecorder struct {
	mu sync.Mutex
	n  map[string]int
}

func (r *limitRecorder) observe(limit string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == nil {
		r.n = map[string]int{}
	}
	r.n[limit]++
}

func (r *limitRecorder) count(limit string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n[limit]
}

// startLimited serves h through a Listener with lim, as runHTTP does.
func startLimited(t *testing.T, h http.Handler, lim ConnLimits, rec *limitRecorder) (*httptest.Server, *Listener) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	ln := NewListener(srv.Listener, lim, rec.observe)
	srv.Listener = ln
	srv.Config.ConnContext = ln.ConnContext
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, ln
}

// readAllBounded reads c to its end, failing the test if that takes
// longer than within (the connection was not closed).
func readAllBounded(t *testing.T, c net.Conn, within time.Duration) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(within))
	b, err := io.ReadAll(c)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("connection still open after %v (read %q)", within, b)
		}
	}
	return string(b)
}

// TestSlowBodyClosedOnEveryPath: a client that announces a body and never
// sends it loses its connection on every path, answered or not, with the
// token or without; the old code held it forever (the deadline covered
// only authorised /mcp POSTs and lifted itself when it fired, and
// net/http then waited for the unread body with no deadline).
func TestSlowBodyClosedOnEveryPath(t *testing.T) {
	const bodyTO = 300 * time.Millisecond
	rec := &limitRecorder{}
	readsBody := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	h, err := New(Options{MCP: readsBody, Config: Config{Token: testToken}, Addr: testAddr("127.0.0.1:8080"),
		BodyReadTimeout: bodyTO, Observe: rec.observe})
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := startLimited(t, h, ConnLimits{}, rec)
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, tc := range []struct{ method, path, auth string }{
		{"POST", "/mcp", "Bearer " + testToken},
		{"POST", "/mcp", ""},
		{"POST", "/mcp", "Bearer wrong"},
		{"GET", "/mcp", ""},
		{"DELETE", "/mcp", ""},
		{"OPTIONS", "/mcp", ""},
		{"POST", "/metrics", "Bearer " + testToken},
		{"GET", "/healthz", ""},
		{"POST", "/readyz", ""},
		{"PUT", "/nowhere", ""},
	} {
		t.Run(tc.method+tc.path+map[bool]string{true: "+auth"}[tc.auth != ""], func(t *testing.T) {
			t.Parallel()
			c, err := net.Dial("tcp", host)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			hdr := ""
			if tc.auth != "" {
				hdr = "Authorization: " + tc.auth + "\r\n"
			}
			fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: %s\r\n%sContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 1000\r\n\r\n{", tc.method, tc.path, host, hdr)
			start := time.Now()
			readAllBounded(t, c, 5*time.Second)
			if d := time.Since(start); d > bodyTO+unreadBodyGrace+time.Second {
				t.Errorf("closed after %v, want about %v", d, bodyTO)
			}
		})
	}
	t.Cleanup(func() {
		// Only the handler that reads the body counts a body timeout; the
		// rest are closed with the unread body.
		if got := rec.count(LimitBodyTimeout); got != 1 {
			t.Errorf("%s counted %d times, want 1", LimitBodyTimeout, got)
		}
	})
}

// dialFrom connects to addr from a loopback source address, skipping the
// test where the system has no such address (Linux routes all of
// 127.0.0.0/8 to lo).
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		if src != "127.0.0.1" {
			t.Skipf("cannot dial from %s: %v", src, err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// status sends GET /healthz on c (keep-alive) and returns the status line.
func status(t *testing.T, c net.Conn, host string) string {
	t.Helper()
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", host)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "error: " + err.Error()
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.Status
}

// TestConnLimits: connections past the per-source cap or the total cap
// are answered 503 and closed, and counted; a closed connection frees its
// slot.
func TestConnLimits(t *testing.T) {
	rec := &limitRecorder{}
	h, err := New(Options{MCP: http.NotFoundHandler(), Addr: testAddr("127.0.0.1:8080")})
	if err != nil {
		t.Fatal(err)
	}
	srv, ln := startLimited(t, h, ConnLimits{Max: 3, MaxPerSource: 2}, rec)
	addr := srv.Listener.Addr().String()
	host := addr

	a1, a2 := dialFrom(t, "127.0.0.1", addr), dialFrom(t, "127.0.0.1", addr)
	for _, c := range []net.Conn{a1, a2} {
		if got := status(t, c, host); got != "200 OK" {
			t.Fatalf("first two from one source: %s", got)
		}
	}
	if got := status(t, dialFrom(t, "127.0.0.1", addr), host); got != "503 Service Unavailable" {
		t.Errorf("third from one source: %s, want 503", got)
	}
	if got := status(t, dialFrom(t, "127.0.0.2", addr), host); got != "200 OK" {
		t.Errorf("another source: %s", got)
	}
	if got := status(t, dialFrom(t, "127.0.0.3", addr), host); got != "503 Service Unavailable" {
		t.Errorf("fourth connection in all: %s, want 503", got)
	}
	if got, want := []int{rec.count(LimitConnsPerSource), rec.count(LimitConnsTotal)}, []int{1, 1}; !cmp.Equal(got, want) {
		t.Errorf("per source, total refusals = %v, want %v", got, want)
	}
	_ = a1.Close()
	for deadline := time.Now().Add(5 * time.Second); ln.Open() > 2; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("a closed connection still counts: %d open", ln.Open())
		}
	}
	if got := status(t, dialFrom(t, "127.0.0.3", addr), host); got != "200 OK" {
		t.Errorf("after a close: %s", got)
	}
}

// TestSourceOf: IPv4 addresses count one by one, IPv6 by /64, and an
// IPv4-mapped address as the IPv4 address.
func TestSourceOf(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"192.0.2.7:1234", "192.0.2.7/32"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[::ffff:192.0.2.7]:80", "192.0.2.7/32"},
	} {
		a, err := net.ResolveTCPAddr("tcp", tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := sourceOf(a).String(); got != tc.want {
			t.Errorf("sourceOf(%s) = %s, want %s", tc.addr, got, tc.want)
		}
	}
}

// TestCutReads: at shutdown, connections sending their header or body
// slowly are disconnected at once, while a request being served finishes
// with its context intact.
func TestCutReads(t *testing.T) {
	rec := &limitRecorder{}
	entered, release := make(chan struct{}), make(chan struct{})
	ctxErr := make(chan error, 1)
	mcpH := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "body", http.StatusBadRequest)
			return
		}
		if string(b) == "serve" {
			close(entered)
			<-release
			ctxErr <- r.Context().Err()
		}
		_, _ = w.Write([]byte("done"))
	})
	h, err := New(Options{MCP: mcpH, Addr: testAddr("127.0.0.1:8080"), BodyReadTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	srv, ln := startLimited(t, h, ConnLimits{}, rec)
	host := strings.TrimPrefix(srv.URL, "http://")

	serving := dialFrom(t, "127.0.0.1", host)
	fmt.Fprintf(serving, "POST /mcp HTTP/1.1\r\nHost: %s\r\nContent-Length: 5\r\n\r\nserve", host)
	<-entered
	slowHeader := dialFrom(t, "127.0.0.1", host)
	fmt.Fprintf(slowHeader, "GET /healthz HTTP/1.1\r\nHost: ")
	slowBody := dialFrom(t, "127.0.0.1", host)
	fmt.Fprintf(slowBody, "POST /mcp HTTP/1.1\r\nHost: %s\r\nContent-Length: 100\r\n\r\n{", host)
	for deadline := time.Now().Add(5 * time.Second); ln.Open() < 3; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections open, want 3", ln.Open())
		}
	}
	time.Sleep(50 * time.Millisecond) // the slow requests are being read

	ln.CutReads()
	readAllBounded(t, slowHeader, 2*time.Second)
	readAllBounded(t, slowBody, 2*time.Second)

	close(release)
	if err := <-ctxErr; err != nil {
		t.Errorf("the request being served lost its context: %v", err)
	}
	_ = serving.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(serving), nil)
	if err != nil {
		t.Fatalf("the request being served got no response: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(b) != "done" {
		t.Errorf("served request: %d %q", resp.StatusCode, b)
	}
}

func TestLoadLimits(t *testing.T) {
	def := DefaultLimits()
	for _, tc := range []struct {
		name     string
		env      map[string]string
		args     []string
		want     func(*Limits)
		problems []string
	}{
		{name: "defaults", want: func(*Limits) {}},
		{name: "env", env: map[string]string{EnvMaxConns: "100", EnvMaxConnsPerIP: "0", EnvHeaderTimeout: "5s", EnvBodyTimeout: "1m",
			EnvIdleTimeout: "30s", EnvMaxSessions: "10", EnvSessionIdleTimeout: "2m"},
			want: func(l *Limits) {
				*l = Limits{MaxConns: 100, HeaderTimeout: 5 * time.Second, BodyTimeout: time.Minute, IdleTimeout: 30 * time.Second,
					MaxSessions: 10, SessionIdle: 2 * time.Minute}
			}},
		{name: "flag wins", env: map[string]string{EnvMaxConns: "100"}, args: []string{"--max-conns", "7", "--session-idle-timeout", "90s"},
			want: func(l *Limits) { l.MaxConns, l.SessionIdle = 7, 90*time.Second }},
		{name: "bad values", env: map[string]string{EnvMaxConns: "-1", EnvBodyTimeout: "soon", EnvSessionIdleTimeout: "10ms"},
			args: []string{"--max-conns-per-ip", "x"},
			problems: []string{
				`MCP_HTTP_MAX_CONNS: "-1" must be a whole number from 0 (no limit) to 1000000`,
				`--max-conns-per-ip: "x" must be a whole number from 0 (no limit) to 1000000`,
				`MCP_HTTP_BODY_TIMEOUT: "soon" must be a duration from 100ms to 24h, e.g. 30s or 10m`,
				`MCP_HTTP_SESSION_IDLE_TIMEOUT: "10ms" must be a duration from 1s to 24h, e.g. 30s or 10m`,
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("http", flag.ContinueOnError)
			f := BindLimitFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			got, err := LoadLimits(env(tc.env), f)
			if tc.problems != nil {
				var p Problems
				if !errors.As(err, &p) {
					t.Fatalf("err = %v, want problems", err)
				}
				if diff := cmp.Diff(tc.problems, []string(p)); diff != "" {
					t.Errorf("problems (-want +got):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := def
			tc.want(&want)
			if got != want {
				t.Errorf("got %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestSessionCap: a request that would open a session past MaxSessions is
// refused with 503 and counted; requests of open sessions pass.
func TestSessionCap(t *testing.T) {
	rec := &limitRecorder{}
	open := 2
	h, err := New(Options{MCP: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }),
		Addr: testAddr("127.0.0.1:8080"), Observe: rec.observe, MaxSessions: 2, Sessions: func() int { return open }})
	if err != nil {
		t.Fatal(err)
	}
	post := func(session string) int {
		hdr := map[string]string{}
		if session != "" {
			hdr["Mcp-Session-Id"] = session
		}
		return serve(h, request(http.MethodPost, "/mcp", "localhost", "127.0.0.1:8080", hdr)).Code
	}
	if got := post(""); got != http.StatusServiceUnavailable {
		t.Errorf("new session at the cap: %d, want 503", got)
	}
	if got := post("abc"); got != http.StatusOK {
		t.Errorf("request of an open session: %d, want 200", got)
	}
	if got := serve(h, request(http.MethodDelete, "/mcp", "localhost", "127.0.0.1:8080", nil)).Code; got != http.StatusOK {
		t.Errorf("DELETE at the cap: %d, want it passed on", got)
	}
	open = 1
	if got := post(""); got != http.StatusOK {
		t.Errorf("new session under the cap: %d, want 200", got)
	}
	if got := rec.count(LimitSessions); got != 1 {
		t.Errorf("%s counted %d, want 1", LimitSessions, got)
	}
}

func TestDefaultMaxConns(t *testing.T) {
	for _, tc := range []struct {
		nofile uint64
		want   int
	}{{0, 1024}, {1024, 512}, {20000, 4096}, {1 << 20, 4096}, {1<<64 - 1, 4096}, {10, 16}} {
		if got := maxConnsFor(tc.nofile); got != tc.want {
			t.Errorf("maxConnsFor(%d) = %d, want %d", tc.nofile, got, tc.want)
		}
	}
}

// TestLimitedConnCloseWrite: the wrapper keeps TCP's half-close, which
// net/http uses so that a client still sending reads its response rather
// than a reset.
func TestLimitedConnCloseWrite(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := NewListener(raw, ConnLimits{}, nil)
	defer ln.Close()
	client, err := net.Dial("tcp", raw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cw, ok := c.(interface{ CloseWrite() error })
	if !ok {
		t.Fatal("the accepted connection has no CloseWrite")
	}
	if _, err := c.Write([]byte("bye")); err != nil {
		t.Fatal(err)
	}
	if err := cw.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if got := readAllBounded(t, client, 2*time.Second); got != "bye" {
		t.Errorf("client read %q, want bye then EOF", got)
	}
	// The other direction still works.
	if _, err := client.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.ReadFull(c, b); err != nil || b[0] != 'x' {
		t.Errorf("read after half-close: %q %v", b, err)
	}
}
