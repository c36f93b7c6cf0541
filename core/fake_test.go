package core

import (
	"encoding/base64"
	"testing"

	"github.com/valetgw/valet/providers/memprovider"
)

// fakeProvider is the shared in-memory provider: a backend that binds
// nothing, with real signed URLs, so the gateway's complete-time checks
// are exercised.
type fakeProvider = memprovider.Provider

func newFake(t testing.TB) *fakeProvider {
	p := memprovider.New()
	t.Cleanup(p.Close)
	return p
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
