package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/valetgw/valet/internal/testenv"
	"github.com/valetgw/valet/providers/providertest"
)

// Test stores: "media" is the main one; "brief" differs only in 5s put and
// upload TTLs, so its upload ids expire within a test. (5s, not 1s: a URL
// must still work when the test uses it at once on a loaded machine, and
// signed dates are truncated to the second.)
func gatewayStores(t *testing.T, b backend) map[string]any {
	store := func(ttl string) map[string]any {
		return subjectStore(t, b, []string{testOrigin}, map[string]any{
			"max_size":      "1MiB",
			"content_types": []string{"text/plain", "image/*", "video/*", "application/octet-stream"},
			"put_ttl":       ttl,
			"upload_ttl":    ttl,
			"get_ttl":       "5m",
			"max_ttl":       "1h",
		})
	}
	return map[string]any{"media": store("5m"), "brief": store("5s")}
}

// subjectStore is a store on backend b, with CORS for origins and the
// limits given, whose keys are users/{subject}/{uuid}/{filename}: a subject
// reads, lists and deletes only under its own prefix, and a token with
// role "viewer" may not upload.
func subjectStore(t *testing.T, b backend, origins []string, limits map[string]any) map[string]any {
	return map[string]any{
		"provider":     b.Provider,
		"config":       b.Setup(t, origins),
		"key_template": "users/{subject}/{uuid}/{filename}",
		"limits":       limits,
		"rules": map[string]any{
			"upload": `!("role" in claims) || claims.role != "viewer"`,
			"read":   `key.startsWith(key_prefix)`,
			"delete": `key.startsWith(key_prefix)`,
			"list":   `prefix.startsWith(key_prefix)`,
		},
	}
}

// mint signs an HS256 JWT the way an identity provider would.
func mint(t testing.TB, secret, subject string, ttl time.Duration, claims map[string]any) string {
	t.Helper()
	now := time.Now()
	b := jwt.NewBuilder().Subject(subject).IssuedAt(now).Expiration(now.Add(ttl))
	for k, v := range claims {
		b = b.Claim(k, v)
	}
	tok, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	s, err := jwt.Sign(tok, jwt.WithKey(jwa.HS256(), []byte(secret)))
	if err != nil {
		t.Fatal(err)
	}
	return string(s)
}

// uploadSlot is the answer to POST /v1/stores/{store}/uploads.
type uploadSlot struct {
	UploadID  string            `json:"upload_id"`
	Key       string            `json:"key"`
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	ExpiresAt time.Time         `json:"expires_at"`
}

// object is the answer to complete and (with URL) to GET objects/{key}.
type object struct {
	Key          string    `json:"key"`
	Size         int64     `json:"size"`
	ContentType  string    `json:"content_type"`
	ETag         string    `json:"etag"`
	LastModified time.Time `json:"last_modified"`
	URL          string    `json:"url"`
	ExpiresAt    time.Time `json:"expires_at"`
}

