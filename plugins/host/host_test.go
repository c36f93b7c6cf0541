package host_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/valetgw/valet/internal/testenv"
	"github.com/valetgw/valet/plugins/host"
	"github.com/valetgw/valet/providers"
)

func TestCallsCrossTheProcessBoundary(t *testing.T) {
	h := newHost(t, nil)
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
	before := time.Now()
	rec, err := p.SignPut(ctx, providers.PutRequest{Key: "a b", ContentType: "text/plain", Size: 3, TTL: time.Minute})
	after := time.Now()
	if err != nil || rec.Method != "PUT" || !strings.Contains(rec.URL, "/o/a%20b?") || rec.Headers["Content-Type"] != "text/plain" {
		t.Fatalf("SignPut = %+v, %v", rec, err)
	}
	// A minute from when the provider signed (truncated to the second),
	// however long the call took.
	if rec.ExpiresAt.Before(before.Add(time.Minute).Truncate(time.Second)) || rec.ExpiresAt.After(after.Add(time.Minute)) {
		t.Fatalf("ExpiresAt %v is not a minute after the call (made %v to %v)", rec.ExpiresAt, before, after)
	}
	// Provider error codes and messages survive the hop.
	_, err = p.Head(ctx, providers.HeadRequest{Key: "missing"})
	if !errors.Is(err, providers.ErrNotFound) || !strings.Contains(err.Error(), "missing: no such object") {
		t.Fatalf("Head(missing) = %v", err)
	}
	_, err = p.SignParts(ctx, providers.SignPartsRequest{Key: "k", UploadID: "u", Parts: []providers.PartSpec{{Number: 1}}})
	if !errors.Is(err, providers.ErrUnimplemented) {
		t.Fatalf("SignParts = %v", err)
	}
	// A provider's own Unavailable is its answer, not a dead plugin: no restart.
	blockCtx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	_, err = p.Head(blockCtx, providers.HeadRequest{Key: "block"})
	cancel()
	if providers.CodeOf(err) != providers.Unavailable {
		t.Fatalf("Head(block) past deadline = %v", err)
	}
	if _, again := whoami(t, p); again != pid {
		t.Fatalf("plugin restarted (pid %d -> %d) after a deadline", pid, again)
	}
}

// A plugin built before the Calls stream became the only transport (it
// served only unary rpcs) is refused with an error that says so, and
// leaves no process behind.
func TestPluginWithoutCallStreamIsRefused(t *testing.T) {
	h := newHost(t, nil)
	_, err := h.Start(context.Background(), host.Spec{Store: "old", Plugin: "legacy", Config: []byte(`{}`)})
	if !errors.Is(err, providers.ErrUnimplemented) || !strings.Contains(err.Error(), "Calls stream") || !strings.Contains(err.Error(), `store "old"`) {
		t.Fatalf("Start of a plugin without the Calls stream = %v, want Unimplemented naming the stream", err)
	}
	assertNoChildren(t)
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
	h := newHost(t, nil)
	p, err := h.Start(context.Background(), host.Spec{Store: "s", Plugin: "test", Config: config(t, testConfig{})})
	if err != nil {
		t.Fatal(err)
	}
	_, before := whoami(t, p)
	_, err = p.Head(context.Background(), providers.HeadRequest{Key: "panic"})
	if !errors.Is(err, providers.ErrInternal) || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("Head(panic) = %v", err)
	}
	if _, after := whoami(t, p); after != before {
		t.Fatalf("plugin process changed after a panic: %d -> %d", before, after)
	}
	// Writing to stdout cannot corrupt the transport either.
	if _, err := p.Head(context.Background(), providers.HeadRequest{Key: "stdout"}); err != nil {
		t.Fatalf("Head(stdout) = %v", err)
	}
	whoami(t, p)
}

