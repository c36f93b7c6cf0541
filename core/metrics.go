package core

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	gatherer       prometheus.Gatherer
	requests       *prometheus.CounterVec
	latency        *prometheus.HistogramVec
	providerErrors *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "valet_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "valet_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
		providerErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "valet_provider_errors_total", Help: "Failed provider calls by store, operation and error code.",
		}, []string{"store", "op", "code"}),
	}
	if reg == nil {
		r := prometheus.NewRegistry()
		r.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
		reg = r
	}
	if g, ok := reg.(prometheus.Gatherer); ok {
		m.gatherer = g
	} else {
		m.gatherer = prometheus.DefaultGatherer
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.providerErrors} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