type uploadReq struct {
	Filename       string `json:"filename"`
	ContentType    string `json:"content_type"`
	Size           int64  `json:"size"`
	ChecksumSHA256 string `json:"checksum_sha256,omitempty"`
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func sha256b64(b []byte) string {
	s := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(s[:])
}

// putRecipe sends body exactly as the recipe says: its method, URL and
// headers, nothing more. It returns the storage response status.
func putRecipe(t testing.TB, s uploadSlot, body []byte) (int, string) {
	t.Helper()
	for k, v := range s.Headers {
		// net/http sends the body's length; the recipe value must agree.
		if http.CanonicalHeaderKey(k) == "Content-Length" && v != "" && v != itoa(len(body)) {
			t.Fatalf("recipe Content-Length %s, body %d", v, len(body))
		}
	}
	res := providertest.SendAs(t, noRedirect, s.Method, s.URL, s.Headers, body, nil)
	return res.Status, string(res.Body)
}

func itoa(n int) string { return strconv.Itoa(n) }

// upload runs the whole upload flow for subject and returns the completed
// object and the bytes sent.
func upload(t testing.TB, g, gc *gateway, store, token, filename, ctype string, body []byte) object {
	t.Helper()
	req := uploadReq{Filename: filename, ContentType: ctype, Size: int64(len(body)), ChecksumSHA256: sha256b64(body)}
	r := g.do(t, "POST", "/v1/stores/"+store+"/uploads", token, req)
	if r.Status == http.StatusBadRequest && strings.Contains(string(r.Body), `"checksum_unverifiable"`) {
		// Only a store that says it cannot verify a checksum may refuse one.
		if verifiesSingleChecksum(t, g, store, token) {
			t.Fatalf("store %s refused a checksum its capabilities say it verifies: %s", store, r)
		}
		req.ChecksumSHA256 = ""
		r = g.do(t, "POST", "/v1/stores/"+store+"/uploads", token, req)
	}
	want(t, r, http.StatusCreated)
	slot := decodeJSON[uploadSlot](t, r)
	if slot.UploadID == "" || slot.URL == "" || slot.Method == "" || slot.ExpiresAt.Before(time.Now()) {
		t.Fatalf("upload slot incomplete: %s", r.Body)
	}
	if st, b := putRecipe(t, slot, body); st < 200 || st > 299 {
		t.Fatalf("%s to storage: %d %s", slot.Method, st, tail(b, 400))
	}
	r = gc.do(t, "POST", "/v1/stores/"+store+"/uploads/"+slot.UploadID+"/complete", token, nil)
	want(t, r, http.StatusOK)
	obj := decodeJSON[object](t, r)
	if obj.Key != slot.Key || obj.Size != int64(len(body)) || obj.ContentType != ctype {
		t.Fatalf("completed object = %+v, want key %q size %d type %q", obj, slot.Key, len(body), ctype)
	}
	return obj
}

// verifiesSingleChecksum reads GET /v1/stores: whether store verifies a
// declared checksum_sha256 on a single upload.
func verifiesSingleChecksum(t testing.TB, g *gateway, store, token string) bool {
	t.Helper()
	r := g.do(t, "GET", "/v1/stores", token, nil)
	want(t, r, http.StatusOK)
	var out struct {
		Stores []struct {
			Name         string `json:"name"`
			Capabilities struct {
				Verifies struct {
					Single bool `json:"single"`
				} `json:"verifies_checksum_sha256"`
			} `json:"capabilities"`
		} `json:"stores"`
	}
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatal(err)
	}
	for _, s := range out.Stores {
		if s.Name == store {
			return s.Capabilities.Verifies.Single
		}
	}
	t.Fatalf("store %s not in GET /v1/stores: %s", store, r)
	return false
}

