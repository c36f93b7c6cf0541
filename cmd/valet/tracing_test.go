package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
)

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
