// Package shop is the Bitrefill "Search and Shop" domain: catalogue search,
// product detail and categories over the public website API; account,
// invoices and orders over the authenticated v2 API; and purchases behind
// hard limits the agent cannot change (a maximum per order and a daily cap
// in EUR, persisted in the store), a user confirmation before any money
// moves (MCP elicitation, or a single-use token shown by a quote step) and
// an append-only audit log. It knows nothing about MCP.
package shop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitrefill"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/toolerr"
)

// Error codes of the shop toolset.
const (
	CodeProductNotFound        = "PRODUCT_NOT_FOUND"
	CodeInvoiceNotFound        = "INVOICE_NOT_FOUND"
	CodeOrderNotFound          = "ORDER_NOT_FOUND"
	CodeInsufficientFunds      = "INSUFFICIENT_FUNDS"
	CodeRateLimited            = "RATE_LIMIT_EXCEEDED"
	CodeUpstream               = "UPSTREAM_API_ERROR"
	CodeAuth                   = "AUTHENTICATION_FAILED"
	CodeOutcomeUnknown         = "PURCHASE_OUTCOME_UNKNOWN"
	CodeAlreadyAttempted       = "PURCHASE_ALREADY_ATTEMPTED"
	CodeLimitPerOrder          = "LIMIT_PER_ORDER_EXCEEDED"
	CodeDailyLimit             = "DAILY_LIMIT_EXCEEDED"
	CodeConfirmationRequired   = "CONFIRMATION_REQUIRED"
	CodeConfirmationInvalid    = "CONFIRMATION_INVALID"
	CodeConfirmationDeclined   = "CONFIRMATION_DECLINED"
	CodePurchasesDisabled      = "SHOP_PURCHASES_DISABLED"
	CodeNotConfigured          = "SHOP_NOT_CONFIGURED"
	CodeInvoiceNotPayable      = "INVOICE_NOT_PAYABLE"
	CodePriceUnavailable       = "PRICE_UNAVAILABLE"
	DefaultConfirmationTTL     = 5 * time.Minute
	maxProviderMessage         = 300
	defaultConfirmationTimeout = 2 * time.Minute
)

