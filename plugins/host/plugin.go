package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/valetgw/valet/plugins"
	"github.com/valetgw/valet/plugins/internal/convert"
	"github.com/valetgw/valet/plugins/internal/wire"
	pb "github.com/valetgw/valet/plugins/proto/v1"
	"github.com/valetgw/valet/providers"
)

// exitPoll is how often the supervisor checks whether the process exited;
// go-plugin offers no channel for it.
const exitPoll = 20 * time.Millisecond

// Plugin is one supervised plugin process serving one store. It implements
// providers.Provider and providers.Multipart; every method is one call to
// the process, a message each way on its Calls stream.
//
// When the process has died, a call fails at once with a
// providers.Unavailable error. A call that was in flight when the process
// died also gets Unavailable, except the idempotent ones (all but
// CreateMultipart), which wait for the restart (within the caller's
// deadline and Options.RetryWait) and are retried once.
type Plugin struct {
	h   *Host
	t   target
	log hclog.Logger

	kick   chan uint64 // a caller saw generation N's connection fail
	stop   chan struct{}
	ctx    context.Context // cancelled by Close, so a restart in progress stops
	cancel context.CancelFunc
	done   chan struct{} // closed when the supervisor returns

	mu        sync.Mutex
	spec      Spec
	inst      *instance     // nil while down
	changed   chan struct{} // closed and replaced on every state change
	gen       uint64
	downWhy   string
	unhealthy error
	closed    bool
}

type instance struct {
	gen      uint64
	attached bool // a process the host did not start (Options.Reattach)
	client   *plugin.Client
	conn     *grpc.ClientConn
	mux      *mux // the Calls stream
	pid      int
}

// kill stops the process and everything in its process group. Graceful
// asks the plugin to shut down first (go-plugin waits up to 2s); otherwise
// the group is SIGKILLed straight away.
func (in *instance) kill(graceful bool) {
	in.mux.close()
	if in.attached {
		// Not ours to stop: drop the connection and leave the process be.
		_ = in.conn.Close()
		return
	}
	if !graceful && in.pid > 0 {
		_ = syscall.Kill(-in.pid, syscall.SIGKILL)
	}
	in.client.Kill()
	if in.pid > 0 {
		// The plugin's own children, if any, share its process group.
		_ = syscall.Kill(-in.pid, syscall.SIGKILL)
	}
}

// Healthy reports whether the plugin process is up and has not exhausted
// its restart budget. It is false while a restart is under way.
func (p *Plugin) Healthy() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inst != nil && p.unhealthy == nil && !p.closed
}

// GaveUp returns why the plugin was marked unhealthy after exhausting its
// restart budget, or nil. Such a plugin is never restarted again; the
// gateway starts a fresh one on the next configuration reload.
func (p *Plugin) GaveUp() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.unhealthy
}

// Pid is the current plugin process id, or 0 while it is down.
func (p *Plugin) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.inst == nil {
		return 0
	}
	return p.inst.pid
}

// Close stops this plugin's process and its supervision. Calls afterwards
// fail with Unavailable.
func (p *Plugin) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.done
		return nil
	}
	p.closed = true
	p.notifyLocked()
	p.mu.Unlock()
	p.cancel()
	close(p.stop)
	<-p.done
	p.mu.Lock()
	in := p.inst
	p.inst = nil
	p.mu.Unlock()
	if in != nil {
		in.kill(true)
	}
	// The supervisor has returned, so no launch can use the copy any more.
	p.t.close()
	p.h.forget(p)
	return nil
}

func (p *Plugin) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *Plugin) setUp(in *instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inst = in
	p.downWhy = ""
	p.notifyLocked()
}

func (p *Plugin) setDown(why string) *instance {
	p.mu.Lock()
	defer p.mu.Unlock()
	in := p.inst
	p.inst = nil
	p.downWhy = why
	p.notifyLocked()
	return in
}

