package s3

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/valetgw/valet/internal/testenv"
	"github.com/valetgw/valet/providers"
)

const (
	testKeyID  = "AKIDVALETTEST"
	testSecret = "s3cr3t-valet-test-key"
)

// fixedTime is the signing time for reproducible signatures.
var fixedTime = time.Date(2026, 11, 27, 10, 20, 30, 0, time.UTC)

// fakeS3 answers HeadBucket with 200 and every other request through
// handler (404 when nil). It records the requests it saw.
type fakeS3 struct {
	*httptest.Server
	mu      sync.Mutex
	handler http.HandlerFunc
	seen    []string
}

func newFakeS3(t testing.TB) *fakeS3 {
	f := &fakeS3{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.seen = append(f.seen, r.Method+" "+r.URL.RequestURI())
		h := f.handler
		f.mu.Unlock()
		if r.Method == http.MethodHead && strings.Count(strings.Trim(r.URL.Path, "/"), "/") == 0 {
			w.WriteHeader(http.StatusOK)
			return
		}
		if h == nil {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		h(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeS3) respond(h http.HandlerFunc) {
	f.mu.Lock()
	f.handler = h
	f.mu.Unlock()
}

func configure(t testing.TB, p providers.Provider, cfg map[string]any) error {
	t.Helper()
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p.Configure(context.Background(), providers.StoreConfig{Store: "test", Config: raw})
}

// newTestProvider returns a provider configured against a fake endpoint
// with a fixed clock.
func newTestProvider(t *testing.T, f *fakeS3, extra map[string]any) *Provider {
	t.Helper()
	p := New().(*Provider)
	p.now = func() time.Time { return fixedTime }
	cfg := map[string]any{
		"bucket": "media", "endpoint": f.URL, "path_style": true,
		"access_key_id": testKeyID, "secret_access_key": testSecret,
	}
	for k, v := range extra {
		cfg[k] = v
	}
	if err := configure(t, p, cfg); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return p
}

func TestConfigErrors(t *testing.T) {
	f := newFakeS3(t)
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte(testSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := func(kv ...any) map[string]any {
		return testenv.ConfigWith(map[string]any{"bucket": "media", "endpoint": f.URL, "access_key_id": testKeyID, "secret_access_key": testSecret}, kv...)
	}
	tests := []struct {
		name  string
		minio bool
		cfg   map[string]any
		want  string // substring of the error; "" = success
	}{
		{"ok", false, base(), ""},
		{"ok path style string", false, base("path_style", "true"), ""},
		{"ok secret file", false, base("secret_access_key", nil, "secret_access_key_file", secretFile), ""},
		{"ok minio", true, base(), ""},
		{"unknown key", false, base("bucket_name", "x"), "config.bucket_name: unknown key"},
		{"missing bucket", false, base("bucket", nil), "config.bucket: required"},
		{"bucket with slash", false, base("bucket", "a/b"), "config.bucket:"},
		{"minio needs endpoint", true, base("endpoint", nil), "config.endpoint: required for the minio provider"},
		{"bad endpoint", false, base("endpoint", "ftp://x"), "config.endpoint:"},
		{"endpoint with query", false, base("endpoint", "http://x?a=b"), "config.endpoint:"},
		{"bad public endpoint", false, base("public_endpoint", "not a url"), "config.public_endpoint:"},
		{"wrong type", false, base("region", 5), "config.region: expected string"},
		{"bad path_style", false, base("path_style", "maybe"), "config.path_style"},
		{"secret without key", false, base("access_key_id", nil), "config.access_key_id: required with secret_access_key"},
		{"key without secret", false, base("secret_access_key", nil), "config.secret_access_key: required with access_key_id"},
		{"inline and file", false, base("secret_access_key_file", secretFile), "config.secret_access_key: set either"},
		{"missing file", false, base("secret_access_key", nil, "secret_access_key_file", filepath.Join(dir, "nope")), "config.secret_access_key_file: cannot read"},
		{"virtual host needs dns bucket", false, base("bucket", "My_Bucket", "path_style", false, "endpoint", "http://localhost:1"), "set path_style: true"},
		{"virtual host needs a host name", false, base("path_style", false), "config.path_style: must be true"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := New()
			if tc.minio {
				p = NewMinIO()
			}
			err := configure(t, p, tc.cfg)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Configure: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Configure error = %v, want it to contain %q", err, tc.want)
			}
			if providers.CodeOf(err) != providers.InvalidArgument {
				t.Errorf("code = %s, want InvalidArgument", providers.CodeOf(err))
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Errorf("error leaks the secret: %v", err)
			}
		})
	}
}

func TestConfigureBucketChecks(t *testing.T) {
	t.Run("missing bucket", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) }))
		defer srv.Close()
		err := configure(t, New(), map[string]any{"bucket": "nope", "endpoint": srv.URL, "access_key_id": "a", "secret_access_key": "b"})
		if providers.CodeOf(err) != providers.InvalidArgument || !strings.Contains(err.Error(), `config.bucket: bucket "nope" not found`) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("access denied is accepted", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(403) }))
		defer srv.Close()
		if err := configure(t, New(), map[string]any{"bucket": "b", "endpoint": srv.URL, "access_key_id": "a", "secret_access_key": "b"}); err != nil {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		raw, _ := json.Marshal(map[string]any{"bucket": "b", "endpoint": "http://" + addr, "access_key_id": "a", "secret_access_key": testSecret})
		err = New().Configure(ctx, providers.StoreConfig{Config: raw})
		if providers.CodeOf(err) != providers.Unavailable {
			t.Fatalf("err = %v, want Unavailable", err)
		}
		if strings.Contains(err.Error(), testSecret) || strings.Contains(err.Error(), "X-Amz") {
			t.Errorf("error leaks request details: %v", err)
		}
	})
}

