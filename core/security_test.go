package core

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/valetgw/valet/config"
	"github.com/valetgw/valet/internal/testenv"
	"github.com/valetgw/valet/providers"
	"github.com/valetgw/valet/providers/local"
	"github.com/valetgw/valet/providers/memprovider"
)

// storeConfig is testConfig with the "media" store written out by the test.
func storeConfig(t testing.TB, store string) *config.Config {
	t.Helper()
	body := `
auth:
  jwt: { hs256_secret: "` + hsSecret + `", issuer: valet-test, audience: valet }
tokens: { secret: "` + tokSecret + `" }
stores:
  media:
` + store
	return loadBody(t, body)
}

func storeHarness(t *testing.T, store string, p providers.Provider) *harness {
	t.Helper()
	h := &harness{t: t, cfg: storeConfig(t, store), logs: &testenv.Buffer{}}
	if f, ok := p.(*fakeProvider); ok {
		h.fake = f
	}
	return h.start(p)
}

func localProvider(t *testing.T) providers.Provider {
	t.Helper()
	p := local.New()
	raw, _ := json.Marshal(map[string]any{"root": t.TempDir(), "listen": "127.0.0.1:0", "secret": "local-provider-secret-0123456789"})
	if err := p.Configure(t.Context(), providers.StoreConfig{Store: "media", Config: raw}); err != nil {
		t.Fatal(err)
	}
	if c, ok := p.(interface{ Close() error }); ok {
		t.Cleanup(func() { c.Close() })
	}
	return p
}

// The rules shipped in examples/local.yaml and the README.
const ownPrefixStore = `
    provider: local
    key_template: "users/{subject}/{uuid}/{filename}"
    allow_client_keys: true
    limits: { multipart_threshold: 4MiB, part_size: 1MiB }
    rules:
      upload: 'key.startsWith(key_prefix)'
      read:   'key.startsWith(key_prefix)'
      delete: 'key.startsWith(key_prefix)'
      list:   'prefix.startsWith(key_prefix)'
`

// Subjects that the old sanitizing put under one prefix cannot read, list,
// delete or plant each other's objects, through the API and a real store.
func TestCollidingSubjectsStayApart(t *testing.T) {
	h := storeHarness(t, ownPrefixStore, localProvider(t))
	pairs := [][2]string{
		{"org/carol", "org_carol"},
		{".bob", "bob"},
		{" bob ", "bob"},
		{"bob\u200b", "bob"},
		{"bob\u00ad", "bob"},
		{"repo:org/name:ref:refs/heads/main", "repo:org_name:ref:refs_heads_main"},
		{"spiffe://example.org/ns/a", "spiffe:__example.org_ns_a"},
		{"carol@example.com", "carol_example.com"},
		{strings.Repeat("s", 300), strings.Repeat("s", 299) + "_"},
	}
	for _, p := range pairs {
		victim, attacker := h.token(p[0], nil), h.token(p[1], nil)
		data := []byte("owned by " + p[0])
		r := h.do("POST", "/v1/stores/media/uploads", victim, map[string]any{"filename": "f.txt", "content_type": "text/plain", "size": len(data)})
		if r.status != 201 {
			t.Fatalf("%q: create: %d %s", p[0], r.status, r.body)
		}
		up := r.json(t)
		key := up["key"].(string)
		if res := put(t, up["method"].(string), up["url"].(string), up["headers"].(map[string]any), data); res.StatusCode/100 != 2 {
			t.Fatalf("%q: PUT: %d", p[0], res.StatusCode)
		}
		if r := h.do("POST", "/v1/stores/media/uploads/"+up["upload_id"].(string)+"/complete", victim, nil); r.status != 200 {
			t.Fatalf("%q: complete: %d %s", p[0], r.status, r.body)
		}
		// The victim reads and lists their own files.
		if r := h.do("GET", "/v1/stores/media/objects/"+escapeKey(key), victim, nil); r.status != 200 {
			t.Errorf("%q cannot read their own %q: %d %s", p[0], key, r.status, r.body)
		}
		prefix := key[:strings.LastIndex(key[:strings.LastIndex(key, "/")], "/")+1]
		if r := h.do("GET", "/v1/stores/media/objects?prefix="+escapeKey(prefix), victim, nil); r.status != 200 {
			t.Errorf("%q cannot list their own prefix %q: %d %s", p[0], prefix, r.status, r.body)
		}
		// The other subject can do none of it.
		if r := h.do("GET", "/v1/stores/media/objects/"+escapeKey(key), attacker, nil); r.status != 403 {
			t.Errorf("%q read %q's %q: %d", p[1], p[0], key, r.status)
		}
		if r := h.do("GET", "/v1/stores/media/objects?prefix="+escapeKey(prefix), attacker, nil); r.status != 403 {
			t.Errorf("%q listed %q's prefix %q: %d", p[1], p[0], prefix, r.status)
		}
		if r := h.do("DELETE", "/v1/stores/media/objects/"+escapeKey(key), attacker, nil); r.status != 403 {
			t.Errorf("%q deleted %q's %q: %d", p[1], p[0], key, r.status)
		}
		if r := h.do("POST", "/v1/stores/media/uploads", attacker, map[string]any{"filename": "x.txt", "content_type": "text/plain", "size": 1, "key": prefix + "planted.txt"}); r.status != 403 {
			t.Errorf("%q planted a file in %q's prefix %q: %d", p[1], p[0], prefix, r.status)
		}
		// The attacker's own upload lands outside the victim's prefix, and
		// GET /v1/stores tells each their own key_prefix.
		r = h.do("POST", "/v1/stores/media/uploads", attacker, map[string]any{"filename": "f.txt", "content_type": "text/plain", "size": 1})
		if r.status != 201 || strings.HasPrefix(r.json(t)["key"].(string), prefix) {
			t.Errorf("%q's own upload: %d %s (victim prefix %q)", p[1], r.status, r.body, prefix)
		}
		var stores struct {
			Stores []struct {
				KeyPrefix string `json:"key_prefix"`
			} `json:"stores"`
		}
		r = h.do("GET", "/v1/stores", victim, nil)
		if err := json.Unmarshal(r.body, &stores); err != nil || len(stores.Stores) != 1 || stores.Stores[0].KeyPrefix != prefix {
			t.Errorf("%q: key_prefix in /v1/stores = %s, want %q", p[0], r.body, prefix)
		}
	}
}

