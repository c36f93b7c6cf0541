package host_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valetgw/valet/plugins/host"
	"github.com/valetgw/valet/providers"
)

// labelMarker precedes the label appended to a copy of the test binary.
// The ELF loader ignores bytes past the program's segments, so the copy
// runs as the test binary does, and the label tells which copy is running.
const labelMarker = "\nvalet-host-test-label:"

// labelledProvider is the test provider under the name of its binary's
// label, with its argv[0] as its version.
type labelledProvider struct {
	*testProvider
	label string
}

func (p *labelledProvider) Info(ctx context.Context) (providers.Info, error) {
	info, err := p.testProvider.Info(ctx)
	info.Name, info.Version = p.label, os.Args[0]
	return info, err
}

// ownLabel reads the label at the end of the running executable: the bytes
// actually executed, whatever file the host found them in.
func ownLabel() string {
	b, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		return "unreadable: " + err.Error()
	}
	i := bytes.LastIndex(b, []byte(labelMarker))
	if i < 0 {
		return "unlabelled"
	}
	return strings.TrimSpace(string(b[i+len(labelMarker):]))
}

var testBinary struct {
	once sync.Once
	b    []byte
	err  error
}

// labelledBinary returns this test binary with label appended, and its
// sha256: a real plugin executable that answers Info with Name label.
func labelledBinary(t *testing.T, label string) ([]byte, string) {
	t.Helper()
	testBinary.once.Do(func() {
		exe, err := os.Executable()
		if err == nil {
			testBinary.b, err = os.ReadFile(exe)
		}
		testBinary.err = err
	})
	if testBinary.err != nil {
		t.Fatal(testBinary.err)
	}
	b := append(append(bytes.Clone(testBinary.b), labelMarker...), label+"\n"...)
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:])
}

// installPlugin writes b to dir as the executable of plugin name and
// returns its path.
func installPlugin(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	bin := filepath.Join(dir, host.ExternalPrefix+name)
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// countExecs installs an exec hook for the rest of the test (it is removed
// after every Host of the test is closed, as cleanups run last-in first-out)
// that calls f, if set, and counts the launches of exe.
func countExecs(t *testing.T, exe string, f func()) *atomic.Int32 {
	t.Helper()
	var n atomic.Int32
	restore := host.SetBeforeExec(func(path string) {
		if path == exe {
			n.Add(1)
			if f != nil {
				f()
			}
		}
	})
	t.Cleanup(restore)
	return &n
}

// TestPinnedPluginRunsThePinnedBytes swaps the plugin's file for another
// binary after the pin was checked and before the process is executed, in
// place (same inode, as an attacker with write access to the file could),
// and shows that the process still runs the pinned bytes: it answers Info
// with the pinned binary's label. Restarts run the same sealed copy; a new
// start reads the file again and refuses it.
func TestPinnedPluginRunsThePinnedBytes(t *testing.T) {
	dir := t.TempDir()
	pinned, pinnedSum := labelledBinary(t, "pinned")
	swapped, swappedSum := labelledBinary(t, "swapped")
	bin := installPlugin(t, dir, "img", pinned)
	var swapOnce sync.Once
	var swapErr error
	execs := countExecs(t, bin, func() {
		swapOnce.Do(func() {
			f, err := os.OpenFile(bin, os.O_WRONLY|os.O_TRUNC, 0)
			if err == nil {
				_, err = f.Write(swapped)
				err = errors.Join(err, f.Close())
			}
			swapErr = err
		})
	})
	h := newHost(t, func(o *host.Options) {
		o.PluginDirs = []string{dir}
		o.Pins = map[string]string{"img": pinnedSum}
	})
	ctx := context.Background()
	p, err := h.Start(ctx, host.Spec{Store: "img", Plugin: "img", Config: config(t, testConfig{})})
	if err != nil {
		t.Fatal(err)
	}
	if swapErr != nil {
		t.Fatalf("swapping the file before exec: %v", swapErr)
	}
	if b, _ := os.ReadFile(bin); !bytes.Equal(b, swapped) {
		t.Fatal("the file on disk was not swapped before exec")
	}
	info, err := p.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "pinned" {
		t.Fatalf("the plugin runs the %q binary, not the pinned one (the file on disk, sha256 %s, is what ran)", info.Name, swappedSum)
	}
	if info.Version != bin {
		t.Errorf("plugin argv[0] = %q, want %s", info.Version, bin)
	}
	// It runs from the sealed in-memory copy, which it did not inherit.
	if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", p.Pid())); !strings.HasPrefix(exe, "/memfd:") {
		t.Errorf("plugin executable is %q, want the sealed memfd", exe)
	}
	if fds := memfds(t, p.Pid()); len(fds) != 0 {
		t.Errorf("plugin inherited descriptors of the sealed copy: %v", fds)
	}
	if fds := memfds(t, os.Getpid()); len(fds) != 1 {
		t.Errorf("host holds %v, want one descriptor of the sealed copy", fds)
	}

	// A restart executes the same sealed copy, not the file as it is now.
	oldPid := p.Pid()
	sigkill(t, oldPid)
	waitFor(t, time.Minute, "plugin restarted", func() bool { return p.Healthy() && p.Pid() != oldPid })
	if info, err := p.Info(ctx); err != nil || info.Name != "pinned" {
		t.Fatalf("after a restart Info = %+v, %v; want the pinned binary", info, err)
	}
	if n := execs.Load(); n != 2 {
		t.Fatalf("%d launches, want 2 (start and one restart)", n)
	}

	// A fresh start reads the file again, and its bytes now miss the pin.
	for what, err := range map[string]error{
		"Start": func() error {
			_, err := h.Start(ctx, host.Spec{Store: "img2", Plugin: "img", Config: config(t, testConfig{})})
			return err
		}(),
		"Info": func() error { _, err := h.Info(ctx, "img"); return err }(),
	} {
		if !errors.Is(err, providers.ErrFailedPrecondition) || !strings.Contains(err.Error(), "its sha256 is "+swappedSum+" but the pin is "+pinnedSum) {
			t.Errorf("%s of the swapped file = %v, want FailedPrecondition naming both hashes", what, err)
		}
	}
	if n := execs.Load(); n != 2 {
		t.Fatalf("%d launches, want 2: a refused binary was executed", n)
	}
	// Closing the plugin releases the copy; the refusals left none open.
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if fds := memfds(t, os.Getpid()); len(fds) != 0 {
		t.Errorf("host still holds %v after Close", fds)
	}
}

