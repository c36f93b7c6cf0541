package local

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/valetgw/valet/providers"
	"github.com/valetgw/valet/providers/providertest"
)

// A browser's form upload from an allowed origin gets 204 with the stored
// object's ETag, which CORS lets the page read; the conformance suite
// covers the refusals, and none of them leaves a temp file behind.
func TestPostPolicyFromBrowser(t *testing.T) {
	p, root := newLocal(t, func(c map[string]any) { c["cors_origins"] = []string{"http://app.test"} })
	pol, err := p.SignPostPolicy(t.Context(), providers.PostPolicyRequest{Key: "forms/a.png", ContentType: "image/png", MinSize: 1, MaxSize: 100, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range pol.Fields {
		_ = mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("file", "a.png")
	fw.Write([]byte("png bytes"))
	mw.Close()
	res, b := do(t, http.MethodPost, pol.URL, map[string]string{"Origin": "http://app.test", "Content-Type": mw.FormDataContentType()}, body.Bytes())
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("form POST: %d %s", res.StatusCode, b)
	}
	obj, err := p.Head(t.Context(), providers.HeadRequest{Key: "forms/a.png"})
	if err != nil || obj.Size != 9 || obj.ContentType != "image/png" {
		t.Fatalf("Head = %+v, %v", obj, err)
	}
	if res.Header.Get("ETag") != obj.ETag || res.Header.Get("Access-Control-Allow-Origin") != "http://app.test" ||
		!strings.Contains(res.Header.Get("Access-Control-Expose-Headers"), "ETag") {
		t.Fatalf("form POST answer headers %v, want ETag %s exposed to http://app.test", res.Header, obj.ETag)
	}
	pre, _ := do(t, http.MethodOptions, pol.URL, map[string]string{"Origin": "http://app.test", "Access-Control-Request-Method": "POST"}, nil)
	if pre.StatusCode != http.StatusNoContent || !strings.Contains(pre.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Fatalf("POST preflight: %d %v", pre.StatusCode, pre.Header)
	}

	over := providertest.PostForm(t, nil, pol.URL, pol.Fields, bytes.Repeat([]byte("x"), 101))
	if over.Status != http.StatusBadRequest || !strings.Contains(string(over.Body), "EntityTooLarge") {
		t.Fatalf("form POST over the range: %d %s", over.Status, over.Body)
	}
	if n := countTemps(t, root); n != 0 {
		t.Errorf("%d temp files left after a refused form POST", n)
	}
	if _, err := p.SignPostPolicy(t.Context(), providers.PostPolicyRequest{Key: "k", ContentType: "image/png", MaxSize: 100, TTL: 30 * 24 * time.Hour}); providers.CodeOf(err) != providers.InvalidArgument {
		t.Errorf("a TTL over max_expiry: %v, want InvalidArgument", err)
	}
}
