package gcsproxy

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httputil"
	"slices"
	"strconv"
	"strings"
)

// fake-gcs-server keeps no bucket CORS (a PATCH of "cors" is dropped and
// a bucket's metadata never carries it), so the proxy keeps it: JSONAPI
// forwards the JSON API to fake-gcs-server unauthenticated, as the server
// itself takes it, and remembers the "cors" of each bucket PATCH, adding
// it to the bucket's metadata answers. Signed requests to a bucket with
// rules are then answered by them, as GCS does (one rule list; a rule's
// responseHeader is both the request headers a preflight may ask for and
// the response headers exposed). A bucket without rules falls back to
// Options.AllowedOrigins, the test's own stand-in for a bucket CORS.

// corsRule is a GCS bucket CORS rule in the JSON API's form.
type corsRule struct {
	Origin         []string `json:"origin,omitempty"`
	Method         []string `json:"method,omitempty"`
	ResponseHeader []string `json:"responseHeader,omitempty"`
	MaxAgeSeconds  int      `json:"maxAgeSeconds,omitempty"`
}

// JSONAPI is the handler for the provider's JSON API endpoint (its
// /storage/v1/ base), in front of Options.Upstream.
func (p *Proxy) JSONAPI() http.Handler {
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = p.upstream.Scheme, p.upstream.Host
			pr.Out.Host = p.upstream.Host
		},
		ModifyResponse: p.addBucketCORS,
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if bucket, ok := bucketPath(r.URL.Path); ok && (r.Method == http.MethodPatch || r.Method == http.MethodPut) {
			body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			var patch map[string]json.RawMessage
			if json.Unmarshal(body, &patch) == nil {
				if raw, ok := patch["cors"]; ok {
					var rules []corsRule
					if err := json.Unmarshal(raw, &rules); err != nil {
						http.Error(w, `{"error":{"code":400,"message":"bad cors"}}`, http.StatusBadRequest)
						return
					}
					p.mu.Lock()
					if p.cors == nil {
						p.cors = map[string][]corsRule{}
					}
					if len(rules) == 0 {
						delete(p.cors, bucket)
					} else {
						p.cors[bucket] = rules
					}
					p.mu.Unlock()
				}
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
		}
		rp.ServeHTTP(w, r)
	})
}

// bucketPath is the bucket of a JSON API bucket metadata path,
// /storage/v1/b/BUCKET.
func bucketPath(path string) (string, bool) {
	b, ok := strings.CutPrefix(path, "/storage/v1/b/")
	return b, ok && b != "" && !strings.Contains(b, "/")
}

// addBucketCORS adds the bucket's rules to its metadata answer.
func (p *Proxy) addBucketCORS(resp *http.Response) error {
	bucket, ok := bucketPath(resp.Request.URL.Path)
	if !ok || resp.StatusCode != http.StatusOK {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return err
	}
	var attrs map[string]any
	if json.Unmarshal(body, &attrs) == nil {
		if rules := p.rulesOf(bucket); len(rules) > 0 {
			attrs["cors"] = rules
		} else {
			delete(attrs, "cors")
		}
		body, _ = json.Marshal(attrs)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}

func (p *Proxy) rulesOf(bucket string) []corsRule {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cors[bucket]
}

// bucketRule is the first rule of the signed request's bucket that allows
// origin, method and the request headers asked; ok is false when the
// bucket has no rules (Options.AllowedOrigins then applies).
func (p *Proxy) bucketRule(r *http.Request, origin, method string, asked []string) (rule *corsRule, ok bool) {
	bucket, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	rules := p.rulesOf(bucket)
	if len(rules) == 0 {
		return nil, false
	}
	in := func(list []string, v string, fold bool) bool {
		return slices.ContainsFunc(list, func(a string) bool { return a == "*" || a == v || fold && strings.EqualFold(a, v) })
	}
	for i, c := range rules {
		if !in(c.Origin, origin, false) || !in(c.Method, method, false) {
			continue
		}
		if slices.ContainsFunc(asked, func(h string) bool { return !in(c.ResponseHeader, h, true) }) {
			continue
		}
		return &rules[i], true
	}
	return nil, true
}

// requestHeaders is a preflight's Access-Control-Request-Headers, lower case.
func requestHeaders(r *http.Request) []string {
	var out []string
	for _, v := range r.Header.Values("Access-Control-Request-Headers") {
		for _, h := range strings.Split(v, ",") {
			if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
				out = append(out, h)
			}
		}
	}
	return out
}
