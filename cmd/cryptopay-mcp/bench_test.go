package main

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Benchmarks of the built binary, driven over stdio by the Go SDK client.
// Run: go test -run '^$' -bench . -benchtime 3s ./cmd/cryptopay-mcp/

// BenchmarkToolCallStdio is one tools/call round trip over stdio against the
// in-process sandbox: client → binary → fake Bitnovo API over loopback HTTP
// → back.
func BenchmarkToolCallStdio(b *testing.B) {
	env := baseEnv(b, b.TempDir())
	env["LOG_LEVEL"] = "warn"
	s := startServer(b, env)
	var link linkOut
	s.ok(b, "create_payment_link", map[string]any{"amount_eur": 10, "include_qr": false}, &link)
	b.Run("get_payment_status", func(b *testing.B) {
		for b.Loop() {
			s.call(b, "get_payment_status", map[string]any{"identifier": link.Identifier})
		}
	})
	b.Run("list_currencies_catalog_cached", func(b *testing.B) {
		for b.Loop() {
			s.call(b, "list_currencies_catalog", nil)
		}
	})
	b.Run("create_payment_link_with_qr", func(b *testing.B) {
		for b.Loop() {
			s.call(b, "create_payment_link", map[string]any{"amount_eur": 10})
		}
	})
}

// BenchmarkStartToInitialize measures from exec of the binary to the
// initialize answer (the client's Connect returns after it).
func BenchmarkStartToInitialize(b *testing.B) {
	env := envList(baseEnv(b, b.TempDir()))
	client := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "0"}, nil)
	for b.Loop() {
		cmd := exec.Command(binPath)
		cmd.Env = env
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		session, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		_ = session.Close()
		b.StartTimer()
	}
}

// BenchmarkIdleRSS reports the resident memory of an initialised, idle
// server in sandbox mode after one catalog call. The timing of this
// benchmark is meaningless; read the idle-RSS-MiB metric (median of 3).
func BenchmarkIdleRSS(b *testing.B) {
	var samples []float64
	for range 3 {
		s := startServer(b, baseEnv(b, b.TempDir()))
		s.call(b, "list_currencies_catalog", nil)
		time.Sleep(500 * time.Millisecond)
		kb, err := rssKB(s.cmd.Process.Pid)
		if err != nil {
			b.Fatal(err)
		}
		samples = append(samples, float64(kb)/1024)
		s.close(b)
	}
	slices.Sort(samples)
	for b.Loop() {
	}
	b.ReportMetric(samples[1], "idle-RSS-MiB")
}

func rssKB(pid int) (int, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			return strconv.Atoi(strings.Fields(line)[1])
		}
	}
	return 0, os.ErrNotExist
}
