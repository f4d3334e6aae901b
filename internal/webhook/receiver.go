package webhook

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/loopback"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

// Defaults of Options.
const (
	DefaultPath    = "/webhook/bitnovo"
	DefaultWindow  = 300 * time.Second
	DefaultMaxBody = 1 << 20
)

// Outcomes reported to Options.Observe, one per POST to the webhook path.
const (
	OutcomeAccepted       = "accepted"
	OutcomeDuplicate      = "duplicate"
	OutcomeBadSignature   = "bad_signature"
	OutcomeBadNonce       = "bad_nonce"
	OutcomeStale          = "stale"
	OutcomeReplay         = "replay"
	OutcomeBadPayload     = "bad_payload"
	OutcomeTooLarge       = "too_large"
	OutcomeMediaType      = "unsupported_media_type"
	OutcomeRateLimited    = "rate_limited"
	OutcomeMissingHeaders = "missing_headers"
	OutcomeStoreError     = "store_error"
	OutcomeProbe          = "probe"
)

// Options configure a Receiver.
type Options struct {
	// Path of the webhook POST route (default /webhook/bitnovo). It must not
	// be /health or /stats.
	Path string
	// Key is the HMAC key (see DecodeSecret). With a key every delivery must
	// be signed.
	Key []byte
	// AllowUnsigned must be set to run without a Key; deliveries are then
	// stored with Validated=false. It has no effect when Key is set.
	AllowUnsigned bool
	// Window is how far the nonce may be from now, either way, and how long
	// a replay key is held after the nonce time (default 300 s).
	Window time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Store receives the deliveries. Required.
	Store store.Events
	// RateLimit applies per source (see RateLimit for the defaults).
	RateLimit RateLimit
	// TrustedProxies are the peers whose X-Forwarded-For names the source
	// a delivery is rate-limited as (see sourceOf); none by default, so a
	// delivery's source is the address it came from.
	TrustedProxies []netip.Prefix
	// StatsToken, when set, lets non-local callers read /stats with
	// "Authorization: Bearer <StatsToken>".
	StatsToken string
	// MaxBody bounds the request body (default 1 MiB).
	MaxBody int64
	// MaxEvents and EventTTL are the retention Prune applies (0 = no limit);
	// /stats reports them.
	MaxEvents int
	EventTTL  time.Duration
	// Logger gets one line per delivery; secrets, signatures and payloads
	// are never logged above debug, and the secret never (default: discard).
	Logger *slog.Logger
	// Observe, when set, is called once per POST to Path with one of the
	// Outcome constants.
	Observe func(outcome string)
}

// Receiver is the webhook HTTP handler: POST Path, GET /health and GET
// /stats. It is safe for concurrent use.
type Receiver struct {
	opts    Options
	log     *slog.Logger
	limiter *limiter
}

// New checks opts and returns a Receiver.
func New(opts Options) (*Receiver, error) {
	if opts.Store == nil {
		return nil, errors.New("webhook: a store is required")
	}
	if len(opts.Key) == 0 {
		opts.Key = nil
		if !opts.AllowUnsigned {
			return nil, errors.New("webhook: no device secret: set BITNOVO_DEVICE_SECRET, or WEBHOOK_ALLOW_UNSIGNED=true to accept unsigned webhooks")
		}
	}
	if opts.Path == "" {
		opts.Path = DefaultPath
	}
	if !strings.HasPrefix(opts.Path, "/") || opts.Path == "/health" || opts.Path == "/stats" {
		return nil, fmt.Errorf("webhook: path %q must start with / and differ from /health and /stats", opts.Path)
	}
	if opts.Window <= 0 {
		opts.Window = DefaultWindow
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Receiver{opts: opts, log: opts.Logger, limiter: newLimiter(opts.RateLimit)}
	if opts.Key == nil {
		r.log.Warn("webhook receiver accepts UNSIGNED deliveries; events are stored with validated=false")
	}
	return r, nil
}

// Path is the webhook route.
func (rc *Receiver) Path() string { return rc.opts.Path }

// Server returns an *http.Server for rc with timeouts suited to webhooks.
func (rc *Receiver) Server(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           rc,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(rc.log.Handler(), slog.LevelWarn),
	}
}

