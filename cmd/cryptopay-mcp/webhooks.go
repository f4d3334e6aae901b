package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
// without one the data dir's sandbox secret, shared with the fake.
func webhookKey(cfg config.Config) (key []byte, secretHex string, err error) {
	secretHex = cfg.DeviceSecret
	if secretHex == "" && cfg.Sandbox() {
		if secretHex, err = sandboxWebhookSecret(cfg.DataDir); err != nil {
			return nil, "", err
		}
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

// startWebhooks builds the receiver of this app's merchant. Without
// shared it also opens the listener, serves it, and starts the tunnel
// without waiting for it (a tunnel never delays the MCP handshake); with
// shared (tenants) the receiver joins the shared listener's router.
func (a *app) startWebhooks(ctx context.Context, events store.Events, shared *sharedWebhooks) (*webhooks, error) {
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
	if _, err := rc.Prune(ctx); err != nil {
		a.log.Warn("webhook retention", "error", err)
	}
	go rc.RunPruner(ctx, time.Minute)
	if shared != nil {
		shared.receivers = append(shared.receivers, rc)
		w.tun = shared.tun
		return w, nil
	}
	sw, err := listenWebhooks(ctx, a.cfg, a.log)
	if err != nil {
		return nil, err
	}
	a.onClose(sw.close)
	sw.receivers, sw.wrap = []*webhook.Receiver{rc}, a.tel.WebhookHandler
	if err := sw.start(ctx); err != nil {
		return nil, err
	}
	w.tun = sw.tun
	a.log.Info("webhook receiver listening", "local_url", sw.local+wc.Path, "tunnel", w.tun.Provider(),
		"signed", key != nil)
	return w, nil
}

// sharedWebhooks is the webhook listener and its tunnel: one app's, or
// shared by every tenant's app, whose receivers it routes between.
type sharedWebhooks struct {
	cfg       config.WebhookConfig
	ln        net.Listener
	local     string // where the tunnel forwards to
	tun       *tunnel.Manager
	receivers []*webhook.Receiver             // added before start
	wrap      func(http.Handler) http.Handler // e.g. tracing; nil: none
	srv       *http.Server
	log       *slog.Logger
}

// listenWebhooks opens the receiver's listener and prepares its tunnel;
// start serves them once the receivers are known.
func listenWebhooks(ctx context.Context, cfg config.Config, log *slog.Logger) (*sharedWebhooks, error) {
	wc := cfg.Webhook
	ln, err := net.Listen("tcp", wc.Addr())
	if err != nil {
		return nil, fmt.Errorf("WEBHOOK_HOST/WEBHOOK_PORT: cannot listen on %s: %w", wc.Addr(), err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	host := wc.Host
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	sw := &sharedWebhooks{cfg: wc, ln: ln, local: "http://" + net.JoinHostPort(host, fmt.Sprint(port)), log: log}
	tc := tunnel.Config{
		Enabled: wc.TunnelEnabled, Provider: wc.TunnelProvider, PublicURL: wc.PublicURL,
		NgrokAuthtoken: wc.NgrokAuthtoken, NgrokDomain: wc.NgrokDomain,
		ZrokToken: wc.ZrokToken, ZrokUniqueName: wc.ZrokUniqueName,
		HealthInterval: wc.HealthInterval, MaxRetries: wc.MaxReconnects, Backoff: wc.ReconnectDelay,
		LocalURL: sw.local, Logger: log,
	}
	if !wc.TunnelEnabled && wc.PublicURL != "" {
		// WEBHOOK_PUBLIC_URL without a tunnel: the server is reachable as is.
		tc.Enabled, tc.Provider = true, tunnel.ProviderManual
	}
	sw.tun, err = tunnel.New(tc)
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("tunnel: %w", err)
	}
	return sw, nil
}

// start serves the receivers (through a Router when there are several)
// and starts the tunnel.
func (sw *sharedWebhooks) start(ctx context.Context) error {
	if len(sw.receivers) == 0 {
		return errors.New("webhooks: no receiver")
	}
	var h http.Handler = sw.receivers[0]
	if len(sw.receivers) > 1 {
		rt, err := webhook.NewRouter(sw.receivers...)
		if err != nil {
			return err
		}
		h = rt
	}
	if sw.wrap != nil {
		h = sw.wrap(h)
	}
	sw.srv = sw.receivers[0].Server(sw.cfg.Addr())
	sw.srv.Handler = h
	go func() { _ = sw.srv.Serve(sw.ln) }()
	if err := sw.tun.Start(ctx); err != nil {
		return fmt.Errorf("tunnel: %w", err)
	}
	return nil
}

// close stops the tunnel and the listener.
func (sw *sharedWebhooks) close() {
	cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = sw.tun.Close(cctx)
	if sw.srv != nil {
		_ = sw.srv.Shutdown(cctx)
	} else {
		_ = sw.ln.Close()
	}
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

// Connecting implements doctor.WebhookEndpoint: the tunnel may still give
// a URL.
func (w *webhooks) Connecting() bool {
	s := w.tun.Status().Status
	return s == tunnel.StateConnecting || s == tunnel.StateReconnecting
}

// Validate implements mcpserver.Webhooks: a signed probe through the
// public URL must come back from this receiver.
func (w *webhooks) Validate(ctx context.Context, u string) error {
	return webhook.Probe(ctx, w.prober, u, w.key, time.Now())
}

// DeviceSecretError implements mcpserver.DeviceSecretReporter: without a
// key (WEBHOOK_ALLOW_UNSIGNED) nothing is verified. A malformed secret never
// gets here: the configuration refuses it at start-up.
func (w *webhooks) DeviceSecretError() error {
	if w.key == nil {
		return errors.New("not set; running with WEBHOOK_ALLOW_UNSIGNED=true")
	}
	return nil
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
