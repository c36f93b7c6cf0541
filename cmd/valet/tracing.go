package main

import (
	"context"
	"fmt"
	"log/slog"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/valetgw/valet/internal/otelenv"
)

// newTracing builds the gateway's tracer provider from the OTEL_*
// environment, or returns nil when tracing is off (otelenv.Wanted: the
// plugins, which get the same environment through host.DefaultEnv, decide
// the same way). It exports over OTLP (otelenv.Exporter), batched
// (OTEL_BSP_*), sampled as OTEL_TRACES_SAMPLER and _ARG say (by default
// every trace, or as the caller's traceparent decided), with
// service.name "valet" unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES
// name another. It installs the provider and the W3C trace-context
// propagator as the process's globals: the plugin host injects each call's
// context with the global propagator, so the plugins' spans join the trace.
func newTracing(ctx context.Context, getenv func(string) string, log *slog.Logger) (*sdktrace.TracerProvider, error) {
	if !otelenv.Wanted(getenv) {
		return nil, nil
	}
	exp, err := otelenv.Exporter(ctx, getenv)
	if err != nil {
		return nil, err
	}
	// Later detectors win: the environment's service name over "valet".
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "valet"), attribute.String("service.version", currentVersion())),
		resource.WithTelemetrySDK(), resource.WithFromEnv())
	if err != nil {
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("tracing", "err", err.Error())
	}))
	return tp, nil
}
