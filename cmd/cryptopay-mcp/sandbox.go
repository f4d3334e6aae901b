package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/fakebitnovo"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/loopback"
)

// The sandbox's Bitnovo fake keeps its state in the data dir, so payments
// made before a restart still answer after it — status, checkout page, QR
// codes and replays — at the same base URL:
//
//	<data dir>/bitnovo-sandbox/orders.jsonl     the orders and their lifecycle (fakebitnovo.Open)
//	<data dir>/bitnovo-sandbox/address          host:port the fake listens on, chosen at first start
//	<data dir>/bitnovo-sandbox/webhook-secret   the secret signing its webhooks (hex)
const sandboxStateDir = "bitnovo-sandbox"

// startSandboxFake serves the persistent fake for a data dir. It listens on
// the address of the last run so old web_url links keep working; when that
// port is taken (another process, perhaps a second client running this
// server on the same data dir) it says so and serves this run on a new
// port, keeping the old address for the next run: older links answer again
// once the port is free.
func startSandboxFake(dataDir, deviceID string, log *slog.Logger) (*fakebitnovo.Server, string, func(), error) {
	dir := filepath.Join(dataDir, sandboxStateDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", nil, fmt.Errorf("sandbox state: %w", err)
	}
	addrFile := filepath.Join(dir, "address")
	saved, err := readSandboxAddress(addrFile)
	if err != nil {
		return nil, "", nil, err
	}
	addr := saved
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, base, err := listen(addr)
	if err != nil && saved != "" {
		usualErr := err
		ln, base, err = listen("127.0.0.1:0")
		if err == nil {
			log.Warn("sandbox: the sandbox's usual address is in use, perhaps by another cryptopay-mcp on the same data dir; "+
				"serving it on another port for this run: web_url links and QR codes made before the restart point at the usual address "+
				"and answer again once it is free", "usual", "http://"+saved, "now", base, "state", dir, "error", usualErr)
		}
	}
	if err != nil {
		return nil, "", nil, err
	}
	if saved == "" {
		if err := os.WriteFile(addrFile, []byte(ln.Addr().String()+"\n"), 0o600); err != nil {
			_ = ln.Close()
			return nil, "", nil, fmt.Errorf("sandbox state: %w", err)
		}
	}
	fake, err := fakebitnovo.Open(fakebitnovo.Options{DeviceID: deviceID, PublicURL: base}, filepath.Join(dir, "orders.jsonl"))
	if err != nil {
		_ = ln.Close()
		return nil, "", nil, err
	}
	if n := fake.SkippedStateLines(); n > 0 {
		log.Warn("sandbox: some saved payment changes could not be read (a crash mid-write?) and are lost", "lines", n, "state", dir)
	}
	srv := serve(ln, fake)
	stop := func() {
		shutdown(srv)
		if err := fake.StateErr(); err != nil {
			log.Warn("sandbox: payments made in this run may be missing after a restart", "error", err)
		}
		_ = fake.Close()
	}
	log.Info("sandbox Bitnovo Pay API", "url", base, "orders", fake.OrderCount(), "state", dir)
	return fake, base, stop, nil
}

// readSandboxAddress returns the saved loopback host:port, "" if none.
func readSandboxAddress(path string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("sandbox state: %w", err)
	}
	addr := strings.TrimSpace(string(b))
	host, port, err := net.SplitHostPort(addr)
	if err != nil || !loopback.Host(host) || port == "" || port == "0" {
		return "", fmt.Errorf("sandbox state: %s: want a loopback host:port, got %q (delete the file to pick a new port)", path, addr)
	}
	return addr, nil
}

// sandboxWebhookSecret returns the secret the sandbox signs webhooks with,
// created once per data dir so deliveries verify across restarts.
func sandboxWebhookSecret(dataDir string) (string, error) {
	path := filepath.Join(dataDir, sandboxStateDir, "webhook-secret")
	b, err := os.ReadFile(path)
	if err == nil {
		s := strings.TrimSpace(string(b))
		if k, derr := hex.DecodeString(s); derr != nil || len(k) != 32 {
			return "", fmt.Errorf("sandbox webhook secret: %s: want 64 hex characters (delete the file to make a new one)", path)
		}
		return s, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("sandbox webhook secret: %w", err)
	}
	k := make([]byte, 32)
	_, _ = rand.Read(k) // crypto/rand.Read never fails
	s := hex.EncodeToString(k)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("sandbox webhook secret: %w", err)
	}
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("sandbox webhook secret: %w", err)
	}
	return s, nil
}
