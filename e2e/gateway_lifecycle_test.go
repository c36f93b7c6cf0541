package e2e

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/valetgw/valet/internal/testenv"
)

// localBackend returns the registered local backend.
func localBackend(t *testing.T) backend {
	t.Helper()
	return backendNamed(t, "local")
}

// SIGTERM while a request is in flight: the request still gets its answer,
// then the process exits 0 and no plugin process outlives it.
func TestGatewayGracefulShutdown(t *testing.T) {
	env := newGatewayEnv(t, gatewayStores(t, localBackend(t)))
	g := startGateway(t, env)
	token := mint(t, env.HS256, "alice", time.Minute, nil)

	plugins := testenv.Children(g.Pid())
	if len(plugins) < 2 {
		t.Fatalf("expected one plugin process per store (2), found %d children", len(plugins))
	}
	for _, p := range plugins {
		if !strings.Contains(testenv.Cmdline(p), "plugin serve local") {
			t.Fatalf("child %d is %q, want a `valet plugin serve local` process", p, testenv.Cmdline(p))
		}
	}

	// Send the headers, wait for the handler to ask for the body (100
	// Continue: the request is in the handler, not in the accept backlog),
	// send half the body, SIGTERM, wait until the listener is closed (the
	// shutdown has begun), then send the rest. Orderings, not sleeps, so a
	// slow machine cannot reorder them.
	body := `{"filename":"late.txt","content_type":"text/plain","size":5}`
	addr := strings.TrimPrefix(g.URL, "http://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	br := bufio.NewReader(conn)
	head := "POST /v1/stores/media/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
		"\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: " + itoa(len(body)) + "\r\n\r\n"
	if _, err := conn.Write([]byte(head)); err != nil {
		t.Fatal(err)
	}
	if cont, err := http.ReadResponse(br, nil); err != nil || cont.StatusCode != http.StatusContinue {
		t.Fatalf("waiting for 100 Continue: %v %v", cont, err)
	}
	if _, err := conn.Write([]byte(body[:20])); err != nil {
		t.Fatal(err)
	}
	if err := g.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// New connections are refused while the old one drains.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("gateway still accepts new connections 60s after SIGTERM\n%s", tail(g.Logs(), 4000))
		}
	}
	if _, err := conn.Write([]byte(body[20:])); err != nil {
		t.Fatalf("finishing the in-flight request: %v", err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("in-flight request got no answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("in-flight request: status %d, want 201", resp.StatusCode)
	}

	select {
	case <-g.Exited():
	case <-time.After(60 * time.Second):
		t.Fatalf("gateway still running 60s after SIGTERM\n%s", tail(g.Logs(), 4000))
	}
	if code := g.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0\n%s", code, tail(g.Logs(), 4000))
	}
	for _, p := range plugins {
		if testenv.Alive(p) {
			t.Errorf("plugin process %d (%s) outlived the gateway", p, testenv.Cmdline(p))
		}
	}
}

// A reload validates first: a good config is swapped in, a bad one is
// refused and the old config keeps serving.
func TestGatewayReload(t *testing.T) {
	env := newGatewayEnv(t, gatewayStores(t, localBackend(t)))
	g := startGateway(t, env)
	up := uploadProbe(t, g, env)
	media := env.Config["stores"].(map[string]any)["media"].(map[string]any)

	// Good reload: uploads are now denied by policy.
	media["rules"].(map[string]any)["upload"] = `subject == "nobody"`
	env.write(t)
	_ = g.Cmd.Process.Signal(syscall.SIGHUP)
	waitStatus(t, up, http.StatusForbidden)

	// Bad reload: a rule that does not compile. The previous config stays:
	// once the rejection is logged (so the reload has run), uploads are
	// still denied.
	rejected := strings.Count(g.Logs(), "rules.upload")
	media["rules"].(map[string]any)["upload"] = `subject ==`
	env.write(t)
	_ = g.Cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, g, "rules.upload", rejected+1, "the rejected reload logged with the key rules.upload")
	if st := up(); st != http.StatusForbidden {
		t.Fatalf("after a bad reload: status %d, want the previous config's 403", st)
	}

	// And back, this time without SIGHUP: the file watch picks it up.
	media["rules"].(map[string]any)["upload"] = `true`
	env.write(t)
	waitStatus(t, up, http.StatusCreated)
	// The line is written after the swap, so it may trail the first 201.
	waitLog(t, g, `"configuration reloaded"`, 2, "at least 2 successful reloads logged")
}

