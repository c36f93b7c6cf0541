package azure

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/valetgw/valet/internal/testenv"
	"github.com/valetgw/valet/providers"
)

const testKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

func rawConfig(t *testing.T, m map[string]any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseConfig(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte(testKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := map[string]any{"account_name": "acct1", "account_key": testKey, "container": "media"}
	with := func(kv ...any) map[string]any { return testenv.ConfigWith(base, kv...) }
	bad := []struct {
		name string
		cfg  map[string]any
		want string // substring of the error, naming the key
	}{
		{"unknown key", with("bucket", "x"), "config.bucket: unknown key"},
		{"wrong type", with("https_only", "yes"), "config.https_only"},
		{"no account", with("account_name", nil), "config.account_name: required"},
		{"bad account", with("account_name", "Has-Caps"), "config.account_name"},
		{"no container", with("container", nil), "config.container: required"},
		{"bad container", with("container", "a--b"), "config.container"},
		{"no key", with("account_key", nil), "config.account_key: required"},
		{"key not base64", with("account_key", "not base64!"), "config.account_key: not a base64"},
		{"key and file", with("account_key_file", keyFile), "config.account_key_file: give account_key or account_key_file"},
		{"missing key file", with("account_key", nil, "account_key_file", "/nonexistent/key"), "config.account_key_file"},
		{"bad credential", with("credential", "sas"), "config.credential"},
		{"tenant without ad", with("tenant_id", "t"), "config.tenant_id"},
		{"http with https_only", with("endpoint", "http://127.0.0.1:10000/devstoreaccount1"), "config.https_only"},
		{"endpoint with query", with("endpoint", "https://acct1.blob.core.windows.net/?sv=1"), "config.endpoint"},
		{"endpoint not url", with("endpoint", "ftp://x"), "config.endpoint"},
		{"ad with key", with("credential", "azure_ad"), "config.account_key: not used"},
		{"ad path-style", with("credential", "azure_ad", "account_key", nil, "endpoint", "https://127.0.0.1:10000/acct1"), "config.endpoint: credential azure_ad needs a host-style"},
		{"ad over http", with("credential", "azure_ad", "account_key", nil, "https_only", false, "endpoint", "http://acct1.blob.example.com"), "config.endpoint: credential azure_ad needs https"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig(rawConfig(t, tc.cfg))
			if !errors.Is(err, providers.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want InvalidArgument containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), testKey) {
				t.Fatalf("error echoes the account key: %v", err)
			}
		})
	}
	for _, raw := range []string{``, `[]`, `{"account_name":"acct1"} {}`} {
		if _, err := parseConfig(json.RawMessage(raw)); !errors.Is(err, providers.ErrInvalidArgument) {
			t.Errorf("parseConfig(%q) = %v, want InvalidArgument", raw, err)
		}
	}

	s, err := parseConfig(rawConfig(t, base))
	if err != nil {
		t.Fatal(err)
	}
	if s.serviceURL != "https://acct1.blob.core.windows.net" || !s.httpsOnly || s.credential != CredentialAccountKey {
		t.Fatalf("defaults: %+v", s)
	}
	s, err = parseConfig(rawConfig(t, with("account_key", nil, "account_key_file", keyFile, "https_only", false, "endpoint", "http://127.0.0.1:10000/devstoreaccount1/")))
	if err != nil {
		t.Fatal(err)
	}
	if s.keyB64 != testKey || s.httpsOnly || s.serviceURL != "http://127.0.0.1:10000/devstoreaccount1" {
		t.Fatalf("key file / emulator: https_only=%v url=%s key read=%v", s.httpsOnly, s.serviceURL, s.keyB64 == testKey)
	}
	s, err = parseConfig(rawConfig(t, with("credential", "azure_ad", "account_key", nil, "tenant_id", "tid")))
	if err != nil || s.key != nil || s.tenantID != "tid" {
		t.Fatalf("azure_ad: %+v, %v", s, err)
	}
}

