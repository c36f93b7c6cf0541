package e2e

import (
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/valetgw/valet/internal/testenv"
)

// The Uppy suite drives Uppy's Dashboard from the pinned npm packages, with
// Valet's uploader (the gateway's /uppy.js), in headless Chromium against
// every registered backend (e2e/browser/uppy.mjs and uppy.html). The page
// has its own origin, as an application's would: the gateway and storage
// are both cross-origin to it.

func TestUppy(t *testing.T) {
	demo, inputs := browserSuite(t, "@uppy/dashboard/package.json")
	onEveryBackend(t, func(t *testing.T, b backend) { testUppy(t, b, demo, inputs) })
}

func testUppy(t *testing.T, b backend, demo testenv.Demo, in map[string]browserFile) {
	pagePort, gwPort := testenv.FreePort(t), testenv.FreePort(t)
	origins := []string{"http://" + testenv.Addr(pagePort)}
	store := browserStore(t, b, origins, map[string]any{"content_types": []string{"application/octet-stream"}})
	// The gateway serves /uppy.js and /valet.js with its web files.
	env, g := startDemoGateway(t, gwPort, origins, map[string]any{"media": store})

	rep, token := runUppy(t, demo, env, g, pagePort, 12*time.Minute, map[string]any{
		"expired_token": mint(t, env.HS256, "alice", -10*time.Minute, nil),
		"files": map[string]string{
			"small": in["small-8MiB.bin"].Path, "large": in["large-64MiB.bin"].Path,
			"cancel": in["cancel-64MiB.bin"].Path, "remove": in["resume-64MiB.bin"].Path,
			"pause": in["cancel-64MiB.bin"].Path, "too_large": in["too-large.bin"].Path,
			// video/mp4: a type the store refuses.
			"refused": in["clip.mp4"].Path,
		},
		// 12 MiB/s: a 64 MiB upload takes about 5 s; the scenarios that act
		// in the middle of one hold its last part PUTs until they have.
		"throttle_bps": 12 * mib,
		"scenarios":    []string{"restrictions", "upload", "cancel", "remove", "remove_paused", "paused_frees_slot", "retry", "pause"},
	})

	rep.scenario(t, "restrictions", func(t *testing.T, raw json.RawMessage) {
		var f struct {
			Limits struct {
				MaxFileSize      int64    `json:"maxFileSize"`
				AllowedFileTypes []string `json:"allowedFileTypes"`
			} `json:"limits"`
			Creates int `json:"creates"`
		}
		mustJSON(t, raw, &f)
		if f.Limits.MaxFileSize != browserMaxSize || len(f.Limits.AllowedFileTypes) != 1 || f.Limits.AllowedFileTypes[0] != "application/octet-stream" {
			t.Errorf("Uppy restrictions %+v, want the store's max_size and content_types", f.Limits)
		}
		if f.Creates != 0 {
			t.Errorf("%d uploads created for refused files", f.Creates)
		}
	})
	rep.scenario(t, "upload", func(t *testing.T, raw json.RawMessage) {
		type file struct {
			digest
			uppyProgress
			Key        string `json:"key"`
			ListedSize int64  `json:"listed_size"`
			UploadURL  bool   `json:"upload_url"`
		}
		var f struct {
			Small, Large file
			Puts         int `json:"puts"`
		}
		mustJSON(t, raw, &f)
		for _, c := range smallAndLarge(t, in, f.Small, f.Large) {
			c.got.complete(t, c.name)
			if c.got.ListedSize != c.want.Size || c.got.Key == "" || !c.got.UploadURL {
				t.Errorf("%s: upload-success body key %q size %d, uploadURL is the signed URL: %v", c.name, c.got.Key, c.got.ListedSize, c.got.UploadURL)
			}
		}
		// One PUT for the single upload, eight 8 MiB parts for the other.
		if f.Puts != 9 {
			t.Errorf("%d PUTs to storage, want 1 + 8", f.Puts)
		}
		if r := g.do(t, "GET", "/v1/stores/media/objects/"+f.Large.Key, token, nil); r.Status != 200 {
			t.Errorf("GET object %s: %s", f.Large.Key, r)
		}
	})
	rep.scenario(t, "cancel", func(t *testing.T, raw json.RawMessage) {
		var f struct {
			UploadID string `json:"upload_id"`
		}
		mustJSON(t, raw, &f)
		noParts(t, g, token, f.UploadID)
	})
	rep.scenario(t, "remove", func(t *testing.T, raw json.RawMessage) {
		var f struct {
			digest
			Removed string `json:"removed_upload_id"`
		}
		mustJSON(t, raw, &f)
		noParts(t, g, token, f.Removed)
		sameBytes(t, "added again after remove", f.digest, in["resume-64MiB.bin"])
	})
	rep.scenario(t, "remove_paused", func(t *testing.T, raw json.RawMessage) {
		var f struct {
			Removed string `json:"removed_upload_id"`
		}
		mustJSON(t, raw, &f)
		noParts(t, g, token, f.Removed)
	})
	rep.scenario(t, "paused_frees_slot", nil)
	rep.scenario(t, "retry", func(t *testing.T, raw json.RawMessage) {
		var f struct {
			digest
			PutsAfter int `json:"puts_after_retry"`
			Listed    int `json:"listed_parts_on_retry"`
		}
		mustJSON(t, raw, &f)
		sameBytes(t, "retried", f.digest, in["large-64MiB.bin"])
		// Every part was stored before complete failed: the retry resumes
		// (asks which parts are stored) and sends none again.
		if f.Listed < 1 || f.PutsAfter != 0 {
			t.Errorf("retry listed parts %d times and sent %d PUTs; want a resume that sends nothing again", f.Listed, f.PutsAfter)
		}
	})
	rep.scenario(t, "pause", func(t *testing.T, raw json.RawMessage) {
		var f struct {
			digest
			UploadID string `json:"upload_id"`
		}
		mustJSON(t, raw, &f)
		sameBytes(t, "paused and resumed", f.digest, in["cancel-64MiB.bin"])
	})
	if b.Provider == "local" {
		if left := localLeftovers(t, store["config"].(map[string]any)); len(left) > 0 {
			t.Errorf("the local store keeps temporaries after the suite: %v", left)
		}
	}
	checkNoLeaks(t, g, []string{env.HS256, env.Tokens, token}, nil)
}