// A store whose plugin kept crashing until the host gave up on it is served
// again after a reload, although its config did not change.
func TestGatewayReloadRevivesGivenUpPlugin(t *testing.T) {
	env := newGatewayEnv(t, gatewayStores(t, localBackend(t)))
	delete(env.Config["stores"].(map[string]any), "brief") // one plugin process, so the kills all hit it
	env.write(t)
	g := startGateway(t, env)
	up := uploadProbe(t, g, env)
	plugin := func() int {
		for _, pid := range testenv.Children(g.Pid()) {
			if testenv.Alive(pid) && strings.Contains(testenv.Cmdline(pid), "plugin serve local") {
				return pid
			}
		}
		return 0
	}
	// The host restarts a plugin at most 5 times a minute: the 6th death is
	// the last.
	last := 0
	for i := range 6 {
		deadline := time.Now().Add(20 * time.Second)
		pid := plugin()
		for pid == 0 || pid == last {
			if time.Now().After(deadline) {
				t.Fatalf("kill %d: no restarted plugin after pid %d\n%s", i+1, last, tail(g.Logs(), 3000))
			}
			time.Sleep(50 * time.Millisecond)
			pid = plugin()
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		last = pid
	}
	// 503 also answers while a restart is under way; the log says when the
	// host has given up. After that, no plugin comes back (a restart that
	// races the check could only make it pass, never fail wrongly).
	waitStatus(t, up, http.StatusServiceUnavailable)
	waitLog(t, g, "not restarting it again", 1, "giving up logged")
	time.Sleep(time.Second)
	if pid := plugin(); pid != 0 {
		t.Fatalf("the host restarted plugin %d after giving up", pid)
	}
	if st := up(); st != http.StatusServiceUnavailable {
		t.Fatalf("after giving up: status %d, want 503", st)
	}

	_ = g.Cmd.Process.Signal(syscall.SIGHUP)
	waitStatus(t, up, http.StatusCreated)
	if pid := plugin(); pid == 0 || pid == last {
		t.Fatalf("no fresh plugin after the reload (pid %d, last killed %d)", pid, last)
	}
}

// uploadProbe asks for an upload slot in the media store as alice and
// returns the status; it checks that the first one is granted.
func uploadProbe(t *testing.T, g *gateway, env *gatewayEnv) func() int {
	t.Helper()
	token := mint(t, env.HS256, "alice", time.Minute, nil)
	up := func() int {
		return g.do(t, "POST", "/v1/stores/media/uploads", token, uploadReq{Filename: "a.txt", ContentType: "text/plain", Size: 10}).Status
	}
	if st := up(); st != http.StatusCreated {
		t.Fatalf("first upload slot: %d", st)
	}
	return up
}

func waitStatus(t *testing.T, f func() int, want int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st := f()
		if st == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %d, want %d within 60s", st, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitLog waits up to 60s for the gateway's output to contain s at least n
// times: the gateway buffers its log lines, so they trail what they report.
func waitLog(t *testing.T, g *gateway, s string, n int, what string) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		got := strings.Count(g.Logs(), s)
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not logged within 60s: %s (%q seen %d times, want %d):\n%s", what, s, got, n, tail(g.Logs(), 3000))
		}
	}
}

// valet runs the CLI and returns stdout, stderr and the exit code.
func valet(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return valetEnv(t, nil, args...)
}

