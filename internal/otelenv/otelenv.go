// Package otelenv reads the standard OTEL_* environment for traces. The
// gateway and its plugin processes both read it (the host passes OTEL_*
// through to plugins), so they decide in one place whether to trace and
// how to export. It builds no tracer provider: resource and propagators
// differ between the gateway and a plugin, and stay with each.
package otelenv

import (
	"context"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Wanted reports whether the environment asks for traces: an exporter
// other than "none", or an OTLP endpoint, and the SDK not disabled.
// Tracing is off when none is set.
func Wanted(getenv func(string) string) bool {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false
	}
	switch exp := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); exp {
	case "none":
		return false
	case "":
		return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
	}
	return true
}

// Exporter builds the OTLP span exporter the environment names:
// http/protobuf by default, grpc after OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL.
// The exporter reads its endpoint, headers and TLS settings itself. Any
// OTEL_TRACES_EXPORTER but otlp, or another protocol, is an error naming
// the variable.
func Exporter(ctx context.Context, getenv func(string) string) (sdktrace.SpanExporter, error) {
	if exp := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); exp != "" && exp != "otlp" {
		return nil, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: valet exports traces with otlp (or none)", exp)
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
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL=%q: use http/protobuf or grpc", protocol)
	}
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	return exp, nil
}
