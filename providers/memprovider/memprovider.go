// Package memprovider is an in-memory provider for tests of everything
// above the provider contract: the gateway, plugin hosts, clients. Objects
// and multipart uploads live in memory, and its signed URLs are real: they
// are served by its own HTTP listener on 127.0.0.1, HMAC-signed over the
// method, key and expiry. Like a backend that binds nothing, it accepts any
// body on a valid signature, so a gateway's complete-time checks are what
// catch a wrong size or type. Faults can be switched on while a test runs.
//
// It is the one shared test double, in the way gocloud's memblob is; it is
// not a store for production.
package memprovider

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valetgw/valet/providers"
)

// DefaultCapabilities are what New announces unless told otherwise: signed
// PUT, GET and DELETE with overrides, multipart with 1 MiB to 64 MiB
// parts, ReadObject, SignGets, bucket CORS (which its listener answers by)
// and POST policies (which its listener
// enforces: key, type, size range, expiry and signature). It lists sha256 in BindsChecksums although it binds nothing, so
// that uploads may declare a checksum: Head (and a multipart complete given
// a checksum) reports the real digest, and the gateway's complete step is
// what catches a wrong one. It would not pass providertest with that claim,
// and is not meant to.
func DefaultCapabilities() providers.Capabilities {
	return providers.Capabilities{SignPut: true, SignGet: true, SignDelete: true, GetOverrides: true, MaxExpiry: 2 * time.Hour,
		Multipart: true, MinPartSize: 1 << 20, MaxPartSize: 64 << 20, MaxParts: 1000,
		Reader: true, SignGets: true, PostPolicy: true, CORS: true,
		BindsChecksums:     []providers.ChecksumAlgorithm{providers.SHA256},
		MultipartChecksums: []providers.ChecksumAlgorithm{providers.SHA256}}
}

// Provider is the in-memory provider. Use New; Close stops its listener.
type Provider struct {
	srv    *httptest.Server
	secret []byte

	mu        sync.Mutex
	caps      providers.Capabilities
	objects   map[string]object
	uploads   map[string]*upload
	created   int
	aborts    int
	down      bool
	unhealthy bool
	hang      map[string]bool
	lateParts int
	cors      []providers.CORSRule
}

type object struct {
	data []byte
	ct   string
	mod  time.Time
}

type upload struct {
	key   string
	ct    string
	parts map[int][]byte
}

var (
	_ providers.Provider         = (*Provider)(nil)
	_ providers.Multipart        = (*Provider)(nil)
	_ providers.Reader           = (*Provider)(nil)
	_ providers.GetSigner        = (*Provider)(nil)
	_ providers.PostPolicySigner = (*Provider)(nil)
)

// New starts a provider with DefaultCapabilities.
func New() *Provider {
	p := &Provider{secret: []byte("memprovider-signing-secret"), caps: DefaultCapabilities(),
		objects: map[string]object{}, uploads: map[string]*upload{}, hang: map[string]bool{}}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	return p
}

// Close stops the listener for signed URLs.
func (p *Provider) Close() { p.srv.Close() }

// URL is the base URL of the listener that serves the signed URLs.
func (p *Provider) URL() string { return p.srv.URL }

// SetCapabilities replaces what Info announces.
func (p *Provider) SetCapabilities(c providers.Capabilities) { p.set(func() { p.caps = c }) }

// SetDown makes every call fail with Unavailable, as a dead plugin's do.
func (p *Provider) SetDown(down bool) { p.set(func() { p.down = down }) }

// SetUnhealthy makes Healthy report false.
func (p *Provider) SetUnhealthy(u bool) { p.set(func() { p.unhealthy = u }) }

// SetHang makes calls of the named method ("SignPut", ...) wait for their
// context to end, like a stuck provider, and then fail with Unavailable.
func (p *Provider) SetHang(method string, hang bool) { p.set(func() { p.hang[method] = hang }) }

// SetLateParts makes the next n aborts each leave a late part behind (part
// 5 lands after the abort and brings the upload back), as S3 documents.
func (p *Provider) SetLateParts(n int) { p.set(func() { p.lateParts = n }) }

// set runs f, which changes p, under p's lock.
func (p *Provider) set(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f()
}

