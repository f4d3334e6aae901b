package mcphttp

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

const (
	meta2026   = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`
	initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}`
)

func testMCPServer(t *testing.T) *mcp.Server {
	t.Helper()
	s := mcp.NewServer(&mcp.Implementation{Name: "t", Version: "0"}, nil)
	s.AddTool(&mcp.Tool{Name: "echo", InputSchema: map[string]any{"type": "object"}},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "hi"}}}, nil
		})
	t.Cleanup(func() {
		for ss := range s.Sessions() {
			_ = ss.Close()
		}
	})
	return s
}

func TestRevisionRouter(t *testing.T) {
	s := testMCPServer(t)
	get := func(*http.Request) *mcp.Server { return s }
	for _, tc := range []struct {
		name        string
		stateless   bool
		body        string
		hdr         map[string]string
		wantCode    int
		wantSession bool   // an Mcp-Session-Id in the answer: the session handler served it
		wantBody    string // substring
	}{
		{name: "initialize opens a session", body: initialize, wantCode: 200, wantSession: true, wantBody: `"protocolVersion":"2025-11-25"`},
		{name: "2026-07-28 request without a session", body: `{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{` + meta2026 + `}}`,
			hdr: map[string]string{"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/list"}, wantCode: 200, wantBody: `"echo"`},
		{name: "2026-07-28 server/discover", body: `{"jsonrpc":"2.0","id":3,"method":"server/discover","params":{` + meta2026 + `}}`,
			hdr: map[string]string{"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "server/discover"}, wantCode: 200, wantBody: `"supportedVersions"`},
		{name: "_meta without the header", body: `{"jsonrpc":"2.0","id":4,"method":"tools/list","params":{` + meta2026 + `}}`,
			wantCode: 400, wantBody: `-32020`},
		{name: "unknown future version", body: `{"jsonrpc":"2.0","id":5,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2099-01-01","io.modelcontextprotocol/clientCapabilities":{}}}}`,
			hdr: map[string]string{"Mcp-Protocol-Version": "2099-01-01", "Mcp-Method": "tools/list"}, wantCode: 400, wantBody: `-32022`},
		{name: "stateless mode: no session", stateless: true, body: initialize, wantCode: 200, wantBody: `"protocolVersion":"2025-11-25"`},
		{name: "stateless mode serves 2026-07-28", stateless: true, body: `{"jsonrpc":"2.0","id":6,"method":"tools/list","params":{` + meta2026 + `}}`,
			hdr: map[string]string{"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/list"}, wantCode: 200, wantBody: `"echo"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rr := NewMCPHandler(get, MCPOptions{Stateless: tc.stateless})
			r := httptest.NewRequest("POST", "/mcp", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Accept", "application/json, text/event-stream")
			for k, v := range tc.hdr {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			rr.ServeHTTP(w, r)
			if w.Code != tc.wantCode || !strings.Contains(w.Body.String(), tc.wantBody) {
				t.Errorf("HTTP %d %q, want %d with %s", w.Code, w.Body.String(), tc.wantCode, tc.wantBody)
			}
			if got := w.Header().Get("Mcp-Session-Id") != ""; got != tc.wantSession {
				t.Errorf("session id %q, want one: %v", w.Header().Get("Mcp-Session-Id"), tc.wantSession)
			}
		})
	}
}

func TestRevisionRouterBodyLimit(t *testing.T) {
	rr := NewMCPHandler(func(*http.Request) *mcp.Server { return testMCPServer(t) }, MCPOptions{MaxRequestBodyBytes: 64})
	r := httptest.NewRequest("POST", "/mcp", strings.NewReader(initialize))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	rr.ServeHTTP(w, r)
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("HTTP %d, want 413", w.Code)
	}
}

func TestCarriesRequestMeta(t *testing.T) {
	for body, want := range map[string]bool{
		`{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{` + meta2026 + `}}`:            true,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{"progressToken":1}}}`: false,
		initialize: false,
		`[{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{` + meta2026 + `}}]`: false, // a batch: 2025-03-26 traffic
		`not json`: false,
	} {
		if got := carriesRequestMeta([]byte(body)); got != want {
			t.Errorf("carriesRequestMeta(%s) = %v, want %v", body, got, want)
		}
	}
}

func TestIsStream(t *testing.T) {
	for _, tc := range []struct {
		method, mcpMethod string
		want              bool
	}{
		{"GET", "", true},
		{"POST", "subscriptions/listen", true},
		{"POST", "tools/call", false},
		{"POST", "", false},
		{"DELETE", "", false},
	} {
		r := httptest.NewRequest(tc.method, "/mcp", nil)
		if tc.mcpMethod != "" {
			r.Header.Set("Mcp-Method", tc.mcpMethod)
		}
		if got := IsStream(r); got != tc.want {
			t.Errorf("IsStream(%s %s) = %v, want %v", tc.method, tc.mcpMethod, got, tc.want)
		}
	}
}

// TestCallBeforeInitializeIsCoded: over HTTP, a 2025-11-25 call sent
// before initialize is answered with -32600 and its own id; main answered
// code 0 (the go-sdk's "invalid during session initialization" has none).
func TestCallBeforeInitializeIsCoded(t *testing.T) {
	s := testMCPServer(t)
	for _, stateless := range []bool{false, true} {
		rr := NewMCPHandler(func(*http.Request) *mcp.Server { return s }, MCPOptions{Stateless: stateless})
		for _, tc := range []struct {
			name, body, wantID string
		}{
			{"integer id", `{"jsonrpc":"2.0","id":7,"method":"tools/list"}`, `7`},
			{"string id", `{"jsonrpc":"2.0","id":"a<&>","method":"tools/call","params":{"name":"echo"}}`, `"a<&>"`},
		} {
			r := httptest.NewRequest("POST", "/mcp", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Accept", "application/json, text/event-stream")
			r.Header.Set("Mcp-Protocol-Version", Revision20251125)
			w := httptest.NewRecorder()
			rr.ServeHTTP(w, r)
			if stateless {
				// Sessionless: no initialize needed, the call is served.
				if w.Code != 200 || strings.Contains(w.Body.String(), `"error"`) {
					t.Errorf("stateless %s: HTTP %d %q", tc.name, w.Code, w.Body.String())
				}
				continue
			}
			var msg struct {
				ID    json.RawMessage `json:"id"`
				Error *struct {
					Code    int64  `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			data, ok := strings.CutPrefix(strings.TrimSpace(w.Body.String()), "event: message\ndata: ")
			if !ok || json.Unmarshal([]byte(data), &msg) != nil || msg.Error == nil {
				t.Fatalf("%s: HTTP %d %q: want one error event", tc.name, w.Code, w.Body.String())
			}
			if msg.Error.Code != jsonrpc.CodeInvalidRequest || string(msg.ID) != tc.wantID || !strings.Contains(msg.Error.Message, "initialization") {
				t.Errorf("%s: id %s code %d %q, want id %s code -32600", tc.name, msg.ID, msg.Error.Code, msg.Error.Message, tc.wantID)
			}
		}
	}
}

// TestRecodeWriter: the writer fixes codeless errors in whole JSON bodies
// and in each event of a stream, keeps flushing, and passes everything
// else through byte for byte.
func TestRecodeWriter(t *testing.T) {
	const (
		code0  = `{"jsonrpc":"2.0","id":3,"error":{"code":0,"message":"boom"}}`
		coded  = `{"error":{"code":-32603,"message":"boom"},"id":3,"jsonrpc":"2.0"}`
		result = `{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"{\"error\":{\"code\":0,"}]}}`
	)
	tests := []struct {
		name, contentType string
		writes            []string
		want              string
	}{
		{"json body", "application/json", []string{code0}, coded},
		{"event stream", "text/event-stream", []string{"event: message\nid: 1\ndata: " + code0 + "\n\n", "event: message\ndata: " + result + "\n\n"},
			"event: message\nid: 1\ndata: " + coded + "\n\n" + "event: message\ndata: " + result + "\n\n"},
		{"plain text untouched", "text/plain; charset=utf-8", []string{"session not found\n"}, "session not found\n"},
		{"result untouched", "application/json", []string{result}, result},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			w := recodeWriter{rec}
			w.Header().Set("Content-Type", tt.contentType)
			for _, s := range tt.writes {
				if n, err := w.Write([]byte(s)); err != nil || n != len(s) {
					t.Fatalf("Write = %d, %v; want %d", n, err, len(s))
				}
				if err := http.NewResponseController(w).Flush(); err != nil {
					t.Fatalf("flush through the writer: %v", err)
				}
			}
			if got := rec.Body.String(); got != tt.want {
				t.Errorf("body\n%q\nwant\n%q", got, tt.want)
			}
			if !rec.Flushed {
				t.Error("not flushed")
			}
		})
	}
}

// TestHTTPIDsComeBackUnchanged: over HTTP, on both revisions and in both
// modes, a request's id comes back as sent, or the request is refused with
// -32600 and id null; main answered an id of 1.5 as 1 and one past int64
// as -9223372036854775808 (the go-sdk makes ids int64 through float64).
func TestHTTPIDsComeBackUnchanged(t *testing.T) {
	s := testMCPServer(t)
	init2025 := func(id string) string {
		return `{"jsonrpc":"2.0","id":` + id + `,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}`
	}
	list2026 := func(id string) string {
		return `{"jsonrpc":"2.0","id":` + id + `,"method":"tools/list","params":{` + meta2026 + `}}`
	}
	h2026 := map[string]string{"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/list"}
	tests := []struct {
		id    string
		valid bool
	}{
		{`7`, true}, {`-9007199254740991`, true}, {`"1.5"`, true}, {`"x\"y"`, true},
		{`1.5`, false}, {`1e2`, false}, {`-0.0`, false}, {`9007199254740992`, false},
		{`99999999999999999999`, false}, {`{"a":1}`, false}, {`[1]`, false}, {`true`, false},
	}
	for _, stateless := range []bool{false, true} {
		rr := NewMCPHandler(func(*http.Request) *mcp.Server { return s }, MCPOptions{Stateless: stateless})
		for _, tt := range tests {
			for _, req := range []struct {
				body string
				hdr  map[string]string
			}{{init2025(tt.id), nil}, {list2026(tt.id), h2026}} {
				r := httptest.NewRequest("POST", "/mcp", strings.NewReader(req.body))
				r.Header.Set("Content-Type", "application/json")
				r.Header.Set("Accept", "application/json, text/event-stream")
				for k, v := range req.hdr {
					r.Header.Set(k, v)
				}
				w := httptest.NewRecorder()
				rr.ServeHTTP(w, r)
				got := w.Body.String()
				if tt.valid {
					if w.Code != 200 || !strings.Contains(got, `"id":`+tt.id+`,"result"`) {
						t.Errorf("stateless=%v %s: HTTP %d %.200q, want the id back", stateless, req.body, w.Code, got)
					}
					continue
				}
				var msg struct {
					ID    json.RawMessage `json:"id"`
					Error struct{ Code int64 }
				}
				if w.Code != http.StatusBadRequest || json.Unmarshal(w.Body.Bytes(), &msg) != nil ||
					string(msg.ID) != "null" || msg.Error.Code != jsonrpc.CodeInvalidRequest {
					t.Errorf("stateless=%v %s: HTTP %d %.200q, want 400 with -32600 and id null", stateless, req.body, w.Code, got)
				}
			}
		}
	}
}

func TestBadID(t *testing.T) {
	for body, want := range map[string]bool{
		`{"jsonrpc":"2.0","id":1,"method":"x","params":{"id":1.5}}`: false, // only the message's own id
		`{"jsonrpc":"2.0","ID":1.5,"method":"x"}`:                   false, // names match exactly
		`{"jsonrpc":"2.0","method":"x"}`:                            false,
		`{"jsonrpc":"2.0","id":null,"method":"x"}`:                  false,
		`not json`:                              false,
		``:                                      false,
		`[{"jsonrpc":"2.0","id":1},{"id":2.5}]`: true,
		`[{"jsonrpc":"2.0","id":1},{"id":"2.5"}]`:  false,
		`{"jsonrpc":"2.0","id":12345678901234567}`: true,
	} {
		if got := badID([]byte(body)); got != want {
			t.Errorf("badID(%s) = %v, want %v", body, got, want)
		}
	}
}

// FuzzBadID: badID's fast path agrees with decoding the body.
func FuzzBadID(f *testing.F) {
	for _, s := range []string{hostedCall, `{"jsonrpc":"2.0","id":1.5,"method":"x"}`, `{"jsonrpc":"2.0","id":"a,b","method":"x"}`,
		`{"jsonrpc":"2.0","method":"x","params":{"id":2.5}}`, `{"x":"id"}`, `{"id" : "a\"b"}`, `[{"id":1},{"id":1e3}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := badID(b), badIDDecoded(bytes.TrimSpace(b)); got != want {
			t.Fatalf("badID(%q) = %v, decoding says %v", b, got, want)
		}
	})
}
