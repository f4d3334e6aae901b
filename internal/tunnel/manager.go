package tunnel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// ErrClosed is returned by Start after Close.
var ErrClosed = errors.New("tunnel: manager closed")

// Manager owns the tunnel: it connects in the background, health-checks,
// reconnects, and reports Status. All methods are safe for concurrent use.
type Manager struct {
	cfg         Config
	plan        plan
	det         Context
	log         *slog.Logger
	fake        *Fake
	newProvider func() provider // replaced by tests

	mu          sync.Mutex
	state       State
	url         string
	connectedAt time.Time
	lastErr     string
	attempts    int
	subs        []func(string)
	started     bool
	closed      bool
	cancel      context.CancelFunc
	done        chan struct{}
}

// New validates cfg and returns a Manager that has not started. It fails
// on configuration that cannot work: an unknown provider, a manual
// provider without a URL, a public URL that is not https (loopback
// excepted), ngrok without NGROK_AUTHTOKEN, or a tunnel without LocalURL.
//
// With TUNNEL_ENABLED=false (Enabled false) the Manager still serves a
// WEBHOOK_PUBLIC_URL, or a public URL found by Detect, as the manual
// provider; with neither, Status is disconnected and last_error says how
// to get a public URL. With an empty Provider the detected suggestion is
// used, and a missing credential is reported through Status rather than
// as an error, so that webhooks never stop the server from starting.
func New(cfg Config) (*Manager, error) {
	if err := cfg.applyDefaults(); err != nil {
		return nil, err
	}
	var det Context
	if cfg.Detected != nil {
		det = *cfg.Detected
	} else {
		det = DetectProcess(cfg.Getenv)
	}
	p, err := resolve(&cfg, det)
	if err != nil {
		return nil, err
	}
	m := &Manager{
		cfg:     cfg,
		plan:    p,
		det:     det,
		log:     cfg.Logger.With("component", "tunnel", "provider", p.provider),
		state:   StateDisconnected,
		lastErr: p.problem,
	}
	if p.problem == "" {
		m.newProvider = m.providerFactory()
	}
	return m, nil
}

func (m *Manager) providerFactory() func() provider {
	c := &m.cfg
	switch m.plan.provider {
	case ProviderManual:
		client := newHealthClient()
		return func() provider {
			return &manualProvider{url: m.plan.url, probe: m.plan.health && c.ManualHealthCheck, path: c.HealthPath, client: client}
		}
	case ProviderFake:
		m.fake = c.Fake
		if m.fake == nil {
			m.fake = NewFake()
		}
		local := parseLocal(c.LocalURL)
		client := newHealthClient()
		return func() provider {
			return &fakeProvider{fake: m.fake, local: local, path: c.HealthPath, client: client}
		}
	case ProviderNgrok:
		plan, _ := planNgrok(c) // validated by resolve
		log := m.log.With("component", "ngrok")
		return func() provider {
			return &ngrokProvider{authtoken: c.NgrokAuthtoken, plan: plan, log: log}
		}
	default: // zrok
		shared := &zrokShared{}
		client := newHealthClient()
		return func() provider {
			return &zrokProvider{
				binary: c.ZrokBinary, localURL: c.LocalURL, uniqueName: c.ZrokUniqueName, token: c.ZrokToken,
				healthPath: c.HealthPath, env: c.zrokEnv, grace: zrokKillGrace, log: m.log, client: client, shared: shared,
			}
		}
	}
}

// Provider returns the effective provider: ngrok, zrok, manual or fake.
func (m *Manager) Provider() string { return m.plan.provider }

// Detected returns the execution context detected (or given) at New.
func (m *Manager) Detected() Context { return m.det }

// Fake returns the fake provider's backend, or nil for other providers.
func (m *Manager) Fake() *Fake { return m.fake }

// Start begins connecting and returns at once: the connection is made in
// a goroutine, so a slow or failing tunnel never delays anything else.
// The manual provider (without health checks) is connected before Start
// returns. Cancelling ctx stops the tunnel; Close waits for it.
func (m *Manager) Start(ctx context.Context) error {
	m.mu.Lock()
	switch {
	case m.closed:
		m.mu.Unlock()
		return ErrClosed
	case m.started:
		m.mu.Unlock()
		return errors.New("tunnel: already started")
	}
	m.started = true
	if m.plan.problem != "" {
		m.mu.Unlock()
		m.log.Warn("no public webhook URL", "reason", m.plan.problem)
		return nil
	}
	if m.plan.provider == ProviderManual && !m.plan.health {
		m.mu.Unlock()
		m.connected(m.plan.url) // nothing to wait for: no goroutine
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	m.cancel, m.done = cancel, make(chan struct{})
	m.state = StateConnecting
	m.mu.Unlock()
	go m.run(ctx)
	return nil
}

// Close stops the supervisor and the tunnel (for zrok, the CLI's whole
// process group) and waits for them until ctx ends.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	m.closed = true
	cancel, done := m.cancel, m.done
	if done == nil {
		m.state, m.url, m.connectedAt = StateDisconnected, "", time.Time{}
	}
	m.mu.Unlock()
	if done == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("tunnel: close: %w", context.Cause(ctx))
	}
}

// OnURLChange registers fn to be called with the public base URL after
// every successful (re)connect, from the supervisor goroutine; fn must not
// block for long. If the tunnel is connected already, fn is called at once
// with the current URL.
func (m *Manager) OnURLChange(fn func(publicURL string)) {
	if fn == nil {
		return
	}
	m.mu.Lock()
	m.subs = append(m.subs, fn)
	u, connected := m.url, m.state == StateConnected
	m.mu.Unlock()
	if connected {
		fn(u)
	}
}

