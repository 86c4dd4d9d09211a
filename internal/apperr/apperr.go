// Package apperr defines the errors that reach API clients: each carries a
// machine-readable code (the GraphQL extensions.code, an HTTP status for
// plain endpoints) and a message that is safe to show, apart from the
// wrapped cause, which is only logged.
package apperr

import (
	"errors"
	"fmt"
	"net/http"
)

// Code classifies an error for clients.
type Code string

// The codes clients see in extensions.code.
const (
	Unauthenticated Code = "UNAUTHENTICATED"
	Forbidden       Code = "FORBIDDEN"
	BadUserInput    Code = "BAD_USER_INPUT"
	NotFound        Code = "NOT_FOUND"
	Conflict        Code = "CONFLICT"
	Unavailable     Code = "UNAVAILABLE"
	Timeout         Code = "TIMEOUT"
	Internal        Code = "INTERNAL"
)

// Error is an error with a client-safe message.
type Error struct {
	// Code classifies the error.
	Code Code
	// Message is safe to show to the client.
	Message string
	// Argument names the offending argument or field, for BAD_USER_INPUT.
	Argument string
	// Err is the cause, for logs only.
	Err error
}

// Error returns the client-safe message, with the cause when there is one.
func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// HTTPStatus maps the code to an HTTP status for plain HTTP endpoints.
func (e *Error) HTTPStatus() int {
	switch e.Code {
	case Unauthenticated:
		return http.StatusUnauthorized
	case Forbidden:
		return http.StatusForbidden
	case BadUserInput:
		return http.StatusBadRequest
	case NotFound:
		return http.StatusNotFound
	case Conflict:
		return http.StatusConflict
	case Unavailable:
		return http.StatusServiceUnavailable
	case Timeout:
		return http.StatusGatewayTimeout
	default:
		return http.StatusInternalServerError
	}
}

// QueryTimeout is what a client reads when the database cancelled its
// query (err) for running past the statement timeout: a smaller range or
// a narrower filter asks less of it. requestID, when known, finds the
// request in the logs.
func QueryTimeout(requestID string, err error) *Error {
	msg := "the query took longer than the server allows; narrow the time range or the filter and try again"
	if requestID != "" {
		msg += " (request id " + requestID + ")"
	}
	return &Error{Code: Timeout, Message: msg, Err: err}
}

// DatabaseUnavailable is what a client reads when the database could not
// be reached for its request (err): it may try again shortly. requestID,
// when known, finds the request in the logs.
func DatabaseUnavailable(requestID string, err error) *Error {
	msg := "the database cannot be reached at the moment; try again shortly"
	if requestID != "" {
		msg += " (request id " + requestID + ")"
	}
	return &Error{Code: Unavailable, Message: msg, Err: err}
}

// BadInput reports a bad value of the named argument.
func BadInput(argument, format string, args ...any) *Error {
	return &Error{Code: BadUserInput, Argument: argument, Message: argument + ": " + fmt.Sprintf(format, args...)}
}

// New returns an error with the given code and client-safe message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// maxQuoted is how many characters of a client's value a message quotes.
const maxQuoted = 60

// Quote quotes a value the client sent, for a message, cut short when long,
// so that a refusal never sends a large input back whole.
func Quote(s string) string {
	if r := []rune(s); len(r) > maxQuoted {
		return fmt.Sprintf("%q… (%d characters)", string(r[:maxQuoted]), len(r))
	}
	return fmt.Sprintf("%q", s)
}
