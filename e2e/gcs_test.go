package e2e

import (
	"bytes"
	"crypto"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"hash/crc32"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valetgw/valet/internal/testenv"
	"github.com/valetgw/valet/internal/testenv/gcsproxy"
	"github.com/valetgw/valet/plugins/host"
	"github.com/valetgw/valet/providers"
	"github.com/valetgw/valet/providers/gcs"
	"github.com/valetgw/valet/providers/providertest"
)

func init() {
	registerBackend(backend{
		Name:     "gcs",
		Provider: "gcs",
		// Composite uploads have no minimum part size.
		MinPartSize: 0,
		Setup: func(t *testing.T, origins []string) map[string]any {
			return startGCS(t, origins).config(t, "key")
		},
	})
}

const gcsEmail = "valet-e2e@valet-test.iam.gserviceaccount.com"

// gcsEnv is fake-gcs-server behind the verifying proxy (testenv.VerifiedGCS),
// with one service-account key and one HMAC key that the proxy trusts.
// Signed URLs point at the proxy; the provider's JSON API calls go,
// unauthenticated, through the proxy's JSON front to fake-gcs-server (the
// front keeps the bucket CORS, which fake-gcs-server drops).
type gcsEnv struct {
	fake       *testenv.FakeGCSServer
	proxy      *gcsproxy.Proxy
	proxyHost  string // 127.0.0.1:PORT
	jsonAPI    string // the JSON API through the proxy, which keeps bucket CORS
	bucket     string
	key        *rsa.PrivateKey
	creds      []byte // service-account key JSON
	hmacID     string
	hmacSecret string
	iamCalls   atomic.Int64
	iamURL     string
}

func startGCS(t *testing.T, origins []string) *gcsEnv {
	t.Helper()
	e := &gcsEnv{hmacID: "GOOG1EVALETE2EHMAC", hmacSecret: "e2e/hmac+secret=" + gcsRandomHex(8)}
	var err error
	if e.key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(e.key)
	e.creds, _ = json.Marshal(map[string]string{
		"type": "service_account", "project_id": "valet-test", "client_email": gcsEmail,
		"private_key_id": "e2e", "private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"token_uri": "http://127.0.0.1:1/token", // never used: without_authentication
	})
	keys := gcsproxy.Keys{RSA: map[string]*rsa.PublicKey{gcsEmail: &e.key.PublicKey}, HMAC: map[string]string{e.hmacID: e.hmacSecret}}
	gcs := testenv.VerifiedGCS(t, keys, origins)
	e.fake, e.proxy, e.proxyHost, e.jsonAPI = gcs.FakeGCSServer, gcs.Proxy, gcs.ProxyHost, gcs.ProxyJSONEndpoint
	e.bucket = e.fake.CreateBucket(t, "valet")

	// A stand-in for the IAM credentials API's signBlob, holding the key
	// Google would hold. It lets the iam signer's code path run end to end;
	// it is not Google's service.
	iam := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/serviceAccounts/"+gcsEmail+":signBlob") {
			http.Error(w, `{"error":{"code":404,"message":"not found"}}`, 404)
			return
		}
		var req struct{ Payload string }
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		blob, err := base64.StdEncoding.DecodeString(req.Payload)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		sum := sha256.Sum256(blob)
		sig, _ := rsa.SignPKCS1v15(nil, e.key, crypto.SHA256, sum[:])
		e.iamCalls.Add(1)
		json.NewEncoder(w).Encode(map[string]string{"keyId": "e2e", "signedBlob": base64.StdEncoding.EncodeToString(sig)})
	}))
	t.Cleanup(iam.Close)
	e.iamURL = iam.URL + "/"
	return e
}

// config is the store config for signer "key", "hmac" or "iam".
func (e *gcsEnv) config(t *testing.T, signer string) map[string]any {
	cfg := map[string]any{
		"bucket":                 e.bucket,
		"signer":                 signer,
		"endpoint":               e.jsonAPI,
		"without_authentication": true,
		"signing_host":           e.proxyHost,
		"signing_scheme":         "http",
		"url_style":              "path",
	}
	dir := t.TempDir()
	switch signer {
	case "key":
		cfg["credentials_file"] = writeFile(t, filepath.Join(dir, "sa.json"), e.creds)
	case "hmac":
		cfg["hmac_access_id"] = e.hmacID
		cfg["secret_file"] = writeFile(t, filepath.Join(dir, "hmac-secret"), []byte(e.hmacSecret+"\n"))
	case "iam":
		cfg["google_access_id"] = gcsEmail
		cfg["iam_endpoint"] = e.iamURL
	}
	return cfg
}

// gcsPlugin runs the gcs provider as a real plugin process.
func gcsPlugin(t *testing.T, cfg map[string]any) *host.Plugin {
	t.Helper()
	return startPlugin(t, "gcs", "gcs-e2e", cfg)
}

// gcsProxyOnly is a transport that refuses to count a refusal unless the
// verifying proxy made it: a 4xx without gcsproxy.CheckHeader (other than
// 404 for a missing object and 416) becomes a 502, so a test that expects
// a rejection fails if only fake-gcs-server refused.
type gcsProxyOnly struct{ base http.RoundTripper }

func (p gcsProxyOnly) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := p.base.RoundTrip(r)
	if err == nil && resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != 404 && resp.StatusCode != 416 &&
		resp.Header.Get(gcsproxy.CheckHeader) == "" {
		resp.Status = fmt.Sprintf("502 fake-gcs-server answered %d, not the verifying proxy", resp.StatusCode)
		resp.StatusCode = http.StatusBadGateway
	}
	return resp, err
}

var gcsClient = &http.Client{Timeout: 2 * time.Minute, Transport: gcsProxyOnly{&http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 16}}}

func gcsChecksOf(rs []gcsproxy.Rejection) []gcsproxy.Check {
	var out []gcsproxy.Check
	for _, r := range rs {
		if !slices.Contains(out, r.Check) {
			out = append(out, r.Check)
		}
	}
	slices.Sort(out)
	return out
}

