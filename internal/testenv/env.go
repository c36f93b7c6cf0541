package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
)

// Root is the repository root.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// ToolsDir is where e2e/install.sh puts pinned tools.
func ToolsDir() string { return filepath.Join(Root(), ".tools") }

// InCI reports whether missing dependencies must fail rather than skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// Unavailable skips the test, or fails it in CI.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("required test dependency unavailable (CI=true): %s; run e2e/install.sh", msg)
	}
	t.Skipf("skipping: %s; run e2e/install.sh", msg)
}

// Tool returns the path of an installed tool binary, or calls Unavailable.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(ToolsDir(), "bin", name)
	if _, err := os.Stat(p); err != nil {
		Unavailable(t, "%s not installed at %s", name, p)
	}
	return p
}

// LookPath returns the path of a program on PATH (node, ffmpeg, curl...),
// or calls Unavailable.
func LookPath(t testing.TB, file string) string {
	t.Helper()
	p, err := exec.LookPath(file)
	if err != nil {
		Unavailable(t, "%s not on PATH", file)
	}
	return p
}

// NodeModule returns the path of a file inside .tools/node/node_modules, or
// calls Unavailable.
func NodeModule(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(ToolsDir(), "node", "node_modules", rel)
	if _, err := os.Stat(p); err != nil {
		Unavailable(t, "npm package file %s missing", p)
	}
	return p
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
// Another process may take it before the caller listens; the gateway
// launcher in e2e retries on that.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Addr formats 127.0.0.1:port.
func Addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }
