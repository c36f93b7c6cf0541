package main

import (
	"errors"
	"fmt"
	"testing"

	"github.com/valetgw/valet/providers"
)

// A provider's "config.KEY: ..." becomes the full config path; the cause
// still unwraps to its code.
func TestStartErrorNamesTheFullKey(t *testing.T) {
	cause := fmt.Errorf("store %q: plugin s3: %w", "media", providers.Errorf(providers.InvalidArgument, "config.bucket: required"))
	err := startError("media", "s3", cause)
	if want := `stores.media.config.bucket: required (provider "s3")`; err.Error() != want {
		t.Fatalf("got %q, want %q", err, want)
	}
	if !errors.Is(err, providers.ErrInvalidArgument) {
		t.Fatalf("code lost: %v", providers.CodeOf(err))
	}
	other := startError("media", "s3", providers.Errorf(providers.Unavailable, "starting /x: exec format error"))
	if want := `stores.media: starting provider "s3": Unavailable: starting /x: exec format error`; other.Error() != want {
		t.Fatalf("got %q, want %q", other, want)
	}
}
