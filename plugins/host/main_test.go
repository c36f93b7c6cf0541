package host_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
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
	"github.com/hashicorp/go-plugin"

	"github.com/valetgw/valet/plugins"
	"github.com/valetgw/valet/plugins/host"
	"github.com/valetgw/valet/plugins/internal/wire"
	pb "github.com/valetgw/valet/plugins/proto/v1"
	"github.com/valetgw/valet/providers"
)

// The test binary doubles as a built-in plugin: the host re-executes it as
// `TESTBINARY plugin serve test`, exactly as it re-executes valet for its
// built-in providers. The provider below exists only for these tests.
func TestMain(m *testing.M) {
	if len(os.Args) == 4 && os.Args[1] == "plugin" && os.Args[2] == "serve" && os.Args[3] == "test" {
		// The plugin library's default log, shared with the provider so
		// that it can log (the "log" key).
		pluginLog = hclog.New(&hclog.LoggerOptions{Name: "provider", JSONFormat: true, Output: os.Stderr,
			Level: hclog.LevelFromString(os.Getenv(plugins.LogLevelEnv))})
		if err := plugins.Serve(&testProvider{}, plugins.WithLogger(pluginLog)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) == 3 && os.Args[1] == "serve-debug" {
		// Run by hand (by a test) for a gateway to attach to.
		if err := plugins.Serve(&testProvider{}, plugins.WithDebug()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if len(os.Args) == 2 && os.Args[1] == "host-and-wait" {
		hostAndWait()
		return
	}
	if len(os.Args) == 3 && os.Args[1] == "bare-grpc-server" {
		serveBareGRPC(os.Args[2])
		return
	}
	if len(os.Args) == 4 && os.Args[1] == "plugin" && os.Args[2] == "serve" && os.Args[3] == "legacy" {
		servePreStreamPlugin()
		return
	}
	if len(os.Args) == 4 && os.Args[1] == "plugin" && os.Args[2] == "serve" && os.Args[3] == "calls-only" {
		serveCallsOnlyPlugin()
		return
	}
	if len(os.Args) == 1 && os.Getenv(wire.Handshake.MagicCookieKey) != "" {
		// Started without arguments by a host: an external plugin, a copy
		// of this binary with a label appended (see labelledBinary).
		plugins.Serve(&labelledProvider{testProvider: &testProvider{}, label: ownLabel()})
		return
	}
	os.Exit(m.Run())
}

type testConfig struct {
	// StateDir receives marker files that let tests see inside the plugin.
	StateDir string `json:"state_dir"`
	// ExitAfterMS makes the process exit that long after Configure: a
	// plugin that keeps crashing. With OnlyRestarts, only processes
	// configured after the first one (by the configured marker) exit.
	ExitAfterMS  int  `json:"exit_after_ms"`
	OnlyRestarts bool `json:"only_restarts"`
	Reject       bool `json:"reject"`
	// Secret is never logged, by the provider or the host.
	Secret string `json:"secret"`
}

// pluginLog is the plugin process's log (hclog JSON on stderr).
var pluginLog hclog.Logger

// testProvider signs like a real provider (HMAC-SHA256 over the request) so
// the benchmarks measure real work, and has trapdoor keys for the tests.
type testProvider struct {
	mu    sync.Mutex
	store string
	cfg   testConfig
}

var signingKey = []byte("test-only-signing-key")

func (p *testProvider) Info(context.Context) (providers.Info, error) {
	return providers.Info{Name: "test", Version: "0", Capabilities: providers.Capabilities{
		SignPut: true, SignGet: true, BindsContentLength: true, BindsContentType: true, MaxExpiry: time.Hour,
	}}, nil
}

func (p *testProvider) Configure(_ context.Context, cfg providers.StoreConfig) error {
	var c testConfig
	dec := json.NewDecoder(strings.NewReader(string(cfg.Config)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return providers.Errorf(providers.InvalidArgument, "config: %v", err)
	}
	if c.Reject {
		return providers.Errorf(providers.InvalidArgument, "config.reject: rejected on purpose")
	}
	p.mu.Lock()
	p.store, p.cfg = cfg.Store, c
	p.mu.Unlock()
	restarted := false
	if c.StateDir != "" {
		if st, err := os.Stat(filepath.Join(c.StateDir, "configured")); err == nil && st.Size() > 0 {
			restarted = true
		}
		f, err := os.OpenFile(filepath.Join(c.StateDir, "configured"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err == nil {
			fmt.Fprintf(f, "%d %s\n", os.Getpid(), cfg.Store)
			f.Close()
		}
	}
	if c.ExitAfterMS > 0 && (restarted || !c.OnlyRestarts) {
		go func() { time.Sleep(time.Duration(c.ExitAfterMS) * time.Millisecond); os.Exit(3) }()
	}
	return nil
}

func (p *testProvider) sign(method, key, ctype string, size int64, ttl time.Duration) providers.Recipe {
	exp := time.Now().Add(ttl).Truncate(time.Second)
	mac := hmac.New(sha256.New, signingKey)
	fmt.Fprintf(mac, "%s\n%s\n%d\n%s\n%d", method, key, exp.Unix(), ctype, size)
	q := url.Values{"expires": {strconv.FormatInt(exp.Unix(), 10)}, "sig": {base64.RawURLEncoding.EncodeToString(mac.Sum(nil))}}
	h := map[string]string{}
	if ctype != "" {
		h["Content-Type"] = ctype
	}
	return providers.Recipe{Method: method, URL: "http://127.0.0.1:1/o/" + url.PathEscape(key) + "?" + q.Encode(), Headers: h, ExpiresAt: exp}
}

func (p *testProvider) SignPut(_ context.Context, r providers.PutRequest) (providers.Recipe, error) {
	return p.sign("PUT", r.Key, r.ContentType, r.Size, r.TTL), nil
}

func (p *testProvider) SignGet(_ context.Context, r providers.GetRequest) (providers.Recipe, error) {
	return p.sign("GET", r.Key, "", 0, r.TTL), nil
}

func (p *testProvider) SignDelete(_ context.Context, r providers.SignDeleteRequest) (providers.Recipe, error) {
	return p.sign("DELETE", r.Key, "", 0, r.TTL), nil
}

// arrived appends a line to the state directory's "arrived" file, one per
// blocking call that reached the plugin, so a test can wait for all of them.
func (p *testProvider) arrived() {
	p.mu.Lock()
	dir := p.cfg.StateDir
	p.mu.Unlock()
	if dir == "" {
		return
	}
	f, err := os.OpenFile(filepath.Join(dir, "arrived"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err == nil {
		fmt.Fprintln(f, os.Getpid())
		f.Close()
	}
}

// mark creates a marker file in the state directory.
func (p *testProvider) mark(name string) {
	p.mu.Lock()
	dir := p.cfg.StateDir
	p.mu.Unlock()
	if dir != "" {
		_ = os.WriteFile(filepath.Join(dir, name), []byte(strconv.Itoa(os.Getpid())), 0o600)
	}
}

func (p *testProvider) Head(ctx context.Context, req providers.HeadRequest) (providers.Object, error) {
	key := req.Key
	p.mu.Lock()
	store, dir := p.store, p.cfg.StateDir
	p.mu.Unlock()
	switch key {
	case "whoami":
		return providers.Object{Key: key, Metadata: map[string]string{"store": store, "pid": strconv.Itoa(os.Getpid())}}, nil
	case "env":
		md := map[string]string{}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			md[k] = v
		}
		return providers.Object{Key: key, Metadata: md}, nil
	case "block":
		p.mark("blocking")
		<-ctx.Done()
		return providers.Object{}, providers.Errorf(providers.Unavailable, "gave up waiting")
	case "block-once":
		// Blocks in the first process only; a restarted one answers.
		if _, err := os.Stat(filepath.Join(dir, "blocking")); err != nil {
			p.mark("blocking")
			<-ctx.Done()
		}
		return providers.Object{Key: key, Metadata: map[string]string{"pid": strconv.Itoa(os.Getpid())}}, nil
	case "spawn":
		cmd := exec.Command("sleep", "300")
		if err := cmd.Start(); err != nil {
			return providers.Object{}, providers.Errorf(providers.Internal, "spawn: %v", err)
		}
		return providers.Object{Key: key, Metadata: map[string]string{"child": strconv.Itoa(cmd.Process.Pid)}}, nil
	case "panic":
		var m map[string]int
		m["boom"]++ // nil map write: a real runtime panic
	case "stdout":
		fmt.Println("a provider must not print this to stdout")
		return providers.Object{Key: key}, nil
	case "log":
		pluginLog.Trace("provider trace line")
		pluginLog.Debug("provider debug line", "bucket", "b")
		pluginLog.Warn("provider warn line", "bucket", "b", "attempt", 2)
		return providers.Object{Key: key}, nil
	}
	return providers.Object{}, providers.Errorf(providers.NotFound, "%s: no such object", key)
}

func (p *testProvider) List(context.Context, providers.ListRequest) (providers.ListPage, error) {
	return providers.ListPage{}, nil
}

func (p *testProvider) Delete(context.Context, providers.DeleteRequest) (providers.DeleteResult, error) {
	return providers.DeleteResult{}, nil
}

func (p *testProvider) CreateMultipart(ctx context.Context, r providers.CreateMultipartRequest) (providers.MultipartUpload, error) {
	if r.Key == "block" {
		p.arrived()
		p.mark("blocking")
		<-ctx.Done()
	}
	return providers.MultipartUpload{UploadID: "u-" + r.Key}, nil
}

func (p *testProvider) SignParts(context.Context, providers.SignPartsRequest) (providers.SignPartsResult, error) {
	return providers.SignPartsResult{}, providers.Errorf(providers.Unimplemented, "no multipart")
}

func (p *testProvider) CompleteMultipart(context.Context, providers.CompleteMultipartRequest) (providers.Object, error) {
	return providers.Object{}, providers.Errorf(providers.Unimplemented, "no multipart")
}

func (p *testProvider) AbortMultipart(context.Context, providers.AbortMultipartRequest) (providers.AbortMultipartResult, error) {
	return providers.AbortMultipartResult{}, nil
}

func (p *testProvider) ListParts(context.Context, providers.ListPartsRequest) (providers.ListPartsResult, error) {
	return providers.ListPartsResult{}, nil
}

// hostAndWait is a stand-in gateway: it starts one plugin through a Host,
// prints the plugin's pid, and waits to be killed.
func hostAndWait() {
	exe, _ := os.Executable()
	h, err := host.New(host.Options{Executable: exe, Builtins: []string{"test"}, Logger: hclog.NewNullLogger(), StartTimeout: time.Minute})
	if err != nil {
		os.Exit(1)
	}
	p, err := h.Start(context.Background(), host.Spec{Store: "s", Plugin: "test", Config: []byte(`{}`)})
	if err != nil {
		os.Exit(1)
	}
	fmt.Println(p.Pid())
	time.Sleep(time.Minute)
	os.Exit(1)
}

// servePreStreamPlugin serves protocol v1 as a plugin built before the
// Calls stream became the only transport: the service without Calls.
func servePreStreamPlugin() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  wire.Handshake,
		VersionedPlugins: wire.Plugins(pb.UnimplementedProviderServiceServer{}),
		GRPCServer:       plugin.DefaultGRPCServer,
	})
}

// selfCmd is this test binary run with args: one of TestMain's modes.
func selfCmd(t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exec.Command(exe, args...)
}

// startPiped starts cmd with its stdout on the pipe it returns; the test's
// cleanup kills the process.
func startPiped(t testing.TB, cmd *exec.Cmd) io.Reader {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return out
}

// newHost returns a Host whose built-in "test" plugin is this test binary.
func newHost(t testing.TB, mod func(*host.Options)) *host.Host {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	opts := host.Options{
		Executable: exe,
		Builtins:   []string{"test", "legacy", "calls-only"},
		Logger:     hclog.New(&hclog.LoggerOptions{Name: "host", Level: hclog.Info, Output: testWriter{t}}),
		// No health check unless a test asks for one: two pings missing
		// their 1s bound on a loaded machine would restart a healthy plugin
		// and upset a test that counts restarts. Launches and restart waits
		// get room for a slow machine too.
		HealthInterval: time.Hour,
		StartTimeout:   time.Minute,
		RetryWait:      time.Minute,
	}
	if mod != nil {
		mod(&opts)
	}
	h, err := host.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func config(t testing.TB, c testConfig) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// alive reports whether pid is a live (not zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// waitFor polls cond until it holds. within is a deadline for a hang, not
// a verdict on speed: keep it at 30s or more so load cannot trip it.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

func whoami(t testing.TB, p providers.Provider) (store string, pid int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	obj, err := p.Head(ctx, providers.HeadRequest{Key: "whoami"})
	if err != nil {
		t.Fatalf("Head(whoami): %v", err)
	}
	pid, _ = strconv.Atoi(obj.Metadata["pid"])
	return obj.Metadata["store"], pid
}

func sigkill(t testing.TB, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill %d: %v", pid, err)
	}
}