// valetEnv is valet with extra environment variables.
func valetEnv(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(testenv.ValetBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("valet %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

func TestCLI(t *testing.T) {
	env := newGatewayEnv(t, gatewayStores(t, localBackend(t)))
	g := startGateway(t, env)
	// A CLI command starts its own plugin; with the local provider that
	// plugin needs its own port, while URLs still point at the gateway's
	// local store (same root and secret).
	own := []string{"VALET_STORES__MEDIA__CONFIG__LISTEN=127.0.0.1:0"}

	t.Run("help on every command", func(t *testing.T) {
		for _, args := range [][]string{{"--help"}, {"serve", "--help"}, {"plugin", "serve", "--help"}, {"plugins", "--help"},
			{"token", "--help"}, {"config", "check", "--help"}, {"presign", "--help"}, {"version", "--help"}} {
			out, errs, code := valet(t, args...)
			if code != 0 || !strings.Contains(out, "Usage:") {
				t.Errorf("valet %v: exit %d, stdout %q, stderr %q", args, code, tail(out, 200), errs)
			}
		}
	})

	t.Run("version", func(t *testing.T) {
		out, _, code := valet(t, "version")
		if code != 0 || !strings.HasPrefix(out, "valet ") {
			t.Fatalf("version: %d %q", code, out)
		}
	})

	t.Run("config check redacts secrets", func(t *testing.T) {
		localSecret := env.Config["stores"].(map[string]any)["media"].(map[string]any)["config"].(map[string]any)["secret"].(string)
		out, errs, code := valet(t, "config", "check", "--config", env.ConfigPath)
		if code != 0 {
			t.Fatalf("config check: exit %d: %s", code, errs)
		}
		for _, s := range []string{env.HS256, env.Tokens, localSecret} {
			if strings.Contains(out, s) || strings.Contains(errs, s) {
				t.Fatalf("config check printed a secret:\n%s", out)
			}
		}
		if !strings.Contains(out, "***") || !strings.Contains(out, "media") {
			t.Fatalf("config check output lacks the stores or the *** redaction:\n%s", out)
		}
	})

	t.Run("config check names the bad key", func(t *testing.T) {
		bad := newGatewayEnv(t, gatewayStores(t, localBackend(t)))
		bad.Config["stores"].(map[string]any)["media"].(map[string]any)["rules"].(map[string]any)["read"] = `key.startsWith(`
		bad.write(t)
		_, errs, code := valet(t, "config", "check", "--config", bad.ConfigPath)
		if code == 0 || !strings.Contains(errs, "media") || !strings.Contains(errs, "rules.read") {
			t.Fatalf("bad rule: exit %d, stderr %q; want non-zero naming stores.media.rules.read", code, errs)
		}
		bad.Config["stores"].(map[string]any)["media"].(map[string]any)["rules"].(map[string]any)["read"] = `true`
		bad.Config["stores"].(map[string]any)["media"].(map[string]any)["limitz"] = map[string]any{}
		bad.write(t)
		_, errs, code = valet(t, "config", "check", "--config", bad.ConfigPath)
		if code == 0 || !strings.Contains(errs, "limitz") {
			t.Fatalf("unknown key: exit %d, stderr %q; want non-zero naming limitz", code, errs)
		}
		delete(bad.Config["stores"].(map[string]any)["media"].(map[string]any), "limitz")
		bad.Config["stores"].(map[string]any)["media"].(map[string]any)["config"].(map[string]any)["bogus"] = 1
		bad.write(t)
		_, errs, code = valet(t, "config", "check", "--config", bad.ConfigPath)
		if code == 0 || !strings.Contains(errs, "stores.media.config.bogus") {
			t.Fatalf("unknown provider key: exit %d, stderr %q; want non-zero naming stores.media.config.bogus", code, errs)
		}
	})

	t.Run("config check rejects what serve rejects", func(t *testing.T) {
		media := func(e *gatewayEnv) map[string]any {
			return e.Config["stores"].(map[string]any)["media"].(map[string]any)
		}
		for _, tc := range []struct {
			name   string
			change func(e *gatewayEnv)
			want   string
		}{
			{"unknown provider", func(e *gatewayEnv) { media(e)["provider"] = "lcoal" }, `stores.media.provider: unknown provider "lcoal"`},
			{"provider config key", func(e *gatewayEnv) { media(e)["config"].(map[string]any)["rooot"] = "x" }, "rooot"},
			{"missing jwks file", func(e *gatewayEnv) {
				jwt := e.Config["auth"].(map[string]any)["jwt"].(map[string]any)
				jwt["jwks_file"] = "/nonexistent/jwks.json"
				jwt["issuer"], jwt["audience"] = "valet-e2e", "valet" // required with a JWKS
			}, "auth.jwt.jwks_file: open /nonexistent/jwks.json"},
		} {
			bad := newGatewayEnv(t, gatewayStores(t, localBackend(t)))
			tc.change(bad)
			bad.write(t)
			start := time.Now()
			out, errs, code := valet(t, "config", "check", "--config", bad.ConfigPath)
			if code == 0 || !strings.Contains(errs, tc.want) || out != "" {
				t.Errorf("%s: exit %d, stderr %q; want non-zero naming %q", tc.name, code, errs, tc.want)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("%s: config check took %v", tc.name, d)
			}
		}
		// With the gateway holding the local store's port, the check
		// passes with a note and prints the effective config.
		out, errs, code := valet(t, "config", "check", "--config", env.ConfigPath)
		if code != 0 || !strings.Contains(errs, "in use") || strings.Contains(errs, `"level"`) {
			t.Fatalf("config check next to a gateway: exit %d, stderr %q", code, errs)
		}
		if !strings.Contains(out, "delete_on_mismatch: false # unset: the default for provider local") {
			t.Errorf("effective delete_on_mismatch not printed:\n%s", out)
		}
	})

	t.Run("presign next to a gateway says how to get a port", func(t *testing.T) {
		_, errs, code := valet(t, "presign", "--config", env.ConfigPath, "--store", "media", "--method", "GET", "--key", "a/b")
		if code != 1 || !strings.HasPrefix(errs, "valet: ") || strings.Contains(errs, `"level"`) ||
			!strings.Contains(errs, "VALET_STORES__MEDIA__CONFIG__LISTEN=127.0.0.1:0") {
			t.Fatalf("exit %d, stderr %q; want one error naming the workaround, no plugin log", code, errs)
		}
		_, errs, code = valetEnv(t, own, "presign", "--config", env.ConfigPath, "--store", "media", "--method", "PUT", "--key", "a/b")
		if code != 2 || !strings.Contains(errs, "--size is required") {
			t.Fatalf("PUT without --size: exit %d, stderr %q", code, errs)
		}
	})

	t.Run("token is accepted by the gateway", func(t *testing.T) {
		out, errs, code := valet(t, "token", "--config", env.ConfigPath, "--subject", "dave", "--claim", "role=editor", "--ttl", "5m")
		if code != 0 {
			t.Fatalf("token: exit %d: %s", code, errs)
		}
		tok := strings.TrimSpace(out)
		if strings.Count(tok, ".") != 2 {
			t.Fatalf("token output %q is not a JWT", tail(tok, 40))
		}
		r := g.do(t, "POST", "/v1/stores/media/uploads", tok, uploadReq{Filename: "d.txt", ContentType: "text/plain", Size: 3})
		want(t, r, http.StatusCreated)
		if k := decodeJSON[uploadSlot](t, r).Key; !strings.HasPrefix(k, "users/dave/") {
			t.Fatalf("key %q not under the token's subject", k)
		}
	})

	t.Run("plugin serve unknown name", func(t *testing.T) {
		_, errs, code := valet(t, "plugin", "serve", "no-such-provider")
		if code == 0 || !strings.Contains(errs, "no-such-provider") {
			t.Fatalf("exit %d, stderr %q", code, errs)
		}
	})

	t.Run("plugins lists local with its info", func(t *testing.T) {
		out, errs, code := valet(t, "plugins", "--json")
		if code != 0 {
			t.Fatalf("plugins: exit %d: %s", code, errs)
		}
		var list []struct {
			Name    string         `json:"name"`
			BuiltIn bool           `json:"builtin"`
			Info    map[string]any `json:"info"`
		}
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatalf("plugins --json: %v: %s", err, out)
		}
		found := false
		for _, p := range list {
			if p.Name == "local" && p.BuiltIn && p.Info != nil {
				found = true
			}
		}
		if !found {
			t.Fatalf("local not listed as a built-in with info: %s", out)
		}
	})

	t.Run("plugins shows a discovered plugin's info", func(t *testing.T) {
		dir := t.TempDir()
		build := exec.Command("go", "build", "-o", dir+"/valet-plugin-example", "./plugins/example")
		build.Dir = testenv.Root()
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		out, errs, code := valet(t, "plugins", "--plugin-dir", dir, "--json")
		if code != 0 {
			t.Fatalf("plugins: exit %d: %s", code, errs)
		}
		var list []struct {
			Name    string `json:"name"`
			BuiltIn bool   `json:"builtin"`
			Path    string `json:"path"`
			SHA256  string `json:"sha256"`
			Info    *struct {
				Name         string `json:"name"`
				Version      string `json:"version"`
				Capabilities struct {
					SignPut bool `json:"sign_put"`
				} `json:"capabilities"`
			} `json:"info"`
		}
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatalf("plugins --json: %v: %s", err, out)
		}
		found := false
		for _, p := range list {
			if p.Name == "example" && !p.BuiltIn {
				found = true
				if p.Info == nil || p.Info.Name != "example" || p.Info.Version != "1.0.0" || !p.Info.Capabilities.SignPut || len(p.SHA256) != 64 {
					t.Fatalf("example listed without its info: %s", out)
				}
			}
		}
		if !found {
			t.Fatalf("example plugin not listed: %s", out)
		}
		text, errs, code := valet(t, "plugins", "--plugin-dir", dir)
		if code != 0 || !strings.Contains(text, "example  external  1.0.0") {
			t.Fatalf("plugins: exit %d, stdout:\n%s\nstderr: %s", code, text, errs)
		}
	})

	t.Run("presign put then get", func(t *testing.T) {
		key := "ops/" + itoa(int(time.Now().UnixNano())) + ".txt"
		out, errs, code := valetEnv(t, own, "presign", "--config", env.ConfigPath, "--store", "media", "--method", "PUT",
			"--key", key, "--content-type", "text/plain", "--size", "5", "--ttl", "2m", "--json")
		if code != 0 {
			t.Fatalf("presign PUT: exit %d: %s", code, errs)
		}
		var put uploadSlot
		if err := json.Unmarshal([]byte(out), &put); err != nil {
			t.Fatalf("presign output: %v: %s", err, out)
		}
		if st, b := putRecipe(t, put, []byte("hello")); st/100 != 2 {
			t.Fatalf("PUT: %d %s", st, b)
		}
		out, errs, code = valetEnv(t, own, "presign", "--config", env.ConfigPath, "--store", "media", "--method", "GET", "--key", key)
		if code != 0 {
			t.Fatalf("presign GET: exit %d: %s", code, errs)
		}
		if st, got, _ := fetch(t, strings.TrimSpace(out), nil); st != 200 || string(got) != "hello" {
			t.Fatalf("GET: %d %q", st, got)
		}
		_, errs, code = valet(t, "presign", "--config", env.ConfigPath, "--store", "nope", "--method", "GET", "--key", key)
		if code == 0 || !strings.Contains(errs, "nope") {
			t.Fatalf("unknown store: exit %d, stderr %q", code, errs)
		}
	})
}
