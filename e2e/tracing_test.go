package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/valetgw/valet/internal/testenv"
)

// jaeger is a Jaeger v2 all-in-one process keeping traces in memory.
type jaeger struct {
	// OTLP is the OTLP/HTTP receiver's base URL (OTEL_EXPORTER_OTLP_ENDPOINT).
	OTLP string
	// Query is the query service's base URL (/api/traces/...).
	Query string
}

// startJaeger runs .tools/bin/jaeger (installed by e2e/install.sh) with
// in-memory storage, OTLP over gRPC and HTTP and the query API, all on
// loopback ports of their own.
func startJaeger(t testing.TB) *jaeger {
	t.Helper()
	bin := testenv.Tool(t, "jaeger")
	grpcPort, httpPort, queryPort, queryGRPC := testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
	cfg := fmt.Sprintf(`service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics: { level: none }
    logs: { level: warn }
    traces: { level: none }
extensions:
  jaeger_query:
    storage: { traces: mem }
    http: { endpoint: "%s" }
    grpc: { endpoint: "%s" }
  jaeger_storage:
    backends:
      mem: { memory: { max_traces: 100000 } }
receivers:
  otlp:
    protocols:
      grpc: { endpoint: "%s" }
      http: { endpoint: "%s" }
processors:
  batch: { timeout: 100ms }
exporters:
  jaeger_storage_exporter: { trace_storage: mem }
`, testenv.Addr(queryPort), testenv.Addr(queryGRPC), testenv.Addr(grpcPort), testenv.Addr(httpPort))
	path := writeFile(t, filepath.Join(t.TempDir(), "jaeger.yaml"), []byte(cfg))
	j := &jaeger{OTLP: "http://" + testenv.Addr(httpPort), Query: "http://" + testenv.Addr(queryPort)}
	testenv.Start(t, testenv.Spec{
		Name:       "jaeger",
		Cmd:        exec.Command(bin, "--config", "file:"+path),
		Ready:      testenv.HTTPStatus(j.Query+"/api/services", http.StatusOK),
		StopSignal: syscall.SIGTERM,
	})
	return j
}

// gatewayEnv is the OTEL_* environment that sends a process's traces to j,
// every one sampled, exported within a fraction of a second.
func (j *jaeger) env() []string {
	return []string{
		"OTEL_EXPORTER_OTLP_ENDPOINT=" + j.OTLP,
		"OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
		"OTEL_TRACES_SAMPLER=parentbased_always_on",
		"OTEL_BSP_SCHEDULE_DELAY=200",
	}
}

