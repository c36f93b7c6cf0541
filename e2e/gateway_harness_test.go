package e2e

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/valetgw/valet/internal/testenv"
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

// writeFile writes data to path (mode 0600), failing the test if it cannot,
// and returns path.
func writeFile(t testing.TB, path string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// newGatewayEnv writes a gateway config with fresh secrets and the given
// stores (stores.NAME blocks). Listen addresses are given per process.
func newGatewayEnv(t testing.TB, stores map[string]any) *gatewayEnv {
	t.Helper()
	e := &gatewayEnv{Dir: t.TempDir(), HS256: randomSecret(t), Tokens: randomSecret(t)}
	write := func(name, content string) string { return writeFile(t, filepath.Join(e.Dir, name), []byte(content)) }
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
	tmp := writeFile(t, e.ConfigPath+".tmp", b)
	if err := os.Rename(tmp, e.ConfigPath); err != nil {
		t.Fatal(err)
	}
}

// testOrigin is the browser origin the test stores allow.
const testOrigin = "http://127.0.0.1:8080"

// gateway is one running `valet serve` process.
type gateway struct {
	*testenv.Process
	URL string
	env *gatewayEnv
	// bodies records every error response body seen by do, for the leak test.
	mu     sync.Mutex
	bodies []string
}

// startGateway runs the real valet binary with env's config on a free port
// and waits until /readyz answers 200 (every store's plugin healthy).
// extraEnv is appended to the process environment (VALET_* overrides).
// FreePort can race with other processes on a shared machine, so a gateway
// whose own listener finds its port taken is retried on another port.
func startGateway(t testing.TB, env *gatewayEnv, extraEnv ...string) *gateway {
	t.Helper()
	for attempt := 1; ; attempt++ {
		g, err := launchGateway(t, env, testenv.FreePort(t), extraEnv)
		if err == nil {
			return g
		}
		if !portTaken(err) || attempt == 3 {
			t.Fatalf("valet serve could not start (attempt %d): %v", attempt, err)
		}
		t.Logf("gateway port was taken by another process; retrying on another port")
	}
}

// launchGateway makes one start attempt on port. A gateway that does not
// become ready is an error: it is the code under test, not an optional
// dependency. Cleanup kills it with SIGKILL, not SIGTERM, so that TestMain
// shows that a killed gateway still takes its plugins down.
func launchGateway(t testing.TB, env *gatewayEnv, port int, extraEnv []string) (*gateway, error) {
	t.Helper()
	url := "http://" + testenv.Addr(port)
	cmd := exec.Command(testenv.ValetBinary(t), "serve", "--config", env.ConfigPath, "--listen", testenv.Addr(port))
	cmd.Env = append(os.Environ(), "VALET_SERVER__PUBLIC_URL="+url)
	cmd.Env = append(cmd.Env, extraEnv...)
	p, err := testenv.Launch(t, testenv.Spec{
		Name:       "gateway " + url,
		Cmd:        cmd,
		Ready:      testenv.HTTPStatus(url+"/readyz", http.StatusOK),
		StopSignal: syscall.SIGKILL,
	})
	if err != nil {
		return nil, err
	}
	return &gateway{Process: p, URL: url, env: env}, nil
}

// portTaken reports whether the gateway exited because server.listen was
// in use.
func portTaken(err error) bool {
	var se *testenv.StartError
	return errors.As(err, &se) && se.Exited &&
		strings.Contains(se.Logs, "server.listen:") && strings.Contains(se.Logs, "address already in use")
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
	case <-g.Exited():
	case <-time.After(timeout):
		t.Fatalf("gateway still running %s after SIGTERM\n%s", timeout, tail(g.Logs(), 4000))
	}
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
