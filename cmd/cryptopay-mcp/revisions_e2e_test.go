package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The MCP revisions `cryptopay-mcp http` serves on one URL.
const (
	rev2025 = "2025-11-25"
	rev2026 = "2026-07-28"
)

// meta2026 is the _meta of a hand-written 2026-07-28 request.
const meta2026 = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`

func headers2026(method string) map[string]string {
	return mcpHeaders(map[string]string{"Mcp-Protocol-Version": rev2026, "Mcp-Method": method})
}

// TestHTTPBothRevisions: the default `http` mode serves a 2026-07-28
// client (no session) and a 2025-11-25 client (a session) on the same URL,
// through the same tools and metrics.
func TestHTTPBothRevisions(t *testing.T) {
	p := startHTTP(t, baseEnv(t, t.TempDir()), "--listen", "127.0.0.1:0")
	for _, tc := range []struct {
		ask, want   string
		wantSession bool
	}{
		{ask: "", want: rev2026},                         // the Go SDK's default
		{ask: rev2025, want: rev2025, wantSession: true}, // as the TypeScript SDK 1.32 does
	} {
		s := p.connectWith(t, headerTransport{}, nil, tc.ask)
		if got := s.session.InitializeResult().ProtocolVersion; got != tc.want {
			t.Errorf("asked for %q: negotiated %s, want %s", tc.ask, got, tc.want)
		}
		if got := s.session.ID() != ""; got != tc.wantSession {
			t.Errorf("%s: has a session: %v, want %v", tc.want, got, tc.wantSession)
		}
		payLinkAndStatus(t, s)
	}
	code, metrics := p.do(t, "GET", "/metrics", "", nil, "")
	if want := `cryptopay_tool_calls_total{code="OK",outcome="ok",tool="create_payment_link"} 2`; code != 200 || !strings.Contains(metrics, want+"\n") {
		t.Errorf("/metrics (%d) lacks %s: both revisions count in the same registry", code, want)
	}

	// A hand-written 2026-07-28 list: no session, cache hints.
	code, body := p.do(t, "POST", "/mcp", `{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{`+meta2026+`}}`, headers2026("tools/list"), "")
	if code != http.StatusOK || !strings.Contains(body, `"ttlMs":300000`) || !strings.Contains(body, `"cacheScope":"private"`) ||
		!strings.Contains(body, `"create_payment_link"`) {
		t.Errorf("2026-07-28 tools/list: %d %.300s", code, body)
	}
	// _meta without the MCP-Protocol-Version header is refused as such
	// (-32020), not served as a session-less 2025-11-25 request.
	code, body = p.do(t, "POST", "/mcp", `{"jsonrpc":"2.0","id":8,"method":"tools/list","params":{`+meta2026+`}}`, mcpHeaders(nil), "")
	if code != http.StatusBadRequest || !strings.Contains(body, "-32020") {
		t.Errorf("2026-07-28 _meta without the header: %d %.300s", code, body)
	}
}

// TestHTTPListenPaymentUpdates: a 2026-07-28 client's subscriptions/listen
// gets the payment's notifications/resources/updated from the webhook, the
// acknowledgement names only the URIs the server can honor, and an open
// listen stream does not hold up a graceful shutdown.
func TestHTTPListenPaymentUpdates(t *testing.T) {
	p := startHTTP(t, baseEnv(t, t.TempDir()), "--listen", "127.0.0.1:0")
	var mu sync.Mutex
	var updated []string
	gotUpdate := make(chan struct{}, 16)
	s := p.connectWith(t, headerTransport{}, &mcp.ClientOptions{
		ResourceUpdatedHandler: func(_ context.Context, r *mcp.ResourceUpdatedNotificationRequest) {
			mu.Lock()
			updated = append(updated, r.Params.URI)
			mu.Unlock()
			gotUpdate <- struct{}{}
		},
	}, "")
	if v := s.session.InitializeResult().ProtocolVersion; v != rev2026 {
		t.Fatalf("negotiated %s", v)
	}
	waitTunnel(t, s)
	var link struct {
		Identifier string `json:"identifier"`
		WebURL     string `json:"web_url"`
	}
	s.ok(t, "create_payment_link", map[string]any{"amount_eur": 9, "include_qr": false}, &link)
	uri := "bitnovo://payments/" + link.Identifier

	// By hand: the acknowledgement comes first, tagged with the request id,
	// and honors the payment URI but not one this server cannot update.
	req, err := http.NewRequest("POST", p.mcpURL, strings.NewReader(`{"jsonrpc":"2.0","id":"listen-1","method":"subscriptions/listen","params":{`+
		meta2026+`,"notifications":{"resourceSubscriptions":["`+uri+`","file:///etc/passwd"]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers2026("subscriptions/listen") {
		req.Header.Set(k, v)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ack struct {
		Method string `json:"method"`
		Params struct {
			Meta          map[string]any `json:"_meta"`
			Notifications struct {
				ResourceSubscriptions []string `json:"resourceSubscriptions"`
			} `json:"notifications"`
		} `json:"params"`
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			if err := json.Unmarshal([]byte(data), &ack); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if ack.Method != "notifications/subscriptions/acknowledged" || ack.Params.Meta["io.modelcontextprotocol/subscriptionId"] != "listen-1" ||
		len(ack.Params.Notifications.ResourceSubscriptions) != 1 || ack.Params.Notifications.ResourceSubscriptions[0] != uri {
		t.Fatalf("first message on the listen stream: %+v (HTTP %d)", ack, resp.StatusCode)
	}
	cancel()

	// Through the Go SDK client: Subscribe opens a listen stream.
	if err := s.session.Subscribe(context.Background(), &mcp.SubscribeParams{URI: uri}); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	simulate(t, link.WebURL, "pay")
	select {
	case <-gotUpdate:
	case <-time.After(20 * time.Second):
		t.Fatalf("no notifications/resources/updated within 20 s:\n%s", p.stderr.String())
	}
	mu.Lock()
	if updated[0] != uri {
		t.Errorf("updated %v, want %s", updated, uri)
	}
	mu.Unlock()

	// The listen stream is still open: SIGTERM must not wait the 25 s
	// grace period for it as for a tool call in flight.
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM:\n%s", code, p.stderr.String())
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("shutdown took %v with a listen stream open", d)
	}
}

// TestHTTPErrorCodesAndIDs: through the built binary's default `http`
// mode, a 2025-11-25 call before initialize is answered -32600 with its
// own id (main: code 0), and a request whose id the go-sdk would answer
// with another (1.5 as 1) gets 400 with -32600 and id null, on both
// revisions (main: answered with id 1).
func TestHTTPErrorCodesAndIDs(t *testing.T) {
	p := startHTTP(t, baseEnv(t, t.TempDir()), "--listen", "127.0.0.1:0")
	type answer struct {
		ID    json.RawMessage `json:"id"`
		Error *struct {
			Code int64 `json:"code"`
		} `json:"error"`
	}
	decode := func(body string) answer {
		var a answer
		// An event stream: the message is the last non-empty data line.
		for line := range strings.Lines(body) {
			if data, ok := strings.CutPrefix(strings.TrimSpace(line), "data: "); ok {
				body = data
			}
		}
		if err := json.Unmarshal([]byte(body), &a); err != nil {
			t.Fatalf("answer %q: %v", body, err)
		}
		return a
	}
	code, body := p.do(t, "POST", "/mcp", `{"jsonrpc":"2.0","id":"before-init","method":"tools/list"}`,
		mcpHeaders(map[string]string{"Mcp-Protocol-Version": rev2025}), "")
	if a := decode(body); code != http.StatusOK || a.Error == nil || a.Error.Code != -32600 || string(a.ID) != `"before-init"` {
		t.Errorf("call before initialize: HTTP %d %s", code, body)
	}
	for _, req := range []struct {
		body string
		hdr  map[string]string
	}{
		{`{"jsonrpc":"2.0","id":1.5,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}`, mcpHeaders(nil)},
		{`{"jsonrpc":"2.0","id":99999999999999999999,"method":"tools/list","params":{` + meta2026 + `}}`, headers2026("tools/list")},
	} {
		code, body := p.do(t, "POST", "/mcp", req.body, req.hdr, "")
		if a := decode(body); code != http.StatusBadRequest || a.Error == nil || a.Error.Code != -32600 || string(a.ID) != "null" {
			t.Errorf("%s: HTTP %d %s, want 400 with -32600 and id null", req.body, code, body)
		}
	}
}
