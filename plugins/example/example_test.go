package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/valetgw/valet/plugins"
	"github.com/valetgw/valet/plugins/host"
	"github.com/valetgw/valet/plugins/plugintest"
	"github.com/valetgw/valet/providers"
)

// buildPlugin builds this package as valet-plugin-example in a plugin
// directory of the test's own, and returns the directory and the binary's
// sha256.
func buildPlugin(t *testing.T) (dir, sum string) {
	t.Helper()
	bin, sum := plugintest.Build(t, ".")
	return filepath.Dir(bin), sum
}

// Run by hand, the binary says what it is and how to debug it, and exits
// 1, instead of go-plugin's generic message.
func TestRunByHandPrintsTheHint(t *testing.T) {
	bin, _ := plugintest.Build(t, ".")
	cmd := exec.Command(bin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")} // no go-plugin cookie
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("run by hand: %v, want exit status 1; output:\n%s", err, out)
	}
	if !strings.Contains(string(out), plugins.ErrNoHost.Error()) || strings.Contains(string(out), "This binary is a plugin") {
		t.Fatalf("run by hand printed %q, want Valet's hint %q", out, plugins.ErrNoHost)
	}
}

// Discover finds the built binary under its plugin name, with the sha256
// to pin it by.
func TestDiscoverFindsThePlugin(t *testing.T) {
	dir, sum := buildPlugin(t)
	found, err := host.Discover([]string{dir})
	if err != nil || len(found) != 1 || found[0].Name != "example" || found[0].SHA256 != sum {
		t.Fatalf("Discover = %+v, %v; want the example plugin with sha256 %s", found, err, sum)
	}
}

// Host.Info (what `valet plugins` shows) starts the discovered binary
// without configuring it, and refuses one that does not match its pin.
func TestHostInfoUnconfigured(t *testing.T) {
	dir, sum := buildPlugin(t)
	h, err := host.New(host.Options{PluginDirs: []string{dir}, Pins: map[string]string{"example": sum}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	info, err := h.Info(t.Context(), "example")
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "example" || info.Version != "1.0.0" || !info.Capabilities.SignPut || info.Capabilities.MaxExpiry <= 0 {
		t.Fatalf("Info = %+v", info)
	}
	wrong, err := host.New(host.Options{PluginDirs: []string{dir}, Pins: map[string]string{"example": strings.Repeat("0", 64)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = wrong.Close() })
	if _, err := wrong.Info(t.Context(), "example"); !errors.Is(err, providers.ErrFailedPrecondition) {
		t.Fatalf("Info with a wrong pin: %v, want FailedPrecondition", err)
	}
	if _, err := h.Info(t.Context(), "missing"); !errors.Is(err, providers.ErrNotFound) {
		t.Fatalf("Info of a missing plugin: %v, want NotFound", err)
	}
}

func TestWrongPinIsRefused(t *testing.T) {
	dir, sum := buildPlugin(t)
	wrong := strings.Repeat("0", 64)
	h, err := host.New(host.Options{PluginDirs: []string{dir}, Pins: map[string]string{"example": wrong}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	_, err = h.Start(context.Background(), host.Spec{Store: "demo", Plugin: "example", Config: []byte(`{}`)})
	if err == nil {
		t.Fatal("a binary that does not match its pin was started")
	}
	msg := err.Error()
	for _, want := range []string{filepath.Join(dir, "valet-plugin-example"), sum, wrong} {
		if !strings.Contains(msg, want) {
			t.Errorf("pin error %q does not mention %s", msg, want)
		}
	}
	if !errors.Is(err, providers.ErrFailedPrecondition) {
		t.Errorf("pin error has code %s, want FailedPrecondition", providers.CodeOf(err))
	}
}

func TestBadConfigNamesTheKey(t *testing.T) {
	for cfg, want := range map[string]string{
		`{"bucket":"x"}`:                        "config.bucket",
		`{"secret_file":"/nonexistent/secret"}`: "config.secret_file",
		`{"secret":"a","secret_file":"` + filepath.Join(t.TempDir(), "x") + `"}`: "config.secret_file",
		`{"listen":"256.0.0.1:0"}`: "config.listen",
	} {
		s := &store{objects: map[string]object{}}
		err := s.Configure(t.Context(), providers.StoreConfig{Store: "demo", Config: []byte(cfg)})
		if !errors.Is(err, providers.ErrInvalidArgument) || !strings.Contains(err.Error(), want) {
			t.Errorf("Configure(%s) = %v, want InvalidArgument naming %s", cfg, err, want)
		}
	}
}

// A key read from secret_file signs URLs that verify with that key only.
func TestSecretFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte("from-a-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &store{objects: map[string]object{}}
	if err := s.Configure(t.Context(), providers.StoreConfig{Store: "demo", Config: []byte(`{"secret_file":"` + file + `"}`)}); err != nil {
		t.Fatal(err)
	}
	if string(s.secret) != "from-a-file" {
		t.Fatalf("secret from file = %q", s.secret)
	}
}
