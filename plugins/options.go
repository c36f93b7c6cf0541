package plugins

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"go.opentelemetry.io/otel/trace"
)

// ServeOption configures Serve (and, for WithLogger and
// WithTracerProvider, NewServer).
type ServeOption func(*serveConfig) error

type serveConfig struct {
	log hclog.Logger
	// mode is "" for a plugin started by a host, else the option that
	// serves without one ("WithDebug" or "WithTest").
	mode     string
	ctx      context.Context
	attached func(Reattach)
	// tp traces every call when set (WithTracerProvider); otherwise Serve
	// sets one up from the OTEL_* environment when tracing is on there.
	tp trace.TracerProvider
}

// WithTracerProvider makes the server start one span per call,
// "plugin.<Method>", with tp, in place of the tracer provider Serve would
// set up from the OTEL_* environment. It applies to NewServer too, which
// otherwise traces nothing.
func WithTracerProvider(tp trace.TracerProvider) ServeOption {
	return func(c *serveConfig) error {
		if tp == nil {
			return errors.New("plugins.WithTracerProvider: nil tracer provider")
		}
		c.tp = tp
		return nil
	}
}

// WithLogger sets the logger of the plugin's own log (panics, transport
// events). The default logs hclog JSON to stderr, where the host picks it
// up, at the level in LogLevelEnv (info when unset).
func WithLogger(l hclog.Logger) ServeOption {
	return func(c *serveConfig) error {
		if l == nil {
			return errors.New("plugins.WithLogger: nil logger")
		}
		c.log = l
		return nil
	}
}

// WithDebug serves the plugin for a debugger: run the plugin binary yourself
// (for example under `dlv exec`), and Serve prints the line to start the
// gateway with, which sets ReattachEnv so that the gateway attaches to this
// process instead of starting the plugin. Serve then returns on SIGINT or
// SIGTERM. The gateway does not restart or stop a plugin it attached to.
func WithDebug() ServeOption {
	return func(c *serveConfig) error {
		return c.setMode("WithDebug", nil, nil)
	}
}

// WithTest serves the plugin in this process, for tests: nothing is read
// from the environment or written to stdout, the parent process is not
// watched, and attached is called once with where the plugin listens, for
// a host to attach to (see plugins/host Options.Reattach). Serve returns
// when ctx is done.
func WithTest(ctx context.Context, attached func(Reattach)) ServeOption {
	return func(c *serveConfig) error {
		if ctx == nil || attached == nil {
			return errors.New("plugins.WithTest: nil context or callback")
		}
		return c.setMode("WithTest", ctx, attached)
	}
}

func (c *serveConfig) setMode(mode string, ctx context.Context, attached func(Reattach)) error {
	if c.mode != "" {
		return fmt.Errorf("plugins: %s and %s cannot be combined", c.mode, mode)
	}
	c.mode, c.ctx, c.attached = mode, ctx, attached
	return nil
}

func newServeConfig(opts []ServeOption) (*serveConfig, error) {
	c := &serveConfig{}
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("plugins: nil ServeOption")
		}
		if err := o(c); err != nil {
			return nil, err
		}
	}
	if c.log == nil {
		c.log = defaultLogger()
	}
	return c, nil
}

// defaultLogger logs hclog JSON to stderr at the level in LogLevelEnv.
func defaultLogger() hclog.Logger {
	logger := hclog.New(&hclog.LoggerOptions{
		Name:       "provider",
		Level:      hclog.LevelFromString(os.Getenv(LogLevelEnv)),
		Output:     os.Stderr,
		JSONFormat: true,
	})
	if logger.GetLevel() == hclog.NoLevel {
		logger.SetLevel(hclog.Info)
	}
	return logger
}

// debugContext ends on SIGINT or SIGTERM, the end of a WithDebug session.
func debugContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}
