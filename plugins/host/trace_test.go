package host_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/valetgw/valet/plugins"
	"github.com/valetgw/valet/plugins/host"
	"github.com/valetgw/valet/providers"
	"github.com/valetgw/valet/providers/memprovider"
)

// ctxRecorder keeps the context its provider's SignGet was called with.
type ctxRecorder struct {
	*memprovider.Provider
	got chan trace.SpanContext
}

func (r *ctxRecorder) SignGet(ctx context.Context, req providers.GetRequest) (providers.Recipe, error) {
	r.got <- trace.SpanContextFromContext(ctx)
	return r.Provider.SignGet(ctx, req)
}

// The W3C trace context of a call crosses the real stream: a span context
// set on the host side is the parent of the plugin side's span, whose
// context the provider gets; with the default no-op propagator nothing is
// carried, and the plugin's span is a root.
func TestTraceContextCrossesTheHop(t *testing.T) {
	prev := otel.GetTextMapPropagator()
	t.Cleanup(func() { otel.SetTextMapPropagator(prev) })

	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	mem := memprovider.New()
	t.Cleanup(mem.Close)
	rec := &ctxRecorder{Provider: mem, got: make(chan trace.SpanContext, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel) // after the host below has closed
	attached := make(chan plugins.Reattach, 1)
	go func() {
		_ = plugins.Serve(rec, plugins.WithTest(ctx, func(r plugins.Reattach) { attached <- r }), plugins.WithTracerProvider(tp))
	}()
	var r plugins.Reattach
	select {
	case r = <-attached:
	case <-time.After(time.Minute):
		t.Fatal("Serve never listened")
	}
	h := newHost(t, func(o *host.Options) { o.Reattach = map[string]plugins.Reattach{"traced": r} })
	t.Cleanup(func() { h.Close() })
	p, err := h.Start(context.Background(), host.Spec{Store: "media", Plugin: "traced", Config: []byte("{}")})
	if err != nil {
		t.Fatal(err)
	}

	otel.SetTextMapPropagator(propagation.TraceContext{})
	caller := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
	})
	if _, err := p.SignGet(trace.ContextWithSpanContext(context.Background(), caller), providers.GetRequest{Key: "a/b", TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	got := <-rec.got
	if got.TraceID() != caller.TraceID() {
		t.Fatalf("provider's span context = trace %s, want the caller's trace %s", got.TraceID(), caller.TraceID())
	}
	span := lastSpan(t, spans, "plugin.SignGet")
	if span.Parent().SpanID() != caller.SpanID() || span.Parent().TraceID() != caller.TraceID() || !span.Parent().IsRemote() {
		t.Errorf("plugin.SignGet's parent = %v, want the caller's span %s (remote)", span.Parent(), caller.SpanID())
	}
	if span.SpanContext().SpanID() != got.SpanID() {
		t.Errorf("the provider ran in span %s, not in plugin.SignGet (%s)", got.SpanID(), span.SpanContext().SpanID())
	}
	want := map[string]string{"valet.plugin.method": "SignGet", "valet.store": "media", "valet.outcome": "OK"}
	attrs := map[string]string{}
	for _, kv := range span.Attributes() {
		attrs[string(kv.Key)] = kv.Value.Emit()
	}
	for k, v := range want {
		if attrs[k] != v {
			t.Errorf("plugin.SignGet attribute %s = %q, want %q (all: %v)", k, attrs[k], v, attrs)
		}
	}
	if len(attrs) != len(want) {
		t.Errorf("plugin.SignGet has attributes %v, want exactly %v", attrs, want)
	}

	// No propagator configured: nothing travels, the plugin's span is a root.
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator())
	if _, err := p.SignGet(trace.ContextWithSpanContext(context.Background(), caller), providers.GetRequest{Key: "a/c", TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if got := <-rec.got; got.TraceID() == caller.TraceID() {
		t.Errorf("without a propagator the caller's trace %s still reached the provider", got.TraceID())
	}
	if span := lastSpan(t, spans, "plugin.SignGet"); span.Parent().IsValid() {
		t.Errorf("without a propagator plugin.SignGet has parent %v, want none", span.Parent())
	}
}

func lastSpan(t *testing.T, rec *tracetest.SpanRecorder, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	ended := rec.Ended()
	for i := len(ended) - 1; i >= 0; i-- {
		if ended[i].Name() == name {
			return ended[i]
		}
	}
	t.Fatalf("no %s span among %d ended spans", name, len(ended))
	return nil
}
