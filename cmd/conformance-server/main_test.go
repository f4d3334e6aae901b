package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// serve runs the conformance server's handler on a free loopback port.
func serve(t *testing.T) string {
	t.Helper()
	h, stop, err := newHandler(context.Background(), "127.0.0.1:0", false, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h.handler}
	go func() { _ = srv.Serve(h.ln) }()
	t.Cleanup(func() {
		h.handler.CloseStreams()
		_ = srv.Close()
		stop()
	})
	return "http://" + h.ln.Addr().String() + "/mcp"
}

func connect(t *testing.T, url, revision string, opts *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "0"}, opts).Connect(context.Background(),
		&mcp.StreamableClientTransport{Endpoint: url, MaxRetries: -1}, &mcp.ClientSessionOptions{ProtocolVersion: revision})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	if got := cs.InitializeResult().ProtocolVersion; got != revision {
		t.Fatalf("negotiated %s, want %s", got, revision)
	}
	return cs
}

func callText(t *testing.T, cs *mcp.ClientSession, name string) string {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// TestFixturesBothRevisions: one server, both revisions; the product's
// tools sit next to the fixtures; a multi-round-trip fixture works through
// the client's elicitation handler in 2026-07-28 (input_required results)
// and in 2025-11-25 (the go-sdk turns them into elicitation/create).
func TestFixturesBothRevisions(t *testing.T) {
	url := serve(t)
	opts := &mcp.ClientOptions{ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
		return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"name": "Ada"}}, nil
	}}
	for _, rev := range []string{"2026-07-28", "2025-11-25"} {
		cs := connect(t, url, rev, opts)
		tools, err := cs.ListTools(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, tool := range tools.Tools {
			names = append(names, tool.Name)
		}
		for _, want := range []string{"create_payment_link", "test_simple_text", "json_schema_2020_12_tool", "test_input_required_result_elicitation"} {
			if !strings.Contains(" "+strings.Join(names, " ")+" ", " "+want+" ") {
				t.Errorf("%s: tools/list lacks %s", rev, want)
			}
		}
		if got := callText(t, cs, "test_simple_text"); got != "This is a simple text response for testing." {
			t.Errorf("%s: test_simple_text: %q", rev, got)
		}
		if got := callText(t, cs, "test_input_required_result_elicitation"); got != "Hello, Ada!" {
			t.Errorf("%s: test_input_required_result_elicitation: %q", rev, got)
		}
	}
}

// TestTamperedRequestState: the signed requestState round-trips, and an
// altered one is refused with -32602.
func TestTamperedRequestState(t *testing.T) {
	f := newFixtures()
	st := f.sign(map[string]any{"kind": "tamper-test"})
	if v, ok := f.verify(st); !ok || v["kind"] != "tamper-test" {
		t.Fatalf("verify(sign(...)) = %v, %v", v, ok)
	}
	if _, ok := f.verify(strings.Replace(st, "tamper-test", "tamper-tesT", 1)); ok {
		t.Error("an altered requestState verified")
	}
	if _, ok := f.verify("not json"); ok {
		t.Error("garbage verified")
	}
}

func TestRunRefusesNonLoopback(t *testing.T) {
	if code := run(context.Background(), []string{"--listen", "0.0.0.0:0"}, io.Discard); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
}