// Options configure a Service. Limits are fixed for the life of the
// Service: nothing an agent sends can change them.
type Options struct {
	// Sandbox marks every result with "sandbox": true.
	Sandbox bool
	// PurchasesEnabled turns create_invoice, pay_invoice and unseal_order on.
	PurchasesEnabled bool
	// MaxOrderCents and DailyLimitCents are the hard limits in EUR cents.
	MaxOrderCents   int64
	DailyLimitCents int64
	// ConfirmationTTL is how long a confirmation token is valid (default 5 min).
	ConfirmationTTL time.Duration
	// DeliveryPoll is WaitDelivery's first poll interval (default 2 s,
	// doubling up to 30 s).
	DeliveryPoll time.Duration
	// Now is the clock (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// Service is the shop. It is safe for concurrent use.
type Service struct {
	c   *bitrefill.Client
	st  store.Shop
	o   Options
	log *slog.Logger
}

// New returns a Service. st may be nil only when purchases are disabled.
func New(c *bitrefill.Client, st store.Shop, o Options) *Service {
	if o.ConfirmationTTL <= 0 {
		o.ConfirmationTTL = DefaultConfirmationTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{c: c, st: st, o: o, log: o.Logger}
}

// HasAccount reports whether the account tools can work (credentials set).
func (s *Service) HasAccount() bool { return s.c != nil && s.c.HasCredentials() }

// PurchasesEnabled reports whether the purchase tools are on.
func (s *Service) PurchasesEnabled() bool {
	return s.o.PurchasesEnabled && s.HasAccount() && s.st != nil
}

// Sandbox reports whether the service runs against the fake.
func (s *Service) Sandbox() bool { return s.o.Sandbox }

// Limits are the configured hard limits.
type Limits struct {
	MaxOrderEUR   string `json:"max_order_eur" jsonschema:"largest order the server will pay, in EUR (set by the user in SHOP_MAX_ORDER_EUR; no tool can change it)"`
	DailyLimitEUR string `json:"daily_limit_eur" jsonschema:"most the server will pay per UTC day, in EUR (SHOP_DAILY_LIMIT_EUR)"`
	SpentTodayEUR string `json:"spent_today_eur" jsonschema:"EUR counted against today's cap so far (paid, in flight or with an unknown outcome)"`
	RemainingEUR  string `json:"remaining_today_eur" jsonschema:"EUR still available today"`
}

func (s *Service) limits(ctx context.Context) (Limits, int64, error) {
	used, err := s.st.SpentOn(ctx, s.day())
	if err != nil {
		return Limits{}, 0, err
	}
	rem := max(s.o.DailyLimitCents-used, 0)
	return Limits{MaxOrderEUR: cents(s.o.MaxOrderCents), DailyLimitEUR: cents(s.o.DailyLimitCents),
		SpentTodayEUR: cents(used), RemainingEUR: cents(rem)}, used, nil
}

func (s *Service) day() string { return s.o.Now().UTC().Format("2006-01-02") }

// cents formats EUR cents as "12.34".
func cents(c int64) string {
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	return fmt.Sprintf("%s%d.%02d", sign, c/100, c%100)
}

// mapErr turns a client error into a stable tool error. notFound is the
// code for a 404.
func mapErr(err error, notFound string) error {
	if err == nil {
		return nil
	}
	var te *toolerr.Error
	if errors.As(err, &te) {
		return te
	}
	details := map[string]any{}
	msg := ""
	var ae *bitrefill.APIError
	if errors.As(err, &ae) {
		details["status"] = ae.StatusCode
		if ae.Code != "" {
			details["provider_code"] = ae.Code
		}
		msg = truncate(oneLine(ae.Message), maxProviderMessage)
		if ae.RetryAfter > 0 {
			details["retry_after_seconds"] = int(ae.RetryAfter.Seconds() + 0.999)
		}
	}
	with := func(prefix string) string {
		if msg == "" {
			return prefix
		}
		return prefix + ": " + msg
	}
	var ve *bitrefill.ValidationError
	switch {
	case errors.As(err, &ve):
		return toolerr.Wrap(err, toolerr.CodeInvalidArgument, ve.Field+": "+ve.Reason, map[string]any{"field": ve.Field})
	case errors.Is(err, bitrefill.ErrOutcomeUnknown):
		return toolerr.Wrap(err, CodeOutcomeUnknown, "the request may or may not have been processed by Bitrefill; do NOT retry: look the invoice up with get_invoice / get_invoices first", details)
	case errors.Is(err, bitrefill.ErrNoCredentials):
		return toolerr.Wrap(err, CodeNotConfigured, "Bitrefill API credentials are not configured (BITREFILL_API_ID and BITREFILL_API_SECRET)", nil)
	case errors.Is(err, bitrefill.ErrNotFound):
		return toolerr.Wrap(err, notFound, with("not found"), details)
	case errors.Is(err, bitrefill.ErrInsufficientFunds):
		return toolerr.Wrap(err, CodeInsufficientFunds, with("the Bitrefill account balance is too low"), details)
	case errors.Is(err, bitrefill.ErrUnauthorized), errors.Is(err, bitrefill.ErrForbidden):
		return toolerr.Wrap(err, CodeAuth, with("Bitrefill refused the API credentials"), details)
	case errors.Is(err, bitrefill.ErrRateLimited):
		return toolerr.Wrap(err, CodeRateLimited, with("Bitrefill rate limit reached; wait before trying again"), details)
	case errors.Is(err, bitrefill.ErrBadRequest):
		return toolerr.Wrap(err, toolerr.CodeInvalidArgument, with("Bitrefill rejected the request"), details)
	case errors.Is(err, context.DeadlineExceeded):
		return toolerr.Wrap(err, CodeUpstream, "Bitrefill did not answer in time", details)
	default:
		return toolerr.Wrap(err, CodeUpstream, with("Bitrefill API error"), details)
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
