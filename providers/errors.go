package providers

import (
	"errors"
	"fmt"
	"net/http"
)

// Code classifies a provider error. The gateway maps codes to HTTP statuses.
type Code string

const (
	NotFound         Code = "NotFound"
	InvalidArgument  Code = "InvalidArgument"
	PermissionDenied Code = "PermissionDenied"
	// Unauthenticated: the backend does not accept the store's credentials
	// at all (a wrong access key or secret, an expired token, a revoked
	// service account key), as opposed to PermissionDenied, where it knows
	// them but refuses this operation (a least-privilege key). A provider's
	// Configure fails on it; the gateway answers 502 provider_denied.
	Unauthenticated    Code = "Unauthenticated"
	AlreadyExists      Code = "AlreadyExists"
	FailedPrecondition Code = "FailedPrecondition"
	Unavailable        Code = "Unavailable"
	Unimplemented      Code = "Unimplemented"
	Internal           Code = "Internal"
)

// Error is a provider error with a code. Message must never contain a
// secret, a signature or a full signed URL.
type Error struct {
	Code    Code
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Message == "" {
		return string(e.Code)
	}
	return string(e.Code) + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrNotFound) true for any *Error with that code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Err == nil && t.Code == e.Code
}

// Sentinels for errors.Is.
var (
	ErrNotFound           = &Error{Code: NotFound}
	ErrInvalidArgument    = &Error{Code: InvalidArgument}
	ErrPermissionDenied   = &Error{Code: PermissionDenied}
	ErrUnauthenticated    = &Error{Code: Unauthenticated}
	ErrAlreadyExists      = &Error{Code: AlreadyExists}
	ErrFailedPrecondition = &Error{Code: FailedPrecondition}
	ErrUnavailable        = &Error{Code: Unavailable}
	ErrUnimplemented      = &Error{Code: Unimplemented}
	ErrInternal           = &Error{Code: Internal}
)

// Errorf returns an *Error with the code and a formatted message. A %w verb
// wraps its operand as usual.
func Errorf(code Code, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &Error{Code: code, Message: err.Error(), Err: errors.Unwrap(err)}
}

// CodeOf returns the code of the first *Error in err's chain, Internal for
// any other non-nil error, and "" for nil.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// StatusCode is the Code of an HTTP error status from a storage backend's
// API: 400 InvalidArgument, 401 Unauthenticated, 403 PermissionDenied, 404
// NotFound, 409 AlreadyExists, 412 FailedPrecondition, 429 and 5xx
// Unavailable, anything else Internal. A backend whose statuses mean
// something else maps those first.
func StatusCode(status int) Code {
	if c, ok := statusCodes[status]; ok {
		return c
	}
	if status >= 500 {
		return Unavailable
	}
	return Internal
}

var statusCodes = map[int]Code{
	http.StatusBadRequest:         InvalidArgument,
	http.StatusUnauthorized:       Unauthenticated,
	http.StatusForbidden:          PermissionDenied,
	http.StatusNotFound:           NotFound,
	http.StatusConflict:           AlreadyExists,
	http.StatusPreconditionFailed: FailedPrecondition,
	http.StatusTooManyRequests:    Unavailable,
}
