package providertest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/valetgw/valet/providers"
)

// postTTL is generous: expiry is tested with an explicit past ExpiresAt,
// never by waiting.
const postTTL = 15 * time.Minute

// PostForm sends a form upload as a browser does: a multipart/form-data
// POST of fields (in a fixed order, "key" first) followed by the file in
// a field named "file", to rawURL. client nil means a plain client. A
// transport error fails t without the URL's query.
func PostForm(t testing.TB, client *http.Client, rawURL string, fields map[string]string, file []byte) Response {
	t.Helper()
	if client == nil {
		client = plainClient
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return names[i] == "key" || names[j] != "key" && names[i] < names[j] })
	for _, k := range names {
		if err := mw.WriteField(k, fields[k]); err != nil {
			t.Fatal(err)
		}
	}
	fw, err := mw.CreateFormFile("file", "upload.bin")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(file)
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, &body)
	if err != nil {
		t.Fatalf("building POST %s: %v", Redact(rawURL), err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	res, err := client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		t.Fatalf("POST %s: %v", Redact(rawURL), err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return Response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// signatureFields are the form fields that carry a POST policy's
// signature, by backend; the policy itself is in "policy" (or "Policy").
var signatureFields = []string{"x-amz-signature", "X-Amz-Signature", "signature", "x-goog-signature"}

func (s *suite) signPost(t *testing.T, req providers.PostPolicyRequest) providers.PostPolicy {
	t.Helper()
	start := time.Now()
	pol, err := s.p.(providers.PostPolicySigner).SignPostPolicy(t.Context(), req)
	if err != nil {
		t.Fatalf("SignPostPolicy(%q): %s", req.Key, errText(err))
	}
	if u, err := url.Parse(pol.URL); err != nil || !u.IsAbs() {
		t.Fatalf("SignPostPolicy: URL %q is not absolute", Redact(pol.URL))
	}
	if req.ExpiresAt.IsZero() {
		if lo, hi := start.Add(-2*time.Second), time.Now().Add(req.TTL+2*time.Second); pol.ExpiresAt.Before(lo) || pol.ExpiresAt.After(hi) {
			t.Fatalf("SignPostPolicy: ExpiresAt %s is outside [%s, %s]", pol.ExpiresAt.Format(time.RFC3339), lo.Format(time.RFC3339), hi.Format(time.RFC3339))
		}
	}
	if pol.Fields["key"] != req.Key || pol.Fields["Content-Type"] != req.ContentType {
		t.Fatalf("SignPostPolicy: Fields key %q, Content-Type %q; want %q and %q", pol.Fields["key"], pol.Fields["Content-Type"], req.Key, req.ContentType)
	}
	return pol
}

func (s *suite) post(t *testing.T, pol providers.PostPolicy, fields map[string]string, file []byte) Response {
	t.Helper()
	return PostForm(t, s.h.Client, pol.URL, fields, file)
}

// with is fields with one changed (an empty value removes it).
func with(fields map[string]string, name, value string) map[string]string {
	out := make(map[string]string, len(fields))
	for k, v := range fields {
		out[k] = v
	}
	if value == "" {
		delete(out, name)
	} else {
		out[name] = value
	}
	return out
}

func (s *suite) testPostPolicy(t *testing.T) {
	if !s.caps.PostPolicy {
		t.Skip("not claimed: PostPolicy")
	}
	const ct = "image/png"
	const maxSize = 4096
	newPolicy := func(t *testing.T, name string) (string, providers.PostPolicy) {
		key := s.key(t, name)
		s.cleanup(t, key)
		return key, s.signPost(t, providers.PostPolicyRequest{Key: key, ContentType: ct, MinSize: 1, MaxSize: maxSize,
			Metadata: map[string]string{"purpose": "conformance"}, TTL: postTTL})
	}

	t.Run("WithinLimits", func(t *testing.T) {
		key, pol := newPolicy(t, "form upload.png")
		file := RandomBytes(maxSize)
		if res := s.post(t, pol, pol.Fields, file); !ok2xx(res.Status) {
			t.Fatalf("form POST within the policy: status %d, want 2xx; body: %s", res.Status, res.Snippet())
		}
		obj, err := s.p.Head(t.Context(), providers.HeadRequest{Key: key})
		if err != nil {
			t.Fatalf("Head after the form POST: %s", errText(err))
		}
		if obj.Size != maxSize || mediaType(obj.ContentType) != ct {
			t.Errorf("Head after the form POST: size %d, type %q; want %d and %q", obj.Size, obj.ContentType, maxSize, ct)
		}
		if obj.Metadata["purpose"] != "conformance" {
			t.Errorf("Head after the form POST: metadata %v, want purpose=conformance", obj.Metadata)
		}
		s.mustGet(t, key, file)
	})
	t.Run("TooLarge", func(t *testing.T) {
		key, pol := newPolicy(t, "too-large.png")
		s.mustReject(t, "form POST over MaxSize", s.post(t, pol, pol.Fields, RandomBytes(maxSize+1)))
		s.mustNotExist(t, key, "form POST over MaxSize")
	})
	t.Run("TooSmall", func(t *testing.T) {
		key, pol := newPolicy(t, "too-small.png")
		s.mustReject(t, "form POST under MinSize", s.post(t, pol, pol.Fields, []byte{}))
		s.mustNotExist(t, key, "form POST under MinSize")
	})
	t.Run("OtherContentType", func(t *testing.T) {
		key, pol := newPolicy(t, "type.png")
		s.mustReject(t, "form POST with Content-Type text/html", s.post(t, pol, with(pol.Fields, "Content-Type", "text/html"), []byte("<script>")))
		s.mustNotExist(t, key, "form POST with another Content-Type")
	})
	t.Run("OtherKey", func(t *testing.T) {
		key, pol := newPolicy(t, "key-a.png")
		other := strings.TrimSuffix(key, "key-a.png") + "key-b.png"
		s.cleanup(t, other)
		s.mustReject(t, "form POST to another key", s.post(t, pol, with(pol.Fields, "key", other), []byte("png")))
		s.mustNotExist(t, other, "form POST to another key")
	})
	t.Run("Tampered", func(t *testing.T) {
		key, pol := newPolicy(t, "tampered.png")
		tampered := 0
		for _, name := range append([]string{"policy", "Policy"}, signatureFields...) {
			v, ok := pol.Fields[name]
			if !ok {
				continue
			}
			tampered++
			s.mustReject(t, "form POST with a changed "+name, s.post(t, pol, with(pol.Fields, name, FlipChar(v)), []byte("png")))
			s.mustReject(t, "form POST without "+name, s.post(t, pol, with(pol.Fields, name, ""), []byte("png")))
		}
		if tampered == 0 {
			t.Fatalf("no policy or signature field among %v to tamper with", fieldNames(pol.Fields))
		}
		s.mustNotExist(t, key, "tampered form POSTs")
	})
	t.Run("KeyWithSubstitution", func(t *testing.T) {
		// S3 (and GCS) fill ${filename} in a form's key from the name of
		// the file the client sends: a policy for such a key would let
		// the client name the object. It must be refused before signing.
		key := s.key(t, "${filename}")
		_, err := s.p.(providers.PostPolicySigner).SignPostPolicy(t.Context(), providers.PostPolicyRequest{Key: key, ContentType: ct,
			MinSize: 1, MaxSize: maxSize, TTL: postTTL})
		if providers.CodeOf(err) != providers.InvalidArgument {
			t.Fatalf("SignPostPolicy(%q): %s; want an InvalidArgument error", key, errText(err))
		}
	})
	t.Run("Expired", func(t *testing.T) {
		key := s.key(t, "expired.png")
		s.cleanup(t, key)
		pol := s.signPost(t, providers.PostPolicyRequest{Key: key, ContentType: ct, MinSize: 1, MaxSize: maxSize,
			TTL: postTTL, ExpiresAt: time.Now().Add(-time.Minute)})
		s.mustReject(t, "form POST with an expired policy", s.post(t, pol, pol.Fields, []byte("png")))
		s.mustNotExist(t, key, "form POST with an expired policy")
	})
}

func fieldNames(m map[string]string) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