// What a provider prints to stdout never reaches the handshake channel; the
// host logs it as a warning. The provider's structured log (a panic report)
// arrives as a log entry of the host's logger, not as raw text.
func TestPluginOutputEndsUpInHostLog(t *testing.T) {
	var logged testenv.Buffer
	h := newHost(t, func(o *host.Options) {
		o.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Info, JSONFormat: true, Output: &logged})
	})
	p, err := h.Start(context.Background(), host.Spec{Store: "s", Plugin: "test", Config: config(t, testConfig{})})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Head(context.Background(), providers.HeadRequest{Key: "stdout"}); err != nil {
		t.Fatal(err)
	}
	_, _ = p.Head(context.Background(), providers.HeadRequest{Key: "panic"})
	waitFor(t, 30*time.Second, "plugin output logged", func() bool {
		out := logged.String()
		return strings.Contains(out, "a provider must not print this to stdout") && strings.Contains(out, "provider panicked")
	})
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

func TestEnvironmentAllowlist(t *testing.T) {
	t.Setenv("VALET_TEST_SECRET", "must-not-leak")
	t.Setenv("AWS_REGION", "test-region-1")
	t.Setenv("EXTRA_ONE", "1")
	h := newHost(t, func(o *host.Options) { o.EnvAllow = []string{"AWS_*", "EXTRA_ONE"} })
	p, err := h.Start(context.Background(), host.Spec{Store: "s", Plugin: "test", Config: config(t, testConfig{})})
	if err != nil {
		t.Fatal(err)
	}
	obj, err := p.Head(context.Background(), providers.HeadRequest{Key: "env"})
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
// call is in flight; the caller gets Unavailable without waiting for its
// deadline, the plugin is restarted after the first backoff (100ms) with
// its configuration replayed, and the next call succeeds. Nothing here is
// judged by wall-clock time: the durations are logged, and the verdicts are
// what happened and in which order.
func TestKillDuringCall(t *testing.T) {
	logs := &capturedLog{}
	h := newHost(t, func(o *host.Options) {
		o.Logger = hclog.New(&hclog.LoggerOptions{Name: "host", Level: hclog.Info, JSONFormat: true, Output: io.MultiWriter(logs, testWriter{t})})
	})
	state := t.TempDir()
	p, err := h.Start(context.Background(), host.Spec{Store: "kill-store", Plugin: "test", Config: config(t, testConfig{StateDir: state})})
	if err != nil {
		t.Fatal(err)
	}
	_, oldPid := whoami(t, p)

	type result struct {
		err    error
		ctxErr error // the caller's context when the call returned
		done   time.Time
	}
	res := make(chan result, 1)
	// A deadline far beyond any restart: a caller that waited for the
	// plugin to come back, or for its deadline, would show.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	go func() {
		// CreateMultipart is never retried, so the kill reaches the caller.
		_, err := p.CreateMultipart(ctx, providers.CreateMultipartRequest{Key: "block", TTL: time.Minute})
		res <- result{err, ctx.Err(), time.Now()}
	}()
	waitFor(t, 30*time.Second, "plugin entered the blocking call", func() bool {
		_, err := os.Stat(filepath.Join(state, "blocking"))
		return err == nil
	})
	killedAt := time.Now()
	sigkill(t, oldPid)

	r := <-res
	if !errors.Is(r.err, providers.ErrUnavailable) || errors.Is(r.err, context.DeadlineExceeded) || r.ctxErr != nil {
		t.Fatalf("in-flight call after SIGKILL = %v (caller's context: %v), want Unavailable before the deadline", r.err, r.ctxErr)
	}
	t.Logf("caller got Unavailable %s after the kill: %v", r.done.Sub(killedAt).Round(time.Millisecond), r.err)

	waitFor(t, time.Minute, "plugin restarted", func() bool { return p.Healthy() && p.Pid() != oldPid })
	t.Logf("plugin back %s after the kill", time.Since(killedAt).Round(time.Millisecond))
	restarted := logs.entries("plugin restarted")
	if len(restarted) != 1 || restarted[0]["backoff"] != float64(100*time.Millisecond) {
		t.Fatalf("restart log entries %v, want one restart after the 100ms first backoff", restarted)
	}
	waitFor(t, 30*time.Second, "killed process reaped", func() bool { return !alive(oldPid) })

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

// capturedLog collects a host's JSON log lines.
type capturedLog struct{ testenv.Buffer }

// entries returns the logged hclog entries whose message is msg.
func (c *capturedLog) entries(msg string) []map[string]any { return c.lines("@message", msg) }

// lines returns the logged JSON lines whose key is value (all of them for
// key "").
func (c *capturedLog) lines(key, value string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(c.text(), "\n") {
		var e map[string]any
		if json.Unmarshal([]byte(line), &e) == nil && (key == "" || e[key] == value) {
			out = append(out, e)
		}
	}
	return out
}

func (c *capturedLog) text() string { return c.String() }

// startWithState starts store s of the test plugin on a new host, with a
// state directory for its markers.
func startWithState(t *testing.T) (p *host.Plugin, state string) {
	t.Helper()
	state = t.TempDir()
	p, err := newHost(t, nil).Start(context.Background(), host.Spec{Store: "s", Plugin: "test", Config: config(t, testConfig{StateDir: state})})
	if err != nil {
		t.Fatal(err)
	}
	return p, state
}

// An idempotent call in flight when the plugin dies is retried once on the
// restarted plugin, and so succeeds.
func TestIdempotentCallRetriedAfterRestart(t *testing.T) {
	p, state := startWithState(t)
	oldPid := p.Pid()
	// newHost's RetryWait (a minute) and this deadline leave the restart
	// all the time a loaded machine needs.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	type result struct {
		obj providers.Object
		err error
	}
	res := make(chan result, 1)
	go func() {
		obj, err := p.Head(ctx, providers.HeadRequest{Key: "block-once"})
		res <- result{obj, err}
	}()
	waitFor(t, 30*time.Second, "plugin entered the blocking call", func() bool {
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
	d := waitFor(t, time.Minute, "hung plugin replaced", func() bool { return p.Healthy() && p.Pid() != oldPid })
	t.Logf("hung plugin replaced after %s", d.Round(time.Millisecond))
	if store, pid := whoami(t, p); store != "hung" || pid == oldPid {
		t.Fatalf("after replacement whoami = %q pid %d", store, pid)
	}
	waitFor(t, 30*time.Second, "hung process killed", func() bool { return !alive(oldPid) })
}

// Many callers see the plugin die at once; exactly one restart happens.
func TestConcurrentFailuresRestartOnce(t *testing.T) {
	p, state := startWithState(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const callers = 8
	errs := make(chan error, callers)
	for range callers {
		go func() {
			_, err := p.CreateMultipart(ctx, providers.CreateMultipartRequest{Key: "block"})
			errs <- err
		}()
	}
	// Every caller is inside the plugin before the kill, however slowly
	// the goroutines got going.
	waitFor(t, 30*time.Second, "all calls in flight", func() bool {
		b, _ := os.ReadFile(filepath.Join(state, "arrived"))
		return strings.Count(string(b), "\n") == callers
	})
	oldPid := p.Pid()
	sigkill(t, oldPid)
	for range callers {
		if err := <-errs; !errors.Is(err, providers.ErrUnavailable) {
			t.Fatalf("caller got %v", err)
		}
	}
	waitFor(t, time.Minute, "restart", func() bool { return p.Healthy() && p.Pid() != oldPid })
	// A second, spurious restart would most likely show by now; the sleep
	// can only make the test miss one, never fail a correct host.
	time.Sleep(300 * time.Millisecond)
	b, _ := os.ReadFile(filepath.Join(state, "configured"))
	if n := strings.Count(string(b), "\n"); n != 2 {
		t.Fatalf("plugin configured %d times, want 2 (start + one restart):\n%s", n, b)
	}
}

// A plugin that keeps crashing uses up its restart budget, is marked
// unhealthy, and is not restarted again; calls then fail fast. The first
// process is SIGKILLed by the test and every restarted one exits by itself
// right after Configure, so the count of launches does not depend on how
// fast the machine is.
func TestCrashLoopStopsAtRestartBudget(t *testing.T) {
	h := newHost(t, func(o *host.Options) {
		o.RestartBudget = 3
		o.RestartWindow = time.Hour    // all the restarts fall in one window, however slow
		o.RetryWait = 10 * time.Minute // a call that waited for a restart would show
	})
	state := t.TempDir()
	p, err := h.Start(context.Background(), host.Spec{Store: "s", Plugin: "test", Config: config(t, testConfig{StateDir: state, ExitAfterMS: 30, OnlyRestarts: true})})
	if err != nil {
		t.Fatal(err)
	}
	sigkill(t, p.Pid())
	// Backoff 100+200+400ms plus three launches.
	waitFor(t, 2*time.Minute, "plugin given up on", func() bool { return p.GaveUp() != nil })
	// GaveUp is set once the last process has died, and the supervisor
	// launches nothing after it: the count is final.
	b, _ := os.ReadFile(filepath.Join(state, "configured"))
	if n := strings.Count(string(b), "\n"); n != 4 {
		t.Fatalf("plugin configured %d times, want 1 + 3 restarts:\n%s", n, b)
	}
	if p.Healthy() || p.Pid() != 0 {
		t.Fatalf("given-up plugin: Healthy %v, Pid %d", p.Healthy(), p.Pid())
	}
	start := time.Now()
	_, err = p.SignPut(context.Background(), providers.PutRequest{Key: "k", TTL: time.Minute})
	if !errors.Is(err, providers.ErrUnavailable) || !strings.Contains(err.Error(), "unhealthy") {
		t.Fatalf("call on unhealthy plugin = %v", err)
	}
	// Fail-fast means no wait for a restart (RetryWait, 10 minutes here);
	// 30s is far below that and far above any load.
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("call on unhealthy plugin took %s; want fail-fast", d)
	}
	if why := p.GaveUp(); !strings.Contains(why.Error(), "gave up after 3 restarts") {
		t.Fatalf("GaveUp() = %v", why)
	}
	waitFor(t, 30*time.Second, "crashed plugins gone", func() bool {
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if pid, _ := strconv.Atoi(strings.Fields(line)[0]); alive(pid) {
				return false
			}
		}
		return true
	})
	b2, _ := os.ReadFile(filepath.Join(state, "configured"))
	if string(b2) != string(b) {
		t.Fatalf("plugin launched again after it was given up on:\n%s", b2)
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
		obj, err := p.Head(context.Background(), providers.HeadRequest{Key: "spawn"})
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
	waitFor(t, 30*time.Second, "all plugin processes and their children gone", func() bool {
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
	waitFor(t, time.Minute, "plugin serving (handshake line written)", func() bool {
		b, _ := os.ReadFile(handshake)
		return len(b) > 0
	})
	_ = sh.Process.Kill()
	_ = sh.Wait()
	killed := time.Now()
	waitFor(t, 30*time.Second, "orphaned plugin exits", func() bool { return !alive(pid) })
	t.Logf("orphaned plugin exited %s after its parent died", time.Since(killed).Round(time.Millisecond))
}

// A gateway killed outright (SIGKILL, no Close) leaves no plugin behind.
func TestPluginsExitWhenHostIsKilled(t *testing.T) {
	gw := selfCmd(t, "host-and-wait")
	out := startPiped(t, gw)
	buf := make([]byte, 32)
	n, _ := out.Read(buf)
	pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil || !alive(pid) {
		t.Fatalf("stand-in gateway reported plugin pid %q (%v)", buf[:n], err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	_ = gw.Process.Kill()
	_ = gw.Wait()
	d := waitFor(t, 30*time.Second, "plugin of a killed gateway exits", func() bool { return !alive(pid) })
	t.Logf("plugin exited %s after its gateway was SIGKILLed", d.Round(time.Millisecond))
}

// A plugin whose host died before the plugin got going exits at once.
func TestPluginExitsWhenParentDiedDuringStartup(t *testing.T) {
	cmd := selfCmd(t, "plugin", "serve", "test")
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
	case <-time.After(30 * time.Second):
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
	waitFor(t, 30*time.Second, "no child processes", func() bool {
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
