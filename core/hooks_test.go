package core

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/valetgw/valet/internal/testenv"
	"github.com/valetgw/valet/providers"
)

// hookSecret signs the test hooks' deliveries.
var hookSecret = "whsec_" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("h"), 32))

// hookCall is one delivery a hookReceiver got.
type hookCall struct {
	header http.Header
	body   []byte
	event  struct {
		Type string         `json:"type"`
		Data map[string]any `json:"data"`
	}
}

// hookReceiver is the application's webhook: it records every delivery
// and answers with answer(call number from 1, event type).
type hookReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	calls  []hookCall
	answer func(n int, typ string, w http.ResponseWriter)
	// refuse, when set, is a subject whose upload.complete is refused
	// (400 "not from SUBJECT") before answer is asked.
	refuse string
}

func newHookReceiver(t *testing.T, answer func(n int, typ string, w http.ResponseWriter)) *hookReceiver {
	t.Helper()
	return startHookReceiver(t, &hookReceiver{answer: answer})
}

// newRefusingReceiver is a hook that refuses subject's upload.complete and
// answers every other event 204.
func newRefusingReceiver(t *testing.T, subject string) *hookReceiver {
	t.Helper()
	return startHookReceiver(t, &hookReceiver{refuse: subject, answer: func(n int, typ string, w http.ResponseWriter) {
		w.WriteHeader(http.StatusNoContent)
	}})
}

