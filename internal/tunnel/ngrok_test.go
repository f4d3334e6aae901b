package tunnel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.ngrok.com/ngrok/v2"
)

func TestPlanNgrok(t *testing.T) {
	tests := []struct {
		domain, want, err string
	}{
		{"", "", ""},
		{"bitnovo-dev.ngrok-free.app", "https://bitnovo-dev.ngrok-free.app", ""},
		{"https://bitnovo-dev.ngrok-free.app/", "https://bitnovo-dev.ngrok-free.app", ""},
		{" hooks.shop.com ", "https://hooks.shop.com", ""},
		{"http://hooks.shop.com", "", "https"},
		{"https://hooks.shop.com/path", "", "without a path"},
		{"https://", "", "not a domain"},
	}
	for _, tt := range tests {
		cfg := Config{LocalURL: "http://127.0.0.1:3000", NgrokDomain: tt.domain}
		got, err := planNgrok(&cfg)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("planNgrok(%q) err = %v; want %q", tt.domain, err, tt.err)
			}
			continue
		}
		if err != nil || got.endpointURL != tt.want || got.upstream != "http://127.0.0.1:3000" {
			t.Errorf("planNgrok(%q) = %+v, %v; want endpoint %q", tt.domain, got, err, tt.want)
		}
	}
}

func TestNgrokOptions(t *testing.T) {
	p := &ngrokProvider{authtoken: "t", plan: ngrokPlan{upstream: "http://127.0.0.1:3000"}, log: slog.New(slog.DiscardHandler)}
	if n := len(p.endpointOptions()); n != 1 {
		t.Fatalf("random URL: %d endpoint options; want only the description", n)
	}
	p.plan.endpointURL = "https://x.ngrok-free.app"
	if n := len(p.endpointOptions()); n != 2 {
		t.Fatalf("static domain: %d endpoint options; want description + URL", n)
	}
	p.extra = []ngrok.AgentOption{ngrok.WithAutoConnect(true)}
	if n := len(p.agentOptions()); n != 4 {
		t.Fatalf("%d agent options; want authtoken, logger, events + 1 extra", n)
	}
	if _, err := ngrok.NewAgent(p.agentOptions()...); err != nil {
		t.Fatal(err)
	}
}

type codeErr struct{ code string }

func (e codeErr) Error() string { return e.code + ": failed" }
func (e codeErr) Code() string  { return e.code }

func TestNgrokCauseAndPermanence(t *testing.T) {
	if !ngrokPermanent("ERR_NGROK_107") || ngrokPermanent("ERR_NGROK_108") {
		t.Fatal("permanence table wrong")
	}
	var ne ngrok.Error = codeErr{"ERR_NGROK_105"}
	if got := ngrokCause(fmt.Errorf("failed to connect: %w", ne)); got != ne {
		t.Fatalf("ngrokCause kept %v; want the service error", got)
	}
	joined := fmt.Errorf("failed to connect: %w", errors.Join(errors.New("dial 1"), errors.New("dial 2"), context.Canceled))
	if got := ngrokCause(joined); got == nil || got.Error() != "dial 2" {
		t.Fatalf("ngrokCause = %v; want the last real error", got)
	}
	if ngrokCause(nil) != nil {
		t.Fatal("ngrokCause(nil) != nil")
	}
}

// Offline: the agent cannot reach the ngrok service, so the connect
// times out with a TUNNEL_CONNECTION_FAILED error, and closing leaves no
// goroutines behind.
func TestNgrokConnectFailsOffline(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there now

	p := &ngrokProvider{
		authtoken: "2abcdefghijklmnopqrstuvwxyz_0123456789ABCDEFGH",
		plan:      ngrokPlan{upstream: "http://127.0.0.1:3000"},
		log:       slog.New(slog.DiscardHandler),
		extra:     []ngrok.AgentOption{ngrok.WithAgentConnectURL(addr)},
	}
	ctx, cancel := context.WithTimeoutCause(context.Background(), 300*time.Millisecond, errors.New("no public URL within 300ms"))
	defer cancel()
	start := time.Now()
	_, err = p.connect(ctx)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("connect took %s", d)
	}
	var te *Error
	if !errors.As(err, &te) || te.Code != CodeConnectionFailed || te.Provider != ProviderNgrok ||
		!strings.Contains(err.Error(), "no public URL within 300ms") || !strings.Contains(err.Error(), "NGROK_AUTHTOKEN") {
		t.Fatalf("err = %v", err)
	}
	if err := p.healthy(context.Background()); err == nil {
		t.Fatal("healthy after a failed connect")
	}
	_ = p.close()
	// The SDK's reconnect loop sleeps up to its backoff before it sees
	// the session closed.
	deadline := time.Now().Add(10 * time.Second)
	for goleak.Find(ignore) != nil && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	goleak.VerifyNone(t, ignore)
}

// Live: needs NGROK_AUTHTOKEN and internet access.
func TestNgrokLive(t *testing.T) {
	token := os.Getenv("NGROK_AUTHTOKEN")
	if token == "" {
		t.Skip("NGROK_AUTHTOKEN not set")
	}
	srv := receiver(t)
	m, err := New(Config{Enabled: true, Provider: ProviderNgrok, NgrokAuthtoken: token, NgrokDomain: os.Getenv("NGROK_DOMAIN"),
		LocalURL: srv.URL, HealthInterval: time.Second, Detected: localContext()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ngrok connected", 60*time.Second, func() bool {
		st := m.Status().Status
		if st == StateError {
			t.Fatalf("ngrok failed: %s", deref(m.Status().LastError))
		}
		return st == StateConnected
	})
	u := m.PublicURL()
	if !strings.HasPrefix(u, "https://") {
		t.Fatalf("public URL %q", u)
	}
	if err := probe(context.Background(), newHealthClient(), JoinURL(u, "/health")); err != nil {
		t.Fatalf("GET through ngrok: %v", err)
	}
	time.Sleep(2 * time.Second) // a couple of health checks
	if st := m.Status(); st.Status != StateConnected {
		t.Fatalf("status = %+v", st)
	}
}
