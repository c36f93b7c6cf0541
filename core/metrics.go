package core

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/valetgw/valet/providers"
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

// metered records every failed call of a store's provider in
// valet_provider_errors_total, so that handlers need not. A NotFound is an
// answer (no such object or upload), not a failure, and is not counted.
type metered struct {
	p     providers.Provider
	store string
	errs  *prometheus.CounterVec
}

// meteredMultipart is metered for a provider with multipart uploads.
type meteredMultipart struct {
	metered
	mp providers.Multipart
}

// meter wraps p; the result has providers.Multipart exactly when p has.
func (m *metrics) meter(store string, p providers.Provider) providers.Provider {
	base := metered{p: p, store: store, errs: m.providerErrors}
	if mp, ok := p.(providers.Multipart); ok {
		return &meteredMultipart{metered: base, mp: mp}
	}
	return &base
}

func (m *metered) record(op string, err error) {
	if err != nil && providers.CodeOf(err) != providers.NotFound {
		m.errs.WithLabelValues(m.store, op, string(providers.CodeOf(err))).Inc()
	}
}

// Healthy passes on the provider's own health (see healthy).
func (m *metered) Healthy() bool { return healthy(m.p) }

func (m *metered) Info(ctx context.Context) (providers.Info, error) {
	i, err := m.p.Info(ctx)
	m.record("info", err)
	return i, err
}

func (m *metered) Configure(ctx context.Context, cfg providers.StoreConfig) error {
	err := m.p.Configure(ctx, cfg)
	m.record("configure", err)
	return err
}

func (m *metered) SignPut(ctx context.Context, req providers.PutRequest) (providers.Recipe, error) {
	rc, err := m.p.SignPut(ctx, req)
	m.record("sign_put", err)
	return rc, err
}

func (m *metered) SignGet(ctx context.Context, req providers.GetRequest) (providers.Recipe, error) {
	rc, err := m.p.SignGet(ctx, req)
	m.record("sign_get", err)
	return rc, err
}

func (m *metered) SignDelete(ctx context.Context, req providers.SignDeleteRequest) (providers.Recipe, error) {
	rc, err := m.p.SignDelete(ctx, req)
	m.record("sign_delete", err)
	return rc, err
}

func (m *metered) Head(ctx context.Context, req providers.HeadRequest) (providers.Object, error) {
	o, err := m.p.Head(ctx, req)
	m.record("head", err)
	return o, err
}

func (m *metered) List(ctx context.Context, req providers.ListRequest) (providers.ListPage, error) {
	page, err := m.p.List(ctx, req)
	m.record("list", err)
	return page, err
}

func (m *metered) Delete(ctx context.Context, req providers.DeleteRequest) (providers.DeleteResult, error) {
	res, err := m.p.Delete(ctx, req)
	m.record("delete", err)
	return res, err
}

func (m *meteredMultipart) CreateMultipart(ctx context.Context, req providers.CreateMultipartRequest) (providers.MultipartUpload, error) {
	u, err := m.mp.CreateMultipart(ctx, req)
	m.record("create_multipart", err)
	return u, err
}

func (m *meteredMultipart) SignParts(ctx context.Context, req providers.SignPartsRequest) (providers.SignPartsResult, error) {
	ps, err := m.mp.SignParts(ctx, req)
	m.record("sign_parts", err)
	return ps, err
}

func (m *meteredMultipart) CompleteMultipart(ctx context.Context, req providers.CompleteMultipartRequest) (providers.Object, error) {
	o, err := m.mp.CompleteMultipart(ctx, req)
	m.record("complete_multipart", err)
	return o, err
}

func (m *meteredMultipart) AbortMultipart(ctx context.Context, req providers.AbortMultipartRequest) (providers.AbortMultipartResult, error) {
	res, err := m.mp.AbortMultipart(ctx, req)
	m.record("abort_multipart", err)
	return res, err
}

func (m *meteredMultipart) ListParts(ctx context.Context, req providers.ListPartsRequest) (providers.ListPartsResult, error) {
	ps, err := m.mp.ListParts(ctx, req)
	m.record("list_parts", err)
	return ps, err
}
