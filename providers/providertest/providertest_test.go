package providertest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valetgw/valet/providers"
)

// breakEnv names the one check the fake provider skips while still claiming
// it, so the suite can be shown to catch a dishonest provider.
const breakEnv = "VALET_PROVIDERTEST_BREAK"

// fakeConfig is the store config TestSuiteOnFake configures the fake with.
const fakeConfig = `{"secret":"fake secret, 16 bytes or more","cors_origins":["https://app.example"]}`

func TestSuiteOnFake(t *testing.T) {
	t.Parallel() // each waits out expiring URLs
	f := newFake(t, os.Getenv(breakEnv))
	if err := f.Configure(t.Context(), providers.StoreConfig{Store: "fake", Config: []byte(fakeConfig)}); err != nil {
		t.Fatal(err)
	}
	Run(t, Harness{Provider: f, Config: []byte(fakeConfig), SecretKeys: []string{"secret"}, CORSOrigin: "https://app.example"})
}

// TestSuiteCatchesBrokenProviders runs TestSuiteOnFake in a child process
// with one enforcement switched off, and asserts that exactly the matching
// subtest fails. A suite that let such a provider pass would be worthless.
func TestSuiteCatchesBrokenProviders(t *testing.T) {
	t.Parallel() // each waits out expiring URLs
	if os.Getenv(breakEnv) != "" {
		t.Skip("child process")
	}
	cases := []struct{ broken, failing string }{
		{"content-type", "Binding/ContentType"},
		{"content-length", "Binding/ContentLength"},
		{"checksum", "Binding/ChecksumSHA256"},
		{"create-only", "Binding/CreateOnly"},
		{"signature", "TamperedSignature"},
		{"key", "TamperedKey"},
		{"method", "WrongMethod"},
		{"expiry", "Expired"},
		{"disposition", "GetContentDisposition"},
		{"multipart-checksum", "Multipart/ChecksumSHA256/wrong"},
		{"multipart-no-checksum", "Multipart/ChecksumSHA256/right"},
		{"strict-config", "Configure/UnknownKey"},
		{"secret-twice", "Configure/SecretTwice"},
		{"reconfigure", "Configure/Again"},
		{"cors-expose", "CORS/Put"},
		{"cors-any-origin", "CORS/OtherOrigin"},
		{"cors-range", "CORS/Get"},
	}
	// The child suites spend most of their time waiting for URLs to
	// expire, so they all run at once (at most 8), not -parallel (the
	// number of cores) at a time; each subtest then checks its own.
	type result struct {
		out []byte
		err error
	}
	results := make([]chan result, len(cases))
	slots := make(chan struct{}, 8)
	for i, tc := range cases {
		results[i] = make(chan result, 1)
		go func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			cmd := exec.Command(os.Args[0], "-test.run=^TestSuiteOnFake$", "-test.v")
			cmd.Env = append(os.Environ(), breakEnv+"="+tc.broken)
			out, err := cmd.CombinedOutput()
			results[i] <- result{out, err}
		}()
	}
	for i, tc := range cases {
		t.Run(tc.broken, func(t *testing.T) {
			r := <-results[i]
			out, err := r.out, r.err
			if err == nil {
				t.Fatalf("suite passed a provider that does not enforce %s:\n%s", tc.broken, out)
			}
			want := regexp.MustCompile(`--- FAIL: TestSuiteOnFake/` + regexp.QuoteMeta(tc.failing) + `\b`)
			if !want.Match(out) {
				t.Fatalf("suite failed, but not in %s:\n%s", tc.failing, out)
			}
		})
	}
}

