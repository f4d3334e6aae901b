// Package toolerr is the error an MCP tool returns to the agent: a stable
// code, a one-line message and optional details. Domain packages build
// them; the MCP layer turns them into {"error":{"code","message","details"}}.
package toolerr

import "errors"

// Codes shared by every toolset. Domain packages define their own too.
const (
	CodeInvalidArgument = "INVALID_ARGUMENT"
	CodeInternal        = "INTERNAL_ERROR"
	// CodeCancelled answers a call the client cancelled, where an answer
	// goes out at all (the stdio transport sends none).
	CodeCancelled = "CANCELLED"
)

// Error is a failure the agent can act on.
type Error struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
	cause   error
}

// New returns an Error.
func New(code, msg string, details map[string]any) *Error {
	return &Error{Code: code, Message: msg, Details: details}
}

// Wrap returns an Error that keeps cause for errors.Is/As and logs.
func Wrap(cause error, code, msg string, details map[string]any) *Error {
	return &Error{Code: code, Message: msg, Details: details, cause: cause}
}

// InvalidArg reports a bad argument.
func InvalidArg(field, msg string) *Error {
	return New(CodeInvalidArgument, field+": "+msg, map[string]any{"field": field})
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.cause }

// From returns err as an *Error; anything that is not one is an internal
// error whose details stay in the logs, not in the agent's view.
func From(err error) *Error {
	if err == nil {
		return nil
	}
	var te *Error
	if errors.As(err, &te) {
		return te
	}
	return Wrap(err, CodeInternal, "internal error; the details were logged", nil)
}