// Prune applies the retention of Options (MaxEvents, EventTTL) and drops
// expired replay keys.
func (rc *Receiver) Prune(ctx context.Context) (int64, error) {
	now := rc.opts.Now()
	var olderThan time.Time
	if rc.opts.EventTTL > 0 {
		olderThan = now.Add(-rc.opts.EventTTL)
	}
	n, err := rc.opts.Store.PruneEvents(ctx, rc.opts.MaxEvents, olderThan, now)
	if err != nil {
		return 0, fmt.Errorf("webhook: prune: %w", err)
	}
	return n, nil
}

// RunPruner calls Prune every interval until ctx ends.
func (rc *Receiver) RunPruner(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := rc.Prune(ctx); err != nil {
				rc.log.Warn("webhook retention failed", "error", err)
			} else if n > 0 {
				rc.log.Debug("webhook retention", "removed", n)
			}
		}
	}
}

// ServeHTTP routes the request.
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case rc.opts.Path:
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			rc.fail(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "Method not allowed")
			return
		}
		rc.handleWebhook(w, r)
	case "/health":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			rc.fail(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "Method not allowed")
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	case "/stats":
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			rc.fail(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "Method not allowed")
			return
		}
		rc.handleStats(w, r)
	default:
		rc.notFound(w)
	}
}

func (rc *Receiver) notFound(w http.ResponseWriter) {
	rc.fail(w, http.StatusNotFound, "NOT_FOUND", "Not found")
}

// refusal is one way a delivery can be refused.
type refusal struct {
	status  int
	code    string
	message string
	outcome string
	err     error
}

