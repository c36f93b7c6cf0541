package e2e

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valetgw/valet/internal/testenv"
)

// The browser suite drives the demo page that `valet serve` embeds, in
// headless Chromium through playwright-core (e2e/browser/demo.mjs), against
// every registered backend. The page's origin is the gateway; file bytes go
// cross-origin, straight to the storage server.

const (
	mib = 1 << 20
	// Browser store limits: 8 MiB stays a single PUT, 64 MiB is multipart.
	browserMaxSize   = 100 * mib
	browserThreshold = "16MiB"
	browserPartSize  = "8MiB"
)

// browserFile is one generated input file and its digest.
type browserFile struct {
	Path   string
	SHA256 string
	Size   int64
}

var (
	browserFilesOnce sync.Once
	browserFilesDir  string
	browserFilesMap  map[string]browserFile
	browserFilesErr  error
)

// browserInputs generates the upload inputs once per test process: random
// files of 8 and 64 MiB, a sparse file above the store's limit and an H.264
// clip made with ffmpeg.
func browserInputs(t *testing.T) map[string]browserFile {
	t.Helper()
	ffmpeg := testenv.LookPath(t, "ffmpeg")
	browserFilesOnce.Do(func() {
		browserFilesDir, browserFilesErr = os.MkdirTemp("", "valet-browser-")
		if browserFilesErr != nil {
			return
		}
		browserFilesMap = map[string]browserFile{}
		seed := uint64(time.Now().UnixNano())
		for _, f := range []struct {
			name string
			size int64
		}{{"small-8MiB.bin", 8 * mib}, {"large-64MiB.bin", 64 * mib}, {"cancel-64MiB.bin", 64 * mib}, {"resume-64MiB.bin", 64 * mib}} {
			seed++
			p := filepath.Join(browserFilesDir, f.name)
			if browserFilesErr = testenv.WriteRandom(p, f.size, seed); browserFilesErr != nil {
				return
			}
		}
		// Never read by anyone: the gateway refuses it from its declared size.
		tooLarge := filepath.Join(browserFilesDir, "too-large.bin")
		if browserFilesErr = os.WriteFile(tooLarge, nil, 0o600); browserFilesErr != nil {
			return
		}
		if browserFilesErr = os.Truncate(tooLarge, browserMaxSize+mib); browserFilesErr != nil {
			return
		}
		if browserFilesErr = testenv.MakeClip(ffmpeg, filepath.Join(browserFilesDir, "clip.mp4")); browserFilesErr != nil {
			return
		}
		ents, _ := os.ReadDir(browserFilesDir)
		for _, e := range ents {
			p := filepath.Join(browserFilesDir, e.Name())
			sum, size, err := testenv.FileSHA256(p)
			if err != nil {
				browserFilesErr = err
				return
			}
			browserFilesMap[e.Name()] = browserFile{Path: p, SHA256: sum, Size: size}
		}
	})
	if browserFilesErr != nil {
		t.Fatalf("generate browser inputs: %v", browserFilesErr)
	}
	return browserFilesMap
}

func TestBrowser(t *testing.T) {
	demo, inputs := browserSuite(t)
	onEveryBackend(t, func(t *testing.T, b backend) { testBrowser(t, b, demo, inputs) })
}

// browserReport is what demo.mjs prints: per scenario, ok or the error, and facts.
type browserReport map[string]struct {
	OK      bool            `json:"ok"`
	Error   string          `json:"error"`
	Seconds float64         `json:"seconds"`
	Facts   json.RawMessage `json:"facts"`
}