// launch starts a process, connects, and replays Configure.
func (p *Plugin) launch(ctx context.Context) (*instance, error) {
	ctx, cancel := context.WithTimeout(ctx, p.h.opts.StartTimeout)
	defer cancel()
	p.mu.Lock()
	spec := p.spec
	p.gen++
	gen := p.gen
	p.mu.Unlock()

	client, svc, gc, err := p.h.dial(p.t, p.log)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*instance, error) {
		killClient(client)
		return nil, err
	}
	in := &instance{gen: gen, attached: p.t.attach != nil, client: client, conn: gc.Conn, mux: newMux(svc)}
	if rc := client.ReattachConfig(); rc != nil {
		in.pid = rc.Pid
	}
	if _, err := roundTrip(ctx, in.mux, wire.Configure, providers.StoreConfig{Store: spec.Store, Config: spec.Config}); err != nil {
		in.mux.close()
		perr, _ := convert.FromStatus(err)
		return fail(perr)
	}
	p.log.Debug("plugin running", "pid", in.pid, "generation", gen)
	return in, nil
}

// ping is one health check with a bound, unlike go-plugin's own Ping.
func (p *Plugin) ping(in *instance) error {
	ctx, cancel := context.WithTimeout(context.Background(), p.h.opts.HealthTimeout)
	defer cancel()
	_, err := grpc_health_v1.NewHealthClient(in.conn).Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: plugin.GRPCServiceName})
	return err
}

// supervise watches the running instance and restarts it when it dies. It
// is the only goroutine that restarts, so concurrent callers that all see
// the plugin fail cause one restart, not many.
func (p *Plugin) supervise() {
	defer close(p.done)
	exitTick := time.NewTicker(exitPoll)
	defer exitTick.Stop()
	health := time.NewTicker(p.h.opts.HealthInterval)
	defer health.Stop()
	var restarts []time.Time
	pingFails := 0
	for {
		p.mu.Lock()
		in := p.inst
		p.mu.Unlock()
		var why string
		select {
		case <-p.stop:
			return
		case <-exitTick.C:
			if in.client.Exited() {
				why = "process exited"
			}
		case <-health.C:
			if in.attached {
				continue // it may be stopped in a debugger; exits are still seen
			}
			// Two misses in a row, so one slow answer on a loaded machine
			// does not cost the calls in flight a restart.
			if err := p.ping(in); err == nil {
				pingFails = 0
			} else if pingFails++; pingFails >= 2 {
				why = "health check failed twice: " + status.Convert(err).Message()
			}
		case g := <-p.kick:
			if g != in.gen {
				continue
			}
			if in.client.Exited() {
				why = "process exited"
			} else if err := p.ping(in); err != nil {
				why = "connection lost: " + status.Convert(err).Message()
			}
		}
		if why == "" {
			continue
		}
		pingFails = 0
		p.setDown(why)
		p.log.Warn("plugin down, restarting", "pid", in.pid, "reason", why)
		in.kill(false)

		for {
			now := time.Now()
			restarts = dropBefore(restarts, now.Add(-p.h.opts.RestartWindow))
			if len(restarts) >= p.h.opts.RestartBudget {
				err := fmt.Errorf("gave up after %d restarts in %s (last: %s)", len(restarts), p.h.opts.RestartWindow, why)
				p.mu.Lock()
				p.unhealthy = err
				p.notifyLocked()
				p.mu.Unlock()
				p.log.Error("plugin unhealthy; not restarting it again", "error", err)
				<-p.stop
				return
			}
			// 100ms before the first restart in the window, doubling after.
			backoff := min(firstBackoff<<len(restarts), maxBackoff)
			restarts = append(restarts, now)
			select {
			case <-p.stop:
				return
			case <-time.After(backoff):
			}
			began := time.Now()
			next, err := p.launch(p.ctx)
			if err == nil {
				p.setUp(next)
				p.log.Info("plugin restarted", "pid", next.pid, "backoff", backoff, "launch", time.Since(began).Round(time.Millisecond))
				break
			}
			why = "restart failed: " + err.Error()
			p.log.Warn("plugin restart failed", "error", err)
		}
	}
}

func dropBefore(ts []time.Time, cutoff time.Time) []time.Time {
	i := 0
	for i < len(ts) && ts[i].Before(cutoff) {
		i++
	}
	return ts[i:]
}

