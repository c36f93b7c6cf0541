package gcs

import (
	"testing"

	"github.com/valetgw/valet/internal/testenv"
)

// TestSHA256NotClaimed: GCS keeps only md5 and crc32c, so Info must claim
// sha256 neither for a signed PUT nor after a multipart complete, and tell
// operators that such uploads are refused.
func TestSHA256NotClaimed(t *testing.T) {
	testenv.SHA256NotClaimed(t, New())
}
