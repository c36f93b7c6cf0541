package core

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/valetgw/valet/internal/testenv"
	"github.com/valetgw/valet/providers"
)

// tracedServer is a Server over the in-memory provider that records its
// spans and its log.
func tracedServer(t *testing.T) (*httptest.Server, *tracetest.SpanRecorder, *testenv.Buffer) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	logs := &testenv.Buffer{}
	srv, err := New(testConfig(t, ""), map[string]providers.Provider{"media": newFake(t)}, Options{
		Logger: slog.New(slog.NewJSONHandler(logs, nil)), TracerProvider: tp,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return hs, rec, logs
}

func attrs(s sdktrace.ReadOnlySpan) map[string]string {
	m := map[string]string{}
	for _, kv := range s.Attributes() {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}

// A request gets one server span named by its route template, a child of
// the caller's traceparent, with one child span per provider call; the
// request's log line carries the trace id, and no span carries the key,
// the subject, the token or the signed URL.
func TestTraces(t *testing.T) {
	hs, rec, logs := tracedServer(t)
	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	tok, err := MintDevToken(testConfig(t, ""), "alice", nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"size": 5, "content_type": "text/plain", "filename": "secret-name.txt"}`
	req, _ := http.NewRequest("POST", hs.URL+"/v1/stores/media/uploads?access_token=query-token", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created struct{ Key, URL string }
	if err := json.NewDecoder(res.Body).Decode(&created); err != nil || res.StatusCode != 201 {
		t.Fatalf("create: %d %v", res.StatusCode, err)
	}
	res.Body.Close()

	// The server span ends, and the log line is written, just after the
	// response has gone out.
	var spans []sdktrace.ReadOnlySpan
	var server, call sdktrace.ReadOnlySpan
	for deadline := time.Now().Add(10 * time.Second); server == nil && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		spans = rec.Ended()
		for _, s := range spans {
			switch s.SpanKind() {
			case trace.SpanKindServer:
				server = s
			case trace.SpanKindClient:
				call = s
			}
		}
	}
	if server == nil || call == nil {
		t.Fatalf("want a server and a provider span, got %d spans", len(spans))
	}
	if server.Name() != "POST /v1/stores/{store}/uploads" {
		t.Errorf("server span name %q, want the route template", server.Name())
	}
	if got := server.SpanContext().TraceID().String(); got != traceID {
		t.Errorf("server span trace %s, want the incoming %s", got, traceID)
	}
	if got := server.Parent().SpanID().String(); got != parentID || !server.Parent().IsRemote() {
		t.Errorf("server span parent %s (remote %v), want %s", got, server.Parent().IsRemote(), parentID)
	}
	sa := attrs(server)
	for k, v := range map[string]string{"http.request.method": "POST", "http.route": "POST /v1/stores/{store}/uploads", "http.response.status_code": "201", "valet.store": "media", "valet.operation": "upload.create"} {
		if sa[k] != v {
			t.Errorf("server span %s = %q, want %q (all: %v)", k, sa[k], v, sa)
		}
	}
	if call.Name() != "provider.sign_put" || call.Parent().SpanID() != server.SpanContext().SpanID() {
		t.Errorf("provider span %q with parent %s, want provider.sign_put under %s", call.Name(), call.Parent().SpanID(), server.SpanContext().SpanID())
	}
	ca := attrs(call)
	for k, v := range map[string]string{"valet.store": "media", "valet.provider": "fake", "valet.operation": "sign_put", "valet.outcome": "OK"} {
		if ca[k] != v {
			t.Errorf("provider span %s = %q, want %q (all: %v)", k, ca[k], v, ca)
		}
	}
	if created.Key == "" || created.URL == "" {
		t.Fatalf("create answered no key or URL")
	}
	for _, s := range spans {
		for k, v := range attrs(s) {
			for _, secret := range []string{tok, "query-token", "alice", created.Key, created.URL, "secret-name"} {
				if strings.Contains(v, secret) {
					t.Errorf("span %s attribute %s holds %q", s.Name(), k, secret)
				}
			}
		}
	}
	var line map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if err := json.Unmarshal([]byte(l), &line); err == nil && line["msg"] == "request" {
			break
		}
	}
	if line["trace_id"] != traceID {
		t.Errorf("request log line trace_id = %v, want %s", line["trace_id"], traceID)
	}
}

// Without a TracerProvider nothing is traced and the log has no trace id.
func TestNoTracesByDefault(t *testing.T) {
	h := newHarness(t, "")
	h.do("POST", "/v1/stores/media/uploads", h.token("alice", nil), map[string]any{"size": 1, "content_type": "text/plain"})
	if strings.Contains(h.logs.String(), "trace_id") {
		t.Errorf("log has a trace id with tracing off: %s", h.logs.String())
	}
}

// Every provider call is counted by outcome and timed, and every signed URL
// handed out is counted by operation.
func TestProviderCallMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := &harness{t: t, fake: newFake(t), cfg: testConfig(t, ""), logs: &testenv.Buffer{}}
	h.startWith(h.fake, Options{Registerer: reg})

	tok := h.token("alice", nil)
	if r := h.do("POST", "/v1/stores/media/uploads", tok, map[string]any{"size": 1, "content_type": "text/plain"}); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	// 6 MiB is over the 4 MiB threshold: 6 parts of 1 MiB.
	if r := h.do("POST", "/v1/stores/media/uploads", tok, map[string]any{"size": 6 << 20, "content_type": "text/plain"}); r.status != 201 {
		t.Fatalf("multipart create: %d %s", r.status, r.body)
	}
	if r := h.do("GET", "/v1/stores/media/objects/users/alice/none.txt", tok, nil); r.status != 404 {
		t.Fatalf("missing object: %d %s", r.status, r.body)
	}
	h.fake.SetDown(true)
	if r := h.do("POST", "/v1/stores/media/uploads", tok, map[string]any{"size": 1, "content_type": "text/plain"}); r.status != 503 {
		t.Fatalf("down: %d %s", r.status, r.body)
	}
	calls := h.srv.metrics.calls
	for _, c := range []struct {
		op, code string
		want     float64
	}{
		{"sign_put", "OK", 1},
		{"sign_put", "Unavailable", 1},
		{"create_multipart", "OK", 1},
		{"head", "NotFound", 1},
	} {
		if got := testutil.ToFloat64(calls.WithLabelValues("media", "fake", c.op, c.code)); got != c.want {
			t.Errorf("valet_provider_calls_total{op=%s,code=%s} = %v, want %v", c.op, c.code, got, c.want)
		}
	}
	if got := testutil.ToFloat64(h.srv.metrics.signed.WithLabelValues("media", "put")); got != 1 {
		t.Errorf("signed put URLs = %v, want 1 (the failed call issued none)", got)
	}
	if got := testutil.ToFloat64(h.srv.metrics.signed.WithLabelValues("media", "part")); got < 1 {
		t.Errorf("signed part URLs = %v, want the multipart upload's first parts", got)
	}
	n, err := testutil.GatherAndCount(reg, "valet_provider_call_duration_seconds")
	if err != nil || n == 0 {
		t.Errorf("no provider latency series: %d %v", n, err)
	}
}

// meter wraps each optional capability on its own: present exactly when
// the provider has it.
func TestMeterWrapsEachCapability(t *testing.T) {
	m, err := newMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	full := m.meter("media", "memory", newFake(t), nil)
	if full.multipart == nil || full.reader == nil || full.getSigner == nil || full.postPolicy == nil || full.cors == nil {
		t.Errorf("the in-memory provider has every capability, got %+v", full)
	}
	bare := m.meter("media", "memory", providerOnly{newFake(t)}, nil)
	if bare.provider == nil || bare.multipart != nil || bare.reader != nil || bare.getSigner != nil || bare.postPolicy != nil || bare.cors != nil {
		t.Errorf("a bare provider has no optional capability, got %+v", bare)
	}
}

// providerOnly hides every optional capability of its provider.
type providerOnly struct{ providers.Provider }

// With the admin listener taking /metrics, the API answers 404 there.
func TestMetricsElsewhere(t *testing.T) {
	srv, err := New(testConfig(t, ""), map[string]providers.Provider{"media": newFake(t)}, Options{MetricsElsewhere: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	w := httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != 404 || strings.Contains(w.Body.String(), "valet_http_requests_total") {
		t.Errorf("/metrics on the API with MetricsElsewhere: %d %s", w.Code, w.Body.String())
	}
}