var (
	refuseMediaType = refusal{http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json", OutcomeMediaType, ErrMediaType}
	refuseTooLarge  = refusal{http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE", "Request body too large", OutcomeTooLarge, ErrTooLarge}
	refuseMissing   = refusal{http.StatusBadRequest, "MISSING_HEADERS", "Missing required headers: X-NONCE and X-SIGNATURE", OutcomeMissingHeaders, ErrMissingHeaders}
	refuseNonce     = refusal{http.StatusBadRequest, "INVALID_NONCE", "X-NONCE must be a unix timestamp in seconds", OutcomeBadNonce, ErrBadNonce}
	refuseSignature = refusal{http.StatusUnauthorized, "INVALID_SIGNATURE", "Invalid webhook signature", OutcomeBadSignature, ErrBadSignature}
	refuseStale     = refusal{http.StatusUnauthorized, "STALE_NONCE", "Nonce outside the accepted time window", OutcomeStale, ErrStaleNonce}
	refusePayload   = refusal{http.StatusBadRequest, "INVALID_PAYLOAD", "Invalid webhook payload format", OutcomeBadPayload, ErrBadPayload}
	refuseReplay    = refusal{http.StatusUnauthorized, "REPLAY_ATTACK", "Delivery already received (potential replay attack)", OutcomeReplay, ErrReplay}
	refuseStore     = refusal{http.StatusServiceUnavailable, "STORE_UNAVAILABLE", "Event could not be stored; retry later", OutcomeStoreError, ErrStore}
	refuseRate      = refusal{http.StatusTooManyRequests, "RATE_LIMITED", "Too many requests", OutcomeRateLimited, ErrRateLimited}
)

func (rc *Receiver) refuse(w http.ResponseWriter, r *http.Request, source string, rf refusal, detail error) {
	rc.observe(rf.outcome)
	attrs := []any{"outcome", rf.outcome, "status", rf.status, "source", source}
	if detail != nil {
		attrs = append(attrs, "error", detail)
	}
	level := slog.LevelWarn
	if rf.outcome == OutcomeRateLimited {
		level = slog.LevelDebug // one line per refused request would flood the log
	}
	rc.log.Log(r.Context(), level, "webhook refused", attrs...)
	rc.fail(w, rf.status, rf.code, rf.message)
}

func (rc *Receiver) observe(outcome string) {
	if rc.opts.Observe != nil {
		rc.opts.Observe(outcome)
	}
}

func (rc *Receiver) handleWebhook(w http.ResponseWriter, r *http.Request) {
	now := rc.opts.Now()
	source := sourceOf(r, rc.opts.TrustedProxies)
	if ok, wait := rc.limiter.allow(source, now); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(max(wait.Seconds(), 1)))))
		rc.refuse(w, r, source, refuseRate, nil)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			rc.refuse(w, r, source, refuseMediaType, nil)
			return
		}
	}
	if r.ContentLength > rc.opts.MaxBody {
		rc.refuse(w, r, source, refuseTooLarge, nil)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, rc.opts.MaxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			rc.refuse(w, r, source, refuseTooLarge, nil)
			return
		}
		rc.refuse(w, r, source, refusePayload, fmt.Errorf("read body: %w", err))
		return
	}

	nonce := r.Header.Get("X-Nonce")
	signature := r.Header.Get("X-Signature")
	signed := rc.opts.Key != nil
	if signed && (nonce == "" || signature == "") {
		rc.refuse(w, r, source, refuseMissing, nil)
		return
	}
	var nonceTime time.Time
	if nonce != "" {
		if nonceTime, err = parseNonce(nonce); err != nil {
			rc.refuse(w, r, source, refuseNonce, nil)
			return
		}
	}
	if signed {
		if err := Verify(rc.opts.Key, nonce, signature, body); err != nil {
			rc.refuse(w, r, source, refuseSignature, nil)
			return
		}
	}
	if nonce != "" && !fresh(nonceTime, now, rc.opts.Window) {
		rc.refuse(w, r, source, refuseStale, fmt.Errorf("nonce %s is %s from now", nonce, now.Sub(nonceTime).Round(time.Second)))
		return
	}
	if id, ok := probeID(body); ok {
		// get_webhook_url's end-to-end check: answered, never stored.
		rc.observe(OutcomeProbe)
		writeJSON(w, http.StatusOK, map[string]any{"success": true, "probe": id, "validated": signed, "timestamp": timestamp(now)})
		return
	}
	p, err := ParsePayload(body)
	if err != nil {
		rc.refuse(w, r, source, refusePayload, err)
		return
	}

	// The replay key needs a well-formed signature: with a key it has been
	// verified; in unsigned mode a present one is still honoured.
	var replayKey string
	var replayUntil time.Time
	if sig, ok := normalSignature(signature); ok {
		replayKey = nonce + ":" + sig
		if nonce != "" {
			replayUntil = nonceTime.Add(rc.opts.Window)
		} else {
			replayUntil = now.Add(rc.opts.Window)
		}
	}
	sum := sha256.Sum256(body)
	event := store.Event{
		EventID:    p.Identifier + ":" + nonce,
		Identifier: p.Identifier,
		Status:     p.Status,
		Nonce:      nonce,
		Validated:  signed,
		Payload:    body,
		BodyHash:   hex.EncodeToString(sum[:]),
		ReceivedAt: time.UnixMilli(now.UnixMilli()),
	}
	res, err := rc.opts.Store.SaveEvent(r.Context(), event, replayKey, replayUntil)
	switch {
	case errors.Is(err, store.ErrReplay):
		rc.refuse(w, r, source, refuseReplay, nil)
		return
	case err != nil:
		w.Header().Set("Retry-After", "1")
		rc.refuse(w, r, source, refuseStore, err)
		return
	}
	outcome := OutcomeAccepted
	if res.Duplicate {
		outcome = OutcomeDuplicate
	}
	rc.observe(outcome)
	if rc.log.Enabled(r.Context(), slog.LevelInfo) {
		rc.log.Info("webhook "+outcome, "event_id", res.Event.EventID, "identifier", p.Identifier,
			"status", p.Status, "validated", signed, "source", source)
		rc.log.Debug("webhook payload", "event_id", res.Event.EventID, "bytes", len(body), "body_sha256", event.BodyHash)
	}
	out := struct {
		Success   bool   `json:"success"`
		EventID   string `json:"eventId"`
		Duplicate bool   `json:"duplicate,omitempty"`
		Timestamp string `json:"timestamp"`
	}{true, res.Event.EventID, res.Duplicate, timestamp(now)}
	writeJSON(w, http.StatusOK, out)
}