func TestNotConfigured(t *testing.T) {
	_, err := New().SignPut(context.Background(), providers.PutRequest{Key: "k", Size: 1, TTL: time.Minute})
	if providers.CodeOf(err) != providers.FailedPrecondition {
		t.Fatalf("err = %v", err)
	}
	info, err := NewMinIO().Info(context.Background())
	if err != nil || info.Name != "minio" || info.Capabilities.MaxExpiry != 7*24*time.Hour {
		t.Fatalf("Info = %+v, %v", info, err)
	}
}

// capturePresigner wraps the SDK's presigner to pin the signing time, so
// that presign-client URLs can be compared byte for byte with ours.
type capturePresigner struct{ signer *v4.Signer }

func (c capturePresigner) PresignHTTP(ctx context.Context, creds aws.Credentials, r *http.Request, payloadHash, service, region string, _ time.Time, optFns ...func(*v4.SignerOptions)) (string, http.Header, error) {
	return c.signer.PresignHTTP(ctx, creds, r, payloadHash, service, region, fixedTime, optFns...)
}

func sdkPresignClient(p *Provider) *s3.PresignClient {
	st := p.st.Load()
	ep := st.cfg.Endpoint
	if st.cfg.PublicEndpoint != "" {
		ep = st.cfg.PublicEndpoint
	}
	client := s3.New(s3.Options{
		Region:       st.cfg.Region,
		BaseEndpoint: aws.String(ep),
		UsePathStyle: bool(*st.cfg.PathStyle),
		Credentials:  st.creds,
	})
	return s3.NewPresignClient(client, func(o *s3.PresignOptions) {
		// The same signer options as the S3 client's default presigner.
		o.Presigner = capturePresigner{v4.NewSigner(func(so *v4.SignerOptions) { so.DisableURIPathEscaping = true })}
	})
}

