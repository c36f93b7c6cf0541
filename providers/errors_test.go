package providers

import (
	"errors"
	"fmt"
	"io"
	"testing"
)

func TestErrorsIs(t *testing.T) {
	err := fmt.Errorf("head: %w", Errorf(NotFound, "key %q", "a/b"))
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("errors.Is(%v, ErrNotFound) = false", err)
	}
	if errors.Is(err, ErrInternal) {
		t.Fatalf("errors.Is(%v, ErrInternal) = true", err)
	}
	if got := CodeOf(err); got != NotFound {
		t.Fatalf("CodeOf = %q", got)
	}
	if got := CodeOf(io.EOF); got != Internal {
		t.Fatalf("CodeOf(io.EOF) = %q", got)
	}
	wrapped := Errorf(Unavailable, "dial: %w", io.ErrUnexpectedEOF)
	if !errors.Is(wrapped, io.ErrUnexpectedEOF) || !errors.Is(wrapped, ErrUnavailable) {
		t.Fatalf("wrapped error lost its chain: %v", wrapped)
	}
}
