package core

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valetgw/valet/providers"
)

// fakeProvider is an in-memory provider with a real HTTP endpoint for the
// signed URLs. Like a backend that binds nothing, it accepts any body on a
// valid signature, so the gateway's complete-time checks are exercised.
type fakeProvider struct {
	srv      *httptest.Server
	secret   []byte
	caps     providers.Capabilities
	down     atomic.Bool
	unhealth atomic.Bool
	// lateParts is how many aborts a late part survives: after each, a part
	// that was in flight lands and brings the upload back.
	lateParts atomic.Int32
	aborts    atomic.Int32
	// hang makes SignPut wait for its context, like a stuck provider.
	hang atomic.Bool

	mu      sync.Mutex
	objects map[string]fakeObject
	uploads map[string]map[int][]byte
	upCT    map[string]string
	nextID  int
}

type fakeObject struct {
	data []byte
	ct   string
	mod  time.Time
}

func newFake(t testing.TB) *fakeProvider {
	f := &fakeProvider{secret: []byte("fake-provider-signing-secret"), objects: map[string]fakeObject{}, uploads: map[string]map[int][]byte{}, upCT: map[string]string{}}
	f.caps = providers.Capabilities{SignPut: true, SignGet: true, SignDelete: true, GetOverrides: true, MaxExpiry: 2 * time.Hour,
		Multipart: true, MinPartSize: 1 << 20, MaxPartSize: 64 << 20, MaxParts: 1000,
		// The fake reports sha256 on Head and at complete, so the gateway's
		// own comparison is what verifies a declared checksum.
		BindsChecksums: []providers.ChecksumAlgorithm{providers.SHA256}, MultipartChecksums: []providers.ChecksumAlgorithm{providers.SHA256}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeProvider) sig(method, key, extra string, exp int64) string {
	m := hmac.New(sha256.New, f.secret)
	fmt.Fprintf(m, "%s\n%s\n%s\n%d", method, key, extra, exp)
	return hex.EncodeToString(m.Sum(nil))
}

func (f *fakeProvider) url(method, key, extra string, ttl time.Duration) (string, time.Time) {
	exp := time.Now().Add(ttl).Truncate(time.Second)
	q := fmt.Sprintf("exp=%d&sig=%s", exp.Unix(), f.sig(method, key, extra, exp.Unix()))
	if extra != "" {
		q += "&" + extra
	}
	return f.srv.URL + (&url.URL{Path: "/" + key}).EscapedPath() + "?" + q, exp
}

func (f *fakeProvider) serve(w http.ResponseWriter, r *http.Request) {
	key := strings.TrimPrefix(r.URL.Path, "/")
	q := r.URL.Query()
	exp, _ := strconv.ParseInt(q.Get("exp"), 10, 64)
	extra := ""
	if q.Has("part") {
		extra = "upload=" + q.Get("upload") + "&part=" + q.Get("part")
	}
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	if time.Now().Unix() > exp || !hmac.Equal([]byte(q.Get("sig")), []byte(f.sig(method, key, extra, exp))) {
		http.Error(w, "bad signature", http.StatusForbidden)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.Method {
	case http.MethodPut:
		b, _ := io.ReadAll(r.Body)
		if extra != "" {
			parts := f.uploads[q.Get("upload")]
			if parts == nil {
				http.Error(w, "no upload", 404)
				return
			}
			n, _ := strconv.Atoi(q.Get("part"))
			parts[n] = b
			w.Header().Set("ETag", etag(b))
			return
		}
		f.objects[key] = fakeObject{data: b, ct: r.Header.Get("Content-Type"), mod: time.Now()}
	case http.MethodGet:
		o, ok := f.objects[key]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", o.ct)
		_, _ = w.Write(o.data)
	default:
		http.Error(w, "method", 405)
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func etag(b []byte) string {
	s := sha256.Sum256(b)
	return `"` + hex.EncodeToString(s[:8]) + `"`
}

func (f *fakeProvider) err() error {
	if f.down.Load() {
		return providers.Errorf(providers.Unavailable, "fake is down")
	}
	return nil
}

func (f *fakeProvider) Healthy() bool { return !f.unhealth.Load() }

func (f *fakeProvider) Info(context.Context) (providers.Info, error) {
	return providers.Info{Name: "fake", Version: "test", Capabilities: f.caps}, nil
}
func (f *fakeProvider) Configure(context.Context, providers.StoreConfig) error { return nil }

func (f *fakeProvider) SignPut(ctx context.Context, req providers.PutRequest) (providers.Recipe, error) {
	if err := f.err(); err != nil {
		return providers.Recipe{}, err
	}
	if f.hang.Load() {
		<-ctx.Done()
		return providers.Recipe{}, &providers.Error{Code: providers.Unavailable, Message: "plugin unavailable: " + ctx.Err().Error(), Err: ctx.Err()}
	}
	u, exp := f.url("PUT", req.Key, "", req.TTL)
	return providers.Recipe{Method: "PUT", URL: u, Headers: map[string]string{"Content-Type": req.ContentType}, ExpiresAt: exp}, nil
}

func (f *fakeProvider) SignGet(_ context.Context, req providers.GetRequest) (providers.Recipe, error) {
	if err := f.err(); err != nil {
		return providers.Recipe{}, err
	}
	u, exp := f.url("GET", req.Key, "", req.TTL)
	return providers.Recipe{Method: "GET", URL: u, ExpiresAt: exp}, nil
}

func (f *fakeProvider) SignDelete(_ context.Context, req providers.DeleteRequest) (providers.Recipe, error) {
	u, exp := f.url("DELETE", req.Key, "", req.TTL)
	return providers.Recipe{Method: "DELETE", URL: u, ExpiresAt: exp}, nil
}

func (f *fakeProvider) Head(_ context.Context, key string) (providers.Object, error) {
	if err := f.err(); err != nil {
		return providers.Object{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.objects[key]
	if !ok {
		return providers.Object{}, providers.Errorf(providers.NotFound, "no object")
	}
	s := sha256.Sum256(o.data)
	return providers.Object{Key: key, Size: int64(len(o.data)), ContentType: o.ct, ETag: etag(o.data), LastModified: o.mod,
		Checksums: map[providers.ChecksumAlgorithm]string{providers.SHA256: b64(s[:])}}, nil
}

func (f *fakeProvider) List(_ context.Context, req providers.ListRequest) (providers.ListPage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ks []string
	for k := range f.objects {
		if strings.HasPrefix(k, req.Prefix) && k > req.Cursor {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	var page providers.ListPage
	for _, k := range ks {
		if len(page.Objects) == req.Limit {
			page.NextCursor = page.Objects[len(page.Objects)-1].Key
			break
		}
		o := f.objects[k]
		page.Objects = append(page.Objects, providers.Object{Key: k, Size: int64(len(o.data)), ContentType: o.ct, LastModified: o.mod})
	}
	return page, nil
}

func (f *fakeProvider) Delete(_ context.Context, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.objects, key)
	return nil
}

func (f *fakeProvider) CreateMultipart(_ context.Context, req providers.CreateMultipartRequest) (providers.MultipartUpload, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	id := "mp" + strconv.Itoa(f.nextID)
	f.uploads[id] = map[int][]byte{}
	f.upCT[id] = req.ContentType
	return providers.MultipartUpload{UploadID: id}, nil
}

func (f *fakeProvider) SignParts(_ context.Context, req providers.SignPartsRequest) ([]providers.PartRecipe, error) {
	var out []providers.PartRecipe
	for _, p := range req.Parts {
		u, exp := f.url("PUT", req.Key, "upload="+req.UploadID+"&part="+strconv.Itoa(p.Number), req.TTL)
		out = append(out, providers.PartRecipe{Number: p.Number, Recipe: providers.Recipe{Method: "PUT", URL: u, Headers: map[string]string{}, ExpiresAt: exp}})
	}
	return out, nil
}

func (f *fakeProvider) CompleteMultipart(_ context.Context, req providers.CompleteMultipartRequest) (providers.Object, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	parts, ok := f.uploads[req.UploadID]
	if !ok {
		return providers.Object{}, providers.Errorf(providers.NotFound, "no upload")
	}
	var data []byte
	for _, p := range req.Parts {
		b, ok := parts[p.Number]
		if !ok || (p.ETag != "" && p.ETag != etag(b)) {
			return providers.Object{}, providers.Errorf(providers.FailedPrecondition, "part %d missing or mismatched", p.Number)
		}
		data = append(data, b...)
	}
	ct := f.upCT[req.UploadID]
	delete(f.uploads, req.UploadID)
	f.objects[req.Key] = fakeObject{data: data, ct: ct, mod: time.Now()}
	o := providers.Object{Key: req.Key, Size: int64(len(data)), ContentType: ct, ETag: etag(data), LastModified: time.Now()}
	if req.Checksum != nil && req.Checksum.Algorithm == providers.SHA256 {
		sum := sha256.Sum256(data)
		o.Checksums = map[providers.ChecksumAlgorithm]string{providers.SHA256: b64(sum[:])}
	}
	return o, nil
}

func (f *fakeProvider) AbortMultipart(_ context.Context, ref providers.MultipartRef) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.aborts.Add(1)
	delete(f.uploads, ref.UploadID)
	if f.lateParts.Add(-1) >= 0 {
		f.uploads[ref.UploadID] = map[int][]byte{5: []byte("late part")}
	}
	return nil
}

func (f *fakeProvider) ListParts(_ context.Context, ref providers.MultipartRef) ([]providers.Part, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	parts, ok := f.uploads[ref.UploadID]
	if !ok {
		return nil, providers.Errorf(providers.NotFound, "no upload")
	}
	var out []providers.Part
	for n, b := range parts {
		out = append(out, providers.Part{Number: n, Size: int64(len(b)), ETag: etag(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out, nil
}
