package main

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestReadOnlyAndToolsetsThroughTheBinary drives the built binary over
// stdio: --read-only with --toolsets payments lists exactly the read-only
// payment tools, refuses a create by name with TOOL_NOT_ENABLED, says so on
// the start-up line and in cryptopay://access.
func TestReadOnlyAndToolsetsThroughTheBinary(t *testing.T) {
	env := baseEnv(t, t.TempDir())
	env["CRYPTOPAY_TOOLSETS"] = "shop" // the flag below wins
	s := startServer(t, env, "--toolsets", "payments", "--read-only")
	defer s.close(t)
	ctx := context.Background()

	res, err := s.session.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range res.Tools {
		names = append(names, tl.Name)
		if tl.Annotations == nil || !tl.Annotations.ReadOnlyHint {
			t.Errorf("read-only server lists %s", tl.Name)
		}
	}
	slices.Sort(names)
	want := []string{"generate_payment_qr", "get_payment_status", "list_currencies_catalog", "wait_for_payment"}
	if !slices.Equal(names, want) {
		t.Errorf("tools = %v, want %v", names, want)
	}

	for _, tool := range []string{"create_payment_link", "get_webhook_events"} {
		e := s.fail(t, tool, map[string]any{"amount_eur": 10})
		if e.Error.Code != "TOOL_NOT_ENABLED" {
			t.Errorf("%s: code %s, want TOOL_NOT_ENABLED (%s)", tool, e.Error.Code, e.Error.Message)
		}
	}
	// The read-only tools still work.
	var cat map[string]any
	s.ok(t, "list_currencies_catalog", nil, &cat)

	if !strings.Contains(s.session.InitializeResult().Instructions, "Enabled toolsets: payments (read-only)") {
		t.Errorf("instructions do not name the toolsets: %s", s.session.InitializeResult().Instructions)
	}
	if log := s.stderr.String(); !strings.Contains(log, "toolsets=payments read_only=true") {
		t.Errorf("start-up line does not name the toolsets:\n%s", log)
	}
	var info struct {
		Toolsets []string `json:"toolsets"`
		ReadOnly bool     `json:"read_only"`
		Caller   struct {
			Kind string `json:"kind"`
		} `json:"caller"`
		Disabled map[string]string `json:"disabled"`
	}
	readAccess(t, s, &info)
	if !slices.Equal(info.Toolsets, []string{"payments"}) || !info.ReadOnly || info.Caller.Kind != "stdio" ||
		!strings.Contains(info.Disabled["create_payment_onchain"], "read-only") {
		t.Errorf("cryptopay://access = %+v", info)
	}
}

func readAccess(t *testing.T, s *server, v any) {
	t.Helper()
	rr, err := s.session.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: "cryptopay://access"})
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(rr.Contents[0].Text), v); err != nil {
		t.Fatal(err)
	}
}
