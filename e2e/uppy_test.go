package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
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
	if testing.Short() {
		t.Skip("browser suite skipped in -short mode")
	}
	demo := testenv.DemoDriver(t)
	testenv.NodeModule(t, "@uppy/dashboard/package.json")
	inputs := browserInputs(t)
	if len(backends) == 0 {
		t.Fatal("no backends registered")
	}
	for _, b := range backends {
		t.Run(b.Name, func(t *testing.T) { testUppy(t, b, demo, inputs) })
	}
}

func testUppy(t *testing.T, b backend, demo testenv.Demo, in map[string]browserFile) {
	pagePort, gwPort := testenv.FreePort(t), testenv.FreePort(t)
	origins := []string{"http://" + testenv.Addr(pagePort)}
	store := browserStore(t, b, origins, map[string]any{"content_types": []string{"application/octet-stream"}})
	// The gateway serves /uppy.js and /valet.js with its web files.
	env, g := startDemoGateway(t, gwPort, origins, map[string]any{"media": store})

	token := mint(t, env.HS256, "alice", time.Hour, nil)
	dir := t.TempDir()
	cfg := map[string]any{
		"suite":         "uppy",
		"playwright":    demo.Playwright,
		"gateway":       g.URL,
		"page_port":     pagePort,
		"store":         "media",
		"token":         token,
		"expired_token": mint(t, env.HS256, "alice", -10*time.Minute, nil),
		"files": map[string]string{
			"small": in["small-8MiB.bin"].Path, "large": in["large-64MiB.bin"].Path,
			"cancel": in["cancel-64MiB.bin"].Path, "remove": in["resume-64MiB.bin"].Path,
			"pause": in["cancel-64MiB.bin"].Path, "too_large": in["too-large.bin"].Path,
			// video/mp4: a type the store refuses.
			"refused": in["clip.mp4"].Path,
		},
		"user_data_dir": filepath.Join(dir, "chromium"),
		// 12 MiB/s: a 64 MiB upload takes about 5 s; the scenarios that act
		// in the middle of one hold its last part PUTs until they have.
		"throttle_bps": 12 * mib,
		"scenarios":    []string{"restrictions", "upload", "cancel", "remove", "retry", "pause"},
	}
	var rep browserReport
	demo.Run(t, dir, cfg, 12*time.Minute, &rep)

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
			Key         string `json:"key"`
			ListedSize  int64  `json:"listed_size"`
			UploadURL   bool   `json:"upload_url"`
			Percent     int    `json:"percent"`
			MaxProgress int    `json:"max_progress"`
		}
		var f struct {
			Small, Large file
			Puts         int `json:"puts"`
		}
		mustJSON(t, raw, &f)
		for _, c := range []struct {
			got  file
			want browserFile
		}{{f.Small, in["small-8MiB.bin"]}, {f.Large, in["large-64MiB.bin"]}} {
			name := filepath.Base(c.want.Path)
			sameBytes(t, name, c.got.digest, c.want)
			if c.got.Percent != 100 || c.got.MaxProgress != 100 {
				t.Errorf("%s: Uppy's progress ended at %d%% (events up to %d%%)", name, c.got.Percent, c.got.MaxProgress)
			}
			if c.got.ListedSize != c.want.Size || c.got.Key == "" || !c.got.UploadURL {
				t.Errorf("%s: upload-success body key %q size %d, uploadURL is the signed URL: %v", name, c.got.Key, c.got.ListedSize, c.got.UploadURL)
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
	_ = os.RemoveAll(filepath.Join(dir, "chromium"))
}
