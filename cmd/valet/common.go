package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/valetgw/valet/config"
	"github.com/valetgw/valet/core"
	"github.com/valetgw/valet/plugins/host"
	"github.com/valetgw/valet/providers"
)

// addServerFlags adds the flags that override server.* keys of the config.
func addServerFlags(cmd *cobra.Command) {
	cmd.Flags().String("listen", "", "address to listen on (overrides server.listen)")
	cmd.Flags().String("public-url", "", "URL clients reach the gateway at (overrides server.public_url)")
	cmd.Flags().Bool("demo", false, "serve the demo page at / (overrides demo.enabled)")
	cmd.Flags().StringSlice("plugin-dir", nil, "directory of valet-plugin-NAME binaries, repeatable (overrides plugins.dirs)")
}

// loadConfig loads the layered configuration: defaults < --config file <
// VALET_* environment < the command's flags.
func loadConfig(g *globalFlags, cmd *cobra.Command) (*config.Config, error) {
	cfg, err := config.Load(config.Options{File: g.config, Environ: os.Environ(), Flags: cmd.Flags()})
	if err != nil {
		return nil, err
	}
	// Rules and key templates, compiled as the gateway will.
	if err := core.Check(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// newHost creates the plugin host. Built-in providers re-execute this binary
// as `valet plugin serve NAME`. Host events and the plugins' lines are
// logged through the gateway's log schema (host.SlogLogger): to log when
// it is given (serve), else as JSON to stderr at warn (the one-off
// commands).
func newHost(cfg *config.Config, stderr io.Writer, log *slog.Logger) (*host.Host, error) {
	if log == nil {
		// A one-off command stops its plugins itself, at exit or when
		// Configure fails; that kill is not news.
		log = slog.New(slog.NewJSONHandler(&quietExits{w: stderr}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return host.New(host.Options{
		Builtins:   builtinNames(),
		PluginDirs: cfg.Plugins.Dirs,
		EnvAllow:   cfg.Plugins.EnvAllow,
		Pins:       cfg.Plugins.Pins,
		Logger:     host.SlogLogger(log.Handler()),
	})
}

// storeSpec returns a store's provider config as JSON, and a string that
// changes whenever the provider or its config does.
func storeSpec(sc config.StoreConfig) (string, json.RawMessage, error) {
	m := sc.Config
	if m == nil {
		m = map[string]any{}
	}
	raw, err := json.Marshal(m) // map keys are sorted, so equal configs give equal JSON
	if err != nil {
		return "", nil, err
	}
	return sc.Provider + "\x00" + string(raw), raw, nil
}

// startStore launches the plugin for one store, for the one-off commands.
func startStore(ctx context.Context, h *host.Host, cfg *config.Config, store string) (*host.Plugin, error) {
	sc, ok := cfg.Stores[store]
	if !ok {
		return nil, usageError{fmt.Errorf("no store %q in the config (stores: %v)", store, sortedKeys(cfg.Stores))}
	}
	_, raw, err := storeSpec(sc)
	if err != nil {
		return nil, fmt.Errorf("stores.%s.config: %w", store, err)
	}
	p, err := h.Start(ctx, host.Spec{Store: store, Plugin: sc.Provider, Config: raw})
	if err != nil {
		return nil, fmt.Errorf("%w%s", startError(store, sc.Provider, err), portHint(store, err))
	}
	return p, nil
}

// startError words a failed plugin start for the operator. A provider names
// a bad setting as "config.KEY: ..."; that becomes the full config path,
// "stores.STORE.config.KEY: ...", like every other validation error.
func startError(store, provider string, err error) error {
	var pe *providers.Error
	if errors.As(err, &pe) && pe.Code == providers.InvalidArgument && strings.HasPrefix(pe.Message, "config.") {
		return wrapped{fmt.Sprintf("stores.%s.%s (provider %q)", store, pe.Message, provider), err}
	}
	return fmt.Errorf("stores.%s: starting provider %q: %w", store, provider, err)
}

// wrapped is an error with its own wording that still unwraps to its cause.
type wrapped struct {
	msg string
	err error
}

func (w wrapped) Error() string { return w.msg }
func (w wrapped) Unwrap() error { return w.err }

// portInUse reports whether err is a provider's Unavailable for a listen
// address that is taken, typically by a gateway serving the same config.
func portInUse(err error) bool {
	return providers.CodeOf(err) == providers.Unavailable && strings.Contains(err.Error(), "in use")
}

// portHint tells how to run a one-off command next to a running gateway
// when the store's plugin cannot bind its listener.
func portHint(store string, err error) string {
	if !portInUse(err) {
		return ""
	}
	return fmt.Sprintf("\n  (a gateway serving this config holds that port; give this command another one: VALET_STORES__%s__CONFIG__LISTEN=127.0.0.1:0)", strings.ToUpper(store))
}

// quietExits passes plugin log lines through, except the plugin library's
// "plugin process exited" error for a process the host killed.
type quietExits struct{ w io.Writer }

func (q *quietExits) Write(b []byte) (int, error) {
	var out []byte
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		var rec struct {
			Msg string `json:"msg"`
			Err string `json:"error"`
		}
		if json.Unmarshal(line, &rec) == nil && rec.Msg == "plugin process exited" && rec.Err == "signal: killed" {
			continue
		}
		out = append(out, line...)
	}
	if len(out) > 0 {
		if _, err := q.w.Write(out); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}

// watchConfig reports changes to the config file (editors that replace the
// file included), debounced. With no file it never fires.
func watchConfig(ctx context.Context, g *globalFlags, cmd *cobra.Command, log *slog.Logger) <-chan struct{} {
	out := make(chan struct{}, 1)
	if g.config == "" {
		return out
	}
	opts := config.Options{File: g.config, Environ: os.Environ(), Flags: cmd.Flags()}
	err := config.Watch(ctx, opts, 300*time.Millisecond, func(*config.Config, error) {
		// serve reloads itself, so that SIGHUP and file changes take the
		// same path; this only signals.
		select {
		case out <- struct{}{}:
		default:
		}
	})
	if err != nil {
		log.Warn("not watching the config file; reload with SIGHUP", "err", err.Error())
	}
	return out
}
