package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/valetgw/valet/config"
	"github.com/valetgw/valet/core/auth"
	"github.com/valetgw/valet/core/hooks"
	"github.com/valetgw/valet/core/playback"
	"github.com/valetgw/valet/core/uploadid"
	"github.com/valetgw/valet/providers"
)

// Options are a Server's dependencies.
type Options struct {
	// Logger receives one JSON line per request (nil = discard).
	Logger *slog.Logger
	// Now is the clock (nil = time.Now).
	Now func() time.Time
	// Registerer receives the metrics. nil = a private registry. When it is
	// also a prometheus.Gatherer, /metrics serves it.
	Registerer prometheus.Registerer
	// Web serves the demo page at "/" when cfg.Demo.Enabled.
	Web http.Handler
	// HTTPClient fetches the JWKS URL (nil = default).
	HTTPClient *http.Client
	// TracerProvider, when set, traces every request (one server span,
	// honouring an incoming W3C traceparent) and every provider call (a
	// child span, whose context the plugin hop carries on). nil = no
	// tracing, at no cost.
	TracerProvider trace.TracerProvider
	// MetricsElsewhere says /metrics is served by another listener (the
	// admin listener, server.admin_listen): the API then answers 404 there.
	MetricsElsewhere bool
}

// Server is the gateway. Its configuration can be swapped at run time with
// Reload; requests in flight finish with the state they started with.
type Server struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics
	state   atomic.Pointer[state]
	handler http.Handler
	// tracer is nil when tracing is off.
	tracer trace.Tracer
	// env is shared by every Store the server builds.
	*env
}

// state is everything a config produces; it is immutable once built.
type state struct {
	cfg    *config.Config
	stores map[string]*Store
	auth   *auth.Authenticator
	sealer *uploadid.Sealer
}

// store finds a store by name.
func (st *state) store(name string) (*Store, error) {
	if s := st.stores[name]; s != nil {
		return s, nil
	}
	return nil, apiError("store_not_found", "no store named "+strconv.Quote(name))
}

// New builds a Server for cfg, with one configured provider per store
// (stores[name] for every name in cfg.Stores). It reads each provider's
// Info, so a provider must be reachable.
func New(cfg *config.Config, stores map[string]providers.Provider, opts Options) (*Server, error) {
	s := &Server{opts: opts, log: opts.Logger, env: &env{now: opts.Now, abortChecks: abortChecks}}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(opts.Registerer, storeCollector{s})
	if err != nil {
		return nil, err
	}
	m.now = s.now
	s.metrics = m
	if opts.TracerProvider != nil {
		s.tracer = opts.TracerProvider.Tracer("github.com/valetgw/valet/core")
	}
	s.hooks = hooks.NewSender(hooks.Options{Logger: s.log, Now: s.now, Metrics: m.hooks})
	st, err := s.build(cfg, stores)
	if err != nil {
		return nil, err
	}
	s.state.Store(st)
	s.handler = s.routes()
	return s, nil
}

// Reload validates cfg and swaps it in atomically. On any error the old
// configuration keeps serving and the error says why.
func (s *Server) Reload(cfg *config.Config, stores map[string]providers.Provider) error {
	st, err := s.build(cfg, stores)
	if err != nil {
		return err
	}
	old := s.state.Swap(st)
	if old != nil && old.auth != nil {
		// Requests that started on the old state may still verify tokens.
		time.AfterFunc(time.Minute, old.auth.Close)
	}
	return nil
}

// Close releases background resources (the JWKS refresher).
func (s *Server) Close() error {
	if st := s.state.Load(); st != nil && st.auth != nil {
		st.auth.Close()
	}
	return nil
}

// Config returns the configuration currently served.
func (s *Server) Config() *config.Config { return s.state.Load().cfg }

// Handler returns the HTTP handler for the whole API.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) build(cfg *config.Config, provs map[string]providers.Provider) (*state, error) {
	if cfg == nil {
		return nil, errors.New("core: nil config")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sealer, err := uploadid.NewSealer(tokenSecrets(cfg)...)
	if err != nil {
		return nil, fmt.Errorf("tokens.secret: %w", err)
	}
	// Playback tokens share tokens.secret under their own HKDF label, so
	// every replica with the secret opens them.
	player, err := playback.NewSealer(tokenSecrets(cfg)...)
	if err != nil {
		return nil, fmt.Errorf("tokens.secret: %w", err)
	}
	st := &state{cfg: cfg, stores: map[string]*Store{}, sealer: sealer}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for _, name := range cfg.StoreNames() {
		sc := cfg.Stores[name]
		p := provs[name]
		if p == nil {
			return nil, fmt.Errorf("stores.%s: no provider instance", name)
		}
		info, err := p.Info(ctx)
		if err != nil {
			return nil, fmt.Errorf("stores.%s: provider %s: %w", name, sc.Provider, err)
		}
		cs, err := compileStore(name, sc)
		if err != nil {
			return nil, err
		}
		ms := s.metrics.meter(name, sc.Provider, p, s.tracer)
		if ms.multipart == nil {
			info.Capabilities.Multipart = false
		}
		st.stores[name] = &Store{name: name, cfg: sc, provider: ms.provider, multipart: ms.multipart, getSigner: ms.getSigner, postPolicy: ms.postPolicy, reader: ms.reader, player: player, info: info, rules: cs.rules, tmpl: cs.tmpl, sealer: sealer, hook: cs.hook, env: s.env}
	}
	a, err := auth.New(AuthConfig(cfg.Auth), auth.Options{Now: s.now, HTTPClient: s.opts.HTTPClient})
	if err != nil {
		return nil, err
	}
	st.auth = a
	return st, nil
}
