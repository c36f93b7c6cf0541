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

// DemoDriver finds node, Chromium and playwright-core, or calls Unavailable.
func DemoDriver(t testing.TB) Demo {
	t.Helper()
	node := LookPath(t, "node")
	if _, err := os.Stat(Chromium); err != nil {
		Unavailable(t, "%s not installed (apt install chromium)", Chromium)
	}
	return Demo{Node: node, Playwright: NodeModule(t, "playwright-core/package.json")}
}

// Run writes cfg to dir/demo.json, runs the driver in dir for at most
// timeout, logs its stderr, and decodes the line it prints as
// "REPORT {...}" into report. A driver that prints no report fails the test.
func (d Demo) Run(t testing.TB, dir string, cfg any, timeout time.Duration, report any) {
	t.Helper()
	cfgPath := filepath.Join(dir, "demo.json")
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(d.Node, filepath.Join(Root(), "e2e", "browser", "demo.mjs"), cfgPath)
	cmd.Dir = dir
	var out Buffer
	p, err := Launch(t, Spec{Name: "browser driver", Cmd: cmd, Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Wait(timeout)
	t.Logf("browser driver log:\n%s", tail(p.Logs(), 6000))
	found := false
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	sc.Buffer(make([]byte, 1<<20), 8<<20)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "REPORT "); ok {
			if jerr := json.Unmarshal([]byte(line), report); jerr != nil {
				t.Fatalf("browser report: %v", jerr)
			}
			found = true
		}
	}
	if !found {
		t.Fatalf("browser driver failed (%v) without a report:\n%s", err, tail(out.String(), 4000))
	}
}