func startHookReceiver(t *testing.T, rc *hookReceiver) *hookReceiver {
	t.Helper()
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var c hookCall
		c.header = r.Header.Clone()
		c.body, _ = io.ReadAll(r.Body)
		if err := json.Unmarshal(c.body, &c.event); err != nil {
			t.Errorf("delivery body %q: %v", c.body, err)
		}
		rc.mu.Lock()
		rc.calls = append(rc.calls, c)
		n := len(rc.calls)
		rc.mu.Unlock()
		if rc.refuse != "" && c.event.Type == "upload.complete" && c.event.Data["subject"] == rc.refuse {
			answerJSON(w, 400, map[string]string{"message": "not from " + rc.refuse})
			return
		}
		rc.answer(n, c.event.Type, w)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// of returns the deliveries of one event type.
func (rc *hookReceiver) of(typ string) []hookCall {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []hookCall
	for _, c := range rc.calls {
		if c.event.Type == typ {
			out = append(out, c)
		}
	}
	return out
}

func answerJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// signing is the fake provider with a count of what was signed, and the
// metadata each single PUT was signed with.
type signing struct {
	*fakeProvider
	mu       sync.Mutex
	puts     int
	creates  int
	metadata []map[string]string
}

func (s *signing) SignPut(ctx context.Context, req providers.PutRequest) (providers.Recipe, error) {
	s.mu.Lock()
	s.puts++
	s.metadata = append(s.metadata, req.Metadata)
	s.mu.Unlock()
	return s.fakeProvider.SignPut(ctx, req)
}

func (s *signing) CreateMultipart(ctx context.Context, req providers.CreateMultipartRequest) (providers.MultipartUpload, error) {
	s.mu.Lock()
	s.creates++
	s.mu.Unlock()
	return s.fakeProvider.CreateMultipart(ctx, req)
}

// newHookHarness serves the test config with a default hook to rc, on the
// fake provider wrapped in signing.
func newHookHarness(t *testing.T, rc *hookReceiver, events string) (*harness, *signing) {
	t.Helper()
	h := &harness{t: t, fake: newFake(t), logs: &testenv.Buffer{}}
	h.cfg = testConfig(t, "hooks: { url: \""+rc.URL+"\", secret: \""+hookSecret+"\", timeout: 3s"+events+" }\n")
	sp := &signing{fakeProvider: h.fake}
	h.start(sp)
	return h, sp
}

// uploadSingle creates a single-PUT upload of a.txt (text/plain) with
// token and sends its bytes; it returns the create answer.
func (h *harness) uploadSingle(t *testing.T, token string, body []byte, md map[string]string) map[string]any {
	t.Helper()
	return h.uploadFile(t, token, "a.txt", "text/plain", body, md)
}

// uploadFile is uploadSingle of a file name and content type.
func (h *harness) uploadFile(t *testing.T, token, name, contentType string, body []byte, md map[string]string) map[string]any {
	t.Helper()
	req := map[string]any{"filename": name, "content_type": contentType, "size": len(body)}
	if md != nil {
		req["metadata"] = md
	}
	r := h.do("POST", "/v1/stores/media/uploads", token, req)
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	up := r.json(t)
	if res := put(t, up["method"].(string), up["url"].(string), up["headers"].(map[string]any), body); res.StatusCode/100 != 2 {
		t.Fatalf("PUT: %d", res.StatusCode)
	}
	return up
}

// upload.create and upload.complete are delivered with the upload's data:
// the create answer's metadata is signed into the upload beside the
// client's, and the complete answer is the complete response's hook.
func TestHooksCreateAndComplete(t *testing.T) {
	rc := newHookReceiver(t, func(n int, typ string, w http.ResponseWriter) {
		switch typ {
		case "upload.create":
			answerJSON(w, 200, map[string]any{"metadata": map[string]string{"owner": "app-7"}})
		case "upload.complete":
			answerJSON(w, 200, map[string]any{"media_id": "m1", "n": n})
		}
	})
	h, sp := newHookHarness(t, rc, "")
	alice := h.token("alice", nil)
	up := h.uploadSingle(t, alice, []byte("hello"), map[string]string{"album": "cats"})
	r := h.do("POST", "/v1/stores/media/uploads/"+up["upload_id"].(string)+"/complete", alice, nil)
	if r.status != 200 {
		t.Fatalf("complete: %d %s", r.status, r.body)
	}
	got := r.json(t)
	if hk, _ := got["hook"].(map[string]any); hk["media_id"] != "m1" || got["key"] != up["key"] || got["size"] != 5.0 {
		t.Fatalf("complete answer %s, want the object with hook.media_id m1", r.body)
	}
	if md := sp.metadata; len(md) != 1 || md[0]["album"] != "cats" || md[0]["owner"] != "app-7" {
		t.Errorf("signed metadata %v, want the client's album and the hook's owner", md)
	}

	creates, completes := rc.of("upload.create"), rc.of("upload.complete")
	if len(creates) != 1 || len(completes) != 1 {
		t.Fatalf("%d creates, %d completes delivered", len(creates), len(completes))
	}
	cd, xd := creates[0].event.Data, completes[0].event.Data
	if cd["store"] != "media" || cd["key"] != up["key"] || cd["size"] != 5.0 || cd["content_type"] != "text/plain" || cd["subject"] != "alice" || cd["upload_id"] != nil {
		t.Errorf("upload.create data %v", cd)
	}
	if m, _ := cd["metadata"].(map[string]any); m["album"] != "cats" || len(m) != 1 {
		t.Errorf("upload.create metadata %v, want the client's", cd["metadata"])
	}
	if xd["key"] != up["key"] || xd["size"] != 5.0 || xd["upload_id"] != up["upload_id"] || xd["subject"] != "alice" || xd["content_type"] != "text/plain" {
		t.Errorf("upload.complete data %v", xd)
	}
	for _, c := range rc.calls {
		if !strings.HasPrefix(c.header.Get("webhook-signature"), "v1,") || c.header.Get("webhook-id") == "" || c.header.Get("webhook-timestamp") == "" {
			t.Errorf("delivery headers %v", c.header)
		}
		if strings.Contains(string(c.body), "sig=") || strings.Contains(string(c.body), "http") {
			t.Errorf("delivery holds a URL: %s", c.body)
		}
	}

	// The metrics count both deliveries.
	r = h.do("GET", "/metrics", "", nil)
	for _, ev := range []string{"upload.create", "upload.complete"} {
		if want := `valet_hook_deliveries_total{event="` + ev + `",outcome="accepted",store="media"} 1`; !strings.Contains(string(r.body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// A refused upload.create is 403 hook_rejected with the receiver's message,
// and nothing is signed, single or multipart.
func TestHookRefusesCreate(t *testing.T) {
	rc := newHookReceiver(t, func(n int, typ string, w http.ResponseWriter) {
		answerJSON(w, 403, map[string]string{"message": "only images, please"})
	})
	h, sp := newHookHarness(t, rc, "")
	alice := h.token("alice", nil)
	for _, size := range []int{5, 5 << 20} {
		r := h.do("POST", "/v1/stores/media/uploads", alice, map[string]any{"filename": "a.txt", "content_type": "text/plain", "size": size})
		if r.status != 403 || r.code() != "hook_rejected" || !strings.Contains(string(r.body), "only images, please") || strings.Contains(string(r.body), "upload_id") {
			t.Fatalf("size %d: %d %s, want 403 hook_rejected with the message", size, r.status, r.body)
		}
	}
	if sp.puts != 0 || sp.creates != 0 || h.fake.Created() != 0 {
		t.Fatalf("signed %d PUTs and %d multipart uploads after a refusal", sp.puts, sp.creates)
	}
	if n := len(rc.of("upload.create")); n != 2 {
		t.Fatalf("%d deliveries, want 2 (a refusal is not retried)", n)
	}
	// A rule that denies is answered before the hook is asked.
	if r := h.do("POST", "/v1/stores/media/uploads", h.token("mallory", nil), map[string]any{"filename": "a.txt", "content_type": "text/plain", "size": 1}); r.status != 403 || r.code() != "policy_denied" || len(rc.of("upload.create")) != 2 {
		t.Fatalf("policy: %d %s after %d deliveries", r.status, r.body, len(rc.calls))
	}
}

// A refused upload.complete deletes the verified object and answers 422;
// an unreachable receiver answers 503 with Retry-After and keeps it, and
// the client's retry delivers the same event (same webhook-id) again.
func TestHookCompleteRefusedOrUnavailable(t *testing.T) {
	var mu sync.Mutex
	mode := "down"
	rc := newHookReceiver(t, func(n int, typ string, w http.ResponseWriter) {
		mu.Lock()
		m := mode
		mu.Unlock()
		switch {
		case typ != "upload.complete":
			w.WriteHeader(204)
		case m == "down":
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(503)
		case m == "refuse":
			answerJSON(w, 400, map[string]string{"message": "not this one"})
		case m == "junk":
			w.WriteHeader(200)
			_, _ = w.Write([]byte("OK"))
		default:
			answerJSON(w, 200, map[string]string{"media_id": "m9"})
		}
	})
	h, _ := newHookHarness(t, rc, "")
	alice := h.token("alice", nil)

	up := h.uploadSingle(t, alice, []byte("hello"), nil)
	path := "/v1/stores/media/uploads/" + up["upload_id"].(string) + "/complete"
	r := h.do("POST", path, alice, nil)
	if r.status != 503 || r.code() != "hook_unavailable" || r.header.Get("Retry-After") != "1" {
		t.Fatalf("hook down: %d %v %s, want 503 hook_unavailable with Retry-After 1", r.status, r.header, r.body)
	}
	if objs := h.fake.Objects(); len(objs) != 1 {
		t.Fatalf("objects after an unavailable hook: %v, want the upload kept", objs)
	}
	mu.Lock()
	mode = "junk"
	mu.Unlock()
	if r := h.do("POST", path, alice, nil); r.status != 502 || r.code() != "hook_invalid_answer" || len(h.fake.Objects()) != 1 {
		t.Fatalf("junk answer: %d %s, objects %v", r.status, r.body, h.fake.Objects())
	}
	mu.Lock()
	mode = "up"
	mu.Unlock()
	if r := h.do("POST", path, alice, nil); r.status != 200 || !strings.Contains(string(r.body), `"hook":{"media_id":"m9"}`) {
		t.Fatalf("retried complete: %d %s", r.status, r.body)
	}
	ids := map[string]bool{}
	for _, c := range rc.of("upload.complete") {
		ids[c.header.Get("webhook-id")] = true
	}
	if n := len(rc.of("upload.complete")); len(ids) != 1 || n < 4 {
		t.Fatalf("%d deliveries with ids %v, want retries within the first call, then one per call, all with one id", n, ids)
	}

	mu.Lock()
	mode = "refuse"
	mu.Unlock()
	up = h.uploadSingle(t, alice, []byte("hello"), nil)
	r = h.do("POST", "/v1/stores/media/uploads/"+up["upload_id"].(string)+"/complete", alice, nil)
	if r.status != 422 || r.code() != "hook_rejected" || !strings.Contains(string(r.body), "not this one") {
		t.Fatalf("refused complete: %d %s, want 422 hook_rejected", r.status, r.body)
	}
	for _, k := range h.fake.Objects() {
		if k == up["key"] {
			t.Fatalf("the refused object %s is still there", k)
		}
	}
}

// object.delete is delivered before the delete: a refusal keeps the object
// (422), acceptance deletes it, and a missing object delivers nothing.
func TestHookDelete(t *testing.T) {
	var mu sync.Mutex
	refuse := true
	rc := newHookReceiver(t, func(n int, typ string, w http.ResponseWriter) {
		mu.Lock()
		defer mu.Unlock()
		if refuse {
			answerJSON(w, 409, map[string]string{"message": "still attached to a post"})
			return
		}
		w.WriteHeader(204)
	})
	h, _ := newHookHarness(t, rc, ", events: [object.delete]")
	alice := h.token("alice", nil)
	up := h.uploadSingle(t, alice, []byte("hello"), nil)
	if r := h.do("POST", "/v1/stores/media/uploads/"+up["upload_id"].(string)+"/complete", alice, nil); r.status != 200 || strings.Contains(string(r.body), "hook") {
		t.Fatalf("complete without upload.complete in events: %d %s", r.status, r.body)
	}
	if len(rc.calls) != 0 {
		t.Fatalf("%d deliveries of events the hook does not want", len(rc.calls))
	}
	path := "/v1/stores/media/objects/" + escapeKey(up["key"].(string))
	if r := h.do("DELETE", path, alice, nil); r.status != 422 || r.code() != "hook_rejected" || !strings.Contains(string(r.body), "still attached") {
		t.Fatalf("refused delete: %d %s", r.status, r.body)
	}
	if len(h.fake.Objects()) != 1 {
		t.Fatalf("a refused delete deleted: %v", h.fake.Objects())
	}
	mu.Lock()
	refuse = false
	mu.Unlock()
	if r := h.do("DELETE", path, alice, nil); r.status != 204 || len(h.fake.Objects()) != 0 {
		t.Fatalf("accepted delete: %d %s, objects %v", r.status, r.body, h.fake.Objects())
	}
	dels := rc.of("object.delete")
	if len(dels) != 2 || dels[0].header.Get("webhook-id") != dels[1].header.Get("webhook-id") || dels[0].event.Data["etag"] == nil || dels[0].event.Data["key"] != up["key"] {
		t.Fatalf("deliveries %d, want two of one event with the object's key and etag", len(dels))
	}
	if r := h.do("DELETE", path, alice, nil); r.status != 204 || len(rc.of("object.delete")) != 2 {
		t.Fatalf("deleting a missing object: %d, %d deliveries", r.status, len(rc.of("object.delete")))
	}
}

// Under a shared key, completing a single-PUT upload that sent nothing
// finds the object that stood there when the upload was created: that is
// object_missing, not another's object (its etag and modification time)
// answered as this caller's and told to the hook as theirs.
func TestCompleteDoesNotClaimThePriorObject(t *testing.T) {
	rc := newHookReceiver(t, func(n int, typ string, w http.ResponseWriter) { w.WriteHeader(204) })
	h := storeHarness(t, `
    provider: fake
    key_template: "shared/{filename}"
    rules: { upload: "true", read: "false", delete: "false", list: "false" }
    hooks: { url: "`+rc.URL+`", secret: "`+hookSecret+`", events: [upload.complete] }
`, newFake(t))
	alice, mallory := h.token("alice", nil), h.token("mallory", nil)
	data := []byte("alice's report")
	create := func(tok string) map[string]any {
		t.Helper()
		r := h.do("POST", "/v1/stores/media/uploads", tok, map[string]any{"filename": "r.txt", "content_type": "text/plain", "size": len(data)})
		if r.status != 201 {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		return r.json(t)
	}
	up := create(alice)
	put(t, up["method"].(string), up["url"].(string), up["headers"].(map[string]any), data)
	if r := h.do("POST", "/v1/stores/media/uploads/"+up["upload_id"].(string)+"/complete", alice, nil); r.status != 200 {
		t.Fatalf("alice's complete: %d %s", r.status, r.body)
	}
	trap := create(mallory)["upload_id"].(string)
	r := h.do("POST", "/v1/stores/media/uploads/"+trap+"/complete", mallory, nil)
	if r.status != 409 || r.code() != "object_missing" || strings.Contains(string(r.body), "etag") {
		t.Errorf("mallory completes an upload she never sent: %d %s, want 409 object_missing", r.status, r.body)
	}
	for _, c := range rc.of("upload.complete") {
		if c.event.Data["subject"] == "mallory" {
			t.Errorf("the hook was told of alice's object as mallory's: %s", c.body)
		}
	}
	if o, err := h.fake.Head(t.Context(), providers.HeadRequest{Key: "shared/r.txt"}); err != nil || o.Size != int64(len(data)) {
		t.Errorf("alice's object: %+v, %v", o, err)
	}
}

// A hook may take its whole timeout; an object written at the key
// meanwhile is not the one it refused or approved deleting, so neither a
// refused complete nor an approved delete deletes it.
func TestHookDecidesOnlyTheObjectItWasShown(t *testing.T) {
	var h *harness
	var alice string
	var mu sync.Mutex
	var during func() // run by the next complete or delete delivery
	var rc *hookReceiver
	rc = newHookReceiver(t, func(n int, typ string, w http.ResponseWriter) {
		rc.mu.Lock()
		subject := rc.calls[n-1].event.Data["subject"]
		rc.mu.Unlock()
		mu.Lock()
		f := during
		if typ != "upload.create" {
			during = nil
		}
		mu.Unlock()
		if f != nil && typ != "upload.create" {
			f() // another whole upload, while this delivery waits
		}
		if typ == "upload.complete" && subject == "mallory" {
			answerJSON(w, 400, map[string]string{"message": "not from mallory"})
			return
		}
		w.WriteHeader(204)
	})
	setDuring := func(f func()) {
		mu.Lock()
		during = f
		mu.Unlock()
	}
	h = storeHarness(t, `
    provider: fake
    key_template: "shared/{filename}"
    limits: { multipart_threshold: 4MiB, part_size: 1MiB }
    rules: { upload: "true", read: "true", delete: "true" }
    hooks: { url: "`+rc.URL+`", secret: "`+hookSecret+`", timeout: 10s, events: [upload.complete, object.delete] }
`, newFake(t))
	alice = h.token("alice", nil)
	mallory := h.token("mallory", nil)
	upload := func(tok, name string, data []byte, multipart bool) resp {
		t.Helper()
		r := h.do("POST", "/v1/stores/media/uploads", tok, map[string]any{"filename": name, "content_type": "text/plain", "size": len(data), "multipart": multipart})
		if r.status != 201 {
			t.Fatalf("create %s: %d %s", name, r.status, r.body)
		}
		up := r.json(t)
		rc := up
		if multipart {
			rc = up["parts"].([]any)[0].(map[string]any)
		}
		put(t, rc["method"].(string), rc["url"].(string), rc["headers"].(map[string]any), data)
		return h.do("POST", "/v1/stores/media/uploads/"+up["upload_id"].(string)+"/complete", tok, nil)
	}
	alices := []byte("alice's report, accepted")
	aliceWrites := func(name string) func() {
		return func() {
			if r := upload(alice, name, alices, false); r.status != 200 {
				t.Errorf("alice's complete: %d %s", r.status, r.body)
			}
		}
	}
	survives := func(what, key string) {
		t.Helper()
		if o, err := h.fake.Head(t.Context(), providers.HeadRequest{Key: key}); err != nil || o.Size != int64(len(alices)) {
			t.Errorf("%s: alice's object, which the hook accepted, was deleted or changed: %+v, %v", what, o, err)
		}
	}

	// Mallory's own multipart upload, refused; alice's upload of the same
	// key lands while the hook is asked.
	setDuring(aliceWrites("c.txt"))
	r := upload(mallory, "c.txt", []byte("mallory's"), true)
	if r.status != 422 || r.code() != "hook_rejected" || !strings.Contains(r.json(t)["detail"].(string), "replaced it") {
		t.Errorf("mallory's refused multipart: %d %s, want 422 hook_rejected saying another object replaced it", r.status, r.body)
	}
	survives("refused complete", "shared/c.txt")

	// The hook approves deleting alice's object; another lands meanwhile.
	setDuring(aliceWrites("c.txt"))
	r = h.do("DELETE", "/v1/stores/media/objects/shared/c.txt", alice, nil)
	if r.status != 409 || r.code() != "object_changed" {
		t.Errorf("delete approved for an object replaced meanwhile: %d %s, want 409 object_changed", r.status, r.body)
	}
	survives("approved delete", "shared/c.txt")
	// Retried, the hook is asked about the object there now.
	if r := h.do("DELETE", "/v1/stores/media/objects/shared/c.txt", alice, nil); r.status != 204 || len(h.fake.Objects()) != 0 {
		t.Errorf("retried delete: %d %s, objects %v", r.status, r.body, h.fake.Objects())
	}
	if dels := rc.of("object.delete"); len(dels) != 2 || dels[0].header.Get("webhook-id") == dels[1].header.Get("webhook-id") {
		t.Errorf("object.delete deliveries: %d, want two events (two objects)", len(dels))
	}
}

// Metadata the hook adds must keep the API's rules with the client's.
func TestHookMetadataIsChecked(t *testing.T) {
	rc := newHookReceiver(t, func(n int, typ string, w http.ResponseWriter) {
		md := map[string]string{}
		for i := range 10 {
			md["h"+string(rune('a'+i))] = "x"
		}
		answerJSON(w, 200, map[string]any{"metadata": md})
	})
	h, sp := newHookHarness(t, rc, ", events: [upload.create]")
	md := map[string]string{}
	for i := range 10 {
		md["c"+string(rune('a'+i))] = "y"
	}
	r := h.do("POST", "/v1/stores/media/uploads", h.token("alice", nil), map[string]any{"filename": "a.txt", "content_type": "text/plain", "size": 1, "metadata": md})
	if r.status != 502 || r.code() != "hook_invalid_answer" || !strings.Contains(string(r.body), "at most 16 metadata entries") || sp.puts != 0 {
		t.Fatalf("20 entries in all: %d %s, %d signed", r.status, r.body, sp.puts)
	}
}

// The leak test for hooks (beside TestNoSecretsInLogsOrErrors): no hook
// secret or delivery signature reaches a log line or an error body, even
// from a receiver that echoes them in its refusal.
func TestNoHookSecretsInLogsOrErrors(t *testing.T) {
	rc := newHookReceiver(t, nil)
	rc.answer = func(n int, typ string, w http.ResponseWriter) {
		rc.mu.Lock()
		c := rc.calls[n-1]
		rc.mu.Unlock()
		switch typ {
		case "upload.create":
			answerJSON(w, 200, map[string]any{"echo": c.header.Get("webhook-signature")})
		default:
			answerJSON(w, 403, map[string]string{"message": "bad: " + c.header.Get("webhook-signature") + " " + hookSecret + " " + strings.TrimPrefix(hookSecret, "whsec_")})
		}
	}
	h, _ := newHookHarness(t, rc, "")
	alice := h.token("alice", nil)
	up := h.uploadSingle(t, alice, []byte("hi"), nil)
	h.bodies.Reset()
	if r := h.do("POST", "/v1/stores/media/uploads/"+up["upload_id"].(string)+"/complete", alice, nil); r.status != 422 {
		t.Fatalf("complete: %d %s", r.status, r.body)
	}
	needles := map[string]string{"secret": hookSecret, "secret key": strings.TrimPrefix(hookSecret, "whsec_")}
	for i, c := range rc.calls {
		sig := c.header.Get("webhook-signature")
		needles["signature "+string(rune('0'+i))] = strings.TrimPrefix(sig, "v1,")
	}
	logs, bodies := h.logs.String(), h.bodies.String()
	if !strings.Contains(logs, `"msg":"hook delivery"`) || !strings.Contains(bodies, "hook_rejected") || !strings.Contains(bodies, "***") {
		t.Fatalf("the test saw no delivery log line or refusal:\n%s\n%s", logs, bodies)
	}
	for name, s := range needles {
		if len(s) < 16 {
			t.Fatalf("%s: empty probe", name)
		}
		if strings.Contains(logs, s) {
			t.Errorf("%s in logs", name)
		}
		if strings.Contains(bodies, s) {
			t.Errorf("%s in an error body", name)
		}
	}
}

// The REST routes keep the promise of docs/security.md too: an upload
// never deletes an object its caller could not delete. On a key template
// without {uuid}, with delete 'false' and a hook that refuses Mallory,
// Alice's object under the shared key survives Mallory completing an
// upload of that key declared at its exact size: a multipart one she
// aborted before Alice wrote (the provider no longer knows it, so it is
// upload_missing, and the hook hears nothing), and a single PUT she never
// sent (the hook refuses, and the object is left in place). Mallory's own
// assembled multipart object is still deleted on a refusal.
func TestCompleteNeverDeletesAnothersObject(t *testing.T) {
	rc := newRefusingReceiver(t, "mallory")
	h := storeHarness(t, `
    provider: fake
    key_template: "shared/{filename}"
    limits: { multipart_threshold: 4MiB, part_size: 1MiB }
    rules: { upload: "true", read: "true", delete: "false" }
    hooks: { url: "`+rc.URL+`", secret: "`+hookSecret+`", timeout: 3s }
`, newFake(t))
	alice, mallory := h.token("alice", nil), h.token("mallory", nil)
	data := []byte("alice's report")
	create := func(tok, name string, multipart bool) map[string]any {
		t.Helper()
		r := h.do("POST", "/v1/stores/media/uploads", tok, map[string]any{"filename": name, "content_type": "text/plain", "size": len(data), "multipart": multipart})
		if r.status != 201 {
			t.Fatalf("create %s: %d %s", name, r.status, r.body)
		}
		return r.json(t)
	}
	aliceWrites := func(name string) {
		t.Helper()
		up := create(alice, name, false)
		put(t, up["method"].(string), up["url"].(string), up["headers"].(map[string]any), data)
		if r := h.do("POST", "/v1/stores/media/uploads/"+up["upload_id"].(string)+"/complete", alice, nil); r.status != 200 {
			t.Fatalf("alice's complete: %d %s", r.status, r.body)
		}
	}
	survives := func(what, key string) {
		t.Helper()
		if o, err := h.fake.Head(t.Context(), providers.HeadRequest{Key: key}); err != nil || o.Size != int64(len(data)) {
			t.Errorf("%s: alice's object was deleted or changed: %+v, %v", what, o, err)
		}
	}

	trap := create(mallory, "a.txt", true)["upload_id"].(string)
	if r := h.do("DELETE", "/v1/stores/media/uploads/"+trap, mallory, nil); r.status != 204 {
		t.Fatalf("abort: %d %s", r.status, r.body)
	}
	aliceWrites("a.txt")
	if r := h.do("POST", "/v1/stores/media/uploads/"+trap+"/complete", mallory, nil); r.status != 409 || r.code() != "upload_missing" {
		t.Errorf("mallory completes her aborted multipart upload: %d %s, want 409 upload_missing", r.status, r.body)
	}
	survives("aborted multipart", "shared/a.txt")
	for _, c := range rc.of("upload.complete") {
		if c.event.Data["subject"] == "mallory" {
			t.Errorf("the hook was told of alice's object as mallory's: %s", c.body)
		}
	}

	trap = create(mallory, "b.txt", false)["upload_id"].(string)
	aliceWrites("b.txt")
	r := h.do("POST", "/v1/stores/media/uploads/"+trap+"/complete", mallory, nil)
	if r.status != 422 || r.code() != "hook_rejected" || !strings.Contains(r.json(t)["detail"].(string), "left in place") {
		t.Errorf("mallory completes a single PUT she never sent: %d %s, want 422 hook_rejected, left in place", r.status, r.body)
	}
	survives("single PUT", "shared/b.txt")

	up := create(mallory, "c.txt", true)
	mp := up["parts"].([]any)[0].(map[string]any)
	put(t, mp["method"].(string), mp["url"].(string), mp["headers"].(map[string]any), data)
	if r := h.do("POST", "/v1/stores/media/uploads/"+up["upload_id"].(string)+"/complete", mallory, nil); r.status != 422 || r.code() != "hook_rejected" {
		t.Fatalf("mallory's own multipart: %d %s, want 422 hook_rejected", r.status, r.body)
	}
	if _, err := h.fake.Head(t.Context(), providers.HeadRequest{Key: "shared/c.txt"}); providers.CodeOf(err) != providers.NotFound {
		t.Errorf("the refused object mallory's complete assembled stays: %v", err)
	}
}
