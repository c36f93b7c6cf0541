package testenv

import (
	"strings"
	"testing"
)

// ErrorMentions fails t unless err's text holds each of want and none of
// not.
func ErrorMentions(t testing.TB, err error, want, not []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	for _, w := range not {
		if strings.Contains(err.Error(), w) {
			t.Errorf("error %q has %q", err, w)
		}
	}
}
