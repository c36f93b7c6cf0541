package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// signedItem is one key's answer from POST .../objects/sign.
type signedItem struct {
	Key       string            `json:"key"`
	URL       string            `json:"url"`
	Method    string            `json:"method"`
	Headers   map[string]string `json:"headers"`
	ExpiresAt time.Time         `json:"expires_at"`
	Error     *struct {
		Code   string `json:"code"`
		Status int    `json:"status"`
	} `json:"error"`
}

// TestBatchSigning runs batch GET signing against the real binary, its
// plugin process and a real backend (the local store and versitygw):
// several uploaded objects are signed in one request and fetched byte for
// byte from storage, another subject's key is that item's 403, a missing
// key (with check_exists) its 404, and the gateway's metrics show one
// SignGets call to the plugin for the batch and no SignGet.
func TestBatchSigning(t *testing.T) {
	for _, name := range []string{"local", "s3-versitygw"} {
		b := backendNamed(t, name)
		t.Run(name, func(t *testing.T) { testBatchSigning(t, b) })
	}
}

func testBatchSigning(t *testing.T, b backend) {
	env := newGatewayEnv(t, map[string]any{"media": subjectStore(t, b, []string{testOrigin}, map[string]any{
		"max_size": "1MiB", "content_types": []string{"application/octet-stream"}, "get_ttl": "5m", "max_ttl": "1h", "max_batch": 8,
	})})
	g := startGateway(t, env)
	alice := mint(t, env.HS256, "alice", 10*time.Minute, nil)
	bob := mint(t, env.HS256, "bob", 10*time.Minute, nil)

	var keys []string
	bodies := map[string][]byte{}
	for i := range 4 {
		body := append([]byte(fmt.Sprintf("clip %d\n", i)), randomBytes(t, 1000+i)...)
		o := upload(t, g, g, "media", alice, fmt.Sprintf("clip-%d.bin", i), "application/octet-stream", body)
		keys = append(keys, o.Key)
		bodies[o.Key] = body
	}
	bobs := upload(t, g, g, "media", bob, "bob.bin", "application/octet-stream", []byte("bob's own"))
	missing := strings.TrimSuffix(keys[0], "clip-0.bin") + "never-uploaded.bin"
	asked := append(append([]string{}, keys...), bobs.Key, missing)

	before := pluginCalls(t, g)
	r := g.do(t, "POST", "/v1/stores/media/objects/sign", alice, map[string]any{"keys": asked, "ttl": 600, "check_exists": true})
	want(t, r, http.StatusOK)
	out := decodeJSON[struct{ Items []signedItem }](t, r)
	after := pluginCalls(t, g)
	if len(out.Items) != len(asked) {
		t.Fatalf("%d items for %d keys: %s", len(out.Items), len(asked), r.Body)
	}
	for i, it := range out.Items {
		if it.Key != asked[i] {
			t.Fatalf("item %d is %q, want %q", i, it.Key, asked[i])
		}
		switch i {
		case 4:
			if it.Error == nil || it.Error.Code != "policy_denied" || it.Error.Status != 403 || it.URL != "" {
				t.Errorf("another subject's key: %+v, want only a 403 policy_denied", it)
			}
		case 5:
			if it.Error == nil || it.Error.Code != "object_not_found" || it.Error.Status != 404 || it.URL != "" {
				t.Errorf("missing key: %+v, want only a 404 object_not_found", it)
			}
		default:
			if it.Error != nil || it.Method != "GET" {
				t.Fatalf("item %d: %+v, want a signed GET", i, it)
			}
			if d := time.Until(it.ExpiresAt); d < 8*time.Minute || d > 11*time.Minute {
				t.Errorf("item %d expires in %s, want about the 10 minutes asked", i, d)
			}
			status, got, _ := fetch(t, it.URL, it.Headers)
			if status != 200 || !bytes.Equal(got, bodies[it.Key]) {
				t.Errorf("GET %s from storage: %d, %d bytes, want the %d uploaded", it.Key, status, len(got), len(bodies[it.Key]))
			}
		}
	}
	// One plugin call signed the batch; the lookups are one Head per key
	// the rule allowed (the four clips and the missing one).
	for op, n := range map[string]float64{"sign_gets": 1, "sign_get": 0, "head": 5} {
		if d := after[op] - before[op]; d != n {
			t.Errorf("%s calls for the batch: %v, want %v", op, d, n)
		}
	}
	// Over max_batch is the batch's own 400.
	wantCode(t, g.do(t, "POST", "/v1/stores/media/objects/sign", alice, map[string]any{"keys": append(asked, asked...)}), 400, "invalid_batch")
}

// pluginCalls reads valet_provider_calls_total of store media from the
// gateway's /metrics, summed over outcomes, by operation.
func pluginCalls(t *testing.T, g *gateway) map[string]float64 {
	t.Helper()
	r := g.do(t, "GET", "/metrics", "", nil)
	want(t, r, http.StatusOK)
	calls := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(r.Body))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "valet_provider_calls_total{") || !strings.Contains(line, `store="media"`) {
			continue
		}
		_, rest, _ := strings.Cut(line, `op="`)
		op, _, _ := strings.Cut(rest, `"`)
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		calls[op] += v
	}
	return calls
}
