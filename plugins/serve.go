package plugins

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/valetgw/valet/plugins/internal/wire"
	"github.com/valetgw/valet/providers"
)

// LogLevelEnv names the environment variable that sets a plugin's log level
// (trace, debug, info, warn, error); the default is info. The host passes it
// through its environment allowlist.
const LogLevelEnv = "VALET_PLUGIN_LOG_LEVEL"

// ParentPIDEnv names the variable through which the host tells a plugin
// its own pid, so that a plugin whose host died while it was still starting
// notices too (its parent pid at startup would already be init's).
const ParentPIDEnv = "VALET_PLUGIN_PARENT_PID"

// parentPoll is how often a plugin checks that the process that started it
// is still alive.
const parentPoll = 200 * time.Millisecond

// ErrNoHost is returned by Serve, without options, in a process that was
// not started by a Valet plugin host: a plugin binary run by hand.
var ErrNoHost = errors.New("this binary is a Valet provider plugin: the gateway starts it, and it is not meant to be run by hand (to debug it, serve it with plugins.WithDebug)")

// Serve runs p as a Valet provider plugin and returns nil when the host
// shuts the plugin down, or an error when it cannot serve. It is the whole
// of a plugin's main function:
//
//	func main() {
//		if err := plugins.Serve(myprovider.New()); err != nil {
//			log.Fatal(err)
//		}
//	}
//
// Without options Serve must be started by plugins/host (or `valet`); run
// by hand it returns ErrNoHost. It then owns the process's stdout (the
// go-plugin handshake). A panic inside any provider method is recovered,
// logged with its stack, and answered with an Internal error; the plugin
// keeps serving. When the host process disappears without stopping the
// plugin (SIGKILL, crash), the plugin notices within a fraction of a second
// and exits by itself with status 2: the one case where Serve ends the
// process, so that an orphan never lingers holding its credentials.
//
// WithDebug and WithTest serve without a host starting the process: for a
// debugger, and in process for tests. WithLogger replaces the default log.
//
// Tracing is off, and costs nothing, unless the standard OTEL_* variables
// (which the host passes through) ask for it: OTEL_TRACES_EXPORTER=otlp or
// an OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT. Serve then sets up an
// OpenTelemetry SDK tracer provider exporting over OTLP, joins each call
// to the caller's trace (CallRequest.trace_context), starts one span per
// call, and flushes the spans when it returns. WithTracerProvider supplies
// a provider of your own instead.
func Serve(p providers.Provider, opts ...ServeOption) error {
	cfg, err := newServeConfig(opts)
	if err != nil {
		return err
	}
	if p == nil {
		return errors.New("plugins: nil provider")
	}
	name := ""
	if cfg.mode == "" && tracingOn(os.Getenv) {
		ictx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if info, err := p.Info(ictx); err == nil {
			name = info.Name
		}
		cancel()
	}
	flush := setupTracing(cfg, name)
	defer flush()
	srv, err := newServer(p, cfg.log, cfg.tp)
	if err != nil {
		return err
	}
	sc := &plugin.ServeConfig{
		HandshakeConfig:  wire.Handshake,
		VersionedPlugins: wire.Plugins(srv),
		Logger:           cfg.log,
		GRPCServer:       srv.grpcServer,
	}
	switch cfg.mode {
	case "":
		if os.Getenv(wire.Handshake.MagicCookieKey) != wire.Handshake.MagicCookieValue {
			return ErrNoHost
		}
		ppid := os.Getppid()
		if v, err := strconv.Atoi(os.Getenv(ParentPIDEnv)); err == nil && v > 0 {
			ppid = v
		}
		go watchParent(cfg.log, ppid)
		plugin.Serve(sc)
	case "WithDebug":
		ctx, stop := debugContext()
		defer stop()
		name := "NAME"
		if info, err := p.Info(ctx); err == nil && info.Name != "" {
			name = info.Name
		}
		serveAttached(sc, ctx, func(r Reattach) {
			fmt.Printf("Valet plugin %q is serving in debug mode (pid %d). Start the gateway with\n\n\t%s\n\n"+
				"(with the plugin name your stores use, if it is not %q). Stop with Ctrl-C.\n", name, r.Pid, r.Env(name), name)
		})
	case "WithTest":
		serveAttached(sc, cfg.ctx, cfg.attached)
	}
	if !srv.started.Load() {
		return errors.New("plugins.Serve: the plugin's gRPC server did not start (its log says why)")
	}
	return nil
}

// serveAttached serves in go-plugin's test mode, where no host started the
// process: no handshake on stdout, no magic cookie, until ctx is done.
func serveAttached(sc *plugin.ServeConfig, ctx context.Context, attached func(Reattach)) {
	ch := make(chan *plugin.ReattachConfig, 1)
	done := make(chan struct{})
	sc.Test = &plugin.ServeTestConfig{Context: ctx, ReattachConfigCh: ch, CloseCh: done}
	go func() {
		select {
		case rc := <-ch:
			attached(reattachOf(rc))
		case <-done: // serving failed before it listened
		}
	}()
	plugin.Serve(sc)
}

// watchParent exits the process once its parent is gone. go-plugin closes
// nothing on the plugin side when the host dies (stdin is the host's own
// stdin, not a pipe), so without this an orphaned plugin would live on,
// holding its listener and credentials. A changed parent pid means we were
// re-parented to init or a subreaper.
func watchParent(logger hclog.Logger, ppid int) {
	t := time.NewTicker(parentPoll)
	defer t.Stop()
	for ; ; <-t.C {
		if os.Getppid() != ppid {
			logger.Warn("host process is gone; plugin exiting", "host_pid", ppid)
			os.Exit(2)
		}
	}
}
