package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// adminMux is what the admin listener (server.admin_listen) serves: the
// metrics, and the Go profiler, away from the public API.
func adminMux(g prometheus.Gatherer) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	addPprof(mux)
	return mux
}

func addPprof(mux *http.ServeMux) {
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
}

// listenAdmin claims the admin listener's address, so that a taken port
// fails the start like server.listen does.
func listenAdmin(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("server.admin_listen: %w", err)
	}
	return ln, nil
}

// newAdminServer is the admin listener's http.Server. Profiles take as
// long as they are asked to (?seconds=), so only the headers are bounded.
func newAdminServer(g prometheus.Gatherer, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           adminMux(g),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// gatewayMetrics are cmd/valet's own series: the plugin processes and the
// configuration reloads. Labels are store and plugin names from the config
// and a fixed outcome, so their number is bounded by the config.
type gatewayMetrics struct {
	reloads *prometheus.CounterVec
}

var (
	pluginUpDesc = prometheus.NewDesc("valet_plugin_up",
		"1 while the store's plugin process is up and healthy, else 0.", []string{"store", "plugin"}, nil)
	pluginRestartsDesc = prometheus.NewDesc("valet_plugin_restarts_total",
		"Times the store's plugin process was launched again after dying (failed attempts included); starts at 0 with each new plugin, e.g. after a reload changed the store.", []string{"store", "plugin"}, nil)
	pluginGaveUpDesc = prometheus.NewDesc("valet_plugin_gave_up",
		"1 when the store's plugin exhausted its restart budget and is not restarted again until a reload, else 0.", []string{"store", "plugin"}, nil)
)

// registerGatewayMetrics registers the plugin collector, which reads the
// generation gw serves at scrape time, and the reload counter.
func registerGatewayMetrics(reg prometheus.Registerer, gw *gateway) (*gatewayMetrics, error) {
	m := &gatewayMetrics{reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "valet_config_reloads_total", Help: "Configuration reloads by outcome: applied or rejected (the previous configuration kept serving).",
	}, []string{"outcome"})}
	// Both outcomes exist from the start, so a rate() sees the first one.
	m.reloads.WithLabelValues("applied")
	m.reloads.WithLabelValues("rejected")
	for _, c := range []prometheus.Collector{m.reloads, pluginCollector{gw}} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// pluginCollector reports every plugin of the configuration being served.
type pluginCollector struct{ gw *gateway }

func (pluginCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- pluginUpDesc
	ch <- pluginRestartsDesc
	ch <- pluginGaveUpDesc
}

func (c pluginCollector) Collect(ch chan<- prometheus.Metric) {
	gen := c.gw.live.Load()
	if gen == nil {
		return
	}
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	for _, name := range sortedKeys(gen.stores) {
		sp := gen.stores[name]
		plugin := gen.cfg.Stores[name].Provider
		ch <- prometheus.MustNewConstMetric(pluginUpDesc, prometheus.GaugeValue, b(sp.plugin.Healthy()), name, plugin)
		ch <- prometheus.MustNewConstMetric(pluginRestartsDesc, prometheus.CounterValue, float64(sp.plugin.Restarts()), name, plugin)
		ch <- prometheus.MustNewConstMetric(pluginGaveUpDesc, prometheus.GaugeValue, b(sp.plugin.GaveUp() != nil), name, plugin)
	}
}
