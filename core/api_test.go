package core

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/valetgw/valet/config"
	"github.com/valetgw/valet/core/auth"
	"github.com/valetgw/valet/internal/testenv"
	"github.com/valetgw/valet/providers"
)

func TestSingleUploadFlow(t *testing.T) {
	h := newHarness(t, "")
	alice := h.token("alice", nil)
	data := []byte("hello, valet")
	sum := sha256.Sum256(data)
	r := h.do("POST", "/v1/stores/media/uploads", alice, map[string]any{
		"filename": "../Grüße.txt", "content_type": "text/plain", "size": len(data), "checksum_sha256": base64.StdEncoding.EncodeToString(sum[:]),
	})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	up := r.json(t)
	key := up["key"].(string)
	if !strings.HasPrefix(key, "users/alice/") || !strings.HasSuffix(key, "/Grüße.txt") {
		t.Fatalf("key %q", key)
	}
	if res := put(t, up["method"].(string), up["url"].(string), up["headers"].(map[string]any), data); res.StatusCode != 200 {
		t.Fatalf("PUT to storage: %d", res.StatusCode)
	}
	r = h.do("POST", "/v1/stores/media/uploads/"+up["upload_id"].(string)+"/complete", alice, nil)
	if r.status != 200 {
		t.Fatalf("complete: %d %s", r.status, r.body)
	}
	if obj := r.json(t); obj["size"].(float64) != float64(len(data)) || obj["content_type"] != "text/plain" {
		t.Fatalf("object %v", obj)
	}

	path := "/v1/stores/media/objects/" + escapeKey(key)
	before := time.Now()
	r = h.do("GET", path+"?disposition=attachment&filename="+url.QueryEscape("Grüße.txt")+"&ttl=60", alice, nil)
	after := time.Now()
	if r.status != 200 {
		t.Fatalf("get: %d %s", r.status, r.body)
	}
	media := r.json(t)
	if st, body := get(t, media["url"].(string)); st != 200 || !bytes.Equal(body, data) {
		t.Fatalf("signed GET: %d %q", st, body)
	}
	// Measured from the request, not from now: the signed GET above may
	// take long on a loaded machine. (The fake truncates to the second.)
	exp, _ := time.Parse(time.RFC3339, media["expires_at"].(string))
	if exp.Before(before.Add(59*time.Second)) || exp.After(after.Add(61*time.Second)) {
		t.Errorf("ttl=60 gave expiry %s for a request between %s and %s", exp.Format(time.RFC3339Nano), before.Format(time.RFC3339Nano), after.Format(time.RFC3339Nano))
	}

	// A number of seconds too large for a duration is clamped to the
	// store's max_ttl like any other, not wrapped into a URL that has
	// already expired (or into the default).
	for _, ttl := range []string{"18446744074", "9223372037", "604801"} {
		before := time.Now()
		r := h.do("GET", path+"?ttl="+ttl, alice, nil)
		exp, _ := time.Parse(time.RFC3339, r.json(t)["expires_at"].(string))
		if r.status != 200 || exp.Before(before.Add(h.cfg.Stores["media"].Limits.MaxTTL-time.Second)) {
			t.Errorf("ttl=%s: %d, expires at %s, want max_ttl from %s", ttl, r.status, exp, before)
		}
	}
	if r := h.do("GET", path+"?ttl=0", alice, nil); r.status != 400 || r.code() != "invalid_ttl" {
		t.Errorf("ttl=0: %d %s, want 400 invalid_ttl", r.status, r.body)
	}

	// The JWT in the query is refused unless auth.query_access_token is
	// on (TestQueryAccessToken); playback links serve <video src> instead.
	if r = h.do("GET", path+"?redirect=true&access_token="+alice, "", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("redirect with access_token in the query: %d %s, want 401", r.status, r.body)
	}
	r = h.do("GET", path+"?redirect=true", alice, nil)
	if r.status != http.StatusFound {
		t.Fatalf("redirect: %d %s", r.status, r.body)
	}
	if st, body := get(t, r.header.Get("Location")); st != 200 || !bytes.Equal(body, data) {
		t.Fatalf("redirected GET: %d", st)
	}

	r = h.do("GET", "/v1/stores/media/objects?prefix="+url.QueryEscape("users/alice/"), alice, nil)
	if r.status != 200 || !strings.Contains(string(r.body), key) {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	if r = h.do("GET", "/v1/stores/media/objects?prefix=users/bob/", alice, nil); r.status != 403 || r.code() != "policy_denied" {
		t.Fatalf("list other prefix: %d %s", r.status, r.body)
	}
	if r = h.do("GET", path, h.token("bob", nil), nil); r.status != 403 {
		t.Fatalf("bob reads alice's file: %d", r.status)
	}
	if r = h.do("GET", path, apiKey, nil); r.status != 200 {
		t.Fatalf("admin API key read: %d %s", r.status, r.body)
	}
	if r = h.do("DELETE", path, alice, nil); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r = h.do("GET", path, alice, nil); r.status != 404 || r.code() != "object_not_found" {
		t.Fatalf("get deleted: %d %s", r.status, r.body)
	}
}

func escapeKey(k string) string {
	parts := strings.Split(k, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

func TestAuthAndLimits(t *testing.T) {
	h := newHarness(t, "")
	alice := h.token("alice", nil)
	body := map[string]any{"filename": "a.mp4", "content_type": "video/mp4", "size": 10}
	tests := []struct {
		name   string
		token  string
		body   map[string]any
		status int
		code   string
	}{
		{"no token", "", body, 401, "unauthenticated"},
		{"garbage token", "a.b.c", body, 401, "invalid_token"},
		{"wrong key", "vk_nope", body, 401, "invalid_token"},
		{"policy", h.token("mallory", nil), body, 403, "policy_denied"},
		{"too large", alice, map[string]any{"filename": "a.mp4", "content_type": "video/mp4", "size": 200 << 20}, 413, "too_large"},
		{"rule size", alice, map[string]any{"filename": "a.mp4", "content_type": "video/mp4", "size": 60 << 20}, 403, "policy_denied"},
		{"type", alice, map[string]any{"filename": "a.exe", "content_type": "application/x-msdownload", "size": 10}, 415, "content_type_not_allowed"},
		{"bad type", alice, map[string]any{"content_type": "nonsense", "size": 10}, 400, "invalid_content_type"},
		{"no size", alice, map[string]any{"filename": "a"}, 400, "invalid_size"},
		{"client key", alice, map[string]any{"filename": "a", "size": 1, "key": "users/alice/x"}, 403, "client_keys_not_allowed"},
		{"bad checksum", alice, map[string]any{"size": 1, "checksum_sha256": "abc"}, 400, "invalid_checksum"},
		{"unknown field", alice, map[string]any{"size": 1, "bogus": 1}, 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do("POST", "/v1/stores/media/uploads", tt.token, tt.body)
			if r.status != tt.status || r.code() != tt.code {
				t.Fatalf("got %d %s, want %d %s", r.status, r.body, tt.status, tt.code)
			}
			if r.status == 401 && r.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("content type %q", ct)
			}
		})
	}
	if r := h.do("POST", "/v1/stores/nope/uploads", alice, body); r.status != 404 || r.code() != "store_not_found" {
		t.Errorf("unknown store: %d %s", r.status, r.body)
	}
	// Oversized body.
	req, _ := http.NewRequest("POST", h.http.URL+"/v1/stores/media/uploads", strings.NewReader(`{"filename":"`+strings.Repeat("a", 70<<10)+`","size":1}`))
	req.Header.Set("Authorization", "Bearer "+alice)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 413 {
		t.Errorf("big body: %d", res.StatusCode)
	}
}

func TestClientKeys(t *testing.T) {
	h := newHarness(t, "    allow_client_keys: true\n")
	alice := h.token("alice", nil)
	for _, tt := range []struct {
		key    string
		status int
	}{{"users/alice/chosen.txt", 201}, {"users/alice/../bob/x", 400}, {"/abs", 400}, {"a//b", 400}, {strings.Repeat("k", 1025), 400}} {
		r := h.do("POST", "/v1/stores/media/uploads", alice, map[string]any{"size": 1, "content_type": "text/plain", "key": tt.key})
		if r.status != tt.status {
			t.Errorf("key %.30q: %d %s", tt.key, r.status, r.body)
		}
	}
}

func TestCompleteMismatchAndIDs(t *testing.T) {
	h := newHarness(t, "")
	alice := h.token("alice", nil)
	create := func() map[string]any {
		r := h.do("POST", "/v1/stores/media/uploads", alice, map[string]any{"filename": "a.txt", "content_type": "text/plain", "size": 5})
		if r.status != 201 {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		return r.json(t)
	}
	// Nothing uploaded.
	up := create()
	id := up["upload_id"].(string)
	if r := h.do("POST", "/v1/stores/media/uploads/"+id+"/complete", alice, nil); r.status != 409 || r.code() != "object_missing" {
		t.Fatalf("missing: %d %s", r.status, r.body)
	}
	// Wrong size: the fake binds nothing, so the object is deleted.
	put(t, "PUT", up["url"].(string), up["headers"].(map[string]any), []byte("too many bytes"))
	if r := h.do("POST", "/v1/stores/media/uploads/"+id+"/complete", alice, map[string]any{}); r.status != 409 || r.code() != "size_mismatch" {
		t.Fatalf("size mismatch: %d %s", r.status, r.body)
	}
	if _, err := h.fake.Head(t.Context(), providers.HeadRequest{Key: up["key"].(string)}); providers.CodeOf(err) != providers.NotFound {
		t.Fatalf("mismatched object not deleted: %v", err)
	}
	// Wrong type.
	up = create()
	put(t, "PUT", up["url"].(string), map[string]any{"Content-Type": "image/png"}, []byte("12345"))
	if r := h.do("POST", "/v1/stores/media/uploads/"+up["upload_id"].(string)+"/complete", alice, nil); r.status != 409 || r.code() != "content_type_mismatch" {
		t.Fatalf("type mismatch: %d %s", r.status, r.body)
	}

	// Tampered, foreign, expired ids.
	up = create()
	id = up["upload_id"].(string)
	tampered := id[:len(id)-3] + "AAA"
	if tampered == id {
		tampered = id[:len(id)-3] + "BBB"
	}
	if r := h.do("POST", "/v1/stores/media/uploads/"+tampered+"/complete", alice, nil); r.status != 404 || r.code() != "upload_not_found" {
		t.Errorf("tampered: %d %s", r.status, r.body)
	}
	if r := h.do("POST", "/v1/stores/media/uploads/"+id+"/complete", h.token("bob", nil), nil); r.status != 403 || r.code() != "upload_forbidden" {
		t.Errorf("foreign: %d %s", r.status, r.body)
	}
	h.skew.Store(int64(25 * time.Hour))
	later, err := auth.MintHS256([]byte(hsSecret), "alice", nil, time.Hour, "valet-test", "valet", time.Now().Add(25*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if r := h.do("POST", "/v1/stores/media/uploads/"+id+"/complete", later, nil); r.status != 410 || r.code() != "upload_expired" {
		t.Errorf("expired: %d %s", r.status, r.body)
	}
}

// Two gateways that share the token secret accept each other's upload ids.
func TestTwoServersShareIDs(t *testing.T) {
	a := newHarness(t, "")
	b := &harness{t: t, fake: a.fake, cfg: testConfig(t, ""), logs: &testenv.Buffer{}}
	b.start(a.fake)
	alice := a.token("alice", nil)
	r := a.do("POST", "/v1/stores/media/uploads", alice, map[string]any{"filename": "x.txt", "content_type": "text/plain", "size": 3})
	up := r.json(t)
	put(t, "PUT", up["url"].(string), up["headers"].(map[string]any), []byte("abc"))
	if r := b.do("POST", "/v1/stores/media/uploads/"+up["upload_id"].(string)+"/complete", alice, nil); r.status != 200 {
		t.Fatalf("complete on the other server: %d %s", r.status, r.body)
	}
	// A gateway with another secret does not.
	c := &harness{t: t, fake: a.fake, cfg: testConfig(t, ""), logs: &testenv.Buffer{}}
	c.cfg.Tokens.Secret = "a-completely-different-secret-0123456789"
	c.start(a.fake)
	if r := c.do("POST", "/v1/stores/media/uploads/"+up["upload_id"].(string)+"/complete", alice, nil); r.status != 404 {
		t.Fatalf("foreign secret: %d", r.status)
	}
}

func TestMultipartFlow(t *testing.T) {
	h := newHarness(t, "")
	alice := h.token("alice", nil)
	size := 5<<20 + 123 // above the 4MiB threshold, 1MiB parts
	data := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
	r := h.do("POST", "/v1/stores/media/uploads", alice, map[string]any{"filename": "big.mp4", "content_type": "video/mp4", "size": size})
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	up := r.json(t)
	mp := up["multipart"].(map[string]any)
	if mp["part_size"].(float64) != 1<<20 || mp["part_count"].(float64) != 6 {
		t.Fatalf("plan %v", mp)
	}
	if _, has := up["url"]; has {
		t.Fatal("multipart plan carries a single PUT url")
	}
	first := up["parts"].([]any)
	if len(first) != 6 {
		t.Fatalf("first batch has %d parts", len(first))
	}
	id := up["upload_id"].(string)
	base := "/v1/stores/media/uploads/" + id
	// Upload parts 1-3 from the first batch, then re-sign 4-6 (as a resumed client would).
	for _, p := range first[:3] {
		pr := p.(map[string]any)
		n := int(pr["part_number"].(float64))
		if res := put(t, "PUT", pr["url"].(string), pr["headers"].(map[string]any), data[(n-1)<<20:min(n<<20, size)]); res.StatusCode != 200 {
			t.Fatalf("part %d: %d", n, res.StatusCode)
		}
	}
	r = h.do("GET", base+"/parts", alice, nil)
	if r.status != 200 || len(r.json(t)["parts"].([]any)) != 3 {
		t.Fatalf("list parts: %d %s", r.status, r.body)
	}
	r = h.do("POST", base+"/parts", alice, map[string]any{"part_numbers": []int{4, 5, 6}})
	if r.status != 200 {
		t.Fatalf("sign parts: %d %s", r.status, r.body)
	}
	for _, p := range r.json(t)["parts"].([]any) {
		pr := p.(map[string]any)
		n := int(pr["part_number"].(float64))
		put(t, "PUT", pr["url"].(string), pr["headers"].(map[string]any), data[(n-1)<<20:min(n<<20, size)])
	}
	for _, bad := range [][]int{{0}, {7}, {1, 1}, {}} {
		if r := h.do("POST", base+"/parts", alice, map[string]any{"part_numbers": bad}); r.status != 400 || r.code() != "invalid_parts" {
			t.Errorf("part numbers %v: %d %s", bad, r.status, r.body)
		}
	}
	if r := h.do("POST", base+"/parts", h.token("bob", nil), map[string]any{"part_numbers": []int{1}}); r.status != 403 {
		t.Errorf("bob signs alice's parts: %d", r.status)
	}
	parts := []map[string]any{}
	for n := 1; n <= 6; n++ {
		parts = append(parts, map[string]any{"part_number": n}) // no etags: the gateway fills them
	}
	r = h.do("POST", base+"/complete", alice, map[string]any{"parts": parts})
	if r.status != 200 {
		t.Fatalf("complete: %d %s", r.status, r.body)
	}
	obj := r.json(t)
	// A client whose answer was lost completes again: the provider no
	// longer knows the upload, and the gateway answers with the object.
	if again := h.do("POST", base+"/complete", alice, map[string]any{"parts": parts}); again.status != 200 || again.json(t)["etag"] != obj["etag"] {
		t.Fatalf("complete retried: %d %s", again.status, again.body)
	}
	withETags := []map[string]any{}
	for n := 1; n <= 6; n++ {
		withETags = append(withETags, map[string]any{"part_number": n, "etag": fmt.Sprintf(`"e%d"`, n)})
	}
	if again := h.do("POST", base+"/complete", alice, map[string]any{"parts": withETags}); again.status != 200 || again.json(t)["etag"] != obj["etag"] {
		t.Fatalf("complete retried with etags: %d %s", again.status, again.body)
	}
	if obj["size"].(float64) != float64(size) {
		t.Fatalf("object %v", obj)
	}
	r = h.do("GET", "/v1/stores/media/objects/"+escapeKey(obj["key"].(string)), alice, nil)
	if st, body := get(t, r.json(t)["url"].(string)); st != 200 || !bytes.Equal(body, data) {
		t.Fatalf("download: %d, %d bytes", st, len(body))
	}

	// Explicit multipart for a small file, then abort.
	r = h.do("POST", "/v1/stores/media/uploads", alice, map[string]any{"filename": "s.mp4", "content_type": "video/mp4", "size": 10, "multipart": true})
	if r.status != 201 {
		t.Fatalf("explicit multipart: %d %s", r.status, r.body)
	}
	id = r.json(t)["upload_id"].(string)
	if r := h.do("DELETE", "/v1/stores/media/uploads/"+id, alice, nil); r.status != 204 {
		t.Fatalf("abort: %d %s", r.status, r.body)
	}
	if r := h.do("GET", "/v1/stores/media/uploads/"+id+"/parts", alice, nil); r.status != 404 {
		t.Fatalf("parts after abort: %d %s", r.status, r.body)
	}
	// An aborted upload left no object: completing it is a conflict.
	if r := h.do("POST", "/v1/stores/media/uploads/"+id+"/complete", alice, map[string]any{}); r.status != 409 || r.code() != "upload_missing" {
		t.Fatalf("complete after abort: %d %s", r.status, r.body)
	}
}

// A part that lands after the abort brings the upload back on some servers;
// the gateway aborts again until it stays gone.
func TestAbortCatchesLateParts(t *testing.T) {
	h := newHarness(t, "")
	h.srv.abortChecks = []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond}
	alice := h.token("alice", nil)
	for _, late := range []int32{0, 1, 2} {
		r := h.do("POST", "/v1/stores/media/uploads", alice, map[string]any{"filename": "s.mp4", "content_type": "video/mp4", "size": 10, "multipart": true})
		if r.status != 201 {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		id := r.json(t)["upload_id"].(string)
		h.fake.ResetAborts()
		h.fake.SetLateParts(int(late))
		if r := h.do("DELETE", "/v1/stores/media/uploads/"+id, alice, nil); r.status != 204 {
			t.Fatalf("abort: %d %s", r.status, r.body)
		}
		if r := h.do("GET", "/v1/stores/media/uploads/"+id+"/parts", alice, nil); r.status != 404 {
			t.Fatalf("%d late parts: parts after abort: %d %s", late, r.status, r.body)
		}
		if got := int32(h.fake.Aborts()); got != late+1 {
			t.Errorf("%d late parts: %d aborts, want %d", late, got, late+1)
		}
	}
}

// A provider that never answers holds no request past
// server.provider_timeout: the caller gets 504 provider_timeout.
func TestProviderTimeout(t *testing.T) {
	h := &harness{t: t, fake: newFake(t), cfg: testConfig(t, ""), logs: &testenv.Buffer{}}
	// Not shorter: the same timeout bounds the healthy call below, which a
	// loaded machine may take a while to answer.
	h.cfg.Server.ProviderTimeout = config.Duration(2 * time.Second)
	h.start(h.fake)
	h.fake.SetHang("SignPut", true)
	r := h.do("POST", "/v1/stores/media/uploads", h.token("alice", nil), map[string]any{"size": 1, "content_type": "text/plain"})
	if r.status != 504 || r.code() != "provider_timeout" {
		t.Fatalf("hung provider: %d %s", r.status, r.body)
	}
	h.fake.SetHang("SignPut", false)
	if r := h.do("POST", "/v1/stores/media/uploads", h.token("alice", nil), map[string]any{"size": 1, "content_type": "text/plain"}); r.status != 201 {
		t.Fatalf("after: %d %s", r.status, r.body)
	}
}

func TestProviderUnavailableAndReadiness(t *testing.T) {
	h := newHarness(t, "")
	h.fake.SetDown(true)
	r := h.do("POST", "/v1/stores/media/uploads", h.token("alice", nil), map[string]any{"size": 1, "content_type": "text/plain"})
	if r.status != 503 || r.header.Get("Retry-After") == "" || r.code() != "provider_unavailable" {
		t.Fatalf("unavailable: %d %v %s", r.status, r.header, r.body)
	}
	if r := h.do("GET", "/readyz", "", nil); r.status != 200 {
		t.Fatalf("readyz: %d", r.status)
	}
	h.fake.SetUnhealthy(true)
	if r := h.do("GET", "/readyz", "", nil); r.status != 503 || !strings.Contains(string(r.body), "media") {
		t.Fatalf("readyz unhealthy: %d %s", r.status, r.body)
	}
	if r := h.do("GET", "/healthz", "", nil); r.status != 200 {
		t.Fatalf("healthz: %d", r.status)
	}
	r = h.do("GET", "/metrics", "", nil)
	for _, want := range []string{`valet_http_requests_total{method="POST",route="POST /v1/stores/{store}/uploads",status="503"} 1`, `valet_provider_calls_total{code="Unavailable",op="sign_put",provider="fake",store="media"} 1`, "valet_http_request_duration_seconds_bucket"} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestStoresAndCORS(t *testing.T) {
	h := newHarness(t, "")
	r := h.do("GET", "/v1/stores", h.token("alice", nil), nil)
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	var got struct {
		Stores []storeJSON `json:"stores"`
	}
	if err := jsonUnmarshal(r.body, &got); err != nil || len(got.Stores) != 1 {
		t.Fatalf("%s %v", r.body, err)
	}
	s := got.Stores[0]
	if s.KeyPrefix != "users/alice/" || !s.Permissions["upload"] || !s.Permissions["list"] || s.Limits.MaxSize != 100<<20 || s.Limits.MaxBatch != 100 /* the default limits.max_batch */ || !s.Capabilities.Multipart {
		t.Fatalf("store %+v", s)
	}
	req, _ := http.NewRequest("OPTIONS", h.http.URL+"/v1/stores/media/uploads", nil)
	req.Header.Set("Origin", "http://app.test")
	req.Header.Set("Access-Control-Request-Method", "POST")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 204 || res.Header.Get("Access-Control-Allow-Origin") != "http://app.test" || !strings.Contains(res.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("preflight: %d %v", res.StatusCode, res.Header)
	}
	req.Header.Set("Origin", "http://evil.test")
	res, _ = http.DefaultClient.Do(req)
	res.Body.Close()
	if res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("foreign origin allowed")
	}
}

func TestReloadKeepsOldOnFailure(t *testing.T) {
	h := newHarness(t, "")
	bad := testConfig(t, "")
	bad.Stores["media"] = func(s storeCfg) storeCfg { s.Rules.Upload = "nope("; return s }(bad.Stores["media"])
	if err := h.srv.Reload(bad, map[string]providers.Provider{"media": h.fake}); err == nil || !strings.Contains(err.Error(), "stores.media.rules.upload") {
		t.Fatalf("bad reload: %v", err)
	}
	alice := h.token("alice", nil)
	if r := h.do("POST", "/v1/stores/media/uploads", alice, map[string]any{"size": 1, "content_type": "text/plain"}); r.status != 201 {
		t.Fatalf("old config not serving: %d", r.status)
	}
	good := testConfig(t, "")
	good.Stores["media"] = func(s storeCfg) storeCfg { s.Rules.Upload = "false"; return s }(good.Stores["media"])
	if err := h.srv.Reload(good, map[string]providers.Provider{"media": h.fake}); err != nil {
		t.Fatal(err)
	}
	if r := h.do("POST", "/v1/stores/media/uploads", alice, map[string]any{"size": 1, "content_type": "text/plain"}); r.status != 403 {
		t.Fatalf("new config not serving: %d", r.status)
	}
}

// No secret, signature or token may reach a log line or an error body.
func TestNoSecretsInLogsOrErrors(t *testing.T) {
	h := newHarness(t, "")
	alice := h.token("alice", nil)
	r := h.do("POST", "/v1/stores/media/uploads", alice, map[string]any{"filename": "a.txt", "content_type": "text/plain", "size": 2})
	up := r.json(t)
	u, _ := url.Parse(up["url"].(string))
	sig := u.Query().Get("sig")
	put(t, "PUT", up["url"].(string), up["headers"].(map[string]any), []byte("hi"))
	h.do("POST", "/v1/stores/media/uploads/"+up["upload_id"].(string)+"/complete", alice, nil)
	path := "/v1/stores/media/objects/" + escapeKey(up["key"].(string))
	r = h.do("GET", path+"?redirect=true", alice, nil)
	loc, _ := url.Parse(r.header.Get("Location"))
	getSig := loc.Query().Get("sig")
	r = h.do("GET", path, alice, nil)
	// Error paths.
	h.bodies.Reset()
	h.do("GET", path, alice+"x", nil)
	h.do("GET", path+"?access_token="+alice+"x", "", nil)
	h.do("POST", "/v1/stores/media/uploads", apiKey+"x", map[string]any{"size": 1})
	h.do("POST", "/v1/stores/media/uploads/"+up["upload_id"].(string)+"x/complete", alice, nil)
	h.do("POST", "/v1/stores/media/uploads", alice, map[string]any{"size": "x"})
	h.fake.SetDown(true)
	h.do("GET", path, alice, nil)

	logs := h.logs.String()
	if !strings.Contains(logs, `"subject":"alice"`) || !strings.Contains(logs, `"store":"media"`) || !strings.Contains(logs, `"latency_ms"`) || !strings.Contains(logs, `"op":"upload.complete"`) {
		t.Fatalf("log lines lack fields:\n%s", logs)
	}
	errBodies := h.bodies.String()
	for name, secret := range map[string]string{"jwt": alice, "jwt signature": alice[strings.LastIndex(alice, ".")+1:], "hs256 secret": hsSecret, "token secret": tokSecret, "api key": apiKey, "put signature": sig, "get signature": getSig} {
		if secret == "" {
			t.Fatalf("%s: empty probe", name)
		}
		if strings.Contains(logs, secret) {
			t.Errorf("%s in logs", name)
		}
		if strings.Contains(errBodies, secret) {
			t.Errorf("%s in an error body", name)
		}
	}
	if n := strings.Count(logs, "\n"); n < 10 {
		t.Errorf("%d log lines", n)
	}
}

func TestContentDisposition(t *testing.T) {
	for in, want := range map[[2]string]string{
		{"attachment", "a.mp4"}:     `attachment; filename="a.mp4"`,
		{"inline", "Grüße.txt"}:     `inline; filename="Gr__e.txt"; filename*=UTF-8''Gr%C3%BC%C3%9Fe.txt`,
		{"attachment", `a"b\c.txt`}: `attachment; filename="c.txt"`,
		{"attachment", "x y.txt"}:   `attachment; filename="x y.txt"`,
		{"inline", ""}:              `inline`,
	} {
		if got := ContentDisposition(in[0], in[1]); got != want {
			t.Errorf("ContentDisposition(%q) = %s, want %s", in, got, want)
		}
	}
	_ = fmt.Sprint
}

// A checksum in a lax base64 spelling (other bits in the last character)
// is the same digest: the upload is signed and completed with the
// canonical one. Before, the local store refused the PUT and the fake
// store's complete found a checksum_mismatch and deleted the object.
func TestLaxChecksumSpelling(t *testing.T) {
	data := []byte("hello checksum")
	sum := sha256.Sum256(data)
	canon := base64.StdEncoding.EncodeToString(sum[:])
	lax := canon[:len(canon)-2] + string(canon[len(canon)-2]+1) + "="
	if b, err := base64.StdEncoding.DecodeString(lax); err != nil || !bytes.Equal(b, sum[:]) || lax == canon {
		t.Fatalf("%q is not a lax spelling of %q: %v", lax, canon, err)
	}
	for name, p := range map[string]providers.Provider{"fake": newFake(t), "local": localProvider(t)} {
		h := &harness{t: t, cfg: testConfig(t, ""), logs: &testenv.Buffer{}}
		h.start(p)
		alice := h.token("alice", nil)
		r := h.do("POST", "/v1/stores/media/uploads", alice, map[string]any{"filename": "a.txt", "content_type": "text/plain", "size": len(data), "checksum_sha256": lax})
		if r.status != 201 {
			t.Fatalf("%s: create: %d %s", name, r.status, r.body)
		}
		up := r.json(t)
		if res := put(t, up["method"].(string), up["url"].(string), up["headers"].(map[string]any), data); res.StatusCode != 200 {
			t.Errorf("%s: PUT %d", name, res.StatusCode)
		}
		if r := h.do("POST", "/v1/stores/media/uploads/"+up["upload_id"].(string)+"/complete", alice, nil); r.status != 200 {
			t.Errorf("%s: complete %d %s", name, r.status, r.body)
		}
	}
}
