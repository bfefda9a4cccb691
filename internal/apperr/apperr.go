// Package apperr is Cartograph's one coded error type. Services return
// *apperr.Error for anything a client may see; the GraphQL error presenter
// (internal/server) maps Code to extensions.code and replaces every other
// error with INTERNAL so no internals leak.
package apperr

import (
	"errors"
	"fmt"
)

// Code is a machine-readable error class, exposed as extensions.code.
type Code string

// The codes a client can receive. They follow the GUIDE's GraphQL conventions.
const (
	Unauthenticated Code = "UNAUTHENTICATED"
	Forbidden       Code = "FORBIDDEN"
	NotFound        Code = "NOT_FOUND"
	BadUserInput    Code = "BAD_USER_INPUT"
	Throttled       Code = "THROTTLED"
	MaxCostExceeded Code = "MAX_COST_EXCEEDED"
	Conflict        Code = "CONFLICT"
	ShopNotFound    Code = "SHOP_NOT_FOUND"
	Internal        Code = "INTERNAL"
	// ServiceUnavailable: a dependency the operation needs (Redis for carts
	// and checkout, PostgreSQL) is down; retry later (HTTP 503, Retry-After).
	ServiceUnavailable Code = "SERVICE_UNAVAILABLE"
)

// Error is a coded, client-safe error. Message is shown to clients; Cause
// (wrapped with %w semantics) is only logged.
type Error struct {
	Code    Code
	Message string
	// Field names the argument at fault, for BAD_USER_INPUT (e.g. "first").
	Field string
	// Extensions are extra client-visible details (e.g. retryAfter).
	Extensions map[string]any
	Cause      error
}

// Error formats code, message and cause (for logs; clients see Message).
func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Cause)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap exposes the cause to errors.Is/As.
func (e *Error) Unwrap() error { return e.Cause }

// New returns an Error with the given code and client-facing message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// BadInput returns a BAD_USER_INPUT error naming the offending argument.
func BadInput(field, format string, args ...any) *Error {
	return &Error{Code: BadUserInput, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an Error with code and message that keeps cause for logs.
func Wrap(cause error, code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Cause: cause}
}

// CodeOf returns the code of the first *Error in err's chain, or INTERNAL.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// As returns the first *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// UserError is a problem the caller can fix, returned in mutation payloads
// as userErrors { field message code } (never as a top-level error).
type UserError struct {
	Field   []string
	Message string
	Code    string
}
