package s3

import (
	"strings"
	"testing"
	"time"

	"github.com/valetgw/valet/providers"
)

// A key holding "${" gets no POST policy: S3 would fill ${filename} in the
// form's key from the file's name, so the object would land elsewhere than
// the key that was signed. "$" and braces apart stay allowed.
func TestSignPostPolicyRefusesTemplateKey(t *testing.T) {
	p := newTestProvider(t, newFakeS3(t), nil)
	for _, key := range []string{"uploads/${filename}", "a/${x", "${"} {
		_, err := p.SignPostPolicy(t.Context(), providers.PostPolicyRequest{Key: key, ContentType: "image/png", MaxSize: 100, TTL: time.Minute})
		if providers.CodeOf(err) != providers.InvalidArgument || !strings.Contains(err.Error(), "${") {
			t.Errorf("SignPostPolicy(%q): %v, want InvalidArgument naming ${", key, err)
		}
	}
	pol, err := p.SignPostPolicy(t.Context(), providers.PostPolicyRequest{Key: "uploads/$5 {a}.png", ContentType: "image/png", MaxSize: 100, TTL: time.Minute})
	if err != nil || pol.Fields["key"] != "uploads/$5 {a}.png" {
		t.Errorf("SignPostPolicy of a key with $ and braces apart: key field %q, %v", pol.Fields["key"], err)
	}
}
