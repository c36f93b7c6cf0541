// Package host launches, supervises and restarts Valet provider plugin
// processes, and exposes each one as a providers.Provider.
//
// A Host is created once per gateway process. Start launches one plugin
// process per store: a built-in provider (a name in Options.Builtins) by
// re-executing the valet binary as `valet plugin serve NAME` (which calls
// plugins.Serve(builtins[NAME]())), any other name as the external binary
// valet-plugin-NAME from the first Options.PluginDirs directory holding it.
// A pinned binary is read once into a sealed private copy, checked against
// its pin, and that copy is what every launch executes (see Options.Pins).
//
// Every plugin gets a filtered environment (see Options.EnvAllow), its own
// process group, and an AutoMTLS gRPC connection over which calls travel as
// messages on one long-lived Calls stream. The host restarts a plugin
// that exits or stops answering health checks, with exponential backoff,
// and replays its store configuration. While a plugin is down its calls fail
// at once with a providers.Unavailable error; a plugin that keeps crashing
// is given up on after a restart budget and reports Healthy() == false.
// Close stops every plugin process and leaves none behind.
//
// One file per idea: discovery.go finds what runs for a plugin name
// (built-ins, plugin directories, pins, reattach), process.go starts or
// attaches to one plugin process and stops it, supervise.go watches it and
// restarts it (health checks, backoff, restart budget, configuration
// replay, and the fail-fast and retry-once rules of a call), plugin.go is
// a Plugin's state, calls.go forwards each contract method through the
// method table, and mux.go carries the calls on the Calls stream.
package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/valetgw/valet/plugins"
	"github.com/valetgw/valet/plugins/internal/convert"
	"github.com/valetgw/valet/plugins/internal/wire"
	"github.com/valetgw/valet/providers"
)

// DefaultEnv returns the variables passed to every plugin, whatever
// Options.EnvAllow says. OTEL_* is the standard OpenTelemetry
// configuration, with which plugins.Serve turns tracing on in the plugin
// as in the gateway.
func DefaultEnv() []string {
	return []string{"PATH", "HOME", "TMPDIR", "TZ", "LANG", plugins.LogLevelEnv, "OTEL_*"}
}

// Defaults for the supervision settings in Options.
const (
	DefaultHealthInterval = 2 * time.Second
	// DefaultHealthTimeout bounds one health check. A plugin that cannot
	// answer a ping in 5 s twice in a row is hung, not merely slow on a
	// loaded machine.
	DefaultHealthTimeout = 5 * time.Second
	DefaultRestartBudget = 5
	DefaultRestartWindow = time.Minute
	DefaultStartTimeout  = 10 * time.Second
	DefaultRetryWait     = 3 * time.Second
	firstBackoff         = 100 * time.Millisecond
	maxBackoff           = 5 * time.Second
)

