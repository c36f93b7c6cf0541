package core

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/valetgw/valet/core/hooks"
	"github.com/valetgw/valet/providers"
)

// latencyBuckets are the histogram buckets of request and provider call
// latencies, in seconds.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// metrics are the Server's Prometheus series. Every label has a bounded set
// of values: route templates, methods, statuses, store and provider names
// from the config, operation names and outcome codes; never a key, a
// subject or a URL.
type metrics struct {
	gatherer prometheus.Gatherer
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	// calls counts provider calls by outcome: "OK", or the provider's
	// error code (NotFound included: it is an answer, not a failure).
	calls        *prometheus.CounterVec
	callDuration *prometheus.HistogramVec
	// signed counts the signed URLs (and form policies) handed out.
	signed *prometheus.CounterVec
	// hooks counts hook deliveries (core/hooks).
	hooks *hooks.Metrics

	// now is the clock of the stores' backend states (storestate.go).
	now func() time.Time
	// backends are the stores' backend states, kept across reloads while
	// a store keeps its provider instance.
	mu       sync.Mutex
	backends map[string]*backend
}

// newMetrics registers the series on reg, and extra collectors with them.
func newMetrics(reg prometheus.Registerer, extra ...prometheus.Collector) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "valet_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "valet_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: latencyBuckets,
		}, []string{"route"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "valet_provider_calls_total", Help: "Provider calls by store, provider, operation and outcome code (OK, or the provider's error code).",
		}, []string{"store", "provider", "op", "code"}),
		callDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "valet_provider_call_duration_seconds", Help: "Provider call latency by store, provider and operation.",
			Buckets: latencyBuckets,
		}, []string{"store", "provider", "op"}),
		signed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "valet_signed_urls_total", Help: "Signed URLs issued by store and operation (put, get, delete, part, post_policy).",
		}, []string{"store", "op"}),
		hooks:    hooks.NewMetrics(),
		now:      time.Now,
		backends: map[string]*backend{},
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
	for _, c := range append([]prometheus.Collector{m.requests, m.latency, m.calls, m.callDuration, m.signed, m.hooks}, extra...) {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// meteredStore is a store's provider with every call measured: counted by
// outcome, timed, and traced as a child span of the request. Each optional
// capability is wrapped on its own, and is nil when the provider lacks it,
// so a new capability is one more field, not twice the wrapper types.
type meteredStore struct {
	provider   providers.Provider
	multipart  providers.Multipart
	reader     providers.Reader
	getSigner  providers.GetSigner
	postPolicy providers.PostPolicySigner
	cors       providers.CORSConfigurer
}

// meter wraps p, the provider (named provider in the config) of store.
// tracer is nil when tracing is off.
func (m *metrics) meter(store, provider string, p providers.Provider, tracer trace.Tracer) meteredStore {
	pr := &probe{m: m, store: store, provider: provider, tracer: tracer, backend: m.backend(store, p)}
	ms := meteredStore{provider: &metered{probe: pr, p: p}}
	if mp, ok := p.(providers.Multipart); ok {
		ms.multipart = &meteredMultipart{probe: pr, mp: mp}
	}
	if r, ok := p.(providers.Reader); ok {
		ms.reader = &meteredReader{probe: pr, r: r}
	}
	if gs, ok := p.(providers.GetSigner); ok {
		ms.getSigner = &meteredGetSigner{probe: pr, gs: gs}
	}
	if pp, ok := p.(providers.PostPolicySigner); ok {
		ms.postPolicy = &meteredPostPolicy{probe: pr, pp: pp}
	}
	if cc, ok := p.(providers.CORSConfigurer); ok {
		ms.cors = &meteredCORS{probe: pr, cc: cc}
	}
	return ms
}

// backend is store's backend state for provider instance p: the one it
// had, when a reload kept p, else a fresh one.
func (m *metrics) backend(store string, p providers.Provider) *backend {
	m.mu.Lock()
	defer m.mu.Unlock()
	if b := m.backends[store]; b != nil && b.p == p {
		return b
	}
	b := newBackend(p, m.now)
	m.backends[store] = b
	return b
}

// probe measures the calls to one store's provider.
type probe struct {
	m               *metrics
	store, provider string
	tracer          trace.Tracer
	// backend records each call's outcome and may refuse a call at once
	// (storestate.go).
	backend *backend
}

// providerCall is one measured provider call; end it with done.
type providerCall struct {
	op    string
	start time.Time
	span  trace.Span
	// trial is true for the one call an open circuit lets through.
	trial bool
}

// begin starts measuring op. With tracing on, the returned context carries
// the call's span, so the plugin hop propagates it to the plugin.
func (pr *probe) begin(ctx context.Context, op string) (context.Context, providerCall) {
	c := providerCall{op: op, start: time.Now()}
	if pr.tracer != nil {
		ctx, c.span = pr.tracer.Start(ctx, "provider."+op, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(
				attribute.String("valet.store", pr.store),
				attribute.String("valet.provider", pr.provider),
				attribute.String("valet.operation", op)))
	}
	return ctx, c
}

// done records c's outcome. Only the error's code is recorded, never its
// text, which may name a key.
func (pr *probe) done(c providerCall, err error) {
	code := "OK"
	if err != nil {
		code = string(providers.CodeOf(err))
	}
	pr.backend.record(c.op, err, c.trial)
	pr.m.calls.WithLabelValues(pr.store, pr.provider, c.op, code).Inc()
	pr.m.callDuration.WithLabelValues(pr.store, pr.provider, c.op).Observe(time.Since(c.start).Seconds())
	if c.span != nil {
		c.span.SetAttributes(attribute.String("valet.outcome", code))
		if err != nil && code != string(providers.NotFound) {
			c.span.SetStatus(codes.Error, code)
		}
		c.span.End()
	}
}

// measure runs one provider call as op: begun, timed and its outcome
// recorded, with the call's span in the context it passes on. A store
// whose plugin is down or whose circuit is open fails it at once with
// Unavailable, without calling the provider (storestate.go).
func measure[Req, Res any](pr *probe, ctx context.Context, op string, call func(context.Context, Req) (Res, error), req Req) (Res, error) {
	trial, err := pr.backend.admit()
	if err != nil {
		var zero Res
		return zero, err
	}
	ctx, c := pr.begin(ctx, op)
	c.trial = trial
	res, err := call(ctx, req)
	pr.done(c, err)
	return res, err
}

// issued counts n signed URLs of kind op.
func (pr *probe) issued(op string, n int) {
	if n > 0 {
		pr.m.signed.WithLabelValues(pr.store, op).Add(float64(n))
	}
}

// metered is the measured providers.Provider.
type metered struct {
	*probe
	p providers.Provider
}

// Healthy passes on the provider's own health (see healthy).
func (m *metered) Healthy() bool { return healthy(m.p) }

func (m *metered) Info(ctx context.Context) (providers.Info, error) {
	ctx, c := m.begin(ctx, "info")
	i, err := m.p.Info(ctx)
	m.done(c, err)
	return i, err
}

func (m *metered) Configure(ctx context.Context, cfg providers.StoreConfig) error {
	_, err := measure(m.probe, ctx, "configure", func(ctx context.Context, cfg providers.StoreConfig) (struct{}, error) {
		return struct{}{}, m.p.Configure(ctx, cfg)
	}, cfg)
	return err
}

func (m *metered) SignPut(ctx context.Context, req providers.PutRequest) (providers.Recipe, error) {
	rc, err := measure(m.probe, ctx, "sign_put", m.p.SignPut, req)
	if err == nil {
		m.issued("put", 1)
	}
	return rc, err
}

func (m *metered) SignGet(ctx context.Context, req providers.GetRequest) (providers.Recipe, error) {
	rc, err := measure(m.probe, ctx, "sign_get", m.p.SignGet, req)
	if err == nil {
		m.issued("get", 1)
	}
	return rc, err
}

func (m *metered) SignDelete(ctx context.Context, req providers.SignDeleteRequest) (providers.Recipe, error) {
	rc, err := measure(m.probe, ctx, "sign_delete", m.p.SignDelete, req)
	if err == nil {
		m.issued("delete", 1)
	}
	return rc, err
}

func (m *metered) Head(ctx context.Context, req providers.HeadRequest) (providers.Object, error) {
	return measure(m.probe, ctx, "head", m.p.Head, req)
}

func (m *metered) List(ctx context.Context, req providers.ListRequest) (providers.ListPage, error) {
	return measure(m.probe, ctx, "list", m.p.List, req)
}

func (m *metered) Delete(ctx context.Context, req providers.DeleteRequest) (providers.DeleteResult, error) {
	return measure(m.probe, ctx, "delete", m.p.Delete, req)
}

// meteredMultipart is the measured providers.Multipart.
type meteredMultipart struct {
	*probe
	mp providers.Multipart
}

func (m *meteredMultipart) CreateMultipart(ctx context.Context, req providers.CreateMultipartRequest) (providers.MultipartUpload, error) {
	return measure(m.probe, ctx, "create_multipart", m.mp.CreateMultipart, req)
}

func (m *meteredMultipart) SignParts(ctx context.Context, req providers.SignPartsRequest) (providers.SignPartsResult, error) {
	ps, err := measure(m.probe, ctx, "sign_parts", m.mp.SignParts, req)
	if err == nil {
		m.issued("part", len(ps.Parts))
	}
	return ps, err
}

func (m *meteredMultipart) CompleteMultipart(ctx context.Context, req providers.CompleteMultipartRequest) (providers.Object, error) {
	return measure(m.probe, ctx, "complete_multipart", m.mp.CompleteMultipart, req)
}

func (m *meteredMultipart) AbortMultipart(ctx context.Context, req providers.AbortMultipartRequest) (providers.AbortMultipartResult, error) {
	return measure(m.probe, ctx, "abort_multipart", m.mp.AbortMultipart, req)
}

func (m *meteredMultipart) ListParts(ctx context.Context, req providers.ListPartsRequest) (providers.ListPartsResult, error) {
	return measure(m.probe, ctx, "list_parts", m.mp.ListParts, req)
}

// meteredReader is the measured providers.Reader.
type meteredReader struct {
	*probe
	r providers.Reader
}

func (m *meteredReader) ReadObject(ctx context.Context, req providers.ReadObjectRequest) (providers.ReadObjectResult, error) {
	return measure(m.probe, ctx, "read_object", m.r.ReadObject, req)
}

// meteredGetSigner is the measured providers.GetSigner. Each item signed
// counts as a signed URL; the items refused do not.
type meteredGetSigner struct {
	*probe
	gs providers.GetSigner
}

func (m *meteredGetSigner) SignGets(ctx context.Context, req providers.SignGetsRequest) (providers.SignGetsResult, error) {
	res, err := measure(m.probe, ctx, "sign_gets", m.gs.SignGets, req)
	if err == nil {
		n := 0
		for _, it := range res.Items {
			if it.Err == nil {
				n++
			}
		}
		m.issued("get", n)
	}
	return res, err
}

// meteredPostPolicy is the measured providers.PostPolicySigner.
type meteredPostPolicy struct {
	*probe
	pp providers.PostPolicySigner
}

func (m *meteredPostPolicy) SignPostPolicy(ctx context.Context, req providers.PostPolicyRequest) (providers.PostPolicy, error) {
	res, err := measure(m.probe, ctx, "sign_post_policy", m.pp.SignPostPolicy, req)
	if err == nil {
		m.issued("post_policy", 1)
	}
	return res, err
}

// meteredCORS is the measured providers.CORSConfigurer.
type meteredCORS struct {
	*probe
	cc providers.CORSConfigurer
}

func (m *meteredCORS) GetCORS(ctx context.Context, req providers.GetCORSRequest) (providers.CORSResult, error) {
	return measure(m.probe, ctx, "get_cors", m.cc.GetCORS, req)
}

func (m *meteredCORS) PutCORS(ctx context.Context, req providers.PutCORSRequest) (providers.PutCORSResult, error) {
	return measure(m.probe, ctx, "put_cors", m.cc.PutCORS, req)
}
