package e2e

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valetgw/valet/internal/testenv"
	"github.com/valetgw/valet/plugins/host"
	"github.com/valetgw/valet/providers"
	"github.com/valetgw/valet/providers/azure"
	"github.com/valetgw/valet/providers/providertest"
)

// The azure backend is one Azurite per test binary (it takes ~2 s to
// start) with a fresh container per Setup. CORS is account-wide in Azure,
// so SetCORS accumulates every origin asked for.
func init() {
	registerBackend(backend{
		Name:     "azure",
		Provider: "azure",
		Setup: func(t *testing.T, origins []string) map[string]any {
			az := testenv.SharedAzurite(t)
			cont := az.NewContainer(t)
			az.SetCORS(t, origins)
			return azureStoreConfig(t, az, cont)
		},
	})
}

// azureStoreConfig reads the account key from a file, so that path is
// exercised end to end; https_only is off because Azurite speaks http.
func azureStoreConfig(t *testing.T, az *testenv.Azurite, container string) map[string]any {
	f := writeFile(t, filepath.Join(t.TempDir(), "azure-key"), []byte(testenv.AzuriteKey+"\n"))
	return map[string]any{
		"account_name":     testenv.AzuriteAccount,
		"account_key_file": f,
		"endpoint":         az.ServiceURL,
		"container":        container,
		"https_only":       false,
	}
}

// azurePlugin starts `valet plugin serve azure` under plugins/host.
func azurePlugin(t *testing.T, cfg map[string]any) *host.Plugin {
	t.Helper()
	return startPlugin(t, "azure", "azure-e2e", cfg)
}

func setupAzure(t *testing.T) (*testenv.Azurite, string, *host.Plugin) {
	t.Helper()
	az := testenv.SharedAzurite(t)
	cont := az.NewContainer(t)
	return az, cont, azurePlugin(t, azureStoreConfig(t, az, cont))
}

// TestAzureConformance runs the conformance suite for `azure` against
// Azurite through a plugin process. Azure can bind create-only (sp=c) but
// no request header, so those bindings must show as skipped by name.
func TestAzureConformance(t *testing.T) {
	az := testenv.SharedAzurite(t)
	cfg := azureStoreConfig(t, az, az.NewContainer(t))
	p := azurePlugin(t, cfg)
	info, err := p.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	c := info.Capabilities
	if c.BindsContentLength || c.BindsContentType || len(c.BindsChecksums) != 0 || !c.BindsCreateOnly ||
		!c.GetOverrides || !c.Multipart || c.MultipartNeedsETags || c.MaxParts != 50000 || c.MaxPartSize != 4000<<20 {
		t.Fatalf("capabilities through the plugin = %+v", c)
	}
	if !strings.Contains(strings.Join(c.Notes, "\n"), "7 days") {
		t.Fatalf("Info.Notes does not tell operators about the 7-day block expiry: %q", c.Notes)
	}
	providertest.Run(t, providertest.Harness{Provider: p, Config: jsonOf(t, cfg), SecretKeys: []string{"account_key"},
		Prefix: "conformance/", PartSize: 1 << 20})
}

var azClient = &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{DisableCompression: true}}

// azSend sends exactly the given method, URL, headers and body.
func azSend(t *testing.T, method, rawURL string, headers map[string]string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	res := providertest.SendAs(t, azClient, method, rawURL, headers, body, nil)
	return res.Status, res.Header, res.Body
}

