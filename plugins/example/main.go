// Command valet-plugin-example is a complete, small Valet provider plugin:
// an in-memory object store that serves its own HMAC-signed URLs on a
// loopback listener. It exists to be read (docs/plugin-authors.md walks
// through it) and is built and run through the conformance suite by its
// tests. Objects live in memory only, so they vanish when the plugin stops.
package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valetgw/valet/plugins"
	"github.com/valetgw/valet/providers"
)

func main() {
	if err := plugins.Serve(&store{objects: map[string]object{}}); err != nil {
		log.Fatal(err)
	}
}

const maxExpiry = time.Hour

// config is the store's `config:` block in Valet's config file.
type config struct {
	Listen      string   `json:"listen"`       // default 127.0.0.1:0 (any free port)
	Secret      string   `json:"secret"`       // HMAC key; default random per process
	SecretFile  string   `json:"secret_file"`  // or the key, read from a file
	CORSOrigins []string `json:"cors_origins"` // browser origins that may use the URLs
}

type object struct {
	data     []byte
	ctype    string
	meta     map[string]string
	modified time.Time
}

type store struct {
	mu      sync.Mutex
	objects map[string]object
	secret  []byte
	origins []string
	base    string // http://host:port of our listener
}

func (s *store) Info(context.Context) (providers.Info, error) {
	return providers.Info{Name: "example", Version: "1.0.0", Capabilities: providers.Capabilities{
		SignPut: true, SignGet: true, SignDelete: true,
		BindsContentLength: true, BindsContentType: true, // checked by serve below
		MaxExpiry: maxExpiry,
		Notes:     []string{"objects are kept in memory and lost when the plugin stops"},
	}}, nil
}

func (s *store) Configure(_ context.Context, cfg providers.StoreConfig) error {
	c := config{Listen: "127.0.0.1:0"}
	if err := providers.DecodeConfig(cfg.Config, &c); err != nil {
		return err // strict: an unknown key is InvalidArgument naming it
	}
	secret, err := providers.Secret{Key: "secret", Value: c.Secret, File: c.SecretFile}.Resolve()
	if err != nil {
		return err // both given, or an unreadable file
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case secret != nil:
		s.secret = secret
	case s.secret == nil: // a second call keeps the random key, and its URLs
		s.secret = make([]byte, 32)
		_, _ = rand.Read(s.secret)
	}
	s.origins = c.CORSOrigins
	if s.base != "" {
		return nil // Configure may be called again; keep the listener.
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return providers.Errorf(providers.InvalidArgument, "config.listen: %v", err)
	}
	s.base = "http://" + ln.Addr().String()
	go http.Serve(ln, http.HandlerFunc(s.serve))
	return nil
}

// mac signs everything the request must not change.
func (s *store) mac(method, key string, exp int64, ctype string, size int64, meta url.Values) string {
	s.mu.Lock()
	h := hmac.New(sha256.New, s.secret)
	s.mu.Unlock()
	fmt.Fprintf(h, "%s\n%s\n%d\n%s\n%d\n%s", method, key, exp, ctype, size, meta.Encode())
	return hex.EncodeToString(h.Sum(nil))
}

func (s *store) sign(method, key, ctype string, size int64, meta map[string]string, ttl time.Duration) (providers.Recipe, error) {
	if ttl <= 0 || ttl > maxExpiry {
		return providers.Recipe{}, providers.Errorf(providers.InvalidArgument, "ttl %s: must be in (0, %s]", ttl, maxExpiry)
	}
	exp := time.Now().Add(ttl + time.Second - 1).Truncate(time.Second) // round up
	headers, mv := map[string]string{}, url.Values{}
	if method == http.MethodPut {
		headers["Content-Type"] = ctype
		for k, v := range meta {
			headers["X-Meta-"+k] = v
			mv.Set(strings.ToLower(k), v)
		}
	}
	q := url.Values{"exp": {strconv.FormatInt(exp.Unix(), 10)}, "sig": {s.mac(method, key, exp.Unix(), ctype, size, mv)}}
	s.mu.Lock()
	base := s.base
	s.mu.Unlock()
	u := base + "/o/" + strings.ReplaceAll(url.PathEscape(key), "%2F", "/") + "?" + q.Encode()
	return providers.Recipe{Method: method, URL: u, Headers: headers, ExpiresAt: exp}, nil
}

func (s *store) SignPut(_ context.Context, r providers.PutRequest) (providers.Recipe, error) {
	return s.sign(http.MethodPut, r.Key, r.ContentType, r.Size, r.Metadata, r.TTL)
}