// TestOneBugOneFailure runs the suite on a fake whose errors carry no code
// (the commonest plugin bug): it must fail once, in ErrorCodes, naming the
// missing code, and the checks that depend on codes must skip pointing
// there instead of failing one by one.
func TestOneBugOneFailure(t *testing.T) {
	t.Parallel() // each waits out expiring URLs
	if os.Getenv(breakEnv) != "" {
		t.Skip("child process")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSuiteOnFake$", "-test.v")
	cmd.Env = append(os.Environ(), breakEnv+"=no-codes")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("suite passed a provider whose errors carry no code:\n%s", out)
	}
	failed := regexp.MustCompile(`--- FAIL: TestSuiteOnFake/(\S+)`).FindAllSubmatch(out, -1)
	var names []string
	for _, m := range failed {
		names = append(names, string(m[1]))
	}
	if len(names) != 1 || names[0] != "ErrorCodes" {
		t.Fatalf("failing subtests %q, want only ErrorCodes:\n%s", names, out)
	}
	for _, want := range []string{"want code NotFound", "(no code, so Internal)", "providers.Errorf(providers.NotFound"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("the failure does not say %q:\n%s", want, out)
		}
	}
	// The dependent checks ran and skipped, pointing at the cause.
	skips := regexp.MustCompile(`--- SKIP: TestSuiteOnFake/(Expired|TamperedSignature|Delete|Configure/UnknownKey|Multipart/MissingPart)\b`).FindAll(out, -1)
	if len(skips) < 5 || !bytes.Contains(out, []byte("the cause is reported by the ErrorCodes subtest")) {
		t.Errorf("the dependent checks did not skip pointing at ErrorCodes (%d skips):\n%s", len(skips), out)
	}
}

func TestSignatureParam(t *testing.T) {
	for raw, want := range map[string]string{
		"http://h/b/k?X-Amz-Algorithm=AWS4&X-Amz-Signature=abc":  "X-Amz-Signature",
		"http://h/c/k?sv=2026&sp=r&sig=AbC%2Bd%3D":               "sig",
		"http://h/o/k?e=1&token=aaaaaaaaaaaaaaaaaaaaaaa&m=GET":   "token",
		"http://h/b/k?X-Goog-Signature=00ff&X-Goog-Expires=3600": "X-Goog-Signature",
	} {
		if got := SignatureParam(t, raw); got != want {
			t.Errorf("SignatureParam(%q) = %q, want %q", raw, got, want)
		}
	}
	// Known vectors for the checksum encodings sent to backends.
	for alg, want := range map[providers.ChecksumAlgorithm]string{
		providers.SHA256: "FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU=",
		providers.MD5:    "JfnnlDI7RTiF9RgfG2JNCw==",
		providers.CRC32C: "4waSgw==",
	} {
		if got := Checksum(alg, []byte("123456789")).Value; got != want {
			t.Errorf("checksum(%s, 123456789) = %s, want %s", alg, got, want)
		}
	}
	for _, s := range []string{"0", "9", "a", "z", "A", "Z", "ab+/=="} {
		if FlipChar(s) == s {
			t.Errorf("FlipChar(%q) did not change it", s)
		}
	}
}

// The URL helpers change exactly what they say and nothing else.
func TestURLHelpers(t *testing.T) {
	raw := "https://h.example/b/dir/key-aaaa.bin?X-Amz-Date=20260101T000000Z&X-Amz-Signature=0123abcd&x=a%2Fb"
	if got := Redact(raw); got != "https://h.example/b/dir/key-aaaa.bin?<redacted>" {
		t.Errorf("Redact = %q", got)
	}
	tampered := TamperSignature(t, raw)
	u, _ := url.Parse(tampered)
	if sig := u.Query().Get("X-Amz-Signature"); sig == "0123abcd" || len(sig) != len("0123abcd") {
		t.Errorf("TamperSignature left the signature %q", sig)
	}
	if !strings.HasPrefix(tampered, "https://h.example/b/dir/key-aaaa.bin?X-Amz-Date=20260101T000000Z&") || !strings.HasSuffix(tampered, "&x=a%2Fb") {
		t.Errorf("TamperSignature changed more than the signature: %q", tampered)
	}
	if got := RetargetKey(t, raw, "key-aaaa", "key-bbbb"); got != strings.Replace(raw, "key-aaaa", "key-bbbb", 1) {
		t.Errorf("RetargetKey = %q", got)
	}
}

// fake is a minimal HMAC-signing object store used only to test the suite.
type fake struct {
	broken string
	srv    *httptest.Server
	secret []byte

	mu      sync.Mutex
	origins []string // CORS
	objs    map[string]fakeObj
	uploads map[string]*fakeUpload
}

// fakeUpload is a multipart upload in progress.
type fakeUpload struct {
	key, ct string
	meta    map[string]string
	parts   map[int][]byte
}

type fakeObj struct {
	body []byte
	ct   string
	meta map[string]string
	mod  time.Time
}