func (rc *Receiver) handleStats(w http.ResponseWriter, r *http.Request) {
	if !isLocal(r) && !rc.tokenOK(r) {
		rc.notFound(w)
		return
	}
	st, err := rc.opts.Store.EventStats(r.Context())
	if err != nil {
		rc.log.Warn("webhook stats failed", "error", err)
		rc.fail(w, http.StatusServiceUnavailable, "STORE_UNAVAILABLE", "Event store unavailable")
		return
	}
	now := rc.opts.Now()
	age := func(t *time.Time) *int64 {
		if t == nil {
			return nil
		}
		ms := now.Sub(*t).Milliseconds()
		return &ms
	}
	type eventStore struct {
		TotalEvents       int64  `json:"totalEvents"`
		UniqueIdentifiers int64  `json:"uniqueIdentifiers"`
		OldestEventAge    *int64 `json:"oldestEventAge"`
		NewestEventAge    *int64 `json:"newestEventAge"`
		ValidatedCount    int64  `json:"validatedCount"`
		InvalidatedCount  int64  `json:"invalidatedCount"`
	}
	type handler struct {
		NoncesCached    int64 `json:"noncesCached"`
		HasDeviceSecret bool  `json:"hasDeviceSecret"`
	}
	type config struct {
		MaxEvents     int    `json:"maxEvents"`
		EventTTLMs    int64  `json:"eventTtlMs"`
		Path          string `json:"path"`
		WindowSeconds int64  `json:"windowSeconds"`
	}
	writeJSON(w, http.StatusOK, struct {
		EventStore eventStore `json:"eventStore"`
		Handler    handler    `json:"handler"`
		Config     config     `json:"config"`
	}{
		eventStore{st.TotalEvents, st.UniqueIdentifiers, age(st.Oldest), age(st.Newest), st.ValidatedCount, st.UnvalidatedCount},
		handler{st.ReplayKeys, rc.opts.Key != nil},
		config{rc.opts.MaxEvents, rc.opts.EventTTL.Milliseconds(), rc.opts.Path, int64(rc.opts.Window / time.Second)},
	})
}

// tokenOK reports whether the request carries the stats bearer token.
func (rc *Receiver) tokenOK(r *http.Request) bool {
	if rc.opts.StatsToken == "" {
		return false
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	a, b := sha256.Sum256([]byte(strings.TrimSpace(got))), sha256.Sum256([]byte(rc.opts.StatsToken))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// isLocal: the connection comes from loopback, the Host names loopback, and
// no proxy header is present. A tunnel (ngrok, zrok) connects from
// loopback too, but with the public Host and forwarding headers.
func isLocal(r *http.Request) bool {
	for _, h := range []string{"X-Forwarded-For", "Forwarded", "X-Real-Ip", "X-Forwarded-Host"} {
		if _, ok := r.Header[h]; ok {
			return false
		}
	}
	return loopback.Addr(r.RemoteAddr) && loopback.Host(hostOnly(r.Host))
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]")
}

func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func (rc *Receiver) fail(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, struct {
		Success   bool   `json:"success"`
		Error     string `json:"error"`
		ErrorCode string `json:"errorCode"`
		Timestamp string `json:"timestamp"`
	}{false, message, code, timestamp(rc.opts.Now())})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // the values above always marshal
		http.Error(w, `{"success":false}`, http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