// TestAzureRejections shows each refusal Azure makes of a Valet SAS, with
// Azure's own error code, through the plugin: expired, tampered (signature,
// key, permission, expiry, rscd), wrong permission for the method, wrong
// protocol, and create-only on an existing blob.
func TestAzureRejections(t *testing.T) {
	_, _, p := setupAzure(t)
	ctx := t.Context()
	body := []byte("azure rejection checks")
	sum := md5.Sum(body)
	put := func(key string, createOnly bool, ttl time.Duration) providers.Recipe {
		t.Helper()
		r, err := p.SignPut(ctx, providers.PutRequest{Key: key, ContentType: "text/plain", Size: int64(len(body)), TTL: ttl, CreateOnly: createOnly,
			Checksum: &providers.Checksum{Algorithm: providers.MD5, Value: base64.StdEncoding.EncodeToString(sum[:])}})
		if err != nil {
			t.Fatalf("SignPut: %v", err)
		}
		return r
	}
	key := "rejections/a ü.txt"
	r := put(key, false, time.Minute)
	if st, _, b := azSend(t, r.Method, r.URL, r.Headers, body); st != http.StatusCreated {
		t.Fatalf("PUT: %d %s", st, b)
	}
	get, err := p.SignGet(ctx, providers.GetRequest{Key: key, TTL: time.Minute, ResponseContentDisposition: `attachment; filename="a.txt"`})
	if err != nil {
		t.Fatal(err)
	}
	if st, _, b := azSend(t, "GET", get.URL, nil, nil); st != 200 || !bytes.Equal(b, body) {
		t.Fatalf("GET: %d", st)
	}

	mutate := func(u, param, value string) string {
		return providertest.TamperQuery(t, u, param, func(string) string { return value })
	}
	for _, tc := range []struct {
		name, method, url string
		headers           map[string]string
		body              []byte
		status            int
		code              string
	}{
		{"tampered signature", "GET", providertest.TamperSignature(t, get.URL), nil, nil, 403, "AuthenticationFailed"},
		{"tampered permission (r to rw)", "PUT", mutate(get.URL, "sp", "rw"), r.Headers, body, 403, "AuthenticationFailed"},
		{"tampered expiry", "GET", mutate(get.URL, "se", "2099-01-01T00:00:00Z"), nil, nil, 403, "AuthenticationFailed"},
		{"tampered rscd", "GET", mutate(get.URL, "rscd", "inline"), nil, nil, 403, "AuthenticationFailed"},
		{"retargeted key", "GET", providertest.RetargetKey(t, get.URL, "a%20%C3%BC.txt", "other.txt"), nil, nil, 403, "AuthenticationFailed"},
		{"GET URL used to PUT", "PUT", get.URL, r.Headers, body, 403, "AuthorizationPermissionMismatch"},
		{"GET URL used to DELETE", "DELETE", get.URL, nil, nil, 403, "AuthorizationPermissionMismatch"},
		{"PUT URL used to GET", "GET", r.URL, nil, nil, 403, "AuthorizationPermissionMismatch"},
		{"create-only over an existing blob", "PUT", put(key, true, time.Minute).URL, r.Headers, []byte("overwrite!"), 403, "AuthorizationPermissionMismatch"},
		{"wrong Content-MD5", "PUT", r.URL, map[string]string{"x-ms-blob-type": "BlockBlob", "Content-MD5": base64.StdEncoding.EncodeToString(make([]byte, 16))}, body, 400, "Md5Mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, h, _ := azSend(t, tc.method, tc.url, tc.headers, tc.body)
			code := h.Get("x-ms-error-code")
			if st != tc.status {
				t.Fatalf("status %d (%s), want %d (%s)", st, code, tc.status, tc.code)
			}
			// Azurite reports a signature mismatch as AuthorizationFailure;
			// Azure as AuthenticationFailed. Either is a refused signature.
			if code != tc.code && !(tc.code == "AuthenticationFailed" && code == "AuthorizationFailure") {
				t.Fatalf("x-ms-error-code %q, want %q", code, tc.code)
			}
		})
	}
	// Nothing above changed the blob.
	if o, err := p.Head(ctx, providers.HeadRequest{Key: key}); err != nil || o.Size != int64(len(body)) {
		t.Fatalf("blob after rejected requests: %+v %v", o, err)
	}

	t.Run("expired", func(t *testing.T) {
		k := "rejections/expired.txt"
		r := put(k, false, time.Second)
		g, err := p.SignGet(ctx, providers.GetRequest{Key: key, TTL: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		// Past both expiries: g is signed after r, and on a loaded machine
		// may expire seconds later.
		exp := r.ExpiresAt
		if g.ExpiresAt.After(exp) {
			exp = g.ExpiresAt
		}
		time.Sleep(time.Until(exp) + 1500*time.Millisecond)
		if st, h, _ := azSend(t, r.Method, r.URL, r.Headers, body); st != 403 {
			t.Fatalf("expired PUT: %d %s", st, h.Get("x-ms-error-code"))
		}
		if st, h, _ := azSend(t, "GET", g.URL, nil, nil); st != 403 {
			t.Fatalf("expired GET: %d %s", st, h.Get("x-ms-error-code"))
		}
		if _, err := p.Head(ctx, providers.HeadRequest{Key: k}); !errors.Is(err, providers.ErrNotFound) {
			t.Fatalf("expired PUT stored something: %v", err)
		}
	})

	t.Run("https-only SAS over http", func(t *testing.T) {
		// A store with https_only (the default) refuses an http endpoint at
		// Configure, so the SAS Azure would reject is never handed out.
		cfg := azureStoreConfig(t, testenv.SharedAzurite(t), "whatever")
		delete(cfg, "https_only")
		raw, _ := json.Marshal(cfg)
		err := azure.New().Configure(ctx, providers.StoreConfig{Store: "x", Config: raw})
		if !errors.Is(err, providers.ErrInvalidArgument) || !strings.Contains(err.Error(), "config.https_only") {
			t.Fatalf("Configure with https_only and an http endpoint: %v", err)
		}
	})
}

// TestAzureMultipart64MiB uploads 64 MiB as 8 blocks of 8 MiB through
// signed Put Block URLs, commits them through the plugin, and reads the
// blob back.
func TestAzureMultipart64MiB(t *testing.T) {
	_, _, p := setupAzure(t)
	ctx := t.Context()
	const partSize, total = 8 << 20, 64 << 20
	data := make([]byte, total)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	key := "big/64mib.bin"
	up, err := p.CreateMultipart(ctx, providers.CreateMultipartRequest{Key: key, ContentType: "video/mp4", Size: total, PartSize: partSize, TTL: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	specs := make([]providers.PartSpec, total/partSize)
	for i := range specs {
		specs[i] = providers.PartSpec{Number: i + 1, Size: partSize}
	}
	signed, err := p.SignParts(ctx, providers.SignPartsRequest{Key: key, UploadID: up.UploadID, Parts: specs, TTL: 10 * time.Minute})
	recipes := signed.Parts
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var done []providers.CompletedPart
	for _, r := range recipes {
		lo := (r.Number - 1) * partSize
		if st, _, b := azSend(t, r.Recipe.Method, r.Recipe.URL, r.Recipe.Headers, data[lo:lo+partSize]); st != http.StatusCreated {
			t.Fatalf("block %d: %d %s", r.Number, st, b)
		}
		done = append(done, providers.CompletedPart{Number: r.Number})
	}
	listing, err := p.ListParts(ctx, providers.ListPartsRequest{Upload: providers.MultipartRef{Key: key, UploadID: up.UploadID}})
	parts := listing.Parts
	if err != nil || len(parts) != len(specs) {
		t.Fatalf("ListParts: %d parts, %v", len(parts), err)
	}
	o, err := p.CompleteMultipart(ctx, providers.CompleteMultipartRequest{Key: key, UploadID: up.UploadID, Parts: done})
	if err != nil {
		t.Fatalf("complete: %v", err)
	}
	upDur := time.Since(start)
	if o.Size != total || o.ContentType != "video/mp4" {
		t.Fatalf("completed %+v", o)
	}
	g, err := p.SignGet(ctx, providers.GetRequest{Key: key, TTL: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	st, _, got := azSend(t, "GET", g.URL, nil, nil)
	if st != 200 || !bytes.Equal(got, data) {
		t.Fatalf("read back: %d, %d bytes, equal=%v", st, len(got), bytes.Equal(got, data))
	}
	t.Logf("64 MiB in %d blocks: upload+commit %s, read back equal", len(recipes), upDur.Round(time.Millisecond))
}

// TestAzureCompleteCatchesMismatch is the gateway half of Azure's missing
// bindings: a SAS cannot bind size or type, so Azure stores a PUT of the
// wrong size or with another x-ms-blob-content-type, and the gateway's
// complete must catch it by HEAD, delete the blob, and answer 409.
func TestAzureCompleteCatchesMismatch(t *testing.T) {
	b := backendNamed(t, "azure")
	stores := gatewayStores(t, b)
	env := newGatewayEnv(t, stores)
	g := startGateway(t, env)
	alice := mint(t, env.HS256, "alice", 10*time.Minute, nil)
	cfg := stores["media"].(map[string]any)["config"].(map[string]any)
	blobs := testenv.SharedAzurite(t).ServiceClient(t).NewContainerClient(cfg["container"].(string))
	exists := func(key string) bool {
		t.Helper()
		_, err := blobs.NewBlobClient(key).GetProperties(t.Context(), nil)
		return err == nil
	}

	for _, tc := range []struct {
		name     string
		declared int
		sent     int
		override map[string]string
	}{
		{"longer than declared", 100, 150, nil},
		{"shorter than declared", 100, 40, nil},
		{"other content type", 100, 100, map[string]string{"x-ms-blob-content-type": "image/png"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := g.do(t, "POST", "/v1/stores/media/uploads", alice, uploadReq{Filename: "m.txt", ContentType: "text/plain", Size: int64(tc.declared)})
			want(t, r, http.StatusCreated)
			slot := decodeJSON[uploadSlot](t, r)
			if slot.Headers["x-ms-blob-type"] != "BlockBlob" {
				t.Fatalf("recipe headers %v lack x-ms-blob-type: BlockBlob", slot.Headers)
			}
			h := map[string]string{}
			for k, v := range slot.Headers {
				h[k] = v
			}
			for k, v := range tc.override {
				h[k] = v
			}
			// Azure accepts it: nothing in the SAS says otherwise.
			if st, _, body := azSend(t, slot.Method, slot.URL, h, randomBytes(t, tc.sent)); st != http.StatusCreated {
				t.Fatalf("PUT to Azurite: %d %s", st, body)
			}
			if !exists(slot.Key) {
				t.Fatal("blob not stored by Azurite; the test would prove nothing")
			}
			p := want(t, g.do(t, "POST", "/v1/stores/media/uploads/"+url.PathEscape(slot.UploadID)+"/complete", alice, nil), http.StatusConflict)
			t.Logf("complete: 409 %s", p.Code)
			if exists(slot.Key) {
				t.Fatalf("blob %q still exists after complete refused it", slot.Key)
			}
		})
	}
	t.Run("matching upload completes", func(t *testing.T) {
		o := upload(t, g, g, "media", alice, "ok.txt", "text/plain", randomBytes(t, 100))
		if !exists(o.Key) {
			t.Fatalf("completed blob %q missing", o.Key)
		}
	})
}

// TestAzureCORS checks the CORS rule the backend Setup applies: a browser at
// an allowed origin may PUT with x-ms-blob-type and read ETag; another
// origin is refused.
func TestAzureCORS(t *testing.T) {
	b := backendNamed(t, "azure")
	const origin = "http://127.0.0.1:8181"
	cfg := b.Setup(t, []string{origin})
	p := azurePlugin(t, cfg)
	r, err := p.SignPut(t.Context(), providers.PutRequest{Key: "cors/a.txt", ContentType: "text/plain", Size: 2, TTL: time.Minute,
		Metadata: map[string]string{"owner-id": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for k := range r.Headers {
		names = append(names, strings.ToLower(k))
	}
	preflight := func(from string) (int, http.Header) {
		req, _ := http.NewRequestWithContext(t.Context(), "OPTIONS", r.URL, nil)
		req.Header.Set("Origin", from)
		req.Header.Set("Access-Control-Request-Method", "PUT")
		req.Header.Set("Access-Control-Request-Headers", strings.Join(names, ","))
		res, err := azClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode, res.Header
	}
	if st, h := preflight(origin); st != 200 || h.Get("Access-Control-Allow-Origin") != origin {
		t.Fatalf("preflight from %s for headers %v: %d, ACAO %q", origin, names, st, h.Get("Access-Control-Allow-Origin"))
	}
	if st, h := preflight("http://evil.example"); st != 403 || h.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from another origin: %d, ACAO %q", st, h.Get("Access-Control-Allow-Origin"))
	}
	h := map[string]string{"Origin": origin}
	for k, v := range r.Headers {
		h[k] = v
	}
	st, rh, body := azSend(t, r.Method, r.URL, h, []byte("hi"))
	if st != http.StatusCreated {
		t.Fatalf("PUT: %d %s", st, body)
	}
	if !strings.Contains(strings.ToLower(rh.Get("Access-Control-Expose-Headers")), "etag") || rh.Get("ETag") == "" {
		t.Fatalf("ETag not exposed to the browser: expose=%q etag=%q", rh.Get("Access-Control-Expose-Headers"), rh.Get("ETag"))
	}
}