// Options configures a Host.
type Options struct {
	// Executable is the valet binary that serves built-in providers as
	// `Executable plugin serve NAME`. Empty means os.Executable().
	Executable string
	// Builtins are the provider names served by Executable. A built-in name
	// always wins over an external plugin of the same name.
	Builtins []string
	// PluginDirs are searched, in order, for valet-plugin-NAME binaries.
	PluginDirs []string
	// EnvAllow names further host environment variables a plugin may see,
	// on top of DefaultEnv. An entry may be a glob: "AWS_*".
	EnvAllow []string
	// Pins maps a plugin name to the lowercase hex sha256 of the binary that
	// will be executed for it. Start (and Info) reads a pinned binary once
	// into a private sealed copy, hashes the copy, refuses it if it does not
	// match, and executes exactly that copy, at first start and at every
	// restart: rewriting or replacing the file afterwards cannot change what
	// runs. A plugin without a pin is executed by path, so a restart runs
	// whatever the file holds then.
	Pins map[string]string
	// Logger receives host events and every plugin's log lines. Nil logs
	// to stderr at info level. SlogLogger puts them in a slog log's schema.
	Logger hclog.Logger

	// HealthInterval is how often a running plugin is pinged.
	HealthInterval time.Duration
	// HealthTimeout bounds one ping (default DefaultHealthTimeout).
	HealthTimeout time.Duration
	// RestartBudget restarts within RestartWindow are allowed; one more
	// crash marks the plugin unhealthy and it is not restarted again.
	RestartBudget int
	RestartWindow time.Duration
	// StartTimeout bounds one launch: process start, handshake, Configure.
	StartTimeout time.Duration
	// RetryWait bounds how long an idempotent call that lost its plugin
	// waits for the restart before it gives up (the caller's deadline, if
	// shorter, wins).
	RetryWait time.Duration
	// Reattach maps a plugin name to a plugin process that is already
	// running, served with plugins.WithDebug (or plugins.WithTest), which
	// the host connects to instead of starting a process. Nil means the
	// value of plugins.ReattachEnv in the environment. The host never
	// signals such a process and does not health-check it (a debugger may
	// hold it stopped); when it is lost, the host connects again. A pinned
	// plugin cannot be attached to, since its binary cannot be checked.
	Reattach map[string]plugins.Reattach
}

// Spec names one store's plugin and its configuration.
type Spec struct {
	Store  string
	Plugin string
	// Config is the store's provider settings, a JSON object.
	Config json.RawMessage
}

// Host starts and supervises plugin processes. It is safe for concurrent use.
type Host struct {
	opts Options
	log  hclog.Logger
	env  []string

	mu      sync.Mutex
	closed  bool
	plugins map[*Plugin]struct{}
}

// New checks opts and returns a Host. It starts no process.
func New(opts Options) (*Host, error) {
	if opts.Logger == nil {
		opts.Logger = hclog.New(&hclog.LoggerOptions{Name: "plugins", Output: os.Stderr, Level: hclog.Info})
	}
	if opts.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("plugins: cannot find the valet executable for built-in providers: %w", err)
		}
		opts.Executable = exe
	}
	orDefault(&opts.HealthInterval, DefaultHealthInterval)
	orDefault(&opts.HealthTimeout, DefaultHealthTimeout)
	orDefault(&opts.RestartBudget, DefaultRestartBudget)
	orDefault(&opts.RestartWindow, DefaultRestartWindow)
	orDefault(&opts.StartTimeout, DefaultStartTimeout)
	orDefault(&opts.RetryWait, DefaultRetryWait)
	dirs := make([]string, 0, len(opts.PluginDirs))
	for _, d := range opts.PluginDirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, providers.Errorf(providers.InvalidArgument, "plugin directory %q: %v", d, err)
		}
		dirs = append(dirs, abs)
	}
	opts.PluginDirs = dirs
	pins := make(map[string]string, len(opts.Pins))
	for name, sum := range opts.Pins {
		sum = strings.ToLower(strings.TrimSpace(sum))
		if b, err := hex.DecodeString(sum); err != nil || len(b) != sha256.Size {
			return nil, providers.Errorf(providers.InvalidArgument, "pin for plugin %q: want 64 hex digits of a sha256, got %q", name, sum)
		}
		pins[name] = sum
	}
	opts.Pins = pins
	if opts.Reattach == nil {
		r, err := plugins.ParseReattach(os.Getenv(plugins.ReattachEnv))
		if err != nil {
			return nil, providers.Errorf(providers.InvalidArgument, "%v", err)
		}
		opts.Reattach = r
	}
	for name, r := range opts.Reattach {
		if _, err := r.Config(); err != nil {
			return nil, providers.Errorf(providers.InvalidArgument, "reattach plugin %q: %v", name, err)
		}
		if _, pinned := opts.Pins[name]; pinned {
			return nil, providers.Errorf(providers.InvalidArgument, "plugin %q is pinned, so it cannot be attached to (%s): a running process cannot be checked against its pin", name, plugins.ReattachEnv)
		}
	}
	for _, pat := range opts.EnvAllow {
		if _, err := path.Match(pat, ""); err != nil || pat == "" {
			return nil, providers.Errorf(providers.InvalidArgument, "environment allowlist entry %q is not a valid name or glob", pat)
		}
	}
	return &Host{
		opts:    opts,
		log:     opts.Logger,
		env:     filterEnv(os.Environ(), append(DefaultEnv(), opts.EnvAllow...)),
		plugins: make(map[*Plugin]struct{}),
	}, nil
}

// filterEnv keeps the NAME=value entries whose NAME matches an allow entry.
func filterEnv(environ, allow []string) []string {
	var out []string
	for _, kv := range environ {
		name, _, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		for _, pat := range allow {
			if m, _ := path.Match(pat, name); m {
				out = append(out, kv)
				break
			}
		}
	}
	return out
}

// Start launches the plugin for spec, configures it, and supervises it
// until Close. A Configure error from the provider is returned as is (with
// its code), and no process is left running.
func (h *Host) Start(ctx context.Context, spec Spec) (*Plugin, error) {
	t, err := h.target(spec.Plugin)
	if err != nil {
		return nil, fmt.Errorf("store %q: %w", spec.Store, err)
	}
	p := &Plugin{
		h:       h,
		spec:    spec,
		t:       t,
		log:     h.log.Named(spec.Plugin).With("store", spec.Store),
		changed: make(chan struct{}),
		kick:    make(chan uint64, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	closed := providers.Errorf(providers.Unavailable, "store %q: plugin host is closed", spec.Store)
	if h.isClosed() {
		p.cancel()
		t.close()
		return nil, closed
	}
	in, err := p.launch(ctx)
	if err != nil {
		p.cancel()
		t.close()
		return nil, fmt.Errorf("store %q: plugin %s: %w", spec.Store, spec.Plugin, err)
	}
	// Register only a running plugin, so Close never waits on a launch;
	// one that finished launching after Close began is stopped here.
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		p.cancel()
		in.kill(true)
		t.close()
		return nil, closed
	}
	h.plugins[p] = struct{}{}
	p.setUp(in)
	go p.supervise()
	h.mu.Unlock()
	return p, nil
}

// Info starts plugin name (built in, or found in the plugin directories;
// when pinned, as a sealed copy checked against its pin), asks for its Info
// without configuring it, and stops it again. It is what `valet plugins`
// shows for external plugins; the contract lets a provider answer Info
// before Configure.
func (h *Host) Info(ctx context.Context, name string) (providers.Info, error) {
	t, err := h.target(name)
	if err != nil {
		return providers.Info{}, err
	}
	defer t.close()
	ctx, cancel := context.WithTimeout(ctx, h.opts.StartTimeout)
	defer cancel()
	client, svc, _, err := h.dial(t, h.log.Named(name))
	if err != nil {
		return providers.Info{}, err
	}
	defer killClient(client)
	mx := newMux(svc)
	defer mx.close()
	info, err := roundTrip(ctx, mx, wire.Info, struct{}{})
	if err != nil {
		perr, _ := convert.FromStatus(err)
		return providers.Info{}, perr
	}
	return info, nil
}

func (h *Host) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

func (h *Host) forget(p *Plugin) {
	h.mu.Lock()
	delete(h.plugins, p)
	h.mu.Unlock()
}

// Close stops every plugin started by h and waits until their processes
// (and anything they started in their process group) are gone. The Host
// cannot start plugins afterwards.
func (h *Host) Close() error {
	h.mu.Lock()
	h.closed = true
	ps := make([]*Plugin, 0, len(h.plugins))
	for p := range h.plugins {
		ps = append(ps, p)
	}
	h.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func() { defer wg.Done(); _ = p.Close() }()
	}
	wg.Wait()
	return nil
}

// orDefault sets an unset (zero or negative) option to its default.
func orDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}
