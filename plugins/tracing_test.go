package plugins

import "testing"

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
