package host_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/valetgw/valet/plugins"
	"github.com/valetgw/valet/plugins/host"
	"github.com/valetgw/valet/providers"
)

// A provider served in this process with plugins.WithTest is reached over
// the real wire protocol by a host told where it listens.
func TestAttachToPluginServedInProcess(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	attached := make(chan plugins.Reattach, 1)
	served := make(chan error, 1)
	go func() {
		served <- plugins.Serve(&testProvider{}, plugins.WithTest(ctx, func(r plugins.Reattach) { attached <- r }))
	}()
	var r plugins.Reattach
	select {
	case r = <-attached:
	case err := <-served:
		t.Fatalf("Serve returned before it listened: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("Serve never listened")
	}
	if r.Pid != os.Getpid() || r.Network == "" || r.Addr == "" {
		t.Fatalf("reattach config %+v: want this process (%d) and an address", r, os.Getpid())
	}
	h := newHost(t, func(o *host.Options) { o.Reattach = map[string]plugins.Reattach{"inproc": r} })
	p, err := h.Start(context.Background(), host.Spec{Store: "attached", Plugin: "inproc", Config: config(t, testConfig{})})
	if err != nil {
		t.Fatal(err)
	}
	if store, pid := whoami(t, p); store != "attached" || pid != os.Getpid() || p.Pid() != os.Getpid() {
		t.Fatalf("whoami = %q pid %d, Pid() %d; want store attached in this process (%d)", store, pid, p.Pid(), os.Getpid())
	}
	if _, err := p.SignPut(context.Background(), providers.PutRequest{Key: "k", ContentType: "a/b", Size: 1, TTL: time.Minute}); err != nil {
		t.Fatalf("SignPut: %v", err)
	}
	if info, err := h.Info(context.Background(), "inproc"); err != nil || info.Name != "test" {
		t.Fatalf("Host.Info of an attached plugin = %+v, %v", info, err)
	}
	// Closing the host leaves the attached server alone; ending its context
	// ends Serve, with no error.
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	cancel()
	wantNilWithinAMinute(t, served, "Serve = %v after its context ended, want nil", "Serve did not return after its context ended")
}

// A plugin run by hand with plugins.WithDebug prints the setting that
// makes a gateway attach to it; the host attaches, never kills it, and the
// plugin stops on SIGINT.
func TestAttachToDebugPlugin(t *testing.T) {
	cmd := selfCmd(t, "serve-debug", "x")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")} // no magic cookie: no host started it
	out := startPiped(t, cmd)
	var setting string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), plugins.ReattachEnv+"='"); ok {
			setting = strings.TrimSuffix(v, "'")
			break
		}
	}
	go func() { _, _ = bufio.NewReader(out).WriteTo(discard{}) }()
	r, err := plugins.ParseReattach(setting)
	if err != nil || r["test"].Pid != cmd.Process.Pid {
		t.Fatalf("debug plugin printed %q: %v, %+v; want the reattach config of pid %d under its Info name", setting, err, r, cmd.Process.Pid)
	}
	h := newHost(t, func(o *host.Options) { o.Reattach = r })
	p, err := h.Start(context.Background(), host.Spec{Store: "dbg", Plugin: "test", Config: config(t, testConfig{})})
	if err != nil {
		t.Fatal(err)
	}
	if store, pid := whoami(t, p); store != "dbg" || pid != cmd.Process.Pid {
		t.Fatalf("whoami = %q pid %d, want dbg in the debug process %d", store, pid, cmd.Process.Pid)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if !alive(cmd.Process.Pid) {
		t.Fatal("closing the host killed a plugin it had attached to")
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	wantNilWithinAMinute(t, done, "debug plugin after SIGINT: %v, want exit status 0", "debug plugin did not stop on SIGINT")
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }

func TestReattachRefusesPinsAndBadConfigs(t *testing.T) {
	good := plugins.Reattach{Network: "unix", Addr: "/tmp/x.sock", Pid: 1}
	for name, opts := range map[string]host.Options{
		"pinned":      {Pins: map[string]string{"x": strings.Repeat("0", 64)}, Reattach: map[string]plugins.Reattach{"x": good}},
		"bad network": {Reattach: map[string]plugins.Reattach{"x": {Network: "udp", Addr: "h:1", Pid: 1}}},
		"no pid":      {Reattach: map[string]plugins.Reattach{"x": {Network: "unix", Addr: "/tmp/x.sock"}}},
	} {
		if _, err := host.New(opts); !errors.Is(err, providers.ErrInvalidArgument) {
			t.Errorf("%s: New = %v, want InvalidArgument", name, err)
		}
	}
	t.Setenv(plugins.ReattachEnv, "{not json")
	if _, err := host.New(host.Options{}); !errors.Is(err, providers.ErrInvalidArgument) || !strings.Contains(err.Error(), plugins.ReattachEnv) {
		t.Errorf("New with a malformed %s = %v, want InvalidArgument naming it", plugins.ReattachEnv, err)
	}
}

// wantNilWithinAMinute fails t unless done delivers a nil error within a
// minute: with failed (a format for the error) or with timedOut.
func wantNilWithinAMinute(t *testing.T, done <-chan error, failed, timedOut string) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf(failed, err)
		}
	case <-time.After(time.Minute):
		t.Fatal(timedOut)
	}
}