// escapeKey escapes each segment of key for the objects/{key...} route.
func escapeKey(key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

func fetch(t testing.TB, u string, hdr map[string]string) (int, []byte, http.Header) {
	t.Helper()
	res := providertest.SendAs(t, noRedirect, "GET", u, hdr, nil, nil)
	return res.Status, res.Body, res.Header
}

func TestGateway(t *testing.T) {
	onEveryBackend(t, testGateway)
}

func testGateway(t *testing.T, b backend) {
	env := newGatewayEnv(t, gatewayStores(t, b))
	g := startGateway(t, env)
	alice := mint(t, env.HS256, "alice", 10*time.Minute, nil)
	bob := mint(t, env.HS256, "bob", 10*time.Minute, nil)

	body := append([]byte("hello from the e2e suite\n"), randomBytes(t, 4000)...)
	var obj object
	var signedURLs, rejectedTokens []string

	t.Run("upload", func(t *testing.T) {
		obj = upload(t, g, g, "media", alice, "héllo wörld.txt", "text/plain", body)
		if !strings.HasPrefix(obj.Key, "users/alice/") || !strings.HasSuffix(obj.Key, ".txt") {
			t.Fatalf("key %q does not follow users/{subject}/{uuid}/{filename}", obj.Key)
		}
	})
	if obj.Key == "" {
		t.FailNow()
	}

	t.Run("download", func(t *testing.T) {
		r := g.do(t, "GET", "/v1/stores/media/objects/"+escapeKey(obj.Key), alice, nil)
		want(t, r, http.StatusOK)
		md := decodeJSON[object](t, r)
		if md.Key != obj.Key || md.Size != int64(len(body)) || md.ContentType != "text/plain" || md.URL == "" {
			t.Fatalf("media data = %s", r.Body)
		}
		if !md.ExpiresAt.After(time.Now()) || md.ExpiresAt.After(time.Now().Add(6*time.Minute)) {
			t.Fatalf("expires_at %v not within get_ttl (5m)", md.ExpiresAt)
		}
		signedURLs = append(signedURLs, md.URL)
		st, got, _ := fetch(t, md.URL, nil)
		if st != http.StatusOK || !bytes.Equal(got, body) {
			t.Fatalf("signed GET: status %d, %d bytes (want 200, %d equal bytes)", st, len(got), len(body))
		}
	})

	t.Run("redirect then range", func(t *testing.T) {
		r := g.do(t, "GET", "/v1/stores/media/objects/"+escapeKey(obj.Key)+"?redirect=true", alice, nil)
		want(t, r, http.StatusFound)
		loc := r.Header.Get("Location")
		if loc == "" {
			t.Fatal("302 without Location")
		}
		signedURLs = append(signedURLs, loc)
		st, got, h := fetch(t, loc, map[string]string{"Range": "bytes=6-23"})
		if st != http.StatusPartialContent || !bytes.Equal(got, body[6:24]) {
			t.Fatalf("Range GET: status %d body %q, want 206 %q", st, got, body[6:24])
		}
		if cr := h.Get("Content-Range"); cr != "bytes 6-23/"+itoa(len(body)) {
			t.Fatalf("Content-Range = %q", cr)
		}
	})

	t.Run("401 without or with a bad token", func(t *testing.T) {
		path := "/v1/stores/media/objects/" + escapeKey(obj.Key)
		wantCode(t, g.do(t, "GET", path, "", nil), http.StatusUnauthorized, "unauthenticated")
		foreign := mint(t, randomSecret(t), "alice", time.Minute, nil)
		expired := mint(t, env.HS256, "alice", -10*time.Minute, nil)
		rejectedTokens = append(rejectedTokens, foreign, expired)
		wantCode(t, g.do(t, "GET", path, foreign, nil), http.StatusUnauthorized, "invalid_token")
		wantCode(t, g.do(t, "GET", path, expired, nil), http.StatusUnauthorized, "invalid_token")
		wantCode(t, g.do(t, "GET", path, "not-a-jwt", nil), http.StatusUnauthorized, "invalid_token")
		// alg "none" with a valid-looking payload.
		parts := strings.Split(alice, ".")
		none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
		rejectedTokens = append(rejectedTokens, none)
		wantCode(t, g.do(t, "GET", path, none, nil), http.StatusUnauthorized, "invalid_token")
		want(t, g.do(t, "POST", "/v1/stores/media/uploads", "", uploadReq{Filename: "a.txt", ContentType: "text/plain", Size: 1}), http.StatusUnauthorized)
	})

	t.Run("403 reading another subject's object", func(t *testing.T) {
		wantCode(t, g.do(t, "GET", "/v1/stores/media/objects/"+escapeKey(obj.Key), bob, nil), http.StatusForbidden, "policy_denied")
		wantCode(t, g.do(t, "GET", "/v1/stores/media/objects/"+escapeKey(obj.Key)+"?redirect=true", bob, nil), http.StatusForbidden, "policy_denied")
		wantCode(t, g.do(t, "DELETE", "/v1/stores/media/objects/"+escapeKey(obj.Key), bob, nil), http.StatusForbidden, "policy_denied")
		// Alice's object is still there and intact.
		want(t, g.do(t, "GET", "/v1/stores/media/objects/"+escapeKey(obj.Key), alice, nil), http.StatusOK)
	})

	t.Run("policy denies upload", func(t *testing.T) {
		viewer := mint(t, env.HS256, "carol", time.Minute, map[string]any{"role": "viewer"})
		wantCode(t, g.do(t, "POST", "/v1/stores/media/uploads", viewer, uploadReq{Filename: "a.txt", ContentType: "text/plain", Size: 10}), http.StatusForbidden, "policy_denied")
		editor := mint(t, env.HS256, "carol", time.Minute, map[string]any{"role": "editor"})
		want(t, g.do(t, "POST", "/v1/stores/media/uploads", editor, uploadReq{Filename: "a.txt", ContentType: "text/plain", Size: 10}), http.StatusCreated)
	})

	t.Run("size over limit", func(t *testing.T) {
		r := g.do(t, "POST", "/v1/stores/media/uploads", alice, uploadReq{Filename: "big.bin", ContentType: "application/octet-stream", Size: 1<<20 + 1})
		wantCode(t, r, http.StatusRequestEntityTooLarge, "too_large")
		want(t, g.do(t, "POST", "/v1/stores/media/uploads", alice, uploadReq{Filename: "max.bin", ContentType: "application/octet-stream", Size: 1 << 20}), http.StatusCreated)
	})

	t.Run("disallowed content type", func(t *testing.T) {
		r := g.do(t, "POST", "/v1/stores/media/uploads", alice, uploadReq{Filename: "x.exe", ContentType: "application/x-msdownload", Size: 10})
		wantCode(t, r, http.StatusUnsupportedMediaType, "content_type_not_allowed")
		want(t, g.do(t, "POST", "/v1/stores/media/uploads", alice, uploadReq{Filename: "x.png", ContentType: "image/png", Size: 10}), http.StatusCreated)
	})

	t.Run("upload ids", func(t *testing.T) {
		data := []byte("upload id checks")
		r := g.do(t, "POST", "/v1/stores/media/uploads", alice, uploadReq{Filename: "id.txt", ContentType: "text/plain", Size: int64(len(data))})
		want(t, r, http.StatusCreated)
		slot := decodeJSON[uploadSlot](t, r)
		if st, b := putRecipe(t, slot, data); st/100 != 2 {
			t.Fatalf("PUT: %d %s", st, b)
		}
		complete := func(id, tok string) apiResp {
			return g.do(t, "POST", "/v1/stores/media/uploads/"+url.PathEscape(id)+"/complete", tok, nil)
		}
		// Tampered: flip one character in the middle of the sealed token.
		id := []byte(slot.UploadID)
		i := len(id) / 2
		if id[i] == 'A' {
			id[i] = 'B'
		} else {
			id[i] = 'A'
		}
		wantCode(t, complete(string(id), alice), http.StatusNotFound, "upload_not_found")
		wantCode(t, complete(slot.UploadID[:len(slot.UploadID)-4], alice), http.StatusNotFound, "upload_not_found")
		// Foreign: bob cannot complete alice's upload.
		wantCode(t, complete(slot.UploadID, bob), http.StatusForbidden, "upload_forbidden")
		// Another store's id is not valid here.
		r = g.do(t, "POST", "/v1/stores/brief/uploads/"+url.PathEscape(slot.UploadID)+"/complete", alice, nil)
		wantCode(t, r, http.StatusNotFound, "upload_not_found")
		// The genuine id still works after all that.
		want(t, complete(slot.UploadID, alice), http.StatusOK)

		// Expired: the brief store's ids live 5s. Its fresh URL works; once
		// past its expiry (and the id's, at most 1s later: the id's is
		// taken before signing, the URL's is truncated to the second), the
		// id is refused, however long the steps took.
		r = g.do(t, "POST", "/v1/stores/brief/uploads", alice, uploadReq{Filename: "late.txt", ContentType: "text/plain", Size: int64(len(data))})
		want(t, r, http.StatusCreated)
		late := decodeJSON[uploadSlot](t, r)
		if st, b := putRecipe(t, late, data); st/100 != 2 {
			t.Fatalf("PUT: %d %s", st, b)
		}
		time.Sleep(time.Until(late.ExpiresAt) + 2*time.Second)
		r = g.do(t, "POST", "/v1/stores/brief/uploads/"+url.PathEscape(late.UploadID)+"/complete", alice, nil)
		wantCode(t, r, http.StatusGone, "upload_expired")
	})

	t.Run("complete without upload", func(t *testing.T) {
		r := g.do(t, "POST", "/v1/stores/media/uploads", alice, uploadReq{Filename: "never.txt", ContentType: "text/plain", Size: 5})
		want(t, r, http.StatusCreated)
		slot := decodeJSON[uploadSlot](t, r)
		wantCode(t, g.do(t, "POST", "/v1/stores/media/uploads/"+url.PathEscape(slot.UploadID)+"/complete", alice, nil), http.StatusConflict, "object_missing")
	})

	t.Run("two gateways share one config", func(t *testing.T) {
		g2 := startGateway(t, env, perProcessEnv(t, b, env)...)
		data := randomBytes(t, 3000)
		o := upload(t, g, g2, "media", alice, "shared.bin", "application/octet-stream", data)
		r := g2.do(t, "GET", "/v1/stores/media/objects/"+escapeKey(o.Key), alice, nil)
		want(t, r, http.StatusOK)
		md := decodeJSON[object](t, r)
		if st, got, _ := fetch(t, md.URL, nil); st != 200 || !bytes.Equal(got, data) {
			t.Fatalf("GET via second gateway: %d, %d bytes", st, len(got))
		}
		checkNoLeaks(t, g2, []string{env.HS256, env.Tokens, alice}, nil)
	})

	t.Run("list then delete", func(t *testing.T) {
		prefix := "users/alice/"
		r := g.do(t, "GET", "/v1/stores/media/objects?prefix="+url.QueryEscape(prefix)+"&limit=1000", alice, nil)
		want(t, r, http.StatusOK)
		page := decodeJSON[struct {
			Objects []object `json:"objects"`
		}](t, r)
		found := false
		for _, o := range page.Objects {
			if !strings.HasPrefix(o.Key, prefix) {
				t.Fatalf("listed %q outside prefix %q", o.Key, prefix)
			}
			found = found || (o.Key == obj.Key && o.Size == int64(len(body)))
		}
		if !found {
			t.Fatalf("listing of %s lacks %s: %s", prefix, obj.Key, tail(string(r.Body), 600))
		}
		wantCode(t, g.do(t, "GET", "/v1/stores/media/objects?prefix="+url.QueryEscape(prefix), bob, nil), http.StatusForbidden, "policy_denied")

		del := "/v1/stores/media/objects/" + escapeKey(obj.Key)
		want(t, g.do(t, "DELETE", del, alice, nil), http.StatusNoContent)
		wantCode(t, g.do(t, "GET", del, alice, nil), http.StatusNotFound, "object_not_found")
		if st, _, _ := fetch(t, signedURLs[0], nil); st/100 == 2 {
			t.Fatalf("signed GET still serves a deleted object: %d", st)
		}
	})

	t.Run("no secrets in logs or error bodies", func(t *testing.T) {
		secrets := append([]string{env.HS256, env.Tokens, alice, bob}, rejectedTokens...)
		for _, s := range []string{"media", "brief"} {
			cfg := env.Config["stores"].(map[string]any)[s].(map[string]any)["config"].(map[string]any)
			for k, v := range cfg {
				if str, ok := v.(string); ok && (strings.Contains(k, "secret") || strings.Contains(k, "key") || strings.Contains(k, "password")) && len(str) >= 8 {
					secrets = append(secrets, str)
				}
			}
		}
		checkNoLeaks(t, g, secrets, signedURLs)
		// The log is not vacuous: it has a request line naming the key.
		if !strings.Contains(g.Logs(), obj.Key) {
			t.Fatalf("no request log line names key %q; logs:\n%s", obj.Key, tail(g.Logs(), 3000))
		}
	})
}

// perProcessEnv gives a second gateway process on the same config what
// cannot be shared between processes on one machine: the local provider's
// listener port (root and secret are shared, so either serves the other's
// URLs).
func perProcessEnv(t testing.TB, b backend, env *gatewayEnv) []string {
	if b.Provider != "local" {
		return nil
	}
	var out []string
	for _, s := range []string{"media", "brief"} {
		addr := testenv.Addr(testenv.FreePort(t))
		out = append(out,
			"VALET_STORES__"+strings.ToUpper(s)+"__CONFIG__LISTEN="+addr,
			"VALET_STORES__"+strings.ToUpper(s)+"__CONFIG__PUBLIC_URL=http://"+addr)
	}
	return out
}

// checkNoLeaks fails if a secret, a token or a URL signature appears in the
// gateway's output or in an error body it sent.
func checkNoLeaks(t testing.TB, g *gateway, secrets []string, signedURLs []string) {
	t.Helper()
	needles := map[string]string{}
	for _, s := range secrets {
		if s != "" {
			needles[s] = "secret or token"
		}
	}
	for _, u := range signedURLs {
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		for k, vs := range pu.Query() {
			lk := strings.ToLower(k)
			if strings.Contains(lk, "sig") || strings.Contains(lk, "signature") || strings.Contains(lk, "credential") {
				for _, v := range vs {
					if len(v) >= 8 {
						needles[v] = "URL parameter " + k
					}
				}
			}
		}
	}
	if len(signedURLs) > 0 && len(needles) == len(secrets) {
		t.Fatalf("no signature parameter found in signed URLs %v", redactAll(signedURLs))
	}
	logs := g.Logs()
	g.mu.Lock()
	bodies := strings.Join(g.bodies, "\n")
	g.mu.Unlock()
	for n, what := range needles {
		for _, form := range []string{n, url.QueryEscape(n)} {
			if strings.Contains(logs, form) {
				t.Errorf("gateway output contains a %s", what)
			}
			if strings.Contains(bodies, form) {
				t.Errorf("an error body contains a %s", what)
			}
		}
	}
}

func redactAll(us []string) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = providertest.Redact(u)
	}
	return out
}