// jaegerSpan is a span as Jaeger's query API returns it.
type jaegerSpan struct {
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	ProcessID     string `json:"processID"`
	References    []struct {
		RefType string `json:"refType"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	Tags []struct {
		Key   string `json:"key"`
		Value any    `json:"value"`
	} `json:"tags"`
}

type jaegerTrace struct {
	Spans     []jaegerSpan `json:"spans"`
	Processes map[string]struct {
		ServiceName string `json:"serviceName"`
	} `json:"processes"`
}

func (s jaegerSpan) parent() string {
	for _, r := range s.References {
		if r.RefType == "CHILD_OF" {
			return r.SpanID
		}
	}
	return ""
}

func (s jaegerSpan) tag(k string) string {
	for _, t := range s.Tags {
		if t.Key == k {
			return fmt.Sprint(t.Value)
		}
	}
	return ""
}

// trace fetches one trace, raw and decoded; a trace Jaeger does not have
// yet gives nil.
func (j *jaeger) trace(t testing.TB, id string) ([]byte, *jaegerTrace) {
	t.Helper()
	res, err := http.Get(j.Query + "/api/traces/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode == http.StatusNotFound {
		return raw, nil
	}
	var doc struct {
		Data []jaegerTrace `json:"data"`
	}
	if res.StatusCode != http.StatusOK || json.Unmarshal(raw, &doc) != nil || len(doc.Data) != 1 {
		t.Fatalf("jaeger /api/traces/%s: %d %s", id, res.StatusCode, tail(string(raw), 400))
	}
	return raw, &doc.Data[0]
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// One upload through the real gateway to versitygw, with the gateway and
// the s3 plugin exporting to a real Jaeger: the trace the client started
// (traceparent) holds the gateway's request spans, its provider-call spans
// and, under them, the plugin process's spans. No secret, token, signature
// or upload id is in any span.
func TestTracesAcrossThePluginHop(t *testing.T) {
	j := startJaeger(t)
	srv := testenv.Versitygw(t)
	bucket := srv.CreateBucket(t, "traced")
	env := newGatewayEnv(t, map[string]any{"media": map[string]any{
		"provider":     "s3",
		"config":       s3StoreConfig(t, srv, bucket),
		"key_template": "users/{subject}/{uuid}/{filename}",
		"limits":       map[string]any{"max_size": "1MiB", "content_types": []string{"text/plain"}, "put_ttl": "5m", "get_ttl": "5m", "max_ttl": "1h"},
		"rules":        map[string]any{"upload": "true", "read": "key.startsWith(key_prefix)"},
	}})
	g := startGateway(t, env, j.env()...)
	token := mint(t, env.HS256, "tracer", time.Hour, nil)

	traceID := randomHex(t, 16)
	traced := func(method, path string, body any) apiResp {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, err := http.NewRequest(method, g.URL+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("traceparent", "00-"+traceID+"-"+randomHex(t, 8)+"-01")
		return g.send(t, req)
	}
	content := randomBytes(t, 4096)
	r := traced("POST", "/v1/stores/media/uploads", uploadReq{Filename: "traced.txt", ContentType: "text/plain", Size: int64(len(content))})
	want(t, r, http.StatusCreated)
	slot := decodeJSON[uploadSlot](t, r)
	if st, b := putRecipe(t, slot, content); st != http.StatusOK {
		t.Fatalf("PUT to versitygw: %d %s", st, tail(b, 300))
	}
	want(t, traced("POST", "/v1/stores/media/uploads/"+slot.UploadID+"/complete", nil), http.StatusOK)
	r = traced("GET", "/v1/stores/media/objects/"+escapeKey(slot.Key), nil)
	want(t, r, http.StatusOK)
	obj := decodeJSON[object](t, r)

	// The spans the trace must hold: the gateway's request and provider
	// call, and the plugin's span for that call, as its child.
	type need struct{ service, name, parentName string }
	needs := []need{
		{"valet", "POST /v1/stores/{store}/uploads", ""},
		{"valet", "provider.sign_put", "POST /v1/stores/{store}/uploads"},
		{"valet-plugin-s3", "plugin.SignPut", "provider.sign_put"},
		{"valet", "POST /v1/stores/{store}/uploads/{upload_id}/complete", ""},
		{"valet", "provider.head", "POST /v1/stores/{store}/uploads/{upload_id}/complete"},
		{"valet-plugin-s3", "plugin.Head", "provider.head"},
		{"valet", "GET /v1/stores/{store}/objects/{key...}", ""},
		{"valet", "provider.sign_get", "GET /v1/stores/{store}/objects/{key...}"},
		{"valet-plugin-s3", "plugin.SignGet", "provider.sign_get"},
	}
	var raw []byte
	var tr *jaegerTrace
	var missing []string
	byID := map[string]jaegerSpan{}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		raw, tr = j.trace(t, traceID)
		missing = missing[:0]
		if tr != nil {
			for _, s := range tr.Spans {
				byID[s.SpanID] = s
			}
		}
		for _, n := range needs {
			found := false
			if tr != nil {
				for _, s := range tr.Spans {
					if s.OperationName != n.name || tr.Processes[s.ProcessID].ServiceName != n.service {
						continue
					}
					p, ok := byID[s.parent()]
					if n.parentName == "" && (!ok || tr.Processes[p.ProcessID].ServiceName != "valet") ||
						n.parentName != "" && ok && p.OperationName == n.parentName {
						found = true
					}
				}
			}
			if !found {
				missing = append(missing, n.service+": "+n.name)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(missing) > 0 {
		t.Fatalf("trace %s lacks %v; it has %s", traceID, missing, tail(string(raw), 3000))
	}

	// The storage SDK's own HTTP call (HeadObject) joins the trace as a
	// client span under plugin.Head.
	sdk := false
	for _, s := range tr.Spans {
		if p, ok := byID[s.parent()]; ok && p.OperationName == "plugin.Head" && tr.Processes[s.ProcessID].ServiceName == "valet-plugin-s3" {
			sdk = true
		}
	}
	if !sdk {
		t.Errorf("no span of the S3 SDK's HTTP call under plugin.Head in trace %s", traceID)
	}
	for _, s := range tr.Spans {
		if tr.Processes[s.ProcessID].ServiceName == "valet" && s.OperationName == "GET /v1/stores/{store}/objects/{key...}" && s.tag("http.response.status_code") != "200" {
			t.Errorf("GET object span status %q, want 200", s.tag("http.response.status_code"))
		}
	}

	// The leak check, over the whole trace as Jaeger returns it.
	secrets := map[string]string{
		"the JWT":              token,
		"the HS256 secret":     env.HS256,
		"the token secret":     env.Tokens,
		"the S3 secret key":    srv.SecretKey,
		"the upload id":        slot.UploadID,
		"the PUT's signature":  signature(t, slot.URL),
		"the GET's signature":  signature(t, obj.URL),
		"the PUT's signed URL": slot.URL,
		"the GET's signed URL": obj.URL,
	}
	for what, v := range secrets {
		if v == "" {
			t.Fatalf("%s is empty", what)
		}
		if bytes.Contains(raw, []byte(v)) || bytes.Contains(raw, []byte(url.QueryEscape(v))) {
			t.Errorf("trace %s holds %s", traceID, what)
		}
	}
	// The gateway's own spans name no key at all.
	for _, s := range tr.Spans {
		if tr.Processes[s.ProcessID].ServiceName != "valet" {
			continue
		}
		for _, tag := range s.Tags {
			if v := fmt.Sprint(tag.Value); strings.Contains(v, "traced.txt") {
				t.Errorf("gateway span %s tag %s = %q names the key", s.OperationName, tag.Key, v)
			}
		}
	}
}

// signature is the X-Amz-Signature of a presigned URL.
func signature(t testing.TB, u string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return p.Query().Get("X-Amz-Signature")
}