// current returns the running instance or an Unavailable error saying why
// there is none. It never waits.
func (p *Plugin) current() (*instance, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed:
		return nil, providers.Errorf(providers.Unavailable, "store %q: plugin %s is stopped", p.spec.Store, p.spec.Plugin)
	case p.unhealthy != nil:
		return nil, providers.Errorf(providers.Unavailable, "store %q: plugin %s is unhealthy: %v", p.spec.Store, p.spec.Plugin, p.unhealthy)
	case p.inst == nil:
		return nil, providers.Errorf(providers.Unavailable, "store %q: plugin %s is restarting (%s)", p.spec.Store, p.spec.Plugin, p.downWhy)
	}
	return p.inst, nil
}

// waitNewer waits for an instance newer than gen, within ctx and RetryWait.
func (p *Plugin) waitNewer(ctx context.Context, gen uint64) (*instance, error) {
	timer := time.NewTimer(p.h.opts.RetryWait)
	defer timer.Stop()
	for {
		p.mu.Lock()
		in, ch, dead := p.inst, p.changed, p.closed || p.unhealthy != nil
		p.mu.Unlock()
		if in != nil && in.gen > gen {
			return in, nil
		}
		if dead {
			return nil, errors.New("plugin will not be restarted")
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timer.C:
			return nil, errors.New("restart took too long")
		}
	}
}

// call runs one call with the supervision rules above.
func call[T any](ctx context.Context, p *Plugin, method string, idempotent bool, fn func(context.Context, *mux) (T, error)) (T, error) {
	var zero T
	in, err := p.current()
	if err != nil {
		return zero, err
	}
	v, err := fn(ctx, in.mux)
	if err == nil {
		return v, nil
	}
	perr, transport := convert.FromStatus(err)
	if !transport {
		return zero, perr
	}
	if ctx.Err() != nil || status.Code(err) != codes.Unavailable {
		// The caller's deadline or cancellation, not the plugin's death.
		return zero, p.wrap(method, perr)
	}
	select {
	case p.kick <- in.gen:
	default: // a kick is already pending; the supervisor will look.
	}
	if !idempotent {
		return zero, p.wrap(method, perr)
	}
	next, werr := p.waitNewer(ctx, in.gen)
	if werr != nil {
		return zero, p.wrap(method, &providers.Error{Code: providers.Unavailable, Message: "plugin lost during the call and not back in time: " + werr.Error(), Err: werr})
	}
	v, err = fn(ctx, next.mux)
	if err != nil {
		perr, transport = convert.FromStatus(err)
		if transport {
			return zero, p.wrap(method, perr)
		}
		return zero, perr
	}
	return v, nil
}

// wrap names the store and method on a transport failure, keeping its code.
func (p *Plugin) wrap(method string, err error) error {
	var pe *providers.Error
	if errors.As(err, &pe) {
		p.mu.Lock()
		store, name := p.spec.Store, p.spec.Plugin
		p.mu.Unlock()
		return &providers.Error{Code: pe.Code, Message: fmt.Sprintf("store %q: plugin %s: %s: %s", store, name, method, pe.Message), Err: pe.Err}
	}
	return err
}

// lineLogger logs what a plugin writes to its stdout or stderr stream.
type lineLogger struct {
	log   hclog.Logger
	msg   string
	level hclog.Level
}

func (l lineLogger) Write(b []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n")) {
		if len(line) > 0 {
			l.log.Log(l.level, l.msg, "line", string(line))
		}
	}
	return len(b), nil
}

// beforeExec, when set (by tests), runs in dial just before the plugin
// process is executed: after a pinned binary has been read and checked.
var beforeExec atomic.Pointer[func(exe string)]

// fixedName keeps the logger go-plugin derives for a plugin's output named
// after the plugin's file: go-plugin names it after the base of the path
// executed, which for a sealed copy is a descriptor number.
type fixedName struct {
	hclog.Logger
	name string
}

func (l fixedName) Named(string) hclog.Logger { return l.Logger.Named(l.name) }

// target is what a launch runs: an executable (or the sealed copy of a
// pinned one, img) with its arguments, or a plugin process that is already
// running, to attach to.
type target struct {
	exe    string
	img    *image
	args   []string
	attach *plugin.ReattachConfig
}

