// Package gcsproxy is a test-only reverse proxy that makes
// fake-gcs-server behave like GCS where it matters for Valet's security
// claims. fake-gcs-server verifies nothing about signed URLs (see
// /work/shared/EMULATORS.md), so the proxy, independently of any SDK:
//
//   - verifies V4 signatures (RSA-SHA256 with the service account's public
//     key, and HMAC-SHA256), every signed header, and expiry, answering
//     403/400 XML errors like GCS (verify.go);
//   - enforces x-goog-if-generation-match: 0 (412), and Content-MD5 and
//     x-goog-hash (400 BadDigest), which fake-gcs-server ignores;
//   - answers CORS preflights and exposes ETag, which fake-gcs-server does
//     not, and adds the ETag header GCS's XML API returns on PUT;
//   - keeps the bucket CORS set through its JSON API front (JSONAPI,
//     bucketcors.go) and answers by it.
//
// Every rejection carries the header X-Gcsproxy-Check naming the check, so
// a test can show that the proxy, not the emulator, refused a request.
// Valid requests are forwarded to fake-gcs-server with the Host rewritten to
// its -public-host. Only path-style URLs (/bucket/object) are supported.
package gcsproxy

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"hash/crc32"
	"io"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// CheckHeader is set on every response the proxy itself refused.
const CheckHeader = "X-Gcsproxy-Check"

// Options configure a Proxy.
type Options struct {
	// Upstream is fake-gcs-server's base URL, e.g. http://127.0.0.1:4443.
	// Its host:port must be the server's -public-host.
	Upstream string
	Keys     Keys
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// AllowedOrigins are the CORS origins allowed, like a bucket CORS
	// config; empty allows any origin.
	AllowedOrigins []string
}

// Proxy is an http.Handler; see the package comment.
type Proxy struct {
	opts     Options
	upstream *url.URL
	rp       *httputil.ReverseProxy
	client   *http.Client

	mu         sync.Mutex
	rejections []Rejection
	forwarded  int
	cors       map[string][]corsRule // by bucket, set through JSONAPI
}

// New returns a proxy in front of o.Upstream.
func New(o Options) (*Proxy, error) {
	u, err := url.Parse(o.Upstream)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("gcsproxy: bad upstream %q", o.Upstream)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	p := &Proxy{opts: o, upstream: u, client: &http.Client{Timeout: 30 * time.Second}}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = u.Scheme, u.Host
			pr.Out.Host = u.Host
		},
		ModifyResponse: p.modifyResponse,
		// A browser that cancels an upload aborts the forwarded request;
		// that is expected in tests and not worth a log line.
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() == nil {
				log.Printf("gcsproxy: %s %s: %v", r.Method, r.URL.Path, err)
			}
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	return p, nil
}

// Rejections returns a copy of every rejection so far.
func (p *Proxy) Rejections() []Rejection {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.rejections)
}

// Forwarded is how many requests reached fake-gcs-server.
func (p *Proxy) Forwarded() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.forwarded
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		p.preflight(w, r, origin)
		return
	}
	if rule, ok := p.bucketRule(r, origin, r.Method, nil); ok {
		if rule != nil && origin != "" {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Add("Vary", "Origin")
			if len(rule.ResponseHeader) > 0 {
				w.Header().Set("Access-Control-Expose-Headers", strings.Join(rule.ResponseHeader, ", "))
			}
		}
	} else if origin != "" && p.originAllowed(origin) {
		setCORS(w.Header(), origin)
	}
	if rej := Verify(r, p.opts.Keys, p.opts.Now()); rej != nil {
		p.reject(w, rej)
		return
	}
	if r.Method == http.MethodPut {
		if rej := p.checkPrecondition(r); rej != nil {
			p.reject(w, rej)
			return
		}
		if rej := checkDigests(r); rej != nil {
			p.reject(w, rej)
			return
		}
	}
	p.mu.Lock()
	p.forwarded++
	p.mu.Unlock()
	p.rp.ServeHTTP(w, r)
}

func (p *Proxy) originAllowed(origin string) bool {
	return len(p.opts.AllowedOrigins) == 0 || slices.Contains(p.opts.AllowedOrigins, origin)
}

func setCORS(h http.Header, origin string) {
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Expose-Headers", "ETag, Content-Length, Content-Range, Content-Type, Accept-Ranges, x-goog-generation, x-goog-hash")
}