// Sizes near MaxInt64 answer 413 or 400 before any provider call: no
// panic, and no multipart upload is left behind.
func TestHugeSizesAreRefusedBeforeTheProvider(t *testing.T) {
	f := newFake(t)
	caps := memprovider.DefaultCapabilities()
	caps.MaxPartSize = 0 // no part size limit: only the part count bounds
	f.SetCapabilities(caps)
	h := storeHarness(t, `
    provider: fake
    rules: { upload: "true" }
`, f)
	alice := h.token("alice", nil)
	for _, size := range []int64{math.MaxInt64, math.MaxInt64 - 1, math.MaxInt64 - (1 << 20), 1 << 62, MaxObjectSize + 1} {
		for _, mp := range []bool{false, true} {
			r := h.do("POST", "/v1/stores/media/uploads", alice, map[string]any{"filename": "a.bin", "size": size, "multipart": mp})
			if r.status != 413 || r.code() != "too_large" {
				t.Errorf("size %d (multipart %v): %d %s", size, mp, r.status, r.body)
			}
		}
	}
	r := h.do("POST", "/v1/stores/media/uploads", alice, map[string]any{"filename": "a.bin", "size": MaxObjectSize})
	if r.status != 201 {
		t.Errorf("size %d: %d %s", int64(MaxObjectSize), r.status, r.body)
	}
	if n := f.Created(); n != 1 {
		t.Errorf("%d provider uploads were created, want only the one for the allowed size", n)
	}
}

func TestPlanPartsNeverOverflows(t *testing.T) {
	for _, c := range []providers.Capabilities{{}, {MaxParts: 1}, {MaxParts: 10000, MaxPartSize: 5 << 30}, {MinPartSize: math.MaxInt64}} {
		for _, size := range []int64{1, math.MaxInt64, math.MaxInt64 - 1, 1 << 62} {
			ps, n, err := planParts(size, 16<<20, c)
			if err != nil {
				continue
			}
			if ps <= 0 || n < 1 || int64(n-1) > (size-1)/ps || partLen(size, ps, n, n) <= 0 || partLen(size, ps, n, n) > ps {
				t.Errorf("planParts(%d, %+v) = %d × %d", size, c, n, ps)
			}
		}
	}
}