func (t target) close() { t.img.close() }

// dial starts t.exe (or, when t.img is set, the sealed copy of it that
// matched its pin) as a plugin process and connects to it: go-plugin's
// handshake over gRPC only, with AutoMTLS, a filtered environment and the
// process in its own group. The process's argv[0] is exe either way. A
// target to attach to is only connected to. On error nothing is left
// running.
func (h *Host) dial(t target, log hclog.Logger) (*plugin.Client, pb.ProviderServiceClient, *plugin.GRPCClient, error) {
	if t.attach != nil {
		return h.connect(t.exe, plugin.NewClient(&plugin.ClientConfig{
			HandshakeConfig: wire.Handshake,
			// No handshake picks the version of an attached plugin.
			Plugins:          wire.Plugins(nil)[wire.ProtocolVersion],
			Reattach:         t.attach,
			AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
			Logger:           log,
			GRPCDialOptions:  dialOptions(),
		}))
	}
	exe, img, args := t.exe, t.img, t.args
	path := exe
	if img != nil {
		// On Linux /proc/self/fd/N: the child resolves it to the sealed
		// memfd, which stays open here while the Plugin (or Info) lives.
		path = img.path
	}
	cmd := &exec.Cmd{Path: path, Args: append([]string{exe}, args...)}
	cmd.Env = append(slices.Clip(h.env), fmt.Sprintf("%s=%d", plugins.ParentPIDEnv, os.Getpid()))
	// Own process group, so Close can kill whatever the plugin spawned.
	// No Pdeathsig: it fires when the forking *thread* exits, which the Go
	// runtime may do at any time; the plugin watches its parent instead
	// (see plugins.Serve and ParentPIDEnv).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  wire.Handshake,
		VersionedPlugins: wire.Plugins(nil),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true,
		StartTimeout:     h.opts.StartTimeout,
		Logger:           fixedName{log, filepath.Base(exe)},
		SyncStdout:       lineLogger{log, "plugin wrote to stdout", hclog.Warn},
		SyncStderr:       lineLogger{log, "plugin stderr", hclog.Info},
		GRPCDialOptions:  dialOptions(),
	})
	if f := beforeExec.Load(); f != nil {
		(*f)(exe)
	}
	return h.connect(exe, client)
}

func dialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithDefaultCallOptions(
		grpc.MaxCallRecvMsgSize(wire.MaxMessageSize),
		grpc.MaxCallSendMsgSize(wire.MaxMessageSize),
	)}
}

// connect starts or attaches client and dispenses the provider service.
func (h *Host) connect(exe string, client *plugin.Client) (*plugin.Client, pb.ProviderServiceClient, *plugin.GRPCClient, error) {
	fail := func(err error) (*plugin.Client, pb.ProviderServiceClient, *plugin.GRPCClient, error) {
		killClient(client)
		return nil, nil, nil, err
	}
	rpc, err := client.Client()
	if err != nil {
		return fail(providers.Errorf(providers.Unavailable, "starting %s: %v", exe, err))
	}
	raw, err := rpc.Dispense(wire.PluginName)
	if err != nil {
		return fail(providers.Errorf(providers.Unavailable, "%s speaks no Valet provider protocol v%d: %v", exe, wire.ProtocolVersion, err))
	}
	svc, ok := raw.(pb.ProviderServiceClient)
	gc, ok2 := rpc.(*plugin.GRPCClient)
	if !ok || !ok2 {
		return fail(providers.Errorf(providers.Internal, "unexpected go-plugin client %T", rpc))
	}
	return client, svc, gc, nil
}

// killClient kills a plugin process and its process group. A process the
// host attached to (reattach configs have Test set only then) is left
// running, and only the connection to it is closed.
func killClient(client *plugin.Client) {
	rc := client.ReattachConfig()
	if rc != nil && rc.Test {
		if c, err := client.Client(); err == nil {
			_ = c.Close()
		}
		return
	}
	if rc != nil && rc.Pid > 0 {
		_ = syscall.Kill(-rc.Pid, syscall.SIGKILL)
	}
	client.Kill()
}
