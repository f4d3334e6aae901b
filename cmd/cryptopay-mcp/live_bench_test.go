package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitnovo"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/fakebitnovo"
)

// BenchmarkLive is the set of figures of issue 12, in live mode against a
// loopback fake Bitnovo API (served by this test process), through the Go SDK
// client over stdio:
//
//   - create_payment_onchain with include_qr (two branded 512 px codes);
//   - generate_payment_qr, 1000 px, qr_type both, the same payment repeated;
//   - create_payment_link without a QR code, with and without an
//     idempotency_key (both durable: SQLite synchronous=FULL).
//
// Each call's latency is recorded; p50-ms and p99-ms are reported next to
// ns/op. "stdio" runs the built binary as a child process (the figures in
// docs/benchmarks.md, with the server process's CPU time per call as
// server-cpu-ms/op); "inproc" runs the same server in this process over an
// in-memory pipe so that -cpuprofile and -memprofile see the server's work:
//
//	go test -run '^$' -bench 'Live/stdio' -benchtime 2000x -count 5 ./cmd/cryptopay-mcp/
//	go test -run '^$' -bench 'Live/inproc/generate' -benchtime 3000x -cpuprofile cpu.out -memprofile mem.out ./cmd/cryptopay-mcp/
func BenchmarkLive(b *testing.B) {
	for _, mode := range []string{"stdio", "inproc"} {
		b.Run(mode, func(b *testing.B) {
			_, url := liveFake(b, testDevice, fakebitnovo.Options{})
			env := baseEnv(b, b.TempDir())
			env["LOG_LEVEL"] = "warn"
			env["BITNOVO_DEVICE_ID"], env["BITNOVO_BASE_URL"] = testDevice, url
			var s *server
			if mode == "stdio" {
				s = startServer(b, env)
			} else {
				s = startInProcess(b, env)
			}
			var oc onchainOut
			s.ok(b, "create_payment_onchain", map[string]any{"amount_eur": 10, "input_currency": "BTC", "include_qr": false}, &oc)

			b.Run("create_payment_onchain_qr", func(b *testing.B) {
				benchCalls(b, s, "create_payment_onchain", func(int) map[string]any {
					return map[string]any{"amount_eur": 10, "input_currency": "BTC", "include_qr": true}
				}, 2)
			})
			b.Run("generate_payment_qr_1000_both", func(b *testing.B) {
				benchCalls(b, s, "generate_payment_qr", func(int) map[string]any {
					return map[string]any{"identifier": oc.Identifier, "qr_type": "both", "size": 1000}
				}, 2)
			})
			b.Run("create_payment_link_noqr", func(b *testing.B) {
				benchCalls(b, s, "create_payment_link", func(int) map[string]any {
					return map[string]any{"amount_eur": 10, "include_qr": false}
				}, 0)
			})
			// A new key every call, also across -count repetitions (which run
			// this sub-benchmark again in the same server): never a replay.
			keys := 0
			b.Run("create_payment_link_noqr_key", func(b *testing.B) {
				benchCalls(b, s, "create_payment_link", func(int) map[string]any {
					keys++
					return map[string]any{"amount_eur": 10, "include_qr": false, "idempotency_key": fmt.Sprintf("bench-%d", keys)}
				}, 0)
			})
		})
	}
}

// benchCalls makes b.N calls (after 20 warm-up calls), checks each succeeded
// with wantImages images, and reports latency percentiles.
func benchCalls(b *testing.B, s *server, tool string, args func(i int) map[string]any, wantImages int) {
	b.Helper()
	call := func(i int) time.Duration {
		t0 := time.Now()
		res := s.call(b, tool, args(i))
		d := time.Since(t0)
		if res.IsError {
			b.Fatalf("%s: %s", tool, text(res))
		}
		if n := len(images(res)); n != wantImages {
			b.Fatalf("%s: %d images, want %d", tool, n, wantImages)
		}
		return d
	}
	for i := range 20 {
		call(-1 - i)
	}
	lat := make([]time.Duration, 0, b.N)
	cpu0 := serverCPU(b, s)
	i := 0
	for b.Loop() {
		lat = append(lat, call(i))
		i++
	}
	if s.cmd != nil {
		b.ReportMetric((serverCPU(b, s)-cpu0).Seconds()*1000/float64(len(lat)), "server-cpu-ms/op")
	}
	slices.Sort(lat)
	pct := func(q float64) float64 {
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// serverCPU is the user+system CPU time the server process has used so far
// (0 for an in-process server).
func serverCPU(t testing.TB, s *server) time.Duration {
	t.Helper()
	if s.cmd == nil {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(s.cmd.Process.Pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name (which is in parentheses): utime and
	// stime are fields 14 and 15 of the whole line, in clock ticks (100/s).
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.Atoi(f[11])
	st, _ := strconv.Atoi(f[12])
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// startInProcess runs the stdio server in this process (run, as main does)
// and connects the Go SDK client to it over in-memory pipes.
func startInProcess(t testing.TB, env map[string]string) *server {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	stderr := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	getenv := func(k string) string { return env[k] }
	go func() {
		code := run(ctx, nil, inR, outW, stderr, getenv)
		_ = outW.Close()
		done <- code
	}()
	t.Cleanup(func() {
		cancel()
		_ = inW.Close()
		if code := <-done; code != exitOK {
			t.Errorf("in-process server exited %d:\n%s", code, stderr.String())
		}
	})
	cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer ccancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "0"}, nil)
	session, err := client.Connect(cctx, &mcp.IOTransport{Reader: outR, Writer: inW}, nil)
	if err != nil {
		t.Fatalf("connect: %v\nstderr:\n%s", err, stderr.String())
	}
	s := newServer(cctx, t, session, stderr, nil)
	if strings.Contains(stderr.String(), "panic") {
		t.Fatalf("server stderr: %s", stderr.String())
	}
	return s
}

// BenchmarkProviderCreateOrder is the provider round trip of a create
// alone: the bitnovo client's POST /orders/ to the loopback fake, to set
// against the durable write (BenchmarkSQLiteCreate in internal/store).
func BenchmarkProviderCreateOrder(b *testing.B) {
	_, url := liveFake(b, testDevice, fakebitnovo.Options{})
	c, err := bitnovo.New(url, testDevice, bitnovo.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, req := range []struct {
		name string
		r    bitnovo.CreateOrderRequest
	}{
		{"link", bitnovo.CreateOrderRequest{ExpectedOutputAmount: "10.00", Fiat: "EUR"}},
		{"onchain", bitnovo.CreateOrderRequest{ExpectedOutputAmount: "10.00", Fiat: "EUR", InputCurrency: "BTC"}},
	} {
		b.Run(req.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := c.CreateOrder(ctx, req.r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
