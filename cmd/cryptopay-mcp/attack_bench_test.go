package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// BenchmarkSlowConnections measures the binary, limited to 1,024 open
// files, under slow connections from 127.0.0.2 (each announces a body or a
// header and never sends it), one run per iteration:
//
//   - defaults: 1,100 slow connections with the default limits. Reports
//     the connections the server still holds (held), the time a client on
//     127.0.0.1 takes to open a session and list the tools (tools-list-ms,
//     10000 = no answer within 10 s), and the time from SIGTERM to exit
//     (sigterm-ms).
//   - uncapped: 900 slow connections, all authorised POST /mcp whose body
//     never comes, with the connection caps off, to price one held
//     connection (KiB-per-conn, from the resident memory before and
//     after).
//
// CRYPTOPAY_BENCH_BIN runs another build instead (e.g. the one before
// issue 19, which ignores the limit variables). Run:
//
//	go test -run '^$' -bench SlowConnections -benchtime 1x -count 3 ./cmd/cryptopay-mcp/
func BenchmarkSlowConnections(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("needs Linux: 127.0.0.0/8 on loopback, /proc, ulimit")
	}
	bin := benchBin()
	for _, bc := range []struct {
		name  string
		conns int
		env   map[string]string
	}{
		{"defaults", slowConns, nil},
		{"uncapped", 900, map[string]string{"MCP_HTTP_MAX_CONNS": "0", "MCP_HTTP_MAX_CONNS_PER_IP": "0"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for range b.N {
				env := baseEnv(b, b.TempDir())
				env["LOG_LEVEL"] = "info" // the address line is at info
				env["MCP_HTTP_TOKEN"] = e2eToken
				for k, v := range bc.env {
					env[k] = v
				}
				cmd := exec.Command("sh", "-c", `ulimit -n 1024 && exec "$0" "$@"`, bin, "http", "--listen", "127.0.0.1:0")
				p := awaitListening(b, runCmd(b, env, cmd))
				host := strings.TrimPrefix(p.base, "http://")
				rss0 := rss(b, p.cmd.Process.Pid)

				conns := openSlowConns(b, "127.0.0.2", host, e2eToken, bc.conns, bc.name == "uncapped")
				time.Sleep(500 * time.Millisecond)
				held := countOpen(conns)
				rss1 := rss(b, p.cmd.Process.Pid)

				start := time.Now()
				listed := listToolsWithin(p.mcpURL, 10*time.Second)
				took := time.Since(start)
				if !listed {
					took = 10 * time.Second
				}

				start = time.Now()
				_ = p.cmd.Process.Signal(syscall.SIGTERM)
				p.wait(b, 60*time.Second)
				sigterm := time.Since(start)
				for _, c := range conns {
					_ = c.Close()
				}

				b.ReportMetric(float64(held), "held")
				b.ReportMetric(float64(took.Milliseconds()), "tools-list-ms")
				b.ReportMetric(float64(sigterm.Milliseconds()), "sigterm-ms")
				if held > 0 {
					b.ReportMetric(float64(rss1-rss0)/float64(held), "KiB-per-conn")
				}
			}
		})
	}
}

// listToolsWithin opens a session and lists the tools, reporting whether
// that finished within d.
func listToolsWithin(url string, d time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "0"}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url, MaxRetries: -1,
		HTTPClient: &http.Client{Transport: headerTransport{hdr: bearer(e2eToken)}}, DisableStandaloneSSE: true}, nil)
	if err != nil {
		return false
	}
	defer cs.Close()
	_, err = cs.ListTools(ctx, nil)
	return err == nil
}

// benchBin is the binary to measure: CRYPTOPAY_BENCH_BIN, or this build.
func benchBin() string {
	if v := os.Getenv("CRYPTOPAY_BENCH_BIN"); v != "" {
		return v
	}
	return binPath
}

func rss(tb testing.TB, pid int) int {
	tb.Helper()
	kb, err := rssKB(pid)
	if err != nil {
		tb.Fatal(err)
	}
	return kb
}

// BenchmarkSubscribeUnknown sends 10,000 resources/subscribe requests for
// payments that do not exist over stdio (MCP 2025-11-25) and reports how
// many were refused and the growth of the resident memory (RSS-growth-MiB).
// CRYPTOPAY_BENCH_BIN runs another build. Run:
//
//	go test -run '^$' -bench SubscribeUnknown -benchtime 1x -count 3 ./cmd/cryptopay-mcp/
func BenchmarkSubscribeUnknown(b *testing.B) {
	const n = 10_000
	for range b.N {
		env := baseEnv(b, b.TempDir())
		env["LOG_LEVEL"] = "warn"
		cmd := exec.Command(benchBin())
		cmd.Env = envList(env)
		ctx := context.Background()
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "0"}, nil).Connect(ctx,
			&mcp.CommandTransport{Command: cmd}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
		if err != nil {
			b.Fatal(err)
		}
		pid := cmd.Process.Pid
		rss0 := rss(b, pid)
		refused := 0
		for i := range n {
			uri := fmt.Sprintf("bitnovo://payments/%08x-0000-4000-8000-%012x", i, i)
			if err := cs.Subscribe(ctx, &mcp.SubscribeParams{URI: uri}); err != nil {
				refused++
			}
		}
		b.ReportMetric(float64(refused), "refused")
		b.ReportMetric(float64(rss(b, pid)-rss0)/1024, "RSS-growth-MiB")
		_ = cs.Close()
	}
}
