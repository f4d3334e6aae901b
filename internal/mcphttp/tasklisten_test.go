package mcphttp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/tasks"
)

func TestTaskListen(t *testing.T) {
	m := tasks.New(tasks.Options{Store: store.NewMemory()})
	ctx, cancel := context.WithCancel(context.Background())
	m.Start(ctx)
	defer func() { cancel(); m.Wait() }()
	passed := 0
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { passed++ })
	h := TaskListen(next, func(*http.Request) (*tasks.Manager, string) { return m, "alice" }, 1<<20, nil)

	meta := `"_meta":{"io.modelcontextprotocol/clientCapabilities":{"extensions":{"io.modelcontextprotocol/tasks":{}}}}`
	post := func(method, body, version string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(body))
		r.Header.Set("Mcp-Method", method)
		r.Header.Set("Mcp-Protocol-Version", version)
		rctx, stop := context.WithTimeout(r.Context(), 2*time.Second)
		defer stop()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r.WithContext(rctx))
		return w
	}
	// Not ours: other methods, other revisions, listens for other things.
	post("tools/call", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}`, Revision20260728)
	post("subscriptions/listen", `{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{`+meta+`,"notifications":{"taskIds":[]}}}`, Revision20251125)
	post("subscriptions/listen", `{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{`+meta+`,"notifications":{"toolsListChanged":true}}}`, Revision20260728)
	if passed != 3 {
		t.Fatalf("%d of 3 requests reached the SDK handler", passed)
	}
	// Ours: an SSE stream that acknowledges (no such task: none agreed) and ends.
	w := post("subscriptions/listen", `{"jsonrpc":"2.0","id":5,"method":"subscriptions/listen","params":{`+meta+`,"notifications":{"taskIds":["nope"]}}}`, Revision20260728)
	body := w.Body.String()
	if passed != 3 || w.Header().Get("Content-Type") != "text/event-stream" ||
		!strings.Contains(body, `"method":"notifications/subscriptions/acknowledged"`) || !strings.Contains(body, `"taskIds":[]`) ||
		!strings.Contains(body, `"id":5,"result":`) {
		t.Fatalf("listen answered %d %q:\n%s", w.Code, w.Header().Get("Content-Type"), body)
	}
}
