package bitnovo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors. Test them with errors.Is; they are never returned bare.
var (
	// ErrNotFound matches an HTTP 404 from a GET, a 405 from the order
	// details endpoint (E3), and an order-status answer that is an empty list.
	// A 404 from CreateOrder does not match it: the real API answers 404 for a
	// rejected create (unknown currency, amount under the minimum, missing
	// field), which is a validation failure, not a missing payment.
	ErrNotFound = errors.New("bitnovo: not found")

	// ErrOutcomeUnknown means a create request may have reached Bitnovo but no
	// usable answer came back: a timeout or connection failure after the
	// request was (or may have been) written, a 3xx or 5xx answer, or a 2xx
	// answer that cannot be understood. The order may exist. Callers must not
	// resend the create; they should reconcile instead (for example by
	// reference, or by asking the user). Check for it before anything else:
	// such an error may also wrap an *APIError and ErrTimeout.
	ErrOutcomeUnknown = errors.New("bitnovo: outcome unknown, the order may have been created; do not resend")

	// ErrTimeout matches an attempt that ran out of time, whether the
	// per-attempt timeout or the caller's deadline fired. Such errors also
	// match context.DeadlineExceeded. A cancelled context (context.Canceled)
	// is not a timeout.
	ErrTimeout = errors.New("bitnovo: request timed out")

	// ErrInvalidRequest is wrapped by argument validation errors; nothing was
	// sent.
	ErrInvalidRequest = errors.New("bitnovo: invalid request")

	// ErrMalformedResponse matches an *APIError built for a 2xx answer whose
	// body could not be understood (not JSON, unexpected shape, missing
	// identifier or status, an identifier other than the one asked for).
	ErrMalformedResponse = errors.New("bitnovo: malformed response")
)

// Error codes set in APIError.Code by the client itself. Codes sent by the
// API in the body's "code" field are passed through unchanged; without one
// the code is "HTTP_<status>".
const (
	CodeCreatePaymentFailed            = "CREATE_PAYMENT_FAILED"
	CodeCreatePaymentInvalidResponse   = "CREATE_PAYMENT_INVALID_RESPONSE"
	CodeGetPaymentStatusFailed         = "GET_PAYMENT_STATUS_FAILED"
	CodeGetPaymentStatusInvalidFormat  = "GET_PAYMENT_STATUS_INVALID_FORMAT"
	CodeGetPaymentStatusIncompleteData = "GET_PAYMENT_STATUS_INCOMPLETE_DATA"
	CodeGetPaymentDetailsFailed        = "GET_PAYMENT_DETAILS_FAILED"
	CodeGetPaymentDetailsInvalidFormat = "GET_PAYMENT_DETAILS_INVALID_FORMAT"
	CodeGetCurrenciesFailed            = "GET_CURRENCIES_FAILED"
	CodeGetCurrenciesInvalidFormat     = "GET_CURRENCIES_INVALID_FORMAT"
	CodePaymentNotFound                = "PAYMENT_NOT_FOUND"
	CodeIdentifierMismatch             = "IDENTIFIER_MISMATCH"
)

const (
	maxErrorBody   = 4 << 10 // bytes of body kept in APIError.Body
	maxErrorMsgLen = 512     // runes of message kept in APIError.Message
)

// APIError is an answer from the Bitnovo API that is not a success: a
// non-2xx status, or a 2xx whose body reports an error or cannot be used.
type APIError struct {
	StatusCode int           // HTTP status of the answer
	Code       string        // body "code", else a Code* constant, else "HTTP_<status>"
	Message    string        // body "message", "detail", "error" or field errors, else the status text
	Body       []byte        // the raw body, at most 4 KiB
	RetryAfter time.Duration // from a Retry-After header on 429/503 (seconds or HTTP-date); 0 if none
	Method     string        // request method
	Path       string        // request path, including the escaped identifier

	sentinel error // an extra sentinel this error matches, set by the client
}

// Error returns "bitnovo: METHOD PATH: STATUS CODE: MESSAGE".
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("bitnovo: ")
	if e.Method != "" || e.Path != "" {
		b.WriteString(strings.TrimSpace(e.Method + " " + e.Path))
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "%d %s", e.StatusCode, e.Code)
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrNotFound) true for a 404 answer to anything but
// a POST, and for the not-found cases the client flags itself (405 on E3, an
// empty status list). It also matches ErrMalformedResponse for unusable 2xx
// bodies.
func (e *APIError) Is(target error) bool {
	if target == nil {
		return false
	}
	if e.sentinel != nil && target == e.sentinel {
		return true
	}
	return target == ErrNotFound && e.StatusCode == http.StatusNotFound && e.Method != http.MethodPost
}

