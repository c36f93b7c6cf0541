package plugins

import "testing"

// Tracing is on only when the standard OTEL_* variables ask for it.
func TestTracingOn(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want bool
	}{
		{nil, false},
		{map[string]string{"OTEL_SERVICE_NAME": "valet"}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, true},
		{map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true},
		{map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, false},
		{map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, false},
	} {
		if got := tracingOn(func(k string) string { return tc.env[k] }); got != tc.want {
			t.Errorf("tracingOn(%v) = %v, want %v", tc.env, got, tc.want)
		}
	}
}

// An exporter a plugin cannot use is refused with the variable named, and
// Serve then serves untraced.
func TestEnvTracingRefusesOtherExporters(t *testing.T) {
	for _, env := range []map[string]string{
		{"OTEL_TRACES_EXPORTER": "zipkin"},
		{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
	} {
		if _, err := envTracing(t.Context(), func(k string) string { return env[k] }, "x"); err == nil {
			t.Errorf("envTracing(%v) = nil error", env)
		}
	}
}
