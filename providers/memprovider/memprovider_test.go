package memprovider

import (
	"testing"
	"time"

	"github.com/valetgw/valet/providers"
)

// TestPostPolicyKeyWithSubstitution: like the real stores, a POST policy
// for a key holding "${" (which S3 fills from the client's file name) is
// refused, and a plain key is signed.
func TestPostPolicyKeyWithSubstitution(t *testing.T) {
	p := New()
	defer p.Close()
	req := providers.PostPolicyRequest{Key: "users/a/${filename}", ContentType: "image/png", MinSize: 1, MaxSize: 10, TTL: time.Minute}
	if _, err := p.SignPostPolicy(t.Context(), req); providers.CodeOf(err) != providers.InvalidArgument {
		t.Fatalf("SignPostPolicy(%q): %v; want InvalidArgument", req.Key, err)
	}
	req.Key = "users/a/photo.png"
	if pol, err := p.SignPostPolicy(t.Context(), req); err != nil || pol.Fields["key"] != req.Key {
		t.Fatalf("SignPostPolicy(%q): %v, fields %v", req.Key, err, pol.Fields)
	}
}
