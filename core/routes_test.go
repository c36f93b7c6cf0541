package core

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/valetgw/valet/core/problem"
	"github.com/valetgw/valet/internal/testenv"
	"github.com/valetgw/valet/providers"
)

// Every unmatched request answers problem+json: 404 not_found for an
// unknown path, 405 method_not_allowed with Allow for a known path with the
// wrong method, with and without the demo page mounted at "/".
func TestUnmatchedRoutesAreProblems(t *testing.T) {
	for _, demo := range []bool{false, true} {
		extra := ""
		if demo {
			extra = "demo: { enabled: true }\n"
		}
		cfg := testConfig(t, extra)
		web := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/" {
				http.NotFound(w, r)
				return
			}
			if r.Method != http.MethodGet {
				w.Header().Set("Allow", "GET, HEAD")
				http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
				return
			}
			_, _ = io.WriteString(w, "<html>demo</html>")
		})
		srv, err := New(cfg, map[string]providers.Provider{"media": newFake(t)}, Options{Logger: slog.New(slog.DiscardHandler), Web: web})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		ts := httptest.NewServer(srv.Handler())
		t.Cleanup(ts.Close)

		for _, tc := range []struct {
			method, path string
			status       int
			code, allow  string
		}{
			{"GET", "/v1/nope", 404, "not_found", ""},
			{"GET", "/nope", 404, "not_found", ""},
			{"POST", "/v1/stores/media/nope/deeper", 404, "not_found", ""},
			{"GET", "/v1/stores/media/uploads", 405, "method_not_allowed", "POST"},
			{"PUT", "/v1/stores", 405, "method_not_allowed", "GET, HEAD"},
			{"PUT", "/v1/stores/media/objects/a/b.txt", 405, "method_not_allowed", "GET, HEAD, DELETE"},
			{"POST", "/healthz", 405, "method_not_allowed", "GET, HEAD"},
		} {
			req, _ := http.NewRequest(tc.method, ts.URL+tc.path, nil)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var p struct{ Code string }
			err = json.NewDecoder(res.Body).Decode(&p)
			res.Body.Close()
			if res.StatusCode != tc.status || res.Header.Get("Content-Type") != problem.ContentType || err != nil || p.Code != tc.code || res.Header.Get("Allow") != tc.allow {
				t.Errorf("demo=%v %s %s: %d %q code %q allow %q (%v); want %d %q allow %q", demo, tc.method, tc.path,
					res.StatusCode, res.Header.Get("Content-Type"), p.Code, res.Header.Get("Allow"), err, tc.status, tc.code, tc.allow)
			}
		}
		res, err := http.Get(ts.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if demo && (res.StatusCode != 200 || string(body) != "<html>demo</html>") {
			t.Errorf("demo page: %d %q", res.StatusCode, body)
		}
		if !demo && res.StatusCode != 404 {
			t.Errorf("no demo: GET / = %d", res.StatusCode)
		}
	}
}

// GET /v1/stores reports a permission unless the rule is false for the
// caller whatever the request: `size > 0` may allow an upload.
func TestStoresPermissionsMay(t *testing.T) {
	h := &harness{t: t, fake: newFake(t), cfg: testConfig(t, ""), logs: &testenv.Buffer{}}
	sc := h.cfg.Stores["media"]
	sc.Rules.Upload = `size > 0 && content_type.startsWith("video/") && subject != "mallory"`
	sc.Rules.Read = `key.startsWith("shared/") || claims.role == "admin"`
	h.cfg.Stores["media"] = sc
	h.start(h.fake)
	for _, tc := range []struct {
		sub  string
		want map[string]bool
	}{
		{"alice", map[string]bool{"upload": true, "read": true, "delete": true, "list": true}},
		{"mallory", map[string]bool{"upload": false, "read": true, "delete": true, "list": true}},
	} {
		r := h.do("GET", "/v1/stores", h.token(tc.sub, nil), nil)
		var got struct {
			Stores []storeJSON `json:"stores"`
		}
		if err := json.Unmarshal(r.body, &got); err != nil || len(got.Stores) != 1 {
			t.Fatalf("%d %s %v", r.status, r.body, err)
		}
		for op, want := range tc.want {
			if got.Stores[0].Permissions[op] != want {
				t.Errorf("%s: permissions.%s = %v, want %v", tc.sub, op, got.Stores[0].Permissions[op], want)
			}
		}
	}
}

// A multipart plan's expires_at has at most millisecond precision, like a
// single PUT's.
func TestMultipartExpiresAtPrecision(t *testing.T) {
	h := newHarness(t, "")
	r := h.do("POST", "/v1/stores/media/uploads", h.token("alice", nil), map[string]any{"filename": "s.mp4", "content_type": "video/mp4", "size": 10, "multipart": true})
	if r.status != 201 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	exp, _ := r.json(t)["expires_at"].(string)
	ts, err := time.Parse(time.RFC3339Nano, exp)
	if err != nil || !ts.Equal(ts.Truncate(time.Millisecond)) {
		t.Errorf("expires_at %q (%v): want RFC 3339 with at most milliseconds", exp, err)
	}
}

// A path with an empty, "." or ".." segment names no key: it is refused
// with a problem and CORS headers, not redirected to its cleaned form
// (http.ServeMux's 307 keeps the method, so a DELETE would follow it to
// another key, and a page across origins would see only a CORS error).
func TestUncleanPathsAreRefused(t *testing.T) {
	h := newHarness(t, "")
	alice := h.token("alice", nil)
	h.fake.PutObject("users/bob/y", []byte("bob's"), "text/plain", time.Now())
	h.fake.PutObject("users/alice/y", []byte("alice's"), "text/plain", time.Now())
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, p := range []string{
		"/v1/stores/media/objects/users/alice//y",
		"/v1/stores/media/objects/users/alice/x/../../bob/y",
		"/v1/stores/media/objects/users/alice/./y",
		"/v1/stores/media/objects/users/alice/x/..",
		"/v1/stores//media/objects/users/alice/y",
	} {
		req, _ := http.NewRequest("DELETE", h.http.URL+p, nil)
		req.Header.Set("Authorization", "Bearer "+alice)
		req.Header.Set("Origin", "http://app.test")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var pb struct{ Code string }
		_ = json.NewDecoder(res.Body).Decode(&pb)
		res.Body.Close()
		if res.StatusCode != 400 || pb.Code != "invalid_key" || res.Header.Get("Access-Control-Allow-Origin") != "http://app.test" {
			t.Errorf("DELETE %s: %d %q, Location %q, ACAO %q; want 400 invalid_key with CORS", p, res.StatusCode, pb.Code, res.Header.Get("Location"), res.Header.Get("Access-Control-Allow-Origin"))
		}
	}
	if got := h.fake.Objects(); len(got) != 2 {
		t.Errorf("objects after the refused deletes: %v", got)
	}
	// A clean path still routes.
	if r := h.do("GET", "/v1/stores/media/objects/users/alice/y", alice, nil); r.status != 200 {
		t.Errorf("a clean key: %d %s", r.status, r.body)
	}
}
