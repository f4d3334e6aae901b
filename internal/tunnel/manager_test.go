package tunnel

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func fakeManager(t *testing.T, mut func(*Config)) (*Manager, *Fake, *sleepLog) {
	t.Helper()
	srv := receiver(t)
	sl := &sleepLog{}
	cfg := Config{
		Enabled:        true,
		Provider:       ProviderFake,
		LocalURL:       srv.URL,
		HealthInterval: time.Hour, // tests that want checks set it
		Backoff:        5 * time.Second,
		Detected:       localContext(),
		Fake:           NewFake(),
		Sleep:          sl.sleep,
	}
	if mut != nil {
		mut(&cfg)
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return m, cfg.Fake, sl
}

func state(m *Manager) func() bool {
	return func() bool { return m.Status().Status == StateConnected }
}

func get(t *testing.T, u string) string {
	t.Helper()
	c := newHealthClient()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestManagerFakeConnectDropReconnect(t *testing.T) {
	m, fake, sl := fakeManager(t, nil)
	sl.gate = make(chan struct{})
	var urls urlLog
	m.OnURLChange(urls.add)

	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "connected", 5*time.Second, state(m))
	first := m.PublicURL()
	if first == "" || first != fake.URL() {
		t.Fatalf("PublicURL = %q, fake URL = %q", first, fake.URL())
	}
	if got := get(t, JoinURL(first, "/webhook/bitnovo")); got != "received GET /webhook/bitnovo" {
		t.Fatalf("through the fake tunnel: %q", got)
	}
	st := m.Status()
	if st.Provider != ProviderFake || !st.Enabled || !st.HealthCheckEnabled || st.ConnectedAt == nil || st.LastError != nil {
		t.Fatalf("status after connect: %+v", st)
	}

	fake.Drop()
	waitFor(t, "reconnecting", 5*time.Second, func() bool { return m.Status().Status == StateReconnecting })
	st = m.Status()
	if st.ReconnectAttempts != 1 || st.LastError == nil || !strings.Contains(*st.LastError, "connection lost") {
		t.Fatalf("status while reconnecting: %+v (last_error %v)", st, deref(st.LastError))
	}
	if m.PublicURL() != first {
		t.Fatalf("PublicURL while reconnecting = %q; want the last one %q", m.PublicURL(), first)
	}
	sl.gate <- struct{}{}
	waitFor(t, "reconnected", 5*time.Second, state(m))
	second := m.PublicURL()
	if second == first || second != fake.URL() {
		t.Fatalf("after reconnect PublicURL = %q (first %q, fake %q); want a new port", second, first, fake.URL())
	}
	st = m.Status()
	if st.ReconnectAttempts != 0 || st.LastError != nil || deref(st.PublicURL) != second {
		t.Fatalf("status after reconnect: %+v", st)
	}
	waitFor(t, "callbacks", time.Second, func() bool { return len(urls.get()) == 2 })
	if got := urls.get(); !slices.Equal(got, []string{first, second}) {
		t.Fatalf("OnURLChange got %q; want %q", got, []string{first, second})
	}
	if got := sl.get(); !slices.Equal(got, []time.Duration{5 * time.Second}) {
		t.Fatalf("waits = %v", got)
	}
	if got := get(t, JoinURL(second, "/x")); got != "received GET /x" {
		t.Fatalf("through the new tunnel: %q", got)
	}
}

func TestManagerHealthCheckFailure(t *testing.T) {
	m, fake, sl := fakeManager(t, func(c *Config) { c.HealthInterval = 10 * time.Millisecond })
	sl.gate = make(chan struct{})
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "connected", 5*time.Second, state(m))
	first := m.PublicURL()
	fake.SetUnhealthy(true)
	waitFor(t, "reconnecting", 5*time.Second, func() bool { return m.Status().Status == StateReconnecting })
	if le := deref(m.Status().LastError); !strings.Contains(le, "health check") || !strings.Contains(le, "503") {
		t.Fatalf("last_error = %q", le)
	}
	fake.SetUnhealthy(false)
	sl.gate <- struct{}{}
	waitFor(t, "reconnected", 5*time.Second, state(m))
	if m.PublicURL() == first {
		t.Fatal("URL not refreshed")
	}
}

