package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/access"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/config"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/mcphttp"
)

// BenchmarkHostedToolCall is the CPU cost of one 2026-07-28 tools/call of
// a cached read (list_currencies_catalog) through the whole HTTP handler of
// `cryptopay-mcp http` (mcphttp.Handler, the revision router, metrics and
// access middleware, the tool) against a bare go-sdk stateless handler that
// answers with the same result bytes, in process (no sockets), so that the
// difference is our code's and not the machine's load. The wrk figures of
// docs/benchmarks-http.md measure the same path over TCP. Profile with
//
//	go test -run '^$' -bench HostedToolCall -cpuprofile cpu.out ./cmd/cryptopay-mcp/
func BenchmarkHostedToolCall(b *testing.B) {
	product, answer := productHandler(b)
	bare := bareHandler(b, answer)
	for _, tc := range []struct {
		name string
		h    http.Handler
	}{{"product", product}, {"bare", bare}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if w := hostedCall(tc.h); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"structuredContent"`) {
						b.Errorf("HTTP %d %.200s", w.Code, w.Body.String())
						return
					}
				}
			})
		})
	}
}

const hostedBody = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_currencies_catalog","arguments":{},` +
	`"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`

func hostedCall(h http.Handler) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", "http://127.0.0.1:8080/mcp", strings.NewReader(hostedBody))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/json, text/event-stream")
	r.Header.Set("Mcp-Protocol-Version", "2026-07-28")
	r.Header.Set("Mcp-Method", "tools/call")
	r.Header.Set("Mcp-Name", "list_currencies_catalog")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// productHandler builds what runHTTP serves (sandbox, default mode) and
// returns it with the result of one call (which warms the catalog cache).
func productHandler(b *testing.B) (http.Handler, *mcp.CallToolResult) {
	b.Helper()
	env := map[string]string{"CRYPTOPAY_SANDBOX": "true", "CRYPTOPAY_DATA_DIR": b.TempDir(), "LOG_LEVEL": "warn", "HOME": b.TempDir()}
	getenv := func(k string) string { return env[k] }
	cfg, err := config.Load(getenv, config.Flags{})
	if err != nil {
		b.Fatal(err)
	}
	a, code := newApp(context.Background(), cfg, io.Discard, appOptions{anonymous: access.Caller{Kind: access.KindAnonymous, Scopes: access.AllScopes()}, getenv: getenv})
	if a == nil {
		b.Fatalf("newApp: exit %d", code)
	}
	b.Cleanup(a.Close)
	a.server.AddReceivingMiddleware(a.metrics.MCPMiddleware())
	hc, err := mcphttp.LoadConfig(getenv, "127.0.0.1:8080", false)
	if err != nil {
		b.Fatal(err)
	}
	h, err := mcphttp.New(mcphttp.Options{
		MCP:    mcphttp.NewMCPHandler(func(*http.Request) *mcp.Server { return a.server }, mcphttp.MCPOptions{Logger: a.log}),
		Config: hc, Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}, Metrics: a.metrics, Logger: a.log,
	})
	if err != nil {
		b.Fatal(err)
	}
	w := hostedCall(h)
	data, ok := strings.CutPrefix(strings.TrimSpace(w.Body.String()), "event: message\ndata: ")
	var msg struct{ Result *mcp.CallToolResult }
	if !ok || json.Unmarshal([]byte(data), &msg) != nil || msg.Result == nil || msg.Result.IsError {
		b.Fatalf("first call: HTTP %d %.300s", w.Code, w.Body.String())
	}
	// Raw, as the product hands it over: the bare handler must not pay for
	// encoding a decoded map on every call.
	sc, err := json.Marshal(msg.Result.StructuredContent)
	if err != nil {
		b.Fatal(err)
	}
	msg.Result.StructuredContent = json.RawMessage(sc)
	return h, msg.Result
}

// bareHandler is bench/http/bare in process: the go-sdk's stateless
// handler and one tool answering res.
func bareHandler(b *testing.B, res *mcp.CallToolResult) http.Handler {
	b.Helper()
	s := mcp.NewServer(&mcp.Implementation{Name: "bare", Version: "0"}, nil)
	s.AddTool(&mcp.Tool{Name: "list_currencies_catalog", InputSchema: map[string]any{"type": "object"}},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			r := *res
			return &r, nil
		})
	return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, &mcp.StreamableHTTPOptions{Stateless: true})
}
