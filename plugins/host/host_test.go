package host_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/valetgw/valet/plugins/host"
	"github.com/valetgw/valet/providers"
)

func TestCallsCrossTheProcessBoundary(t *testing.T) {
	bothTransports(t, testCallsCrossTheProcessBoundary)
}

func testCallsCrossTheProcessBoundary(t *testing.T, transport func(*host.Options)) {
	h := newHost(t, transport)
	ctx := context.Background()
	p, err := h.Start(ctx, host.Spec{Store: "media", Plugin: "test", Config: config(t, testConfig{})})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Healthy() {
		t.Fatal("fresh plugin is not healthy")
	}
	store, pid := whoami(t, p)
	if store != "media" || pid == os.Getpid() || pid != p.Pid() {
		t.Fatalf("whoami = %q pid %d (host %d, reported %d)", store, pid, os.Getpid(), p.Pid())
	}
	info, err := p.Info(ctx)
	if err != nil || info.Name != "test" || info.Capabilities.MaxExpiry != time.Hour || !info.Capabilities.BindsContentType {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	rec, err := p.SignPut(ctx, providers.PutRequest{Key: "a b", ContentType: "text/plain", Size: 3, TTL: time.Minute})
	if err != nil || rec.Method != "PUT" || !strings.Contains(rec.URL, "/o/a%20b?") || rec.Headers["Content-Type"] != "text/plain" {
		t.Fatalf("SignPut = %+v, %v", rec, err)
	}
	if d := time.Until(rec.ExpiresAt); d < 58*time.Second || d > time.Minute {
		t.Fatalf("ExpiresAt %v is not a minute away", rec.ExpiresAt)
	}
	// Provider error codes and messages survive the hop.
	_, err = p.Head(ctx, "missing")
	if !errors.Is(err, providers.ErrNotFound) || !strings.Contains(err.Error(), "missing: no such object") {
		t.Fatalf("Head(missing) = %v", err)
	}
	_, err = p.SignParts(ctx, providers.SignPartsRequest{Key: "k", UploadID: "u", Parts: []providers.PartSpec{{Number: 1}}})
	if !errors.Is(err, providers.ErrUnimplemented) {
		t.Fatalf("SignParts = %v", err)
	}
	// A provider's own Unavailable is its answer, not a dead plugin: no restart.
	blockCtx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	_, err = p.Head(blockCtx, "block")
	cancel()
	if providers.CodeOf(err) != providers.Unavailable {
		t.Fatalf("Head(block) past deadline = %v", err)
	}
	if _, again := whoami(t, p); again != pid {
		t.Fatalf("plugin restarted (pid %d -> %d) after a deadline", pid, again)
	}
}

// bothTransports runs a test over the Calls stream (the default) and over
// plain unary rpcs, the fallback for plugins without the stream.
func bothTransports(t *testing.T, f func(*testing.T, func(*host.Options))) {
	t.Run("stream", func(t *testing.T) { f(t, nil) })
	t.Run("unary", func(t *testing.T) { f(t, func(o *host.Options) { o.DisableCallStream = true }) })
}

// A plugin built before the Calls stream existed is still served, over
// unary rpcs.
func TestPluginWithoutCallStreamFallsBackToUnary(t *testing.T) {
	h := newHost(t, nil)
	p, err := h.Start(context.Background(), host.Spec{Store: "old", Plugin: "legacy", Config: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	obj, err := p.Head(context.Background(), "k")
	if err != nil || obj.Key != "k" || obj.Metadata["served-by"] != "pre-stream" {
		t.Fatalf("Head through a pre-stream plugin = %+v, %v", obj, err)
	}
	if _, err := p.SignPut(context.Background(), providers.PutRequest{Key: "k", TTL: time.Minute}); !errors.Is(err, providers.ErrUnimplemented) {
		t.Fatalf("an rpc the plugin lacks = %v, want Unimplemented", err)
	}
}

func TestConfigureErrorKeepsCodeAndLeavesNoProcess(t *testing.T) {
	h := newHost(t, nil)
	_, err := h.Start(context.Background(), host.Spec{Store: "bad", Plugin: "test", Config: []byte(`{"bucket":"x"}`)})
	if !errors.Is(err, providers.ErrInvalidArgument) || !strings.Contains(err.Error(), `unknown field "bucket"`) || !strings.Contains(err.Error(), `store "bad"`) {
		t.Fatalf("Start with unknown key = %v", err)
	}
	_, err = h.Start(context.Background(), host.Spec{Store: "bad", Plugin: "test", Config: config(t, testConfig{Reject: true})})
	if !errors.Is(err, providers.ErrInvalidArgument) || !strings.Contains(err.Error(), "config.reject") {
		t.Fatalf("Start with rejected config = %v", err)
	}
	assertNoChildren(t)
}

func TestUnknownAndInvalidPluginNames(t *testing.T) {
	h := newHost(t, func(o *host.Options) { o.PluginDirs = []string{t.TempDir()} })
	_, err := h.Start(context.Background(), host.Spec{Store: "s", Plugin: "nope"})
	if !errors.Is(err, providers.ErrNotFound) || !strings.Contains(err.Error(), "valet-plugin-nope") {
		t.Fatalf("unknown plugin: %v", err)
	}
	_, err = h.Start(context.Background(), host.Spec{Store: "s", Plugin: "../evil"})
	if !errors.Is(err, providers.ErrInvalidArgument) {
		t.Fatalf("path in plugin name: %v", err)
	}
}

func TestPanicBecomesInternalAndPluginSurvives(t *testing.T) {
	bothTransports(t, testPanicBecomesInternalAndPluginSurvives)
}

func testPanicBecomesInternalAndPluginSurvives(t *testing.T, transport func(*host.Options)) {
	h := newHost(t, transport)
	p, err := h.Start(context.Background(), host.Spec{Store: "s", Plugin: "test", Config: config(t, testConfig{})})
	if err != nil {
		t.Fatal(err)
	}
	_, before := whoami(t, p)
	_, err = p.Head(context.Background(), "panic")
	if !errors.Is(err, providers.ErrInternal) || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("Head(panic) = %v", err)
	}
	if _, after := whoami(t, p); after != before {
		t.Fatalf("plugin process changed after a panic: %d -> %d", before, after)
	}
	// Writing to stdout cannot corrupt the transport either.
	if _, err := p.Head(context.Background(), "stdout"); err != nil {
		t.Fatalf("Head(stdout) = %v", err)
	}
	whoami(t, p)
}

// What a provider prints to stdout never reaches the handshake channel; the
// host logs it as a warning. The provider's structured log (a panic report)
// arrives as a log entry of the host's logger, not as raw text.
func TestPluginOutputEndsUpInHostLog(t *testing.T) {
	var mu sync.Mutex
	var logged strings.Builder
	h := newHost(t, func(o *host.Options) {
		o.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Info, JSONFormat: true, Output: writerFunc(func(b []byte) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			return logged.Write(b)
		})})
	})
	p, err := h.Start(context.Background(), host.Spec{Store: "s", Plugin: "test", Config: config(t, testConfig{})})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Head(context.Background(), "stdout"); err != nil {
		t.Fatal(err)
	}
	_, _ = p.Head(context.Background(), "panic")
	waitFor(t, 3*time.Second, "plugin output logged", func() bool {
		mu.Lock()
		defer mu.Unlock()
		out := logged.String()
		return strings.Contains(out, "a provider must not print this to stdout") && strings.Contains(out, "provider panicked")
	})
	mu.Lock()
	defer mu.Unlock()
	for _, line := range strings.Split(strings.TrimSpace(logged.String()), "\n") {
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("host log line is not JSON: %q", line)
		}
		if strings.Contains(line, "must not print this") && entry["@level"] != "warn" {
			t.Errorf("stdout output logged at %v, want warn: %s", entry["@level"], line)
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func TestEnvironmentAllowlist(t *testing.T) {
	t.Setenv("VALET_TEST_SECRET", "must-not-leak")
	t.Setenv("AWS_REGION", "test-region-1")
	t.Setenv("EXTRA_ONE", "1")
	h := newHost(t, func(o *host.Options) { o.EnvAllow = []string{"AWS_*", "EXTRA_ONE"} })
	p, err := h.Start(context.Background(), host.Spec{Store: "s", Plugin: "test", Config: config(t, testConfig{})})
	if err != nil {
		t.Fatal(err)
	}
	obj, err := p.Head(context.Background(), "env")
	if err != nil {
		t.Fatal(err)
	}
	env := obj.Metadata
	if _, ok := env["VALET_TEST_SECRET"]; ok {
		t.Error("a variable outside the allowlist reached the plugin")
	}
	if env["AWS_REGION"] != "test-region-1" || env["EXTRA_ONE"] != "1" || env["PATH"] != os.Getenv("PATH") {
		t.Errorf("allowed variables missing: AWS_REGION=%q EXTRA_ONE=%q PATH set=%v", env["AWS_REGION"], env["EXTRA_ONE"], env["PATH"] != "")
	}
	for k := range env {
		if strings.HasPrefix(k, "PLUGIN_CLIENT_CERT") {
			continue // go-plugin's own handshake variables
		}
		allowed := false
		for _, a := range append(host.DefaultEnv(), "AWS_*", "EXTRA_ONE", "PLUGIN_*", "VALET_PLUGIN_MAGIC_COOKIE", "VALET_PLUGIN_PARENT_PID") {
			if m, _ := filepath.Match(a, k); m {
				allowed = true
			}
		}
		if !allowed {
			t.Errorf("plugin saw %s, which is not allowlisted", k)
		}
	}
}

// TestKillDuringCall is the supervision contract: SIGKILL a plugin while a
// call is in flight; the caller gets Unavailable within its deadline, the
// plugin is back within about a second with its configuration replayed, and
// the next call succeeds.
func TestKillDuringCall(t *testing.T) { bothTransports(t, testKillDuringCall) }

func testKillDuringCall(t *testing.T, transport func(*host.Options)) {
	h := newHost(t, transport)
	state := t.TempDir()
	p, err := h.Start(context.Background(), host.Spec{Store: "kill-store", Plugin: "test", Config: config(t, testConfig{StateDir: state})})
	if err != nil {
		t.Fatal(err)
	}
	_, oldPid := whoami(t, p)

	const deadline = 5 * time.Second
	type result struct {
		err  error
		done time.Time
	}
	res := make(chan result, 1)
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	callStart := time.Now()
	go func() {
		// CreateMultipart is never retried, so the kill reaches the caller.
		_, err := p.CreateMultipart(ctx, providers.CreateMultipartRequest{Key: "block", TTL: time.Minute})
		res <- result{err, time.Now()}
	}()
	waitFor(t, 3*time.Second, "plugin entered the blocking call", func() bool {
		_, err := os.Stat(filepath.Join(state, "blocking"))
		return err == nil
	})
	killedAt := time.Now()
	sigkill(t, oldPid)

	r := <-res
	if !errors.Is(r.err, providers.ErrUnavailable) {
		t.Fatalf("in-flight call after SIGKILL = %v, want Unavailable", r.err)
	}
	if took := r.done.Sub(callStart); took >= deadline {
		t.Fatalf("caller waited %s, past its %s deadline", took, deadline)
	}
	t.Logf("caller got Unavailable %s after the kill: %v", r.done.Sub(killedAt).Round(time.Millisecond), r.err)
	if d := r.done.Sub(killedAt); d > time.Second {
		t.Errorf("Unavailable took %s after the kill; want fail-fast", d)
	}

	back := waitFor(t, 3*time.Second, "plugin restarted", func() bool { return p.Healthy() && p.Pid() != oldPid })
	backAfterKill := time.Since(killedAt)
	t.Logf("plugin back %s after the kill (observed %s after the call returned)", backAfterKill.Round(time.Millisecond), back.Round(time.Millisecond))
	limit := 1500 * time.Millisecond
	if raceEnabled {
		limit = 5 * time.Second
	}
	if backAfterKill > limit {
		t.Errorf("plugin took %s to come back; want about a second", backAfterKill)
	}
	if alive(oldPid) {
		t.Errorf("killed process %d still alive", oldPid)
	}

	store, newPid := whoami(t, p)
	if store != "kill-store" || newPid == oldPid {
		t.Fatalf("after restart whoami = %q pid %d (old %d): configuration not replayed", store, newPid, oldPid)
	}
	configured, _ := os.ReadFile(filepath.Join(state, "configured"))
	if lines := strings.Split(strings.TrimSpace(string(configured)), "\n"); len(lines) != 2 || lines[1] != strconv.Itoa(newPid)+" kill-store" {
		t.Fatalf("Configure log = %q, want one replay by pid %d", configured, newPid)
	}
	if _, err := p.SignPut(context.Background(), providers.PutRequest{Key: "k", ContentType: "a/b", Size: 1, TTL: time.Minute}); err != nil {
		t.Fatalf("next call after restart: %v", err)
	}
}

// An idempotent call in flight when the plugin dies is retried once on the
// restarted plugin, and so succeeds.
func TestIdempotentCallRetriedAfterRestart(t *testing.T) {
	bothTransports(t, testIdempotentCallRetriedAfterRestart)
}

func testIdempotentCallRetriedAfterRestart(t *testing.T, transport func(*host.Options)) {
	h := newHost(t, transport)
	state := t.TempDir()
	p, err := h.Start(context.Background(), host.Spec{Store: "s", Plugin: "test", Config: config(t, testConfig{StateDir: state})})
	if err != nil {
		t.Fatal(err)
	}
	oldPid := p.Pid()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	type result struct {
		obj providers.Object
		err error
	}
	res := make(chan result, 1)
	go func() {
		obj, err := p.Head(ctx, "block-once")
		res <- result{obj, err}
	}()
	waitFor(t, 3*time.Second, "plugin entered the blocking call", func() bool {
		_, err := os.Stat(filepath.Join(state, "blocking"))
		return err == nil
	})
	sigkill(t, oldPid)
	r := <-res
	if r.err != nil {
		t.Fatalf("Head retried after restart = %v", r.err)
	}
	if r.obj.Metadata["pid"] == strconv.Itoa(oldPid) || r.obj.Metadata["pid"] != strconv.Itoa(p.Pid()) {
		t.Fatalf("answer came from pid %s; old %d, current %d", r.obj.Metadata["pid"], oldPid, p.Pid())
	}
}

// A plugin that stops answering without exiting (here: SIGSTOP) is caught
// by the periodic health check and replaced.
func TestHungPluginIsReplacedByHealthCheck(t *testing.T) {
	h := newHost(t, func(o *host.Options) { o.HealthInterval = 100 * time.Millisecond })
	p, err := h.Start(context.Background(), host.Spec{Store: "hung", Plugin: "test", Config: config(t, testConfig{})})
	if err != nil {
		t.Fatal(err)
	}
	oldPid := p.Pid()
	if err := syscall.Kill(oldPid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(oldPid, syscall.SIGKILL) })
	d := waitFor(t, 10*time.Second, "hung plugin replaced", func() bool { return p.Healthy() && p.Pid() != oldPid })
	t.Logf("hung plugin replaced after %s", d.Round(time.Millisecond))
	if store, pid := whoami(t, p); store != "hung" || pid == oldPid {
		t.Fatalf("after replacement whoami = %q pid %d", store, pid)
	}
	waitFor(t, 2*time.Second, "hung process killed", func() bool { return !alive(oldPid) })
}

