// Package plugintest runs the provider conformance suite through a real
// plugin process: the one-call test of a plugin's own folder.
//
//	func TestConformanceThroughPlugin(t *testing.T) {
//		plugintest.Run(t, ".", plugintest.Options{StoreConfig: []byte(`{"secret":"s3cret"}`)})
//	}
//
// It is test code for plugin authors: it builds the plugin with `go build`,
// starts it through plugins/host as the gateway does, and hands it to
// providers/providertest, which must not import the plugin host itself.
package plugintest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/valetgw/valet/plugins/host"
	"github.com/valetgw/valet/providers/providertest"
)

// Options is what Run needs besides the plugin's folder.
type Options struct {
	// StoreConfig is the store's provider settings as a JSON object, as
	// written under stores.NAME.config in Valet's config file. Nil means {}.
	StoreConfig json.RawMessage
	// EnvAllow names variables of the test's environment the plugin may
	// see, as plugins.env_allow does (globs such as "AWS_*" work).
	EnvAllow []string
	// Suite is handed to providertest.Run, with Provider set to the plugin,
	// Config to StoreConfig (so the suite checks Configure) and Restart to
	// killing the plugin process (so it checks the replayed config).
	// Set Suite.SecretKeys and Suite.CORSOrigin for those checks.
	Suite providertest.Harness
}

// Run builds the plugin whose main package is in dir (relative to the
// test's working directory: "." is the package under test), starts it as
// the gateway does (found as valet-plugin-NAME in a plugin directory,
// pinned to the sha256 of the binary just built, supervised by a
// plugins/host host, configured with opts.StoreConfig), and runs the
// conformance suite (providertest.Run) against it as subtests of t. It
// returns the running plugin for further checks; the host and the process
// stop when t ends.
func Run(t *testing.T, dir string, opts Options) *host.Plugin {
	t.Helper()
	bin, sum := Build(t, dir)
	name := strings.TrimPrefix(filepath.Base(bin), host.ExternalPrefix)
	logs := &testLog{t: t}
	t.Cleanup(logs.stop) // runs after the host's Close below
	h, err := host.New(host.Options{
		PluginDirs: []string{filepath.Dir(bin)},
		Pins:       map[string]string{name: sum},
		EnvAllow:   opts.EnvAllow,
		Logger:     hclog.New(&hclog.LoggerOptions{Name: "host", Level: hclog.Info, Output: logs}),
	})
	if err != nil {
		t.Fatalf("plugintest: %v", err)
	}
	t.Cleanup(func() { _ = h.Close() })
	config := opts.StoreConfig
	if config == nil {
		config = json.RawMessage(`{}`)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	p, err := h.Start(ctx, host.Spec{Store: "providertest", Plugin: name, Config: config})
	if err != nil {
		t.Fatalf("plugintest: starting the plugin built from %s: %v", dir, err)
	}
	if p.Pid() == os.Getpid() || p.Pid() == 0 {
		t.Fatalf("plugintest: plugin pid %d is not a process of its own", p.Pid())
	}
	hs := opts.Suite
	hs.Provider = p
	if hs.Config == nil {
		hs.Config = config
	}
	if hs.Restart == nil {
		hs.Restart = func(t *testing.T) { restart(t, p) }
	}
	providertest.Run(t, hs)
	return p
}

// restart kills the plugin process as a crash would and waits until the
// host has started a new one and replayed its config.
func restart(t *testing.T, p *host.Plugin) {
	t.Helper()
	old := p.Pid()
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatalf("plugintest: killing plugin pid %d: %v", old, err)
	}
	deadline := time.Now().Add(time.Minute)
	for !(p.Healthy() && p.Pid() != old && p.Pid() != 0) {
		if time.Now().After(deadline) {
			t.Fatalf("plugintest: the plugin was not restarted within a minute of killing pid %d (gave up: %v)", old, p.GaveUp())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Build runs `go build` in dir, into a plugin directory of the test's own
// (removed when t ends; Go's build cache makes another build of the same
// folder cheap), as valet-plugin-NAME with NAME made from the folder's
// name, and returns the binary's path and its sha256, the value to pin.
func Build(t *testing.T, dir string) (bin, sum string) {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatalf("plugintest: plugin folder %q: %v", dir, err)
	}
	bin = filepath.Join(t.TempDir(), host.ExternalPrefix+pluginName(abs))
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = abs
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("plugintest: go build in %s: %v\n%s", abs, err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatalf("plugintest: %v", err)
	}
	h := sha256.Sum256(data)
	return bin, hex.EncodeToString(h[:])
}

// pluginName is a valid plugin name made from a folder's name.
func pluginName(dir string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(filepath.Base(dir)) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		}
	}
	if name := strings.TrimLeft(b.String(), "-_"); name != "" && len(name) <= 63 {
		return name
	}
	return "undertest"
}

// testLog sends the host's log, and the plugin's through it, to t until
// the test ends (t.Log must not be called after that).
type testLog struct {
	t    *testing.T
	mu   sync.Mutex
	done bool
}

func (l *testLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.t.Log(strings.TrimRight(string(b), "\n"))
	}
	return len(b), nil
}

func (l *testLog) stop() {
	l.mu.Lock()
	l.done = true
	l.mu.Unlock()
}
