package hooks

import (
	"errors"
	"regexp"
	"strings"
)

// The API's metadata rules, which metadata added by an upload.create answer
// follows too (the caller checks the merged set of the client's and the
// hook's with CheckMetadata again).
const (
	MaxMetadataEntries = 16
	MaxMetadataBytes   = 2048
)

var metadataKey = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

// CheckMetadata applies the API's metadata rules: at most
// MaxMetadataEntries entries, keys of lower-case letters, digits and '-'
// (at most 64, not starting with '-'), values of printable ASCII, and at
// most MaxMetadataBytes of keys and values together.
func CheckMetadata(m map[string]string) error {
	if len(m) > MaxMetadataEntries {
		return errors.New("at most 16 metadata entries")
	}
	n := 0
	for k, v := range m {
		n += len(k) + len(v)
		if !metadataKey.MatchString(k) || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r > 0x7e }) {
			return errors.New("metadata keys are lower-case letters, digits and '-'; values printable ASCII")
		}
	}
	if n > MaxMetadataBytes {
		return errors.New("metadata exceeds 2 KiB")
	}
	return nil
}
