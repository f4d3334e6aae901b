// Package payments is the payment domain: creating Bitnovo Pay payments
// (on-chain and payment links) with idempotency, reading their status, the
// currency catalog with its cache, and QR codes for stored payments. It
// talks to the provider through the bitnovo client and never knows about MCP.
package payments

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitnovo"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/toolerr"
)

// Stable error codes returned to agents. The first ten are the seed's.
const (
	CodeInvalidDeviceID       = "INVALID_DEVICE_ID"
	CodeCurrencyNotSupported  = "CURRENCY_NOT_SUPPORTED"
	CodeAmountTooLow          = "AMOUNT_TOO_LOW"
	CodeAmountTooHigh         = "AMOUNT_TOO_HIGH"
	CodePaymentNotFound       = "PAYMENT_NOT_FOUND"
	CodePaymentExpired        = "PAYMENT_EXPIRED"
	CodeInvalidArgument       = toolerr.CodeInvalidArgument
	CodeInvalidRedirectURLs   = "INVALID_REDIRECT_URLS"
	CodeIdempotencyConflict   = "IDEMPOTENCY_CONFLICT"
	CodeIdempotencyInProgress = "IDEMPOTENCY_IN_PROGRESS"
	CodeOutcomeUnknown        = "PAYMENT_OUTCOME_UNKNOWN"
	CodeRateLimited           = "RATE_LIMIT_EXCEEDED"
	CodeTimeout               = "API_TIMEOUT"
	CodeUpstream              = "UPSTREAM_API_ERROR"
	CodeQRNotAvailable        = "QR_NOT_AVAILABLE"
	CodeStoreUnavailable      = "STORE_UNAVAILABLE" // nothing was sent to Bitnovo: the create could not be recorded
	CodeInternal              = toolerr.CodeInternal
)

// Error is the error type of every tool failure.
type Error = toolerr.Error

func newError(code, msg string, details map[string]any) *Error {
	return toolerr.New(code, msg, details)
}

func invalidArg(field, msg string) *Error { return toolerr.InvalidArg(field, msg) }

// AsError turns any error into an *Error: tool errors pass through, and
// anything else is an internal error.
func AsError(err error) *Error { return toolerr.From(err) }

// mapAPIError maps a bitnovo client error. op names the operation for
// messages ("create", "status", ...).
func mapAPIError(err error, op string) *Error {
	wrap := func(code, msg string, details map[string]any) *Error {
		return toolerr.Wrap(err, code, msg, details)
	}
	if errors.Is(err, bitnovo.ErrOutcomeUnknown) {
		return wrap(CodeOutcomeUnknown,
			"the create request may have reached Bitnovo but no usable answer came back, so a payment may or may not exist; it was not re-sent. Do not create it again without checking with the user",
			nil)
	}
	var apiErr *bitnovo.APIError
	if errors.As(err, &apiErr) {
		details := map[string]any{"http_status": apiErr.StatusCode, "provider_code": apiErr.Code}
		if apiErr.Message != "" {
			details["provider_message"] = apiErr.Message
		}
		switch {
		case apiErr.StatusCode == http.StatusUnauthorized || apiErr.StatusCode == http.StatusForbidden:
			return wrap(CodeInvalidDeviceID, "Bitnovo refused the device id (check BITNOVO_DEVICE_ID and that it belongs to this environment)", details)
		case apiErr.StatusCode == http.StatusTooManyRequests:
			if apiErr.RetryAfter > 0 {
				details["retry_after_seconds"] = int(apiErr.RetryAfter.Seconds() + 0.999)
			}
			return wrap(CodeRateLimited, "Bitnovo is rate limiting requests; wait before trying again", details)
		case apiErr.StatusCode == http.StatusNotFound && op != "create":
			return wrap(CodePaymentNotFound, "no payment with this identifier exists for this device", details)
		case apiErr.StatusCode >= 400 && apiErr.StatusCode < 500:
			msg := strings.ToLower(apiErr.Message)
			switch {
			case strings.Contains(msg, "currenc"):
				return wrap(CodeCurrencyNotSupported, "Bitnovo rejected the currency: "+apiErr.Message, details)
			case strings.Contains(msg, "minimum") || strings.Contains(msg, "too low"):
				return wrap(CodeAmountTooLow, "Bitnovo rejected the amount: "+apiErr.Message, details)
			case strings.Contains(msg, "maximum") || strings.Contains(msg, "too high"):
				return wrap(CodeAmountTooHigh, "Bitnovo rejected the amount: "+apiErr.Message, details)
			}
			return wrap(CodeUpstream, fmt.Sprintf("Bitnovo rejected the request (HTTP %d): %s", apiErr.StatusCode, apiErr.Message), details)
		default:
			return wrap(CodeUpstream, fmt.Sprintf("Bitnovo answered HTTP %d: %s", apiErr.StatusCode, apiErr.Message), details)
		}
	}
	if errors.Is(err, bitnovo.ErrNotFound) {
		return wrap(CodePaymentNotFound, "no payment with this identifier exists for this device", nil)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, bitnovo.ErrTimeout) {
		return wrap(CodeTimeout, "Bitnovo did not answer in time; try again later", nil)
	}
	if errors.Is(err, context.Canceled) {
		return wrap(CodeTimeout, "the request was cancelled", nil)
	}
	return wrap(CodeUpstream, "could not reach Bitnovo: "+err.Error(), nil)
}
