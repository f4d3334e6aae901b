package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

// TestStoreRemovedWhileRunning drives the built binary (sandbox, webhooks
// on) through issue 19's finding 3: with its database removed while it
// runs, a webhook delivery is answered 503 (the sandbox's Bitnovo retries)
// instead of a 200 for an event the next start would not read, and a
// create is refused before anything is sent to Bitnovo.
func TestStoreRemovedWhileRunning(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, baseEnv(t, dir))
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(s.stderr.String())
		}
	})
	var link struct {
		Identifier string `json:"identifier"`
		WebURL     string `json:"web_url"`
	}
	s.ok(t, "create_payment_link", map[string]any{"amount_eur": 12, "include_qr": false}, &link)
	var tun struct {
		Status string `json:"status"`
	}
	for deadline := time.Now().Add(10 * time.Second); tun.Status != "connected" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		s.ok(t, "get_tunnel_status", nil, &tun)
	}

	before := len(s.stderr.String())
	if err := os.Remove(filepath.Join(dir, "cryptopay.db")); err != nil {
		t.Fatal(err)
	}
	if e := s.fail(t, "create_payment_link", map[string]any{"amount_eur": 13, "include_qr": false}); e.Error.Code != "STORE_UNAVAILABLE" {
		t.Fatalf("create with the store removed: %+v", e)
	}
	// The checkout page makes the fake Bitnovo send a signed webhook
	// through the tunnel; the receiver must not acknowledge it.
	simulate(t, link.WebURL, "pay")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.stderr.String()[before:], "outcome=store_error") {
		if time.Now().After(deadline) {
			t.Fatal("no delivery was refused with store_error")
		}
		time.Sleep(50 * time.Millisecond)
	}
	log := s.stderr.String()[before:]
	if !strings.Contains(log, "status=503") {
		t.Fatalf("the refusal was not a 503")
	}
	if strings.Contains(log, `msg="webhook accepted"`) {
		t.Fatal("a delivery was acknowledged after the database was removed")
	}
}

// TestStoreReadyFailsOnFault: /readyz's probe fails once the SQLite file
// was removed (on main it read through the unlinked file and said ready).
func TestStoreReadyFailsOnFault(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cryptopay.db")
	st, err := store.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ready := storeReady(st)
	if err := ready(ctx); err != nil {
		t.Fatalf("healthy store not ready: %v", err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := ready(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("ready after removal: %v, want ErrUnavailable", err)
	}
}

// TestStoreUpMetric: an operator's alert sees the fault /readyz sees. With
// the SQLite file removed under a running http server, cryptopay_store_up
// drops from 1 to 0 and /readyz answers 503.
func TestStoreUpMetric(t *testing.T) {
	dir := t.TempDir()
	p := startHTTP(t, baseEnv(t, dir), "--listen", "127.0.0.1:0")
	metric := func() string {
		t.Helper()
		code, body := p.do(t, "GET", "/metrics", "", nil, "")
		if code != 200 {
			t.Fatalf("/metrics: %d", code)
		}
		for line := range strings.Lines(body) {
			if v, ok := strings.CutPrefix(line, "cryptopay_store_up "); ok {
				return strings.TrimSpace(v)
			}
		}
		t.Fatalf("/metrics has no cryptopay_store_up:\n%s", body)
		return ""
	}
	if v := metric(); v != "1" {
		t.Fatalf("cryptopay_store_up = %s on a healthy store, want 1", v)
	}
	if err := os.Remove(filepath.Join(dir, "cryptopay.db")); err != nil {
		t.Fatal(err)
	}
	if v := metric(); v != "0" {
		t.Fatalf("cryptopay_store_up = %s with the database removed, want 0", v)
	}
	if code, body := p.do(t, "GET", "/readyz", "", nil, ""); code != 503 {
		t.Fatalf("/readyz with the database removed: %d %q, want 503", code, body)
	}
}
