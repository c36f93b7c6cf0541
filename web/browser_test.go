package web

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/valetgw/valet/internal/testenv"
)

// TestDemoInBrowser runs the browser driver (e2e/browser/demo.mjs) against
// the fake gateway, with a failure injected on one part, to check valet.js
// and the demo page themselves: progress, per-part retry, resume without
// re-sending, abort on the server, and the messages a person sees.
func TestDemoInBrowser(t *testing.T) {
	demo := testenv.DemoDriver(t)
	f := newFakeGateway(t)
	// The first PUT of part 3 of every multipart upload fails once with 500,
	// and the gateway answers the first create, the first signing of parts
	// and the first complete with 503: each is retried, and every upload
	// still succeeds.
	f.failures["*/3"] = 1
	f.apiFailures["parts"] = 1
	f.apiFailures["complete"] = 1
	f.apiFailures["create"] = 1
	// And storage never answers the first PUT of part 2 of stall.bin: the
	// client abandons it after its stall timeout and sends it again.
	f.stallFile = "stall.bin"
	// The first upload of intent.bin fails on part 2, so it is remembered.
	f.failFile, f.failFileLeft = "intent.bin", 1

	dir := t.TempDir()
	seed := uint64(time.Now().UnixNano())
	file := func(name string, size int64, random bool) string {
		p := filepath.Join(dir, name)
		var err error
		if random {
			seed++
			err = testenv.WriteRandom(p, size, seed)
		} else if err = os.WriteFile(p, nil, 0o600); err == nil {
			err = os.Truncate(p, size)
		}
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := map[string]any{
		"playwright": demo.Playwright, "gateway": f.API.URL, "store": "media",
		"token": "good", "expired_token": "expired", "denied_token": "viewer",
		"files": map[string]string{
			"small": file("small.bin", 8<<20, true), "large": file("large.bin", 40<<20, true),
			"cancel": file("cancel.bin", 64<<20, true), "resume": file("resume.bin", 64<<20, true),
			"too_large": file("huge.bin", fakeMaxSize+1, false),
		},
		"download_dir": filepath.Join(dir, "dl"), "user_data_dir": filepath.Join(dir, "chromium"),
		"throttle_bps": 12 << 20,
		"scenarios":    []string{"upload", "resume", "cancel", "errors", "stall", "intent", "client"},
	}
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil && testenv.InCI() {
		// The video scenario is part of the demo's contract; in CI it must run.
		t.Fatal("ffmpeg not on PATH (CI=true): the video scenario needs it; run e2e/install.sh")
	}
	if err == nil {
		clip := filepath.Join(dir, "clip.mp4")
		if err := testenv.MakeClip(ffmpeg, clip); err != nil {
			t.Fatal(err)
		}
		cfg["files"].(map[string]string)["video"] = clip
		cfg["scenarios"] = append(cfg["scenarios"].([]string), "video")
		if shot := os.Getenv("E2E_DEMO_SCREENSHOT"); shot != "" {
			// Relative to this package, not to the driver's working directory.
			if abs, err := filepath.Abs(shot); err == nil {
				shot = abs
			}
			cfg["screenshot"] = shot
			cfg["scenarios"] = append(cfg["scenarios"].([]string), "screenshot")
		}
	}
	if only := os.Getenv("BROWSER_SCENARIOS"); only != "" {
		cfg["scenarios"] = strings.Split(only, ",")
	}
	var rep map[string]struct {
		OK    bool            `json:"ok"`
		Error string          `json:"error"`
		Facts json.RawMessage `json:"facts"`
	}
	demo.Run(t, dir, cfg, 8*time.Minute, &rep)
	for _, name := range cfg["scenarios"].([]string) {
		r := rep[name]
		t.Logf("%s: ok=%v facts=%s", name, r.OK, r.Facts)
		if !r.OK {
			t.Errorf("%s: %s", name, r.Error)
		}
	}
	var client struct {
		PauseUpload string `json:"pause_upload"`
	}
	_ = json.Unmarshal(rep["client"].Facts, &client)
	if _, ran := rep["client"]; ran {
		f.mu.Lock()
		// Retry-After: an HTTP date 3 s ahead, at a second's resolution,
		// is at least 2 s; a client that ignored it retried after its
		// backoff, 250 to 500 ms.
		if n := len(f.dateCompletes); n < 2 || f.dateCompletes[1].Sub(f.dateCompletes[0]) < 1900*time.Millisecond {
			t.Errorf("completes of date.bin at %v: want the second at least 2 s after the first (its Retry-After date)", f.dateCompletes)
		}
		if !slices.Contains(f.aborted, client.PauseUpload) {
			t.Errorf("the upload paused with storage: null (%q) was not aborted on the server: aborted %v", client.PauseUpload, f.aborted)
		}
		f.mu.Unlock()
	}
	if _, ok := rep["resume"]; !ok {
		return
	}
	var resumed struct {
		SHA256 string `json:"sha256"`
	}
	_ = json.Unmarshal(rep["resume"].Facts, &resumed)
	wantSHA, _, err := testenv.FileSHA256(cfg["files"].(map[string]string)["resume"])
	if err != nil {
		t.Fatal(err)
	}
	if resumed.SHA256 != wantSHA {
		t.Errorf("resumed object sha256 %q, want %q", resumed.SHA256, wantSHA)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	retried := 0
	for k, n := range f.putCount {
		if strings.HasSuffix(k, "/3") && n >= 2 {
			retried++
		}
	}
	if _, ran := rep["upload"]; ran && retried == 0 {
		t.Errorf("part 3 was never retried after the injected 500: %v", f.putCount)
	}
	if _, ran := rep["upload"]; ran && (f.apiFailed["create"] != 1 || f.apiFailures["create"] != 0) {
		t.Errorf("the injected 503 on create was not met: %v", f.apiFailed)
	}
	if _, ran := rep["upload"]; ran && (f.apiFailed["complete"] != 1 || f.apiFailures["complete"] != 0) {
		t.Errorf("the injected 503 on complete was not met: %v", f.apiFailed)
	}
	if _, ran := rep["resume"]; ran && (f.apiFailed["parts"] != 1 || f.apiFailures["parts"] != 0) {
		t.Errorf("the injected 503 on signing parts was not met: %v", f.apiFailed)
	}
	if _, ran := rep["stall"]; ran && f.stalled != 1 {
		t.Errorf("storage stalled %d part PUTs of stall.bin, want 1", f.stalled)
	}
	var cancelled, intent struct {
		UploadID   string   `json:"upload_id"`
		Remembered []string `json:"remembered"`
	}
	_ = json.Unmarshal(rep["cancel"].Facts, &cancelled)
	_ = json.Unmarshal(rep["intent"].Facts, &intent)
	want := []string{}
	if _, ran := rep["cancel"]; ran {
		want = append(want, cancelled.UploadID)
	}
	if _, ran := rep["intent"]; ran {
		// The remembered upload for other metadata was aborted, not resumed.
		want = append(want, intent.Remembered...)
	}
	if _, ran := rep["client"]; ran {
		// Paused, but with nowhere to remember it: aborted, not left open.
		want = append(want, client.PauseUpload)
	}
	slices.Sort(want)
	got := slices.Clone(f.aborted)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("aborted uploads on the server: %v, want %v (the cancelled one and the one left for other metadata)", f.aborted, want)
	}
	if len(f.uploads) != 0 {
		t.Errorf("uploads left open on the server: %d", len(f.uploads))
	}
}
