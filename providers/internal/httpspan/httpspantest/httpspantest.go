// Package httpspantest is the providers' shared setup for testing the
// spans of package httpspan: one traced call on a recording tracer
// provider, and at its end the check that no span holds a secret. It is
// for tests only.
package httpspantest

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/valetgw/valet/providers/providertest"
)

// Call is a recording tracer provider and a span "call" begun on it. A
// test makes its provider calls with Ctx, then calls End.
type Call struct {
	TP    *sdktrace.TracerProvider
	Ctx   context.Context
	spans *tracetest.SpanRecorder
	span  trace.Span
}

// Start begins the traced call.
func Start() *Call {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	ctx, span := tp.Tracer("test").Start(context.Background(), "call")
	return &Call{TP: tp, Ctx: ctx, spans: spans, span: span}
}

// End ends the call, fails t for any span holding one of secrets
// (providertest.SpansKeepOut), and fails t unless at least minChildren
// HTTP spans are children of the call's trace.
func (c *Call) End(t testing.TB, minChildren int, secrets ...string) {
	t.Helper()
	c.span.End()
	var callSpan sdktrace.ReadOnlySpan
	for _, s := range c.spans.Ended() {
		if s.Name() == "call" {
			callSpan = s
		}
	}
	children := providertest.SpansKeepOut(t, c.spans.Ended(), callSpan, secrets...)
	if children < minChildren {
		t.Fatalf("%d HTTP child spans of the call, want at least %d (spans: %d)", children, minChildren, len(c.spans.Ended()))
	}
}