func testBrowser(t *testing.T, b backend, demo testenv.Demo, in map[string]browserFile) {
	port := testenv.FreePort(t)
	// The page's origin is the gateway's.
	origins := []string{"http://" + testenv.Addr(port)}
	store := browserStore(t, b, origins, nil)
	env, g := startDemoGateway(t, port, origins, map[string]any{"media": store})

	token := mint(t, env.HS256, "alice", time.Hour, nil)
	dir := t.TempDir()
	cfg := map[string]any{
		"playwright":    demo.Playwright,
		"gateway":       g.URL,
		"store":         "media",
		"token":         token,
		"expired_token": mint(t, env.HS256, "alice", -10*time.Minute, nil),
		"denied_token":  mint(t, env.HS256, "bob", time.Hour, map[string]any{"role": "viewer"}),
		"files": map[string]string{
			"small": in["small-8MiB.bin"].Path, "large": in["large-64MiB.bin"].Path,
			"cancel": in["cancel-64MiB.bin"].Path, "resume": in["resume-64MiB.bin"].Path,
			"video": in["clip.mp4"].Path, "too_large": in["too-large.bin"].Path,
		},
		"download_dir":  filepath.Join(dir, "downloads"),
		"user_data_dir": filepath.Join(dir, "chromium"),
		// 12 MiB/s: a 64 MiB upload takes about 5 s. Cancel and resume do
		// not race it: demo.mjs holds the last part PUTs until it has acted.
		"throttle_bps": 12 * mib,
		"scenarios":    []string{"upload", "video", "resume", "cancel", "errors"},
	}
	if shot := os.Getenv("E2E_DEMO_SCREENSHOT"); shot != "" && b.Name == "local" {
		if !filepath.IsAbs(shot) {
			shot = filepath.Join(testenv.Root(), shot) // relative to the repository, not the test's directory
		}
		cfg["screenshot"] = shot
		cfg["scenarios"] = append(cfg["scenarios"].([]string), "screenshot")
	}
	var rep browserReport
	demo.Run(t, dir, cfg, 12*time.Minute, &rep)

	type dl struct {
		digest
		Key               string `json:"key"`
		ListedSize        int64  `json:"listed_size"`
		SuggestedFilename string `json:"suggested_filename"`
		StoragePuts       int    `json:"storage_puts"`
		Parts             int    `json:"parts"`
	}
	rep.scenario(t, "upload", func(t *testing.T, raw json.RawMessage) {
		var f struct{ Small, Large dl }
		mustJSON(t, raw, &f)
		for _, c := range smallAndLarge(t, in, f.Small, f.Large) {
			if c.got.ListedSize != c.want.Size {
				t.Errorf("%s: listed size %d, want %d", c.name, c.got.ListedSize, c.want.Size)
			}
			if c.got.SuggestedFilename != c.name {
				t.Errorf("%s: download saved as %q", c.name, c.got.SuggestedFilename)
			}
		}
		if f.Small.StoragePuts != 1 || f.Large.Parts != 8 {
			t.Errorf("8 MiB: %d PUTs (want 1); 64 MiB: %d parts (want 8 of 8 MiB)", f.Small.StoragePuts, f.Large.Parts)
		}
	})
	rep.scenario(t, "video", nil)
	rep.scenario(t, "resume", func(t *testing.T, raw json.RawMessage) {
		var f struct {
			SHA256   string `json:"sha256"`
			Finished []int  `json:"finished_before_reload"`
		}
		mustJSON(t, raw, &f)
		if f.SHA256 != in["resume-64MiB.bin"].SHA256 {
			t.Errorf("resumed object sha256 %s, want %s", f.SHA256, in["resume-64MiB.bin"].SHA256)
		}
		if len(f.Finished) == 0 {
			t.Error("no part had finished before the reload, so nothing was resumed")
		}
	})
	rep.scenario(t, "cancel", func(t *testing.T, raw json.RawMessage) {
		var f struct {
			UploadID string `json:"upload_id"`
		}
		mustJSON(t, raw, &f)
		noParts(t, g, token, f.UploadID)
		if b.Provider == "local" {
			if left := localLeftovers(t, store["config"].(map[string]any)); len(left) > 0 {
				t.Errorf("after cancel the local store keeps temporaries: %v", left)
			}
		}
	})
	rep.scenario(t, "errors", func(t *testing.T, raw json.RawMessage) {
		var f map[string]string
		mustJSON(t, raw, &f)
		for _, k := range []string{"expired", "denied", "too_large"} {
			if f[k] == "" {
				t.Errorf("no message shown for %s", k)
			}
		}
	})
	if _, ok := cfg["screenshot"]; ok {
		rep.scenario(t, "screenshot", nil)
	}
	checkNoLeaks(t, g, []string{env.HS256, env.Tokens, token}, nil)
}

func mustJSON(t *testing.T, raw json.RawMessage, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("decode facts: %v: %s", err, raw)
	}
}

// browserStore is the "media" store of both browser suites on backend b:
// files up to browserMaxSize, multipart from browserThreshold in parts of
// browserPartSize, each subject's objects under its own prefix. limits adds
// to (or overrides) its limits.
func browserStore(t *testing.T, b backend, origins []string, limits map[string]any) map[string]any {
	l := map[string]any{
		"max_size":            "100MiB",
		"multipart_threshold": browserThreshold,
		"part_size":           browserPartSize,
		"put_ttl":             "15m",
		"get_ttl":             "10m",
		"max_ttl":             "1h",
	}
	maps.Copy(l, limits)
	return subjectStore(t, b, origins, l)
}