// TestGCSConformance runs providertest for the gcs provider, once per
// signer, through a plugin process against fake-gcs-server behind the
// verifying proxy. Every rejection the suite expects must come from the
// proxy (see gcsProxyOnly), and afterwards the proxy must have recorded its
// signature, expiry, digest and create-only checks.
func TestGCSConformance(t *testing.T) {
	for _, signer := range []string{"key", "hmac", "iam"} {
		t.Run(signer, func(t *testing.T) {
			env := startGCS(t, nil)
			cfg := env.config(t, signer)
			p := gcsPlugin(t, cfg)
			info, err := p.Info(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			c := info.Capabilities
			if c.BindsContentLength || !c.BindsContentType || !c.Binds(providers.MD5) || !c.Binds(providers.CRC32C) ||
				c.Binds(providers.SHA256) || !c.BindsCreateOnly || !c.GetOverrides || !c.Multipart || c.MaxParts != 10000 {
				t.Fatalf("capabilities through the plugin = %+v", c)
			}
			var secretKeys []string
			if signer == "hmac" {
				secretKeys = []string{"secret"}
			}
			providertest.Run(t, providertest.Harness{Provider: p, Config: jsonOf(t, cfg), SecretKeys: secretKeys,
				Client: gcsClient, Prefix: "conformance/"})
			got := gcsChecksOf(env.proxy.Rejections())
			for _, want := range []gcsproxy.Check{gcsproxy.CheckSignature, gcsproxy.CheckExpired, gcsproxy.CheckDigest, gcsproxy.CheckPrecondition} {
				if !slices.Contains(got, want) {
					t.Errorf("the proxy never applied its %q check during the suite (applied: %v)", want, got)
				}
			}
			if signer == "iam" && env.iamCalls.Load() == 0 {
				t.Error("the iam signer never called signBlob")
			}
			t.Logf("proxy checks applied: %v; requests forwarded to fake-gcs-server: %d", got, env.proxy.Forwarded())
		})
	}
}

func gcsSend(t *testing.T, r providers.Recipe, body []byte, override map[string]string) (int, http.Header, []byte) {
	t.Helper()
	res := providertest.Send(t, gcsClient, r, body, override)
	return res.Status, res.Header, res.Body
}

func gcsCRC32C(b []byte) string {
	var s [4]byte
	binary.BigEndian.PutUint32(s[:], crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
	return base64.StdEncoding.EncodeToString(s[:])
}

// TestGCSBindings covers what providertest does not: the CRC32C binding,
// metadata, omitted signed headers, sha256 (not bound), the unbound length,
// response-content-type, and the reserved multipart prefix. Each rejection
// names the proxy check that made it.
func TestGCSBindings(t *testing.T) {
	env := startGCS(t, nil)
	for _, signer := range []string{"key", "hmac"} {
		t.Run(signer, func(t *testing.T) {
			cfg := env.config(t, signer)
			p := gcsPlugin(t, cfg)
			ctx := t.Context()
			sign := func(req providers.PutRequest) providers.Recipe {
				t.Helper()
				req.TTL = time.Minute
				r, err := p.SignPut(ctx, req)
				if err != nil {
					t.Fatalf("SignPut: %v", err)
				}
				return r
			}
			expect := func(what string, status int, h http.Header, wantStatus int, check gcsproxy.Check) {
				t.Helper()
				if status != wantStatus || h.Get(gcsproxy.CheckHeader) != string(check) {
					t.Errorf("%s: %d (proxy check %q), want %d from the proxy's %q check", what, status, h.Get(gcsproxy.CheckHeader), wantStatus, check)
				}
			}
			body := []byte("crc32c-bound body")
			key := signer + "/crc.bin"
			r := sign(providers.PutRequest{Key: key, ContentType: "application/octet-stream", Size: int64(len(body)),
				Checksum: &providers.Checksum{Algorithm: providers.CRC32C, Value: gcsCRC32C(body)}, Metadata: map[string]string{"owner": "alice"}})
			if r.Headers["X-Goog-Hash"] != "crc32c="+gcsCRC32C(body) || r.Headers["X-Goog-Meta-Owner"] != "alice" {
				t.Fatalf("recipe headers = %v", r.Headers)
			}
			s, h, _ := gcsSend(t, r, []byte("a different body!"), nil)
			expect("crc32c, wrong body", s, h, 400, gcsproxy.CheckDigest)
			s, h, _ = gcsSend(t, r, body, map[string]string{"X-Goog-Hash": ""})
			expect("crc32c header omitted", s, h, 403, gcsproxy.CheckSignedHeader)
			s, h, _ = gcsSend(t, r, body, map[string]string{"X-Goog-Meta-Owner": "mallory"})
			expect("metadata changed", s, h, 403, gcsproxy.CheckSignature)
			s, h, _ = gcsSend(t, r, body, map[string]string{"Content-Type": ""})
			expect("content type omitted", s, h, 403, gcsproxy.CheckSignedHeader)
			if s, _, b := gcsSend(t, r, body, nil); s != 200 {
				t.Fatalf("valid crc32c PUT: %d %s", s, b)
			}
			obj, err := p.Head(ctx, providers.HeadRequest{Key: key})
			if err != nil || obj.Checksums[providers.CRC32C] != gcsCRC32C(body) || obj.Metadata["owner"] != "alice" {
				t.Fatalf("Head = %+v, %v", obj, err)
			}

			// sha256 is accepted but not bound: nothing in the recipe names it.
			r = sign(providers.PutRequest{Key: signer + "/sha.bin", ContentType: "text/plain", Size: 3,
				Checksum: &providers.Checksum{Algorithm: providers.SHA256, Value: base64.StdEncoding.EncodeToString(make([]byte, 32))}})
			for k := range r.Headers {
				if strings.Contains(strings.ToLower(k), "sha256") || strings.Contains(strings.ToLower(r.Headers[k]), "sha256") {
					t.Errorf("sha256 must not be bound (GCS cannot verify it), recipe has %s", k)
				}
			}
			// The length is not bound (Info says so): a longer body is
			// stored, and complete must catch it by HEAD.
			if s, _, _ := gcsSend(t, r, []byte("four"), nil); s != 200 {
				t.Fatalf("unbound length: %d", s)
			}
			if obj, err := p.Head(ctx, providers.HeadRequest{Key: signer + "/sha.bin"}); err != nil || obj.Size != 4 {
				t.Fatalf("Head after an oversized PUT = %+v, %v; want size 4 for complete to reject", obj, err)
			}

			g, err := p.SignGet(ctx, providers.GetRequest{Key: key, TTL: time.Minute, ResponseContentType: "text/plain; charset=utf-8"})
			if err != nil {
				t.Fatal(err)
			}
			if s, h, b := gcsSend(t, g, nil, nil); s != 200 || h.Get("Content-Type") != "text/plain; charset=utf-8" || !bytes.Equal(b, body) {
				t.Fatalf("GET with response-content-type: %d %q", s, h.Get("Content-Type"))
			}

			for _, k := range []string{".valet-parts/x", ".valet-parts/0123456789abcdef0123456789abcdef/p00001"} {
				if _, err := p.SignPut(ctx, providers.PutRequest{Key: k, Size: 1, TTL: time.Minute}); !errors.Is(err, providers.ErrInvalidArgument) {
					t.Errorf("SignPut(%q) in the reserved prefix: %v, want InvalidArgument", k, err)
				}
			}
		})
	}
}

// TestGCSMultipartCompose uploads 64 MiB in 40 parts through the plugin
// (two compose rounds), and 1100 one-byte parts (three rounds), reads each
// back through a signed GET and checks that no temporary is left.
func TestGCSMultipartCompose(t *testing.T) {
	env := startGCS(t, nil)
	p := gcsPlugin(t, env.config(t, "hmac"))
	ctx := t.Context()
	run := func(t *testing.T, key string, parts [][]byte) {
		up, err := p.CreateMultipart(ctx, providers.CreateMultipartRequest{Key: key, ContentType: "video/mp4", TTL: time.Hour,
			Metadata: map[string]string{"kind": "composite"}})
		if err != nil {
			t.Fatal(err)
		}
		specs := make([]providers.PartSpec, len(parts))
		for i, b := range parts {
			specs[i] = providers.PartSpec{Number: i + 1, Size: int64(len(b))}
		}
		signed, err := p.SignParts(ctx, providers.SignPartsRequest{Key: key, UploadID: up.UploadID, Parts: specs, TTL: time.Hour})
		recipes := signed.Parts
		if err != nil {
			t.Fatal(err)
		}
		var done []providers.CompletedPart
		sem := make(chan struct{}, 8)
		errs := make(chan error, len(recipes))
		etags := make([]string, len(recipes))
		for i, pr := range recipes {
			sem <- struct{}{}
			go func() {
				defer func() { <-sem }()
				s, h, b := gcsSend(t, pr.Recipe, parts[i], nil)
				if s != 200 {
					errs <- fmt.Errorf("part %d: %d %s", pr.Number, s, b)
					return
				}
				etags[i] = h.Get("ETag")
			}()
		}
		for range cap(sem) {
			sem <- struct{}{}
		}
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		for i, pr := range recipes {
			done = append(done, providers.CompletedPart{Number: pr.Number, ETag: etags[i]})
		}
		start := time.Now()
		obj, err := p.CompleteMultipart(ctx, providers.CompleteMultipartRequest{Key: key, UploadID: up.UploadID, Parts: done})
		if err != nil {
			t.Fatalf("CompleteMultipart: %v", err)
		}
		want := bytes.Join(parts, nil)
		t.Logf("%d parts, %d bytes: complete took %s", len(parts), len(want), time.Since(start).Round(time.Millisecond))
		if obj.Size != int64(len(want)) || obj.ContentType != "video/mp4" || obj.Metadata["kind"] != "composite" {
			t.Fatalf("completed object = %+v", obj)
		}
		g, _ := p.SignGet(ctx, providers.GetRequest{Key: key, TTL: time.Minute})
		s, _, got := gcsSend(t, g, nil, nil)
		if s != 200 || sha256.Sum256(got) != sha256.Sum256(want) {
			t.Fatalf("read back: status %d, %d bytes, equal=%v", s, len(got), bytes.Equal(got, want))
		}
		if left := env.fake.ObjectNames(t, env.bucket, ".valet-parts/"); len(left) != 0 {
			t.Fatalf("%d temporaries left after complete, e.g. %q", len(left), left[0])
		}
	}
	t.Run("64MiB in 40 parts", func(t *testing.T) {
		data := make([]byte, 64<<20)
		rand.Read(data)
		var parts [][]byte
		const n = 40
		size := len(data) / n
		for i := range n {
			end := (i + 1) * size
			if i == n-1 {
				end = len(data)
			}
			parts = append(parts, data[i*size:end])
		}
		run(t, "big/movie 64MiB.mp4", parts)
	})
	t.Run("1100 parts", func(t *testing.T) {
		parts := make([][]byte, 1100)
		for i := range parts {
			parts[i] = []byte{byte(i), byte(i >> 8)}
		}
		run(t, "many/parts.bin", parts)
	})
}

// TestGCSSweep checks that stale multipart temporaries are removed and
// fresh ones kept (in process: Sweep is not part of the plugin API).
func TestGCSSweep(t *testing.T) {
	env := startGCS(t, nil)
	raw, _ := json.Marshal(env.config(t, "hmac"))
	p := gcs.New().(*gcs.Provider)
	if err := p.Configure(t.Context(), providers.StoreConfig{Store: "sweep", Config: raw}); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	var ids []string
	for i := range 2 {
		key := fmt.Sprintf("sweep/%d.bin", i)
		up, err := p.CreateMultipart(ctx, providers.CreateMultipartRequest{Key: key, TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, up.UploadID)
		rs, _ := p.SignParts(ctx, providers.SignPartsRequest{Key: key, UploadID: up.UploadID, Parts: []providers.PartSpec{{Number: 1}}, TTL: time.Minute})
		if s, _, _ := gcsSend(t, rs.Parts[0].Recipe, []byte("part"), nil); s != 200 {
			t.Fatalf("part: %d", s)
		}
	}
	if n := len(env.fake.ObjectNames(t, env.bucket, ".valet-parts/")); n != 4 {
		t.Fatalf("%d temporaries before the sweep, want 4 (2 manifests + 2 parts)", n)
	}
	if n, err := p.Sweep(ctx, time.Hour); err != nil || n != 0 {
		t.Fatalf("Sweep(1h) removed %d uploads (%v); they are fresh", n, err)
	}
	// The window of the next sweep is measured from just before upload 0's
	// new part, plus a margin for storage timestamps in whole seconds, so
	// the new part is inside it and upload 1 (idle for 2*margin+1s before
	// that) outside, however long the part takes to sign and send.
	const margin = 2 * time.Second
	time.Sleep(2*margin + time.Second)
	active := time.Now()
	// Upload 0 receives another part: it is active, however old it is.
	rs, _ := p.SignParts(ctx, providers.SignPartsRequest{Key: "sweep/0.bin", UploadID: ids[0], Parts: []providers.PartSpec{{Number: 2}}, TTL: time.Minute})
	if s, _, _ := gcsSend(t, rs.Parts[0].Recipe, []byte("more"), nil); s != 200 {
		t.Fatalf("part 2: %d", s)
	}
	sent := time.Now()
	window := time.Since(active) + margin
	if n, err := p.Sweep(ctx, window); err != nil || n != 1 {
		t.Fatalf("Sweep(%s) removed %d uploads (%v), want 1: the idle one", window, n, err)
	}
	if parts, err := p.ListParts(ctx, providers.ListPartsRequest{Upload: providers.MultipartRef{Key: "sweep/0.bin", UploadID: ids[0]}}); err != nil || len(parts.Parts) != 2 {
		t.Fatalf("the active upload was swept: %v %v", parts.Parts, err)
	}
	// Once its last part is older than the window, upload 0 goes too.
	time.Sleep(time.Until(sent.Add(time.Second + margin)))
	if n, err := p.Sweep(ctx, time.Second); err != nil || n != 1 {
		t.Fatalf("Sweep(1s) removed %d uploads (%v), want the now idle one", n, err)
	}
	if left := env.fake.ObjectNames(t, env.bucket, ".valet-parts/"); len(left) != 0 {
		t.Fatalf("temporaries left: %q", left)
	}
}

type gcsNodeCase struct {
	Bucket              string            `json:"bucket"`
	Object              string            `json:"object"`
	Action              string            `json:"action"`
	AccessibleAt        string            `json:"accessibleAt"`
	ExpiresSeconds      int               `json:"expiresSeconds"`
	Host                string            `json:"host"`
	ContentType         string            `json:"contentType,omitempty"`
	ContentMD5          string            `json:"contentMd5,omitempty"`
	ExtensionHeaders    map[string]string `json:"extensionHeaders,omitempty"`
	ResponseDisposition string            `json:"responseDisposition,omitempty"`
	ResponseType        string            `json:"responseType,omitempty"`
	Key                 map[string]string `json:"key,omitempty"`
	HMAC                map[string]string `json:"hmac,omitempty"`
}

// TestGCSNodeCrossCheck signs the same requests with Valet's gcs provider
// (through its plugin) and with the official Node SDK at the same
// timestamp, and requires the same signature and the same decoded
// parameters. For the key signer the Node SDK signs outright. The Node SDK
// cannot sign with HMAC keys, so for hmac it builds the canonical request
// and sign.mjs derives the GOOG4 HMAC key with node:crypto. Every Node URL
// must also pass the proxy's independent verifier.
func TestGCSNodeCrossCheck(t *testing.T) {
	testenv.LookPath(t, "node")
	sdk := testenv.NodeModule(t, "@google-cloud/storage")
	env := startGCS(t, nil)
	md5sum := md5.Sum([]byte("x"))
	md5b64 := base64.StdEncoding.EncodeToString(md5sum[:])
	type req struct {
		put  *providers.PutRequest
		get  *providers.GetRequest
		del  *providers.SignDeleteRequest
		what string
	}
	var reqs []req
	for _, key := range []string{"plain.txt", "dir/a b+c~ü(1).bin", "spaces  and\ttab?.txt", "ünïcödé/日本語 ファイル.mp4", "sym!$&'()*+,;=:@[]{}%.bin", "tilde~/plus+/x"} {
		reqs = append(reqs,
			req{what: "GET " + key, get: &providers.GetRequest{Key: key, TTL: 900 * time.Second}},
			req{what: "PUT " + key, put: &providers.PutRequest{Key: key, ContentType: "video/mp4", Size: 1, TTL: 900 * time.Second,
				Checksum: &providers.Checksum{Algorithm: providers.MD5, Value: md5b64}, CreateOnly: true, Metadata: map[string]string{"Owner": "a  b"}}},
		)
	}
	reqs = append(reqs,
		req{what: "GET rcd quotes", get: &providers.GetRequest{Key: "r/report.csv", TTL: 3600 * time.Second,
			ResponseContentDisposition: `attachment; filename="report 2026 ü.csv"; filename*=UTF-8''report%202026.csv`, ResponseContentType: "text/csv; charset=utf-8"}},
		req{what: "GET rcd inline", get: &providers.GetRequest{Key: "r/a+b.pdf", TTL: 60 * time.Second, ResponseContentDisposition: `inline; filename="a+b~c.pdf"`}},
		req{what: "PUT crc32c", put: &providers.PutRequest{Key: "c/k", ContentType: "text/plain; charset=utf-8", Size: 1, TTL: 300 * time.Second,
			Checksum: &providers.Checksum{Algorithm: providers.CRC32C, Value: gcsCRC32C([]byte("x"))}}},
		req{what: "DELETE", del: &providers.SignDeleteRequest{Key: "d/x y.bin", TTL: 30 * time.Second}},
	)
	for _, signer := range []string{"key", "hmac"} {
		t.Run(signer, func(t *testing.T) {
			cfg := env.config(t, signer)
			p := gcsPlugin(t, cfg)
			var goRecipes []providers.Recipe
			var cases []gcsNodeCase
			for _, rq := range reqs {
				var r providers.Recipe
				var err error
				c := gcsNodeCase{Bucket: env.bucket, Host: "http://" + env.proxyHost}
				switch {
				case rq.get != nil:
					r, err = p.SignGet(t.Context(), *rq.get)
					c.Object, c.Action = rq.get.Key, "read"
					c.ResponseDisposition, c.ResponseType = rq.get.ResponseContentDisposition, rq.get.ResponseContentType
				case rq.put != nil:
					r, err = p.SignPut(t.Context(), *rq.put)
					c.Object, c.Action = rq.put.Key, "write"
				default:
					r, err = p.SignDelete(t.Context(), *rq.del)
					c.Object, c.Action = rq.del.Key, "delete"
				}
				if err != nil {
					t.Fatalf("%s: %v", rq.what, err)
				}
				for k, v := range r.Headers {
					switch strings.ToLower(k) {
					case "content-type":
						c.ContentType = v
					case "content-md5":
						c.ContentMD5 = v
					default:
						if c.ExtensionHeaders == nil {
							c.ExtensionHeaders = map[string]string{}
						}
						c.ExtensionHeaders[strings.ToLower(k)] = v
					}
				}
				q := gcsParseURL(t, r.URL).Query()
				at, err := time.Parse("20060102T150405Z", q.Get("X-Goog-Date"))
				if err != nil {
					t.Fatal(err)
				}
				c.AccessibleAt = at.Format(time.RFC3339)
				fmt.Sscan(q.Get("X-Goog-Expires"), &c.ExpiresSeconds)
				if signer == "key" {
					var sa map[string]string
					json.Unmarshal(env.creds, &sa)
					c.Key = map[string]string{"client_email": sa["client_email"], "private_key": sa["private_key"]}
				} else {
					c.HMAC = map[string]string{"access_id": env.hmacID, "secret": env.hmacSecret}
				}
				goRecipes = append(goRecipes, r)
				cases = append(cases, c)
			}
			in, _ := json.Marshal(cases)
			out := testenv.NodeScript(t, in, filepath.Join(testenv.Root(), "e2e", "gcs_node", "sign.mjs"), sdk)
			var nodeURLs []string
			if err := json.Unmarshal(out, &nodeURLs); err != nil || len(nodeURLs) != len(cases) {
				t.Fatalf("node output: %v (%d URLs for %d cases)", err, len(nodeURLs), len(cases))
			}
			identical := 0
			for i, rq := range reqs {
				gu, nu := gcsParseURL(t, goRecipes[i].URL), gcsParseURL(t, nodeURLs[i])
				gq, nq := gu.Query(), nu.Query()
				if gq.Get("X-Goog-Signature") == "" || gq.Get("X-Goog-Signature") != nq.Get("X-Goog-Signature") {
					t.Errorf("%s: signatures differ\n go   %s\n node %s", rq.what, gcsRedactSig(goRecipes[i].URL), gcsRedactSig(nodeURLs[i]))
					continue
				}
				if gq.Encode() != nq.Encode() || gu.Path != nu.Path || gu.Host != nu.Host {
					t.Errorf("%s: decoded URL differs\n go   %s %s\n node %s %s", rq.what, gu.Path, gq.Encode(), nu.Path, nq.Encode())
				}
				if goRecipes[i].URL == nodeURLs[i] {
					identical++
				}
				// The Node URL, sent with the recipe's headers, must pass the
				// proxy's verifier too.
				hr, _ := http.NewRequest(goRecipes[i].Method, nodeURLs[i], nil)
				for k, v := range goRecipes[i].Headers {
					hr.Header.Set(k, v)
				}
				hr.URL, _ = url.ParseRequestURI(nu.RequestURI())
				hr.Host = nu.Host
				if rej := gcsproxy.Verify(hr, gcsproxy.Keys{RSA: map[string]*rsa.PublicKey{gcsEmail: &env.key.PublicKey}, HMAC: map[string]string{env.hmacID: env.hmacSecret}}, time.Now()); rej != nil {
					t.Errorf("%s: the proxy rejects the Node URL: %v", rq.what, rej)
				}
			}
			t.Logf("%d cases: same signature and decoded parameters in all; byte-identical URL strings: %d", len(reqs), identical)
		})
	}
}

func gcsParseURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func gcsRedactSig(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable)"
	}
	q := u.Query()
	if s := q.Get("X-Goog-Signature"); len(s) > 8 {
		q.Set("X-Goog-Signature", s[:8]+"…")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func gcsRandomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return fmt.Sprintf("%x", b)
}