// PublicURL returns the public base URL (no webhook path), or "" when
// there is none. While reconnecting it is the last URL, which a static
// domain or reserved share keeps; Status says whether it works right now.
func (m *Manager) PublicURL() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state == StateConnected || m.state == StateReconnecting {
		return m.url
	}
	return ""
}

// WebhookURL returns PublicURL joined with path, or an *Error that says why
// there is no URL and what to do: CodeConnectionFailed when the tunnel
// failed, CodeNoPublicURL otherwise.
func (m *Manager) WebhookURL(path string) (string, error) {
	m.mu.Lock()
	state, u, last := m.state, m.url, m.lastErr
	m.mu.Unlock()
	if u != "" && (state == StateConnected || state == StateReconnecting) {
		return JoinURL(u, path), nil
	}
	var why string
	switch {
	case state == StateConnecting:
		why = "the tunnel is still connecting; try again in a few seconds"
	case state == StateReconnecting:
		why = "the tunnel is reconnecting after: " + last
	case last != "":
		why = last
	default:
		why = "the tunnel is not started"
	}
	code := CodeNoPublicURL
	if state == StateError || state == StateReconnecting {
		// The tunnel failed (and is retrying, or gave up): the seed's code
		// for that, not "no URL configured".
		code = CodeConnectionFailed
	}
	return "", &Error{Code: code, Provider: m.plan.provider, Op: "webhook URL", Err: errors.New(why)}
}

// Instructions is the get_webhook_url instructions text for webhookURL
// with this Manager's provider and configuration.
func (m *Manager) Instructions(webhookURL string) string {
	reserved := (m.plan.provider == ProviderNgrok && m.cfg.NgrokDomain != "") ||
		(m.plan.provider == ProviderZrok && m.cfg.ZrokUniqueName != "")
	return Instructions(m.plan.provider, webhookURL, reserved)
}

// Status returns the get_tunnel_status payload.
func (m *Manager) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := Status{
		Enabled:            m.plan.enabled,
		Provider:           m.plan.provider,
		Status:             m.state,
		PublicURL:          strPtr(m.url),
		LastError:          strPtr(m.lastErr),
		ReconnectAttempts:  m.attempts,
		HealthCheckEnabled: m.plan.health && m.plan.problem == "",
		ContextDetected:    m.det.Summary(),
	}
	if !m.connectedAt.IsZero() {
		s.ConnectedAt = strPtr(formatISO(m.connectedAt))
	}
	return s
}

// run is the supervisor: connect, watch, reconnect with backoff.
func (m *Manager) run(ctx context.Context) {
	defer close(m.done)
	attempts := 0
	for {
		p := m.newProvider()
		u, err := m.connectOnce(ctx, p)
		if err == nil {
			attempts = 0
			m.connected(u)
			err = m.watch(ctx, p)
		}
		if cerr := p.close(); cerr != nil {
			m.log.Debug("closing tunnel", "error", cerr)
		}
		if ctx.Err() != nil {
			m.stopped()
			return
		}
		if isPermanent(err) || attempts >= m.cfg.MaxRetries {
			m.failed(err, attempts)
			return
		}
		attempts++
		wait := backoff(m.cfg.Backoff, attempts)
		m.reconnecting(err, attempts, wait)
		if m.cfg.Sleep(ctx, wait) != nil {
			m.stopped()
			return
		}
	}
}

func (m *Manager) connectOnce(ctx context.Context, p provider) (string, error) {
	cctx, cancel := context.WithTimeoutCause(ctx, m.cfg.ConnectTimeout,
		fmt.Errorf("no public URL within %s", m.cfg.ConnectTimeout))
	defer cancel()
	u, err := p.connect(cctx)
	if err != nil {
		return "", asTunnelError(m.plan.provider, "connect", err, "")
	}
	return u, nil
}

// watch returns when the tunnel is lost or unhealthy, or ctx ends.
func (m *Manager) watch(ctx context.Context, p provider) error {
	if !m.plan.health {
		<-ctx.Done()
		return ctx.Err()
	}
	t := time.NewTicker(m.cfg.HealthInterval)
	defer t.Stop()
	lost := p.lost()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-lost:
			err := p.healthy(ctx)
			if err == nil {
				err = errors.New("tunnel closed")
			}
			return connErr(m.plan.provider, "connection lost", err, "")
		case <-t.C:
			if err := p.healthy(ctx); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return connErr(m.plan.provider, "health check", err, "")
			}
		}
	}
}

func (m *Manager) connected(u string) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.state, m.url, m.connectedAt = StateConnected, u, m.cfg.Now()
	m.lastErr, m.attempts = "", 0
	subs := slices.Clone(m.subs)
	m.mu.Unlock()
	m.log.Info("tunnel connected", "public_url", u)
	for _, fn := range subs {
		fn(u)
	}
}

func (m *Manager) reconnecting(err error, attempt int, wait time.Duration) {
	m.mu.Lock()
	m.state, m.attempts, m.lastErr = StateReconnecting, attempt, err.Error()
	m.mu.Unlock()
	m.log.Warn("tunnel down; reconnecting", "error", err, "attempt", attempt, "of", m.cfg.MaxRetries, "wait", wait)
}

func (m *Manager) failed(err error, attempts int) {
	m.mu.Lock()
	m.state, m.attempts, m.lastErr = StateError, attempts, err.Error()
	m.url, m.connectedAt = "", time.Time{}
	m.mu.Unlock()
	m.log.Error("tunnel failed; giving up", "error", err, "attempts", attempts)
}

func (m *Manager) stopped() {
	m.mu.Lock()
	m.state, m.url, m.connectedAt = StateDisconnected, "", time.Time{}
	m.mu.Unlock()
}
