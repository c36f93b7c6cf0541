package providers_test

import (
	"testing"

	"github.com/valetgw/valet/providers"
)

func TestStatusCode(t *testing.T) {
	for status, want := range map[int]providers.Code{
		400: providers.InvalidArgument, 401: providers.Unauthenticated, 403: providers.PermissionDenied,
		404: providers.NotFound, 409: providers.AlreadyExists, 412: providers.FailedPrecondition,
		429: providers.Unavailable, 500: providers.Unavailable, 503: providers.Unavailable,
		418: providers.Internal, 302: providers.Internal,
	} {
		if got := providers.StatusCode(status); got != want {
			t.Errorf("StatusCode(%d) = %s, want %s", status, got, want)
		}
	}
}
