package mcpserver

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/payments"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

// wait_for_payment without a progress token ends inside the client's
// request timeout (the plain cap, shortened here) and says to call again;
// with a token it waits as asked and reports progress.
func TestWaitForPaymentFitsTheClient(t *testing.T) {
	api := fakeBitnovoAPI(t)
	svc := payments.New(api, store.NewMemory(), payments.Options{MaxPlainWait: 100 * time.Millisecond})
	var progress atomic.Int32
	s, err := New(Deps{Version: "test", Payments: svc})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, ct := mcp.NewInMemoryTransports()
	ss, err := s.Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ss.Close() })
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "0"}, &mcp.ClientOptions{
		ProgressNotificationHandler: func(context.Context, *mcp.ProgressNotificationClientRequest) { progress.Add(1) },
	}).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close() })

	link, isErr := callJSON(t, cs, "create_payment_link", map[string]any{"amount_eur": 10})
	if isErr {
		t.Fatalf("create_payment_link: %v", link)
	}
	id, _ := link["identifier"].(string)

	plain, isErr := callJSON(t, cs, "wait_for_payment", map[string]any{"identifier": id, "timeout_seconds": 300})
	if isErr || plain["timed_out"] != true || plain["capped"] != true || plain["next"] == nil || plain["waited_seconds"].(float64) > 30 {
		t.Fatalf("without a progress token: %v", plain)
	}
	if progress.Load() != 0 {
		t.Fatalf("%d progress notifications without a token", progress.Load())
	}

	params := &mcp.CallToolParams{Name: "wait_for_payment", Arguments: map[string]any{"identifier": id, "timeout_seconds": 1}}
	params.SetProgressToken("w1")
	res, err := cs.CallTool(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := res.StructuredContent.(map[string]any)
	if res.IsError || out["timed_out"] != true || out["capped"] != nil || out["waited_seconds"].(float64) < 1 {
		t.Fatalf("with a progress token: %v", out)
	}
	if progress.Load() == 0 {
		t.Fatal("no progress notification with a token")
	}
}
