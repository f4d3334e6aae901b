package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/fakebitnovo"
)

// simulate presses a button of the sandbox checkout page (the page's own
// endpoint, as its JavaScript does).
func simulate(t *testing.T, webURL, action string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"action": action})
	resp, err := http.Post(strings.TrimRight(webURL, "/")+"/simulate", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("simulate %s: HTTP %d", action, resp.StatusCode)
	}
}

// TestSandboxWebhookEndToEnd is the whole push path through a real MCP
// client: create a link, subscribe to it, pay on the checkout page, get
// notifications/resources/updated from the signed webhook the fake sent
// through the (fake) tunnel, and see wait_for_payment return CO.
func TestSandboxWebhookEndToEnd(t *testing.T) {
	var mu sync.Mutex
	var updated []string
	var progress []string
	gotUpdate := make(chan struct{}, 16)
	opts := &mcp.ClientOptions{
		ResourceUpdatedHandler: func(_ context.Context, r *mcp.ResourceUpdatedNotificationRequest) {
			mu.Lock()
			updated = append(updated, r.Params.URI)
			mu.Unlock()
			gotUpdate <- struct{}{}
		},
		ProgressNotificationHandler: func(_ context.Context, r *mcp.ProgressNotificationClientRequest) {
			mu.Lock()
			progress = append(progress, r.Params.Message)
			mu.Unlock()
		},
	}
	s := startServerWith(t, opts, baseEnv(t, t.TempDir()))
	ctx := context.Background()

	var tun struct {
		Enabled    bool    `json:"enabled"`
		Provider   string  `json:"provider"`
		Status     string  `json:"status"`
		PublicURL  *string `json:"public_url"`
		WebhookURL *string `json:"webhook_url"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.ok(t, "get_tunnel_status", nil, &tun)
		if tun.Status == "connected" || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !tun.Enabled || tun.Provider != "fake" || tun.Status != "connected" || tun.PublicURL == nil || tun.WebhookURL == nil {
		t.Fatalf("tunnel: %+v", tun)
	}
	var wu struct {
		WebhookURL string `json:"webhook_url"`
		Provider   string `json:"provider"`
		Validated  bool   `json:"validated"`
		Error      string `json:"validation_error"`
	}
	s.ok(t, "get_webhook_url", map[string]any{"validate": true}, &wu)
	if !wu.Validated || wu.Provider != "fake" || !strings.HasSuffix(wu.WebhookURL, "/webhook/bitnovo") {
		t.Fatalf("get_webhook_url: %+v", wu)
	}

	var link struct {
		Identifier string `json:"identifier"`
		WebURL     string `json:"web_url"`
	}
	s.ok(t, "create_payment_link", map[string]any{"amount_eur": 25, "include_qr": false}, &link)
	uri := "bitnovo://payments/" + link.Identifier
	if err := s.session.Subscribe(ctx, &mcp.SubscribeParams{URI: uri}); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	read, err := s.session.ReadResource(ctx, &mcp.ReadResourceParams{URI: uri})
	if err != nil || len(read.Contents) != 1 || !strings.Contains(read.Contents[0].Text, `"status":"NR"`) {
		t.Fatalf("read resource: %v %+v", err, read)
	}
	// A malformed payment URI is invalid params (-32602), not code 0.
	_, err = s.session.ReadResource(ctx, &mcp.ReadResourceParams{URI: "bitnovo://payments/not-a-uuid"})
	if werr, ok := errors.AsType[*jsonrpc.Error](err); !ok || werr.Code != jsonrpc.CodeInvalidParams {
		t.Fatalf("read malformed resource: got %v, want JSON-RPC error %d", err, jsonrpc.CodeInvalidParams)
	}

	type waitOut struct {
		Status         string `json:"status"`
		Reached        bool   `json:"reached"`
		WokenByWebhook bool   `json:"woken_by_webhook"`
	}
	waitDone := make(chan waitOut, 1)
	go func() {
		params := &mcp.CallToolParams{Name: "wait_for_payment", Arguments: map[string]any{"identifier": link.Identifier, "timeout_seconds": 60}}
		params.SetProgressToken("wait-1")
		res, err := s.session.CallTool(ctx, params)
		var out waitOut
		if err == nil && !res.IsError {
			b, _ := json.Marshal(res.StructuredContent)
			_ = json.Unmarshal(b, &out)
		}
		waitDone <- out
	}()
	time.Sleep(300 * time.Millisecond) // let the wait begin (it reports NR first)

	simulate(t, link.WebURL, "pay")
	select {
	case <-gotUpdate:
	case <-time.After(10 * time.Second):
		t.Fatalf("no notifications/resources/updated\nstderr:\n%s", s.stderr.String())
	}
	var w waitOut
	select {
	case w = <-waitDone:
	case <-time.After(20 * time.Second):
		t.Fatal("wait_for_payment did not return")
	}
	if w.Status != "CO" || !w.Reached || !w.WokenByWebhook {
		t.Fatalf("wait_for_payment: %+v", w)
	}
	mu.Lock()
	if !slices.Contains(updated, uri) || len(progress) == 0 {
		t.Errorf("updates %v, progress %v", updated, progress)
	}
	mu.Unlock()

	var evs struct {
		Events []struct {
			EventID    string         `json:"event_id"`
			Identifier string         `json:"identifier"`
			Status     string         `json:"status"`
			Validated  bool           `json:"validated"`
			Payload    map[string]any `json:"payload"`
		} `json:"events"`
		TotalCount int `json:"total_count"`
	}
	// The fake's deliveries trail its state (the wait can end on the read
	// the AC webhook triggered); give the CO delivery a moment.
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		s.ok(t, "get_webhook_events", map[string]any{"identifier": link.Identifier}, &evs)
		if (len(evs.Events) > 0 && evs.Events[0].Status == "CO") || time.Now().After(end) {
			break
		}
	}
	var statuses []string
	for _, e := range evs.Events {
		if !e.Validated || e.Identifier != link.Identifier || e.Payload["identifier"] != link.Identifier {
			t.Errorf("event %+v", e)
		}
		statuses = append(statuses, e.Status)
	}
	if len(statuses) < 2 || statuses[0] != "CO" || !slices.Contains(statuses, "PE") || evs.TotalCount != len(statuses) {
		t.Fatalf("events newest first: %v (total %d)", statuses, evs.TotalCount)
	}
	s.ok(t, "get_webhook_events", map[string]any{"identifier": link.Identifier, "limit": 1}, &evs)
	if len(evs.Events) != 1 || evs.TotalCount != len(statuses) {
		t.Fatalf("limit with identifier: %d events, total %d", len(evs.Events), evs.TotalCount)
	}

	var st struct {
		Status      string `json:"status"`
		Source      string `json:"source"`
		LastWebhook *struct {
			Status string `json:"status"`
		} `json:"last_webhook"`
	}
	s.ok(t, "get_payment_status", map[string]any{"identifier": link.Identifier}, &st)
	if st.Status != "CO" || st.Source != "api" || st.LastWebhook == nil || st.LastWebhook.Status != "CO" {
		t.Fatalf("get_payment_status: %+v", st)
	}
}

// TestWebhooksOff: the webhook tools are not listed, calling one gives
// WEBHOOK_NOT_ENABLED, and wait_for_payment still works by polling.
func TestWebhooksOff(t *testing.T) {
	env := baseEnv(t, t.TempDir())
	env["WEBHOOK_ENABLED"] = "false"
	s := startServer(t, env)
	list, err := s.session.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range list.Tools {
		if strings.Contains(tool.Name, "webhook") || strings.Contains(tool.Name, "tunnel") {
			t.Errorf("%s listed with webhooks off", tool.Name)
		}
	}
	for _, name := range []string{"get_webhook_events", "get_webhook_url", "get_tunnel_status"} {
		if e := s.fail(t, name, nil); e.Error.Code != "WEBHOOK_NOT_ENABLED" {
			t.Errorf("%s: %s", name, e.Error.Code)
		}
	}
	var link struct {
		Identifier string `json:"identifier"`
		WebURL     string `json:"web_url"`
	}
	s.ok(t, "create_payment_link", map[string]any{"amount_eur": 10, "include_qr": false}, &link)
	time.AfterFunc(500*time.Millisecond, func() { simulate(t, link.WebURL, "cancel") })
	var w struct {
		Status        string `json:"status"`
		Reached       bool   `json:"reached"`
		EndedTerminal bool   `json:"ended_terminal"`
		Checks        int    `json:"checks"`
	}
	s.ok(t, "wait_for_payment", map[string]any{"identifier": link.Identifier, "timeout_seconds": 30}, &w)
	if w.Status != "CA" || w.Reached || !w.EndedTerminal || w.Checks < 2 {
		t.Fatalf("wait_for_payment by polling: %+v", w)
	}
}

// TestWebhookConfigErrors: a receiver that cannot verify signatures does
// not start.
func TestWebhookConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"live without a secret", map[string]string{"BITNOVO_DEVICE_ID": "12345678-abcd-4ef0-9abc-1234567890ab", "WEBHOOK_ENABLED": "true", "TUNNEL_ENABLED": "false"}, "BITNOVO_DEVICE_SECRET: required with WEBHOOK_ENABLED=true"},
		{"ngrok without a token", map[string]string{"WEBHOOK_ENABLED": "true", "TUNNEL_PROVIDER": "ngrok"}, "NGROK_AUTHTOKEN: required"},
		{"http public url", map[string]string{"WEBHOOK_ENABLED": "true", "WEBHOOK_PUBLIC_URL": "http://example.com"}, "WEBHOOK_PUBLIC_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := baseEnv(t, t.TempDir())
			for k, v := range tt.env {
				env[k] = v
			}
			cmd := exec.Command(binPath)
			cmd.Env = envList(env)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 2 || !strings.Contains(stderr.String(), tt.want) {
				t.Fatalf("exit %v, stderr %q", err, stderr.String())
			}
			if strings.Contains(stderr.String(), "goroutine") {
				t.Fatalf("stack trace: %s", stderr.String())
			}
		})
	}
}

// TestUnsignedWebhooksSayInvalidDeviceSecret: with WEBHOOK_ALLOW_UNSIGNED and
// no BITNOVO_DEVICE_SECRET the webhook tools give the agent the seed's
// INVALID_DEVICE_SECRET where the secret matters.
func TestUnsignedWebhooksSayInvalidDeviceSecret(t *testing.T) {
	const deviceID = "12345678-abcd-4ef0-9abc-1234567890ab"
	_, base := liveFake(t, deviceID, fakebitnovo.Options{})
	env := baseEnv(t, t.TempDir())
	for k, v := range map[string]string{"BITNOVO_DEVICE_ID": deviceID, "BITNOVO_BASE_URL": base, "WEBHOOK_ENABLED": "true",
		"WEBHOOK_ALLOW_UNSIGNED": "true", "TUNNEL_ENABLED": "false", "WEBHOOK_PUBLIC_URL": "https://hooks.example.com",
		"WEBHOOK_PORT": "0", "WEBHOOK_HOST": "127.0.0.1"} {
		env[k] = v
	}
	s := startServer(t, env)
	if e := s.fail(t, "get_webhook_events", nil); e.Error.Code != "INVALID_DEVICE_SECRET" {
		t.Fatalf("get_webhook_events: %+v", e)
	}
	var events struct {
		Events []any `json:"events"`
	}
	s.ok(t, "get_webhook_events", map[string]any{"validated_only": false}, &events)
	var u struct {
		WebhookURL  string `json:"webhook_url"`
		SecretError *struct {
			Code string `json:"code"`
		} `json:"secret_error"`
	}
	s.ok(t, "get_webhook_url", nil, &u)
	if u.WebhookURL != "https://hooks.example.com/webhook/bitnovo" || u.SecretError == nil || u.SecretError.Code != "INVALID_DEVICE_SECRET" {
		t.Fatalf("get_webhook_url: %+v", u)
	}
}