// TestSignMatchesPresignClient proves that the direct v4.Signer path binds
// exactly what s3.PresignClient binds: given the same inputs (and the
// presign client's extra x-id and checksum-algorithm query parameters), the
// two URLs are identical, signature included, and the headers to send are
// the same.
func TestSignMatchesPresignClient(t *testing.T) {
	f := newFakeS3(t)
	for _, style := range []bool{true, false} {
		// The SDK falls back to path style for IP hosts, so a host name is
		// used; presigning never dials it.
		p := newTestProvider(t, f, map[string]any{"path_style": style, "public_endpoint": "http://s3.example.test:9000"})
		pc := sdkPresignClient(p)
		st := p.st.Load()
		creds, _ := st.creds.Retrieve(context.Background())
		ctx := context.Background()
		key := "users/ä b+c/(1)~!*'@.bin"
		sum := "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="
		md5 := "1B2M2Y8AsgTpgAmY7PhCfg=="

		cases := []struct {
			name   string
			put    providers.PutRequest
			sdk    func() (*url.URL, http.Header)
			extraQ url.Values
		}{
			{
				name: "put type length",
				put:  providers.PutRequest{Key: key, ContentType: "video/mp4", Size: 1234, TTL: 15 * time.Minute},
				sdk: func() (*url.URL, http.Header) {
					return presignPut(t, pc, &s3.PutObjectInput{Bucket: aws.String("media"), Key: aws.String(key), ContentType: aws.String("video/mp4"), ContentLength: aws.Int64(1234)}, 15*time.Minute)
				},
				extraQ: url.Values{"x-id": {"PutObject"}},
			},
			{
				name: "put checksum create-only metadata",
				put: providers.PutRequest{Key: key, ContentType: "image/png", Size: 99, TTL: time.Hour, CreateOnly: true,
					Checksum: &providers.Checksum{Algorithm: providers.SHA256, Value: sum}, Metadata: map[string]string{"owner": "alice", "Trace": "x-1"}},
				sdk: func() (*url.URL, http.Header) {
					return presignPut(t, pc, &s3.PutObjectInput{Bucket: aws.String("media"), Key: aws.String(key), ContentType: aws.String("image/png"),
						ContentLength: aws.Int64(99), IfNoneMatch: aws.String("*"), ChecksumSHA256: aws.String(sum),
						Metadata: map[string]string{"owner": "alice", "trace": "x-1"}}, time.Hour)
				},
				extraQ: url.Values{"x-id": {"PutObject"}},
			},
			{
				name: "put md5",
				put:  providers.PutRequest{Key: key, Size: 5, TTL: time.Minute, Checksum: &providers.Checksum{Algorithm: providers.MD5, Value: md5}},
				sdk: func() (*url.URL, http.Header) {
					return presignPut(t, pc, &s3.PutObjectInput{Bucket: aws.String("media"), Key: aws.String(key), ContentLength: aws.Int64(5), ContentMD5: aws.String(md5)}, time.Minute)
				},
				extraQ: url.Values{"x-id": {"PutObject"}},
			},
			{
				name: "put crc32c",
				put:  providers.PutRequest{Key: key, ContentType: "text/plain", Size: 17, TTL: time.Minute, Checksum: &providers.Checksum{Algorithm: providers.CRC32C, Value: "yZRlqg=="}},
				sdk: func() (*url.URL, http.Header) {
					return presignPut(t, pc, &s3.PutObjectInput{Bucket: aws.String("media"), Key: aws.String(key), ContentType: aws.String("text/plain"), ContentLength: aws.Int64(17), ChecksumCRC32C: aws.String("yZRlqg==")}, time.Minute)
				},
				extraQ: url.Values{"x-id": {"PutObject"}},
			},
		}
		for _, tc := range cases {
			t.Run(fmt.Sprintf("path_style=%v/%s", style, tc.name), func(t *testing.T) {
				h, err := putHeaders(tc.put)
				if err != nil {
					t.Fatal(err)
				}
				wantHeaders := make(map[string]string)
				for k, v := range h {
					wantHeaders[strings.ToLower(k)] = v[0]
				}
				secs, _, _ := st.expiry(ctx, fixedTime, tc.put.TTL)
				got, err := st.sign(ctx, creds, fixedTime, secs, http.MethodPut, tc.put.Key, tc.extraQ, h, tc.put.Size)
				if err != nil {
					t.Fatal(err)
				}
				sdkURL, sdkHeaders := tc.sdk()
				if got.URL != sdkURL.String() {
					t.Errorf("URLs differ\n ours: %s\n  sdk: %s", got.URL, sdkURL)
				}
				for k, v := range sdkHeaders {
					k = strings.ToLower(k)
					if k == "host" || k == "content-length" {
						continue
					}
					if wantHeaders[k] != v[0] {
						t.Errorf("header %s: sdk signs %q, recipe has %q", k, v[0], wantHeaders[k])
					}
					delete(wantHeaders, k)
				}
				if len(wantHeaders) > 0 {
					t.Errorf("recipe headers not signed by the sdk: %v", wantHeaders)
				}
				if tc.put.Size > 0 && !strings.Contains(sdkURL.Query().Get("X-Amz-SignedHeaders"), "content-length") {
					t.Errorf("sdk did not sign content-length: %s", sdkURL.Query().Get("X-Amz-SignedHeaders"))
				}
			})
		}

		t.Run(fmt.Sprintf("path_style=%v/get overrides", style), func(t *testing.T) {
			q := url.Values{"x-id": {"GetObject"}, "response-content-type": {"video/mp4"}, "response-content-disposition": {`attachment; filename="a b.mp4"`}}
			got, err := st.sign(ctx, creds, fixedTime, 300, http.MethodGet, key, q, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			req, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("media"), Key: aws.String(key),
				ResponseContentType: aws.String("video/mp4"), ResponseContentDisposition: aws.String(`attachment; filename="a b.mp4"`)},
				s3.WithPresignExpires(5*time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if got.URL != req.URL {
				t.Errorf("URLs differ\n ours: %s\n  sdk: %s", got.URL, req.URL)
			}
		})

		t.Run(fmt.Sprintf("path_style=%v/upload part", style), func(t *testing.T) {
			q := url.Values{"x-id": {"UploadPart"}, "partNumber": {"7"}, "uploadId": {"up/1+2="}}
			got, err := st.sign(ctx, creds, fixedTime, 600, http.MethodPut, key, q, nil, 5<<20)
			if err != nil {
				t.Fatal(err)
			}
			req, err := pc.PresignUploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("media"), Key: aws.String(key),
				PartNumber: aws.Int32(7), UploadId: aws.String("up/1+2="), ContentLength: aws.Int64(5 << 20)},
				s3.WithPresignExpires(10*time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if got.URL != req.URL {
				t.Errorf("URLs differ\n ours: %s\n  sdk: %s", got.URL, req.URL)
			}
		})
	}
}

func presignPut(t *testing.T, pc *s3.PresignClient, in *s3.PutObjectInput, ttl time.Duration) (*url.URL, http.Header) {
	t.Helper()
	req, err := pc.PresignPutObject(context.Background(), in, s3.WithPresignExpires(ttl))
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(req.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u, req.SignedHeader
}

func TestSignPutRecipe(t *testing.T) {
	f := newFakeS3(t)
	p := newTestProvider(t, f, map[string]any{"public_endpoint": "https://files.example.com"})
	ctx := context.Background()
	r, err := p.SignPut(ctx, providers.PutRequest{Key: "a/b c.txt", ContentType: "text/plain", Size: 10, CreateOnly: true,
		Metadata: map[string]string{"Owner": "bob"}, TTL: 90*time.Second + time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(r.URL)
	if u.Host != "files.example.com" || u.EscapedPath() != "/media/a/b%20c.txt" {
		t.Errorf("URL = %s, want the public endpoint, path style", r.URL)
	}
	q := u.Query()
	if q.Get("X-Amz-Expires") != "91" {
		t.Errorf("X-Amz-Expires = %s, want 91 (TTL rounded up)", q.Get("X-Amz-Expires"))
	}
	if sh := q.Get("X-Amz-SignedHeaders"); sh != "content-length;content-type;host;if-none-match;x-amz-meta-owner" {
		t.Errorf("SignedHeaders = %s", sh)
	}
	want := map[string]string{"Content-Type": "text/plain", "If-None-Match": "*", "x-amz-meta-owner": "bob"}
	if fmt.Sprint(r.Headers) != fmt.Sprint(want) {
		t.Errorf("Headers = %v, want %v", r.Headers, want)
	}
	if !r.ExpiresAt.Equal(fixedTime.Add(91 * time.Second)) {
		t.Errorf("ExpiresAt = %s", r.ExpiresAt)
	}
	if strings.Contains(r.URL, testSecret) {
		t.Error("URL contains the secret")
	}

	// A zero-byte upload is bound by the checksum of no content.
	r, err = p.SignPut(ctx, providers.PutRequest{Key: "empty", Size: 0, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if r.Headers["x-amz-checksum-sha256"] != emptySHA256 {
		t.Errorf("zero-byte upload headers = %v", r.Headers)
	}

	bad := []providers.PutRequest{
		{Key: "k", Size: -1, TTL: time.Minute},
		{Key: "k", Size: 6 << 30, TTL: time.Minute},
		{Key: "k", Size: 1, TTL: 0},
		{Key: "k", Size: 1, TTL: 8 * 24 * time.Hour},
		{Key: "k", Size: 1, TTL: time.Minute, ContentType: "text/plain\r\nX-Evil: 1"},
		{Key: "k", Size: 1, TTL: time.Minute, Checksum: &providers.Checksum{Algorithm: providers.SHA256, Value: "abc"}},
		{Key: "k", Size: 1, TTL: time.Minute, Checksum: &providers.Checksum{Algorithm: providers.CRC32C, Value: "AAAAAAAA"}},
		{Key: "k", Size: 1, TTL: time.Minute, Checksum: &providers.Checksum{Algorithm: "sha1", Value: "AAAAAA=="}},
		{Key: "k", Size: 1, TTL: time.Minute, Metadata: map[string]string{"bad name": "v"}},
		{Key: "k", Size: 1, TTL: time.Minute, Metadata: map[string]string{"n": "caf\u00e9"}},
		{Key: "k", Size: 1, TTL: time.Minute, Metadata: map[string]string{"n": strings.Repeat("x", 3000)}},
	}
	for _, req := range bad {
		if _, err := p.SignPut(ctx, req); providers.CodeOf(err) != providers.InvalidArgument {
			t.Errorf("SignPut(%+v) err = %v, want InvalidArgument", req, err)
		}
	}
}

func TestVirtualHostedURL(t *testing.T) {
	f := newFakeS3(t)
	p := newTestProvider(t, f, map[string]any{"path_style": false, "public_endpoint": "https://s3.example.com:8443/prefix/"})
	r, err := p.SignGet(context.Background(), providers.GetRequest{Key: "x/y", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.URL, "https://media.s3.example.com:8443/prefix/x/y?") {
		t.Errorf("URL = %s", r.URL)
	}
}

// expiringCreds are temporary credentials that expire at a fixed time.
type expiringCreds struct{ expires time.Time }

func (c expiringCreds) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret, SessionToken: "tok",
		CanExpire: true, Expires: c.expires}, nil
}

func TestTemporaryCredentialsClampExpiry(t *testing.T) {
	f := newFakeS3(t)
	p := newTestProvider(t, f, nil)
	st := *p.st.Load()
	st.creds = expiringCreds{expires: fixedTime.Add(10 * time.Minute)}
	st.temporary = true
	p.st.Store(&st)

	r, err := p.SignGet(context.Background(), providers.GetRequest{Key: "k", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(r.URL)
	if got := u.Query().Get("X-Amz-Expires"); got != "600" {
		t.Errorf("X-Amz-Expires = %s, want 600 (clamped to the credentials)", got)
	}
	if u.Query().Get("X-Amz-Security-Token") != "tok" {
		t.Error("session token missing from the URL")
	}
	if !r.ExpiresAt.Equal(fixedTime.Add(10 * time.Minute)) {
		t.Errorf("ExpiresAt = %s", r.ExpiresAt)
	}

	st.creds = expiringCreds{expires: time.Now().Add(2 * time.Hour)}
	p.st.Store(&st)
	info, err := p.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if m := info.Capabilities.MaxExpiry; m > 2*time.Hour || m < 2*time.Hour-time.Minute {
		t.Errorf("MaxExpiry = %s, want about 2h", m)
	}

	st.creds = expiringCreds{expires: fixedTime.Add(-time.Second)}
	p.st.Store(&st)
	if _, err := p.SignGet(context.Background(), providers.GetRequest{Key: "k", TTL: time.Hour}); providers.CodeOf(err) != providers.Unavailable {
		t.Errorf("expired credentials: err = %v, want Unavailable", err)
	}
}

func TestSignPartsValidation(t *testing.T) {
	f := newFakeS3(t)
	p := newTestProvider(t, f, nil)
	ctx := context.Background()
	signed, err := p.SignParts(ctx, providers.SignPartsRequest{Key: "k", UploadID: "u1", TTL: time.Minute,
		Parts: []providers.PartSpec{{Number: 2, Size: 5 << 20}, {Number: 1}}})
	parts := signed.Parts
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 2 || parts[0].Number != 2 || parts[1].Number != 1 {
		t.Fatalf("parts = %+v", parts)
	}
	u0, _ := url.Parse(parts[0].Recipe.URL)
	u1, _ := url.Parse(parts[1].Recipe.URL)
	if u0.Query().Get("X-Amz-SignedHeaders") != "content-length;host" || u1.Query().Get("X-Amz-SignedHeaders") != "host" {
		t.Errorf("signed headers: %s / %s", u0.Query().Get("X-Amz-SignedHeaders"), u1.Query().Get("X-Amz-SignedHeaders"))
	}
	if u0.Query().Get("partNumber") != "2" || u0.Query().Get("uploadId") != "u1" {
		t.Errorf("query = %v", u0.Query())
	}
	for _, req := range []providers.SignPartsRequest{
		{Key: "k", UploadID: "", Parts: []providers.PartSpec{{Number: 1}}, TTL: time.Minute},
		{Key: "k", UploadID: "u", Parts: nil, TTL: time.Minute},
		{Key: "k", UploadID: "u", Parts: []providers.PartSpec{{Number: 0}}, TTL: time.Minute},
		{Key: "k", UploadID: "u", Parts: []providers.PartSpec{{Number: 10001}}, TTL: time.Minute},
		{Key: "k", UploadID: "u", Parts: []providers.PartSpec{{Number: 1, Size: 6 << 30}}, TTL: time.Minute},
	} {
		if _, err := p.SignParts(ctx, req); providers.CodeOf(err) != providers.InvalidArgument {
			t.Errorf("SignParts(%+v) err = %v, want InvalidArgument", req, err)
		}
	}
	for _, req := range []providers.CreateMultipartRequest{
		{Key: "k", Size: 100 << 20, PartSize: 1 << 20},
		{Key: "k", Size: 100 << 30, PartSize: 6 << 30},
		{Key: "k", Size: 60000 << 20, PartSize: 5 << 20},
	} {
		if _, err := p.CreateMultipart(ctx, req); providers.CodeOf(err) != providers.InvalidArgument {
			t.Errorf("CreateMultipart(%+v) err = %v, want InvalidArgument", req, err)
		}
	}
	if _, err := p.CompleteMultipart(ctx, providers.CompleteMultipartRequest{Key: "k", UploadID: "u", Parts: []providers.CompletedPart{{Number: 1}}}); providers.CodeOf(err) != providers.InvalidArgument {
		t.Errorf("complete without ETag: err = %v", err)
	}
}

func s3Error(status int, code string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		if r.Method != http.MethodHead {
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>msg with %s</Message><RequestId>r1</RequestId></Error>`, code, testSecret)
		}
	}
}

func TestErrorMapping(t *testing.T) {
	f := newFakeS3(t)
	p := newTestProvider(t, f, nil)
	ctx := context.Background()
	complete := func() error {
		_, err := p.CompleteMultipart(ctx, providers.CompleteMultipartRequest{Key: "k", UploadID: "u", Parts: []providers.CompletedPart{{Number: 1, ETag: `"e"`}}})
		return err
	}
	list := func() error { _, err := p.List(ctx, providers.ListRequest{Prefix: "p", Limit: 10}); return err }
	head := func() error { _, err := p.Head(ctx, providers.HeadRequest{Key: "k"}); return err }
	tests := []struct {
		name    string
		handler http.HandlerFunc
		call    func() error
		want    providers.Code
	}{
		{"head 404", s3Error(404, "NotFound"), head, providers.NotFound},
		{"head 403", s3Error(403, "Forbidden"), head, providers.PermissionDenied},
		{"list no such bucket", s3Error(404, "NoSuchBucket"), list, providers.NotFound},
		{"list access denied", s3Error(403, "AccessDenied"), list, providers.PermissionDenied},
		{"list wrong secret", s3Error(403, "SignatureDoesNotMatch"), list, providers.Unauthenticated},
		{"list unknown key", s3Error(403, "InvalidAccessKeyId"), list, providers.Unauthenticated},
		{"list slow down", s3Error(503, "SlowDown"), list, providers.Unavailable},
		{"list unknown 400", s3Error(400, "Weird"), list, providers.InvalidArgument},
		{"complete invalid part", s3Error(400, "InvalidPart"), complete, providers.FailedPrecondition},
		{"complete too small", s3Error(400, "EntityTooSmall"), complete, providers.FailedPrecondition},
		{"complete no such upload", s3Error(404, "NoSuchUpload"), complete, providers.NotFound},
		{"complete precondition", s3Error(412, "PreconditionFailed"), complete, providers.AlreadyExists},
		{"delete missing is fine", s3Error(404, "NoSuchKey"), func() error { _, err := p.Delete(ctx, providers.DeleteRequest{Key: "k"}); return err }, ""},
		{"abort unknown is fine", s3Error(404, "NoSuchUpload"), func() error {
			_, err := p.AbortMultipart(ctx, providers.AbortMultipartRequest{Upload: providers.MultipartRef{Key: "k", UploadID: "u"}})
			return err
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.respond(tc.handler)
			err := tc.call()
			if got := providers.CodeOf(err); got != tc.want {
				t.Fatalf("code = %q (%v), want %q", got, err, tc.want)
			}
			if err != nil && (strings.Contains(err.Error(), testSecret) || strings.Contains(err.Error(), "http://")) {
				t.Errorf("error leaks server message or URL: %v", err)
			}
			var pe *providers.Error
			if err != nil && !errors.As(err, &pe) {
				t.Errorf("not a *providers.Error: %T", err)
			}
		})
	}
}

func TestHeadAndList(t *testing.T) {
	f := newFakeS3(t)
	p := newTestProvider(t, f, nil)
	ctx := context.Background()
	f.respond(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodHead:
			if r.Header.Get("x-amz-checksum-mode") != "ENABLED" {
				w.WriteHeader(400)
				return
			}
			w.Header().Set("Content-Length", "42")
			w.Header().Set("Content-Type", "video/mp4")
			w.Header().Set("ETag", `"abc"`)
			w.Header().Set("Last-Modified", "Fri, 27 Nov 2026 10:00:00 GMT")
			w.Header().Set("x-amz-meta-owner", "alice")
			w.Header().Set("x-amz-checksum-sha256", "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=")
			w.Header().Set("x-amz-checksum-crc32c", "AAAAAA==-2")
		case r.URL.Query().Get("list-type") == "2":
			if r.URL.Query().Get("continuation-token") != "c1" || r.URL.Query().Get("max-keys") != "2" || r.URL.Query().Get("prefix") != "p/" {
				w.WriteHeader(400)
				return
			}
			fmt.Fprint(w, `<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>c2</NextContinuationToken>
<Contents><Key>p/a</Key><Size>3</Size><ETag>"e1"</ETag><LastModified>2026-11-27T10:00:00.000Z</LastModified></Contents>
<Contents><Key>p/b</Key><Size>4</Size><ETag>"e2"</ETag><LastModified>2026-11-27T10:00:00.000Z</LastModified></Contents></ListBucketResult>`)
		default:
			w.WriteHeader(404)
		}
	})
	obj, err := p.Head(ctx, providers.HeadRequest{Key: "v.mp4"})
	if err != nil {
		t.Fatal(err)
	}
	if obj.Size != 42 || obj.ContentType != "video/mp4" || obj.ETag != `"abc"` || obj.Metadata["owner"] != "alice" ||
		obj.Checksums[providers.SHA256] != "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=" || obj.LastModified.IsZero() {
		t.Errorf("Head = %+v", obj)
	}
	if _, ok := obj.Checksums[providers.CRC32C]; ok {
		t.Error("a composite checksum was reported as a content checksum")
	}
	page, err := p.List(ctx, providers.ListRequest{Prefix: "p/", Cursor: "c1", Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Objects) != 2 || page.Objects[1].Key != "p/b" || page.Objects[1].Size != 4 || page.NextCursor != "c2" {
		t.Errorf("List = %+v", page)
	}
}