// get returns what f reads of p under p's lock.
func get[T any](p *Provider, f func() T) T {
	p.mu.Lock()
	defer p.mu.Unlock()
	return f()
}

// PutObject stores an object directly, as another writer would.
func (p *Provider) PutObject(key string, data []byte, contentType string, modified time.Time) {
	p.set(func() { p.objects[key] = object{data: append([]byte(nil), data...), ct: contentType, mod: modified} })
}

// Objects lists the stored keys, sorted.
func (p *Provider) Objects() []string {
	return get(p, func() []string { return slices.Sorted(maps.Keys(p.objects)) })
}

// Uploads lists the multipart uploads in progress, by provider upload id.
func (p *Provider) Uploads() []string {
	return get(p, func() []string { return slices.Sorted(maps.Keys(p.uploads)) })
}

// Created counts the multipart uploads ever created.
func (p *Provider) Created() int { return get(p, func() int { return p.created }) }

// ResetAborts sets the count of AbortMultipart calls back to 0.
func (p *Provider) ResetAborts() { p.set(func() { p.aborts = 0 }) }

// Aborts counts AbortMultipart calls.
func (p *Provider) Aborts() int { return get(p, func() int { return p.aborts }) }

// Healthy reports false after SetUnhealthy(true).
func (p *Provider) Healthy() bool { return get(p, func() bool { return !p.unhealthy }) }

// fault is the injected failure for a call of method, if any.
func (p *Provider) fault(ctx context.Context, method string) error {
	p.mu.Lock()
	down, hang := p.down, p.hang[method]
	p.mu.Unlock()
	if hang {
		<-ctx.Done()
		return &providers.Error{Code: providers.Unavailable, Message: "memprovider: hung: " + ctx.Err().Error(), Err: ctx.Err()}
	}
	if down {
		return providers.Errorf(providers.Unavailable, "memprovider: down")
	}
	return nil
}

func (p *Provider) sig(method, key, extra string, exp int64) string {
	m := hmac.New(sha256.New, p.secret)
	fmt.Fprintf(m, "%s\n%s\n%s\n%d", method, key, extra, exp)
	return hex.EncodeToString(m.Sum(nil))
}

func (p *Provider) url(method, key, extra string, ttl time.Duration) (string, time.Time) {
	exp := time.Now().Add(ttl).Truncate(time.Second)
	q := fmt.Sprintf("exp=%d&sig=%s", exp.Unix(), p.sig(method, key, extra, exp.Unix()))
	if extra != "" {
		q += "&" + extra
	}
	return p.srv.URL + (&url.URL{Path: "/" + key}).EscapedPath() + "?" + q, exp
}