func (s *store) SignGet(_ context.Context, r providers.GetRequest) (providers.Recipe, error) {
	if r.ResponseContentType != "" || r.ResponseContentDisposition != "" {
		return providers.Recipe{}, providers.Errorf(providers.Unimplemented, "response overrides are not supported")
	}
	return s.sign(http.MethodGet, r.Key, "", 0, nil, r.TTL)
}

func (s *store) SignDelete(_ context.Context, r providers.SignDeleteRequest) (providers.Recipe, error) {
	return s.sign(http.MethodDelete, r.Key, "", 0, nil, r.TTL)
}

// cors lets the configured origins use signed URLs from a browser: it
// answers the preflight a browser sends first, and lets the page read the
// answer, ETag included. It reports whether r was a preflight.
func (s *store) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	s.mu.Lock()
	allowed := origin != "" && slices.Contains(s.origins, origin)
	s.mu.Unlock()
	w.Header().Add("Vary", "Origin")
	if allowed {
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Set("Access-Control-Expose-Headers", "ETag, Content-Length, Content-Range, Content-Type")
	}
	if r.Method != http.MethodOptions {
		return false
	}
	if !allowed {
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return true
	}
	// The signature covers every header that matters, so any may be sent.
	w.Header().Set("Access-Control-Allow-Methods", "GET, HEAD, PUT, DELETE")
	w.Header().Set("Access-Control-Allow-Headers", r.Header.Get("Access-Control-Request-Headers"))
	w.WriteHeader(http.StatusNoContent)
	return true
}

// serve is the storage endpoint that signed URLs point at.
func (s *store) serve(w http.ResponseWriter, r *http.Request) {
	if s.cors(w, r) {
		return
	}
	key, _ := strings.CutPrefix(r.URL.Path, "/o/")
	exp, _ := strconv.ParseInt(r.URL.Query().Get("exp"), 10, 64)
	ctype, size, meta := "", int64(0), url.Values{}
	if r.Method == http.MethodPut {
		ctype, size = r.Header.Get("Content-Type"), r.ContentLength
		for k, v := range r.Header {
			if name, ok := strings.CutPrefix(k, "X-Meta-"); ok {
				meta.Set(strings.ToLower(name), v[0])
			}
		}
	}
	want := s.mac(r.Method, key, exp, ctype, size, meta)
	if !hmac.Equal([]byte(want), []byte(r.URL.Query().Get("sig"))) || !time.Now().Before(time.Unix(exp, 0)) {
		http.Error(w, "signature invalid or expired", http.StatusForbidden)
		return
	}
	switch r.Method {
	case http.MethodPut:
		data, err := io.ReadAll(io.LimitReader(r.Body, size+1))
		if err != nil || int64(len(data)) != size {
			http.Error(w, "body does not match the signed length", http.StatusBadRequest)
			return
		}
		md := map[string]string{}
		for k := range meta {
			md[k] = meta.Get(k)
		}
		o := object{data: data, ctype: ctype, meta: md, modified: time.Now().UTC()}
		s.mu.Lock()
		s.objects[key] = o
		s.mu.Unlock()
		w.Header().Set("ETag", describe(key, o).ETag)
		w.WriteHeader(http.StatusOK)
	case http.MethodGet:
		s.mu.Lock()
		o, ok := s.objects[key]
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", o.ctype)
		w.Header().Set("ETag", describe(key, o).ETag)
		http.ServeContent(w, r, "", o.modified, bytes.NewReader(o.data)) // Range, If-*
	case http.MethodDelete:
		s.mu.Lock()
		delete(s.objects, key)
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *store) Head(_ context.Context, req providers.HeadRequest) (providers.Object, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[req.Key]
	if !ok {
		return providers.Object{}, providers.Errorf(providers.NotFound, "%s: no such object", req.Key)
	}
	return describe(req.Key, o), nil
}

func describe(key string, o object) providers.Object {
	sum := sha256.Sum256(o.data)
	return providers.Object{Key: key, Size: int64(len(o.data)), ContentType: o.ctype,
		ETag: `"` + hex.EncodeToString(sum[:16]) + `"`, LastModified: o.modified, Metadata: o.meta}
}

func (s *store) List(_ context.Context, r providers.ListRequest) (providers.ListPage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	for k := range s.objects {
		if strings.HasPrefix(k, r.Prefix) && k > r.Cursor {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var page providers.ListPage
	if len(keys) > r.Limit {
		keys = keys[:r.Limit]
		page.NextCursor = keys[len(keys)-1] // the cursor is the last key returned
	}
	for _, k := range keys {
		page.Objects = append(page.Objects, describe(k, s.objects[k]))
	}
	return page, nil
}

func (s *store) Delete(_ context.Context, req providers.DeleteRequest) (providers.DeleteResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.objects, req.Key)
	return providers.DeleteResult{}, nil
}
