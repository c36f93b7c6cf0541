package e2e

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/valetgw/valet/e2e/servers"
)

// gatewayEnv is one gateway configuration on disk: a config file and the
// secret files it points to. Several gateway processes may share it.
type gatewayEnv struct {
	Dir        string
	ConfigPath string
	// HS256 verifies bearer tokens; Tokens seals upload ids.
	HS256, Tokens string
	// Config is what was written to ConfigPath.
	Config map[string]any
}

// randomSecret returns 32 random bytes, base64-encoded.
func randomSecret(t testing.TB) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// newGatewayEnv writes a gateway config with fresh secrets and the given
// stores (stores.NAME blocks). Listen addresses are given per process.
func newGatewayEnv(t testing.TB, stores map[string]any) *gatewayEnv {
	t.Helper()
	e := &gatewayEnv{Dir: t.TempDir(), HS256: randomSecret(t), Tokens: randomSecret(t)}
	write := func(name, content string) string {
		p := filepath.Join(e.Dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	e.Config = map[string]any{
		"server": map[string]any{
			"listen":       "127.0.0.1:0",
			"public_url":   "http://127.0.0.1:0",
			"cors_origins": []string{testOrigin},
		},
		"auth":   map[string]any{"jwt": map[string]any{"hs256_secret_file": write("hs256.secret", e.HS256)}},
		"tokens": map[string]any{"secret_file": write("tokens.secret", e.Tokens)},
		"stores": stores,
	}
	e.write(t)
	return e
}

// write (re)writes the config file atomically, for reload tests too.
func (e *gatewayEnv) write(t testing.TB) {
	t.Helper()
	b, err := yaml.Marshal(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	e.writeRaw(t, b)
}

func (e *gatewayEnv) writeRaw(t testing.TB, b []byte) {
	t.Helper()
	e.ConfigPath = filepath.Join(e.Dir, "valet.yaml")
	tmp := e.ConfigPath + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, e.ConfigPath); err != nil {
		t.Fatal(err)
	}
}

// testOrigin is the browser origin the test stores allow.
const testOrigin = "http://127.0.0.1:8080"

// gateway is one running `valet serve` process.
type gateway struct {
	URL    string
	Cmd    *exec.Cmd
	exited chan struct{}
	logs   *logBuffer
	env    *gatewayEnv
	// bodies records every error response body seen by do, for the leak test.
	mu     sync.Mutex
	bodies []string
}

// logBuffer keeps what a process printed, capped at 4 MiB.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len() < 4<<20 {
		l.buf.Write(b)
	}
	return len(b), nil
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// startGateway runs the real valet binary with env's config on a free port
// and waits until /readyz answers 200 (every store's plugin healthy).
// extraEnv is appended to the process environment (VALET_* overrides).
// FreePort can race with other processes on a shared machine, so a gateway
// whose own listener finds its port taken is retried on another port.
func startGateway(t testing.TB, env *gatewayEnv, extraEnv ...string) *gateway {
	t.Helper()
	for attempt := 1; ; attempt++ {
		g, portTaken := launchGateway(t, env, extraEnv)
		if g != nil {
			return g
		}
		if !portTaken || attempt == 3 {
			t.Fatalf("valet serve could not start (attempt %d)", attempt)
		}
		t.Logf("gateway port was taken by another process; retrying on another port")
	}
}

// launchGateway makes one start attempt. It returns nil and true when the
// gateway exited because server.listen was in use.
func launchGateway(t testing.TB, env *gatewayEnv, extraEnv []string) (*gateway, bool) {
	t.Helper()
	bin := servers.ValetBinary(t)
	port := servers.FreePort(t)
	url := "http://" + servers.Addr(port)
	cmd := exec.Command(bin, "serve", "--config", env.ConfigPath, "--listen", servers.Addr(port))
	cmd.Env = append(os.Environ(), "VALET_SERVER__PUBLIC_URL="+url)
	cmd.Env = append(cmd.Env, extraEnv...)
	g := &gateway{URL: url, Cmd: cmd, exited: make(chan struct{}), logs: &logBuffer{}, env: env}
	cmd.Stdout, cmd.Stderr = g.logs, g.logs
	// Own process group so cleanup can kill plugins too if shutdown fails;
	// Pdeathsig kills the gateway if the test binary dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start valet serve: %v", err)
	}
	go func() { _ = cmd.Wait(); close(g.exited) }()
	t.Cleanup(func() {
		notePlugins(cmd.Process.Pid)
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-g.exited:
		case <-time.After(5 * time.Second):
		}
		if t.Failed() {
			t.Logf("gateway %s output:\n%s", url, tail(g.logs.String(), 8000))
		}
	})
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-g.exited:
			logs := g.logs.String()
			if strings.Contains(logs, "server.listen:") && strings.Contains(logs, "address already in use") {
				return nil, true
			}
			t.Fatalf("valet serve exited during start-up: %v\n%s", cmd.ProcessState, logs)
		default:
		}
		resp, err := client.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return g, false
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("valet serve not ready after 60s (last: %v)\n%s", err, g.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// apiResp is one gateway response, fully read.
type apiResp struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r apiResp) String() string { return fmt.Sprintf("%d %s", r.Status, tail(string(r.Body), 600)) }

