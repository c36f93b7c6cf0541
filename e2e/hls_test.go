package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valetgw/valet/internal/testenv"
)

// The HLS suite: ffmpeg makes a package (a master with a TS rendition and
// an fMP4 rendition with EXT-X-MAP, and a byte-range playlist written with
// -hls_flags single_file), the test uploads it through the API under one
// folder on every backend, and headless Chromium plays it with hls.js
// 1.7.4 through valet.js's play() (e2e/browser/hls.mjs), from a page on an
// origin of its own (so playlists need the gateway's CORS, segments the
// bucket's). Playback links last 20 s (limits.playback_ttl), and the
// browser keeps playing well past that.

const (
	hlsSeconds  = 90 // the clip; 2 s segments
	hlsTokenTTL = 20 * time.Second
)

// hlsFile is one file of the package: its path under the package folder.
type hlsFile struct {
	Rel, Path, Type string
}

var (
	hlsOnce  sync.Once
	hlsFiles []hlsFile
	hlsErr   error
)

// hlsPackage generates the package once per test process.
func hlsPackage(t *testing.T) []hlsFile {
	t.Helper()
	ffmpeg := testenv.LookPath(t, "ffmpeg")
	hlsOnce.Do(func() {
		dir, err := os.MkdirTemp("", "valet-hls-")
		if err != nil {
			hlsErr = err
			return
		}
		src := []string{"-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", fmt.Sprintf("testsrc=size=%%s:rate=25:duration=%d", hlsSeconds)}
		enc := []string{"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0", "-b:v", "200k",
			"-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod"}
		runs := [][]string{
			{"320x180", "-hls_segment_type", "mpegts", "-hls_segment_filename", "ts/seg%03d.ts", "ts/index.m3u8"},
			{"480x270", "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4", "-hls_segment_filename", "fmp4/seg%03d.m4s", "fmp4/index.m3u8"},
			{"320x180", "-hls_segment_type", "mpegts", "-hls_flags", "single_file", "br/index.m3u8"},
		}
		for _, r := range runs {
			_ = os.MkdirAll(filepath.Join(dir, filepath.Dir(r[len(r)-1])), 0o755)
			args := append([]string{}, src...)
			args[len(args)-1] = fmt.Sprintf(args[len(args)-1], r[0])
			args = append(append(args, enc...), r[1:]...)
			cmd := exec.Command(ffmpeg, args...)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				hlsErr = fmt.Errorf("ffmpeg %v: %v: %s", r, err, out)
				return
			}
		}
		master := "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n" +
			"#EXT-X-STREAM-INF:BANDWIDTH=300000,RESOLUTION=320x180,CODECS=\"avc1.42c00d\"\nts/index.m3u8\n" +
			"#EXT-X-STREAM-INF:BANDWIDTH=400000,RESOLUTION=480x270,CODECS=\"avc1.42c015\"\nfmp4/index.m3u8\n"
		if err := os.WriteFile(filepath.Join(dir, "master.m3u8"), []byte(master), 0o644); err != nil {
			hlsErr = err
			return
		}
		types := map[string]string{".m3u8": "application/vnd.apple.mpegurl", ".ts": "video/mp2t", ".m4s": "video/iso.segment", ".mp4": "video/mp4"}
		hlsErr = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
			if err != nil || fi.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			hlsFiles = append(hlsFiles, hlsFile{Rel: filepath.ToSlash(rel), Path: p, Type: types[path.Ext(p)]})
			return nil
		})
		sort.Slice(hlsFiles, func(i, j int) bool { return hlsFiles[i].Rel < hlsFiles[j].Rel })
	})
	if hlsErr != nil {
		t.Fatal(hlsErr)
	}
	return hlsFiles
}

func TestHLS(t *testing.T) {
	demo := testenv.DemoDriver(t)
	hlsJS := testenv.NodeModule(t, "hls.js/dist/hls.mjs")
	files := hlsPackage(t)
	onEveryBackend(t, func(t *testing.T, b backend) { testHLS(t, b, demo, hlsJS, files) })
}

// hlsReport is what hls.mjs prints.
type hlsReport map[string]struct {
	OK    bool            `json:"ok"`
	Error string          `json:"error"`
	Facts json.RawMessage `json:"facts"`
}