// Many callers see the plugin die at once; exactly one restart happens.
func TestConcurrentFailuresRestartOnce(t *testing.T) {
	h := newHost(t, nil)
	state := t.TempDir()
	p, err := h.Start(context.Background(), host.Spec{Store: "s", Plugin: "test", Config: config(t, testConfig{StateDir: state})})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	const callers = 8
	errs := make(chan error, callers)
	for range callers {
		go func() {
			_, err := p.CreateMultipart(ctx, providers.CreateMultipartRequest{Key: "block"})
			errs <- err
		}()
	}
	waitFor(t, 3*time.Second, "calls in flight", func() bool {
		_, err := os.Stat(filepath.Join(state, "blocking"))
		return err == nil
	})
	time.Sleep(50 * time.Millisecond) // let every caller reach the plugin
	oldPid := p.Pid()
	sigkill(t, oldPid)
	for range callers {
		if err := <-errs; !errors.Is(err, providers.ErrUnavailable) {
			t.Fatalf("caller got %v", err)
		}
	}
	waitFor(t, 3*time.Second, "restart", func() bool { return p.Healthy() && p.Pid() != oldPid })
	time.Sleep(300 * time.Millisecond) // a second, spurious restart would show by now
	b, _ := os.ReadFile(filepath.Join(state, "configured"))
	if n := strings.Count(string(b), "\n"); n != 2 {
		t.Fatalf("plugin configured %d times, want 2 (start + one restart):\n%s", n, b)
	}
}

// A plugin that keeps crashing uses up its restart budget, is marked
// unhealthy, and is not restarted again; calls then fail fast.
func TestCrashLoopStopsAtRestartBudget(t *testing.T) {
	h := newHost(t, func(o *host.Options) { o.RestartBudget = 3 })
	state := t.TempDir()
	p, err := h.Start(context.Background(), host.Spec{Store: "s", Plugin: "test", Config: config(t, testConfig{StateDir: state, ExitAfterMS: 30})})
	if err != nil {
		t.Fatal(err)
	}
	// Backoff 100+200+400ms plus three launches.
	waitFor(t, 10*time.Second, "plugin marked unhealthy", func() bool {
		b, _ := os.ReadFile(filepath.Join(state, "configured"))
		return !p.Healthy() && strings.Count(string(b), "\n") == 4 && p.Pid() == 0
	})
	time.Sleep(time.Second)
	b, _ := os.ReadFile(filepath.Join(state, "configured"))
	if n := strings.Count(string(b), "\n"); n != 4 {
		t.Fatalf("plugin started %d times, want 1 + 3 restarts and no more", n)
	}
	start := time.Now()
	_, err = p.SignPut(context.Background(), providers.PutRequest{Key: "k", TTL: time.Minute})
	if !errors.Is(err, providers.ErrUnavailable) || !strings.Contains(err.Error(), "unhealthy") {
		t.Fatalf("call on unhealthy plugin = %v", err)
	}
	// Fail-fast means no wait for a restart (RetryWait, 3s by default);
	// the bound is far above a real call's cost so load cannot trip it.
	if d := time.Since(start); d > time.Second {
		t.Fatalf("call on unhealthy plugin took %s; want fail-fast", d)
	}
	if why := p.GaveUp(); why == nil || !strings.Contains(why.Error(), "gave up after 3 restarts") {
		t.Fatalf("GaveUp() = %v", why)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		pid, _ := strconv.Atoi(strings.Fields(line)[0])
		if alive(pid) {
			t.Errorf("crashed plugin %d still alive", pid)
		}
	}
}

