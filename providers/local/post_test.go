package local

import (
	"bytes"
	"io"
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
	if res.Status != http.StatusNoContent {
		t.Fatalf("form POST: %d %s", res.Status, b)
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
	if pre.Status != http.StatusNoContent || !strings.Contains(pre.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Fatalf("POST preflight: %d %v", pre.Status, pre.Header)
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

// field is one form field, in the order it is sent.
type field struct{ name, value string }

// postParts posts a form of preamble (bytes before the first boundary),
// the fields in order and the file, chunked (no Content-Length) when asked,
// and returns the answer's status and body.
func postParts(t *testing.T, rawURL, preamble string, fields []field, file []byte, chunked bool) (int, string) {
	t.Helper()
	var body bytes.Buffer
	body.WriteString(preamble)
	mw := multipart.NewWriter(&body)
	for _, f := range fields {
		if err := mw.WriteField(f.name, f.value); err != nil {
			t.Fatal(err)
		}
	}
	fw, err := mw.CreateFormFile("file", "a.png")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(file)
	mw.Close()
	var rd io.Reader = bytes.NewReader(body.Bytes())
	if chunked {
		rd = io.MultiReader(rd) // no length known: the client sends it chunked
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, rawURL, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if chunked && res.Request.ContentLength > 0 {
		t.Fatalf("the form was sent with a Content-Length of %d, want chunked", res.Request.ContentLength)
	}
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// The form's reader is bounded before the policy is checked: fields count
// as parts whatever their names, the bytes before the file (a preamble,
// part headers) have a budget even without a Content-Length, and a field
// the server reads may not come twice. Each refusal stores nothing.
func TestPostFormBounds(t *testing.T) {
	p, root := newLocal(t, nil)
	pol, err := p.SignPostPolicy(t.Context(), providers.PostPolicyRequest{Key: "forms/b.png", ContentType: "image/png", MinSize: 1, MaxSize: 100, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	signed := []field{{"key", pol.Fields["key"]}, {"Content-Type", pol.Fields["Content-Type"]}, {"policy", pol.Fields["policy"]}}
	with := func(before []field, after ...field) []field {
		return append(append(append([]field{}, before...), signed...), after...)
	}
	repeated := make([]field, maxFormFields+1)
	for i := range repeated {
		repeated[i] = field{"note", "x"}
	}
	// Short lines (the multipart reader skips a preamble line by line), in
	// all a little over the budget.
	line := strings.Repeat("p", 1022) + "\r\n"
	preamble := strings.Repeat(line, maxPreFileBytes/len(line)+8)

	for _, tc := range []struct {
		name     string
		preamble string
		fields   []field
		chunked  bool
		want     string
	}{
		{"65 fields of one name", "", with(repeated), false, "too many form fields"},
		{"65 fields of one name, chunked", "", with(repeated), true, "too many form fields"},
		{"a chunked preamble over the budget", preamble, with(nil), true, "MaxPostPreDataLengthExceededError"},
		{"a preamble over the budget", preamble, with(nil), false, "MaxPostPreDataLengthExceededError"},
		{"key twice, the signed one last", "", with([]field{{"key", "forms/other.png"}}), false, `form field \"key\" appears more than once`},
		{"key twice, the signed one first", "", with(nil, field{"key", "forms/other.png"}), false, `form field \"key\" appears more than once`},
		{"policy twice", "", with([]field{{"policy", "AAAA"}}), false, `form field \"policy\" appears more than once`},
		{"Content-Type twice", "", with(nil, field{"Content-Type", "text/html"}), false, `form field \"Content-Type\" appears more than once`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := postParts(t, pol.URL, tc.preamble, tc.fields, []byte("png bytes"), tc.chunked)
			if status != http.StatusBadRequest || !strings.Contains(body, tc.want) {
				t.Fatalf("form POST: %d %s, want 400 %s", status, body, tc.want)
			}
			for _, k := range []string{"forms/b.png", "forms/other.png"} {
				if _, err := p.Head(t.Context(), providers.HeadRequest{Key: k}); providers.CodeOf(err) != providers.NotFound {
					t.Errorf("Head(%s) after a refused form: %v, want NotFound", k, err)
				}
			}
			if n := countTemps(t, root); n != 0 {
				t.Errorf("%d temp files left after a refused form POST", n)
			}
		})
	}

	// The bounds leave room for a real form: 61 other fields of the
	// largest size beside the three signed ones, chunked, after a preamble.
	var big []field
	for range maxFormFields - len(signed) {
		big = append(big, field{"note", strings.Repeat("n", maxFieldBytes)})
	}
	if status, body := postParts(t, pol.URL, "a preamble\r\n", with(big[:len(big)-1], big[len(big)-1]), []byte("png bytes"), true); status != http.StatusNoContent {
		t.Fatalf("a form at the bounds: %d %s, want 204", status, body)
	}
	if obj, err := p.Head(t.Context(), providers.HeadRequest{Key: "forms/b.png"}); err != nil || obj.Size != 9 {
		t.Fatalf("Head after the form at the bounds = %+v, %v", obj, err)
	}
}

// A key holding "${" (which S3 would fill from the file's name) gets no
// POST policy.
func TestPostPolicyRefusesTemplateKey(t *testing.T) {
	p, _ := newLocal(t, nil)
	for _, key := range []string{"uploads/${filename}", "a/${x", "${"} {
		_, err := p.SignPostPolicy(t.Context(), providers.PostPolicyRequest{Key: key, ContentType: "image/png", MaxSize: 100, TTL: time.Minute})
		if providers.CodeOf(err) != providers.InvalidArgument || !strings.Contains(err.Error(), "${") {
			t.Errorf("SignPostPolicy(%q): %v, want InvalidArgument naming ${", key, err)
		}
	}
	if _, err := p.SignPostPolicy(t.Context(), providers.PostPolicyRequest{Key: "uploads/$5 {a}.png", ContentType: "image/png", MaxSize: 100, TTL: time.Minute}); err != nil {
		t.Errorf("SignPostPolicy of a key with $ and braces apart: %v", err)
	}
}
