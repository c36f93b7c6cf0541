package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valetgw/valet/internal/testenv"
	"github.com/valetgw/valet/providers"
	"github.com/valetgw/valet/providers/azure"
	"github.com/valetgw/valet/providers/gcs"
	"github.com/valetgw/valet/providers/local"
	"github.com/valetgw/valet/providers/s3"
)

// The hooks suite runs the real gateway with a store hook pointing at a Node
// receiver (core/hooks/testdata/receiver.js, the one core/hooks' unit tests
// run) that verifies every delivery with the published standardwebhooks
// package, on every backend: uploads single and multipart, through the API
// and through valet.js in Chromium, refusals, and a receiver that is down
// for the first complete. The gateway is
// configured with two secrets (rotation): the receiver knows only the new
// one. That the library refuses a wrong secret, a changed body or id and a
// timestamp older than five minutes, and accepts either secret of a
// rotation, is shown against the same library by core/hooks'
// TestNodeLibraryRejects and TestNodeLibraryRotation.
func TestHooks(t *testing.T) {
	demo := testenv.DemoDriver(t)
	onEveryBackend(t, func(t *testing.T, b backend) { testHooks(t, b, demo) })
}

// receiver is a running core/hooks/testdata/receiver.js.
type receiver struct {
	URL string
}

// delivery is one request the receiver got, as GET /state lists it.
type delivery struct {
	ID        string         `json:"id"`
	Signature string         `json:"signature"`
	Verified  bool           `json:"verified"`
	Error     string         `json:"error"`
	Type      string         `json:"type"`
	Status    int            `json:"status"`
	Again     bool           `json:"again"`
	Data      map[string]any `json:"data"`
}

type receiverState struct {
	Deliveries []delivery `json:"deliveries"`
	Accepted   map[string]struct {
		Type   string         `json:"type"`
		Data   map[string]any `json:"data"`
		Answer map[string]any `json:"answer"`
	} `json:"accepted"`
}

func startReceiver(t *testing.T, node string, secrets ...string) *receiver {
	t.Helper()
	lib := testenv.NodeModule(t, "standardwebhooks/package.json")
	cmd := exec.Command(node, filepath.Join(testenv.Root(), "core", "hooks", "testdata", "receiver.js"))
	cmd.Env = []string{"NODE_PATH=" + filepath.Dir(filepath.Dir(lib)), "HOOK_SECRETS=" + strings.Join(secrets, ",")}
	p, err := testenv.Launch(t, testenv.Spec{Name: "hook receiver", Cmd: cmd, Ready: testenv.LogReady("listening http://")})
	if err != nil {
		t.Fatal(err) // our own script failing is a defect, not a missing tool
	}
	_, rest, _ := strings.Cut(p.Logs(), "listening http://")
	addr, _, _ := strings.Cut(rest, "\n")
	return &receiver{URL: "http://" + strings.TrimSpace(addr)}
}

