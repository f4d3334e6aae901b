package payments

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"regexp"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitnovo"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/qr"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

// API is the part of the Bitnovo client the service uses.
type API interface {
	CreateOrder(ctx context.Context, r bitnovo.CreateOrderRequest) (*bitnovo.Order, error)
	OrderInfo(ctx context.Context, id string) (*bitnovo.OrderInfo, error)
	OrderDetails(ctx context.Context, id string) (*bitnovo.Order, error)
	Currencies(ctx context.Context) ([]bitnovo.Currency, error)
}

// Options configure a Service.
type Options struct {
	Sandbox bool
	Now     func() time.Time
	Logger  *slog.Logger
	// PendingTimeout is how long an in-flight create may hold its idempotency
	// key before a later call treats its outcome as unknown. Use the tool
	// call deadline plus a margin.
	PendingTimeout time.Duration
	QRCache        *qr.Cache
	// Events, if set, is the webhook event store: get_payment_status shows
	// the latest verified webhook and falls back to it when Bitnovo cannot
	// be reached, and Wait relies on webhooks instead of fast polling.
	Events store.Events
	// MaxPlainWait caps a Wait that is not Streaming; 0 means MaxPlainWait
	// (tests shorten it).
	MaxPlainWait time.Duration
}

// Service implements the payment tools.
type Service struct {
	api     API
	store   store.Store
	qr      *qr.Cache
	catalog *catalog
	now     func() time.Time
	log     *slog.Logger
	sandbox bool
	pending time.Duration
	events  store.Events // nil without webhooks
	hub     Hub
	poll    pollTimes
}

// New builds a Service.
func New(api API, st store.Store, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.PendingTimeout <= 0 {
		o.PendingTimeout = time.Minute
	}
	if o.QRCache == nil {
		o.QRCache = qr.NewCache(256, 64<<20)
	}
	return &Service{
		api: api, store: st, qr: o.QRCache, now: o.Now, log: o.Logger, sandbox: o.Sandbox, pending: o.PendingTimeout,
		catalog: newCatalog(api, o.Now, o.Logger),
		events:  o.Events, poll: pollTimes{pollMin, pollMax, pollWithWebhook, heartbeat, cmp.Or(o.MaxPlainWait, MaxPlainWait)},
	}
}

var (
	uuidRE     = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	fiatRE     = regexp.MustCompile(`^[A-Z]{3}$`)
	currencyRE = regexp.MustCompile(`^[A-Z0-9_]+$`)
)

// Image is a rendered QR code handed to the transport as image content.
type Image struct {
	Field string // the output field it belongs to, e.g. "qr_address"
	PNG   []byte // shared with the QR cache: read-only
}

// fiatAmount validates an amount given as a JSON number and returns it as
// exact decimal text with two decimals ("50.00").
func fiatAmount(field string, v float64) (string, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "", invalidArg(field, "must be a finite number")
	}
	if v < 0.01 {
		return "", invalidArg(field, "must be at least 0.01")
	}
	if v > 1e9 {
		return "", invalidArg(field, "must be at most 1000000000")
	}
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if decimalScale(s) > 2 {
		return "", invalidArg(field, fmt.Sprintf("%s has more than 2 decimal places", s))
	}
	return strconv.FormatFloat(v, 'f', 2, 64), nil
}

func checkIdentifier(id string) error {
	if !uuidRE.MatchString(id) {
		return invalidArg("identifier", "must be a payment identifier (UUID) as returned by create_payment_onchain or create_payment_link")
	}
	return nil
}

func checkFiat(fiat string) (string, error) {
	if fiat == "" {
		return "EUR", nil
	}
	if !fiatRE.MatchString(fiat) {
		return "", invalidArg("fiat", "must be a 3-letter uppercase ISO 4217 code such as EUR or USD")
	}
	return fiat, nil
}

func checkNotes(notes string) error {
	if len([]rune(notes)) > 256 {
		return invalidArg("notes", "must be at most 256 characters")
	}
	return nil
}

