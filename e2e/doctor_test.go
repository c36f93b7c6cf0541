package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/valetgw/valet/internal/testenv"
)

// doctorReport is what `valet doctor --json` prints.
type doctorReport struct {
	OK     bool        `json:"ok"`
	Config doctorCheck `json:"config"`
	Stores []struct {
		Store    string        `json:"store"`
		Provider string        `json:"provider"`
		Checks   []doctorCheck `json:"checks"`
	} `json:"stores"`
}

type doctorCheck struct {
	Check  string `json:"check"`
	Status string `json:"status"`
	Found  string `json:"found"`
	Fix    string `json:"fix"`
}

// doctorRun is one run of the real binary's `valet doctor --json` on a
// config whose one store, "probe", has provider and cfg, and whose
// server.cors_origins is [testOrigin].
type doctorRun struct {
	report doctorReport
	exit   int
	stdout string
	stderr string
}

func runDoctor(t *testing.T, provider string, cfg map[string]any) doctorRun {
	t.Helper()
	env := newGatewayEnv(t, map[string]any{"probe": map[string]any{
		"provider":     provider,
		"config":       cfg,
		"key_template": "users/{subject}/{uuid}/{filename}",
		"rules":        map[string]any{"upload": "true", "read": `key.startsWith(key_prefix)`},
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// Generous bounds: a loaded 2-core machine, and a stopped server must
	// fail by refusal, not by timeout.
	cmd := exec.CommandContext(ctx, testenv.ValetBinary(t), "doctor", "--config", env.ConfigPath, "--json", "--timeout", "60s")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := doctorRun{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.exit = ee.ExitCode()
	default:
		t.Fatalf("valet doctor: %v\n%s", err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), &r.report); err != nil {
		t.Fatalf("valet doctor --json printed no report (%v):\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	if len(r.report.Stores) != 1 || r.report.Stores[0].Store != "probe" {
		t.Fatalf("report has stores %+v, want the one store probe", r.report.Stores)
	}
	for _, secret := range secretsOf(cfg) {
		if strings.Contains(r.stdout, secret) || strings.Contains(r.stderr, secret) {
			t.Fatalf("doctor's output contains a secret of the config")
		}
	}
	if strings.Contains(r.stdout, "X-Amz-Signature") || strings.Contains(r.stdout, "sig=") || strings.Contains(r.stdout, "X-Goog-Signature") {
		t.Fatalf("doctor's output contains a signed URL's query:\n%s", r.stdout)
	}
	return r
}

// secretsOf returns the inline secrets of a store config.
func secretsOf(cfg map[string]any) []string {
	var out []string
	for _, k := range []string{"secret", "secret_access_key"} {
		if s, ok := cfg[k].(string); ok && s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (r doctorRun) checks() []doctorCheck { return r.report.Stores[0].Checks }

func (r doctorRun) String() string { return r.stdout }

// healthy asserts that every check passed and the exit status is 0.
func (r doctorRun) healthy(t *testing.T) {
	t.Helper()
	if r.exit != 0 || !r.report.OK || r.report.Config.Status != "ok" {
		t.Fatalf("doctor on a healthy store: exit %d, ok %v\n%s\nstderr:\n%s", r.exit, r.report.OK, r, tail(r.stderr, 2000))
	}
	names := map[string]bool{}
	for _, c := range r.checks() {
		names[strings.Fields(c.Check)[0]] = true
		if c.Status != "ok" {
			t.Errorf("check %s: %s (%s), want ok", c.Check, c.Status, c.Found)
		}
	}
	for _, n := range []string{"plugin", "endpoint", "credentials", "clock", "roundtrip", "cors", "cleanup"} {
		if !names[n] {
			t.Errorf("no %s check in the report:\n%s", n, r)
		}
	}
}

// fault asserts that the first failed check is want (a cors check when
// want is "cors"), with a fix containing fixHas, and a non-zero exit.
func (r doctorRun) fault(t *testing.T, want, fixHas string) {
	t.Helper()
	if r.exit == 0 || r.report.OK {
		t.Fatalf("doctor passed a broken store (exit %d):\n%s", r.exit, r)
	}
	for _, c := range r.checks() {
		if c.Status != "fail" {
			continue
		}
		if strings.Fields(c.Check)[0] != want {
			t.Fatalf("first failed check is %s (%s), want %s:\n%s", c.Check, c.Found, want, r)
		}
		if c.Fix == "" || !strings.Contains(c.Fix, fixHas) {
			t.Fatalf("check %s fails with fix %q, want one mentioning %q", c.Check, c.Fix, fixHas)
		}
		t.Logf("✘ %s: %s\n  fix: %s", c.Check, c.Found, c.Fix)
		return
	}
	t.Fatalf("no check failed, yet ok is false:\n%s", r)
}

// check returns the named check.
func (r doctorRun) check(t *testing.T, name string) doctorCheck {
	t.Helper()
	for _, c := range r.checks() {
		if c.Check == name || strings.HasPrefix(c.Check, name+" ") {
			return c
		}
	}
	t.Fatalf("no check %s in:\n%s", name, r)
	return doctorCheck{}
}

// closedEndpoint is an http URL on a port where nothing listens.
func closedEndpoint(t *testing.T) string { return "http://" + testenv.Addr(testenv.FreePort(t)) }

// noLeftovers fails the test when list finds anything doctor wrote.
func noLeftovers(t *testing.T, r doctorRun, list func() []string) {
	t.Helper()
	if left := list(); len(left) > 0 {
		t.Fatalf("doctor left objects behind: %q\n%s", left, r)
	}
}

// doctorCase is one run of doctor on the store setup makes: every check ✔
// when check is "", else check is the first to fail, with a fix naming fix
// and, when found is set, a finding that says found. After the run,
// leftovers (when setup gives one) finds nothing doctor wrote.
type doctorCase struct {
	name              string
	setup             func(t *testing.T) (cfg map[string]any, leftovers func() []string)
	check, fix, found string
}

// runDoctorCases runs each case, in order, as a subtest on provider.
func runDoctorCases(t *testing.T, provider string, cases []doctorCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, leftovers := tc.setup(t)
			r := runDoctor(t, provider, cfg)
			if tc.check == "" {
				r.healthy(t)
			} else {
				r.fault(t, tc.check, tc.fix)
			}
			if tc.found != "" {
				if c := r.check(t, tc.check); !strings.Contains(c.Found, tc.found) {
					t.Fatalf("the %s check does not say %q: %s", tc.check, tc.found, c.Found)
				}
			}
			if leftovers != nil {
				noLeftovers(t, r, leftovers)
			}
		})
	}
}

// TestDoctor runs `valet doctor` on every backend: first on a healthy
// store (every check ✔), then with one fault at a time, each named by the
// first check that fails, with its fix. After every run the bucket is
// listed through the backend itself: doctor never leaves its probe (or a
// multipart upload) behind.
func TestDoctor(t *testing.T) {
	t.Run("local", testDoctorLocal)
	t.Run("s3-versitygw", testDoctorVersitygw)
	t.Run("minio", testDoctorMinIO)
	t.Run("gcs", testDoctorGCS)
	t.Run("azure", testDoctorAzure)
}

func testDoctorLocal(t *testing.T) {
	cfg := func(t *testing.T, origins []string) map[string]any {
		return localBackend(t).Setup(t, origins)
	}
	leftovers := func(c map[string]any) func() []string {
		return func() []string {
			root := c["root"].(string)
			left := localLeftovers(t, c)
			_ = filepath.WalkDir(filepath.Join(root, "objects"), func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					left = append(left, p)
				}
				return nil
			})
			return left
		}
	}
	withOrigin := func(origin string) func(t *testing.T) (map[string]any, func() []string) {
		return func(t *testing.T) (map[string]any, func() []string) {
			c := cfg(t, []string{origin})
			return c, leftovers(c)
		}
	}
	runDoctorCases(t, "local", []doctorCase{
		{name: "healthy", setup: withOrigin(testOrigin)},
		{name: "cors missing", setup: withOrigin("http://elsewhere.example"), check: "cors", fix: "cors_origins"},
		{name: "wrong secret", check: "credentials", fix: "secret", setup: func(t *testing.T) (map[string]any, func() []string) {
			// The store's local server runs elsewhere with its own secret: a
			// plugin serving the root, and doctor's copy of the store signing
			// with another secret for that server's public_url.
			c := cfg(t, []string{testOrigin})
			startPlugin(t, "local", "probe", c)
			wrong := map[string]any{}
			for k, v := range c {
				wrong[k] = v
			}
			wrong["secret"] = randomSecret(t)
			wrong["listen"] = "127.0.0.1:0"
			wrong["root"] = t.TempDir()
			return wrong, func() []string { return append(leftovers(c)(), leftovers(wrong)()...) }
		}},
		{name: "public endpoint does not answer", check: "endpoint", fix: "public_url", setup: func(t *testing.T) (map[string]any, func() []string) {
			c := cfg(t, []string{testOrigin})
			c["public_url"] = closedEndpoint(t)
			return c, leftovers(c)
		}},
	})
	// The local store is its own server, run by the plugin doctor starts on
	// this host: it cannot be stopped apart from the plugin, nor have
	// another clock.
}

// s3Leftovers lists every object and multipart upload in bucket.
func s3Leftovers(t *testing.T, srv *testenv.S3Server, bucket string) func() []string {
	return func() []string {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var left []string
		out, err := srv.Client().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
		if err != nil {
			t.Fatalf("%s: list %s: %v", srv.Name, bucket, err)
		}
		for _, o := range out.Contents {
			left = append(left, aws.ToString(o.Key))
		}
		ups, err := srv.Client().ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
		if err != nil {
			t.Fatalf("%s: list multipart uploads in %s: %v", srv.Name, bucket, err)
		}
		for _, u := range ups.Uploads {
			left = append(left, "multipart upload of "+aws.ToString(u.Key))
		}
		return left
	}
}

func testDoctorVersitygw(t *testing.T) {
	srv := testenv.Versitygw(t)
	// bucket makes a bucket (with the CORS rule testOrigin needs when cors
	// is set) and its store config, changed by edit.
	bucket := func(cors bool, edit func(t *testing.T, c map[string]any)) func(t *testing.T) (map[string]any, func() []string) {
		return func(t *testing.T) (map[string]any, func() []string) {
			b := srv.CreateBucket(t, "doctor")
			if cors {
				srv.SetCORS(t, b, []string{testOrigin})
			}
			c := s3StoreConfig(t, srv, b)
			if edit != nil {
				edit(t, c)
			}
			return c, s3Leftovers(t, srv, b)
		}
	}
	runDoctorCases(t, "s3", []doctorCase{
		{name: "healthy", setup: bucket(true, nil)},
		{name: "cors missing", setup: bucket(false, nil), check: "cors", fix: "PutBucketCors"},
		// versitygw 1.8.0 adds ETag to every CORS answer's
		// Access-Control-Expose-Headers whatever the bucket's rule says,
		// so the rule cannot take it away: a proxy in front of it does,
		// as a CDN with its own CORS settings would.
		{name: "cors does not expose etag", check: "cors", fix: "expose ETag", found: "ETag is not exposed", setup: bucket(true, func(t *testing.T, c map[string]any) {
			c["endpoint"] = faultProxy(t, srv.Endpoint, func(h http.Header) {
				if h.Get("Access-Control-Expose-Headers") != "" {
					h.Set("Access-Control-Expose-Headers", "Content-Length, Content-Type")
				}
			})
		})},
		// The provider's Configure probes the credentials (a GET whose
		// error body says SignatureDoesNotMatch), so the plugin already
		// refuses the key.
		{name: "wrong secret key", check: "plugin", fix: "secret_access_key", setup: bucket(true, func(t *testing.T, c map[string]any) {
			delete(c, "secret_access_key_file")
			c["secret_access_key"] = "not-the-secret-" + randomSecret(t)
		})},
		{name: "public endpoint does not answer", check: "endpoint", fix: "public_endpoint", setup: bucket(true, func(t *testing.T, c map[string]any) {
			c["public_endpoint"] = closedEndpoint(t)
		})},
		// A storage server whose clock is an hour ahead, as its Date header
		// tells: a proxy in front of versitygw rewrites Date.
		{name: "clock skew", check: "clock", fix: "NTP", found: "1h0m0s ahead", setup: bucket(true, func(t *testing.T, c map[string]any) {
			c["endpoint"] = faultProxy(t, srv.Endpoint, func(h http.Header) {
				h.Set("Date", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
			})
		})},
		// Nothing can be written to a stopped server; the plugin refuses
		// to configure, so doctor tries nothing else.
		{name: "storage stopped", check: "plugin", fix: "endpoint", setup: func(t *testing.T) (map[string]any, func() []string) {
			c, _ := bucket(true, nil)(t)
			srv.Process.Stop()
			return c, nil
		}},
	})
}

// faultProxy forwards to upstream unchanged (the Host too, which the
// signature covers) and lets modify change each response's headers: a
// storage server with a wrong clock, or a proxy with its own CORS
// settings, as far as the client can tell.
func faultProxy(t *testing.T, upstream string, modify func(http.Header)) string {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = u.Scheme, u.Host
			pr.Out.Host = pr.In.Host
		},
		ModifyResponse: func(r *http.Response) error {
			modify(r.Header)
			return nil
		},
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv.URL
}

func testDoctorMinIO(t *testing.T) {
	srv := testenv.MinIO(t)
	bucket := func(edit func(t *testing.T, c map[string]any)) func(t *testing.T) (map[string]any, func() []string) {
		return func(t *testing.T) (map[string]any, func() []string) {
			b := srv.CreateBucket(t, "doctor")
			c := s3StoreConfig(t, srv, b)
			if edit != nil {
				edit(t, c)
			}
			return c, s3Leftovers(t, srv, b)
		}
	}
	// MinIO's CORS is always open (PutBucketCors is 501), so there is no
	// CORS fault to inject here.
	runDoctorCases(t, "minio", []doctorCase{
		{name: "healthy", setup: bucket(nil)},
		// Refused at Configure, as for s3 above.
		{name: "wrong secret key", check: "plugin", fix: "secret_access_key", setup: bucket(func(t *testing.T, c map[string]any) {
			c["secret_access_key"] = "not-the-secret-" + randomSecret(t)
		})},
		{name: "public endpoint does not answer", check: "endpoint", fix: "public_endpoint", setup: bucket(func(t *testing.T, c map[string]any) {
			c["public_endpoint"] = closedEndpoint(t)
		})},
		{name: "storage stopped", check: "plugin", fix: "endpoint", setup: func(t *testing.T) (map[string]any, func() []string) {
			c, _ := bucket(nil)(t)
			srv.Process.Stop()
			return c, nil
		}},
	})
}

func testDoctorGCS(t *testing.T) {
	// store starts the verifying proxy answering CORS for origins, and
	// gives its store config, changed by edit.
	store := func(origins []string, edit func(t *testing.T, c map[string]any)) func(t *testing.T) (map[string]any, func() []string) {
		return func(t *testing.T) (map[string]any, func() []string) {
			e := startGCS(t, origins)
			c := e.config(t, "key")
			if edit != nil {
				edit(t, c)
			}
			return c, func() []string { return e.fake.ObjectNames(t, e.bucket, "") }
		}
	}
	runDoctorCases(t, "gcs", []doctorCase{
		{name: "healthy", setup: store([]string{testOrigin}, nil)},
		// The proxy answers CORS like a bucket whose rules allow another
		// origin only.
		{name: "cors missing", check: "cors", fix: "--cors-file", setup: store([]string{"http://elsewhere.example"}, nil)},
		{name: "wrong signing key", check: "credentials", fix: "credentials_file", setup: store([]string{testOrigin}, func(t *testing.T, c map[string]any) {
			c["credentials_file"] = otherServiceAccount(t)
		})},
		{name: "public endpoint does not answer", check: "endpoint", fix: "signing_host", setup: store([]string{testOrigin}, func(t *testing.T, c map[string]any) {
			c["signing_host"] = strings.TrimPrefix(closedEndpoint(t), "http://")
		})},
		// The provider's Configure looks at the bucket through the JSON API.
		{name: "storage stopped", check: "plugin", fix: "endpoint", setup: func(t *testing.T) (map[string]any, func() []string) {
			e := startGCS(t, []string{testOrigin})
			c := e.config(t, "key")
			e.fake.Process.Stop()
			return c, nil
		}},
	})
}

// otherServiceAccount writes a service-account key file for the e2e
// account with a fresh RSA key that the verifying proxy does not trust.
func otherServiceAccount(t *testing.T) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	creds, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "valet-test", "client_email": gcsEmail,
		"private_key_id": "other", "private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"token_uri": "http://127.0.0.1:1/token",
	})
	f := filepath.Join(t.TempDir(), "other-sa.json")
	if err := os.WriteFile(f, creds, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func testDoctorAzure(t *testing.T) {
	// An Azurite of its own: CORS is account-wide, and this test changes
	// it and stops the server.
	az := testenv.StartAzurite(t)
	svc := az.ServiceClient(t)
	setCORS := func(t *testing.T, rules ...*service.CORSRule) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := svc.SetProperties(ctx, &service.SetPropertiesOptions{CORS: rules}); err != nil {
			t.Fatal(err)
		}
	}
	leftovers := func(cont string) func() []string {
		return func() []string {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var left []string
			pager := svc.NewContainerClient(cont).NewListBlobsFlatPager(&container.ListBlobsFlatOptions{
				Include: container.ListBlobsInclude{UncommittedBlobs: true}})
			for pager.More() {
				page, err := pager.NextPage(ctx)
				if err != nil {
					t.Fatalf("azurite: list %s: %v", cont, err)
				}
				for _, b := range page.Segment.BlobItems {
					left = append(left, *b.Name)
				}
			}
			return left
		}
	}
	// store makes a container and its store config, changed by edit.
	store := func(edit func(t *testing.T, c map[string]any)) func(t *testing.T) (map[string]any, func() []string) {
		return func(t *testing.T) (map[string]any, func() []string) {
			cont := az.NewContainer(t)
			c := azureStoreConfig(t, az, cont)
			if edit != nil {
				edit(t, c)
			}
			return c, leftovers(cont)
		}
	}
	runDoctorCases(t, "azure", []doctorCase{
		{name: "cors missing", check: "cors", fix: "Blob service CORS", setup: store(nil)},
		{name: "cors does not expose etag", check: "cors", fix: "expose ETag", found: "ETag is not exposed", setup: func(t *testing.T) (map[string]any, func() []string) {
			setCORS(t, &service.CORSRule{
				AllowedOrigins:  to.Ptr(testOrigin),
				AllowedMethods:  to.Ptr("GET,HEAD,PUT,DELETE,OPTIONS"),
				AllowedHeaders:  to.Ptr("*"),
				ExposedHeaders:  to.Ptr("content-length"),
				MaxAgeInSeconds: to.Ptr(int32(60)),
			})
			return store(nil)(t)
		}},
		{name: "healthy", setup: func(t *testing.T) (map[string]any, func() []string) {
			az.SetCORS(t, []string{testOrigin})
			return store(nil)(t)
		}},
		// The provider's Configure reads the container's properties, so
		// the plugin already refuses the key.
		{name: "wrong account key", check: "plugin", fix: "account_key", setup: store(func(t *testing.T, c map[string]any) {
			delete(c, "account_key_file")
			wrong := make([]byte, 64)
			_, _ = rand.Read(wrong)
			c["account_key"] = base64.StdEncoding.EncodeToString(wrong)
		})},
		// Azure has one endpoint for the API and signed URLs, so an endpoint
		// that does not answer is the stopped server below.
		{name: "storage stopped", check: "plugin", fix: "endpoint", setup: func(t *testing.T) (map[string]any, func() []string) {
			c, _ := store(nil)(t)
			az.Process.Stop()
			return c, nil
		}},
	})
}
