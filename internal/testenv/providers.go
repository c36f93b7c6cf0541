package testenv

import (
	"maps"
	"strings"
	"testing"

	"github.com/valetgw/valet/providers"
)

// Helpers the providers' own unit tests share.

// ConfigWith is a copy of base, a store config, with kv applied: pairs of
// key and value, where a nil value removes the key. base is not changed.
func ConfigWith(base map[string]any, kv ...any) map[string]any {
	m := maps.Clone(base)
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(m, kv[i].(string))
		} else {
			m[kv[i].(string)] = kv[i+1]
		}
	}
	return m
}

// SHA256NotClaimed fails t unless p, a provider whose backend keeps no
// sha256 of an object, claims sha256 neither for a signed PUT nor after a
// multipart complete, and says in Info.Notes that checksum_sha256 cannot be
// verified.
func SHA256NotClaimed(t *testing.T, p providers.Provider) {
	t.Helper()
	info, err := p.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	c := info.Capabilities
	if c.Binds(providers.SHA256) || c.VerifiesMultipart(providers.SHA256) {
		t.Fatalf("Info claims sha256: BindsChecksums %v, MultipartChecksums %v", c.BindsChecksums, c.MultipartChecksums)
	}
	for _, n := range c.Notes {
		if strings.Contains(n, "checksum_sha256 cannot be verified") {
			return
		}
	}
	t.Errorf("Info.Notes do not say that checksum_sha256 cannot be verified: %q", c.Notes)
}
