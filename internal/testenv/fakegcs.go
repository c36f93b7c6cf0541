package testenv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valetgw/valet/internal/testenv/gcsproxy"
)

// FakeGCSServer is a running fake-gcs-server (in-memory backend, plain
// HTTP). It serves the data path but verifies nothing about signed URLs;
// VerifiedGCS puts gcsproxy in front of it for that.
type FakeGCSServer struct {
	// URL is http://127.0.0.1:PORT. Its host:port is the server's
	// -public-host, so XML (path-style) requests must carry it as Host.
	URL     string
	Process *Process
}

// FakeGCS starts fake-gcs-server on a free port.
func FakeGCS(t testing.TB) *FakeGCSServer {
	t.Helper()
	bin := Tool(t, "fake-gcs-server")
	port := FreePort(t)
	addr := Addr(port)
	s := &FakeGCSServer{URL: "http://" + addr}
	cmd := exec.Command(bin, "-scheme", "http", "-host", "127.0.0.1", "-port", strconv.Itoa(port),
		"-backend", "memory", "-public-host", addr, "-external-url", s.URL, "-log-level", "warn")
	s.Process = Start(t, Spec{Name: "fake-gcs-server", Cmd: cmd, Ready: HTTPReady(s.URL + "/_internal/healthcheck")})
	return s
}

// GCS is fake-gcs-server behind the verifying proxy. Signed URLs point at
// ProxyHost; the JSON API (JSONEndpoint) goes to fake-gcs-server directly,
// unauthenticated.
type GCS struct {
	*FakeGCSServer
	Proxy     *gcsproxy.Proxy
	ProxyHost string // 127.0.0.1:PORT
	// ProxyJSONEndpoint is the JSON API through the proxy's front
	// (gcsproxy.JSONAPI), which keeps bucket CORS as GCS does.
	ProxyJSONEndpoint string
}

// VerifiedGCS starts fake-gcs-server and, in process, gcsproxy in front of
// it, trusting keys and answering CORS for origins. Both stop in t.Cleanup.
func VerifiedGCS(t testing.TB, keys gcsproxy.Keys, origins []string) *GCS {
	t.Helper()
	g := &GCS{FakeGCSServer: FakeGCS(t)}
	var err error
	g.Proxy, err = gcsproxy.New(gcsproxy.Options{Upstream: g.URL, Keys: keys, AllowedOrigins: origins})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g.Proxy)
	t.Cleanup(srv.Close)
	g.ProxyHost = strings.TrimPrefix(srv.URL, "http://")
	api := httptest.NewServer(g.Proxy.JSONAPI())
	t.Cleanup(api.Close)
	g.ProxyJSONEndpoint = api.URL + "/storage/v1/"
	return g
}

// JSONEndpoint is the JSON API endpoint for option.WithEndpoint.
func (s *FakeGCSServer) JSONEndpoint() string { return s.URL + "/storage/v1/" }

// CreateBucket creates a fresh, uniquely named bucket and returns its name.
func (s *FakeGCSServer) CreateBucket(t testing.TB, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d-%d", strings.ToLower(prefix), time.Now().UnixNano()%1e9, bucketSeq.Add(1))
	body, _ := json.Marshal(map[string]string{"name": name})
	resp, err := http.Post(s.URL+"/storage/v1/b?project=valet-test", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("fake-gcs: create bucket: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("fake-gcs: create bucket %s: %d %s", name, resp.StatusCode, b)
	}
	return name
}

// ObjectNames lists every object name under prefix in bucket, through the
// JSON API and without any signature, for inspecting test outcomes.
func (s *FakeGCSServer) ObjectNames(t testing.TB, bucket, prefix string) []string {
	t.Helper()
	var names []string
	token := ""
	for {
		u := s.URL + "/storage/v1/b/" + url.PathEscape(bucket) + "/o?prefix=" + url.QueryEscape(prefix)
		if token != "" {
			u += "&pageToken=" + url.QueryEscape(token)
		}
		resp, err := http.Get(u)
		if err != nil {
			t.Fatalf("fake-gcs: list: %v", err)
		}
		var page struct {
			Items []struct {
				Name string `json:"name"`
			} `json:"items"`
			NextPageToken string `json:"nextPageToken"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("fake-gcs: list: %v", err)
		}
		for _, it := range page.Items {
			names = append(names, it.Name)
		}
		if page.NextPageToken == "" {
			return names
		}
		token = page.NextPageToken
	}
}
