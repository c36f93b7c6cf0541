package core

import (
	"context"
	"errors"
	"time"

	"github.com/valetgw/valet/core/problem"
	"github.com/valetgw/valet/providers"
)

// failure is a provider's error mapped to the catalog. Its Error is the
// problem's; the provider's own text (cause) goes only to the log.
type failure struct {
	problem *problem.Problem
	cause   error
}

func (f *failure) Error() string { return f.problem.Error() }

// Unwrap gives both: errors.As finds the problem, and providers.CodeOf and
// errors.Is the provider's error.
func (f *failure) Unwrap() []error { return []error{f.problem, f.cause} }

// catalog maps *err, which a Store method returns, to the catalog: a
// problem stays as it is, and any other error becomes a failure. Each
// exported Store method defers it, so that no error leaves the Store
// unmapped.
func catalog(err *error) {
	if *err == nil {
		return
	}
	var p *problem.Problem
	if errors.As(*err, &p) {
		return
	}
	*err = &failure{problem: providerProblem(*err), cause: *err}
}

// providerProblem maps a provider error code to a status. The provider's
// message is shown only for codes that describe the request.
func providerProblem(err error) *problem.Problem {
	if errors.Is(err, context.DeadlineExceeded) {
		return apiError("provider_timeout", "the store's provider did not answer in time")
	}
	code := providers.CodeOf(err)
	msg := ""
	var pe *providers.Error
	if errors.As(err, &pe) {
		msg = pe.Message
	}
	switch code {
	case providers.NotFound:
		return apiError("not_found", "not found")
	case providers.InvalidArgument:
		return apiError("provider_invalid_argument", msg)
	case providers.AlreadyExists:
		return apiError("already_exists", "the object already exists")
	case providers.FailedPrecondition:
		return apiError("failed_precondition", msg)
	case providers.Unimplemented:
		return apiError("unsupported", "the store's provider does not support this")
	case providers.Unavailable:
		p := apiError("provider_unavailable", "the store's provider is unavailable; retry shortly")
		p.RetryAfter = 5 * time.Second
		return p
	case providers.PermissionDenied:
		return apiError("provider_denied", "the storage backend refused the gateway's credentials")
	case providers.Unauthenticated:
		return apiError("provider_denied", "the storage backend does not accept the gateway's credentials (a wrong key or secret?)")
	default:
		return apiError("provider_error", "the store's provider failed")
	}
}
