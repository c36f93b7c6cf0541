package plugins

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// tracingOn reports whether the standard OTEL_* environment, which the
// host passes through to plugins, asks for traces: an exporter other than
// "none", or an OTLP endpoint, and the SDK not disabled.
func tracingOn(getenv func(string) string) bool {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		return false
	}
	switch exp := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); {
	case exp == "none":
		return false
	case exp != "":
		return true
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// envTracing builds the plugin process's tracer provider from the OTEL_*
// environment: an OTLP exporter (gRPC or HTTP/protobuf, after
// OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL; the exporters read their endpoint,
// headers and TLS settings themselves), batched, with the sampler the SDK
// reads from OTEL_TRACES_SAMPLER (by default the gateway's sampling
// decision rides along as the parent's), and service.name
// "valet-plugin-NAME". It also installs the W3C trace-context propagator
// and the provider as the process's globals, so the storage SDKs' own
// spans join the call's trace.
func envTracing(ctx context.Context, getenv func(string) string, name string) (*sdktrace.TracerProvider, error) {
	if exp := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); exp != "" && exp != "otlp" {
		return nil, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: a plugin exports traces with otlp only", exp)
	}
	protocol := getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if protocol == "" {
		protocol = getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	var (
		exp sdktrace.SpanExporter
		err error
	)
	switch protocol {
	case "", "http/protobuf":
		exp, err = otlptracehttp.New(ctx)
	case "grpc":
		exp, err = otlptracegrpc.New(ctx)
	default:
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL=%q: use grpc or http/protobuf", protocol)
	}
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
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
