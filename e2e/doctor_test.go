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
		for _, b := range backends {
			if b.Name == "local" {
				return b.Setup(t, origins)
			}
		}
		t.Fatal("no local backend registered")
		return nil
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
	t.Run("healthy", func(t *testing.T) {
		c := cfg(t, []string{testOrigin})
		r := runDoctor(t, "local", c)
		r.healthy(t)
		noLeftovers(t, r, leftovers(c))
	})
	t.Run("cors missing", func(t *testing.T) {
		c := cfg(t, []string{"http://elsewhere.example"})
		r := runDoctor(t, "local", c)
		r.fault(t, "cors", "cors_origins")
		noLeftovers(t, r, leftovers(c))
	})
	t.Run("wrong secret", func(t *testing.T) {
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
		r := runDoctor(t, "local", wrong)
		r.fault(t, "credentials", "secret")
		noLeftovers(t, r, leftovers(c))
		noLeftovers(t, r, leftovers(wrong))
	})
	t.Run("public endpoint does not answer", func(t *testing.T) {
		c := cfg(t, []string{testOrigin})
		c["public_url"] = closedEndpoint(t)
		r := runDoctor(t, "local", c)
		r.fault(t, "endpoint", "public_url")
		noLeftovers(t, r, leftovers(c))
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
	bucket := func(t *testing.T, cors bool) (string, map[string]any) {
		b := srv.CreateBucket(t, "doctor")
		if cors {
			srv.SetCORS(t, b, []string{testOrigin})
		}
		return b, s3StoreConfig(t, srv, b)
	}
	t.Run("healthy", func(t *testing.T) {
		b, c := bucket(t, true)
		r := runDoctor(t, "s3", c)
		r.healthy(t)
		noLeftovers(t, r, s3Leftovers(t, srv, b))
	})
	t.Run("cors missing", func(t *testing.T) {
		b, c := bucket(t, false)
		r := runDoctor(t, "s3", c)
		r.fault(t, "cors", "PutBucketCors")
		noLeftovers(t, r, s3Leftovers(t, srv, b))
	})
	t.Run("cors does not expose etag", func(t *testing.T) {
		// versitygw 1.8.0 adds ETag to every CORS answer's
		// Access-Control-Expose-Headers whatever the bucket's rule says,
		// so the rule cannot take it away: a proxy in front of it does,
		// as a CDN with its own CORS settings would.
		b, c := bucket(t, true)
		c["endpoint"] = faultProxy(t, srv.Endpoint, func(h http.Header) {
			if h.Get("Access-Control-Expose-Headers") != "" {
				h.Set("Access-Control-Expose-Headers", "Content-Length, Content-Type")
			}
		})
		r := runDoctor(t, "s3", c)
		r.fault(t, "cors", "expose ETag")
		if cors := r.check(t, "cors"); !strings.Contains(cors.Found, "ETag is not exposed") {
			t.Fatalf("the cors check does not say ETag is not exposed: %s", cors.Found)
		}
		noLeftovers(t, r, s3Leftovers(t, srv, b))
	})
	t.Run("wrong secret key", func(t *testing.T) {
		b, c := bucket(t, true)
		delete(c, "secret_access_key_file")
		c["secret_access_key"] = "not-the-secret-" + randomSecret(t)
		// The provider's Configure probes the credentials (a GET whose
		// error body says SignatureDoesNotMatch), so the plugin already
		// refuses the key.
		r := runDoctor(t, "s3", c)
		r.fault(t, "plugin", "secret_access_key")
		noLeftovers(t, r, s3Leftovers(t, srv, b))
	})
	t.Run("public endpoint does not answer", func(t *testing.T) {
		b, c := bucket(t, true)
		c["public_endpoint"] = closedEndpoint(t)
		r := runDoctor(t, "s3", c)
		r.fault(t, "endpoint", "public_endpoint")
		noLeftovers(t, r, s3Leftovers(t, srv, b))
	})
	t.Run("clock skew", func(t *testing.T) {
		// A storage server whose clock is an hour ahead, as its Date header
		// tells: a proxy in front of versitygw rewrites Date.
		b, c := bucket(t, true)
		c["endpoint"] = faultProxy(t, srv.Endpoint, func(h http.Header) {
			h.Set("Date", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
		})
		r := runDoctor(t, "s3", c)
		r.fault(t, "clock", "NTP")
		if clock := r.check(t, "clock"); !strings.Contains(clock.Found, "1h0m0s ahead") {
			t.Fatalf("the clock check does not report the hour: %s", clock.Found)
		}
		noLeftovers(t, r, s3Leftovers(t, srv, b))
	})
	t.Run("storage stopped", func(t *testing.T) {
		_, c := bucket(t, true)
		srv.Process.Stop()
		// Nothing can be written to a stopped server; the plugin refuses
		// to configure, so doctor tries nothing else.
		runDoctor(t, "s3", c).fault(t, "plugin", "endpoint")
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
	bucket := func(t *testing.T) (string, map[string]any) {
		b := srv.CreateBucket(t, "doctor")
		return b, s3StoreConfig(t, srv, b)
	}
	// MinIO's CORS is always open (PutBucketCors is 501), so there is no
	// CORS fault to inject here.
	t.Run("healthy", func(t *testing.T) {
		b, c := bucket(t)
		r := runDoctor(t, "minio", c)
		r.healthy(t)
		noLeftovers(t, r, s3Leftovers(t, srv, b))
	})
	t.Run("wrong secret key", func(t *testing.T) {
		b, c := bucket(t)
		c["secret_access_key"] = "not-the-secret-" + randomSecret(t)
		// Refused at Configure, as for s3 above.
		r := runDoctor(t, "minio", c)
		r.fault(t, "plugin", "secret_access_key")
		noLeftovers(t, r, s3Leftovers(t, srv, b))
	})
	t.Run("public endpoint does not answer", func(t *testing.T) {
		b, c := bucket(t)
		c["public_endpoint"] = closedEndpoint(t)
		r := runDoctor(t, "minio", c)
		r.fault(t, "endpoint", "public_endpoint")
		noLeftovers(t, r, s3Leftovers(t, srv, b))
	})
	t.Run("storage stopped", func(t *testing.T) {
		_, c := bucket(t)
		srv.Process.Stop()
		runDoctor(t, "minio", c).fault(t, "plugin", "endpoint")
	})
}

func testDoctorGCS(t *testing.T) {
	gcsLeftovers := func(e *gcsEnv) func() []string {
		return func() []string { return e.fake.ObjectNames(t, e.bucket, "") }
	}
	t.Run("healthy", func(t *testing.T) {
		e := startGCS(t, []string{testOrigin})
		r := runDoctor(t, "gcs", e.config(t, "key"))
		r.healthy(t)
		noLeftovers(t, r, gcsLeftovers(e))
	})
	t.Run("cors missing", func(t *testing.T) {
		// The proxy answers CORS like a bucket whose rules allow another
		// origin only.
		e := startGCS(t, []string{"http://elsewhere.example"})
		r := runDoctor(t, "gcs", e.config(t, "key"))
		r.fault(t, "cors", "--cors-file")
		noLeftovers(t, r, gcsLeftovers(e))
	})
	t.Run("wrong signing key", func(t *testing.T) {
		e := startGCS(t, []string{testOrigin})
		c := e.config(t, "key")
		c["credentials_file"] = otherServiceAccount(t)
		r := runDoctor(t, "gcs", c)
		r.fault(t, "credentials", "credentials_file")
		noLeftovers(t, r, gcsLeftovers(e))
	})
	t.Run("public endpoint does not answer", func(t *testing.T) {
		e := startGCS(t, []string{testOrigin})
		c := e.config(t, "key")
		c["signing_host"] = strings.TrimPrefix(closedEndpoint(t), "http://")
		r := runDoctor(t, "gcs", c)
		r.fault(t, "endpoint", "signing_host")
		noLeftovers(t, r, gcsLeftovers(e))
	})
	t.Run("storage stopped", func(t *testing.T) {
		e := startGCS(t, []string{testOrigin})
		c := e.config(t, "key")
		e.fake.Process.Stop()
		// The provider's Configure looks at the bucket through the JSON API.
		runDoctor(t, "gcs", c).fault(t, "plugin", "endpoint")
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
	store := func(t *testing.T) (string, map[string]any) {
		cont := az.NewContainer(t)
		return cont, azureStoreConfig(t, az, cont)
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
	t.Run("cors missing", func(t *testing.T) {
		cont, c := store(t)
		r := runDoctor(t, "azure", c)
		r.fault(t, "cors", "Blob service CORS")
		noLeftovers(t, r, leftovers(cont))
	})
	t.Run("cors does not expose etag", func(t *testing.T) {
		setCORS(t, &service.CORSRule{
			AllowedOrigins:  to.Ptr(testOrigin),
			AllowedMethods:  to.Ptr("GET,HEAD,PUT,DELETE,OPTIONS"),
			AllowedHeaders:  to.Ptr("*"),
			ExposedHeaders:  to.Ptr("content-length"),
			MaxAgeInSeconds: to.Ptr(int32(60)),
		})
		cont, c := store(t)
		r := runDoctor(t, "azure", c)
		r.fault(t, "cors", "expose ETag")
		if cors := r.check(t, "cors"); !strings.Contains(cors.Found, "ETag is not exposed") {
			t.Fatalf("the cors check does not say ETag is not exposed: %s", cors.Found)
		}
		noLeftovers(t, r, leftovers(cont))
	})
	t.Run("healthy", func(t *testing.T) {
		az.SetCORS(t, []string{testOrigin})
		cont, c := store(t)
		r := runDoctor(t, "azure", c)
		r.healthy(t)
		noLeftovers(t, r, leftovers(cont))
	})
	t.Run("wrong account key", func(t *testing.T) {
		cont, c := store(t)
		delete(c, "account_key_file")
		wrong := make([]byte, 64)
		_, _ = rand.Read(wrong)
		c["account_key"] = base64.StdEncoding.EncodeToString(wrong)
		// The provider's Configure reads the container's properties, so
		// the plugin already refuses the key.
		r := runDoctor(t, "azure", c)
		r.fault(t, "plugin", "account_key")
		noLeftovers(t, r, leftovers(cont))
	})
	// Azure has one endpoint for the API and signed URLs, so an endpoint
	// that does not answer is the stopped server below.
	t.Run("storage stopped", func(t *testing.T) {
		_, c := store(t)
		az.Process.Stop()
		runDoctor(t, "azure", c).fault(t, "plugin", "endpoint")
	})
}