func TestManagerGivesUpAfterMaxRetries(t *testing.T) {
	m, fake, sl := fakeManager(t, func(c *Config) { c.MaxRetries = 7 })
	fake.SetDown(true)
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "error state", 5*time.Second, func() bool { return m.Status().Status == StateError })
	want := []time.Duration{5, 10, 20, 40, 60, 60, 60}
	for i := range want {
		want[i] *= time.Second
	}
	if got := sl.get(); !slices.Equal(got, want) {
		t.Fatalf("backoff waits = %v; want %v", got, want)
	}
	st := m.Status()
	if st.ReconnectAttempts != 7 || st.PublicURL != nil || !strings.Contains(deref(st.LastError), "fake tunnel service is down") {
		t.Fatalf("final status: %+v (%s)", st, deref(st.LastError))
	}
	_, err := m.WebhookURL("/webhook/bitnovo")
	var te *Error
	if !errors.As(err, &te) || te.Code != CodeConnectionFailed || !strings.Contains(err.Error(), "fake tunnel service is down") {
		t.Fatalf("WebhookURL error = %v", err)
	}
}

func TestManagerInitialFailureThenSuccess(t *testing.T) {
	m, fake, sl := fakeManager(t, nil)
	sl.gate = make(chan struct{})
	fake.SetDown(true)
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "reconnecting", 5*time.Second, func() bool { return m.Status().Status == StateReconnecting })
	if le := deref(m.Status().LastError); !strings.Contains(le, "fake tunnel: connect") {
		t.Fatalf("last_error = %q", le)
	}
	fake.SetDown(false)
	sl.gate <- struct{}{}
	waitFor(t, "connected", 5*time.Second, state(m))
	if st := m.Status(); st.ReconnectAttempts != 0 || st.LastError != nil {
		t.Fatalf("status: %+v", st)
	}
}

// scripted is a provider whose connect does what the test says.
type scripted struct {
	connect func(ctx context.Context) (string, error)
	closed  *atomic.Int32
}

type scriptedProvider struct{ s *scripted }

func (p scriptedProvider) connect(ctx context.Context) (string, error) { return p.s.connect(ctx) }
func (p scriptedProvider) healthy(context.Context) error               { return nil }
func (p scriptedProvider) lost() <-chan struct{}                       { return nil }
func (p scriptedProvider) close() error {
	if p.s.closed != nil {
		p.s.closed.Add(1)
	}
	return nil
}

func TestStartDoesNotBlock(t *testing.T) {
	m, _, _ := fakeManager(t, func(c *Config) { c.ConnectTimeout = time.Hour })
	entered := make(chan struct{})
	var closed atomic.Int32
	s := &scripted{closed: &closed, connect: func(ctx context.Context) (string, error) {
		close(entered)
		<-ctx.Done() // hangs until Close
		return "", ctx.Err()
	}}
	m.newProvider = func() provider { return scriptedProvider{s} }

	start := time.Now()
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("Start took %s", d)
	}
	if st := m.Status(); st.Status != StateConnecting || st.PublicURL != nil {
		t.Fatalf("status = %+v", st)
	}
	<-entered
	if m.PublicURL() != "" {
		t.Fatal("URL before connect")
	}
	if _, err := m.WebhookURL("/w"); err == nil || !strings.Contains(err.Error(), "still connecting") {
		t.Fatalf("WebhookURL while connecting: %v", err)
	}
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := m.Status(); st.Status != StateDisconnected || closed.Load() != 1 {
		t.Fatalf("after Close: %+v, provider closed %d times", st, closed.Load())
	}
	if err := m.Start(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Close = %v", err)
	}
}

func TestConnectTimeout(t *testing.T) {
	m, _, sl := fakeManager(t, func(c *Config) { c.ConnectTimeout = 20 * time.Millisecond; c.MaxRetries = 1 })
	m.newProvider = func() provider {
		return scriptedProvider{&scripted{connect: func(ctx context.Context) (string, error) {
			<-ctx.Done()
			return "", context.Cause(ctx)
		}}}
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "error state", 5*time.Second, func() bool { return m.Status().Status == StateError })
	le := deref(m.Status().LastError)
	if !strings.Contains(le, "no public URL within 20ms") || !strings.HasPrefix(le, "fake tunnel: connect") {
		t.Fatalf("last_error = %q", le)
	}
	if len(sl.get()) != 1 {
		t.Fatalf("waits = %v", sl.get())
	}
}

func TestPermanentErrorStopsRetrying(t *testing.T) {
	m, _, sl := fakeManager(t, nil)
	m.newProvider = func() provider {
		return scriptedProvider{&scripted{connect: func(context.Context) (string, error) {
			e := connErr(ProviderFake, "find CLI", errors.New("zrok not found"), "install it")
			e.permanent = true
			return "", e
		}}}
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "error state", 5*time.Second, func() bool { return m.Status().Status == StateError })
	if len(sl.get()) != 0 {
		t.Fatalf("retried a permanent error: %v", sl.get())
	}
	if le := deref(m.Status().LastError); !strings.Contains(le, "install it") {
		t.Fatalf("last_error = %q", le)
	}
}

func TestStartTwice(t *testing.T) {
	m, _, _ := fakeManager(t, nil)
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err == nil {
		t.Fatal("second Start succeeded")
	}
}