// startMultipart creates a multipart upload of size bytes and uploads
// every part from the first batch.
func startMultipart(t *testing.T, h *harness, tok string, data []byte, body map[string]any) (id string, n int) {
	t.Helper()
	if body == nil {
		body = map[string]any{}
	}
	body["filename"], body["content_type"], body["size"] = "big.mp4", "video/mp4", len(data)
	r := h.do("POST", "/v1/stores/media/uploads", tok, body)
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	up := r.json(t)
	mp := up["multipart"].(map[string]any)
	ps, n := int(mp["part_size"].(float64)), int(mp["part_count"].(float64))
	for _, x := range up["parts"].([]any) {
		pr := x.(map[string]any)
		i := int(pr["part_number"].(float64))
		if res := put(t, pr["method"].(string), pr["url"].(string), pr["headers"].(map[string]any), data[(i-1)*ps:min(i*ps, len(data))]); res.StatusCode/100 != 2 {
			t.Fatalf("part %d: %d", i, res.StatusCode)
		}
	}
	return up["upload_id"].(string), n
}

// Completing with a subset of the planned parts is refused before the
// provider assembles anything: no truncated object, and the upload can
// still be completed in full.
func TestCompleteNeedsEveryPlannedPart(t *testing.T) {
	h := newHarness(t, "")
	alice := h.token("alice", nil)
	size := 5<<20 + 7
	data := bytes.Repeat([]byte("x"), size)
	id, n := startMultipart(t, h, alice, data, nil)
	base := "/v1/stores/media/uploads/" + id
	subsets := [][]int{{1, 2, 3}, {1, 2, 3, 4, 5}, {2, 3, 4, 5, 6}, {1, 2, 3, 4, 5, 6, 7}, {1, 1, 2, 3, 4, 5}}
	for _, s := range subsets {
		var parts []map[string]any
		for _, p := range s {
			parts = append(parts, map[string]any{"part_number": p})
		}
		if r := h.do("POST", base+"/complete", alice, map[string]any{"parts": parts}); r.status != 400 || r.code() != "invalid_parts" {
			t.Errorf("complete with parts %v of %d: %d %s", s, n, r.status, r.body)
		}
	}
	if objects := len(h.fake.Objects()); objects != 0 {
		t.Fatalf("a partial complete left %d objects", objects)
	}
	var all []map[string]any
	for p := 1; p <= n; p++ {
		all = append(all, map[string]any{"part_number": p})
	}
	if r := h.do("POST", base+"/complete", alice, map[string]any{"parts": all}); r.status != 200 {
		t.Fatalf("full complete: %d %s", r.status, r.body)
	}
}

// A complete repeated with an empty body after a first one succeeded
// answers with the object, on the real local store too.
func TestRepeatedCompleteWithEmptyBody(t *testing.T) {
	h := storeHarness(t, ownPrefixStore, localProvider(t))
	alice := h.token("alice", nil)
	data := bytes.Repeat([]byte("0123456789"), (12<<20)/10)
	for _, first := range []string{"listed", "empty"} {
		id, n := startMultipart(t, h, alice, data, nil)
		base := "/v1/stores/media/uploads/" + id
		var body any
		if first == "listed" {
			var all []map[string]any
			for p := 1; p <= n; p++ {
				all = append(all, map[string]any{"part_number": p})
			}
			body = map[string]any{"parts": all}
		}
		r := h.do("POST", base+"/complete", alice, body)
		if r.status != 200 {
			t.Fatalf("%s: first complete: %d %s", first, r.status, r.body)
		}
		want := r.json(t)
		for _, again := range []any{nil, map[string]any{}} {
			r = h.do("POST", base+"/complete", alice, again)
			if r.status != 200 || r.json(t)["key"] != want["key"] || r.json(t)["size"] != want["size"] {
				t.Errorf("%s: repeated complete (body %v): %d %s", first, again, r.status, r.body)
			}
		}
	}
}

