// Package servers starts the real storage servers the end-to-end tests run
// against (versitygw, MinIO, fake-gcs-server, Azurite), each on 127.0.0.1
// with a free port and a temporary data directory, and stops them in
// t.Cleanup. Binaries come from .tools/, installed by e2e/install.sh.
//
// When a server cannot be found or will not start, the test is skipped with
// the reason, except in CI (CI=true), where it fails.
package servers

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
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
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Process is a started server.
type Process struct {
	Cmd  *exec.Cmd
	mu   sync.Mutex
	logs bytes.Buffer
}

func (p *Process) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.logs.Len() < 1<<20 {
		p.logs.Write(b)
	}
	return len(b), nil
}

// Logs returns what the server printed so far (capped at 1 MiB).
func (p *Process) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// Start runs cmd in its own process group, waits until ready returns nil (or
// timeout passes) and registers a cleanup that kills the whole group. A
// server that does not become ready calls Unavailable with its output.
func Start(t testing.TB, name string, cmd *exec.Cmd, timeout time.Duration, ready func() error) *Process {
	t.Helper()
	p := &Process{Cmd: cmd}
	cmd.Stdout, cmd.Stderr = p, p
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		Unavailable(t, "%s: start: %v", name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
		}
	})
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			Unavailable(t, "%s exited during start-up: %s", name, p.Logs())
		default:
		}
		if err = ready(); err == nil {
			return p
		}
		time.Sleep(50 * time.Millisecond)
	}
	Unavailable(t, "%s not ready after %s: %v\n%s", name, timeout, err, p.Logs())
	return nil
}

// HTTPReady returns a readiness probe that succeeds when url answers with a
// status below 500.
func HTTPReady(url string) func() error {
	c := &http.Client{Timeout: time.Second}
	return func() error {
		resp, err := c.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			return fmt.Errorf("%s: status %d", url, resp.StatusCode)
		}
		return nil
	}
}

// Addr formats 127.0.0.1:port.
func Addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }
