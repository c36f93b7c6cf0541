package core

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/valetgw/valet/core/auth"
	"github.com/valetgw/valet/core/problem"
	"github.com/valetgw/valet/providers"
)

// wantCode fails unless err is the catalog problem code.
func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	var p *problem.Problem
	if !errors.As(err, &p) || p.Code != code {
		t.Fatalf("%s: error %v, want the problem %s", what, err, code)
	}
}

// A Store is called without HTTP, as any front door calls it: an upload
// is planned, sent, completed, read, listed and deleted with the caller's
// identity alone, refusals are catalog problems, and a provider failure is
// mapped to the catalog while its code stays reachable.
func TestStoreWithoutHTTP(t *testing.T) {
	h := newHarness(t, "")
	st, err := h.srv.state.Load().store("media")
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	alice := auth.Principal{Subject: "alice", Claims: map[string]any{}}
	bob := auth.Principal{Subject: "bob", Claims: map[string]any{}}
	data := []byte("hello")

	plan, err := st.CreateUpload(ctx, alice, UploadSpec{Filename: "a.txt", ContentType: "text/plain", Size: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	prefix := st.tmpl.Prefix("alice")
	if plan.Multipart() || plan.Put.URL == "" || !strings.HasPrefix(plan.Key, prefix) {
		t.Fatalf("plan %+v, want a single PUT under %q", plan, prefix)
	}
	hdr := map[string]any{}
	for k, v := range plan.Put.Headers {
		hdr[k] = v
	}
	if res := put(t, plan.Put.Method, plan.Put.URL, hdr, data); res.StatusCode/100 != 2 {
		t.Fatalf("PUT: %d", res.StatusCode)
	}
	_, err = st.Complete(ctx, bob, plan.UploadID, nil)
	wantCode(t, "complete by another caller", err, "upload_forbidden")
	obj, err := st.Complete(ctx, alice, plan.UploadID, nil)
	if err != nil || obj.Key != plan.Key || obj.Size != int64(len(data)) {
		t.Fatalf("complete: %+v, %v", obj, err)
	}

	link, err := st.Object(ctx, alice, GetSpec{Key: plan.Key})
	if err != nil || link.Object.Size != int64(len(data)) {
		t.Fatalf("object: %+v, %v", link, err)
	}
	if status, body := get(t, link.Get.URL); status != 200 || !bytes.Equal(body, data) {
		t.Fatalf("GET: %d %q", status, body)
	}
	_, err = st.Object(ctx, bob, GetSpec{Key: plan.Key})
	wantCode(t, "read by another caller", err, "policy_denied")
	_, err = st.Object(ctx, alice, GetSpec{Key: "a/../b"})
	wantCode(t, "a key with ..", err, "invalid_key")

	page, err := st.List(ctx, alice, ListSpec{Prefix: prefix})
	if err != nil || len(page.Objects) != 1 || page.Objects[0].Key != plan.Key {
		t.Fatalf("list: %+v, %v", page, err)
	}
	if err := st.Delete(ctx, alice, plan.Key); err != nil {
		t.Fatal(err)
	}
	_, err = st.Object(ctx, alice, GetSpec{Key: plan.Key})
	wantCode(t, "object after delete", err, "object_not_found")

	h.fake.SetDown(true)
	_, err = st.Object(ctx, alice, GetSpec{Key: plan.Key})
	wantCode(t, "provider down", err, "provider_unavailable")
	if providers.CodeOf(err) != providers.Unavailable {
		t.Errorf("provider down: the provider's code is lost: %v", err)
	}
	if strings.Contains(err.Error(), "memprovider") {
		t.Errorf("provider down: the error text %q carries the provider's own message", err)
	}
}