// A caller who may upload but not delete cannot delete an existing object
// by declaring a wrong size and completing, nor learn its size; an object
// the upload itself wrote wrongly is still deleted.
func TestMismatchDeletesOnlyWhatTheUploadWrote(t *testing.T) {
	f := newFake(t)
	h := storeHarness(t, `
    provider: fake
    allow_client_keys: true
    rules: { upload: "true", read: "true", delete: "false" }
`, f)
	mallory := h.token("mallory", nil)
	f.PutObject("shared/report.txt", []byte("the real report"), "text/plain", time.Now().Add(-time.Hour))
	for _, size := range []int{1, 9999} {
		r := h.do("POST", "/v1/stores/media/uploads", mallory, map[string]any{"key": "shared/report.txt", "content_type": "text/plain", "size": size})
		if r.status != 201 {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		r = h.do("POST", "/v1/stores/media/uploads/"+r.json(t)["upload_id"].(string)+"/complete", mallory, nil)
		// Nothing was sent: the object there is still the one found at
		// creation, which is not this upload's (and whose size the
		// answer must not tell a caller who may not read it).
		if r.status != 409 || r.code() != "object_missing" || strings.Contains(r.json(t)["detail"].(string), "15") {
			t.Errorf("size %d: complete: %d %s, want 409 object_missing", size, r.status, r.body)
		}
		if o, err := f.Head(t.Context(), providers.HeadRequest{Key: "shared/report.txt"}); err != nil || o.Size != 15 {
			t.Fatalf("size %d: the existing object was deleted or changed: %v %+v", size, err, o)
		}
	}
	// Another caller's object written after this upload was created is
	// not this upload's either: without delete permission it stays.
	r := h.do("POST", "/v1/stores/media/uploads", mallory, map[string]any{"key": "shared/late.txt", "content_type": "text/plain", "size": 3})
	trap := r.json(t)["upload_id"].(string)
	alice := h.token("alice", nil)
	r = h.do("POST", "/v1/stores/media/uploads", alice, map[string]any{"key": "shared/late.txt", "content_type": "text/plain", "size": 5})
	up := r.json(t)
	put(t, up["method"].(string), up["url"].(string), up["headers"].(map[string]any), []byte("alice"))
	if r := h.do("POST", "/v1/stores/media/uploads/"+up["upload_id"].(string)+"/complete", alice, nil); r.status != 200 {
		t.Fatalf("alice's complete: %d %s", r.status, r.body)
	}
	if r := h.do("POST", "/v1/stores/media/uploads/"+trap+"/complete", mallory, nil); r.status != 409 || !strings.Contains(r.json(t)["detail"].(string), "left in place") {
		t.Errorf("mallory's complete over alice's object: %d %s", r.status, r.body)
	}
	if o, err := f.Head(t.Context(), providers.HeadRequest{Key: "shared/late.txt"}); err != nil || o.Size != 5 {
		t.Fatalf("alice's object was deleted or changed: %v %+v", err, o)
	}

	// With delete permission, an upload's own wrong bytes are removed.
	g := newFake(t)
	h = storeHarness(t, `
    provider: fake
    allow_client_keys: true
    rules: { upload: "true", read: "true", delete: "true" }
`, g)
	r = h.do("POST", "/v1/stores/media/uploads", mallory, map[string]any{"key": "shared/report.txt", "content_type": "text/plain", "size": 3})
	up = r.json(t)
	put(t, up["method"].(string), up["url"].(string), up["headers"].(map[string]any), []byte("four"))
	r = h.do("POST", "/v1/stores/media/uploads/"+up["upload_id"].(string)+"/complete", mallory, nil)
	if r.status != 409 || !strings.Contains(r.json(t)["detail"].(string), "deleted") {
		t.Errorf("own mismatch: %d %s", r.status, r.body)
	}
	if _, err := g.Head(t.Context(), providers.HeadRequest{Key: "shared/report.txt"}); providers.CodeOf(err) != providers.NotFound {
		t.Errorf("the upload's own mismatching object stays: %v", err)
	}
	// And a gateway-chosen {uuid} key is the upload's alone: deleted
	// whatever the delete rule (TestCompleteMismatchAndIDs covers it).
}

// Revoking upload access (a reload with a stricter rule) stops an upload
// id already handed out: signing and listing parts and complete are
// refused. Abort, which only cleans up, still works.
func TestUploadRuleIsCheckedOnEveryCall(t *testing.T) {
	h := newHarness(t, "")
	alice := h.token("alice", nil)
	data := bytes.Repeat([]byte("y"), 5<<20+1)
	id, _ := startMultipart(t, h, alice, data, nil)
	base := "/v1/stores/media/uploads/" + id
	revoked := testConfig(t, "")
	sc := revoked.Stores["media"]
	sc.Rules.Upload = `subject != "alice"`
	revoked.Stores["media"] = sc
	if err := h.srv.Reload(revoked, map[string]providers.Provider{"media": h.fake}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ method, path string }{
		{"POST", base + "/parts"}, {"GET", base + "/parts"}, {"POST", base + "/complete"},
	} {
		var body any
		if c.path == base+"/parts" && c.method == "POST" {
			body = map[string]any{"part_numbers": []int{1}}
		}
		if r := h.do(c.method, c.path, alice, body); r.status != 403 || r.code() != "policy_denied" {
			t.Errorf("%s %s after revocation: %d %s", c.method, c.path, r.status, r.body)
		}
	}
	if r := h.do("DELETE", base, alice, nil); r.status != 204 {
		t.Errorf("abort after revocation: %d %s", r.status, r.body)
	}
	if r := h.do("DELETE", base, h.token("bob", nil), nil); r.status != 403 || r.code() != "upload_forbidden" {
		t.Errorf("abort by another caller: %d %s", r.status, r.body)
	}
}

// Request bodies are decoded strictly: exact member names, no duplicates,
// nothing after the value.
func TestStrictJSONBodies(t *testing.T) {
	h := newHarness(t, "")
	alice := h.token("alice", nil)
	for _, c := range []struct{ body, detail string }{
		{`{"Size":5,"filename":"a.txt","content_type":"text/plain"}`, `unknown field "Size"`},
		{`{"size":5,"size":6,"filename":"a.txt","content_type":"text/plain"}`, `duplicate field "size"`},
		{`{"size":5,"filename":"a.txt","content_type":"text/plain"}}`, "trailing data"},
		{`{"size":5,"filename":"a.txt","content_type":"text/plain"} {}`, "trailing data"},
		{`{"size":5,"filename":"a.txt","content_type":"text/plain","metadata":{"secret-name":"1","secret-name":"2"}}`, `duplicate field "metadata"`},
		{`{"size":5,"filename":"a.txt","content_type":"text/plain","metadata":{"secret-name":5}}`, `field "metadata" is invalid`},
		{"{\"size\":5,\"filename\":\"a\xff.txt\",\"content_type\":\"text/plain\"}", "invalid UTF-8"},
		{`{"size":"5","filename":"a.txt"}`, `field "size" must be an integer`},
		{`[{"size":5}]`, "must be a JSON object"},
		{`5`, "must be a JSON object"},
		{``, "empty body"},
	} {
		req, _ := http.NewRequest("POST", h.http.URL+"/v1/stores/media/uploads", strings.NewReader(c.body))
		req.Header.Set("Authorization", "Bearer "+alice)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var p struct{ Code, Detail string }
		_ = json.NewDecoder(res.Body).Decode(&p)
		res.Body.Close()
		if res.StatusCode != 400 || p.Code != "invalid_request" || !strings.Contains(p.Detail, c.detail) || strings.Contains(p.Detail, "secret-name") {
			t.Errorf("body %q: %d %s %q, want 400 invalid_request with %q", c.body, res.StatusCode, p.Code, p.Detail, c.detail)
		}
	}
	if r := h.do("POST", "/v1/stores/media/uploads", alice, map[string]any{"size": 5, "filename": "a.txt", "content_type": "text/plain"}); r.status != 201 {
		t.Errorf("a plain body: %d %s", r.status, r.body)
	}
}

// A complete retried after its first answer was lost (the provider
// assembled the object, the gateway never answered) still checks the
// declared checksum, and deletes a wrong object.
func TestRetriedCompleteStillVerifies(t *testing.T) {
	h := newHarness(t, "")
	alice := h.token("alice", nil)
	data := bytes.Repeat([]byte("r"), 5<<20+9)
	wrong := sha256.Sum256([]byte("not these bytes"))
	id, n := startMultipart(t, h, alice, data, map[string]any{"checksum_sha256": b64(wrong[:])})
	// The first complete, as the provider saw it; its answer never came.
	mpID := h.fake.Uploads()[0]
	var parts []providers.CompletedPart
	for i := 1; i <= n; i++ {
		parts = append(parts, providers.CompletedPart{Number: i})
	}
	o, err := h.fake.CompleteMultipart(t.Context(), providers.CompleteMultipartRequest{Key: uploadKey(t, h, id), UploadID: mpID, Parts: parts})
	if err != nil {
		t.Fatalf("first complete: %v", err)
	}
	r := h.do("POST", "/v1/stores/media/uploads/"+id+"/complete", alice, nil)
	if r.status != 409 || r.code() != "checksum_mismatch" || !strings.Contains(r.json(t)["detail"].(string), "deleted") {
		t.Fatalf("retried complete: %d %s", r.status, r.body)
	}
	if _, err := h.fake.Head(t.Context(), providers.HeadRequest{Key: o.Key}); providers.CodeOf(err) != providers.NotFound {
		t.Errorf("the wrong object stays: %v", err)
	}
}

// uploadKey opens an upload id with the server's own sealer.
func uploadKey(t *testing.T, h *harness, id string) string {
	t.Helper()
	u, err := h.srv.state.Load().sealer.Open(id, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return u.Key
}

// FuzzCreateUpload sends arbitrary bodies to POST .../uploads: the gateway
// never panics and never answers 5xx for a body, whatever its size field.
func FuzzCreateUpload(f *testing.F) {
	for _, s := range []string{
		`{"filename":"a.txt","content_type":"text/plain","size":5}`,
		`{"filename":"a.mp4","content_type":"video/mp4","size":9223372036854775807}`,
		`{"filename":"a.mp4","content_type":"video/mp4","size":9223372036854775807,"multipart":true}`,
		`{"filename":"a.mp4","size":-1}`,
		`{"filename":"../../x","content_type":"text/plain; charset=utf-8","size":1,"checksum_sha256":"x"}`,
		`{"filename":"a","size":1,"metadata":{"k":"v"},"key":"users/a/b"}`,
		`{"size":5}}`,
	} {
		f.Add([]byte(s))
	}
	fake := newFake(f)
	fcaps := memprovider.DefaultCapabilities()
	fcaps.MaxPartSize = 0
	fake.SetCapabilities(fcaps)
	cfg := storeConfig(f, `
    provider: fake
    allow_client_keys: true
    limits: { multipart_threshold: 1MiB, part_size: 1MiB }
    rules: { upload: 'key.startsWith(key_prefix) && size >= 0' }
`)
	srv, err := New(cfg, map[string]providers.Provider{"media": fake}, Options{})
	if err != nil {
		f.Fatal(err)
	}
	tok := (&harness{t: nil, cfg: cfg}).mustToken(f, "fuzz/subject")
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequestWithContext(context.Background(), "POST", "/v1/stores/media/uploads", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("body %q: %d %s", body, rec.Code, rec.Body)
		}
		if rec.Code == 201 {
			var up struct {
				Key       string `json:"key"`
				Multipart *struct {
					PartSize  int64 `json:"part_size"`
					PartCount int   `json:"part_count"`
				} `json:"multipart"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &up); err != nil || !strings.HasPrefix(up.Key, "users/fuzz%2Fsubject/") {
				t.Fatalf("body %q: 201 with %s", body, rec.Body)
			}
			if m := up.Multipart; m != nil && (m.PartSize <= 0 || m.PartCount < 1 || m.PartCount > defaultMaxParts) {
				t.Fatalf("body %q: plan %+v", body, m)
			}
		}
	})
}

func (h *harness) mustToken(tb testing.TB, sub string) string {
	tok, err := MintDevToken(h.cfg, sub, nil, time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// A declared checksum_sha256 is verified or refused: a store that cannot
// verify it refuses the upload at creation, and a multipart upload is
// checked against the digest the provider computed when assembling.
func TestChecksumIsVerifiedOrRefused(t *testing.T) {
	data := bytes.Repeat([]byte("z"), 5<<20+3)
	good := sha256.Sum256(data)
	wrong := sha256.Sum256([]byte("other"))
	small := sha256.Sum256([]byte("hello"))

	blind := newFake(t)
	caps := memprovider.DefaultCapabilities()
	caps.BindsChecksums, caps.MultipartChecksums = nil, nil
	blind.SetCapabilities(caps)
	h := &harness{t: t, fake: blind, cfg: testConfig(t, ""), logs: &testenv.Buffer{}}
	h.start(blind)
	alice := h.token("alice", nil)
	for _, size := range []int{5, len(data)} {
		r := h.do("POST", "/v1/stores/media/uploads", alice, map[string]any{"filename": "a.txt", "content_type": "text/plain", "size": size, "checksum_sha256": b64(small[:])})
		if r.status != 400 || r.code() != "checksum_unverifiable" {
			t.Errorf("size %d on a store that cannot verify: %d %s", size, r.status, r.body)
		}
	}
	r := h.do("GET", "/v1/stores", alice, nil)
	if !strings.Contains(string(r.body), `"verifies_checksum_sha256":{"single":false,"multipart":false}`) {
		t.Errorf("capabilities do not say the store cannot verify: %s", r.body)
	}

	h = newHarness(t, "")
	id, n := startMultipart(t, h, alice, data, map[string]any{"checksum_sha256": b64(good[:])})
	if r := h.do("POST", "/v1/stores/media/uploads/"+id+"/complete", alice, nil); r.status != 200 || n < 2 {
		t.Fatalf("multipart with the right checksum: %d %s", r.status, r.body)
	}
	id, _ = startMultipart(t, h, alice, data, map[string]any{"checksum_sha256": b64(wrong[:])})
	r = h.do("POST", "/v1/stores/media/uploads/"+id+"/complete", alice, nil)
	if r.status != 409 || r.code() != "checksum_mismatch" {
		t.Fatalf("multipart with a wrong checksum: %d %s", r.status, r.body)
	}

	// A provider that claims the capability but reports no digest does
	// not pass an upload unverified.
	liar := newFake(t)
	h = &harness{t: t, fake: liar, cfg: testConfig(t, ""), logs: &testenv.Buffer{}}
	h.start(noDigest{liar})
	id, _ = startMultipart(t, h, alice, data, map[string]any{"checksum_sha256": b64(good[:])})
	if r := h.do("POST", "/v1/stores/media/uploads/"+id+"/complete", alice, nil); r.status != 409 || r.code() != "checksum_unverified" {
		t.Fatalf("multipart without a reported digest: %d %s", r.status, r.body)
	}
}

// noDigest drops the digest a complete reports.
type noDigest struct{ *fakeProvider }

func (p noDigest) CompleteMultipart(ctx context.Context, req providers.CompleteMultipartRequest) (providers.Object, error) {
	o, err := p.fakeProvider.CompleteMultipart(ctx, req)
	o.Checksums = nil
	return o, err
}

// On the real local store, a multipart upload's declared checksum is
// checked against the assembled bytes.
func TestLocalMultipartChecksum(t *testing.T) {
	h := storeHarness(t, ownPrefixStore, localProvider(t))
	alice := h.token("alice", nil)
	data := bytes.Repeat([]byte("local!"), (12<<20)/6)
	good := sha256.Sum256(data)
	id, _ := startMultipart(t, h, alice, data, map[string]any{"checksum_sha256": b64(good[:])})
	if r := h.do("POST", "/v1/stores/media/uploads/"+id+"/complete", alice, nil); r.status != 200 {
		t.Fatalf("right checksum: %d %s", r.status, r.body)
	}
	wrong := sha256.Sum256([]byte("x"))
	id, _ = startMultipart(t, h, alice, data, map[string]any{"checksum_sha256": b64(wrong[:])})
	if r := h.do("POST", "/v1/stores/media/uploads/"+id+"/complete", alice, nil); r.status != 409 || r.code() != "checksum_mismatch" {
		t.Fatalf("wrong checksum: %d %s", r.status, r.body)
	}
}

func TestContentDispositionExtValue(t *testing.T) {
	got := ContentDisposition("attachment", "résumé: a=b@c.pdf")
	want := `attachment; filename="r_sum_: a=b@c.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9%3A%20a%3Db%40c.pdf`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