func (p *Provider) serve(w http.ResponseWriter, r *http.Request) {
	if p.serveCORS(w, r) {
		return
	}
	if r.Method == http.MethodPost && r.URL.Path == "/" {
		p.servePost(w, r)
		return
	}
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
	if time.Now().Unix() > exp || !hmac.Equal([]byte(q.Get("sig")), []byte(p.sig(method, key, extra, exp))) {
		http.Error(w, "bad signature", http.StatusForbidden)
		return
	}
	b, _ := io.ReadAll(r.Body)
	p.mu.Lock()
	defer p.mu.Unlock()
	switch r.Method {
	case http.MethodPut:
		if extra != "" {
			up := p.uploads[q.Get("upload")]
			if up == nil {
				http.Error(w, "no upload", http.StatusNotFound)
				return
			}
			n, _ := strconv.Atoi(q.Get("part"))
			up.parts[n] = b
			w.Header().Set("ETag", etag(b))
			return
		}
		p.objects[key] = object{data: b, ct: r.Header.Get("Content-Type"), mod: time.Now()}
	case http.MethodGet, http.MethodHead:
		o, ok := p.objects[key]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", o.ct)
		if r.Method == http.MethodGet {
			_, _ = w.Write(o.data)
		}
	case http.MethodDelete:
		delete(p.objects, key)
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "method", http.StatusMethodNotAllowed)
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func etag(b []byte) string {
	s := sha256.Sum256(b)
	return `"` + hex.EncodeToString(s[:8]) + `"`
}

func (p *Provider) toObject(key string, o object) providers.Object {
	s := sha256.Sum256(o.data)
	return providers.Object{Key: key, Size: int64(len(o.data)), ContentType: o.ct, ETag: etag(o.data), LastModified: o.mod,
		Checksums: map[providers.ChecksumAlgorithm]string{providers.SHA256: b64(s[:])}}
}

// Info implements providers.Provider.
func (p *Provider) Info(ctx context.Context) (providers.Info, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return providers.Info{Name: "mem", Version: "test", Capabilities: p.caps}, nil
}

// Configure implements providers.Provider; any configuration is accepted.
func (p *Provider) Configure(ctx context.Context, _ providers.StoreConfig) error {
	return p.fault(ctx, "Configure")
}

// SignPut implements providers.Provider.
func (p *Provider) SignPut(ctx context.Context, req providers.PutRequest) (providers.Recipe, error) {
	if err := p.fault(ctx, "SignPut"); err != nil {
		return providers.Recipe{}, err
	}
	u, exp := p.url("PUT", req.Key, "", req.TTL)
	return providers.Recipe{Method: "PUT", URL: u, Headers: map[string]string{"Content-Type": req.ContentType}, ExpiresAt: exp}, nil
}

// SignGet implements providers.Provider.
func (p *Provider) SignGet(ctx context.Context, req providers.GetRequest) (providers.Recipe, error) {
	if err := p.fault(ctx, "SignGet"); err != nil {
		return providers.Recipe{}, err
	}
	u, exp := p.url("GET", req.Key, "", req.TTL)
	return providers.Recipe{Method: "GET", URL: u, ExpiresAt: exp}, nil
}

// SignDelete implements providers.Provider.
func (p *Provider) SignDelete(ctx context.Context, req providers.SignDeleteRequest) (providers.Recipe, error) {
	if err := p.fault(ctx, "SignDelete"); err != nil {
		return providers.Recipe{}, err
	}
	u, exp := p.url("DELETE", req.Key, "", req.TTL)
	return providers.Recipe{Method: "DELETE", URL: u, ExpiresAt: exp}, nil
}

// Head implements providers.Provider.
func (p *Provider) Head(ctx context.Context, req providers.HeadRequest) (providers.Object, error) {
	if err := p.fault(ctx, "Head"); err != nil {
		return providers.Object{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	o, ok := p.objects[req.Key]
	if !ok {
		return providers.Object{}, providers.Errorf(providers.NotFound, "no object")
	}
	return p.toObject(req.Key, o), nil
}

// List implements providers.Provider; the cursor is the last key returned.
func (p *Provider) List(ctx context.Context, req providers.ListRequest) (providers.ListPage, error) {
	if err := p.fault(ctx, "List"); err != nil {
		return providers.ListPage{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	keys, next := req.Page(maps.Keys(p.objects))
	page := providers.ListPage{NextCursor: next}
	for _, k := range keys {
		o := p.objects[k]
		page.Objects = append(page.Objects, providers.Object{Key: k, Size: int64(len(o.data)), ContentType: o.ct, LastModified: o.mod})
	}
	return page, nil
}

// Delete implements providers.Provider.
func (p *Provider) Delete(ctx context.Context, req providers.DeleteRequest) (providers.DeleteResult, error) {
	if err := p.fault(ctx, "Delete"); err != nil {
		return providers.DeleteResult{}, err
	}
	p.set(func() { delete(p.objects, req.Key) })
	return providers.DeleteResult{}, nil
}

// CreateMultipart implements providers.Multipart.
func (p *Provider) CreateMultipart(ctx context.Context, req providers.CreateMultipartRequest) (providers.MultipartUpload, error) {
	if err := p.fault(ctx, "CreateMultipart"); err != nil {
		return providers.MultipartUpload{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.created++
	id := "mp" + strconv.Itoa(p.created)
	p.uploads[id] = &upload{key: req.Key, ct: req.ContentType, parts: map[int][]byte{}}
	return providers.MultipartUpload{UploadID: id}, nil
}

// SignParts implements providers.Multipart.
func (p *Provider) SignParts(ctx context.Context, req providers.SignPartsRequest) (providers.SignPartsResult, error) {
	if err := p.fault(ctx, "SignParts"); err != nil {
		return providers.SignPartsResult{}, err
	}
	var out []providers.PartRecipe
	for _, part := range req.Parts {
		u, exp := p.url("PUT", req.Key, "upload="+req.UploadID+"&part="+strconv.Itoa(part.Number), req.TTL)
		out = append(out, providers.PartRecipe{Number: part.Number, Recipe: providers.Recipe{Method: "PUT", URL: u, Headers: map[string]string{}, ExpiresAt: exp}})
	}
	return providers.SignPartsResult{Parts: out}, nil
}

// CompleteMultipart implements providers.Multipart. Given a sha256
// checksum, it reports the assembled object's digest.
func (p *Provider) CompleteMultipart(ctx context.Context, req providers.CompleteMultipartRequest) (providers.Object, error) {
	if err := p.fault(ctx, "CompleteMultipart"); err != nil {
		return providers.Object{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	up, ok := p.uploads[req.UploadID]
	if !ok {
		return providers.Object{}, providers.Errorf(providers.NotFound, "no upload")
	}
	var data []byte
	for _, part := range req.Parts {
		b, ok := up.parts[part.Number]
		if !ok || (part.ETag != "" && part.ETag != etag(b)) {
			return providers.Object{}, providers.Errorf(providers.FailedPrecondition, "part %d missing or mismatched", part.Number)
		}
		data = append(data, b...)
	}
	delete(p.uploads, req.UploadID)
	now := time.Now()
	p.objects[req.Key] = object{data: data, ct: up.ct, mod: now}
	o := providers.Object{Key: req.Key, Size: int64(len(data)), ContentType: up.ct, ETag: etag(data), LastModified: now}
	if req.Checksum != nil && req.Checksum.Algorithm == providers.SHA256 {
		sum := sha256.Sum256(data)
		o.Checksums = map[providers.ChecksumAlgorithm]string{providers.SHA256: b64(sum[:])}
	}
	return o, nil
}

// AbortMultipart implements providers.Multipart.
func (p *Provider) AbortMultipart(ctx context.Context, req providers.AbortMultipartRequest) (providers.AbortMultipartResult, error) {
	if err := p.fault(ctx, "AbortMultipart"); err != nil {
		return providers.AbortMultipartResult{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.aborts++
	delete(p.uploads, req.Upload.UploadID)
	if p.lateParts > 0 {
		p.lateParts--
		p.uploads[req.Upload.UploadID] = &upload{key: req.Upload.Key, parts: map[int][]byte{5: []byte("late part")}}
	}
	return providers.AbortMultipartResult{}, nil
}

// ListParts implements providers.Multipart.
func (p *Provider) ListParts(ctx context.Context, req providers.ListPartsRequest) (providers.ListPartsResult, error) {
	if err := p.fault(ctx, "ListParts"); err != nil {
		return providers.ListPartsResult{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	up, ok := p.uploads[req.Upload.UploadID]
	if !ok {
		return providers.ListPartsResult{}, providers.Errorf(providers.NotFound, "no upload")
	}
	var out []providers.Part
	for n, b := range up.parts {
		out = append(out, providers.Part{Number: n, Size: int64(len(b)), ETag: etag(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return providers.ListPartsResult{Parts: out}, nil
}

// ReadObject implements providers.Reader.
func (p *Provider) ReadObject(ctx context.Context, req providers.ReadObjectRequest) (providers.ReadObjectResult, error) {
	if err := p.fault(ctx, "ReadObject"); err != nil {
		return providers.ReadObjectResult{}, err
	}
	if err := providers.CheckReadObject(req); err != nil {
		return providers.ReadObjectResult{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	o, ok := p.objects[req.Key]
	if !ok {
		return providers.ReadObjectResult{}, providers.Errorf(providers.NotFound, "no object")
	}
	if int64(len(o.data)) > req.MaxBytes {
		return providers.ReadObjectResult{}, providers.TooLarge(req.Key, int64(len(o.data)), req.MaxBytes)
	}
	return providers.ReadObjectResult{Object: p.toObject(req.Key, o), Data: append([]byte{}, o.data...)}, nil
}

// SignGets implements providers.GetSigner: a fault of "SignGets" fails the
// whole batch, one of "SignGet" every item.
func (p *Provider) SignGets(ctx context.Context, req providers.SignGetsRequest) (providers.SignGetsResult, error) {
	if err := p.fault(ctx, "SignGets"); err != nil {
		return providers.SignGetsResult{}, err
	}
	if len(req.Requests) > providers.MaxSignGets {
		return providers.SignGetsResult{}, providers.Errorf(providers.InvalidArgument, "%d requests, more than %d", len(req.Requests), providers.MaxSignGets)
	}
	return providers.SignEach(ctx, p, req), nil
}

// SignPostPolicy implements providers.PostPolicySigner. The policy is a
// query-style string of key, type, size range and expiry, HMAC-signed;
// its listener checks all of them on the form POST.
func (p *Provider) SignPostPolicy(ctx context.Context, req providers.PostPolicyRequest) (providers.PostPolicy, error) {
	if err := p.fault(ctx, "SignPostPolicy"); err != nil {
		return providers.PostPolicy{}, err
	}
	if strings.Contains(req.Key, "${") {
		// As the real stores: S3 fills ${filename} from the client's file.
		return providers.PostPolicy{}, providers.Errorf(providers.InvalidArgument, "key %q: a POST policy's key may not hold \"${\"", req.Key)
	}
	if req.MaxSize <= 0 || req.MinSize < 0 || req.MinSize > req.MaxSize {
		return providers.PostPolicy{}, providers.Errorf(providers.InvalidArgument, "size range %d..%d is invalid", req.MinSize, req.MaxSize)
	}
	exp := req.ExpiresAt
	if exp.IsZero() {
		exp = time.Now().Add(req.TTL)
	}
	exp = exp.Truncate(time.Second)
	policy := url.Values{"key": {req.Key}, "ct": {req.ContentType}, "min": {strconv.FormatInt(req.MinSize, 10)},
		"max": {strconv.FormatInt(req.MaxSize, 10)}, "exp": {strconv.FormatInt(exp.Unix(), 10)}}.Encode()
	fields := map[string]string{"key": req.Key, "Content-Type": req.ContentType, "policy": policy, "signature": p.sig("POST", "", policy, 0)}
	return providers.PostPolicy{URL: p.srv.URL + "/", Fields: fields, ExpiresAt: exp}, nil
}

// servePost stores the file of a form POST made with a SignPostPolicy
// policy, checking everything the policy binds first.
func (p *Provider) servePost(w http.ResponseWriter, r *http.Request) {
	mr, err := r.MultipartReader()
	if err != nil {
		http.Error(w, "not a form upload", http.StatusBadRequest)
		return
	}
	form := map[string]string{}
	for {
		part, err := mr.NextPart()
		if err != nil {
			http.Error(w, "no file in the form", http.StatusBadRequest)
			return
		}
		if part.FormName() != "file" {
			b, _ := io.ReadAll(io.LimitReader(part, 8<<10))
			form[part.FormName()] = string(b)
			continue
		}
		policy := form["policy"]
		if !hmac.Equal([]byte(form["signature"]), []byte(p.sig("POST", "", policy, 0))) {
			http.Error(w, "bad signature", http.StatusForbidden)
			return
		}
		pq, _ := url.ParseQuery(policy)
		exp, _ := strconv.ParseInt(pq.Get("exp"), 10, 64)
		minSize, _ := strconv.ParseInt(pq.Get("min"), 10, 64)
		maxSize, _ := strconv.ParseInt(pq.Get("max"), 10, 64)
		switch {
		case time.Now().Unix() > exp:
			http.Error(w, "policy expired", http.StatusForbidden)
			return
		case form["key"] != pq.Get("key") || form["Content-Type"] != pq.Get("ct"):
			http.Error(w, "policy condition failed", http.StatusForbidden)
			return
		}
		b, _ := io.ReadAll(io.LimitReader(part, maxSize+1))
		if int64(len(b)) > maxSize || int64(len(b)) < minSize {
			http.Error(w, "entity size outside the policy", http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		p.objects[form["key"]] = object{data: b, ct: form["Content-Type"], mod: time.Now()}
		p.mu.Unlock()
		w.Header().Set("ETag", etag(b))
		w.WriteHeader(http.StatusNoContent)
		return
	}
}
