package plugins

import (
	"context"
	"os"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/valetgw/valet/internal/otelenv"
)

// tracingOn reports whether the standard OTEL_* environment, which the
// host passes through to plugins, asks for traces, as the gateway decides.
func tracingOn(getenv func(string) string) bool { return otelenv.Wanted(getenv) }

// envTracing builds the plugin process's tracer provider from the OTEL_*
// environment: an OTLP exporter (otelenv.Exporter), batched, with the
// sampler the SDK reads from OTEL_TRACES_SAMPLER (by default the
// gateway's sampling decision rides along as the parent's), and
// service.name "valet-plugin-NAME". It also installs the W3C trace-context propagator
// and the provider as the process's globals, so the storage SDKs' own
// spans join the call's trace.
func envTracing(ctx context.Context, getenv func(string) string, name string) (*sdktrace.TracerProvider, error) {
	exp, err := otelenv.Exporter(ctx, getenv)
	if err != nil {
		return nil, err
	}
	service := "valet-plugin"
	if name != "" {
		service += "-" + name
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attribute.String("service.name", service)))
	if err != nil {
		res = resource.Default()
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return tp, nil
}

// setupTracing gives Serve its tracer provider (nil when tracing is off)
// and the function that flushes it at shutdown.
func setupTracing(cfg *serveConfig, name string) (flush func()) {
	if cfg.tp != nil || cfg.mode == "WithTest" || !tracingOn(os.Getenv) {
		return func() {}
	}
	tp, err := envTracing(context.Background(), os.Getenv, name)
	if err != nil {
		cfg.log.Warn("tracing is off", "error", err.Error())
		return func() {}
	}
	cfg.tp = tp
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tp.Shutdown(ctx); err != nil {
			cfg.log.Warn("flushing traces", "error", err.Error())
		}
	}
}
