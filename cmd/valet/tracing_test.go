package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
)

func TestTracingWanted(t *testing.T) {
	for _, tt := range []struct {
		env  map[string]string
		want bool
	}{
		{nil, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, true},
		{map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true},
		{map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, false},
		{map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, false},
	} {
		if got := tracingWanted(func(k string) string { return tt.env[k] }); got != tt.want {
			t.Errorf("tracingWanted(%v) = %v, want %v", tt.env, got, tt.want)
		}
	}
}

func TestTracingRefusesOtherExporters(t *testing.T) {
	for _, tt := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, `OTEL_TRACES_EXPORTER="zipkin"`},
		{map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, `OTEL_EXPORTER_OTLP_PROTOCOL="http/json"`},
	} {
		tp, err := newTracing(context.Background(), func(k string) string { return tt.env[k] }, slog.New(slog.DiscardHandler))
		if tp != nil || err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: got %v, %v; want an error naming %s", tt.env, tp, err, tt.want)
		}
	}
}
