package main

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// A sandbox payment made before a restart still works after it, through
// the built binary with the same data dir: its status, its checkout page at
// the same web_url, QR codes, an idempotent replay, webhooks. When the
// sandbox's port is taken at start the server says so and serves on
// another port; two servers on one data dir see each other's payments.
func TestSandboxSurvivesRestart(t *testing.T) {
	dataDir := t.TempDir()
	env := baseEnv(t, dataDir) // no credentials: sandbox mode

	s := startServer(t, env)
	var link linkOut
	s.ok(t, "create_payment_link", map[string]any{"amount_eur": 42.5, "idempotency_key": "restart-1", "include_qr": false}, &link)
	var onchain onchainOut
	s.ok(t, "create_payment_onchain", map[string]any{"amount_eur": 30, "input_currency": "ETH", "include_qr": false}, &onchain)
	base := baseOf(t, link.WebURL)
	post(t, base+"/_sandbox/orders/"+onchain.Identifier+"/pay", `{"outcome":"full"}`)
	s.close(t)

	s = startServer(t, env)
	var st statusOut
	s.ok(t, "get_payment_status", map[string]any{"identifier": onchain.Identifier}, &st)
	if st.Status != "CO" || !st.IsCompleted || !st.Sandbox {
		t.Fatalf("paid payment after restart: %+v", st)
	}
	s.ok(t, "get_payment_status", map[string]any{"identifier": link.Identifier}, &st)
	if st.Status != "NR" {
		t.Fatalf("open link after restart: %+v", st)
	}
	var q qrOut
	res := s.ok(t, "generate_payment_qr", map[string]any{"identifier": link.Identifier, "qr_type": "gateway_url", "size": 300}, &q)
	if got, _, _ := decodeQR(t, images(res)[0]); got != link.WebURL {
		t.Fatalf("gateway QR after restart = %q, want %q", got, link.WebURL)
	}
	res = s.ok(t, "generate_payment_qr", map[string]any{"identifier": onchain.Identifier, "qr_type": "payment_uri", "size": 300}, &q)
	if got, _, _ := decodeQR(t, images(res)[0]); got != onchain.PaymentURI {
		t.Fatalf("payment URI QR after restart = %q, want %q", got, onchain.PaymentURI)
	}
	page := get(t, link.WebURL)
	if !strings.Contains(page, link.Identifier) {
		t.Fatalf("checkout page at %s after restart does not show the payment", link.WebURL)
	}
	var again linkOut
	s.ok(t, "create_payment_link", map[string]any{"amount_eur": 42.5, "idempotency_key": "restart-1", "include_qr": false}, &again)
	if again.Identifier != link.Identifier || !again.IdempotentReplay || again.WebURL != link.WebURL {
		t.Fatalf("replay after restart = %+v, first = %+v", again, link)
	}
	// Paying the pre-restart link on its page sends signed webhooks that
	// the server verifies (with the secret kept in the data dir).
	waitTunnel(t, s)
	simulate(t, link.WebURL, "pay")
	if !webhookArrives(t, s, link.Identifier, "CO") {
		t.Fatalf("no verified CO webhook for the pre-restart payment\nstderr:\n%s", s.stderr.String())
	}
	s.ok(t, "get_payment_status", map[string]any{"identifier": link.Identifier}, &st)
	if st.Status != "CO" {
		t.Fatalf("paid after restart: %+v", st)
	}
	s.close(t)
	secret, err := os.ReadFile(filepath.Join(dataDir, sandboxStateDir, "webhook-secret"))
	if err != nil || len(strings.TrimSpace(string(secret))) != 64 {
		t.Fatalf("webhook secret file: %q %v", secret, err)
	}

	// Someone else holds the port: the server says so and still serves
	// every payment, on another port for this run.
	ln, err := net.Listen("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatalf("the port of the closed server is still busy: %v", err)
	}
	defer ln.Close()
	s = startServer(t, env)
	s.ok(t, "get_payment_status", map[string]any{"identifier": onchain.Identifier}, &st)
	if st.Status != "CO" {
		t.Fatalf("after a fallback: %+v", st)
	}
	if !strings.Contains(s.stderr.String(), "usual address is in use") {
		t.Fatalf("no warning about the taken port:\n%s", s.stderr.String())
	}
	m := regexp.MustCompile(`"?now"?[=:]"?(http://127\.0\.0\.1:\d+)`).FindStringSubmatch(s.stderr.String())
	if m == nil || m[1] == base {
		t.Fatalf("no new address in the warning:\n%s", s.stderr.String())
	}
	if page := get(t, m[1]+"/_sandbox/orders/"+link.Identifier); !strings.Contains(page, m[1]+"/") {
		t.Fatalf("web_url during the fallback is not at %s: %s", m[1], page)
	}
	s.close(t)
	ln.Close()

	// Two clients run the server on one data dir at once: the second falls
	// back to another port, and each finds the other's payments; a link
	// made through the second opens at the usual address too.
	first := startServer(t, env)
	second := startServer(t, env)
	if !strings.Contains(second.stderr.String(), "usual address is in use") {
		t.Fatalf("second server: no warning:\n%s", second.stderr.String())
	}
	var fromSecond linkOut
	second.ok(t, "create_payment_link", map[string]any{"amount_eur": 12, "include_qr": false}, &fromSecond)
	first.ok(t, "get_payment_status", map[string]any{"identifier": fromSecond.Identifier}, &st)
	if st.Status != "NR" {
		t.Fatalf("first server on the second's payment: %+v", st)
	}
	if page := get(t, base+strings.TrimPrefix(fromSecond.WebURL, baseOf(t, fromSecond.WebURL))); !strings.Contains(page, fromSecond.Identifier) {
		t.Fatal("the usual address does not serve the second server's payment")
	}
	second.ok(t, "get_payment_status", map[string]any{"identifier": onchain.Identifier}, &st)
	if st.Status != "CO" {
		t.Fatalf("second server on an old payment: %+v", st)
	}
	second.close(t)
	first.close(t)
}

func baseOf(t *testing.T, webURL string) string {
	t.Helper()
	u, err := url.Parse(webURL)
	if err != nil || u.Host == "" {
		t.Fatalf("web_url %q: %v", webURL, err)
	}
	return u.Scheme + "://" + u.Host
}

func get(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", u, resp.Status, b)
	}
	return string(b)
}

func post(t *testing.T, u, body string) {
	t.Helper()
	resp, err := http.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s: %s\n%s", u, resp.Status, b)
	}
}

// waitTunnel waits until the (fake) tunnel is up, so the fake has a
// webhook URL.
func waitTunnel(t *testing.T, s *server) {
	t.Helper()
	var tun struct {
		Status string `json:"status"`
	}
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		s.ok(t, "get_tunnel_status", nil, &tun)
		if tun.Status == "connected" {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("tunnel: %+v", tun)
		}
	}
}

// webhookArrives reports whether a verified webhook with status for id
// arrives within 10 s.
func webhookArrives(t *testing.T, s *server, id, status string) bool {
	t.Helper()
	var evs struct {
		Events []struct {
			Status    string `json:"status"`
			Validated bool   `json:"validated"`
		} `json:"events"`
	}
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		s.ok(t, "get_webhook_events", map[string]any{"identifier": id}, &evs)
		for _, e := range evs.Events {
			if e.Status == status && e.Validated {
				return true
			}
		}
	}
	return false
}