// checkRedirect accepts only absolute http(s) URLs: a redirect target is
// shown to customers, so javascript:, data: and friends are refused.
func checkRedirect(field, raw string) *Error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil {
		return newError(CodeInvalidRedirectURLs, field+" must be an absolute http:// or https:// URL without credentials",
			map[string]any{"field": field, "value": truncate(raw, 200)})
	}
	if len(raw) > 2000 {
		return newError(CodeInvalidRedirectURLs, field+" is longer than 2000 characters", map[string]any{"field": field})
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// paymentRecord is what the store keeps of a created order, so QR codes
// and idempotent replays work after a restart.
func (s *Service) paymentRecord(kind, amount, fiat, notes string, o *bitnovo.Order) store.Payment {
	return store.Payment{
		Identifier:          o.Identifier,
		Kind:                kind,
		FiatAmount:          amount,
		Fiat:                fiat,
		InputCurrency:       o.InputCurrency,
		Address:             o.Address,
		PaymentURI:          o.PaymentURI,
		WebURL:              o.WebURL,
		TagMemo:             o.TagMemo,
		ExpectedInputAmount: string(o.ExpectedInputAmount),
		Notes:               notes,
		CreatedAt:           o.CreatedAt,
		ExpiresAt:           o.ExpiredAt,
		StoredAt:            s.now(),
	}
}

// savePayment records a created order.
func (s *Service) savePayment(ctx context.Context, p store.Payment) error {
	// The order exists upstream whatever happens next: a failure to persist
	// it is logged, not hidden, and does not turn a real payment into an error.
	if err := s.store.SavePayment(context.WithoutCancel(ctx), p); err != nil {
		s.log.Error("payment created but not persisted", "identifier", p.Identifier, "error", err)
		return fmt.Errorf("persist payment: %w", err)
	}
	return nil
}

// qrJob is one QR code to draw into a result field.
type qrJob struct {
	field, data, logo string
	size              int
	style             qr.Style
	branding          bool
	dst               *string // receives the data URL
}

// qrDone is a drawn qrJob.
type qrDone struct {
	img      *qr.Rendered
	degraded bool
	err      error
}

// renderAll draws jobs concurrently (a code not in the cache is a
// millisecond or two of CPU) and returns the outcomes in job order.
func (s *Service) renderAll(jobs []qrJob) []qrDone {
	return s.renderJobs(jobs, false)()
}

// startRenders starts drawing jobs in the background; the function it
// returns waits for them and returns the outcomes in job order.
func (s *Service) startRenders(jobs []qrJob) func() []qrDone {
	return s.renderJobs(jobs, true)
}

// renderJobs draws jobs[1:] (all of them if background) on goroutines of
// their own and jobs[0] on this one.
func (s *Service) renderJobs(jobs []qrJob, background bool) func() []qrDone {
	out := make([]qrDone, len(jobs))
	var wg sync.WaitGroup
	first := 1
	if background {
		first = 0
	}
	for i := first; i < len(jobs); i++ {
		wg.Go(func() {
			defer func() {
				if r := recover(); r != nil { // not the tool wrapper's goroutine: recover here
					s.log.Error("QR render panicked", "field", jobs[i].field, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
					out[i] = qrDone{err: fmt.Errorf("render QR: panic: %v", r)}
				}
			}()
			out[i] = s.render(jobs[i])
		})
	}
	if first == 1 && len(jobs) > 0 {
		out[0] = s.render(jobs[0])
	}
	return func() []qrDone {
		wg.Wait()
		return out
	}
}

// render draws one QR code. A branded code needs at least 2 px per module
// around its logo; when the requested size is too small for that, the code
// is drawn plain instead (it still scans) and degraded is true. The image
// is shared with the cache: read-only.
func (s *Service) render(j qrJob) qrDone {
	img, err := s.qr.RenderShared(j.data, qr.Options{Size: j.size, Style: j.style, Logo: j.logo, Branding: j.branding})
	degraded := false
	if errors.Is(err, qr.ErrInvalidSize) && (j.style == qr.StyleBranded || j.branding) {
		degraded = true
		img, err = s.qr.RenderShared(j.data, qr.Options{Size: j.size, Style: qr.StyleBasic})
	}
	if err != nil {
		if errors.Is(err, qr.ErrInvalidSize) || errors.Is(err, qr.ErrDataTooLong) {
			return qrDone{err: newError(CodeInvalidArgument, err.Error(), map[string]any{"field": "size"})}
		}
		return qrDone{err: fmt.Errorf("render QR: %w", err)}
	}
	return qrDone{img: img, degraded: degraded}
}

// degradedNote explains a QR drawn without its logo or mark.
const degradedNote = "the requested size is too small for a logo or the Bitnovo Pay mark on this payload, so the QR code was drawn plain; use size 200 or more for a branded code"

// expired reports whether an RFC 3339 expiry lies in the past.
func (s *Service) expired(expiresAt string) bool {
	t, err := time.Parse(time.RFC3339, expiresAt)
	return err == nil && t.Before(s.now())
}

// providerTime normalises a provider timestamp to RFC 3339 UTC when it
// parses, and passes it through otherwise.
func providerTime(s string) string {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999", "2006-01-02 15:04:05.999999Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Format(time.RFC3339)
		}
	}
	return s
}
