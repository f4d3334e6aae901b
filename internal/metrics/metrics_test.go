package metrics

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestNilMetricsIsSafe(t *testing.T) {
	var m *Metrics
	m.ToolCall("t", "ok", "OK", time.Second)
	m.Webhook("accepted")
	m.ProviderAttempt("bitnovo", "currencies", "ok", 0, time.Second)
	if m.Provider("bitnovo") != nil || m.Registry() != nil {
		t.Error("nil Metrics hands out observers")
	}
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 404 {
		t.Errorf("nil Metrics serves %d", rec.Code)
	}
	h := m.MCPMiddleware()(func(context.Context, string, mcp.Request) (mcp.Result, error) { return nil, nil })
	if _, err := h(context.Background(), "tools/call", &mcp.CallToolRequest{Params: &mcp.CallToolParamsRaw{Name: "x"}}); err != nil {
		t.Fatal(err)
	}
}

func TestWebhookAndProvider(t *testing.T) {
	m := New()
	out := scrape(t, m)
	for _, o := range WebhookOutcomes {
		if !strings.Contains(out, `cryptopay_webhook_requests_total{outcome="`+o+`"} 0`) {
			t.Errorf("webhook outcome %s not exported at zero", o)
		}
	}
	m.Webhook("accepted")
	m.Webhook("accepted")
	m.Webhook("Not A Word!")
	obs := m.Provider(ProviderBitnovo)
	obs("order_info", "ok", 0, 20*time.Millisecond)
	obs("order_info", "http_5xx", 0, 10*time.Millisecond)
	obs("order_info", "ok", 1, 10*time.Millisecond)
	out = scrape(t, m)
	for _, want := range []string{
		`cryptopay_webhook_requests_total{outcome="accepted"} 2`,
		`cryptopay_webhook_requests_total{outcome="other"} 1`,
		`cryptopay_provider_requests_total{endpoint="order_info",outcome="ok",provider="bitnovo"} 2`,
		`cryptopay_provider_requests_total{endpoint="order_info",outcome="http_5xx",provider="bitnovo"} 1`,
		`cryptopay_provider_retries_total{endpoint="order_info",provider="bitnovo"} 1`,
		`cryptopay_provider_request_duration_seconds_count{endpoint="order_info",provider="bitnovo"} 3`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("missing %s in:\n%s", want, out)
		}
	}
}

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

// TestMCPMiddlewareCancelled: a call the client cancels is counted as
// cancelled, not as an error.
func TestMCPMiddlewareCancelled(t *testing.T) {
	m := New()
	s := mcp.NewServer(&mcp.Implementation{Name: "s", Version: "0"}, nil)
	s.AddReceivingMiddleware(m.MCPMiddleware())
	started := make(chan struct{}, 1)
	mcp.AddTool(s, &mcp.Tool{Name: "block"}, func(ctx context.Context, _ *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
		started <- struct{}{}
		<-ctx.Done()
		return nil, nil, ctx.Err()
	})
	mcp.AddTool(s, &mcp.Tool{Name: "create"}, func(ctx context.Context, _ *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
		started <- struct{}{}
		<-ctx.Done()
		return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{
			Text: `{"error":{"code":"PAYMENT_OUTCOME_UNKNOWN","message":"retry with the same key"}}`}}}, nil, nil
	})
	ctx := context.Background()
	st, ct := mcp.NewInMemoryTransports()
	ss, err := s.Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "0"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	for _, tool := range []string{"block", "create"} {
		cctx, cancel := context.WithCancel(ctx)
		go func() {
			<-started
			cancel()
		}()
		if _, err := cs.CallTool(cctx, &mcp.CallToolParams{Name: tool}); err == nil {
			t.Fatalf("cancelled %s succeeded", tool)
		}
	}
	for _, want := range []string{
		`cryptopay_tool_calls_total{code="CANCELLED",outcome="cancelled",tool="block"} 1`,
		`cryptopay_tool_calls_total{code="PAYMENT_OUTCOME_UNKNOWN",outcome="error",tool="create"} 1`,
	} {
		deadline := time.Now().Add(5 * time.Second)
		for out := scrape(t, m); !strings.Contains(out, want+"\n"); out = scrape(t, m) {
			if time.Now().After(deadline) {
				t.Fatalf("missing %s in:\n%s", want, out)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if out := scrape(t, m); strings.Contains(out, `outcome="error",tool="block"`) {
		t.Errorf("the cancelled call counted as an error:\n%s", out)
	}
}

// taskHandle is a tools/call result that is a task handle.
type taskHandle struct {
	mcp.ResultBase
	TaskID string `json:"taskId"`
}

func (h *taskHandle) CreatedTask() string { return h.TaskID }

// TestMCPMiddleware drives a real *mcp.Server over in-memory transports.
func TestMCPMiddleware(t *testing.T) {
	m := New()
	s := mcp.NewServer(&mcp.Implementation{Name: "s", Version: "0"}, nil)
	s.AddReceivingMiddleware(m.MCPMiddleware(), func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if p, ok := req.GetParams().(*mcp.CallToolParamsRaw); ok && strings.Contains(string(p.Arguments), `"task"`) {
				return &taskHandle{}, nil // as the tasks middleware answers
			}
			return next(ctx, method, req)
		}
	})
	type in struct {
		Mode string `json:"mode"`
	}
	mcp.AddTool(s, &mcp.Tool{Name: "echo"}, func(_ context.Context, _ *mcp.CallToolRequest, a in) (*mcp.CallToolResult, any, error) {
		switch a.Mode {
		case "envelope":
			return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{
				Text: `{"error":{"code":"PAYMENT_NOT_FOUND","message":"no such payment"}}`}}}, nil, nil
		case "bad-envelope":
			return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{
				Text: `{"error":{"code":"lower case is not a code"}}`}}}, nil, nil
		case "plain":
			return nil, nil, errors.New("boom")
		case "cancelled-envelope":
			return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{
				Text: `{"error":{"code":"CANCELLED","message":"the call was cancelled by the client"}}`}}}, nil, nil
		}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "ok"}}}, nil, nil
	})
	ctx := context.Background()
	st, ct := mcp.NewInMemoryTransports()
	ss, err := s.Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "0"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	for _, mode := range []string{"", "", "envelope", "bad-envelope", "plain", "cancelled-envelope", "task"} {
		if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"mode": mode}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "no-such-tool-" + strings.Repeat("x", 10)}); err == nil {
		t.Fatal("unknown tool succeeded")
	}
	if _, err := cs.ListTools(ctx, nil); err != nil {
		t.Fatal(err)
	}
	out := scrape(t, m)
	for _, want := range []string{
		`cryptopay_tool_calls_total{code="OK",outcome="ok",tool="echo"} 2`,
		`cryptopay_tool_calls_total{code="PAYMENT_NOT_FOUND",outcome="error",tool="echo"} 1`,
		`cryptopay_tool_calls_total{code="UNKNOWN",outcome="error",tool="echo"} 2`,
		`cryptopay_tool_calls_total{code="PROTOCOL_ERROR",outcome="error",tool="_unknown_"} 1`,
		`cryptopay_tool_calls_total{code="TASK_CREATED",outcome="ok",tool="echo"} 1`,
		`cryptopay_tool_calls_total{code="CANCELLED",outcome="cancelled",tool="echo"} 1`,
		`cryptopay_tool_call_duration_seconds_count{tool="echo"} 7`,
		`cryptopay_tool_calls_in_flight 0`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("missing %s in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "no-such-tool") {
		t.Error("an unknown tool name became a label value")
	}
}
