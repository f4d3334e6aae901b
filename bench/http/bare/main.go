// Command bare is the baseline of docs/benchmarks-http.md: a bare go-sdk
// stateless Streamable HTTP server with one tool that returns, verbatim, a
// tools/call result recorded from cryptopay-mcp (the same bytes on the
// wire), and nothing else: no Host, Origin or token checks, no metrics, no
// access control, no argument validation.
//
//	bare --listen 127.0.0.1:8090 --tool list_currencies_catalog --result result.json
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8090", "host:port")
	tool := flag.String("tool", "list_currencies_catalog", "the tool's name")
	resultFile := flag.String("result", "", "a tools/call result (JSON) to answer with")
	flag.Parse()
	if err := run(*listen, *tool, *resultFile); err != nil {
		fmt.Fprintln(os.Stderr, "bare:", err)
		os.Exit(1)
	}
}

func run(listen, tool, resultFile string) error {
	raw, err := os.ReadFile(resultFile)
	if err != nil {
		return err
	}
	var res mcp.CallToolResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return fmt.Errorf("%s: %w", resultFile, err)
	}
	// Raw, as cryptopay-mcp hands it over: encoded once, not per call.
	var sc struct {
		StructuredContent json.RawMessage `json:"structuredContent"`
	}
	if err := json.Unmarshal(raw, &sc); err != nil {
		return fmt.Errorf("%s: %w", resultFile, err)
	}
	res.StructuredContent = sc.StructuredContent
	s := mcp.NewServer(&mcp.Implementation{Name: "bare", Version: "0"}, nil)
	s.AddTool(&mcp.Tool{Name: tool, InputSchema: map[string]any{"type": "object"}},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			r := res // the handler may not share the result: the SDK sets resultType on it
			return &r, nil
		})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s },
		&mcp.StreamableHTTPOptions{Stateless: true, PropagateRequestCancellation: true})
	srv := &http.Server{Addr: listen, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		return err
	}
	return nil
}
