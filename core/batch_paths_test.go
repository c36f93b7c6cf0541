package core

import (
	stdjson "encoding/json"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valetgw/valet/core/problem"
	"github.com/valetgw/valet/internal/testenv"
	"github.com/valetgw/valet/providers"
)

// TestWriteSignedIsEncodingJSON: the batch answer written token by token is
// byte for byte what encoding/json made of the same items by reflection
// (the struct below is the answer's former Go type), with the same headers.
func TestWriteSignedIsEncodingJSON(t *testing.T) {
	type itemError struct {
		Code   string `json:"code"`
		Status int    `json:"status"`
		Detail string `json:"detail,omitempty"`
	}
	type signedItem struct {
		Key       string            `json:"key"`
		URL       string            `json:"url,omitempty"`
		Method    string            `json:"method,omitempty"`
		Headers   map[string]string `json:"headers,omitempty"`
		ExpiresAt *time.Time        `json:"expires_at,omitempty"`
		Error     *itemError        `json:"error,omitempty"`
	}
	east := time.FixedZone("east", 5*3600+1800)
	items := []SignedGet{
		{Key: "a/b.txt", Get: providers.Recipe{Method: "GET", URL: "http://s.test/o/a/b.txt?exp=1&sig=x-_&v=1", Headers: map[string]string{}, ExpiresAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}},
		{Key: "ü/<script>&\u2028\u2029\"\\\t", Get: providers.Recipe{Method: "GET", URL: "https://h/o/%C3%BC?a=<b>&c=\u2028", ExpiresAt: time.Date(2026, 1, 2, 3, 4, 5, 123456789, east)}},
		{Key: "h", Get: providers.Recipe{Method: "GET", URL: "u", Headers: map[string]string{"x-b": "2 & <3>", "X-A": "1", "range": "bytes=0-1"}, ExpiresAt: time.Date(2026, 1, 2, 3, 4, 5, 120000000, time.UTC)}},
		{Key: "no method", Get: providers.Recipe{URL: "u"}},
		{Key: "bad\xffutf8", Err: &problem.Problem{Code: "invalid_key", Status: 400, Detail: "invalid key: not valid UTF-8 \xfe <&>"}},
		{Key: "denied", Err: &problem.Problem{Code: "policy_denied", Status: 403, Detail: "the store's read rule does not allow this"}},
		{Key: "", Err: &problem.Problem{Code: "x", Status: 502}},
	}
	old := make([]signedItem, len(items))
	for i, it := range items {
		old[i].Key = it.Key
		if it.Err != nil {
			old[i].Error = &itemError{Code: it.Err.Code, Status: it.Err.Status, Detail: it.Err.Detail}
			continue
		}
		exp := it.Get.ExpiresAt.UTC()
		old[i].URL, old[i].Method, old[i].ExpiresAt = it.Get.URL, it.Get.Method, &exp
		if len(it.Get.Headers) > 0 {
			old[i].Headers = it.Get.Headers
		}
	}
	want := httptest.NewRecorder()
	writeJSON(want, 200, map[string]any{"items": old})
	for round := range 2 { // the second reuses the pooled encoder and buffer
		got := httptest.NewRecorder()
		writeSigned(got, items)
		if got.Body.String() != want.Body.String() {
			t.Fatalf("round %d:\n got %s\nwant %s", round, got.Body, want.Body)
		}
		if got.Code != want.Code || got.Header().Get("Content-Length") != strconv.Itoa(want.Body.Len()) || got.Header().Get("Content-Type") != want.Header().Get("Content-Type") || got.Header().Get("Cache-Control") != want.Header().Get("Cache-Control") {
			t.Fatalf("round %d: status %d, headers %v; want %d, %v", round, got.Code, got.Header(), want.Code, want.Header())
		}
	}
	if !stdjson.Valid(want.Body.Bytes()) {
		t.Fatalf("not JSON: %s", want.Body)
	}
}

// A read rule that reads neither key nor prefix is evaluated once per
// batch and its answer given to every valid key: all signed for a caller
// it allows, all policy_denied for one it does not or whose evaluation
// fails (no role claim); an invalid key is still invalid_key.
func TestSignGetsKeyIndependentRule(t *testing.T) {
	for _, rule := range []string{`claims.role == "admin"`, `subject != "mallory" && claims.role == "admin"`} {
		t.Run(rule, func(t *testing.T) {
			h := &harness{t: t, fake: newFake(t), cfg: testConfig(t, ""), logs: &testenv.Buffer{}}
			sc := h.cfg.Stores["media"]
			sc.Rules.Read = rule
			h.cfg.Stores["media"] = sc
			h.start(h.fake)
			asked := []string{"users/alice/a.mp4", "users/bob/b.mp4", "a//b", "c.txt"}
			for _, tc := range []struct {
				who    string
				claims map[string]any
				want   string // for the valid keys; "" = signed
			}{
				{"alice", map[string]any{"role": "admin"}, ""},
				{"mallory", map[string]any{"role": "admin"}, map[bool]string{true: "policy_denied", false: ""}[strings.Contains(rule, "mallory")]},
				{"bob", map[string]any{"role": "viewer"}, "policy_denied"},
				{"carol", nil, "policy_denied"},
			} {
				r := h.do("POST", "/v1/stores/media/objects/sign", h.token(tc.who, tc.claims), map[string]any{"keys": asked})
				if r.status != 200 {
					t.Fatalf("%s: status %d: %s", tc.who, r.status, r.body)
				}
				var out struct {
					Items []struct {
						Key, URL string
						Error    *struct{ Code string }
					}
				}
				if err := jsonUnmarshal(r.body, &out); err != nil || len(out.Items) != len(asked) {
					t.Fatalf("%s: %v, %s", tc.who, err, r.body)
				}
				for i, it := range out.Items {
					want := tc.want
					if asked[i] == "a//b" {
						want = "invalid_key"
					}
					got := ""
					if it.Error != nil {
						got = it.Error.Code
					}
					if it.Key != asked[i] || got != want || (want == "") != (it.URL != "") {
						t.Errorf("%s, item %d (%s): %+v, want error %q", tc.who, i, asked[i], it, want)
					}
				}
			}
		})
	}
}