func TestCancelStartContextStops(t *testing.T) {
	m, _, _ := fakeManager(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "connected", 5*time.Second, state(m))
	cancel()
	waitFor(t, "disconnected", 5*time.Second, func() bool { return m.Status().Status == StateDisconnected })
}

// B5: webhooks on, tunnel off, WEBHOOK_PUBLIC_URL set.
func TestManualWithTunnelDisabled(t *testing.T) {
	m, err := New(Config{PublicURL: "https://n8n.company.com/", Detected: localContext()})
	if err != nil {
		t.Fatal(err)
	}
	if st := m.Status(); st.Status != StateDisconnected {
		t.Fatalf("before Start: %+v", st)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := m.Status()
	if st.Enabled || st.Provider != ProviderManual || st.Status != StateConnected ||
		deref(st.PublicURL) != "https://n8n.company.com" || st.HealthCheckEnabled || st.LastError != nil {
		t.Fatalf("status = %+v", st)
	}
	var got string
	m.OnURLChange(func(u string) { got = u })
	if got != "https://n8n.company.com" {
		t.Fatalf("late OnURLChange got %q", got)
	}
	u, err := m.WebhookURL("/webhook/bitnovo")
	if err != nil || u != "https://n8n.company.com/webhook/bitnovo" {
		t.Fatalf("WebhookURL = %q, %v", u, err)
	}
	if !strings.HasPrefix(m.Instructions(u), "✅ Using this server's public URL") {
		t.Fatal(m.Instructions(u))
	}
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if m.Status().Status != StateDisconnected {
		t.Fatal("not disconnected after Close")
	}
}

func TestNoURLAnywhere(t *testing.T) {
	m, err := New(Config{Detected: localContext()})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := m.Status()
	if st.Status != StateDisconnected || st.Enabled || st.Provider != ProviderManual ||
		!strings.Contains(deref(st.LastError), "WEBHOOK_PUBLIC_URL") || st.HealthCheckEnabled {
		t.Fatalf("status = %+v (%s)", st, deref(st.LastError))
	}
	_, err = m.WebhookURL("/webhook/bitnovo")
	var te *Error
	if !errors.As(err, &te) || te.Code != CodeNoPublicURL || !strings.Contains(te.Error(), "TUNNEL_ENABLED=true") {
		t.Fatalf("WebhookURL error = %v", err)
	}
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestAutoNgrokWithoutTokenDoesNotStart(t *testing.T) {
	m, err := New(Config{Enabled: true, LocalURL: "http://127.0.0.1:3000", Detected: localContext()})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := m.Status()
	if st.Provider != ProviderNgrok || st.Status != StateDisconnected || !strings.Contains(deref(st.LastError), "NGROK_AUTHTOKEN") {
		t.Fatalf("status = %+v", st)
	}
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestManualHealthCheck(t *testing.T) {
	srv := receiver(t)
	m, err := New(Config{Enabled: true, Provider: "manual", PublicURL: srv.URL, ManualHealthCheck: true,
		HealthInterval: 10 * time.Millisecond, Detected: localContext()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "connected", 5*time.Second, state(m))
	if st := m.Status(); !st.HealthCheckEnabled || deref(st.PublicURL) != srv.URL {
		t.Fatalf("status = %+v", st)
	}
}

func TestStatusJSON(t *testing.T) {
	at := time.Date(2025, 9, 30, 10, 30, 0, 0, time.UTC)
	m, fake, _ := fakeManager(t, func(c *Config) { c.Now = func() time.Time { return at } })
	b, err := json.Marshal(m.Status())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"enabled":true,"provider":"fake","status":"disconnected","public_url":null,"connected_at":null,"last_error":null,` +
		`"reconnect_attempts":0,"health_check_enabled":true,"context_detected":{"execution_context":"local","confidence":0.7,` +
		`"suggested_provider":"ngrok","indicators":["Local development environment detected"]}}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "connected", 5*time.Second, state(m))
	var got map[string]any
	b, _ = json.Marshal(m.Status())
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got["connected_at"] != "2025-09-30T10:30:00.000Z" || got["public_url"] != fake.URL() || got["status"] != "connected" {
		t.Fatalf("connected status JSON: %s", b)
	}
}

func TestCloseWaitsAndHonoursContext(t *testing.T) {
	m, _, _ := fakeManager(t, nil)
	release := make(chan struct{})
	m.newProvider = func() provider {
		return scriptedProvider{&scripted{connect: func(ctx context.Context) (string, error) {
			<-release // ignores ctx: a stuck provider
			return "", ctx.Err()
		}}}
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := m.Close(ctx); err == nil {
		t.Fatal("Close returned nil while the supervisor was stuck")
	}
	close(release)
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
