package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/valetgw/valet/config"
	"github.com/valetgw/valet/core"
	"github.com/valetgw/valet/plugins/host"
	"github.com/valetgw/valet/providers"
	"github.com/valetgw/valet/web"
)

// shutdownGrace bounds how long in-flight requests may take after SIGTERM.
const shutdownGrace = 30 * time.Second

// apiReadTimeout bounds how long a whole request, headers and body, may
// take to arrive. API bodies are at most core.MaxBodyBytes (64 KiB) of JSON,
// or core.MaxCompleteBodyBytes (1 MiB) for a complete of 10000 parts and
// about 2 KiB per key for batch signing (200 KiB at the default
// limits.max_batch), which a working client sends within a few seconds even
// on a slow link; a request that
// trickles in is cut instead of holding a connection and a goroutine for
// good, before anyone has been authenticated.
const apiReadTimeout = 10 * time.Second

// newHTTPServer is the gateway's http.Server around h.
//
// The body bound is http.Server.ReadTimeout rather than a per-request read
// deadline set through http.ResponseController: with the gateway's small
// bodies both do the same, and ReadTimeout needs no code. Neither touches
// response writes (that would be WriteTimeout, which stays unset, so a
// response may stream to a slow client), and neither cuts a handler that
// works long after reading its body: net/http lifts the read deadline when
// the body reaches its end (see TestAPIReadTimeoutSparesTheHandler), so a
// complete that takes minutes keeps its context. It also bounds the server's
// own read of a body a handler left unread (net/http discards up to 256 KiB
// of it before answering, e.g. after a failed authentication).
func newHTTPServer(h http.Handler, logger *slog.Logger, readTimeout time.Duration) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: min(10*time.Second, readTimeout),
		ReadTimeout:       readTimeout,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

func newServeCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway",
		Long: `Run the gateway: start one provider plugin per store, then serve the HTTP API.

SIGTERM or SIGINT stops accepting connections, lets in-flight requests finish
(for up to server.shutdown_timeout, default 30s), then stops the plugins.
SIGHUP, or a change to the config file, reloads the configuration: the new
one is validated and its plugins started first, then swapped in atomically;
a bad reload is logged and the old configuration keeps serving. A reload
also starts a fresh plugin for a store whose plugin kept crashing and was
given up on.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd.Context(), g, cmd, cmd.ErrOrStderr())
		},
	}
	addServerFlags(cmd)
	cmd.Flags().String("pprof", "", "serve Go profiling endpoints (/debug/pprof/) on this address, e.g. 127.0.0.1:6060; off by default")
	return cmd
}

// generation is one loaded configuration and the plugins serving it.
type generation struct {
	cfg    *config.Config
	stores map[string]*storePlugin
}

// storePlugin is a running plugin and the spec it was started with, so a
// reload can keep plugins whose store did not change.
type storePlugin struct {
	spec   string // provider + canonical JSON config
	plugin *host.Plugin
}

type gateway struct {
	g    *globalFlags
	cmd  *cobra.Command
	log  *slog.Logger
	host *host.Host
	core *core.Server
	cur  *generation // guarded by mu
	mu   sync.Mutex  // serialises reloads
	// live is cur for readers that must not wait for a reload (metrics).
	live    atomic.Pointer[generation]
	metrics *gatewayMetrics
}

func serve(ctx context.Context, g *globalFlags, cmd *cobra.Command, stderr io.Writer) error {
	// One request log line per request: buffered, so that under load many
	// lines share one write. Close runs before serve returns, so every line
	// is out before run prints an error and the process exits.
	lw := newLogWriter(stderr, logFlushDelay)
	defer lw.Close()
	stderr = lw
	var level slog.LevelVar // info until the config says otherwise
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: &level}))
	cfg, err := loadConfig(g, cmd)
	if err != nil {
		return err
	}
	_ = level.UnmarshalText([]byte(cfg.Server.LogLevel)) // validated by Load
	// Signals that arrive during start-up wait until serving begins, so a
	// SIGTERM then still stops the plugins.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	// Claim the address before starting plugins: a taken port fails fast,
	// and connections wait in the backlog until the API is ready.
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("server.listen: %w", err)
	}
	defer ln.Close()
	var adminLn net.Listener
	if cfg.Server.AdminListen != "" {
		if adminLn, err = listenAdmin(cfg.Server.AdminListen); err != nil {
			return err
		}
		defer adminLn.Close()
	}
	tp, err := newTracing(ctx, os.Getenv, logger)
	if err != nil {
		return err
	}
	if tp != nil {
		// After the HTTP server's shutdown: the last requests' spans go out.
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := tp.Shutdown(sctx); err != nil {
				logger.Warn("flushing traces", "err", err.Error())
			}
		}()
	}
	h, err := newHost(cfg, stderr, logger)
	if err != nil {
		return err
	}
	gw := &gateway{g: g, cmd: cmd, log: logger, host: h}
	defer func() {
		if err := h.Close(); err != nil {
			logger.Error("stopping plugins", "err", err)
		}
		logger.Info("plugins stopped")
	}()

	startCtx, cancel := context.WithTimeout(ctx, time.Minute)
	gen, provs, err := gw.startPlugins(startCtx, cfg, nil)
	cancel()
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if gw.metrics, err = registerGatewayMetrics(reg, gw); err != nil {
		return err
	}
	opts := core.Options{Logger: logger, Registerer: reg, Web: web.Handler(), MetricsElsewhere: adminLn != nil}
	if tp != nil {
		opts.TracerProvider = tp
	}
	gw.core, err = core.New(cfg, provs, opts)
	if err != nil {
		return err
	}
	defer gw.core.Close()
	gw.setCurrent(gen)

	srv := newHTTPServer(gw.core.Handler(), logger, apiReadTimeout)
	if addr, _ := cmd.Flags().GetString("pprof"); addr != "" {
		if err := servePprof(addr, logger); err != nil {
			return err
		}
	}
	if adminLn != nil {
		admin := newAdminServer(reg, logger)
		go func() { _ = admin.Serve(adminLn) }()
		defer admin.Close()
		logger.Info("admin listener serving /metrics and /debug/pprof/", "admin_listen", adminLn.Addr().String())
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logger.Info("serving", "listen", ln.Addr().String(), "public_url", cfg.Server.PublicURL, "stores", len(cfg.Stores), "version", currentVersion(), "tracing", tp != nil)

	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	changes := watchConfig(wctx, g, cmd, logger)
	for {
		select {
		case err := <-served:
			return fmt.Errorf("http server: %w", err)
		case <-changes:
			gw.reload(ctx, "file changed")
		case s := <-sigs:
			if s == syscall.SIGHUP {
				gw.reload(ctx, "SIGHUP")
				continue
			}
			grace := gw.cur.cfg.Server.ShutdownTimeout // as last reloaded
			if grace <= 0 {
				grace = shutdownGrace
			}
			logger.Info("shutting down", "signal", s.String(), "grace", grace.String())
			sctx, cancel := context.WithTimeout(context.Background(), grace)
			err := srv.Shutdown(sctx)
			cancel()
			if err != nil {
				logger.Error("in-flight requests did not finish in time", "err", err)
			}
			if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("http server", "err", err)
			}
			logger.Info("http server stopped")
			return nil
		}
	}
}

// reload loads and validates the config, starts the plugins of stores that
// changed, and swaps it in. Any error leaves the current configuration and
// plugins serving.
func (gw *gateway) reload(ctx context.Context, why string) {
	gw.mu.Lock()
	defer gw.mu.Unlock()
	old := gw.cur
	reject := func(err error) {
		gw.metrics.reloads.WithLabelValues("rejected").Inc()
		gw.log.Error("reload rejected; keeping the previous configuration", "trigger", why, "err", err.Error())
	}
	cfg, err := loadConfig(gw.g, gw.cmd)
	if err != nil {
		reject(err)
		return
	}
	for _, msg := range config.RestartOnly(old.cfg, cfg) {
		gw.log.Warn(msg, "trigger", why)
	}
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	gen, provs, err := gw.startPlugins(rctx, cfg, old)
	cancel()
	if err != nil {
		reject(err)
		return
	}
	if err := gw.core.Reload(cfg, provs); err != nil {
		gen.stopNew(old)
		reject(err)
		return
	}
	gw.setCurrent(gen)
	gw.metrics.reloads.WithLabelValues("applied").Inc()
	// Stop the plugins only the old configuration used, once requests that
	// started on it have had time to finish.
	var retired []*storePlugin
	for name, sp := range old.stores {
		if n, ok := gen.stores[name]; !ok || n.plugin != sp.plugin {
			retired = append(retired, sp)
		}
	}
	if len(retired) > 0 {
		time.AfterFunc(5*time.Second, func() {
			for _, sp := range retired {
				_ = sp.plugin.Close()
			}
		})
	}
	gw.log.Info("configuration reloaded", "trigger", why, "stores", len(cfg.Stores), "plugins_started", len(gen.stores)-(len(old.stores)-len(retired)))
}

// setCurrent makes gen the generation served; gw.mu is held or serving
// has not begun.
func (gw *gateway) setCurrent(gen *generation) {
	gw.cur = gen
	gw.live.Store(gen)
}

// stopNew stops the plugins gen started that prev does not use.
func (gen *generation) stopNew(prev *generation) {
	for name, sp := range gen.stores {
		if prev != nil {
			if o, ok := prev.stores[name]; ok && o.plugin == sp.plugin {
				continue
			}
		}
		_ = sp.plugin.Close()
	}
}

// startPlugins starts a plugin for every store whose provider or provider
// config differs from prev, reusing the others. On error it stops the
// plugins it started.
func (gw *gateway) startPlugins(ctx context.Context, cfg *config.Config, prev *generation) (*generation, map[string]providers.Provider, error) {
	gen := &generation{cfg: cfg, stores: map[string]*storePlugin{}}
	provs := map[string]providers.Provider{}
	for _, name := range sortedKeys(cfg.Stores) {
		sc := cfg.Stores[name]
		spec, raw, err := storeSpec(sc)
		if err != nil {
			gen.stopNew(prev)
			return nil, nil, fmt.Errorf("stores.%s.config: %w", name, err)
		}
		if prev != nil {
			// An unchanged store keeps its plugin, unless that plugin has
			// given up restarting: a reload is how an operator gets it back.
			if sp, ok := prev.stores[name]; ok && sp.spec == spec && sp.plugin.GaveUp() == nil {
				gen.stores[name] = sp
				provs[name] = sp.plugin
				continue
			}
		}
		p, err := gw.host.Start(ctx, host.Spec{Store: name, Plugin: sc.Provider, Config: raw})
		if err != nil {
			gen.stopNew(prev)
			return nil, nil, startError(name, sc.Provider, err)
		}
		gen.stores[name] = &storePlugin{spec: spec, plugin: p}
		provs[name] = p
	}
	return gen, provs, nil
}

// servePprof exposes the runtime profiler on its own listener, never on the
// API's, so it cannot be reached through the public address by accident.
func servePprof(addr string, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--pprof: %w", err)
	}
	mux := http.NewServeMux()
	addPprof(mux)
	log.Warn("profiling endpoints enabled", "pprof", ln.Addr().String())
	go func() { _ = http.Serve(ln, mux) }()
	return nil
}
