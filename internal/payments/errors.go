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
)

// Stable error codes returned to agents. The first ten are the seed's.
const (
	CodeInvalidDeviceID       = "INVALID_DEVICE_ID"
	CodeCurrencyNotSupported  = "CURRENCY_NOT_SUPPORTED"
	CodeAmountTooLow          = "AMOUNT_TOO_LOW"
	CodeAmountTooHigh         = "AMOUNT_TOO_HIGH"
	CodePaymentNotFound       = "PAYMENT_NOT_FOUND"
	CodePaymentExpired        = "PAYMENT_EXPIRED"
	CodeInvalidArgument       = "INVALID_ARGUMENT"
	CodeInvalidRedirectURLs   = "INVALID_REDIRECT_URLS"
	CodeIdempotencyConflict   = "IDEMPOTENCY_CONFLICT"
	CodeIdempotencyInProgress = "IDEMPOTENCY_IN_PROGRESS"
	CodeOutcomeUnknown        = "PAYMENT_OUTCOME_UNKNOWN"
	CodeRateLimited           = "RATE_LIMIT_EXCEEDED"
	CodeTimeout               = "API_TIMEOUT"
	CodeUpstream              = "UPSTREAM_API_ERROR"
	CodeQRNotAvailable        = "QR_NOT_AVAILABLE"
	CodeInternal              = "INTERNAL_ERROR"
)

// Error is a failure the agent can act on: a stable code, a one-line
// message and optional structured details.
type Error struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
	cause   error
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.cause }

func newError(code, msg string, details map[string]any) *Error {
	return &Error{Code: code, Message: msg, Details: details}
}

func invalidArg(field, msg string) *Error {
	return newError(CodeInvalidArgument, field+": "+msg, map[string]any{"field": field})
}

// AsError turns any error into an *Error, mapping provider and context
// failures to stable codes.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	return mapAPIError(err, "")
}

// mapAPIError maps a bitnovo client error. op names the operation for
// messages ("create", "status", ...).
func mapAPIError(err error, op string) *Error {
	wrap := func(code, msg string, details map[string]any) *Error {
		e := newError(code, msg, details)
		e.cause = err
		return e
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
