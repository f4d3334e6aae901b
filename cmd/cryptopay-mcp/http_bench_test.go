package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// BenchmarkToolCallHTTP measures tools/call over Streamable HTTP against
// the built binary in sandbox mode, with 1, 8 and 64 concurrent clients
// (one MCP session and one HTTP connection pool each), in stateful and
// stateless mode. It reports throughput (calls/s) and latency percentiles
// of single calls (p50-ms, p99-ms). Run:
//
//	go test -run '^$' -bench ToolCallHTTP -benchtime 3000x ./cmd/cryptopay-mcp/
func BenchmarkToolCallHTTP(b *testing.B) {
	for _, mode := range []string{"stateful", "stateless"} {
		b.Run(mode, func(b *testing.B) {
			env := baseEnv(b, b.TempDir())
			env["LOG_LEVEL"] = "warn"
			args := []string{"--listen", "127.0.0.1:0"}
			if mode == "stateless" {
				args = append(args, "--stateless")
			}
			p := startHTTP(b, env, args...)
			setup := p.connectWith(b, headerTransport{}, nil, rev2025)
			var link linkOut
			setup.ok(b, "create_payment_link", map[string]any{"amount_eur": 10, "include_qr": false}, &link)
			calls := []struct {
				tool string
				args map[string]any
			}{
				{"get_payment_status", map[string]any{"identifier": link.Identifier}},
				{"list_currencies_catalog", nil},
			}
			for _, c := range calls {
				for _, clients := range []int{1, 8, 64} {
					b.Run(fmt.Sprintf("%s/clients=%d", c.tool, clients), func(b *testing.B) {
						benchHTTPCalls(b, p, clients, c.tool, c.args)
					})
				}
			}
		})
	}
}

func benchHTTPCalls(b *testing.B, p *httpProc, clients int, tool string, args map[string]any) {
	sessions := make([]*mcp.ClientSession, clients)
	for i := range sessions {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "0"}, nil).Connect(ctx,
			&mcp.StreamableClientTransport{Endpoint: p.mcpURL, HTTPClient: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}},
			// 2025-11-25, as these figures were first measured: sessions in
			// stateful mode (2026-07-28 has none; BenchmarkHostedToolCall and
			// bench/http measure that path).
			&mcp.ClientSessionOptions{ProtocolVersion: rev2025})
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		sessions[i] = cs
	}
	defer func() {
		for _, cs := range sessions {
			_ = cs.Close()
		}
	}()
	// Warm up every session (and the catalog cache).
	for _, cs := range sessions {
		if _, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: tool, Arguments: args}); err != nil {
			b.Fatal(err)
		}
	}

	lat := make([][]time.Duration, clients)
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	n := int64(b.N)
	b.ResetTimer()
	start := time.Now()
	for i, cs := range sessions {
		wg.Go(func() {
			for next.Add(1) <= n {
				t0 := time.Now()
				res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: tool, Arguments: args})
				lat[i] = append(lat[i], time.Since(t0))
				if err != nil || res.IsError {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d calls failed", f, b.N)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	pct := func(q float64) float64 {
		return float64(all[min(len(all)-1, int(q*float64(len(all))))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "calls/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}
