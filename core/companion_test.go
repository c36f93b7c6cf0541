package core

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/valetgw/valet/internal/testenv"
	"github.com/valetgw/valet/providers"
	"github.com/valetgw/valet/providers/providertest"
)

// companionConfig is a store for Uppy's Companion client: 3 MiB at most,
// two types, and a cookie carrying the JWT.
const companionConfig = `
server: { cors_origins: ["http://app.test"], public_url: "http://valet.test", companion: { cookie: session } }
auth:
  jwt: { hs256_secret: "` + hsSecret + `", issuer: valet-test, audience: valet }
tokens: { secret: "` + tokSecret + `" }
stores:
  media:
    provider: fake
    key_template: "users/{subject}/{uuid}/{filename}"
    limits: { max_size: 3MiB, content_types: ["text/plain", "application/octet-stream"] }
    rules:
      upload: 'subject != "mallory"'
      read:   'key.startsWith(key_prefix)'
`

func companionHarness(t *testing.T, body string) *harness {
	t.Helper()
	h := &harness{t: t, fake: newFake(t), cfg: loadBody(t, body), logs: &testenv.Buffer{}}
	return h.start(h.fake)
}

// companionCall is one request to a Companion route, sent as @uppy/aws-s3
// sends it from a page at http://app.test: the cookie, the Origin (a
// browser sends it on every cross-origin fetch), no Authorization.
type companionCall struct {
	method, path string
	body         any
	cookie       string // the session cookie's value
	header       map[string]string
}

func (h *harness) companion(c companionCall) resp {
	h.t.Helper()
	var rd io.Reader
	if c.body != nil {
		b, _ := json.Marshal(c.body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(c.method, h.http.URL+"/companion/media/s3"+c.path, rd)
	if c.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Origin", "http://app.test")
	if c.cookie != "" {
		req.AddCookie(&http.Cookie{Name: "session", Value: c.cookie})
	}
	for k, v := range c.header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	h.bodies.Write(b)
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		h.t.Errorf("%s %s: Content-Type %q, want JSON (every answer is)", c.method, c.path, ct)
	}
	return resp{res.StatusCode, res.Header, b}
}

// wantMessage fails unless r is Companion's error shape with Valet's code.
func wantMessage(t *testing.T, what string, r resp, status int, code string) {
	t.Helper()
	var e struct{ Message, Code string }
	if err := json.Unmarshal(r.body, &e); err != nil || r.status != status || e.Code != code || e.Message == "" {
		t.Fatalf("%s: %d %s, want %d {message, code: %s}", what, r.status, r.body, status, code)
	}
}

// A single upload is a form POST of the fields /s3/params answers, which
// the backend checks: within max_size it is stored under the template's
// key with the declared type and Uppy's metadata; over max_size it is
// refused by the storage server and nothing stays; a type the store
// refuses is refused by the gateway.
func TestCompanionFormUpload(t *testing.T) {
	h := companionHarness(t, companionConfig)
	tok := h.token("alice", nil)
	q := url.Values{"filename": {"notes.txt"}, "type": {"text/plain"}, "metadata[name]": {"notes.txt"},
		"metadata[relativePath]": {"null"}, "metadata[caption]": {"café"}}
	r := h.companion(companionCall{method: "GET", path: "/params?" + q.Encode(), cookie: tok})
	var params struct {
		Method  string            `json:"method"`
		URL     string            `json:"url"`
		Fields  map[string]string `json:"fields"`
		Headers map[string]string `json:"headers"`
		Expires int64             `json:"expires"`
	}
	if r.status != 200 || json.Unmarshal(r.body, &params) != nil {
		t.Fatalf("params: %d %s", r.status, r.body)
	}
	key := params.Fields["key"]
	if params.Method != "POST" || params.URL == "" || params.Headers == nil || params.Expires <= 0 || !strings.HasPrefix(key, "users/alice/") || !strings.HasSuffix(key, "/notes.txt") {
		t.Fatalf("params %s, want POST to a URL with the template's key, headers {} and expires", r.body)
	}
	data := bytes.Repeat([]byte("x"), 1000)
	if res := providertest.PostForm(t, nil, params.URL, params.Fields, data); res.Status/100 != 2 {
		t.Fatalf("form POST: %d %s", res.Status, res.Body)
	}
	o, err := h.fake.Head(t.Context(), providers.HeadRequest{Key: key})
	if err != nil || o.Size != 1000 || o.ContentType != "text/plain" {
		t.Fatalf("stored %+v, %v; want 1000 bytes of text/plain", o, err)
	}

	r = h.companion(companionCall{method: "GET", path: "/params?" + url.Values{"filename": {"big.bin"}, "type": {"application/octet-stream"}}.Encode(), cookie: tok})
	if r.status != 200 || json.Unmarshal(r.body, &params) != nil {
		t.Fatalf("params: %d %s", r.status, r.body)
	}
	if res := providertest.PostForm(t, nil, params.URL, params.Fields, make([]byte, 3<<20+1)); res.Status/100 == 2 {
		t.Fatalf("a form POST of max_size+1 bytes was stored (%d)", res.Status)
	}
	if _, err := h.fake.Head(t.Context(), providers.HeadRequest{Key: params.Fields["key"]}); providers.CodeOf(err) != providers.NotFound {
		t.Fatalf("after the refused POST, Head: %v, want NotFound", err)
	}

	r = h.companion(companionCall{method: "GET", path: "/params?" + url.Values{"filename": {"a.mp4"}, "type": {"video/mp4"}}.Encode(), cookie: tok})
	wantMessage(t, "a refused type", r, http.StatusUnsupportedMediaType, "content_type_not_allowed")
	r = h.companion(companionCall{method: "GET", path: "/params?type=text/plain", cookie: tok})
	wantMessage(t, "no filename", r, http.StatusBadRequest, "invalid_request")
	r = h.companion(companionCall{method: "GET", path: "/params?filename=a.txt", cookie: h.token("mallory", nil)})
	wantMessage(t, "the upload rule", r, http.StatusForbidden, "policy_denied")
	r = h.companion(companionCall{method: "GET", path: "/sts", cookie: tok})
	wantMessage(t, "getCredentials mode", r, http.StatusNotImplemented, "unsupported")
	h.noSecrets(tok)
}

// A backend without form uploads (Azure) answers /s3/params with an error
// that points to Valet's uploader; so does a template without {uuid},
// since a form POST cannot be create-only.
func TestCompanionFormUploadUnsupported(t *testing.T) {
	h := companionHarness(t, companionConfig)
	info, _ := h.fake.Info(t.Context())
	caps := info.Capabilities
	caps.PostPolicy = false
	h.fake.SetCapabilities(caps)
	h = h.start(h.fake)
	r := h.companion(companionCall{method: "GET", path: "/params?filename=a.txt&type=text/plain", cookie: h.token("alice", nil)})
	wantMessage(t, "no POST policy", r, http.StatusNotImplemented, "form_upload_unsupported")
	if !strings.Contains(string(r.body), "uppy.js") {
		t.Errorf("the message does not point to Valet's uploader: %s", r.body)
	}

	h = companionHarness(t, strings.Replace(companionConfig, "{uuid}/", "", 1))
	r = h.companion(companionCall{method: "GET", path: "/params?filename=a.txt&type=text/plain", cookie: h.token("alice", nil)})
	wantMessage(t, "a template without {uuid}", r, http.StatusNotImplemented, "form_upload_unsupported")
}

// companionPut uploads one part to a signed URL and returns its ETag, which
// the storage server must expose.
func companionPut(t *testing.T, rawURL string, body []byte) string {
	t.Helper()
	res := put(t, "PUT", rawURL, nil, body)
	if res.StatusCode/100 != 2 || res.Header.Get("ETag") == "" {
		t.Fatalf("part PUT: %d, ETag %q", res.StatusCode, res.Header.Get("ETag"))
	}
	return strings.Trim(res.Header.Get("ETag"), `"`)
}

// A multipart upload through the Companion routes, in Companion's shapes:
// create gives {uploadId, key} (Valet's sealed id and the template's key),
// each part is signed unbound, parts are listed as S3 lists them, and
// complete verifies the assembled object and gives {location, key}. A key
// that is not the upload's is refused on every route.
func TestCompanionMultipart(t *testing.T) {
	h := companionHarness(t, companionConfig)
	tok := h.token("alice", nil)
	r := h.companion(companionCall{method: "POST", path: "/multipart", cookie: tok,
		body: map[string]any{"filename": "big.bin", "type": "application/octet-stream", "metadata": map[string]any{"name": "big.bin", "relativePath": nil, "caption": "café"}}})
	var up struct{ UploadID, Key string }
	if r.status != 200 || json.Unmarshal(r.body, &up) != nil || !strings.HasPrefix(up.UploadID, "u1.") || !strings.HasPrefix(up.Key, "users/alice/") {
		t.Fatalf("create: %d %s, want {uploadId: Valet's id, key}", r.status, r.body)
	}
	id, key := url.PathEscape(up.UploadID), url.Values{"key": {up.Key}}.Encode()
	parts := [][]byte{bytes.Repeat([]byte("a"), 1<<20), bytes.Repeat([]byte("b"), 1<<20), []byte("tail")}
	var etags []string
	for i, p := range parts {
		r := h.companion(companionCall{method: "GET", path: "/multipart/" + id + "/" + string(rune('1'+i)) + "?" + key, cookie: tok})
		var signed struct {
			URL     string `json:"url"`
			Expires int64  `json:"expires"`
		}
		if r.status != 200 || json.Unmarshal(r.body, &signed) != nil || signed.URL == "" || signed.Expires <= 0 {
			t.Fatalf("sign part %d: %d %s", i+1, r.status, r.body)
		}
		etags = append(etags, companionPut(t, signed.URL, p))
	}
	r = h.companion(companionCall{method: "GET", path: "/multipart/" + id + "?" + key, cookie: tok})
	var listed []struct {
		PartNumber int
		Size       int64
		ETag       string
	}
	if r.status != 200 || json.Unmarshal(r.body, &listed) != nil || len(listed) != 3 || listed[0].PartNumber != 1 || listed[2].Size != 4 || listed[1].ETag == "" {
		t.Fatalf("list parts: %d %s, want S3's three {PartNumber, Size, ETag}", r.status, r.body)
	}

	other := url.Values{"key": {"users/alice/other.bin"}}.Encode()
	for _, c := range []companionCall{
		{method: "GET", path: "/multipart/" + id + "/1?" + other},
		{method: "GET", path: "/multipart/" + id + "?" + other},
		{method: "POST", path: "/multipart/" + id + "/complete?" + other, body: map[string]any{"parts": []any{}}},
		{method: "DELETE", path: "/multipart/" + id + "?" + other},
		{method: "GET", path: "/multipart/" + id + "/1"},
	} {
		c.cookie = tok
		wantMessage(t, c.method+" "+c.path, h.companion(c), http.StatusBadRequest, "key_mismatch")
	}
	wantMessage(t, "another caller", h.companion(companionCall{method: "GET", path: "/multipart/" + id + "?" + key, cookie: h.token("bob", nil)}), http.StatusForbidden, "upload_forbidden")
	wantMessage(t, "part 0", h.companion(companionCall{method: "GET", path: "/multipart/" + id + "/0?" + key, cookie: tok}), http.StatusBadRequest, "invalid_parts")

	done := []map[string]any{}
	for i, e := range etags {
		done = append(done, map[string]any{"PartNumber": i + 1, "ETag": e})
	}
	r = h.companion(companionCall{method: "POST", path: "/multipart/" + id + "/complete?" + key, cookie: tok, body: map[string]any{"parts": done}})
	var fin struct{ Location, Key string }
	if r.status != 200 || json.Unmarshal(r.body, &fin) != nil || fin.Key != up.Key || fin.Location == "" {
		t.Fatalf("complete: %d %s, want {location, key}", r.status, r.body)
	}
	if status, body := get(t, fin.Location); status != 200 || len(body) != 2<<20+4 {
		t.Fatalf("GET location: %d, %d bytes", status, len(body))
	}
	o, err := h.fake.Head(t.Context(), providers.HeadRequest{Key: up.Key})
	if err != nil || o.ContentType != "application/octet-stream" {
		t.Fatalf("stored %+v, %v", o, err)
	}

	// Abort answers {} and leaves no upload.
	r = h.companion(companionCall{method: "POST", path: "/multipart", cookie: tok, body: map[string]any{"filename": "c.bin", "type": "application/octet-stream"}})
	if r.status != 200 || json.Unmarshal(r.body, &up) != nil {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	id, key = url.PathEscape(up.UploadID), url.Values{"key": {up.Key}}.Encode()
	r = h.companion(companionCall{method: "DELETE", path: "/multipart/" + id + "?" + key, cookie: tok})
	if r.status != 200 || string(bytes.TrimSpace(r.body)) != "{}" {
		t.Fatalf("abort: %d %s, want 200 {}", r.status, r.body)
	}
	if r := h.companion(companionCall{method: "GET", path: "/multipart/" + id + "?" + key, cookie: tok}); r.status == 200 && string(bytes.TrimSpace(r.body)) != "[]" {
		t.Fatalf("list after abort: %d %s", r.status, r.body)
	}
	h.noSecrets(tok)
}

// Uppy declares no size: a multipart upload that ends above max_size is
// refused at complete and its object deleted, even with
// delete_on_mismatch: false (the complete assembled it: it is the
// upload's own).
func TestCompanionMultipartOverMaxSize(t *testing.T) {
	for name, store := range map[string]string{"default": "", "delete_on_mismatch_false": "\n    delete_on_mismatch: false"} {
		t.Run(name, func(t *testing.T) {
			overMaxSize(t, companionHarness(t, strings.Replace(companionConfig, `{filename}"`, `{filename}"`+store, 1)))
		})
	}
}

func overMaxSize(t *testing.T, h *harness) {
	tok := h.token("alice", nil)
	r := h.companion(companionCall{method: "POST", path: "/multipart", cookie: tok, body: map[string]any{"filename": "big.bin", "type": "application/octet-stream"}})
	var up struct{ UploadID, Key string }
	if r.status != 200 || json.Unmarshal(r.body, &up) != nil {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	id, key := url.PathEscape(up.UploadID), url.Values{"key": {up.Key}}.Encode()
	var done []map[string]any
	for n := 1; n <= 4; n++ { // 4 MiB, above the 3 MiB max_size
		r := h.companion(companionCall{method: "GET", path: "/multipart/" + id + "/" + string(rune('0'+n)) + "?" + key, cookie: tok})
		var signed struct{ URL string }
		if r.status != 200 || json.Unmarshal(r.body, &signed) != nil {
			t.Fatalf("sign part %d: %d %s", n, r.status, r.body)
		}
		done = append(done, map[string]any{"PartNumber": n, "ETag": companionPut(t, signed.URL, make([]byte, 1<<20))})
	}
	r = h.companion(companionCall{method: "POST", path: "/multipart/" + id + "/complete?" + key, cookie: tok, body: map[string]any{"parts": done}})
	wantMessage(t, "complete over max_size", r, http.StatusRequestEntityTooLarge, "too_large")
	if _, err := h.fake.Head(t.Context(), providers.HeadRequest{Key: up.Key}); providers.CodeOf(err) != providers.NotFound {
		t.Fatalf("the object over max_size is still there: %v", err)
	}
}

// State-changing routes, and the GETs that sign, refuse a browser request
// from an Origin outside server.cors_origins, and a cross-site one without
// Origin; "*" does not let a cookie through.
func TestCompanionOrigin(t *testing.T) {
	h := companionHarness(t, companionConfig)
	tok := h.token("alice", nil)
	create := map[string]any{"filename": "a.bin", "type": "application/octet-stream"}
	cases := []struct {
		name   string
		c      companionCall
		status int
	}{
		{"foreign Origin on create", companionCall{method: "POST", path: "/multipart", body: create, header: map[string]string{"Origin": "http://evil.test"}}, 403},
		{"foreign Origin on params", companionCall{method: "GET", path: "/params?filename=a.txt", header: map[string]string{"Origin": "http://evil.test"}}, 403},
		{"cross-site GET without Origin", companionCall{method: "GET", path: "/params?filename=a.txt", header: map[string]string{"Origin": "", "Sec-Fetch-Site": "cross-site"}}, 403},
		{"same-site GET without Origin", companionCall{method: "GET", path: "/params?filename=a.txt", header: map[string]string{"Origin": "", "Sec-Fetch-Site": "same-site"}}, 403},
		// Old Safari sends neither on a cross-site <img>: a cookie is not
		// taken on faith.
		{"cookie without Origin or Sec-Fetch-Site", companionCall{method: "GET", path: "/params?filename=a.txt", header: map[string]string{"Origin": ""}}, 403},
		{"cookie on a typed-in URL", companionCall{method: "GET", path: "/params?filename=a.txt", header: map[string]string{"Origin": "", "Sec-Fetch-Site": "none"}}, 403},
		{"cookie on a POST without Origin", companionCall{method: "POST", path: "/multipart", body: create, header: map[string]string{"Origin": ""}}, 403},
		{"null Origin", companionCall{method: "POST", path: "/multipart", body: create, header: map[string]string{"Origin": "null"}}, 403},
		{"listed Origin", companionCall{method: "POST", path: "/multipart", body: create}, 200},
		{"listed Origin on a GET", companionCall{method: "GET", path: "/params?filename=a.txt"}, 200},
		{"public_url's origin", companionCall{method: "POST", path: "/multipart", body: create, header: map[string]string{"Origin": "http://valet.test"}}, 200},
		{"same-origin GET", companionCall{method: "GET", path: "/params?filename=a.txt", header: map[string]string{"Origin": "", "Sec-Fetch-Site": "same-origin"}}, 200},
	}
	for _, c := range cases {
		c.c.cookie = tok
		r := h.companion(c.c)
		if c.status == 403 {
			wantMessage(t, c.name, r, 403, "origin_forbidden")
		} else if r.status != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, r.status, r.body, c.status)
		}
	}
	if n := len(h.fake.Objects()); n != 0 {
		t.Errorf("%d objects after refused requests", n)
	}
	// A credential the client sent itself is not a ridden cookie: a
	// server-side client sends neither header.
	bearer := map[string]string{"Origin": "", "Authorization": "Bearer " + tok}
	if r := h.companion(companionCall{method: "POST", path: "/multipart", body: create, header: bearer}); r.status != 200 {
		t.Errorf("not a browser: %d %s, want 200", r.status, r.body)
	}
	if r := h.companion(companionCall{method: "GET", path: "/params?filename=a.txt", header: bearer}); r.status != 200 {
		t.Errorf("not a browser, GET: %d %s, want 200", r.status, r.body)
	}

	h = companionHarness(t, strings.Replace(companionConfig, `cors_origins: ["http://app.test"]`, `cors_origins: ["*"]`, 1))
	tok = h.token("alice", nil)
	evil := map[string]string{"Origin": "http://evil.test"}
	wantMessage(t, `"*" with a cookie`, h.companion(companionCall{method: "POST", path: "/multipart", body: create, cookie: tok, header: evil}), 403, "origin_forbidden")
	evil["Authorization"] = "Bearer " + tok
	if r := h.companion(companionCall{method: "POST", path: "/multipart", body: create, header: evil}); r.status != 200 {
		t.Errorf(`"*" with Authorization: %d %s, want 200 (a page that sends a header is not a ridden cookie)`, r.status, r.body)
	}
}

// The JWT comes from the configured cookie, or from Authorization; an API
// key in the cookie, another cookie name, or a bad token are refused, and
// without server.companion.cookie no cookie is read.
func TestCompanionCookieAuth(t *testing.T) {
	h := companionHarness(t, companionConfig)
	tok := h.token("alice", nil)
	params := "/params?filename=a.txt&type=text/plain"
	if r := h.companion(companionCall{method: "GET", path: params, cookie: tok}); r.status != 200 {
		t.Fatalf("cookie: %d %s", r.status, r.body)
	}
	if r := h.companion(companionCall{method: "GET", path: params, header: map[string]string{"Authorization": "Bearer " + tok}}); r.status != 200 {
		t.Fatalf("Authorization: %d %s", r.status, r.body)
	}
	wantMessage(t, "no credentials", h.companion(companionCall{method: "GET", path: params}), 401, "unauthenticated")
	wantMessage(t, "another cookie", h.companion(companionCall{method: "GET", path: params, header: map[string]string{"Cookie": "other=" + tok}}), 401, "unauthenticated")
	wantMessage(t, "a bad token", h.companion(companionCall{method: "GET", path: params, cookie: tok + "x"}), 401, "invalid_token")
	wantMessage(t, "an API key in the cookie", h.companion(companionCall{method: "GET", path: params, cookie: "vk_" + strings.Repeat("a", 40)}), 401, "invalid_token")

	h = companionHarness(t, strings.Replace(companionConfig, ", companion: { cookie: session }", "", 1))
	wantMessage(t, "no cookie configured", h.companion(companionCall{method: "GET", path: params, cookie: h.token("alice", nil)}), 401, "unauthenticated")
}

// noSecrets fails if a token appears in a response body or the log.
func (h *harness) noSecrets(secrets ...string) {
	h.t.Helper()
	for _, s := range secrets {
		if bytes.Contains(h.bodies.Bytes(), []byte(s)) || strings.Contains(h.logs.String(), s) {
			h.t.Errorf("a token appears in a response or the log")
		}
	}
}

// Uppy's metadata becomes Valet's: names lower-cased, JSON values as
// JavaScript's String() writes them, non-ASCII as RFC 2047 (as Companion
// does); what Valet's rules refuse stays refused.
func TestCompanionMetadata(t *testing.T) {
	md, err := companionMetadata(map[string]any{"name": "café.bin", "relativePath": nil, "n": float64(3), "ok": true})
	want := map[string]string{"name": "=?UTF-8?b?Y2Fmw6kuYmlu?=", "relativepath": "null", "n": "3", "ok": "true"}
	if err != nil || len(md) != len(want) {
		t.Fatalf("metadata %v, %v; want %v", md, err, want)
	}
	for k, v := range want {
		if md[k] != v {
			t.Errorf("metadata %s = %q, want %q", k, md[k], v)
		}
	}
	if _, err := companionMetadata(map[string]any{"x": map[string]any{}}); err == nil {
		t.Error("an object value was taken")
	}
	if _, err := companionMetadata(map[string]any{"a b": "x"}); err == nil {
		t.Error("a name with a space was taken")
	}
	if md, err := queryMetadata(url.Values{"metadata[Type]": {"text/plain"}, "filename": {"a"}}); err != nil || len(md) != 1 || md["type"] != "text/plain" {
		t.Errorf("query metadata %v, %v", md, err)
	}
}

// An upload id from the Companion routes declares no size, so Valet's own
// routes, which plan and verify sizes, refuse it rather than sign unbounded
// parts or judge the object against a size of -1.
func TestCompanionUploadIDsStayOnCompanionRoutes(t *testing.T) {
	h := companionHarness(t, companionConfig)
	tok := h.token("alice", nil)
	r := h.companion(companionCall{method: "POST", path: "/multipart", cookie: tok, body: map[string]any{"filename": "big.bin", "type": "application/octet-stream"}})
	var up struct{ UploadID, Key string }
	if r.status != 200 || json.Unmarshal(r.body, &up) != nil {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	base := "/v1/stores/media/uploads/" + url.PathEscape(up.UploadID)
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"POST", base + "/parts", map[string]any{"part_numbers": []int{1}}},
		{"GET", base + "/parts", nil},
		{"POST", base + "/complete", map[string]any{}},
	} {
		res := h.do(c.method, c.path, tok, c.body)
		var p struct{ Code string }
		if json.Unmarshal(res.body, &p); res.status != http.StatusConflict || p.Code != "companion_upload" {
			t.Errorf("%s %s: %d %s, want 409 companion_upload", c.method, c.path, res.status, res.body)
		}
	}
	// The Companion routes still carry it to the end.
	key := url.Values{"key": {up.Key}}.Encode()
	if r := h.companion(companionCall{method: "DELETE", path: "/multipart/" + url.PathEscape(up.UploadID) + "?" + key, cookie: tok}); r.status != 200 {
		t.Fatalf("abort on the Companion route: %d %s", r.status, r.body)
	}
}

// companionCreate starts an unsized multipart upload as the caller with
// this cookie and returns its escaped id and key query.
func (h *harness) companionCreate(t *testing.T, cookie, filename string) (id, keyQuery, key string) {
	t.Helper()
	r := h.companion(companionCall{method: "POST", path: "/multipart", cookie: cookie, body: map[string]any{"filename": filename, "type": "text/plain"}})
	var up struct{ UploadID, Key string }
	if r.status != 200 || json.Unmarshal(r.body, &up) != nil {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	return url.PathEscape(up.UploadID), url.Values{"key": {up.Key}}.Encode(), up.Key
}

// companionSend signs and uploads the parts of a Companion upload and
// completes it.
func (h *harness) companionSend(t *testing.T, cookie, id, keyQuery string, parts ...[]byte) resp {
	t.Helper()
	var done []map[string]any
	for i, p := range parts {
		r := h.companion(companionCall{method: "GET", path: "/multipart/" + id + "/" + strconv.Itoa(i+1) + "?" + keyQuery, cookie: cookie})
		var signed struct{ URL string }
		if r.status != 200 || json.Unmarshal(r.body, &signed) != nil {
			t.Fatalf("sign part %d: %d %s", i+1, r.status, r.body)
		}
		done = append(done, map[string]any{"PartNumber": i + 1, "ETag": companionPut(t, signed.URL, p)})
	}
	return h.companion(companionCall{method: "POST", path: "/multipart/" + id + "/complete?" + keyQuery, cookie: cookie, body: map[string]any{"parts": done}})
}

// A key template without {uuid} lets every caller's upload name one key.
// Mallory, whom the hook refuses and who may not delete, starts an upload
// of the shared key and aborts it; Alice then stores her object there;
// Mallory completes her aborted upload with any ETag. The provider no
// longer knows the upload, and the object under the key is not Mallory's:
// the complete is upload_missing, the hook hears nothing from Mallory, and
// Alice's object stays. Mallory's own assembled object is still deleted
// when the hook refuses it.
func TestCompanionCompleteNeverDeletesAnothersObject(t *testing.T) {
	rc := newRefusingReceiver(t, "mallory")
	cfg := strings.NewReplacer(
		`"users/{subject}/{uuid}/{filename}"`, `"shared/{filename}"`,
		`upload: 'subject != "mallory"'`, `upload: "true"`,
		`read:   'key.startsWith(key_prefix)'`, `read: "true"`+"\n      delete: 'false'\n    hooks: { url: \""+rc.URL+"\", secret: \""+hookSecret+"\", timeout: 3s }",
	).Replace(companionConfig)
	h := companionHarness(t, cfg)
	alice, mallory := h.token("alice", nil), h.token("mallory", nil)

	trap, trapKey, key := h.companionCreate(t, mallory, "report.txt")
	if key != "shared/report.txt" {
		t.Fatalf("key %q, want the shared key", key)
	}
	if r := h.companion(companionCall{method: "DELETE", path: "/multipart/" + trap + "?" + trapKey, cookie: mallory}); r.status != 200 {
		t.Fatalf("abort: %d %s", r.status, r.body)
	}
	id, keyQuery, _ := h.companionCreate(t, alice, "report.txt")
	if r := h.companionSend(t, alice, id, keyQuery, []byte("alice's report")); r.status != 200 {
		t.Fatalf("alice's complete: %d %s", r.status, r.body)
	}
	r := h.companion(companionCall{method: "POST", path: "/multipart/" + trap + "/complete?" + trapKey, cookie: mallory,
		body: map[string]any{"parts": []any{map[string]any{"PartNumber": 1, "ETag": "anything"}}}})
	wantMessage(t, "mallory completes her aborted upload", r, http.StatusConflict, "upload_missing")
	if o, err := h.fake.Head(t.Context(), providers.HeadRequest{Key: key}); err != nil || o.Size != int64(len("alice's report")) {
		t.Fatalf("alice's object was deleted or changed: %+v, %v", o, err)
	}
	for _, c := range rc.of("upload.complete") {
		if c.event.Data["subject"] == "mallory" {
			t.Fatalf("the hook was told of alice's object as mallory's: %s", c.body)
		}
	}

	// What Mallory's own complete assembled is hers: the refusal deletes it.
	id, keyQuery, _ = h.companionCreate(t, mallory, "own.txt")
	r = h.companionSend(t, mallory, id, keyQuery, []byte("mallory's"))
	wantMessage(t, "mallory's own upload", r, http.StatusUnprocessableEntity, "hook_rejected")
	if _, err := h.fake.Head(t.Context(), providers.HeadRequest{Key: "shared/own.txt"}); providers.CodeOf(err) != providers.NotFound {
		t.Fatalf("the refused object mallory's complete assembled stays: %v", err)
	}
}

// An unsized multipart upload gets no more parts than max_size needs at
// the provider's minimum part size, plus the last: a 4 MiB store on a
// provider with 1 MiB parts signs part 5 and refuses part 6, however
// large the provider's own part limit.
func TestCompanionPartCountIsBounded(t *testing.T) {
	h := companionHarness(t, strings.Replace(companionConfig, "max_size: 3MiB", "max_size: 4MiB", 1))
	tok := h.token("alice", nil)
	id, keyQuery, _ := h.companionCreate(t, tok, "big.txt")
	if r := h.companion(companionCall{method: "GET", path: "/multipart/" + id + "/5?" + keyQuery, cookie: tok}); r.status != 200 {
		t.Fatalf("sign part 5: %d %s", r.status, r.body)
	}
	for _, n := range []string{"6", "1000"} {
		r := h.companion(companionCall{method: "GET", path: "/multipart/" + id + "/" + n + "?" + keyQuery, cookie: tok})
		wantMessage(t, "sign part "+n, r, http.StatusBadRequest, "invalid_parts")
	}
}

// Where the caller may not read the object, location is its API path
// below public_url, each key segment escaped: a key with "?" or "#" still
// names the object.
func TestCompanionLocationEscapesTheKey(t *testing.T) {
	h := companionHarness(t, strings.Replace(companionConfig, `read:   'key.startsWith(key_prefix)'`, `read: "false"`, 1))
	tok := h.token("alice", nil)
	id, keyQuery, key := h.companionCreate(t, tok, "notes #1?.txt")
	r := h.companionSend(t, tok, id, keyQuery, []byte("notes"))
	var fin struct{ Location, Key string }
	if r.status != 200 || json.Unmarshal(r.body, &fin) != nil || fin.Key != key {
		t.Fatalf("complete: %d %s", r.status, r.body)
	}
	u, err := url.Parse(fin.Location)
	if err != nil || u.Scheme+"://"+u.Host != "http://valet.test" || u.Path != "/v1/stores/media/objects/"+key || u.RawQuery != "" || u.Fragment != "" {
		t.Fatalf("location %q (key %q), want the object's API path below public_url", fin.Location, key)
	}
}
