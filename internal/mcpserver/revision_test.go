package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/payments"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

// connectRevision serves s to an in-memory client that asks for revision
// ("" = the client's newest) with caps.
func connectRevision(t *testing.T, s *mcp.Server, revision string, caps *mcp.ClientCapabilities) *mcp.ClientSession {
	t.Helper()
	ctx := context.Background()
	st, ct := mcp.NewInMemoryTransports()
	ss, err := s.Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ss.Close() })
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "0"}, &mcp.ClientOptions{Capabilities: caps}).
		Connect(ctx, ct, &mcp.ClientSessionOptions{ProtocolVersion: revision})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

func TestClientCapsBothRevisions(t *testing.T) {
	s := mcp.NewServer(&mcp.Implementation{Name: "t", Version: "0"}, nil)
	s.AddTool(&mcp.Tool{Name: "caps", InputSchema: map[string]any{"type": "object"}},
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			b, err := json.Marshal(map[string]any{"caps": ClientCaps(req), "revision": RequestRevision(req)})
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: string(b)}}}, err
		})
	caps := &mcp.ClientCapabilities{Elicitation: &mcp.ElicitationCapabilities{Form: &mcp.FormElicitationCapabilities{}},
		Extensions: map[string]any{"io.modelcontextprotocol/ui": map[string]any{"mimeTypes": []any{"text/html;profile=mcp-app"}}}}
	for _, rev := range []string{Revision2026, "2025-11-25"} {
		cs := connectRevision(t, s, rev, caps)
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "caps"})
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Caps     *mcp.ClientCapabilities
			Revision string
		}
		if err := json.Unmarshal([]byte(res.Content[0].(*mcp.TextContent).Text), &got); err != nil {
			t.Fatal(err)
		}
		if got.Revision != rev || got.Caps == nil || got.Caps.Elicitation == nil || got.Caps.Extensions["io.modelcontextprotocol/ui"] == nil {
			t.Errorf("%s: ClientCaps = %+v, revision %q", rev, got.Caps, got.Revision)
		}
	}
	if ClientCaps(nil) != nil {
		t.Error("ClientCaps(nil) is not nil")
	}
}

// TestClientCapsPerRequest: a 2026-07-28 request's capabilities are its
// own _meta's, not the connection's first request's (which the go-sdk
// keeps as the session's InitializeParams); a 2025-11-25 request's are its
// initialize's, whatever its _meta says.
func TestClientCapsPerRequest(t *testing.T) {
	s := mcp.NewServer(&mcp.Implementation{Name: "t", Version: "0"}, nil)
	s.AddTool(&mcp.Tool{Name: "caps", InputSchema: map[string]any{"type": "object"}},
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			c := ClientCaps(req)
			b, err := json.Marshal(map[string]bool{"elicitation": c != nil && c.Elicitation != nil, "sampling": c != nil && c.Sampling != nil})
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: string(b)}}}, err
		})
	connectCaps := &mcp.ClientCapabilities{Elicitation: &mcp.ElicitationCapabilities{Form: &mcp.FormElicitationCapabilities{}}}
	tests := []struct {
		revision string
		meta     map[string]any // the request's declared capabilities; nil: the client's own
		want     string
	}{
		{Revision2026, nil, `{"elicitation":true,"sampling":false}`},
		{Revision2026, map[string]any{"sampling": map[string]any{}}, `{"elicitation":false,"sampling":true}`},
		{Revision2026, map[string]any{}, `{"elicitation":false,"sampling":false}`},
		{"2025-11-25", nil, `{"elicitation":true,"sampling":false}`},
		{"2025-11-25", map[string]any{"sampling": map[string]any{}}, `{"elicitation":true,"sampling":false}`},
	}
	for _, tt := range tests {
		cs := connectRevision(t, s, tt.revision, connectCaps)
		p := &mcp.CallToolParams{Name: "caps"}
		if tt.meta != nil {
			p.SetMeta(map[string]any{mcp.MetaKeyClientCapabilities: tt.meta})
		}
		res, err := cs.CallTool(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Content[0].(*mcp.TextContent).Text; got != tt.want {
			t.Errorf("%s, _meta %v: %s, want %s", tt.revision, tt.meta, got, tt.want)
		}
	}
}

func TestMissingCapability(t *testing.T) {
	err := MissingCapability("sampling")
	je, ok := errors.AsType[*jsonrpc.Error](err)
	if !ok || je.Code != mcp.CodeMissingRequiredClientCapabilities || string(je.Data) != `{"requiredCapabilities":{"sampling":{}}}` {
		t.Errorf("MissingCapability: %#v", err)
	}
}

// TestCacheHints: list results may be cached by their caller for five
// minutes, a payment resource never.
func TestCacheHints(t *testing.T) {
	s, err := New(Deps{Version: "test", Sandbox: true, Payments: payments.New(fakeBitnovoAPI(t), store.NewMemory(), payments.Options{Sandbox: true})})
	if err != nil {
		t.Fatal(err)
	}
	cs := connectRevision(t, s, Revision2026, nil)
	ctx := context.Background()
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	prompts, err := cs.ListPrompts(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	templates, err := cs.ListResourceTemplates(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]mcp.Cacheable{"tools": tools.Cacheable, "prompts": prompts.Cacheable, "templates": templates.Cacheable} {
		if c.TTLMs != listTTL || c.CacheScope != "private" {
			t.Errorf("%s/list cache hints %+v, want %d private", name, c, listTTL)
		}
	}
	read, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: AccessURI})
	if err != nil {
		t.Fatal(err)
	}
	if read.TTLMs != 0 || read.CacheScope != "private" {
		t.Errorf("resources/read cache hints %+v, want 0 private", read.Cacheable)
	}
}

// TestListenHonorsSubscribableSubset: a subscriptions/listen naming a URI
// the server cannot push is acknowledged without it instead of failing.
func TestListenHonorsSubscribableSubset(t *testing.T) {
	pay := PaymentResourceURI("00000000-0000-4000-8000-000000000001")
	asked := []string{pay, "file:///etc/passwd", "bitnovo://shop/orders/1"}
	var got []string
	next := func(_ context.Context, _ string, req mcp.Request) (mcp.Result, error) {
		got = req.GetParams().(*mcp.SubscriptionsListenParams).Notifications.ResourceSubscriptions
		return nil, nil
	}
	subscribable := func(uri string) bool { _, err := paymentID(uri); return err == nil }
	req := &mcp.SubscriptionsListenRequest{Params: &mcp.SubscriptionsListenParams{
		Notifications: &mcp.NotificationSubscriptions{ResourceSubscriptions: slices.Clone(asked)}}}
	if _, err := listenFilterMiddleware(subscribable)(next)(context.Background(), "subscriptions/listen", req); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{pay}) {
		t.Errorf("listen passed on %v, want only %s", got, pay)
	}

}
