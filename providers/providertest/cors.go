package providertest

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/valetgw/valet/providers"
)

// The CORS checks: a browser sends a signed request from the application's
// origin only after a preflight (OPTIONS with Origin,
// Access-Control-Request-Method and -Headers) is allowed, and reads a
// response header such as ETag only when it is exposed. A provider that
// serves its own URLs answers both; the suite asks as a browser would.

// otherOrigin is an origin no store allows.
const otherOrigin = "https://providertest-not-allowed.invalid"

func (s *suite) needCORS(t *testing.T) {
	t.Helper()
	if s.h.CORSOrigin == "" {
		t.Skip("no Harness.CORSOrigin: give an origin the store allows to check CORS")
	}
}

// preflight sends the OPTIONS request a browser sends before method with
// headers from origin, and returns the response.
func (s *suite) preflight(t *testing.T, rawURL, origin, method string, headers []string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodOptions, rawURL, nil)
	if err != nil {
		t.Fatalf("building a preflight to %s: %v", Redact(rawURL), err)
	}
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", method)
	if len(headers) > 0 {
		req.Header.Set("Access-Control-Request-Headers", strings.Join(headers, ","))
	}
	res, err := s.h.Client.Do(req)
	if err != nil {
		// *url.Error repeats the full signed URL; report only its cause.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		t.Fatalf("preflight to %s: %v", Redact(rawURL), err)
	}
	res.Body.Close()
	return res
}

// requestHeaders are a recipe's header names as a browser lists them in
// Access-Control-Request-Headers: lower case, sorted.
func requestHeaders(r providers.Recipe, extra ...string) []string {
	var names []string
	for k := range r.Headers {
		names = append(names, strings.ToLower(k))
	}
	names = append(names, extra...)
	sort.Strings(names)
	return names
}

// listHas reports whether a comma-separated header value lists name
// (case-insensitively) or "*".
func listHas(value, name string) bool {
	for _, v := range strings.Split(value, ",") {
		if v = strings.TrimSpace(v); v == "*" || strings.EqualFold(v, name) {
			return true
		}
	}
	return false
}

// checkPreflight asserts that a preflight for method with headers from the
// allowed origin is allowed.
func (s *suite) checkPreflight(t *testing.T, what string, r providers.Recipe, headers []string) {
	t.Helper()
	origin := s.h.CORSOrigin
	res := s.preflight(t, r.URL, origin, r.Method, headers)
	if res.StatusCode < 200 || res.StatusCode > 299 {
		t.Fatalf("preflight of a %s from %s asking for %s with headers %v: status %d, want 2xx: a browser would not send the request", what, origin, r.Method, headers, res.StatusCode)
	}
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != origin && got != "*" {
		t.Errorf("preflight of a %s: Access-Control-Allow-Origin = %q, want %q", what, got, origin)
	}
	if got := res.Header.Values("Access-Control-Allow-Methods"); !listHas(strings.Join(got, ","), r.Method) {
		t.Errorf("preflight of a %s: Access-Control-Allow-Methods = %q, does not allow %s", what, got, r.Method)
	}
	allowed := strings.Join(res.Header.Values("Access-Control-Allow-Headers"), ",")
	for _, h := range headers {
		if !listHas(allowed, h) {
			t.Errorf("preflight of a %s: Access-Control-Allow-Headers = %q, does not allow %s, which the request sends", what, allowed, h)
		}
	}
}

// checkCORSResponse asserts that the actual response lets the allowed
// origin read it, ETag included.
func (s *suite) checkCORSResponse(t *testing.T, what string, res Response) {
	t.Helper()
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != s.h.CORSOrigin && got != "*" {
		t.Errorf("%s from %s: Access-Control-Allow-Origin = %q, want %q: the browser would hide the answer", what, s.h.CORSOrigin, got, s.h.CORSOrigin)
	}
	if got := strings.Join(res.Header.Values("Access-Control-Expose-Headers"), ","); !listHas(got, "ETag") {
		t.Errorf("%s: Access-Control-Expose-Headers = %q, want ETag among them (the client reads it)", what, got)
	}
}

func (s *suite) testCORSPut(t *testing.T) {
	s.needCORS(t)
	key := s.key(t, "cors-put.txt")
	s.cleanup(t, key)
	body := []byte("uploaded from a browser")
	r := s.signPut(t, key, body, putOpts{contentType: "text/plain", metadata: map[string]string{"purpose": "cors"}})
	s.checkPreflight(t, "signed PUT", r, requestHeaders(r))
	res := s.send(t, r, body, map[string]string{"Origin": s.h.CORSOrigin})
	if !ok2xx(res.Status) {
		t.Fatalf("signed PUT with Origin %s: status %d, want 2xx; body: %s", s.h.CORSOrigin, res.Status, res.Snippet())
	}
	s.checkCORSResponse(t, "signed PUT", res)
}

func (s *suite) testCORSGet(t *testing.T) {
	s.needCORS(t)
	key := s.key(t, "cors-get.bin")
	body := RandomBytes(100)
	s.put(t, key, body, putOpts{})
	r := s.signGet(t, providers.GetRequest{Key: key})
	// A player seeking sends Range, which is not CORS-safelisted for
	// every value, so browsers preflight it.
	s.checkPreflight(t, "signed GET", r, requestHeaders(r, "range"))
	res := s.send(t, r, nil, map[string]string{"Origin": s.h.CORSOrigin, "Range": "bytes=0-9"})
	if res.Status != http.StatusPartialContent {
		t.Fatalf("signed Range GET with Origin %s: status %d, want 206", s.h.CORSOrigin, res.Status)
	}
	s.checkCORSResponse(t, "signed GET", res)
}

func (s *suite) testCORSOtherOrigin(t *testing.T) {
	s.needCORS(t)
	if s.h.CORSOrigin == "*" {
		t.Skip("Harness.CORSOrigin is *: every origin is allowed")
	}
	key := s.key(t, "cors-other.txt")
	s.cleanup(t, key)
	r := s.signPut(t, key, []byte("x"), putOpts{contentType: "text/plain"})
	res := s.preflight(t, r.URL, otherOrigin, r.Method, requestHeaders(r))
	if got := res.Header.Get("Access-Control-Allow-Origin"); (got == otherOrigin || got == "*") && res.StatusCode < 300 {
		t.Fatalf("preflight from %s, an origin the store does not allow: status %d, Access-Control-Allow-Origin %q; want it refused", otherOrigin, res.StatusCode, got)
	}
	if got := res.Header.Values("Access-Control-Allow-Origin"); slices.Contains(got, otherOrigin) {
		t.Fatalf("preflight from %s: Access-Control-Allow-Origin %q allows it", otherOrigin, got)
	}
}