// companionCookie is the session cookie the Companion suite's gateway reads
// the JWT from (server.companion.cookie).
const companionCookie = "valet_session"

// TestUppyCompanion drives an unchanged @uppy/aws-s3 page in
// companionEndpoint mode (e2e/browser/uppy.html, given an endpoint) against
// Valet's Companion routes on the backends with form uploads. The page's
// origin proxies /valet/ to the gateway, as an application puts Valet on
// its own origin: Uppy's fetches carry no credentials mode, so only a
// same-origin endpoint gets the session cookie, which the test sets for
// the page's origin as a login would.
func TestUppyCompanion(t *testing.T) {
	demo, inputs := browserSuite(t, "@uppy/aws-s3/package.json")
	ran := 0
	for _, b := range backends {
		if !slices.Contains([]string{"local", "s3-versitygw", "minio"}, b.Name) {
			continue
		}
		ran++
		t.Run(b.Name, func(t *testing.T) { testUppyCompanion(t, b, demo, inputs) })
	}
	if ran != 3 {
		t.Fatalf("%d of local, s3-versitygw and minio are registered", ran)
	}
}

func testUppyCompanion(t *testing.T, b backend, demo testenv.Demo, in map[string]browserFile) {
	pagePort, gwPort := testenv.FreePort(t), testenv.FreePort(t)
	pageOrigin := "http://" + testenv.Addr(pagePort)
	origins := []string{pageOrigin}
	octets := map[string]any{"content_types": []string{"application/octet-stream"}}
	media := browserStore(t, b, origins, octets)
	small := browserStore(t, b, origins, map[string]any{"content_types": []string{"application/octet-stream"}, "max_size": "4MiB"})
	env := newGatewayEnv(t, map[string]any{"media": media, "small": small})
	server := env.Config["server"].(map[string]any)
	server["cors_origins"] = origins
	server["companion"] = map[string]any{"cookie": companionCookie}
	env.write(t)
	g, err := launchGateway(t, env, gwPort, nil)
	if err != nil {
		t.Fatalf("valet serve: %v", err)
	}

	rep, token := runUppy(t, demo, env, g, pagePort, 10*time.Minute, map[string]any{
		"companion": map[string]any{"cookie": companionCookie, "small_store": "small"},
		"files": map[string]string{
			"small": in["small-8MiB.bin"].Path, "large": in["large-64MiB.bin"].Path,
			// video/mp4: a type the stores refuse.
			"refused": in["clip.mp4"].Path,
		},
		"scenarios": []string{"companion_upload", "companion_refused"},
	})

	type call struct {
		Method, Path string
		Status       int
	}
	rep.scenario(t, "companion_upload", func(t *testing.T, raw json.RawMessage) {
		type file struct {
			digest
			uppyProgress
			Key      string `json:"key"`
			Location string `json:"location"`
		}
		var f struct {
			Small, Large  file
			FormPosts     int    `json:"form_posts"`
			PostStatus    int    `json:"post_status"`
			PartPuts      int    `json:"part_puts"`
			Companion     []call `json:"companion"`
			Authorization int    `json:"authorization_headers"`
			Cookieless    int    `json:"cookieless"`
		}
		mustJSON(t, raw, &f)
		for _, c := range smallAndLarge(t, in, f.Small, f.Large) {
			c.got.complete(t, c.name)
			if !strings.HasPrefix(c.got.Key, "users/alice/") || !strings.HasSuffix(c.got.Key, "/"+c.name) || c.got.Location == "" {
				t.Errorf("%s: upload-success key %q location %q, want the template's key", c.name, c.got.Key, c.got.Location)
			}
		}
		// One form POST for the single upload, eight 8 MiB parts for the other.
		if f.FormPosts != 1 || f.PostStatus/100 != 2 || f.PartPuts != 8 {
			t.Errorf("%d form POSTs (status %d) and %d part PUTs to storage, want 1 (2xx) and 8", f.FormPosts, f.PostStatus, f.PartPuts)
		}
		want := map[string]int{"GET /valet/companion/media/s3/params": 1, "POST /valet/companion/media/s3/multipart": 1,
			"POST /valet/companion/media/s3/multipart/ID/complete": 1}
		got := map[string]int{}
		for _, c := range f.Companion {
			if c.Status != 200 {
				t.Errorf("%s %s answered %d", c.Method, c.Path, c.Status)
			}
			got[c.Method+" "+c.Path]++
		}
		for k, n := range want {
			if got[k] != n {
				t.Errorf("%s: %d calls, want %d (all: %v)", k, got[k], n, got)
			}
		}
		if f.Authorization != 0 || f.Cookieless != 0 {
			t.Errorf("%d Companion requests sent Authorization and %d no cookie; the page authenticates by its cookie only", f.Authorization, f.Cookieless)
		}
	})
	rep.scenario(t, "companion_refused", func(t *testing.T, raw json.RawMessage) {
		type refusal struct {
			Error      string `json:"error"`
			Companion  []call `json:"companion"`
			FormPosts  int    `json:"form_posts"`
			PostStatus int    `json:"post_status"`
			PartPuts   int    `json:"part_puts"`
		}
		var f struct {
			Form      refusal `json:"form_too_large"`
			Multipart refusal `json:"multipart_too_large"`
			Type      refusal `json:"refused_type"`
		}
		mustJSON(t, raw, &f)
		status := func(r refusal, path string) int {
			for _, c := range r.Companion {
				if c.Path == path {
					return c.Status
				}
			}
			return 0
		}
		// The storage server refuses a form POST over the policy's range.
		if f.Form.FormPosts < 1 || f.Form.PostStatus < 400 || f.Form.PostStatus >= 500 {
			t.Errorf("8 MiB as a form POST into a 4 MiB store: %d POSTs, status %d; want a 4xx from storage", f.Form.FormPosts, f.Form.PostStatus)
		}
		if s := status(f.Multipart, "/valet/companion/small/s3/multipart/ID/complete"); s != http.StatusRequestEntityTooLarge {
			t.Errorf("8 MiB as multipart into a 4 MiB store: complete answered %d, want 413 (calls %v)", s, f.Multipart.Companion)
		}
		if s := status(f.Type, "/valet/companion/small/s3/params"); s != http.StatusUnsupportedMediaType || f.Type.FormPosts != 0 {
			t.Errorf("video/mp4: params answered %d and %d form POSTs; want 415 and none", s, f.Type.FormPosts)
		}
		// Nothing stays behind in the small store.
		r := g.do(t, "GET", "/v1/stores/small/objects?prefix=users/alice/", token, nil)
		var page struct {
			Objects []struct{ Key string } `json:"objects"`
		}
		if r.Status != 200 || json.Unmarshal(r.Body, &page) != nil || len(page.Objects) != 0 {
			t.Errorf("the small store after the refusals: %d %s, want no objects", r.Status, tail(string(r.Body), 500))
		}
	})

	// A cookie cannot be ridden from another site: a foreign Origin is
	// refused before anything is signed, and a listed one is not.
	for _, c := range []struct {
		method, path, origin string
		status               int
	}{
		{"POST", "/companion/media/s3/multipart", "http://evil.example", http.StatusForbidden},
		{"GET", "/companion/media/s3/params?filename=a.bin&type=application/octet-stream", "http://evil.example", http.StatusForbidden},
		{"GET", "/companion/media/s3/params?filename=a.bin&type=application/octet-stream", pageOrigin, http.StatusOK},
	} {
		req, err := http.NewRequest(c.method, g.URL+c.path, strings.NewReader(`{"filename":"a.bin","type":"application/octet-stream"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", c.origin)
		req.AddCookie(&http.Cookie{Name: companionCookie, Value: token})
		r := g.send(t, req)
		var e struct{ Message, Code string }
		_ = json.Unmarshal(r.Body, &e)
		if r.Status != c.status || (c.status == http.StatusForbidden && (e.Code != "origin_forbidden" || e.Message == "")) {
			t.Errorf("%s %s from %s: %d %s, want %d", c.method, c.path, c.origin, r.Status, tail(string(r.Body), 300), c.status)
		}
	}
	if b.Provider == "local" {
		for _, st := range []map[string]any{media, small} {
			if left := localLeftovers(t, st["config"].(map[string]any)); len(left) > 0 {
				t.Errorf("the local store keeps temporaries after the suite: %v", left)
			}
		}
	}
	checkNoLeaks(t, g, []string{env.HS256, env.Tokens, token}, nil)
}

// runUppy runs e2e/browser/uppy.mjs for at most timeout against g's store
// media as alice (a token good for an hour, which it returns with the
// report), with settings (files, scenarios, ...) beside the common ones;
// Chromium's profile is removed once the driver is done.
func runUppy(t *testing.T, demo testenv.Demo, env *gatewayEnv, g *gateway, pagePort int, timeout time.Duration, settings map[string]any) (browserReport, string) {
	t.Helper()
	token := mint(t, env.HS256, "alice", time.Hour, nil)
	dir := t.TempDir()
	cfg := map[string]any{
		"suite":         "uppy",
		"playwright":    demo.Playwright,
		"gateway":       g.URL,
		"page_port":     pagePort,
		"store":         "media",
		"token":         token,
		"user_data_dir": filepath.Join(dir, "chromium"),
	}
	maps.Copy(cfg, settings)
	var rep browserReport
	demo.Run(t, dir, cfg, timeout, &rep)
	_ = os.RemoveAll(filepath.Join(dir, "chromium"))
	return rep, token
}