// problem is an RFC 9457 error body.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
}

// noRedirect never follows redirects, so 302s can be inspected.
var noRedirect = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// do sends a request to the gateway with an optional bearer token and JSON
// body, and records error bodies.
func (g *gateway) do(t testing.TB, method, path, token string, body any) apiResp {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, g.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return g.send(t, req)
}

func (g *gateway) send(t testing.TB, req *http.Request) apiResp {
	t.Helper()
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL.Path, err)
	}
	r := apiResp{Status: resp.StatusCode, Header: resp.Header, Body: b}
	if r.Status >= 400 {
		g.mu.Lock()
		g.bodies = append(g.bodies, string(b))
		g.mu.Unlock()
	}
	return r
}

// want fails the test unless r has the status; for errors it also checks
// the problem+json shape and returns the problem.
func want(t testing.TB, r apiResp, status int) problem {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body: %s", r.Status, status, tail(string(r.Body), 600))
	}
	var p problem
	if status >= 400 {
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
			t.Fatalf("error Content-Type = %q, want application/problem+json; body: %s", ct, r.Body)
		}
		if err := json.Unmarshal(r.Body, &p); err != nil {
			t.Fatalf("problem body: %v: %s", err, r.Body)
		}
		if p.Code == "" || p.Status != status {
			t.Fatalf("problem = %+v, want a code and status %d", p, status)
		}
	}
	return p
}

// wantCode is want plus the problem's stable code.
func wantCode(t testing.TB, r apiResp, status int, code string) {
	t.Helper()
	if p := want(t, r, status); p.Code != code {
		t.Fatalf("problem code = %q, want %q; body: %s", p.Code, code, r.Body)
	}
}

func decodeJSON[T any](t testing.TB, r apiResp) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("decode %T: %v: %s", v, err, r.Body)
	}
	return v
}

// sigterm asks the gateway to stop and waits for it to exit.
func (g *gateway) sigterm(t testing.TB, timeout time.Duration) {
	t.Helper()
	if err := g.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-g.exited:
	case <-time.After(timeout):
		t.Fatalf("gateway still running %s after SIGTERM\n%s", timeout, tail(g.logs.String(), 4000))
	}
}

// children returns the pids whose parent is pid (from /proc).
func children(t testing.TB, pid int) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, _ := procField(p, 3); ppid == strconv.Itoa(pid) {
			out = append(out, p)
		}
	}
	return out
}

// procField returns field i (0-based) of /proc/pid/stat, skipping the
// parenthesised command name, which may contain spaces.
func procField(pid, i int) (string, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", false
	}
	s := string(b)
	j := strings.LastIndexByte(s, ')')
	if j < 0 {
		return "", false
	}
	f := strings.Fields(s[j+1:])
	if i < 2 || i-2 >= len(f) {
		return "", false
	}
	return f[i-2], true
}

// alive reports whether pid is still running (a zombie has exited).
func alive(pid int) bool {
	st, ok := procField(pid, 2)
	return ok && st != "Z" && st != "X"
}

// cmdline returns a process's command line, for messages.
func cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

// logLines splits JSON log output into decoded lines, skipping non-JSON.
func logLines(s string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}
