package fakebitnovo

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/webhook"
)

// Webhook emitter (reference §3.8). On every status change of an order the
// fake POSTs the Bitnovo payload to the notification URL:
//
//	Content-Type: application/json
//	X-NONCE:      unix seconds from the fake's clock, as ASCII
//	X-SIGNATURE:  lower-case hex HMAC-SHA256(key = hex-decoded device secret,
//	              msg = nonce + raw body)
//
// Delivery is asynchronous: status changes are queued (bounded; a full
// queue drops and counts) and one goroutine delivers them in order, each
// attempt with a timeout. A 5xx, 3xx, timeout or connection error is
// retried with backoff, each attempt with a fresh nonce and signature; a
// 2xx or 4xx ends the delivery. Nonces are strictly increasing per server
// (one second past the previous nonce when the clock has not moved on), so
// receivers that refuse a reused nonce as a replay accept every attempt.
// The goroutine starts with the first delivery; Close stops it.

const (
	webhookQueueSize   = 256
	webhookTimeout     = 5 * time.Second
	maxDeliveryLog     = 500 // attempts kept for Deliveries
	maxWebhookResponse = 64 << 10
	deviceSecretLen    = 64 // hex characters
)

// webhookRetryDelays are the waits before the 2nd, 3rd and 4th attempts.
var webhookRetryDelays = []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second}

// Delivery results recorded in the delivery log.
const (
	DeliveryOK       = "ok"       // 2xx: delivered
	DeliveryRejected = "rejected" // 4xx: the receiver refused it; not retried
	DeliveryRetry    = "retry"    // failed; another attempt follows
	DeliveryFailed   = "failed"   // the last attempt failed; given up
	DeliveryDropped  = "dropped"  // the queue was full; never attempted
	DeliveryAborted  = "aborted"  // Close interrupted it
)

// Delivery is one entry of the webhook delivery log: one attempt, or one
// status change dropped because the queue was full.
type Delivery struct {
	Time       time.Time `json:"time"` // the fake's clock when the attempt started
	Identifier string    `json:"identifier"`
	Status     string    `json:"status"`  // the order status being notified
	Attempt    int       `json:"attempt"` // 1-based; 0 for a dropped change
	URL        string    `json:"url"`
	Nonce      string    `json:"nonce,omitempty"`
	HTTPStatus int       `json:"http_status,omitempty"` // 0 when no response
	Error      string    `json:"error,omitempty"`
	Result     string    `json:"result"` // one of the Delivery* constants
}

// WebhookConfig is the merchant's webhook setting: where notifications go
// and the device secret that signs them. Both must be set for anything to
// be sent.
type WebhookConfig struct {
	NotificationURL string `json:"notification_url"`
	DeviceSecret    string `json:"device_secret"` // 64 hex characters
}

// WebhookStats counts webhook activity since New.
type WebhookStats struct {
	Queued    int `json:"queued"`    // status changes waiting for the delivery goroutine
	Attempts  int `json:"attempts"`  // HTTP attempts made
	Delivered int `json:"delivered"` // deliveries answered 2xx
	Rejected  int `json:"rejected"`  // deliveries answered 4xx
	Failed    int `json:"failed"`    // deliveries given up after the last retry
	Dropped   int `json:"dropped"`   // status changes dropped on a full queue
}

// ErrInvalidWebhookConfig is returned by SetWebhookConfig for a bad URL or
// device secret.
var ErrInvalidWebhookConfig = errors.New("fakebitnovo: invalid webhook configuration")

// hookTuning overrides delivery timing; the zero value means the defaults.
// Only tests set it.
type hookTuning struct {
	timeout   time.Duration
	delays    []time.Duration // nil = webhookRetryDelays; empty = no retry
	queueSize int
}

// hookJob is one status change to deliver.
type hookJob struct {
	url        string
	key        []byte
	body       []byte
	identifier string
	status     string
}

// webhooks is the emitter state.
type webhooks struct {
	timeout   time.Duration
	delays    []time.Duration
	now       func() time.Time
	client    *http.Client
	transport *http.Transport
	queue     chan hookJob

	mu      sync.Mutex
	cfg     WebhookConfig
	key     []byte // hex-decoded secret; nil when unset
	started bool
	closed  bool
	cancel  context.CancelFunc
	done    chan struct{}
	stats   WebhookStats
	log     []Delivery // ring buffer of at most maxDeliveryLog
	logNext int        // next slot once the ring is full

	lastNonce int64 // owned by the delivery goroutine
}

func newWebhooks(o Options, now func() time.Time) *webhooks {
	t := o.hookTuning
	h := &webhooks{timeout: t.timeout, delays: t.delays, now: now}
	if h.timeout <= 0 {
		h.timeout = webhookTimeout
	}
	if h.delays == nil {
		h.delays = webhookRetryDelays
	}
	size := t.queueSize
	if size <= 0 {
		size = webhookQueueSize
	}
	h.queue = make(chan hookJob, size)
	h.transport = &http.Transport{
		Proxy:               nil, // a sandbox talks to the receiver directly
		DialContext:         (&net.Dialer{Timeout: h.timeout}).DialContext,
		DisableKeepAlives:   true, // no idle connections outlive a delivery
		TLSHandshakeTimeout: h.timeout,
	}
	h.client = &http.Client{
		Transport:     h.transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	// An invalid secret from Options is kept, so the log shows why nothing
	// is delivered, rather than failing New.
	h.cfg = WebhookConfig{NotificationURL: o.NotificationURL, DeviceSecret: o.DeviceSecret}
	h.key, _ = decodeDeviceSecret(o.DeviceSecret)
	return h
}

// decodeDeviceSecret hex-decodes a 64-character device secret.
func decodeDeviceSecret(secret string) ([]byte, error) {
	if len(secret) != deviceSecretLen {
		return nil, fmt.Errorf("device secret must be %d hex characters, got %d", deviceSecretLen, len(secret))
	}
	key, err := hex.DecodeString(secret)
	if err != nil {
		return nil, errors.New("device secret must be hex")
	}
	return key, nil
}

func validNotificationURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(s) > maxURL {
		return errors.New("notification URL must be an absolute http(s) URL")
	}
	return nil
}

// WebhookBody returns the notification body for a status change, byte for
// byte as Bitnovo's Python backend writes it:
//
//	{"fiat_amount": 100.0, "status": "AC", "crypto_amount": 1.21461894, "unconfirmed_amount": 8.0, "confirmed_amount": 0.0, "currency": "DASH", "identifier": "…"}
//
// Amounts are inf's exact decimals written as Python floats; an empty
// amount (no currency chosen yet) is 0.0; currency is inf.CurrencyID, or
// null when none is chosen.
func WebhookBody(inf OrderInfo) ([]byte, error) {
	b := make([]byte, 0, 256)
	num := func(key, text string) error {
		v := "0.0"
		if text != "" {
			var err error
			if v, err = pyFloat(text); err != nil {
				return fmt.Errorf("webhook body: %s %q: %w", key, text, err)
			}
		}
		if len(b) > 1 {
			b = append(b, ", "...)
		}
		b = pyString(b, key)
		b = append(b, ": "...)
		b = append(b, v...)
		return nil
	}
	str := func(key, v string, null bool) {
		b = append(b, ", "...)
		b = pyString(b, key)
		b = append(b, ": "...)
		if null {
			b = append(b, "null"...)
		} else {
			b = pyString(b, v)
		}
	}
	b = append(b, '{')
	if err := num("fiat_amount", inf.FiatAmount); err != nil {
		return nil, err
	}
	str("status", inf.Status, false)
	for _, f := range []struct{ key, text string }{
		{"crypto_amount", inf.CryptoAmount},
		{"unconfirmed_amount", inf.UnconfirmedAmount},
		{"confirmed_amount", inf.ConfirmedAmount},
	} {
		if err := num(f.key, f.text); err != nil {
			return nil, err
		}
	}
	str("currency", inf.CurrencyID, inf.CurrencyID == "")
	str("identifier", inf.Identifier, false)
	return append(b, '}'), nil
}

// WebhookConfig returns the current notification URL and device secret.
func (s *Server) WebhookConfig() WebhookConfig {
	h := s.hooks
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cfg
}

// SetWebhookConfig replaces the notification URL and device secret, like
// a merchant editing them in the Bitnovo dashboard. Either may be "" (then
// nothing is sent); otherwise the URL must be absolute http(s) and the
// secret 64 hex characters. Status changes already queued keep the
// setting they were queued with.
func (s *Server) SetWebhookConfig(c WebhookConfig) error {
	var key []byte
	if c.NotificationURL != "" {
		if err := validNotificationURL(c.NotificationURL); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidWebhookConfig, err)
		}
	}
	if c.DeviceSecret != "" {
		var err error
		if key, err = decodeDeviceSecret(c.DeviceSecret); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidWebhookConfig, err)
		}
	}
	h := s.hooks
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cfg, h.key = c, key
	return nil
}

// Deliveries returns the webhook delivery log, oldest first: the last 500
// attempts (and drops).
func (s *Server) Deliveries() []Delivery {
	h := s.hooks
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Delivery, 0, len(h.log))
	out = append(out, h.log[h.logNext:]...)
	return append(out, h.log[:h.logNext]...)
}

// WebhookStats returns counters of webhook activity.
func (s *Server) WebhookStats() WebhookStats {
	h := s.hooks
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.stats
	st.Queued = len(h.queue)
	return st
}

// Close stops webhook delivery: an attempt in flight is cancelled, queued
// status changes are discarded, and later ones are not sent. It waits for
// the delivery goroutine to exit. The API keeps working (in memory only: a
// state file of Open is closed). Close is idempotent; it returns the error
// closing the state file, if any.
func (s *Server) Close() error {
	jerr := s.closeJournal()
	h := s.hooks
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return jerr
	}
	h.closed = true
	started := h.started
	h.mu.Unlock()
	if started {
		h.cancel()
		<-h.done
	}
	h.transport.CloseIdleConnections()
	return jerr
}

// enqueue queues the webhook for one status change. It never blocks and
// does no I/O, so it may be called with Server.mu held (which keeps the
// queue in the order the changes happened).
func (h *webhooks) enqueue(inf OrderInfo) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || h.cfg.NotificationURL == "" || h.cfg.DeviceSecret == "" {
		return
	}
	if h.key == nil {
		_, err := decodeDeviceSecret(h.cfg.DeviceSecret)
		h.record(Delivery{Time: h.now(), Identifier: inf.Identifier, Status: inf.Status,
			URL: h.cfg.NotificationURL, Error: "not sent: " + err.Error(), Result: DeliveryFailed})
		h.stats.Failed++
		return
	}
	body, err := WebhookBody(inf)
	if err != nil { // cannot happen for the fake's own amounts
		h.record(Delivery{Time: h.now(), Identifier: inf.Identifier, Status: inf.Status,
			URL: h.cfg.NotificationURL, Error: "not sent: " + err.Error(), Result: DeliveryFailed})
		h.stats.Failed++
		return
	}
	if !h.started {
		h.started = true
		ctx, cancel := context.WithCancel(context.Background())
		h.cancel, h.done = cancel, make(chan struct{})
		go h.run(ctx)
	}
	job := hookJob{url: h.cfg.NotificationURL, key: h.key, body: body, identifier: inf.Identifier, status: inf.Status}
	select {
	case h.queue <- job:
	default:
		h.stats.Dropped++
		h.record(Delivery{Time: h.now(), Identifier: inf.Identifier, Status: inf.Status,
			URL: job.url, Error: "delivery queue full", Result: DeliveryDropped})
	}
}

// record appends to the delivery log; h.mu must be held.
func (h *webhooks) record(d Delivery) {
	if len(h.log) < maxDeliveryLog {
		h.log = append(h.log, d)
		return
	}
	h.log[h.logNext] = d
	h.logNext = (h.logNext + 1) % maxDeliveryLog
}

// run is the delivery goroutine.
func (h *webhooks) run(ctx context.Context) {
	defer close(h.done)
	for {
		select {
		case <-ctx.Done():
			return
		case job := <-h.queue:
			if ctx.Err() != nil { // closed: discard what is queued
				return
			}
			h.deliver(ctx, job)
		}
	}
}

// deliver makes up to 1+len(h.delays) attempts for one job.
func (h *webhooks) deliver(ctx context.Context, job hookJob) {
	for attempt := 1; ; attempt++ {
		d := h.attempt(ctx, job, attempt)
		last := attempt > len(h.delays)
		retry := d.Result == DeliveryRetry
		if retry && ctx.Err() != nil {
			d.Result = DeliveryAborted
		} else if retry && last {
			d.Result = DeliveryFailed
		}
		h.mu.Lock()
		h.record(d)
		switch d.Result {
		case DeliveryOK:
			h.stats.Delivered++
		case DeliveryRejected:
			h.stats.Rejected++
		case DeliveryFailed:
			h.stats.Failed++
		}
		h.mu.Unlock()
		if d.Result != DeliveryRetry {
			return
		}
		t := time.NewTimer(h.delays[attempt-1])
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// nextNonce returns the clock's unix seconds, or one past the previous
// nonce when the clock has not moved past it.
func (h *webhooks) nextNonce(now time.Time) string {
	n := now.Unix()
	if n <= h.lastNonce {
		n = h.lastNonce + 1
	}
	h.lastNonce = n
	return strconv.FormatInt(n, 10)
}

// attempt makes one signed POST and classifies the answer. No lock is held.
func (h *webhooks) attempt(ctx context.Context, job hookJob, n int) Delivery {
	now := h.now()
	nonce := h.nextNonce(now)
	d := Delivery{Time: now, Identifier: job.identifier, Status: job.status, Attempt: n, URL: job.url, Nonce: nonce}
	h.mu.Lock()
	h.stats.Attempts++
	h.mu.Unlock()

	actx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, job.url, bytes.NewReader(job.body))
	if err != nil {
		d.Error, d.Result = err.Error(), DeliveryFailed
		return d
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-NONCE", nonce)
	req.Header.Set("X-SIGNATURE", webhook.Sign(job.key, nonce, job.body))
	req.Header.Set("User-Agent", "Bitnovo-Sandbox-Webhook/1.0")
	resp, err := h.client.Do(req)
	if err != nil {
		d.Error, d.Result = err.Error(), DeliveryRetry
		return d
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxWebhookResponse))
	resp.Body.Close()
	d.HTTPStatus = resp.StatusCode
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		d.Result = DeliveryOK
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		d.Result = DeliveryRejected
	default:
		d.Result = DeliveryRetry
	}
	return d
}
