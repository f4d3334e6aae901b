package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/access"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/toolerr"
)

// TestCancelledCall: a call the client cancels ends as CANCELLED with no
// warning logged, unless its error says something about its effect; a
// call that runs out of time is still a logged failure.
func TestCancelledCall(t *testing.T) {
	type none struct{}
	tests := []struct {
		name     string
		cancel   bool          // the client cancels
		timeout  time.Duration // the server's tool deadline
		err      func(ctx context.Context) error
		code     string
		warnings bool
	}{
		{"cancelled", true, time.Minute, func(ctx context.Context) error { return fmt.Errorf("get: %w", ctx.Err()) }, toolerr.CodeCancelled, false},
		{"cancelled upstream", true, time.Minute, func(ctx context.Context) error {
			return toolerr.Wrap(ctx.Err(), "UPSTREAM_API_ERROR", "provider failed", nil)
		}, toolerr.CodeCancelled, false},
		{"cancelled with a known outcome", true, time.Minute, func(ctx context.Context) error {
			return toolerr.Wrap(ctx.Err(), "PAYMENT_OUTCOME_UNKNOWN", "retry with the same key", nil)
		}, "PAYMENT_OUTCOME_UNKNOWN", false},
		{"deadline", false, 20 * time.Millisecond, func(ctx context.Context) error { return fmt.Errorf("get: %w", ctx.Err()) }, toolerr.CodeInternal, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			e := &env{log: slog.New(slog.NewTextHandler(&logs, nil)), timeout: tt.timeout, anonymous: access.Caller{Kind: access.KindStdio, Scopes: access.AllScopes()}}
			started := make(chan struct{})
			tool := Tool[none, none]{
				Def: mcp.Tool{Name: "block"},
				Handler: func(ctx context.Context, _ *mcp.CallToolRequest, _ none) (Output[none], error) {
					close(started)
					<-ctx.Done()
					return Output[none]{}, tt.err(ctx)
				},
			}
			def, resolved, args, err := tool.build()
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel {
				go func() {
					<-started
					cancel()
				}()
			}
			req := &mcp.CallToolRequest{Params: &mcp.CallToolParamsRaw{Name: "block", Arguments: json.RawMessage(`{}`)}}
			res, err := tool.handler(def, resolved, args, e)(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			var env errorEnvelope
			if len(res.Content) == 0 || json.Unmarshal([]byte(res.Content[0].(*mcp.TextContent).Text), &env) != nil || env.Error == nil {
				t.Fatalf("result %+v", res)
			}
			if env.Error.Code != tt.code {
				t.Errorf("code %s, want %s", env.Error.Code, tt.code)
			}
			if got := strings.Contains(logs.String(), "level=WARN"); got != tt.warnings {
				t.Errorf("warning logged: %t, want %t:\n%s", got, tt.warnings, logs.String())
			}
			if !errors.Is(ctx.Err(), context.Canceled) && tt.cancel {
				t.Error("the test did not cancel")
			}
		})
	}
}
