package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/valetgw/valet/internal/testenv"
)

// providerDoc is a provider page whose "## Try it locally" section is run
// as pasted, in a scratch folder that stands in for the repository root.
type providerDoc struct {
	page string
	// need checks the tools the page uses beyond curl, jq, openssl and
	// bash (testenv.Tool and friends skip, or fail with CI=true).
	need func(t *testing.T)
	// ports are the page's fixed ports (127.0.0.1:P, localhost:P, or a
	// --blobPort P or -port P flag), each replaced by a free one (8080, Valet's,
	// is always replaced).
	ports []int
	// ready has one URL per block the page runs in its own terminal, in
	// order, that answers below 500 once that server is up.
	ready []string
	// storeURL is the URL a browser uploads to, checked with preflights
	// from the page's origin and another after the page set CORS ("" for
	// a server that has no CORS to set).
	storeURL string
}

// TestProviderDocs follows docs/providers/minio.md, s3.md (versitygw),
// azure.md, gcs.md (fake-gcs-server) and local.md literally:
// start the emulator, write the config, make the secrets and the bucket or
// container, set CORS, start Valet, upload, download and compare. Only the
// ports are replaced (a shared machine may be using the page's), and
// bin/valet and .tools are the test's binary and the repository's tools,
// linked into the scratch folder. The page's relative paths (.dev/...)
// resolve in that folder, as they would at the repository root.
func TestProviderDocs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts emulators and a gateway")
	}
	for _, d := range []providerDoc{
		{
			page:     "minio.md",
			need:     func(t *testing.T) { testenv.Tool(t, "minio") },
			ports:    []int{9000, 9001},
			ready:    []string{"http://127.0.0.1:9000/minio/health/ready", "http://127.0.0.1:8080/readyz"},
			storeURL: "http://127.0.0.1:9000/demo/probe",
		},
		{
			page:     "local.md",
			need:     func(*testing.T) {},
			ports:    []int{8081},
			ready:    []string{"http://127.0.0.1:8080/readyz"},
			storeURL: "http://127.0.0.1:8081/o/probe",
		},
		{
			page:     "s3.md",
			need:     func(t *testing.T) { testenv.Tool(t, "versitygw") },
			ports:    []int{7070},
			ready:    []string{"http://127.0.0.1:7070/", "http://127.0.0.1:8080/readyz"},
			storeURL: "http://127.0.0.1:7070/demo/probe",
		},
		{
			page:  "gcs.md",
			need:  func(t *testing.T) { testenv.Tool(t, "fake-gcs-server") },
			ports: []int{4443},
			ready: []string{"http://127.0.0.1:4443/_internal/healthcheck", "http://127.0.0.1:8080/readyz"},
			// No storeURL: fake-gcs-server ignores bucket CORS and allows
			// every origin, so there is no CORS step to check (the page
			// says so).
		},
		{
			page: "azure.md",
			need: func(t *testing.T) {
				testenv.LookPath(t, "node")
				testenv.NodeModule(t, ".bin/azurite-blob")
				testenv.NodeModule(t, "@azure/storage-blob/package.json")
			},
			ports:    []int{10000},
			ready:    []string{"http://127.0.0.1:10000/", "http://127.0.0.1:8080/readyz"},
			storeURL: "http://127.0.0.1:10000/devstoreaccount1/demo/probe",
		},
	} {
		t.Run(strings.TrimSuffix(d.page, ".md"), func(t *testing.T) { runProviderDoc(t, d) })
	}
}

func runProviderDoc(t *testing.T, d providerDoc) {
	for _, tool := range []string{"curl", "jq", "openssl", "bash"} {
		testenv.LookPath(t, tool)
	}
	d.need(t)
	blocks := docSection(t, filepath.Join("docs", "providers", d.page), "Try it locally")

	work := t.TempDir()
	if err := os.Mkdir(filepath.Join(work, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		filepath.Join(work, "bin", "valet"): testenv.ValetBinary(t),
		filepath.Join(work, ".tools"):       testenv.ToolsDir(),
	} {
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}

	var pairs []string
	gatewayPort := testenv.FreePort(t)
	for _, p := range append([]int{8080}, d.ports...) {
		free := gatewayPort
		if p != 8080 {
			free = testenv.FreePort(t)
		}
		from, to := ":"+strconv.Itoa(p), ":"+strconv.Itoa(free)
		pairs = append(pairs, "127.0.0.1"+from, "127.0.0.1"+to, "localhost"+from, "localhost"+to,
			"Port "+from[1:], "Port "+to[1:], "port "+from[1:], "port "+to[1:]) // --blobPort 10000, -port 4443
	}
	ports := strings.NewReplacer(pairs...)

	var configs, servers int
	var out string
	for i, b := range blocks {
		body := ports.Replace(b.Body)
		first, _, _ := strings.Cut(body, "\n")
		switch {
		case b.Lang == "yaml":
			name, ok := strings.CutPrefix(first, "# ")
			name, _, _ = strings.Cut(name, " ")
			name = strings.TrimSuffix(name, ":")
			if !ok || !strings.HasSuffix(name, ".yaml") {
				t.Fatalf("%s: the yaml block %d does not start with \"# FILE.yaml:\" naming the file to save it as:\n%s", d.page, i, body)
			}
			if err := os.WriteFile(filepath.Join(work, name), []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			configs++
		case b.Lang == "sh" && strings.HasPrefix(first, "# In its own terminal"):
			if servers == len(d.ready) {
				t.Fatalf("%s: more blocks to keep running than the %d the test expects:\n%s", d.page, len(d.ready), body)
			}
			// need found the tools, so a server that does not come up was
			// started wrongly by the page: a failure, never a skip.
			_, err := testenv.Launch(t, testenv.Spec{
				Name:  d.page + " " + first,
				Cmd:   docScript(work, body, nil),
				Ready: testenv.HTTPReady(ports.Replace(d.ready[servers])),
			})
			if err != nil {
				t.Fatal(err)
			}
			servers++
		case b.Lang == "sh":
			out = runDocScript(t, d.page+" block "+strconv.Itoa(i), work, body, nil)
		}
	}
	if configs != 1 || servers != len(d.ready) {
		t.Fatalf("%s: %d config files and %d servers, want 1 and %d", d.page, configs, servers, len(d.ready))
	}
	checkDownloaded(t, work, out)

	if d.storeURL == "" {
		return
	}
	// The page's CORS step took: a browser on the gateway's origin may PUT
	// to the store, one on another origin may not.
	allowed := "http://127.0.0.1:" + strconv.Itoa(gatewayPort)
	for origin, want := range map[string]string{allowed: allowed, "http://elsewhere.example": ""} {
		req, err := http.NewRequest(http.MethodOptions, ports.Replace(d.storeURL), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", http.MethodPut)
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := resp.Header.Get("Access-Control-Allow-Origin")
		if got != want || (want != "" && resp.StatusCode >= 300) {
			t.Errorf("preflight from %s to the store: %d, Access-Control-Allow-Origin %q, want %q: the page's CORS step should allow exactly %s",
				origin, resp.StatusCode, got, want, allowed)
		}
	}
}
