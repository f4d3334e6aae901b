package bitrefill

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// Sentinel errors. Use errors.Is; an *APIError matches the sentinel of its
// status (and, for 403, of its meaning).
var (
	// ErrNotFound: 404, unknown product, invoice or order (pay: also "already
	// paid").
	ErrNotFound = errors.New("bitrefill: not found")
	// ErrUnauthorized: 401, missing or wrong API credentials.
	ErrUnauthorized = errors.New("bitrefill: unauthorized")
	// ErrForbidden: 403 that is not about funds, i.e. the credentials lack a
	// permission. Treat it as an authentication problem.
	ErrForbidden = errors.New("bitrefill: forbidden")
	// ErrInsufficientFunds: the account balance cannot pay the invoice
	// (403 from pay, or an error code/message saying so).
	ErrInsufficientFunds = errors.New("bitrefill: insufficient funds")
	// ErrRateLimited: 429. APIError.RetryAfter carries the announced delay.
	ErrRateLimited = errors.New("bitrefill: rate limited")
	// ErrBadRequest: 400/409/422, the API rejected the input.
	ErrBadRequest = errors.New("bitrefill: bad request")
	// ErrServerError: 5xx.
	ErrServerError = errors.New("bitrefill: server error")

	// ErrOutcomeUnknown: a POST (create or pay invoice) failed after the
	// request may have reached Bitrefill, so it may or may not have taken
	// effect. It is never retried automatically; look the invoice up (list
	// or get) before trying again.
	ErrOutcomeUnknown = errors.New("bitrefill: outcome unknown, the request may have been processed")

	// ErrNoCredentials: an authenticated endpoint was called on a client
	// built without an API id and secret.
	ErrNoCredentials = errors.New("bitrefill: API credentials not configured")
	// ErrInvalidInput: client-side validation failed; nothing was sent. The
	// error is a *ValidationError.
	ErrInvalidInput = errors.New("bitrefill: invalid input")
	// ErrInvalidResponse: a 2xx answer could not be decoded.
	ErrInvalidResponse = errors.New("bitrefill: invalid response")
)

// maxErrorBody caps APIError.Body.
const maxErrorBody = 2048

// APIError is a non-2xx answer from a Bitrefill API.
type APIError struct {
	// Method and Path identify the request (Path is the escaped URL path,
	// never the query string).
	Method string
	Path   string
	// StatusCode is the HTTP status.
	StatusCode int
	// Code is the provider's machine-readable code (error_code/code), if any.
	Code string
	// Message is the provider's human-readable message, if one could be
	// extracted from a JSON or short plain-text body; otherwise the HTTP
	// status text.
	Message string
	// Body is the start of the raw response body, at most 2 KiB, for
	// diagnostics. Do not hand it to a model unfiltered.
	Body string
	// RetryAfter is the delay announced by Retry-After or the rate-limit
	// reset headers, zero when none.
	RetryAfter time.Duration

	insufficientFunds bool
}

// Error implements error.
func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	s := fmt.Sprintf("bitrefill: %s %s: status %d", e.Method, e.Path, e.StatusCode)
	if e.Code != "" {
		s += " (" + e.Code + ")"
	}
	if msg != "" {
		s += ": " + msg
	}
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return s
}

// Is maps the error onto the package sentinels.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden && !e.insufficientFunds
	case ErrInsufficientFunds:
		return e.insufficientFunds
	case ErrRateLimited:
		return e.StatusCode == http.StatusTooManyRequests
	case ErrBadRequest:
		return e.StatusCode == http.StatusBadRequest || e.StatusCode == http.StatusConflict ||
			e.StatusCode == http.StatusUnprocessableEntity
	case ErrServerError:
		return e.StatusCode >= 500
	}
	return false
}

// Temporary reports whether repeating the same (safe) request may succeed.
func (e *APIError) Temporary() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// newAPIError builds an APIError from a response. fundsOn403 marks a 403 as
// insufficient funds (the documented meaning of a 403 from pay).
func newAPIError(method, path string, status int, body []byte, retryAfter time.Duration, fundsOn403 bool) *APIError {
	e := &APIError{
		Method:     method,
		Path:       path,
		StatusCode: status,
		RetryAfter: retryAfter,
		Body:       capText(body, maxErrorBody),
	}
	e.Code, e.Message = extractProviderError(body)
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	lc := strings.ToLower(e.Code + " " + e.Message)
	switch {
	case strings.Contains(lc, "insufficient") || strings.Contains(lc, "not enough") ||
		strings.Contains(lc, "funds"):
		e.insufficientFunds = status == http.StatusForbidden || status == http.StatusBadRequest ||
			status == http.StatusPaymentRequired || status == http.StatusConflict
	case status == http.StatusPaymentRequired:
		e.insufficientFunds = true
	case status == http.StatusForbidden && fundsOn403:
		e.insufficientFunds = !strings.Contains(lc, "auth") && !strings.Contains(lc, "permission")
	}
	return e
}

// extractProviderError pulls code and message out of the body shapes seen
// from Bitrefill: {message, error_code}, {error: "..."}, {error: {message,
// code}}, {errors: [{message}]}, or short plain text.
func extractProviderError(body []byte) (code, message string) {
	var doc struct {
		Message   json.RawMessage `json:"message"`
		ErrorCode json.RawMessage `json:"error_code"`
		Code      json.RawMessage `json:"code"`
		Error     json.RawMessage `json:"error"`
		Errors    []struct {
			Message string `json:"message"`
			Code    string `json:"code"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &doc) == nil {
		message = scalarText(doc.Message)
		code = scalarText(doc.ErrorCode)
		if code == "" {
			code = scalarText(doc.Code)
		}
		if len(doc.Error) > 0 {
			if s := scalarText(doc.Error); s != "" {
				if message == "" {
					message = s
				}
			} else {
				var inner struct {
					Message string          `json:"message"`
					Code    json.RawMessage `json:"code"`
				}
				if json.Unmarshal(doc.Error, &inner) == nil {
					if message == "" {
						message = inner.Message
					}
					if code == "" {
						code = scalarText(inner.Code)
					}
				}
			}
		}
		if message == "" && len(doc.Errors) > 0 {
			message = doc.Errors[0].Message
			if code == "" {
				code = doc.Errors[0].Code
			}
		}
		return truncate(oneLine(code), 100), truncate(oneLine(message), 500)
	}
	text := strings.TrimSpace(string(body))
	if text != "" && len(text) <= 300 && utf8.ValidString(text) && !strings.ContainsAny(text, "<>{}") {
		return "", oneLine(text)
	}
	return "", ""
}

// scalarText renders a JSON string or number as text; anything else as "".
func scalarText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func capText(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// ValidationError is a client-side input error; nothing was sent. It matches
// ErrInvalidInput.
type ValidationError struct {
	Field  string // e.g. "products[0].value"
	Reason string
}

// Error implements error.
func (e *ValidationError) Error() string {
	if e.Field == "" {
		return "bitrefill: invalid input: " + e.Reason
	}
	return "bitrefill: invalid input: " + e.Field + ": " + e.Reason
}

// Is makes ValidationError match ErrInvalidInput.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidInput }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// truncate shortens s to at most n bytes (on a rune boundary) for messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