// preflight answers like a bucket with a CORS configuration for the allowed
// origins, any method Valet signs, and any request header.
func (p *Proxy) preflight(w http.ResponseWriter, r *http.Request, origin string) {
	m := r.Header.Get("Access-Control-Request-Method")
	if rule, ok := p.bucketRule(r, origin, m, requestHeaders(r)); ok {
		if rule == nil || origin == "" {
			p.reject(w, &Rejection{Check: CheckCORS, Status: 403, Code: "AccessDenied", Message: "CORS preflight not allowed by the bucket's rules", Method: r.Method, Path: r.URL.Path})
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Allow-Methods", strings.Join(rule.Method, ", "))
		if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" {
			h.Set("Access-Control-Allow-Headers", rh)
		}
		if rule.MaxAgeSeconds > 0 {
			h.Set("Access-Control-Max-Age", strconv.Itoa(rule.MaxAgeSeconds))
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	if origin == "" || !p.originAllowed(origin) || !slices.Contains([]string{"GET", "HEAD", "PUT", "DELETE"}, m) {
		p.reject(w, &Rejection{Check: CheckCORS, Status: 403, Code: "AccessDenied", Message: "CORS preflight not allowed", Method: r.Method, Path: r.URL.Path})
		return
	}
	h := w.Header()
	setCORS(h, origin)
	h.Set("Access-Control-Allow-Methods", "GET, HEAD, PUT, DELETE")
	if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" {
		h.Set("Access-Control-Allow-Headers", rh)
	}
	h.Set("Access-Control-Max-Age", "3600")
	w.WriteHeader(http.StatusOK)
}

func (p *Proxy) reject(w http.ResponseWriter, rej *Rejection) {
	p.mu.Lock()
	p.rejections = append(p.rejections, *rej)
	p.mu.Unlock()
	type xmlError struct {
		XMLName          xml.Name `xml:"Error"`
		Code             string   `xml:"Code"`
		Message          string   `xml:"Message"`
		StringToSign     string   `xml:"StringToSign,omitempty"`
		CanonicalRequest string   `xml:"CanonicalRequest,omitempty"`
	}
	body, _ := xml.Marshal(xmlError{Code: rej.Code, Message: rej.Message, StringToSign: rej.StringToSign, CanonicalRequest: rej.CanonicalRequest})
	w.Header().Set("Content-Type", "application/xml; charset=UTF-8")
	w.Header().Set(CheckHeader, string(rej.Check))
	w.WriteHeader(rej.Status)
	_, _ = w.Write(append([]byte("<?xml version='1.0' encoding='UTF-8'?>"), body...))
}

// checkPrecondition enforces create-only: fake-gcs-server ignores
// x-goog-if-generation-match on XML uploads, so the proxy asks its JSON API
// whether the object exists. (Not atomic; good enough for tests.)
func (p *Proxy) checkPrecondition(r *http.Request) *Rejection {
	v := r.Header.Get("x-goog-if-generation-match")
	if v == "" {
		v = r.URL.Query().Get("ifGenerationMatch")
	}
	if v != "0" {
		return nil
	}
	bucket, object, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if !ok {
		return nil
	}
	u := *p.upstream
	u.Path = "/storage/v1/b/" + bucket + "/o/" + object
	u.RawPath = "/storage/v1/b/" + url.PathEscape(bucket) + "/o/" + url.PathEscape(object)
	resp, err := p.client.Get(u.String())
	if err != nil {
		return &Rejection{Check: CheckPrecondition, Status: 503, Code: "ServiceUnavailable", Message: err.Error(), Method: r.Method, Path: r.URL.Path}
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return &Rejection{Check: CheckPrecondition, Status: 412, Code: "PreconditionFailed",
			Message: "At least one of the pre-conditions you specified did not hold.", Method: r.Method, Path: r.URL.Path}
	}
	return nil
}

// checkDigests buffers the body when a digest header is present and
// compares it, as GCS does for Content-MD5 and x-goog-hash.
func checkDigests(r *http.Request) *Rejection {
	wantMD5 := r.Header.Get("Content-MD5")
	var wantCRC string
	for _, h := range r.Header.Values("x-goog-hash") {
		for _, part := range strings.Split(h, ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
			switch k {
			case "md5":
				wantMD5 = v
			case "crc32c":
				wantCRC = v
			}
		}
	}
	if wantMD5 == "" && wantCRC == "" {
		return nil
	}
	body, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return &Rejection{Check: CheckDigest, Status: 400, Code: "IncompleteBody", Message: err.Error(), Method: r.Method, Path: r.URL.Path}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	bad := func(what string) *Rejection {
		return &Rejection{Check: CheckDigest, Status: 400, Code: "BadDigest",
			Message: "The " + what + " you specified did not match what we received.", Method: r.Method, Path: r.URL.Path}
	}
	if wantMD5 != "" {
		sum := md5.Sum(body)
		if base64.StdEncoding.EncodeToString(sum[:]) != wantMD5 {
			return bad("Content-MD5")
		}
	}
	if wantCRC != "" {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
		if base64.StdEncoding.EncodeToString(b[:]) != wantCRC {
			return bad("CRC32C")
		}
	}
	return nil
}

// modifyResponse replaces fake-gcs-server's blanket "ACAO: *" with the
// proxy's CORS decision, and adds the ETag GCS's XML API sends on PUT.
func (p *Proxy) modifyResponse(resp *http.Response) error {
	for _, h := range []string{"Access-Control-Allow-Origin", "Access-Control-Expose-Headers", "Access-Control-Allow-Credentials", "Access-Control-Allow-Headers", "Access-Control-Allow-Methods"} {
		resp.Header.Del(h)
	}
	if resp.Request.Method == http.MethodPut && resp.StatusCode == http.StatusOK && resp.Header.Get("ETag") == "" {
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return err
		}
		var obj struct {
			MD5Hash string `json:"md5Hash"`
		}
		if json.Unmarshal(body, &obj) == nil {
			if sum, err := base64.StdEncoding.DecodeString(obj.MD5Hash); err == nil && len(sum) == md5.Size {
				resp.Header.Set("ETag", `"`+hex.EncodeToString(sum)+`"`)
			}
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	return nil
}
