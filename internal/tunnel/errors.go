package tunnel

import (
	"errors"
	"strings"
)

// Stable error codes.
const (
	// CodeConnectionFailed: a tunnel could not be opened or was lost.
	CodeConnectionFailed = "TUNNEL_CONNECTION_FAILED"
	// CodeNoPublicURL: no public webhook URL is available (nothing
	// configured, or the tunnel is not connected yet).
	CodeNoPublicURL = "WEBHOOK_URL_UNAVAILABLE"
)

// Error is a tunnel failure with a stable code, the provider, what failed
// and what to check.
type Error struct {
	Code     string // CodeConnectionFailed or CodeNoPublicURL
	Provider string // ngrok, zrok, manual, fake
	Op       string // "connect", "health check", ...
	Hint     string // what the operator should check; may be empty
	Err      error  // cause

	permanent bool // retrying cannot help (missing binary, rejected credentials)
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Provider)
	b.WriteString(" tunnel: ")
	b.WriteString(e.Op)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.Hint != "" {
		b.WriteString(" (")
		b.WriteString(e.Hint)
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

func connErr(provider, op string, err error, hint string) *Error {
	return &Error{Code: CodeConnectionFailed, Provider: provider, Op: op, Err: err, Hint: hint}
}

// asTunnelError wraps err as an *Error unless it already is one.
func asTunnelError(provider, op string, err error, hint string) *Error {
	var te *Error
	if errors.As(err, &te) {
		return te
	}
	return connErr(provider, op, err, hint)
}

func isPermanent(err error) bool {
	var te *Error
	return errors.As(err, &te) && te.permanent
}