// Close stops every plugin process and whatever they started.
func TestCloseLeavesNoOrphans(t *testing.T) {
	h := newHost(t, nil)
	var pids []int
	for _, store := range []string{"a", "b"} {
		p, err := h.Start(context.Background(), host.Spec{Store: store, Plugin: "test", Config: config(t, testConfig{})})
		if err != nil {
			t.Fatal(err)
		}
		obj, err := p.Head(context.Background(), "spawn")
		if err != nil {
			t.Fatal(err)
		}
		child, _ := strconv.Atoi(obj.Metadata["child"])
		pids = append(pids, p.Pid(), child)
	}
	for _, pid := range pids {
		if !alive(pid) {
			t.Fatalf("process %d not running before Close", pid)
		}
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "all plugin processes and their children gone", func() bool {
		for _, pid := range pids {
			if alive(pid) {
				return false
			}
		}
		return true
	})
	if _, err := h.Start(context.Background(), host.Spec{Store: "c", Plugin: "test", Config: config(t, testConfig{})}); !errors.Is(err, providers.ErrUnavailable) {
		t.Fatalf("Start after Close = %v", err)
	}
}

// A plugin whose host vanishes without stopping it exits by itself.
func TestPluginExitsWhenParentDies(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	handshake := filepath.Join(t.TempDir(), "handshake")
	// sh starts the plugin in the background as the host would (telling it
	// the parent pid), reports its pid, and is then SIGKILLed: the plugin is
	// re-parented, as after a host crash.
	sh := exec.Command("sh", "-c", `VALET_PLUGIN_PARENT_PID=$$ "$0" plugin serve test </dev/null >"$1" 2>/dev/null & echo $!; exec sleep 60`, exe, handshake)
	sh.Env = append(os.Environ(), "VALET_PLUGIN_MAGIC_COOKIE=valet-provider-6c1f0e3a9b", "PLUGIN_PROTOCOL_VERSIONS=1")
	out, err := sh.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 32)
	n, _ := out.Read(buf)
	pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil {
		t.Fatalf("plugin pid: %q", buf[:n])
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	waitFor(t, 10*time.Second, "plugin serving (handshake line written)", func() bool {
		b, _ := os.ReadFile(handshake)
		return len(b) > 0
	})
	_ = sh.Process.Kill()
	_ = sh.Wait()
	killed := time.Now()
	waitFor(t, 3*time.Second, "orphaned plugin exits", func() bool { return !alive(pid) })
	t.Logf("orphaned plugin exited %s after its parent died", time.Since(killed).Round(time.Millisecond))
}

