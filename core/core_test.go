package core

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/valetgw/valet/config"
	"github.com/valetgw/valet/internal/testenv"
	"github.com/valetgw/valet/providers"
)

const (
	hsSecret  = "test-hs256-secret-0123456789abcdef"
	tokSecret = "test-token-secret-0123456789abcdef"
	apiKey    = "vk_test_0123456789"
)

func testConfig(t testing.TB, extra string) *config.Config {
	t.Helper()
	sum := sha256.Sum256([]byte(apiKey))
	body := `
server: { cors_origins: ["http://app.test"] }
auth:
  jwt: { hs256_secret: "` + hsSecret + `", issuer: valet-test, audience: valet }
  api_keys: [ { sha256: "` + hexs(sum[:]) + `", subject: robot, claims: { role: admin } } ]
tokens: { secret: "` + tokSecret + `" }
stores:
  media:
    provider: fake
    limits: { max_size: 100MiB, content_types: ["video/*", "image/png", "text/plain", "application/octet-stream"], multipart_threshold: 4MiB, part_size: 1MiB }
    rules:
      upload: 'size <= 50 * 1024 * 1024 && !(subject == "mallory")'
      read:   'key.startsWith(key_prefix) || claims.role == "admin"'
      delete: 'key.startsWith(key_prefix)'
      list:   'prefix.startsWith(key_prefix)'
` + extra
	return loadBody(t, body)
}

// loadBody loads a config file with this body (and no environment), and
// compiles it as the server will.
func loadBody(t testing.TB, body string) *config.Config {
	t.Helper()
	cfg, err := loadAndCheck(t, body, []string{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func hexs(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

type harness struct {
	t      *testing.T
	srv    *Server
	http   *httptest.Server
	fake   *fakeProvider
	cfg    *config.Config
	logs   *testenv.Buffer
	bodies bytes.Buffer // every response body, for the leak test
	skew   atomic.Int64 // added to the server clock
	router routers.Router
	doc    *openapi3.T
}

func newHarness(t *testing.T, extra string) *harness {
	t.Helper()
	h := &harness{t: t, fake: newFake(t), cfg: testConfig(t, extra), logs: &testenv.Buffer{}}
	return h.start(h.fake)
}

func (h *harness) start(p providers.Provider) *harness {
	return h.startWith(p, Options{})
}

// startWith is start with o (its Logger and Now, when unset, are the
// harness's).
func (h *harness) startWith(p providers.Provider, o Options) *harness {
	t := h.t
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewJSONHandler(h.logs, nil))
	}
	if o.Now == nil {
		o.Now = func() time.Time { return time.Now().Add(time.Duration(h.skew.Load())) }
	}
	srv, err := New(h.cfg, map[string]providers.Provider{"media": p}, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	h.srv = srv
	h.http = httptest.NewServer(srv.Handler())
	t.Cleanup(h.http.Close)
	h.loadDoc()
	return h
}

func (h *harness) loadDoc() {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(OpenAPI())
	if err != nil {
		h.t.Fatalf("openapi: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		h.t.Fatalf("openapi invalid: %v", err)
	}
	h.doc = doc
}

func (h *harness) token(sub string, claims map[string]any) string {
	tok, err := MintDevToken(h.cfg, sub, claims, time.Hour)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("status %d, body %q: %v", r.status, r.body, err)
	}
	return m
}

func (r resp) code() string {
	var p struct{ Code string }
	_ = json.Unmarshal(r.body, &p)
	return p.Code
}

// do sends a request and validates both it and the response against the
// OpenAPI document.
func (h *harness) do(method, path, token string, body any) resp {
	h.t.Helper()
	var rd io.Reader
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, h.http.URL+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	h.bodies.Write(b)
	h.validate(method, path, raw, res, b)
	return resp{res.StatusCode, res.Header, b}
}

// validate checks one exchange against the OpenAPI document. Keys contain
// "/", which OpenAPI path templates cannot express, so the route is matched
// here and handed to openapi3filter.
func (h *harness) validate(method, path string, reqBody []byte, res *http.Response, resBody []byte) {
	h.t.Helper()
	u, _ := url.Parse(h.http.URL + path)
	route, params := h.match(method, u.Path)
	if route == nil {
		h.t.Fatalf("openapi: no operation for %s %s", method, u.Path)
	}
	req, _ := http.NewRequest(method, u.String(), bytes.NewReader(reqBody))
	if reqBody != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	// A request the document rejects must be rejected by the server too.
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil && res.StatusCode < 400 {
		h.t.Errorf("openapi request %s %s (answered %d): %v", method, path, res.StatusCode, err)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: res.StatusCode, Header: res.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	out.SetBodyBytes(resBody)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		h.t.Errorf("openapi response %s %s %d: %v", method, path, res.StatusCode, err)
	}
}

func (h *harness) match(method, p string) (*routers.Route, map[string]string) {
	segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for tmpl, item := range h.doc.Paths.Map() {
		op := item.GetOperation(method)
		if op == nil {
			continue
		}
		ts := strings.Split(strings.TrimPrefix(tmpl, "/"), "/")
		params := map[string]string{}
		ok := len(ts) == len(segs)
		for i, t := range ts {
			if i >= len(segs) {
				ok = false
				break
			}
			if t == "{key}" && i == len(ts)-1 { // the greedy tail
				params["key"] = strings.Join(segs[i:], "/")
				ok = true
				break
			}
			if strings.HasPrefix(t, "{") {
				params[strings.Trim(t, "{}")] = segs[i]
			} else if t != segs[i] {
				ok = false
				break
			}
		}
		if ok {
			return &routers.Route{Spec: h.doc, Path: tmpl, PathItem: item, Method: method, Operation: op}, params
		}
	}
	return nil, nil
}

// put sends bytes to a signed recipe, as a browser would.
func put(t *testing.T, method, u string, headers map[string]any, body []byte) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, u, bytes.NewReader(body))
	for k, v := range headers {
		req.Header.Set(k, v.(string))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

func get(t *testing.T, u string, hdr ...string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

type storeCfg = config.StoreConfig

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// The validator used by every exchange above does reject a response that
// breaks the document, so passing it means something.
func TestOpenAPIValidatorRejects(t *testing.T) {
	h := newHarness(t, "")
	route, params := h.match("GET", "/v1/stores")
	req, _ := http.NewRequest("GET", h.http.URL+"/v1/stores", nil)
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	for _, tc := range []struct {
		status int
		body   string
	}{{200, `{"stores":"nope"}`}, {200, `{}`}, {418, `{}`}} {
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: tc.status,
			Header: http.Header{"Content-Type": {"application/json"}}, Options: &openapi3filter.Options{IncludeResponseStatus: true}}
		out.SetBodyBytes([]byte(tc.body))
		if err := openapi3filter.ValidateResponse(context.Background(), out); err == nil {
			t.Errorf("%d %s accepted", tc.status, tc.body)
		}
	}
	if route, _ := h.match("GET", "/v1/stores/media/objects/users/a/b.txt"); route == nil || route.Path != "/v1/stores/{store}/objects/{key}" {
		t.Errorf("key route: %+v", route)
	}
}