// memfds lists the descriptors of process pid open on a memfd of a test
// plugin.
func memfds(t *testing.T, pid int) []string {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if l, _ := os.Readlink(filepath.Join(dir, e.Name())); strings.HasPrefix(l, "/memfd:"+host.ExternalPrefix) {
			out = append(out, e.Name()+" -> "+l)
		}
	}
	return out
}

// A pin that does not match is refused before anything is executed, with
// an error naming the file, the binary's sha256 and the pin.
func TestWrongPinIsRefusedNamingBothHashes(t *testing.T) {
	dir := t.TempDir()
	b, actual := labelledBinary(t, "actual")
	_, expected := labelledBinary(t, "expected")
	bin := installPlugin(t, dir, "img", b)
	execs := countExecs(t, bin, nil)
	h := newHost(t, func(o *host.Options) {
		o.PluginDirs = []string{dir}
		o.Pins = map[string]string{"img": strings.ToUpper(expected)} // case does not matter
	})
	_, startErr := h.Start(context.Background(), host.Spec{Store: "s", Plugin: "img", Config: config(t, testConfig{})})
	_, infoErr := h.Info(context.Background(), "img")
	for what, err := range map[string]error{"Start": startErr, "Info": infoErr} {
		if !errors.Is(err, providers.ErrFailedPrecondition) {
			t.Errorf("%s with a wrong pin = %v, want FailedPrecondition", what, err)
			continue
		}
		want := `plugin "img": refusing ` + bin + ": its sha256 is " + actual + " but the pin is " + expected
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%s error %q\ndoes not say %q", what, err, want)
		}
	}
	if n := execs.Load(); n != 0 {
		t.Fatalf("a binary that does not match its pin was executed %d times", n)
	}
	assertNoChildren(t)
}

// A pinned #! script is refused: its sealed copy could not be handed to an
// interpreter, and the pin would not cover the interpreter anyway.
func TestPinnedScriptIsRefused(t *testing.T) {
	dir := t.TempDir()
	script := []byte("#!/bin/sh\nexit 0\n")
	installPlugin(t, dir, "script", script)
	sum := sha256.Sum256(script)
	h := newHost(t, func(o *host.Options) {
		o.PluginDirs = []string{dir}
		o.Pins = map[string]string{"script": hex.EncodeToString(sum[:])}
	})
	_, err := h.Start(context.Background(), host.Spec{Store: "s", Plugin: "script", Config: []byte(`{}`)})
	if !errors.Is(err, providers.ErrFailedPrecondition) || !strings.Contains(err.Error(), "#! script") {
		t.Fatalf("Start of a pinned script = %v, want FailedPrecondition saying it is a script", err)
	}
}

// A plugin without a pin is executed by path: a restart runs whatever the
// file holds by then (replaced by rename, as an upgrade does).
func TestUnpinnedPluginRestartsFromItsFile(t *testing.T) {
	dir := t.TempDir()
	v1, _ := labelledBinary(t, "v1")
	v2, _ := labelledBinary(t, "v2")
	bin := installPlugin(t, dir, "img", v1)
	h := newHost(t, func(o *host.Options) { o.PluginDirs = []string{dir} })
	ctx := context.Background()
	p, err := h.Start(ctx, host.Spec{Store: "s", Plugin: "img", Config: config(t, testConfig{})})
	if err != nil {
		t.Fatal(err)
	}
	if info, err := p.Info(ctx); err != nil || info.Name != "v1" || info.Version != bin {
		t.Fatalf("Info = %+v, %v; want v1 with argv[0] %s", info, err, bin)
	}
	next := filepath.Join(dir, "next")
	if err := os.WriteFile(next, v2, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(next, bin); err != nil {
		t.Fatal(err)
	}
	oldPid := p.Pid()
	sigkill(t, oldPid)
	waitFor(t, time.Minute, "plugin restarted", func() bool { return p.Healthy() && p.Pid() != oldPid })
	if info, err := p.Info(ctx); err != nil || info.Name != "v2" {
		t.Fatalf("after the upgrade and a restart Info = %+v, %v; want v2", info, err)
	}
}
