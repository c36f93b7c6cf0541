package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/valetgw/valet/internal/testenv"
)

// readiness is the body of GET /readyz.
type readiness struct {
	Status string `json:"status"`
	Stores map[string]struct {
		Up          bool    `json:"up"`
		Plugin      string  `json:"plugin"`
		Backend     string  `json:"backend"`
		LastContact *string `json:"last_contact"`
		LastOutcome string  `json:"last_outcome"`
		Circuit     string  `json:"circuit"`
	} `json:"stores"`
}

// metric is the value of one series on the gateway's /metrics, written
// as the text format does (labels in name order), or "" when absent.
func metric(t *testing.T, g *gateway, series string) string {
	t.Helper()
	r := g.do(t, "GET", "/metrics", "", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("/metrics: %s", r)
	}
	for _, line := range strings.Split(string(r.Body), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}

// The real gateway with two stores: a local one, and an S3 one whose
// server (versitygw) is stopped after the gateway started, so its port is
// closed. /readyz stays 200 (the replica can serve the local store) and
// reports each store's state, valet_store_backend_up says which store is
// down, and once three calls in a row found the backend unreachable the
// S3 store answers 503 with Retry-After without calling its plugin, while
// the local store keeps serving uploads.
func TestReadyzReportsEachStore(t *testing.T) {
	srv := testenv.Versitygw(t)
	bucket := srv.CreateBucket(t, "readyz")
	s3 := backend{Provider: "s3", Setup: func(t *testing.T, _ []string) map[string]any { return s3StoreConfig(t, srv, bucket) }}
	stores := map[string]any{
		"media":   gatewayStores(t, localBackend(t))["media"],
		"archive": subjectStore(t, s3, []string{testOrigin}, map[string]any{"max_size": "1MiB"}),
	}
	env := newGatewayEnv(t, stores)
	g := startGateway(t, env)
	token := mint(t, env.HS256, "alice", time.Hour, nil)
	list := func(store string) apiResp {
		return g.do(t, "GET", "/v1/stores/"+store+"/objects?prefix=users/alice/", token, nil)
	}
	ready := func() (int, readiness) {
		t.Helper()
		r := g.do(t, "GET", "/readyz", "", nil)
		// Fixed words only: no endpoint, key, secret or error text.
		for _, leak := range []string{srv.Endpoint, srv.AccessKey, srv.SecretKey, "refused"} {
			if strings.Contains(string(r.Body), leak) {
				t.Fatalf("/readyz carries %q: %s", leak, r.Body)
			}
		}
		return r.Status, decodeJSON[readiness](t, r)
	}

	status, rd := ready()
	if status != http.StatusOK || rd.Status != "ready" || rd.Stores["archive"].Plugin != "up" || rd.Stores["archive"].LastOutcome != "none" || !rd.Stores["media"].Up {
		t.Fatalf("readyz at start: %d %+v", status, rd)
	}
	want(t, list("archive"), http.StatusOK)
	if _, rd := ready(); rd.Stores["archive"].LastOutcome != "ok" || rd.Stores["archive"].LastContact == nil {
		t.Fatalf("after a listing: %+v", rd.Stores["archive"])
	}

	srv.Process.Stop()
	for i := 0; i < 3; i++ {
		wantCode(t, list("archive"), http.StatusServiceUnavailable, "provider_unavailable")
	}
	status, rd = ready()
	a := rd.Stores["archive"]
	if status != http.StatusOK || rd.Status != "ready" {
		t.Errorf("readyz with one backend down: %d %+v, want 200 (the replica still serves)", status, rd)
	}
	if a.Up || a.Plugin != "up" || a.Backend != "down" || a.LastOutcome != "unavailable" || a.Circuit != "open" || a.LastContact == nil {
		t.Errorf("readyz stores.archive with its backend down: %+v", a)
	}
	if m := rd.Stores["media"]; !m.Up || m.Backend != "up" || m.Plugin != "up" {
		t.Errorf("readyz stores.media: %+v", m)
	}

	calls := func() string {
		return metric(t, g, `valet_provider_calls_total{code="Unavailable",op="list",provider="s3",store="archive"}`)
	}
	before := calls()
	if before != "3" {
		t.Fatalf("valet_provider_calls_total for the failed listings = %q, want 3", before)
	}
	start := time.Now()
	r := list("archive")
	elapsed := time.Since(start)
	wantCode(t, r, http.StatusServiceUnavailable, "provider_unavailable")
	if r.Header.Get("Retry-After") == "" {
		t.Errorf("the open store's 503 has no Retry-After: %v", r.Header)
	}
	// server.provider_timeout is 30s: the answer came without waiting on
	// the backend, and without a call to the plugin.
	if elapsed > 10*time.Second {
		t.Errorf("the open store took %s to answer", elapsed)
	}
	if after := calls(); after != before {
		t.Errorf("the open store called its plugin: %s Unavailable list calls, was %s", after, before)
	}

	for store, v := range map[string]string{"archive": "0", "media": "1"} {
		if got := metric(t, g, `valet_store_backend_up{store="`+store+`"}`); got != v {
			t.Errorf("valet_store_backend_up{store=%q} = %q, want %s", store, got, v)
		}
	}
	upload(t, g, g, "media", token, "still.txt", "text/plain", randomBytes(t, 64))
	want(t, list("media"), http.StatusOK)
}