// outcomeUnknownError wraps the cause of a create whose fate is unknown.
type outcomeUnknownError struct {
	method, path string
	err          error
}

func (e *outcomeUnknownError) Error() string {
	return fmt.Sprintf("bitnovo: %s %s: outcome unknown (the order may have been created; do not resend): %v",
		e.method, e.path, e.err)
}

func (e *outcomeUnknownError) Unwrap() []error { return []error{ErrOutcomeUnknown, e.err} }

// timeoutError marks an attempt that ran out of time.
type timeoutError struct{ err error }

func (e *timeoutError) Error() string { return e.err.Error() }

func (e *timeoutError) Unwrap() []error {
	if errors.Is(e.err, context.DeadlineExceeded) {
		return []error{ErrTimeout, e.err}
	}
	return []error{ErrTimeout, context.DeadlineExceeded, e.err}
}

// Timeout reports true, like net.Error.
func (e *timeoutError) Timeout() bool { return true }

// newHTTPError builds the APIError for a non-2xx answer.
func newHTTPError(method, path string, status int, h http.Header, body []byte, now time.Time) *APIError {
	code, msg := parseErrorBody(body)
	if code == "" {
		code = "HTTP_" + strconv.Itoa(status)
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	e := &APIError{
		StatusCode: status,
		Code:       code,
		Message:    capRunes(msg, maxErrorMsgLen),
		Body:       capBody(body),
		Method:     method,
		Path:       path,
	}
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		e.RetryAfter = parseRetryAfter(h.Get("Retry-After"), now)
	}
	return e
}

func capBody(b []byte) []byte {
	if len(b) > maxErrorBody {
		b = b[:maxErrorBody]
	}
	return slices.Clone(b)
}

func capRunes(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// parseRetryAfter reads delay-seconds or an HTTP-date. Anything else, or a
// date in the past, gives 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		const maxSecs = int64(365 * 24 * 3600)
		switch {
		case n <= 0:
			return 0
		case n > maxSecs:
			n = maxSecs
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// parseErrorBody extracts a code and a human message from an error body:
// {"code","message"}, DRF {"detail": "..."|[...]}, DRF field errors
// {"field": ["..."]}, {"error": "..."|{...}}, or a bare list of strings.
// Non-JSON bodies give empty results.
func parseErrorBody(body []byte) (code, msg string) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		var list []json.RawMessage
		if json.Unmarshal(body, &list) == nil {
			msg = messageText(body)
		}
		return "", msg
	}
	code = scalarText(m["code"])
	for _, k := range []string{"message", "detail", "error", "error_message", "non_field_errors"} {
		if msg = messageText(m[k]); msg != "" {
			return code, msg
		}
	}
	// DRF field errors: {"expected_output_amount": ["A valid number is required."]}.
	keys := make([]string, 0, len(m))
	for k := range m {
		switch k {
		case "code", "status", "success", "data", "statusCode", "status_code", "timestamp":
			continue
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		if t := fieldErrorText(m[k]); t != "" {
			parts = append(parts, k+": "+t)
		}
	}
	return code, strings.Join(parts, "; ")
}

// messageText renders a string, a number, a list of those, or an object with
// a "message"/"detail"/"error" member.
func messageText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	if s := scalarText(raw); s != "" {
		return s
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil {
		var parts []string
		for _, el := range list {
			if t := messageText(el); t != "" {
				parts = append(parts, t)
			}
		}
		return strings.Join(parts, "; ")
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) == nil {
		for _, k := range []string{"message", "detail", "error"} {
			if t := messageText(obj[k]); t != "" {
				return t
			}
		}
	}
	return ""
}

// fieldErrorText renders the value of a DRF field error: a string or a list
// of strings.
func fieldErrorText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.TrimSpace(s)
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return strings.Join(list, ", ")
	}
	return ""
}

// scalarText returns the text of a JSON string or number; "" otherwise.
func scalarText(raw json.RawMessage) string {
	var v any
	if len(raw) == 0 || json.Unmarshal(raw, &v) != nil {
		return ""
	}
	switch v := v.(type) {
	case string:
		return strings.TrimSpace(v)
	case float64:
		return strings.TrimSpace(string(raw))
	}
	return ""
}