func newFake(t *testing.T, broken string) *fake {
	f := &fake{broken: broken, secret: []byte("fake secret"), objs: map[string]fakeObj{}, uploads: map[string]*fakeUpload{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) Info(context.Context) (providers.Info, error) {
	return providers.Info{Name: "fake", Capabilities: providers.Capabilities{
		SignPut: true, SignGet: true, SignDelete: true,
		BindsContentLength: true, BindsContentType: true,
		BindsChecksums: []providers.ChecksumAlgorithm{providers.SHA256}, BindsCreateOnly: true,
		GetOverrides: true, MaxExpiry: time.Hour,
		Multipart: true, MaxPartSize: 1 << 30, MaxParts: 100,
		MultipartChecksums: []providers.ChecksumAlgorithm{providers.SHA256},
	}}, nil
}

// Configure decodes strictly and takes its secret once, unless broken.
func (f *fake) Configure(_ context.Context, sc providers.StoreConfig) error {
	var c struct {
		Secret      string   `json:"secret"`
		SecretFile  string   `json:"secret_file"`
		CORSOrigins []string `json:"cors_origins"`
	}
	var err error
	if f.broken == "strict-config" {
		err = json.Unmarshal(sc.Config, &c)
	} else {
		err = providers.DecodeConfig(sc.Config, &c)
	}
	if err != nil {
		return f.coded(providers.InvalidArgument, err)
	}
	if f.broken == "secret-twice" {
		c.SecretFile = ""
	}
	secret, err := providers.Secret{Key: "secret", Value: c.Secret, File: c.SecretFile}.Resolve()
	if err != nil {
		return f.coded(providers.InvalidArgument, err)
	}
	if f.broken == "reconfigure" {
		secret = append(secret, randomID()...) // a new key on every call
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(secret) > 0 {
		f.secret = secret
	}
	f.origins = c.CORSOrigins
	return nil
}

// coded is err with code, or without any under the no-codes breakage.
func (f *fake) coded(code providers.Code, err error) error {
	if f.broken == "no-codes" {
		return errors.New(err.Error())
	}
	return providers.Errorf(code, "%v", err)
}

// sign builds /o/KEY?params&sig=HMAC(path, sorted params).
func (f *fake) sign(method, key string, ttl time.Duration, params url.Values) providers.Recipe {
	exp := time.Now().Add(ttl).Truncate(time.Second)
	params.Set("m", method)
	params.Set("e", strconv.FormatInt(exp.Unix(), 10))
	path := "/o/" + key
	params.Set("sig", f.mac(path, params))
	u := f.srv.URL + (&url.URL{Path: path}).EscapedPath() + "?" + params.Encode()
	return providers.Recipe{Method: method, URL: u, Headers: map[string]string{}, ExpiresAt: exp}
}

func (f *fake) mac(path string, q url.Values) string {
	var names []string
	for k := range q {
		if k != "sig" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	f.mu.Lock()
	m := hmac.New(sha256.New, f.secret)
	f.mu.Unlock()
	io.WriteString(m, path)
	for _, k := range names {
		io.WriteString(m, "\n"+k+"="+q.Get(k))
	}
	return hex.EncodeToString(m.Sum(nil))
}

func (f *fake) SignPut(_ context.Context, r providers.PutRequest) (providers.Recipe, error) {
	q := url.Values{"ct": {r.ContentType}, "len": {strconv.FormatInt(r.Size, 10)}}
	if r.Checksum != nil {
		q.Set("sha", r.Checksum.Value)
	}
	if r.CreateOnly {
		q.Set("co", "1")
	}
	for k, v := range r.Metadata {
		q.Set("meta-"+k, v)
	}
	rec := f.sign(http.MethodPut, r.Key, r.TTL, q)
	rec.Headers["Content-Type"] = r.ContentType
	return rec, nil
}

func (f *fake) SignGet(_ context.Context, r providers.GetRequest) (providers.Recipe, error) {
	q := url.Values{}
	if r.ResponseContentDisposition != "" {
		q.Set("rcd", r.ResponseContentDisposition)
	}
	if r.ResponseContentType != "" {
		q.Set("rct", r.ResponseContentType)
	}
	return f.sign(http.MethodGet, r.Key, r.TTL, q), nil
}

func (f *fake) SignDelete(_ context.Context, r providers.SignDeleteRequest) (providers.Recipe, error) {
	return f.sign(http.MethodDelete, r.Key, r.TTL, url.Values{}), nil
}

// cors answers CORS for the configured origins, and reports whether the
// request was a preflight it answered.
func (f *fake) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	f.mu.Lock()
	allowed := origin != "" && (slices.Contains(f.origins, origin) || f.broken == "cors-any-origin")
	f.mu.Unlock()
	if r.Method != http.MethodOptions {
		if allowed {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			if f.broken != "cors-expose" {
				w.Header().Set("Access-Control-Expose-Headers", "ETag, Content-Range")
			}
		}
		return false
	}
	if !allowed {
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return true
	}
	asked := r.Header.Get("Access-Control-Request-Headers")
	if f.broken == "cors-range" {
		asked = strings.ReplaceAll(asked, "range", "")
	}
	w.Header().Set("Access-Control-Allow-Origin", origin)
	w.Header().Set("Access-Control-Allow-Methods", "GET, HEAD, PUT, DELETE")
	w.Header().Set("Access-Control-Allow-Headers", asked)
	w.WriteHeader(http.StatusNoContent)
	return true
}

func (f *fake) serve(w http.ResponseWriter, r *http.Request) {
	if f.cors(w, r) {
		return
	}
	key, ok := strings.CutPrefix(r.URL.Path, "/o/")
	q := r.URL.Query()
	switch {
	case !ok:
		http.Error(w, "no such route", http.StatusNotFound)
		return
	case f.broken != "signature" && !hmac.Equal([]byte(q.Get("sig")), []byte(f.mac(r.URL.Path, q))):
		if f.broken != "key" || q.Get("sig") == "" {
			http.Error(w, "bad signature", http.StatusForbidden)
			return
		}
		// "key" breakage: accept a signature made for any path.
	case f.broken != "method" && q.Get("m") != r.Method && !(r.Method == http.MethodHead && q.Get("m") == http.MethodGet):
		http.Error(w, "wrong method", http.StatusForbidden)
		return
	}
	if e, _ := strconv.ParseInt(q.Get("e"), 10, 64); f.broken != "expiry" && time.Now().Unix() >= e {
		http.Error(w, "expired", http.StatusForbidden)
		return
	}
	switch r.Method {
	case http.MethodPut:
		if f.broken != "content-type" && r.Header.Get("Content-Type") != q.Get("ct") {
			http.Error(w, "wrong type", http.StatusBadRequest)
			return
		}
		if f.broken != "content-length" && strconv.FormatInt(r.ContentLength, 10) != q.Get("len") {
			http.Error(w, "wrong length", http.StatusBadRequest)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		if sum := sha256.Sum256(body); f.broken != "checksum" && q.Has("sha") &&
			base64.StdEncoding.EncodeToString(sum[:]) != q.Get("sha") {
			http.Error(w, "bad checksum", http.StatusBadRequest)
			return
		}
		if id := q.Get("upload"); id != "" {
			n, _ := strconv.Atoi(q.Get("part"))
			f.mu.Lock()
			defer f.mu.Unlock()
			u := f.uploads[id]
			if u == nil || u.key != key {
				http.Error(w, "no such upload", http.StatusNotFound)
				return
			}
			u.parts[n] = body
			return
		}
		meta := map[string]string{}
		for k := range q {
			if m, ok := strings.CutPrefix(k, "meta-"); ok {
				meta[m] = q.Get(k)
			}
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if _, exists := f.objs[key]; exists && q.Get("co") == "1" && f.broken != "create-only" {
			http.Error(w, "exists", http.StatusPreconditionFailed)
			return
		}
		f.objs[key] = fakeObj{body: body, ct: r.Header.Get("Content-Type"), meta: meta, mod: time.Now()}
	case http.MethodGet, http.MethodHead:
		f.mu.Lock()
		o, ok := f.objs[key]
		f.mu.Unlock()
		if !ok {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", o.ct)
		if q.Has("rct") {
			w.Header().Set("Content-Type", q.Get("rct"))
		}
		if q.Has("rcd") && f.broken != "disposition" {
			w.Header().Set("Content-Disposition", q.Get("rcd"))
		}
		http.ServeContent(w, r, "", o.mod, bytes.NewReader(o.body))
	case http.MethodDelete:
		f.mu.Lock()
		delete(f.objs, key)
		f.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "method", http.StatusMethodNotAllowed)
	}
}

func (f *fake) Head(_ context.Context, req providers.HeadRequest) (providers.Object, error) {
	key := req.Key
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.objs[key]
	if !ok {
		return providers.Object{}, f.coded(providers.NotFound, fmt.Errorf("%s: no such object", key))
	}
	sum := sha256.Sum256(o.body)
	return providers.Object{Key: key, Size: int64(len(o.body)), ContentType: o.ct, ETag: hex.EncodeToString(sum[:8]),
		LastModified: o.mod, Metadata: o.meta}, nil
}

func (f *fake) List(_ context.Context, r providers.ListRequest) (providers.ListPage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	keys, next := r.Page(maps.Keys(f.objs))
	page := providers.ListPage{NextCursor: next}
	for _, k := range keys {
		page.Objects = append(page.Objects, providers.Object{Key: k, Size: int64(len(f.objs[k].body))})
	}
	return page, nil
}

func (f *fake) Delete(_ context.Context, req providers.DeleteRequest) (providers.DeleteResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.objs, req.Key)
	return providers.DeleteResult{}, nil
}

func (f *fake) CreateMultipart(_ context.Context, r providers.CreateMultipartRequest) (providers.MultipartUpload, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := randomID()
	f.uploads[id] = &fakeUpload{key: r.Key, ct: r.ContentType, meta: r.Metadata, parts: map[int][]byte{}}
	return providers.MultipartUpload{UploadID: id}, nil
}

func (f *fake) SignParts(_ context.Context, r providers.SignPartsRequest) (providers.SignPartsResult, error) {
	var out []providers.PartRecipe
	for _, p := range r.Parts {
		q := url.Values{"upload": {r.UploadID}, "part": {strconv.Itoa(p.Number)}, "len": {strconv.FormatInt(p.Size, 10)}}
		out = append(out, providers.PartRecipe{Number: p.Number, Recipe: f.sign(http.MethodPut, r.Key, r.TTL, q)})
	}
	return providers.SignPartsResult{Parts: out}, nil
}

// CompleteMultipart reports the assembled object's sha256 when one is
// declared; the breakages echo the declared value, or report none.
func (f *fake) CompleteMultipart(_ context.Context, r providers.CompleteMultipartRequest) (providers.Object, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.uploads[r.UploadID]
	if u == nil || u.key != r.Key {
		return providers.Object{}, providers.Errorf(providers.NotFound, "upload %s", r.UploadID)
	}
	var body []byte
	for _, p := range r.Parts {
		b, ok := u.parts[p.Number]
		if !ok {
			return providers.Object{}, f.coded(providers.FailedPrecondition, fmt.Errorf("part %d missing", p.Number))
		}
		body = append(body, b...)
	}
	delete(f.uploads, r.UploadID)
	o := fakeObj{body: body, ct: u.ct, meta: u.meta, mod: time.Now()}
	f.objs[r.Key] = o
	obj := providers.Object{Key: r.Key, Size: int64(len(body)), ContentType: u.ct, Metadata: u.meta, LastModified: o.mod}
	if c := r.Checksum; c != nil && c.Algorithm == providers.SHA256 {
		sum := sha256.Sum256(body)
		switch f.broken {
		case "multipart-checksum":
			obj.Checksums = map[providers.ChecksumAlgorithm]string{providers.SHA256: c.Value}
		case "multipart-no-checksum":
		default:
			obj.Checksums = map[providers.ChecksumAlgorithm]string{providers.SHA256: base64.StdEncoding.EncodeToString(sum[:])}
		}
	}
	return obj, nil
}

func (f *fake) AbortMultipart(_ context.Context, req providers.AbortMultipartRequest) (providers.AbortMultipartResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.uploads, req.Upload.UploadID)
	return providers.AbortMultipartResult{}, nil
}

func (f *fake) ListParts(_ context.Context, req providers.ListPartsRequest) (providers.ListPartsResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.uploads[req.Upload.UploadID]
	if u == nil {
		return providers.ListPartsResult{}, f.coded(providers.NotFound, fmt.Errorf("upload %s", req.Upload.UploadID))
	}
	var out []providers.Part
	for n, b := range u.parts {
		out = append(out, providers.Part{Number: n, Size: int64(len(b))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return providers.ListPartsResult{Parts: out}, nil
}