func (rc *receiver) state(t *testing.T) receiverState {
	t.Helper()
	res, err := http.Get(rc.URL + "/state")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var s receiverState
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// of returns the deliveries of event typ for key.
func (s receiverState) of(typ, key string) []delivery {
	var out []delivery
	for _, d := range s.Deliveries {
		if d.Type == typ && d.Data["key"] == key {
			out = append(out, d)
		}
	}
	return out
}

// acceptedOf counts the events of type typ for key the receiver accepted
// (each webhook-id once).
func (s receiverState) acceptedOf(typ, key string) int {
	n := 0
	for _, a := range s.Accepted {
		if a.Type == typ && a.Data["key"] == key {
			n++
		}
	}
	return n
}

// webhookSecret is a fresh Standard Webhooks secret.
func webhookSecret(t *testing.T) string { return "whsec_" + randomSecret(t) }

// directProvider configures, in this process, a provider of b's kind on
// the store's config, to look at the backend without the gateway. A local
// store gets a listener of its own (root and secret are shared).
func directProvider(t *testing.T, b backend, cfg map[string]any) providers.Provider {
	t.Helper()
	c := maps.Clone(cfg)
	if b.Provider == "local" {
		addr := testenv.Addr(testenv.FreePort(t))
		c["listen"], c["public_url"] = addr, "http://"+addr
	}
	newProvider := map[string]func() providers.Provider{"local": local.New, "s3": s3.New, "minio": s3.NewMinIO, "gcs": gcs.New, "azure": azure.New}[b.Provider]
	if newProvider == nil {
		t.Fatalf("no in-process provider for %s", b.Provider)
	}
	raw, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	p := newProvider()
	if err := p.Configure(t.Context(), providers.StoreConfig{Store: "direct", Config: raw}); err != nil {
		t.Fatalf("configure a direct %s provider: %v", b.Provider, err)
	}
	if c, ok := p.(io.Closer); ok {
		t.Cleanup(func() { c.Close() })
	}
	return p
}

// hookUpload creates an upload of body (multipart: one part) and sends its
// bytes to storage; it returns the upload id and key.
func hookUpload(t *testing.T, g *gateway, token, filename string, body []byte, multipart bool) (id, key string) {
	t.Helper()
	r := g.do(t, "POST", "/v1/stores/media/uploads", token, map[string]any{
		"filename": filename, "content_type": "application/octet-stream", "size": len(body), "multipart": multipart,
		"metadata": map[string]string{"album": "e2e"},
	})
	want(t, r, http.StatusCreated)
	var up struct {
		uploadSlot
		Parts []struct {
			uploadSlot
			PartNumber int `json:"part_number"`
		} `json:"parts"`
	}
	if err := json.Unmarshal(r.Body, &up); err != nil {
		t.Fatal(err)
	}
	slot := up.uploadSlot
	if multipart {
		if len(up.Parts) != 1 {
			t.Fatalf("multipart plan of %d parts, want 1: %s", len(up.Parts), r.Body)
		}
		slot.Method, slot.URL, slot.Headers = up.Parts[0].Method, up.Parts[0].URL, up.Parts[0].Headers
	}
	if st, b := putRecipe(t, slot, body); st/100 != 2 {
		t.Fatalf("%s to storage: %d %s", slot.Method, st, tail(b, 400))
	}
	return up.UploadID, up.Key
}

// completeWithRetries completes an upload as a client does: retrying a 503
// after its Retry-After, at most five times. It returns every answer.
func completeWithRetries(t *testing.T, g *gateway, token, id string) []apiResp {
	t.Helper()
	var out []apiResp
	for range 5 {
		r := g.do(t, "POST", "/v1/stores/media/uploads/"+id+"/complete", token, nil)
		out = append(out, r)
		if r.Status != http.StatusServiceUnavailable {
			return out
		}
		wait, err := strconv.Atoi(r.Header.Get("Retry-After"))
		if err != nil || wait <= 0 {
			t.Fatalf("503 without a Retry-After: %s", r)
		}
		time.Sleep(time.Duration(wait) * time.Second)
	}
	return out
}

type completedHook struct {
	object
	Hook map[string]any `json:"hook"`
}

func testHooks(t *testing.T, b backend, demo testenv.Demo) {
	newSecret, oldSecret := webhookSecret(t), webhookSecret(t)
	rc := startReceiver(t, demo.Node, newSecret) // knows only the new secret
	port := testenv.FreePort(t)
	origins := []string{"http://" + testenv.Addr(port)}
	store := browserStore(t, b, origins, nil)
	store["hooks"] = map[string]any{"url": rc.URL + "/hook", "secrets": []string{newSecret, oldSecret}, "timeout": "10s"}
	env, g := startDemoGateway(t, port, origins, map[string]any{"media": store})
	direct := directProvider(t, b, store["config"].(map[string]any))
	alice := mint(t, env.HS256, "alice", time.Hour, nil)
	ctx := context.Background()

	t.Run("single and multipart", func(t *testing.T) {
		for _, multipart := range []bool{false, true} {
			name := "photo-" + strconv.FormatBool(multipart) + ".bin"
			body := randomBytes(t, 64<<10)
			id, key := hookUpload(t, g, alice, name, body, multipart)
			r := g.do(t, "POST", "/v1/stores/media/uploads/"+id+"/complete", alice, nil)
			want(t, r, http.StatusOK)
			done := decodeJSON[completedHook](t, r)
			if done.Key != key || done.Size != int64(len(body)) || done.Hook["upload_id"] != id || done.Hook["key"] != key || done.Hook["media_id"] == nil {
				t.Fatalf("%s: complete answered %s, want the object with the receiver's answer", name, r)
			}
			s := rc.state(t)
			creates, completes := s.of("upload.create", key), s.of("upload.complete", key)
			if len(creates) != 1 || len(completes) != 1 || !creates[0].Verified || !completes[0].Verified {
				t.Fatalf("%s: %d create and %d complete deliveries verified by the library, want one each: %+v", name, len(creates), len(completes), s.Deliveries)
			}
			cd, xd := creates[0].Data, completes[0].Data
			size := float64(len(body))
			if cd["store"] != "media" || cd["size"] != size || cd["content_type"] != "application/octet-stream" || cd["subject"] != "alice" || cd["upload_id"] != nil {
				t.Errorf("%s: upload.create data %v", name, cd)
			}
			if md, _ := cd["metadata"].(map[string]any); md["album"] != "e2e" {
				t.Errorf("%s: upload.create metadata %v, want the client's", name, cd["metadata"])
			}
			if xd["store"] != "media" || xd["size"] != size || xd["content_type"] != "application/octet-stream" || xd["subject"] != "alice" || xd["upload_id"] != id {
				t.Errorf("%s: upload.complete data %v", name, xd)
			}
			if done.ETag != "" && xd["etag"] != done.ETag {
				t.Errorf("%s: upload.complete etag %v, object's %q", name, xd["etag"], done.ETag)
			}
			// The metadata the create answer added is on the stored object.
			o, err := direct.Head(ctx, providers.HeadRequest{Key: key})
			if err != nil || o.Size != int64(len(body)) {
				t.Fatalf("%s: direct HEAD = %+v, %v", name, o, err)
			}
			if o.Metadata["verified-by"] != "standardwebhooks" || o.Metadata["album"] != "e2e" {
				t.Errorf("%s: stored metadata %v, want the client's album and the hook's verified-by", name, o.Metadata)
			}
		}
	})

	t.Run("refused create signs nothing", func(t *testing.T) {
		for _, multipart := range []bool{false, true} {
			r := g.do(t, "POST", "/v1/stores/media/uploads", alice, map[string]any{
				"filename": "refuse-create.bin", "content_type": "application/octet-stream", "size": 10, "multipart": multipart,
			})
			wantCode(t, r, http.StatusForbidden, "hook_rejected")
			if p := want(t, r, http.StatusForbidden); !strings.Contains(p.Detail, "the e2e receiver refuses refuse-create.bin") {
				t.Errorf("detail %q, want the receiver's message", p.Detail)
			}
			for _, s := range []string{"upload_id", "url", "parts"} {
				if strings.Contains(string(r.Body), `"`+s+`"`) {
					t.Errorf("a refused create answered %s: %s", s, r.Body)
				}
			}
		}
	})

	t.Run("refused complete deletes the object", func(t *testing.T) {
		for _, multipart := range []bool{false, true} {
			body := randomBytes(t, 4096)
			id, key := hookUpload(t, g, alice, "refuse-complete.bin", body, multipart)
			if _, err := direct.Head(ctx, providers.HeadRequest{Key: key}); !multipart && err != nil {
				t.Fatalf("the PUT stored nothing: %v", err)
			}
			r := g.do(t, "POST", "/v1/stores/media/uploads/"+id+"/complete", alice, nil)
			wantCode(t, r, http.StatusUnprocessableEntity, "hook_rejected")
			if _, err := direct.Head(ctx, providers.HeadRequest{Key: key}); !errors.Is(err, providers.ErrNotFound) {
				t.Fatalf("multipart %v: direct HEAD after a refused complete: %v, want NotFound", multipart, err)
			}
		}
	})

	t.Run("receiver down for the first complete", func(t *testing.T) {
		for _, multipart := range []bool{false, true} {
			body := randomBytes(t, 8192)
			id, key := hookUpload(t, g, alice, "flaky-"+strconv.FormatBool(multipart)+".bin", body, multipart)
			answers := completeWithRetries(t, g, alice, id)
			wantCode(t, answers[0], http.StatusServiceUnavailable, "hook_unavailable")
			last := answers[len(answers)-1]
			want(t, last, http.StatusOK)
			// The first answer was lost, say: completing again is answered alike.
			again := g.do(t, "POST", "/v1/stores/media/uploads/"+id+"/complete", alice, nil)
			want(t, again, http.StatusOK)
			first, second := decodeJSON[completedHook](t, last), decodeJSON[completedHook](t, again)
			if first.Hook["media_id"] == nil || first.Hook["media_id"] != second.Hook["media_id"] {
				t.Errorf("hook answers %v then %v, want one media id", first.Hook, second.Hook)
			}
			s := rc.state(t)
			ids, statuses := map[string]bool{}, []int{}
			for _, d := range s.of("upload.complete", key) {
				ids[d.ID], statuses = true, append(statuses, d.Status)
				if !d.Verified {
					t.Errorf("delivery %s not verified: %s", d.ID, d.Error)
				}
			}
			if len(ids) != 1 || len(statuses) < 5 || statuses[0] != 500 || statuses[1] != 500 || statuses[2] != 0 {
				t.Errorf("multipart %v: deliveries with ids %v and statuses %v, want one id: 500, 500, dropped, then accepted", multipart, ids, statuses)
			}
			if n := s.acceptedOf("upload.complete", key); n != 1 {
				t.Errorf("multipart %v: %d accepted upload.complete events, want exactly 1", multipart, n)
			}
			if o, err := direct.Head(ctx, providers.HeadRequest{Key: key}); err != nil || o.Size != int64(len(body)) {
				t.Errorf("multipart %v: direct HEAD = %+v, %v; want the object kept", multipart, o, err)
			}
		}
	})

	t.Run("browser", func(t *testing.T) {
		dir := t.TempDir()
		demoFile, refused := filepath.Join(dir, "demo-photo.bin"), filepath.Join(dir, "refuse-create-demo.bin")
		for _, f := range []string{demoFile, refused} {
			writeFile(t, f, randomBytes(t, 32<<10))
		}
		uploads := []map[string]any{
			{"name": "browser-single.bin", "size": 100 << 10, "type": "application/octet-stream"},
			{"name": "browser-multipart.bin", "size": 200 << 10, "type": "application/octet-stream", "multipart": true},
			{"name": "flaky-browser.bin", "size": 10 << 10, "type": "application/octet-stream"},
			{"name": "refuse-create-browser.bin", "size": 10, "type": "application/octet-stream"},
		}
		var rep struct {
			Uploads []struct {
				Name   string        `json:"name"`
				OK     bool          `json:"ok"`
				Obj    completedHook `json:"obj"`
				Code   string        `json:"code"`
				Status int           `json:"status"`
				Detail string        `json:"detail"`
			} `json:"uploads"`
			Demo struct {
				Hook map[string]any `json:"hook"`
			} `json:"demo"`
			DemoRefused struct {
				Message string `json:"message"`
			} `json:"demo_refused"`
		}
		demo.RunScript(t, dir, "hooks/browser.mjs", map[string]any{
			"playwright": demo.Playwright, "gateway": g.URL, "store": "media", "token": alice,
			"uploads": uploads, "demo_file": demoFile, "demo_refused": refused,
		}, 3*time.Minute, &rep)
		if len(rep.Uploads) != len(uploads) {
			t.Fatalf("%d uploads reported, want %d", len(rep.Uploads), len(uploads))
		}
		s := rc.state(t)
		for _, u := range rep.Uploads {
			if strings.HasPrefix(u.Name, "refuse-create") {
				if u.OK || u.Code != "hook_rejected" || u.Status != 403 || !strings.Contains(u.Detail, "refuses") {
					t.Errorf("%s: %+v, want 403 hook_rejected with the receiver's message", u.Name, u)
				}
				continue
			}
			h := u.Obj.Hook
			if !u.OK || h["media_id"] == nil || h["key"] != u.Obj.Key || h["upload_id"] == nil || !strings.HasSuffix(u.Obj.Key, "/"+u.Name) {
				t.Errorf("%s: valet.js answered %+v, want the object with the receiver's answer as hook", u.Name, u)
				continue
			}
			if n := s.acceptedOf("upload.complete", u.Obj.Key); n != 1 {
				t.Errorf("%s: %d accepted upload.complete events, want 1", u.Name, n)
			}
			if u.Name == "flaky-browser.bin" && len(s.of("upload.complete", u.Obj.Key)) < 4 {
				t.Errorf("%s: %d deliveries; valet.js should have retried a 503", u.Name, len(s.of("upload.complete", u.Obj.Key)))
			}
		}
		if rep.Demo.Hook["media_id"] == nil || !strings.HasSuffix(rep.Demo.Hook["key"].(string), "/demo-photo.bin") {
			t.Errorf("the demo page showed %v, want the receiver's answer", rep.Demo.Hook)
		}
		if !strings.Contains(rep.DemoRefused.Message, "refuses refuse-create-demo.bin") {
			t.Errorf("the demo page said %q for a refused upload", rep.DemoRefused.Message)
		}
	})

	t.Run("every delivery verified with the new secret alone", func(t *testing.T) {
		s := rc.state(t)
		if len(s.Deliveries) < 20 {
			t.Fatalf("only %d deliveries", len(s.Deliveries))
		}
		for _, d := range s.Deliveries {
			if !d.Verified || len(strings.Fields(d.Signature)) != 2 {
				t.Errorf("delivery %s: verified %v (%s), %d signatures", d.ID, d.Verified, d.Error, len(strings.Fields(d.Signature)))
			}
		}
	})

	t.Run("no secrets in logs or error bodies", func(t *testing.T) {
		secrets := []string{env.HS256, env.Tokens, alice, newSecret, oldSecret, strings.TrimPrefix(newSecret, "whsec_"), strings.TrimPrefix(oldSecret, "whsec_")}
		for _, d := range rc.state(t).Deliveries {
			for _, sig := range strings.Fields(d.Signature) {
				secrets = append(secrets, strings.TrimPrefix(sig, "v1,"))
			}
		}
		checkNoLeaks(t, g, secrets, nil)
		if !strings.Contains(g.Logs(), `"msg":"hook delivery"`) {
			t.Fatalf("no hook delivery log line; logs:\n%s", tail(g.Logs(), 3000))
		}
	})
}
