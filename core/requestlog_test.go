package core

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/valetgw/valet/core/auth"
)

// send makes a request with headers against h's server, outside the
// OpenAPI-validating do (preflights and odd headers are the point here).
func (h *harness) send(method, path string, hdr ...string) *http.Response {
	h.t.Helper()
	req, _ := http.NewRequest(method, h.http.URL+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	res.Body.Close()
	return res
}

// requestLine finds the log line of the request with this id.
func (h *harness) requestLine(id string) map[string]any {
	h.t.Helper()
	for _, l := range strings.Split(h.logs.String(), "\n") {
		if m := parseLine(l); m != nil && m["request_id"] == id {
			return m
		}
	}
	h.t.Fatalf("no log line with request_id %q in:\n%s", id, h.logs.String())
	return nil
}

func parseLine(l string) map[string]any {
	var m map[string]any
	if jsonUnmarshal([]byte(l), &m) != nil {
		return nil
	}
	return m
}

// Every response carries X-Request-Id and its log line the same id: the
// caller's when sane, else the traceparent's trace id, else a fresh one.
func TestRequestIDs(t *testing.T) {
	h := newHarness(t, "")
	tok := h.token("alice", nil)
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	for _, tc := range []struct {
		name string
		hdr  []string
		want string // "" = generated
	}{
		{"caller's id", []string{"X-Request-Id", "req-42.a_b:c"}, "req-42.a_b:c"},
		{"traceparent", []string{"Traceparent", "00-" + traceID + "-00f067aa0ba902b7-01"}, traceID},
		{"insane id replaced", []string{"X-Request-Id", "bad id\twith <html>"}, ""},
		{"over-long id replaced", []string{"X-Request-Id", strings.Repeat("a", 129)}, ""},
		{"none", nil, ""},
	} {
		res := h.send("GET", "/v1/stores", append([]string{"Authorization", "Bearer " + tok}, tc.hdr...)...)
		id := res.Header.Get("X-Request-Id")
		switch {
		case tc.want != "" && id != tc.want:
			t.Errorf("%s: X-Request-Id %q, want %q", tc.name, id, tc.want)
		case tc.want == "" && (len(id) != 32 || !saneRequestID(id)):
			t.Errorf("%s: generated X-Request-Id %q", tc.name, id)
		}
		if line := h.requestLine(id); line["path"] != "/v1/stores" || line["status"] != float64(200) {
			t.Errorf("%s: log line %v", tc.name, line)
		}
	}
	// Two requests without an id get two ids.
	a, b := h.send("GET", "/healthz").Header.Get("X-Request-Id"), h.send("GET", "/healthz").Header.Get("X-Request-Id")
	if a == "" || a == b {
		t.Errorf("generated ids %q and %q", a, b)
	}
}

// A 401's log line says why (auth_reason) and never holds the token; a
// preflight from an origin not in server.cors_origins is logged, at warn,
// with the origin.
func TestRefusalsAreLogged(t *testing.T) {
	h := newHarness(t, "")
	expired, err := auth.MintHS256([]byte(hsSecret), "alice", nil, time.Minute, "valet-test", "valet", time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	otherAud, _ := auth.MintHS256([]byte(hsSecret), "alice", nil, time.Hour, "valet-test", "someone-else", time.Now())
	otherIss, _ := auth.MintHS256([]byte(hsSecret), "alice", nil, time.Hour, "evil", "valet", time.Now())
	forged, _ := auth.MintHS256([]byte("not-the-gateway-secret-0123456789"), "alice", nil, time.Hour, "valet-test", "valet", time.Now())
	for _, tc := range []struct{ name, token, reason string }{
		{"expired", expired, auth.ReasonExpired},
		{"audience", otherAud, auth.ReasonAudience},
		{"issuer", otherIss, auth.ReasonIssuer},
		{"signature", forged, auth.ReasonSignature},
		{"garbage", "garbage", auth.ReasonMalformed},
	} {
		res := h.send("GET", "/v1/stores", "Authorization", "Bearer "+tc.token)
		if res.StatusCode != 401 {
			t.Fatalf("%s: %d", tc.name, res.StatusCode)
		}
		line := h.requestLine(res.Header.Get("X-Request-Id"))
		if line["auth_reason"] != tc.reason || line["code"] != "invalid_token" {
			t.Errorf("%s: log line %v, want auth_reason %q", tc.name, line, tc.reason)
		}
	}
	res := h.send("GET", "/v1/stores")
	if line := h.requestLine(res.Header.Get("X-Request-Id")); line["auth_reason"] != auth.ReasonNone {
		t.Errorf("no credentials: %v", line)
	}
	for _, tok := range []string{expired, otherAud, otherIss, forged} {
		sig := tok[strings.LastIndex(tok, ".")+1:]
		if strings.Contains(h.logs.String(), sig) || strings.Contains(h.logs.String(), tok[:strings.Index(tok, ".")+10]) {
			t.Fatalf("the log holds a token:\n%s", h.logs.String())
		}
	}

	res = h.send("OPTIONS", "/v1/stores/media/uploads", "Origin", "https://evil.example", "Access-Control-Request-Method", "POST")
	if res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from a foreign origin allowed")
	}
	line := h.requestLine(res.Header.Get("X-Request-Id"))
	if line["origin"] != "https://evil.example" || line["level"] != "WARN" {
		t.Errorf("refused preflight's log line: %v", line)
	}
	res = h.send("OPTIONS", "/v1/stores/media/uploads", "Origin", "http://app.test", "Access-Control-Request-Method", "POST")
	if line := h.requestLine(res.Header.Get("X-Request-Id")); line["origin"] != nil || res.Header.Get("Access-Control-Allow-Origin") != "http://app.test" {
		t.Errorf("allowed preflight: %v %v", line, res.Header)
	}
}

// TestOpenAPIDocumentsRequestID: every response the OpenAPI document
// describes declares the X-Request-Id header that TestRequestIDs finds on
// every answer, so a generated client can read it.
func TestOpenAPIDocumentsRequestID(t *testing.T) {
	h := newHarness(t, "")
	n := 0
	for path, item := range h.doc.Paths.Map() {
		for method, op := range item.Operations() {
			for code, ref := range op.Responses.Map() {
				n++
				if hdr := ref.Value.Headers["X-Request-Id"]; hdr == nil || hdr.Value == nil || hdr.Value.Schema == nil {
					t.Errorf("%s %s %s: no X-Request-Id header documented", method, path, code)
				}
			}
		}
	}
	if n < 20 {
		t.Fatalf("only %d responses found in the document", n)
	}
}
