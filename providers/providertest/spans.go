package providertest

import (
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// SpansKeepOut fails t for every span whose name, status, attributes or
// events contain one of secrets (empty ones are ignored), naming the span
// and the start of the secret only. It returns the number of "HTTP ..."
// spans in parent's trace other than parent, for the caller's own count.
func SpansKeepOut(t testing.TB, spans []sdktrace.ReadOnlySpan, parent sdktrace.ReadOnlySpan, secrets ...string) (httpChildren int) {
	t.Helper()
	for _, s := range spans {
		if parent != nil && s.SpanContext().TraceID() == parent.SpanContext().TraceID() && s != parent && strings.HasPrefix(s.Name(), "HTTP ") {
			httpChildren++
		}
		texts := []string{s.Name(), s.Status().Description}
		for _, kv := range s.Attributes() {
			texts = append(texts, string(kv.Key)+"="+kv.Value.Emit())
		}
		for _, e := range s.Events() {
			texts = append(texts, e.Name)
			for _, kv := range e.Attributes {
				texts = append(texts, string(kv.Key)+"="+kv.Value.Emit())
			}
		}
		for _, txt := range texts {
			for _, secret := range secrets {
				if secret != "" && strings.Contains(txt, secret) {
					t.Errorf("span %q holds %q: %q", s.Name(), secret[:min(len(secret), 6)]+"...", txt)
				}
			}
		}
	}
	return httpChildren
}
