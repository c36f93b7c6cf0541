package testenv

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Chromium is the browser the driver launches (e2e/browser/demo.mjs names
// the same path).
const Chromium = "/usr/bin/chromium"

// Demo is the browser driver e2e/browser/demo.mjs: it runs the demo page in
// headless Chromium through playwright-core and prints one report line.
type Demo struct {
	Node string
	// Playwright is playwright-core's package.json, the driver's
	// "playwright" setting.
	Playwright string
}

// DemoDriver skips the test in -short mode (a browser run takes minutes),
// then finds node, Chromium and playwright-core, or calls Unavailable.
func DemoDriver(t testing.TB) Demo {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	node := LookPath(t, "node")
	if _, err := os.Stat(Chromium); err != nil {
		Unavailable(t, "%s not installed (apt install chromium)", Chromium)
	}
	return Demo{Node: node, Playwright: NodeModule(t, "playwright-core/package.json")}
}

// Run runs the demo driver, e2e/browser/demo.mjs, as RunScript does.
func (d Demo) Run(t testing.TB, dir string, cfg any, timeout time.Duration, report any) {
	t.Helper()
	d.RunScript(t, dir, "browser/demo.mjs", cfg, timeout, report)
}

// RunScript writes cfg to dir/NAME.json (NAME the script's base name without
// its extension), runs script (a path under e2e/, such as "browser/hls.mjs")
// with node in dir for at most timeout, logs its stderr, and decodes the line
// it prints as "REPORT {...}" into report. A script that prints no report
// fails the test.
func (d Demo) RunScript(t testing.TB, dir, script string, cfg any, timeout time.Duration, report any) {
	t.Helper()
	name := strings.TrimSuffix(filepath.Base(script), filepath.Ext(script))
	cfgPath := filepath.Join(dir, name+".json")
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(d.Node, filepath.Join(Root(), "e2e", filepath.FromSlash(script)), cfgPath)
	cmd.Dir = dir
	var out Buffer
	p, err := Launch(t, Spec{Name: script, Cmd: cmd, Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Wait(timeout)
	t.Logf("%s log:\n%s", script, tail(p.Logs(), 6000))
	found := false
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	sc.Buffer(make([]byte, 1<<20), 8<<20)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "REPORT "); ok {
			if jerr := json.Unmarshal([]byte(line), report); jerr != nil {
				t.Fatalf("%s report: %v", script, jerr)
			}
			found = true
		}
	}
	if !found {
		t.Fatalf("%s failed (%v) without a report:\n%s", script, err, tail(out.String(), 4000))
	}
}
