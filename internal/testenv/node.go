package testenv

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// NodeScriptTimeout bounds one NodeScript run.
const NodeScriptTimeout = 5 * time.Minute

// NodeScript runs a Node script (a cross-check against an official SDK)
// with stdin as its input and returns what it printed on stdout. A script
// that fails or runs past NodeScriptTimeout fails the test with its stderr.
func NodeScript(t testing.TB, stdin []byte, script string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(LookPath(t, "node"), append([]string{script}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out Buffer
	p, err := Launch(t, Spec{Name: "node " + filepath.Base(script), Cmd: cmd, Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(NodeScriptTimeout); err != nil {
		t.Fatalf("node %s: %v\n%s", filepath.Base(script), err, p.Logs())
	}
	return []byte(out.String())
}