// TestSASStringToSign checks the pinned version and the string-to-sign of a
// service SAS against an independent HMAC over the documented layout
// (https://learn.microsoft.com/rest/api/storageservices/create-service-sas).
func TestSASStringToSign(t *testing.T) {
	p := configured(t, "http://127.0.0.1:1/devstoreaccount1", false, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	key := `dir/a b+c~ü(1).bin`
	r, err := p.SignGet(context.Background(), providers.GetRequest{
		Key: key, TTL: 90 * time.Second,
		ResponseContentType: "text/plain", ResponseContentDisposition: `attachment; filename="x y.txt"`,
	})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(r.URL)
	q := u.Query()
	if got := q.Get("sv"); got != "2026-04-06" {
		t.Fatalf("sv = %q, want the pinned 2026-04-06", got)
	}
	if q.Get("se") != "2026-01-02T03:05:35Z" || !r.ExpiresAt.Equal(time.Date(2026, 1, 2, 3, 5, 35, 0, time.UTC)) {
		t.Fatalf("se = %s, ExpiresAt = %s", q.Get("se"), r.ExpiresAt)
	}
	if q.Has("st") {
		t.Fatal("st is signed; a start in the future (skew) makes Azure refuse the SAS")
	}
	if q.Get("spr") != "https,http" || q.Get("sp") != "r" || q.Get("sr") != "b" {
		t.Fatalf("spr=%q sp=%q sr=%q", q.Get("spr"), q.Get("sp"), q.Get("sr"))
	}
	if u.EscapedPath() != "/devstoreaccount1/media/dir/a%20b+c~%C3%BC%281%29.bin" {
		t.Fatalf("path = %s", u.EscapedPath())
	}
	sts := strings.Join([]string{
		"r", "", "2026-01-02T03:05:35Z", "/blob/devstoreaccount1/media/" + key, "", "", "https,http",
		"2026-04-06", "b", "", "", "", `attachment; filename="x y.txt"`, "", "", "text/plain",
	}, "\n")
	k, _ := base64.StdEncoding.DecodeString(testKey)
	m := hmac.New(sha256.New, k)
	m.Write([]byte(sts))
	if want := base64.StdEncoding.EncodeToString(m.Sum(nil)); q.Get("sig") != want {
		t.Fatalf("sig = %s, want %s", q.Get("sig"), want)
	}
}

func configured(t *testing.T, endpoint string, httpsOnly bool, now time.Time) *Provider {
	t.Helper()
	p := newProvider(func() time.Time { return now })
	// Every service call fails fast: these tests only sign.
	p.transport, p.retries = failingTransport{}, -1
	err := p.Configure(context.Background(), providers.StoreConfig{Store: "t", Config: rawConfig(t, map[string]any{
		"account_name": "devstoreaccount1", "account_key": testKey, "container": "media",
		"endpoint": endpoint, "https_only": httpsOnly,
	})})
	if !errors.Is(err, providers.ErrUnavailable) {
		t.Fatalf("Configure with an unreachable service = %v, want Unavailable", err)
	}
	return p
}

type failingTransport struct{}

func (failingTransport) Do(*http.Request) (*http.Response, error) {
	return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
}

func TestSignPutRecipe(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p := configured(t, "https://devstoreaccount1.blob.core.windows.net", true, now)
	ctx := context.Background()
	r, err := p.SignPut(ctx, providers.PutRequest{
		Key: "a.mp4", ContentType: "video/mp4", Size: 10, TTL: time.Minute, CreateOnly: true,
		Checksum: &providers.Checksum{Algorithm: providers.MD5, Value: "1B2M2Y8AsgTpgAmY7PhCfg=="},
		Metadata: map[string]string{"owner-id": "42", "Purpose": "x", "1st": "y"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"x-ms-blob-type": "BlockBlob", "x-ms-blob-content-type": "video/mp4", "Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg==",
		"x-ms-meta-owner_0x2d_id": "42", "x-ms-meta-purpose": "x", "x-ms-meta-_0x31_st": "y",
	}
	if fmt.Sprint(r.Headers) != fmt.Sprint(want) || r.Method != "PUT" {
		t.Fatalf("recipe %s %v, want PUT %v", r.Method, r.Headers, want)
	}
	q, _ := url.ParseQuery(r.URL[strings.IndexByte(r.URL, '?')+1:])
	if q.Get("sp") != "c" || q.Get("spr") != "https" {
		t.Fatalf("create-only: sp=%q spr=%q, want c and https", q.Get("sp"), q.Get("spr"))
	}
	// The metadata names come back decoded.
	back := map[string]*string{}
	for k, v := range want {
		if n, ok := strings.CutPrefix(k, "x-ms-meta-"); ok {
			back[strings.ToUpper(n[:1])+n[1:]] = &v // Go canonicalises the first letter
		}
	}
	if got := metadata(back); got["owner-id"] != "42" || got["purpose"] != "x" || got["1st"] != "y" || len(got) != 3 {
		t.Fatalf("decoded metadata = %v", got)
	}

	r, _ = p.SignPut(ctx, providers.PutRequest{Key: "b", Size: 1, TTL: time.Minute,
		Checksum: &providers.Checksum{Algorithm: providers.SHA256, Value: "x"}})
	if q, _ := url.ParseQuery(r.URL[strings.IndexByte(r.URL, '?')+1:]); q.Get("sp") != "w" {
		t.Fatalf("plain put: sp=%q, want w", q.Get("sp"))
	}
	if _, ok := r.Headers["Content-MD5"]; ok || len(r.Headers) != 1 {
		t.Fatalf("headers without md5 or type: %v", r.Headers)
	}

	for name, req := range map[string]providers.PutRequest{
		"zero ttl":    {Key: "k", TTL: 0},
		"ttl too big": {Key: "k", TTL: 8 * 24 * time.Hour},
		"bad md5":     {Key: "k", TTL: time.Minute, Checksum: &providers.Checksum{Algorithm: providers.MD5, Value: "AAAA"}},
		"bad meta":    {Key: "k", TTL: time.Minute, Metadata: map[string]string{"a b": "x"}},
		"dup meta":    {Key: "k", TTL: time.Minute, Metadata: map[string]string{"A": "x", "a": "y"}},
		"meta value":  {Key: "k", TTL: time.Minute, Metadata: map[string]string{"a": "line\nbreak"}},
		"too big":     {Key: "k", TTL: time.Minute, Size: 5001 << 20},
		"negative":    {Key: "k", TTL: time.Minute, Size: -1},
	} {
		if _, err := p.SignPut(ctx, req); !errors.Is(err, providers.ErrInvalidArgument) {
			t.Errorf("%s: %v, want InvalidArgument", name, err)
		}
	}
}

func TestUnconfigured(t *testing.T) {
	p := New()
	info, err := p.Info(context.Background())
	if err != nil || info.Name != "azure" || info.Capabilities.BindsContentLength || info.Capabilities.BindsContentType ||
		len(info.Capabilities.BindsChecksums) != 0 || !info.Capabilities.BindsCreateOnly ||
		info.Capabilities.MaxParts != 50000 || info.Capabilities.MaxPartSize != 4000<<20 {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	if _, err := p.SignGet(context.Background(), providers.GetRequest{Key: "k", TTL: time.Minute}); !errors.Is(err, providers.ErrFailedPrecondition) {
		t.Fatalf("SignGet before Configure: %v", err)
	}
	found := false
	for _, n := range info.Capabilities.Notes {
		found = found || strings.Contains(n, "7 days")
	}
	if !found {
		t.Fatalf("Info.Notes does not mention the 7-day block expiry: %v", info.Capabilities.Notes)
	}
}

func TestBlockIDs(t *testing.T) {
	nonce := "0123456789abcdef"
	seen := map[string]bool{}
	width := len(blockID(nonce, 1))
	for _, n := range []int{1, 2, 9, 10, 999, 50000} {
		id := blockID(nonce, n)
		if len(id) != width || strings.HasSuffix(id, "=") {
			t.Fatalf("blockID(%d) = %q: width %d, want %d without padding", n, id, len(id), width)
		}
		if seen[id] {
			t.Fatalf("duplicate id for %d", n)
		}
		seen[id] = true
		if got, ok := partNumber(nonce, id); !ok || got != n {
			t.Fatalf("partNumber(blockID(%d)) = %d, %v", n, got, ok)
		}
		if _, ok := partNumber("fedcba9876543210", id); ok {
			t.Fatal("another upload's block was taken as ours")
		}
	}
	if len(tombstoneID(nonce)) != width {
		t.Fatal("the tombstone block id must have the same width as part ids (Azure requires it)")
	}
	if _, ok := partNumber(nonce, tombstoneID(nonce)); ok {
		t.Fatal("tombstone parsed as a part")
	}
	for _, id := range []string{"", "!!", base64.StdEncoding.EncodeToString([]byte("short"))} {
		if _, ok := partNumber(nonce, id); ok {
			t.Fatalf("partNumber(%q) accepted", id)
		}
	}

	id, err := encodeUploadID(uploadState{Nonce: nonce, ContentType: "video/mp4", Metadata: map[string]string{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	u, err := decodeUploadID(id)
	if err != nil || u.Nonce != nonce || u.ContentType != "video/mp4" || u.Metadata["a"] != "b" {
		t.Fatalf("round trip: %+v %v", u, err)
	}
	for _, bad := range []string{"", "x", base64.RawURLEncoding.EncodeToString([]byte(`{"n":"short"}`)), base64.RawURLEncoding.EncodeToString([]byte(`{"n":"zzzzzzzzzzzzzzzz"}`))} {
		if _, err := decodeUploadID(bad); !errors.Is(err, providers.ErrInvalidArgument) {
			t.Errorf("decodeUploadID(%q) = %v", bad, err)
		}
	}
}

func TestMultipartValidation(t *testing.T) {
	p := configured(t, "https://devstoreaccount1.blob.core.windows.net", true, time.Now())
	ctx := context.Background()
	if _, err := p.CreateMultipart(ctx, providers.CreateMultipartRequest{Key: "k", PartSize: 4001 << 20}); !errors.Is(err, providers.ErrInvalidArgument) {
		t.Errorf("part size over 4000 MiB: %v", err)
	}
	if _, err := p.CreateMultipart(ctx, providers.CreateMultipartRequest{Key: "k", Size: 50001, PartSize: 1}); !errors.Is(err, providers.ErrInvalidArgument) {
		t.Errorf("more than 50,000 blocks: %v", err)
	}
	up, err := p.CreateMultipart(ctx, providers.CreateMultipartRequest{Key: "k", Size: 50000, PartSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	signed, err := p.SignParts(ctx, providers.SignPartsRequest{Key: "k", UploadID: up.UploadID, TTL: time.Minute, Parts: []providers.PartSpec{{Number: 7}, {Number: 2}}})
	rs := signed.Parts
	if err != nil || len(rs) != 2 || rs[0].Number != 7 || rs[1].Number != 2 {
		t.Fatalf("SignParts = %+v, %v", rs, err)
	}
	q, _ := url.ParseQuery(rs[0].Recipe.URL[strings.IndexByte(rs[0].Recipe.URL, '?')+1:])
	if q.Get("comp") != "block" || q.Get("blockid") != blockID(mustDecode(t, up.UploadID).Nonce, 7) || q.Get("sp") != "w" {
		t.Fatalf("part URL query: comp=%q blockid=%q sp=%q", q.Get("comp"), q.Get("blockid"), q.Get("sp"))
	}
	for name, parts := range map[string][]providers.PartSpec{
		"zero": {{Number: 0}}, "too high": {{Number: 50001}}, "too big": {{Number: 1, Size: 4001 << 20}}, "none": nil,
	} {
		if _, err := p.SignParts(ctx, providers.SignPartsRequest{Key: "k", UploadID: up.UploadID, TTL: time.Minute, Parts: parts}); !errors.Is(err, providers.ErrInvalidArgument) {
			t.Errorf("SignParts %s: %v", name, err)
		}
	}
	for name, parts := range map[string][]providers.CompletedPart{
		"none": nil, "dup": {{Number: 1}, {Number: 1}}, "zero": {{Number: 0}},
	} {
		if _, err := p.CompleteMultipart(ctx, providers.CompleteMultipartRequest{Key: "k", UploadID: up.UploadID, Parts: parts}); !errors.Is(err, providers.ErrInvalidArgument) {
			t.Errorf("Complete %s: %v", name, err)
		}
	}
	// A reachable-looking but down service gives Unavailable, not a panic.
	if _, err := p.ListParts(ctx, providers.ListPartsRequest{Upload: providers.MultipartRef{Key: "k", UploadID: up.UploadID}}); !errors.Is(err, providers.ErrUnavailable) {
		t.Errorf("ListParts with the service down: %v", err)
	}
	if _, err := p.AbortMultipart(ctx, providers.AbortMultipartRequest{Upload: providers.MultipartRef{Key: "k", UploadID: "garbage"}}); !errors.Is(err, providers.ErrInvalidArgument) {
		t.Errorf("Abort with a foreign id: %v", err)
	}
}

func mustDecode(t *testing.T, id string) uploadState {
	t.Helper()
	u, err := decodeUploadID(id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestErrorMapping(t *testing.T) {
	for _, tc := range []struct {
		code   string
		status int
		want   providers.Code
	}{
		{"BlobNotFound", 404, providers.NotFound},
		{"ContainerNotFound", 404, providers.NotFound},
		{"BlobAlreadyExists", 409, providers.AlreadyExists},
		{"AuthorizationFailure", 403, providers.PermissionDenied},
		{"AuthenticationFailed", 403, providers.Unauthenticated},
		{"InvalidAuthenticationInfo", 401, providers.Unauthenticated},
		{"", 401, providers.Unauthenticated},
		{"AuthorizationPermissionMismatch", 403, providers.PermissionDenied},
		{"InvalidBlockList", 400, providers.FailedPrecondition},
		{"ServerBusy", 503, providers.Unavailable},
		{"", 500, providers.Unavailable},
		{"SomethingNew", 400, providers.InvalidArgument},
	} {
		err := mapError(&azcore.ResponseError{ErrorCode: tc.code, StatusCode: tc.status}, "blob k")
		if got := providers.CodeOf(err); got != tc.want {
			t.Errorf("%s/%d -> %s, want %s", tc.code, tc.status, got, tc.want)
		}
	}
	if got := providers.CodeOf(mapError(&net.OpError{Op: "dial", Err: errors.New("refused")}, "x")); got != providers.Unavailable {
		t.Errorf("network error -> %s", got)
	}
	if got := providers.CodeOf(mapError(context.DeadlineExceeded, "x")); got != providers.Unavailable {
		t.Errorf("deadline -> %s", got)
	}
	if mapError(nil, "x") != nil {
		t.Error("nil error mapped to non-nil")
	}
}

// fakeKeys is a delegation key fetcher that counts calls and can fail.
type fakeKeys struct {
	mu    sync.Mutex
	calls []time.Time // requested expiries
	fail  error
}

func (f *fakeKeys) fetch(_ context.Context, start, expiry time.Time) (*service.UserDelegationCredential, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, expiry)
	if !start.Before(expiry) {
		return nil, fmt.Errorf("start %s not before expiry %s", start, expiry)
	}
	if f.fail != nil {
		return nil, f.fail
	}
	return &service.UserDelegationCredential{}, nil
}

func (f *fakeKeys) n() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func TestDelegationCache(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now := t0
	f := &fakeKeys{}
	c := newDelegationCache(f.fetch, func() time.Time { return now })
	ctx := context.Background()

	k1, err := c.keyFor(ctx, now.Add(time.Hour))
	if err != nil || f.n() != 1 {
		t.Fatalf("first key: %v, %d fetches", err, f.n())
	}
	if !k1.expiry.Equal(t0.Add(delegationKeyLifetime)) || !k1.start.Before(t0) {
		t.Fatalf("key window %s..%s", k1.start, k1.expiry)
	}
	// Reused while it has more than delegationRenewBefore left.
	now = t0.Add(delegationKeyLifetime - delegationRenewBefore - time.Minute)
	if k, _ := c.keyFor(ctx, now.Add(maxExpiryAD)); k != k1 || f.n() != 1 {
		t.Fatalf("key not reused: %d fetches", f.n())
	}
	// Renewed once less than that is left, before the key expires.
	now = t0.Add(delegationKeyLifetime - delegationRenewBefore + time.Minute)
	k2, err := c.keyFor(ctx, now.Add(time.Minute))
	if err != nil || k2 == k1 || f.n() != 2 {
		t.Fatalf("key not renewed: same=%v, %d fetches, %v", k2 == k1, f.n(), err)
	}
	if !k2.expiry.After(k1.expiry) {
		t.Fatal("renewed key does not outlive the old one")
	}
	// A SAS never outlives its key, even at the longest TTL.
	for _, d := range []time.Duration{0, time.Hour, 20 * time.Hour} {
		now = k2.start.Add(delegationBackdate).Add(d)
		k, err := c.keyFor(ctx, now.Add(maxExpiryAD))
		if err != nil || k.expiry.Before(now.Add(maxExpiryAD)) {
			t.Fatalf("at +%s: key expiring %s for a SAS to %s (%v)", d, k.expiry, now.Add(maxExpiryAD), err)
		}
	}
	// A SAS longer than any key is refused rather than signed past the key.
	if _, err := c.keyFor(ctx, now.Add(delegationKeyLifetime+time.Hour)); err == nil {
		t.Fatal("a SAS outliving the longest key was allowed")
	}

	// Renewal failure: the old key is used while it still covers the SAS,
	// and the error surfaces once it does not.
	f2 := &fakeKeys{}
	now = t0
	c2 := newDelegationCache(f2.fetch, func() time.Time { return now })
	k, _ := c2.keyFor(ctx, now.Add(time.Minute))
	f2.fail = errors.New("entra down")
	now = k.expiry.Add(-delegationRenewBefore + time.Minute) // renewal due
	if got, err := c2.keyFor(ctx, now.Add(time.Hour)); err != nil || got != k {
		t.Fatalf("renewal failure with a still-valid key: %v", err)
	}
	if _, err := c2.keyFor(ctx, k.expiry.Add(time.Second)); err == nil || !strings.Contains(err.Error(), "entra down") {
		t.Fatalf("SAS beyond the old key with renewal failing: %v", err)
	}

	// Concurrent callers share one fetch.
	f3 := &fakeKeys{}
	c3 := newDelegationCache(f3.fetch, func() time.Time { return t0 })
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { _, _ = c3.keyFor(ctx, t0.Add(time.Hour)) })
	}
	wg.Wait()
	if f3.n() != 1 {
		t.Fatalf("%d fetches for 20 concurrent callers, want 1", f3.n())
	}
}

// TestAzureADSigning signs through the azure_ad path with a fake key
// fetcher: the SAS carries the user delegation fields and is clamped to
// the key. No real Entra ID or Azure account is reachable here, so this
// proves the wiring, not acceptance by Azure.
func TestAzureADSigning(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	p := newProvider(func() time.Time { return now })
	s, err := parseConfig(rawConfig(t, map[string]any{"account_name": "acct1", "container": "media", "credential": "azure_ad"}))
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeKeys{}
	p.cfg = &store{settings: s, keys: newDelegationCache(func(ctx context.Context, start, expiry time.Time) (*service.UserDelegationCredential, error) {
		if _, err := f.fetch(ctx, start, expiry); err != nil {
			return nil, err
		}
		return udcFixture(t, start, expiry), nil
	}, p.now)}
	info, _ := p.Info(context.Background())
	if info.Capabilities.MaxExpiry != maxExpiryAD {
		t.Fatalf("MaxExpiry in azure_ad mode = %s", info.Capabilities.MaxExpiry)
	}
	r, err := p.SignGet(context.Background(), providers.GetRequest{Key: "k", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	q, _ := url.ParseQuery(r.URL[strings.IndexByte(r.URL, '?')+1:])
	if q.Get("skoid") != "oid" || q.Get("sktid") != "tid" || q.Get("sv") != SASVersion || q.Get("spr") != "https" || q.Get("sig") == "" {
		t.Fatalf("user delegation SAS query: %v", q)
	}
	ske, _ := time.Parse(time.RFC3339, q.Get("ske"))
	if ske.Before(r.ExpiresAt) {
		t.Fatalf("SAS expires %s after its key %s", r.ExpiresAt, ske)
	}
	if _, err := p.SignGet(context.Background(), providers.GetRequest{Key: "k", TTL: maxExpiryAD + time.Second}); !errors.Is(err, providers.ErrInvalidArgument) {
		t.Fatalf("TTL over the azure_ad maximum: %v", err)
	}
	if f.n() != 1 {
		t.Fatalf("%d key fetches for two signatures, want 1", f.n())
	}
}

// udcFixture builds a UserDelegationCredential the way the SDK does from a
// Get User Delegation Key response.
func udcFixture(t testing.TB, start, expiry time.Time) *service.UserDelegationCredential {
	t.Helper()
	body := fmt.Sprintf(`<?xml version="1.0" encoding="utf-8"?><UserDelegationKey><SignedOid>oid</SignedOid><SignedTid>tid</SignedTid><SignedStart>%s</SignedStart><SignedExpiry>%s</SignedExpiry><SignedService>b</SignedService><SignedVersion>%s</SignedVersion><Value>%s</Value></UserDelegationKey>`,
		start.Format(time.RFC3339), expiry.Format(time.RFC3339), SASVersion, testKey)
	c, err := service.NewClientWithNoCredential("https://acct1.blob.core.windows.net/", &service.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: xmlTransport(body)}})
	if err != nil {
		t.Fatal(err)
	}
	s, e := start.Format(time.RFC3339), expiry.Format(time.RFC3339)
	udc, err := c.GetUserDelegationCredential(context.Background(), service.KeyInfo{Start: &s, Expiry: &e}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return udc
}

type xmlTransport string

func (x xmlTransport) Do(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/xml"}},
		Body: readCloser(string(x)), Request: req}, nil
}

func readCloser(s string) *stringBody { return &stringBody{Reader: strings.NewReader(s)} }

type stringBody struct{ *strings.Reader }

func (*stringBody) Close() error { return nil }
