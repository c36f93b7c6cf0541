package gcs

import (
	"strings"
	"testing"

	"github.com/valetgw/valet/providers"
)

// TestSHA256NotClaimed: GCS keeps only md5 and crc32c, so Info must claim
// sha256 neither for a signed PUT nor after a multipart complete, and tell
// operators that such uploads are refused.
func TestSHA256NotClaimed(t *testing.T) {
	info, err := New().Info(t.Context())
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
