package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/config"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/mcpserver"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/payments"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/toolerr"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/tunnel"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/webhook"
)

// webhooks is the running receiver, its tunnel and what the MCP tools see
// of them (it implements mcpserver.Webhooks).
type webhooks struct {
	cfg    config.WebhookConfig
	events store.Events
	tun    *tunnel.Manager
	key    []byte // HMAC key (hex-decoded device secret); nil in unsigned mode
	secret string // the same, as hex, for the sandbox fake
	prober *http.Client
}

// webhookKey returns the HMAC key: the device secret, or in sandbox mode
// without one a random secret shared with the fake.
func webhookKey(cfg config.Config) (key []byte, secretHex string, err error) {
	secretHex = cfg.DeviceSecret
	if secretHex == "" && cfg.Sandbox() {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, "", fmt.Errorf("sandbox webhook secret: %w", err)
		}
		secretHex = hex.EncodeToString(b)
	}
	if secretHex == "" {
		return nil, "", nil // WEBHOOK_ALLOW_UNSIGNED (config refuses anything else)
	}
	key, err = webhook.DecodeSecret(secretHex)
	if err != nil {
		return nil, "", fmt.Errorf("BITNOVO_DEVICE_SECRET: %w", err)
	}
	return key, secretHex, nil
}

// startWebhooks opens the receiver's listener, serves it, and starts the
// tunnel without waiting for it: a tunnel never delays the MCP handshake.
func (a *app) startWebhooks(ctx context.Context, events store.Events) (*webhooks, error) {
	wc := a.cfg.Webhook
	key, secretHex, err := webhookKey(a.cfg)
	if err != nil {
		return nil, err
	}
	w := &webhooks{cfg: wc, events: events, key: key, secret: secretHex, prober: &http.Client{Timeout: 10 * time.Second}}

	rl := webhook.RateLimit{PerSecond: wc.RateLimit, Burst: int(max(2*wc.RateLimit, 1)), Disabled: wc.RateLimit == 0}
	rc, err := webhook.New(webhook.Options{
		Path: wc.Path, Key: key, AllowUnsigned: wc.AllowUnsigned, Window: wc.NonceWindow, Store: events,
		RateLimit: rl, StatsToken: wc.StatsToken, MaxEvents: wc.MaxEvents, EventTTL: wc.EventTTL,
		Logger: a.log.With("component", "webhook"), Observe: a.observeWebhook,
	})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", wc.Addr())
	if err != nil {
		return nil, fmt.Errorf("WEBHOOK_HOST/WEBHOOK_PORT: cannot listen on %s: %w", wc.Addr(), err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	host := wc.Host
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	local := "http://" + net.JoinHostPort(host, fmt.Sprint(port)) // where the tunnel forwards to
	srv := rc.Server(wc.Addr())
	srv.Handler = a.tel.WebhookHandler(srv.Handler)
	go func() { _ = srv.Serve(ln) }()
	if _, err := rc.Prune(ctx); err != nil {
		a.log.Warn("webhook retention", "error", err)
	}
	go rc.RunPruner(ctx, time.Minute)
	a.onClose(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})

	tc := tunnel.Config{
		Enabled: wc.TunnelEnabled, Provider: wc.TunnelProvider, PublicURL: wc.PublicURL,
		NgrokAuthtoken: wc.NgrokAuthtoken, NgrokDomain: wc.NgrokDomain,
		ZrokToken: wc.ZrokToken, ZrokUniqueName: wc.ZrokUniqueName,
		HealthInterval: wc.HealthInterval, MaxRetries: wc.MaxReconnects, Backoff: wc.ReconnectDelay,
		LocalURL: local, Logger: a.log,
	}
	if !wc.TunnelEnabled && wc.PublicURL != "" {
		// WEBHOOK_PUBLIC_URL without a tunnel: the server is reachable as is.
		tc.Enabled, tc.Provider = true, tunnel.ProviderManual
	}
	w.tun, err = tunnel.New(tc)
	if err != nil {
		return nil, fmt.Errorf("tunnel: %w", err)
	}
	if err := w.tun.Start(ctx); err != nil {
		return nil, fmt.Errorf("tunnel: %w", err)
	}
	a.onClose(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = w.tun.Close(cctx)
	})
	a.log.Info("webhook receiver listening", "local_url", local+wc.Path, "tunnel", w.tun.Provider(),
		"signed", key != nil)
	return w, nil
}

// Events implements mcpserver.Webhooks.
func (w *webhooks) Events() store.Events { return w.events }

// URL implements mcpserver.Webhooks.
func (w *webhooks) URL() (string, string, error) {
	u, err := w.tun.WebhookURL(w.cfg.Path)
	if err != nil {
		var te *tunnel.Error
		if errors.As(err, &te) {
			return "", te.Provider, toolerr.Wrap(err, te.Code, err.Error(), map[string]any{"provider": te.Provider})
		}
		return "", "", err
	}
	return u, w.tun.Provider(), nil
}

// Validate implements mcpserver.Webhooks: a signed probe through the
// public URL must come back from this receiver.
func (w *webhooks) Validate(ctx context.Context, u string) error {
	return webhook.Probe(ctx, w.prober, u, w.key, time.Now())
}

// Instructions implements mcpserver.Webhooks.
func (w *webhooks) Instructions(u, _ string) string { return w.tun.Instructions(u) }

// TunnelStatus implements mcpserver.Webhooks.
func (w *webhooks) TunnelStatus() mcpserver.TunnelStatus {
	s := w.tun.Status()
	out := mcpserver.TunnelStatus{
		Enabled: s.Enabled, Provider: s.Provider, Status: string(s.Status), PublicURL: s.PublicURL,
		ConnectedAt: s.ConnectedAt, LastError: s.LastError, ReconnectAttempts: s.ReconnectAttempts,
		HealthCheckEnabled: s.HealthCheckEnabled,
	}
	if d := s.ContextDetected; d != nil {
		out.ContextDetected = &mcpserver.DetectedContext{ExecutionContext: d.ExecutionContext, Confidence: d.Confidence,
			SuggestedProvider: d.SuggestedProvider, Indicators: d.Indicators}
	}
	if u, err := w.tun.WebhookURL(w.cfg.Path); err == nil {
		out.WebhookURL = &u
	}
	return out
}

// watchEvents wakes wait_for_payment callers and notifies resource
// subscribers whenever an event is committed.
func watchEvents(ctx context.Context, events store.Events, svc *payments.Service, server *mcp.Server) error {
	updates := make(chan string, 1024)
	if err := events.WatchEvents(ctx, func(e store.Event) {
		svc.PaymentUpdated(e.Identifier)
		select {
		case updates <- e.Identifier:
		default: // a subscriber storm; the payment's next event notifies again
		}
	}); err != nil {
		return fmt.Errorf("watch webhook events: %w", err)
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case id := <-updates:
				_ = server.ResourceUpdated(ctx, &mcp.ResourceUpdatedNotificationParams{URI: mcpserver.PaymentResourceURI(id)})
			}
		}
	}()
	return nil
}