func testHLS(t *testing.T, b backend, demo testenv.Demo, hlsJS string, files []hlsFile) {
	pagePort, port := testenv.FreePort(t), testenv.FreePort(t)
	pageOrigin := "http://" + testenv.Addr(pagePort)
	store := subjectStore(t, b, []string{pageOrigin}, map[string]any{"max_size": "100MiB", "playback_ttl": hlsTokenTTL.String()})
	store["allow_client_keys"] = true
	env, g := startDemoGateway(t, port, []string{pageOrigin}, map[string]any{"media": store})
	alice := mint(t, env.HS256, "alice", time.Hour, nil)

	folder := "users/alice/hls/"
	for _, f := range files {
		body, err := os.ReadFile(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		r := g.do(t, "POST", "/v1/stores/media/uploads", alice, map[string]any{"filename": path.Base(f.Rel), "content_type": f.Type, "size": len(body), "key": folder + f.Rel})
		want(t, r, http.StatusCreated)
		slot := decodeJSON[uploadSlot](t, r)
		if st, msg := putRecipe(t, slot, body); st/100 != 2 {
			t.Fatalf("PUT %s: %d %s", f.Rel, st, tail(msg, 300))
		}
		want(t, g.do(t, "POST", "/v1/stores/media/uploads/"+slot.UploadID+"/complete", alice, nil), http.StatusOK)
	}
	// A playback link from the API, without the browser: the master, as a
	// player gets it, needs no credentials.
	var media struct {
		PlaybackURL string `json:"playback_url"`
	}
	mustJSON(t, g.do(t, "GET", "/v1/stores/media/objects/"+escapeKey(folder+"master.m3u8"), alice, nil).Body, &media)
	if st, body, hdr := fetch(t, media.PlaybackURL, nil); st != 200 || hdr.Get("Content-Type") != "application/vnd.apple.mpegurl" || strings.Count(string(body), g.URL+"/v1/play/media/") != 2 {
		t.Fatalf("master over its playback link: %d %s %s", st, hdr, body)
	}

	dir := t.TempDir()
	cfg := map[string]any{
		"playwright":    demo.Playwright,
		"gateway":       g.URL,
		"page_port":     pagePort,
		"hls_js":        hlsJS,
		"valet_js":      filepath.Join(testenv.Root(), "web", "valet.js"),
		"store":         "media",
		"token":         alice,
		"master":        folder + "master.m3u8",
		"byterange":     folder + "br/index.m3u8",
		"duration":      hlsSeconds,
		"token_ttl_s":   hlsTokenTTL.Seconds(),
		"user_data_dir": filepath.Join(dir, "chromium"),
	}
	var rep hlsReport
	demo.RunScript(t, dir, "browser/hls.mjs", cfg, 5*time.Minute, &rep)

	for _, name := range []string{"play", "byterange"} {
		s, ok := rep[name]
		if !ok || !s.OK {
			t.Errorf("%s: %s", name, s.Error)
		}
	}
	var f struct {
		GatewayBytes, StorageBytes int64
		GatewayTypes               []string
		Refreshes                  int
		Renditions                 map[string]int
	}
	mustJSON(t, rep["play"].Facts, &f)
	t.Logf("play: gateway served %d bytes (%v), storage %d; %d link refreshes; storage answered %v", f.GatewayBytes, f.GatewayTypes, f.StorageBytes, f.Refreshes, f.Renditions)
	// Past the links' expiry the player carried on with a new link, asked
	// for by valet.js after storage refused an expired segment URL.
	if f.Refreshes < 1 {
		t.Errorf("playback went past the links' expiry without a new link (%d refreshes): did storage accept an expired URL?", f.Refreshes)
	}

	// Server side: every object.play answer the gateway logged was a
	// playlist (200 on a .m3u8 key); no media key went through it.
	plays := 0
	for _, l := range logLines(g.Logs()) {
		if l["op"] != "object.play" {
			continue
		}
		plays++
		key, _ := l["key"].(string)
		if !strings.HasSuffix(key, ".m3u8") || l["status"] != float64(200) {
			t.Errorf("gateway answered a playback request for %q with %v", key, l["status"])
		}
		if p, _ := l["path"].(string); strings.Contains(p, "p1.") {
			t.Errorf("the request log holds a playback token: %s", p)
		}
	}
	if plays < 3 {
		t.Errorf("the gateway logged %d playlist requests, want at least the master, two variants and the byte-range playlist", plays)
	}
	checkNoLeaks(t, g, []string{env.HS256, env.Tokens, alice}, nil)
}