// A gateway killed outright (SIGKILL, no Close) leaves no plugin behind.
func TestPluginsExitWhenHostIsKilled(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	gw := exec.Command(exe, "host-and-wait")
	out, err := gw.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gw.Process.Kill(); _ = gw.Wait() })
	buf := make([]byte, 32)
	n, _ := out.Read(buf)
	pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil || !alive(pid) {
		t.Fatalf("stand-in gateway reported plugin pid %q (%v)", buf[:n], err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	_ = gw.Process.Kill()
	_ = gw.Wait()
	d := waitFor(t, 3*time.Second, "plugin of a killed gateway exits", func() bool { return !alive(pid) })
	t.Logf("plugin exited %s after its gateway was SIGKILLed", d.Round(time.Millisecond))
}

// A plugin whose host died before the plugin got going exits at once.
func TestPluginExitsWhenParentDiedDuringStartup(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "plugin", "serve", "test")
	cmd.Env = []string{"VALET_PLUGIN_MAGIC_COOKIE=valet-provider-6c1f0e3a9b", "PLUGIN_PROTOCOL_VERSIONS=1",
		"VALET_PLUGIN_PARENT_PID=" + strconv.Itoa(os.Getpid()+1_000_000)} // not our pid: the "host" is gone
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Fatalf("plugin exit = %v, want status 2", err)
		}
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("plugin kept running although its host was gone")
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for name, opts := range map[string]host.Options{
		"short pin":     {Pins: map[string]string{"x": "abc"}},
		"non-hex pin":   {Pins: map[string]string{"x": strings.Repeat("z", 64)}},
		"bad env glob":  {EnvAllow: []string{"AWS_["}},
		"empty env key": {EnvAllow: []string{""}},
	} {
		if _, err := host.New(opts); !errors.Is(err, providers.ErrInvalidArgument) {
			t.Errorf("%s: New = %v, want InvalidArgument", name, err)
		}
	}
}

// assertNoChildren checks that the test process has no live child left.
func assertNoChildren(t *testing.T) {
	t.Helper()
	waitFor(t, 2*time.Second, "no child processes", func() bool {
		b, err := os.ReadFile("/proc/self/task/" + strconv.Itoa(os.Getpid()) + "/children")
		if err != nil {
			return true // kernel without the children file; nothing to check
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, _ := strconv.Atoi(f); alive(pid) {
				return false
			}
		}
		return true
	})
}
