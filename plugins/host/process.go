package host

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync/atomic"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/valetgw/valet/plugins"
	"github.com/valetgw/valet/plugins/internal/wire"
	pb "github.com/valetgw/valet/plugins/proto/v1"
	"github.com/valetgw/valet/providers"
)

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
	return []grpc.DialOption{
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(wire.MaxMessageSize),
			grpc.MaxCallSendMsgSize(wire.MaxMessageSize),
		),
		grpc.WithInitialWindowSize(wire.WindowSize),
		grpc.WithInitialConnWindowSize(wire.WindowSize),
	}
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