// startDemoGateway starts a gateway on port that serves the demo page and
// the web files, with stores and CORS for origins. The port is chosen
// before the stores are set up (their CORS origins may name the gateway's
// own), so a taken port is not retried on another.
func startDemoGateway(t *testing.T, port int, origins []string, stores map[string]any) (*gatewayEnv, *gateway) {
	t.Helper()
	env := newGatewayEnv(t, stores)
	env.Config["server"].(map[string]any)["cors_origins"] = origins
	env.Config["demo"] = map[string]any{"enabled": true}
	env.write(t)
	g, err := launchGateway(t, env, port, nil)
	if err != nil {
		t.Fatalf("valet serve: %v", err)
	}
	return env, g
}

// scenario checks one scenario of the report as a subtest: it must have
// run and passed in the browser, then check (if any) reads its facts.
func (rep browserReport) scenario(t *testing.T, name string, check func(t *testing.T, facts json.RawMessage)) {
	t.Run(name, func(t *testing.T) {
		r, ok := rep[name]
		if !ok {
			t.Fatalf("scenario %s did not run", name)
		}
		t.Logf("%s: %.1fs, facts: %s", name, r.Seconds, tail(string(r.Facts), 1500))
		if !r.OK {
			t.Fatalf("%s failed in the browser: %s", name, r.Error)
		}
		if check != nil {
			check(t, r.Facts)
		}
	})
}

// digest is a downloaded file's sha256 and size, as the drivers report it.
type digest struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

func sameBytes(t *testing.T, what string, got digest, want browserFile) {
	t.Helper()
	if got.SHA256 != want.SHA256 || got.Size != want.Size {
		t.Errorf("%s: downloaded %d bytes sha256 %s, want %d bytes %s", what, got.Size, got.SHA256, want.Size, want.SHA256)
	}
}

// noParts checks that the provider no longer knows a cancelled upload:
// listing its parts fails or finds none. (A part still on the wire at the
// cancel can land after the abort; the gateway's abort looks again and
// aborts once more, so none may show up here.)
func noParts(t *testing.T, g *gateway, token, uploadID string) {
	t.Helper()
	if uploadID == "" {
		t.Fatal("no upload id")
	}
	r := g.do(t, "GET", "/v1/stores/media/uploads/"+uploadID+"/parts", token, nil)
	if r.Status < 400 {
		var parts struct {
			Parts []json.RawMessage `json:"parts"`
		}
		_ = json.Unmarshal(r.Body, &parts)
		if len(parts.Parts) > 0 {
			t.Errorf("the cancelled upload still lists %d parts: %s", len(parts.Parts), r)
		}
	}
}

// localLeftovers lists what the local store keeps besides finished objects
// (see providers/local/store.go for the layout): part files, uploads still
// open (an uploads/ID directory without done.json; a finished upload keeps
// only upload.json and done.json so a retried complete is idempotent),
// bodies being received, half-written sidecars. At this point every upload
// of the run is either completed or cancelled. Interrupted requests are
// cleaned up as their handlers return, so it waits (up to 30s).
func localLeftovers(t *testing.T, cfg map[string]any) []string {
	t.Helper()
	root, _ := cfg["root"].(string)
	var left []string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		left = nil
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || p == root {
				return nil
			}
			rel, _ := filepath.Rel(root, p)
			rel = filepath.ToSlash(rel)
			parts := strings.Split(rel, "/")
			switch {
			case parts[0] == "uploads" && len(parts) == 2 && d.IsDir():
				if _, err := os.Stat(filepath.Join(p, "done.json")); err != nil {
					left = append(left, rel+" (open upload)")
				}
			case parts[0] == "uploads" && len(parts) > 2 && parts[2] != "upload.json" && parts[2] != "done.json":
				left = append(left, rel)
			case rel == "objects/%tmp" || strings.HasPrefix(rel, "objects/%tmp/"):
				if !d.IsDir() {
					left = append(left, rel)
				}
			case parts[0] == "tmp" && !d.IsDir() && !strings.HasSuffix(rel, ".lock"):
				left = append(left, rel)
			}
			return nil
		})
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
	}
}
