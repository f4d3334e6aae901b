package mcphttp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestSessionIdleCountsTheStream: a client that holds its GET stream open
// (waiting for resources/updated) and sends nothing keeps its session past
// the idle timeout; a session with no request open is closed after it.
func TestSessionIdleCountsTheStream(t *testing.T) {
	const idle = 300 * time.Millisecond
	s := testMCPServer(t)
	h := NewMCPHandler(func(*http.Request) *mcp.Server { return s }, MCPOptions{SessionTimeout: idle})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	// A 2025-11-25 Go SDK client opens the standalone GET stream after
	// initialize.
	client := mcp.NewClient(&mcp.Implementation{Name: "listener", Version: "0"}, nil)
	cs, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: srv.URL}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close() })

	// A bare session: initialize, then nothing open.
	post := func(session, body string) *http.Response {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if session != "" {
			req.Header.Set("Mcp-Session-Id", session)
			req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp
	}
	bare := post("", initialize).Header.Get("Mcp-Session-Id")
	if bare == "" {
		t.Fatal("initialize opened no session")
	}
	post(bare, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)

	time.Sleep(4 * idle)
	open := 0
	for range s.Sessions() {
		open++
	}
	if open != 1 {
		t.Errorf("%d server sessions after the idle time, want 1 (the listening one)", open)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{}}); err != nil {
		t.Fatalf("the listening session was closed while its stream was open: %v", err)
	}
	if code := post(bare, `{"jsonrpc":"2.0","id":9,"method":"tools/list"}`).StatusCode; code != http.StatusNotFound {
		t.Fatalf("idle session without a stream: HTTP %d, want 404 (closed)", code)
	}
}
