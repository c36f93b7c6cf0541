package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/hashicorp/go-hclog"

	"github.com/valetgw/valet/internal/testenv"
	"github.com/valetgw/valet/plugins/host"
	"github.com/valetgw/valet/providers"
	"github.com/valetgw/valet/providers/providertest"
)

// s3Backend is one S3-compatible server and the provider name that serves it.
type s3Backend struct {
	name     string // subtest and gateway-suite backend name
	provider string // "s3" or "minio"
	start    func(testing.TB) *testenv.S3Server
}

var s3Backends = []s3Backend{
	{name: "s3-versitygw", provider: "s3", start: testenv.Versitygw},
	{name: "minio", provider: "minio", start: testenv.MinIO},
}

func init() {
	for _, b := range s3Backends {
		registerBackend(backend{
			Name:        b.name,
			Provider:    b.provider,
			MinPartSize: 5 << 20,
			Setup: func(t *testing.T, origins []string) map[string]any {
				srv := b.start(t)
				bucket := srv.CreateBucket(t, "valet")
				srv.SetCORS(t, bucket, origins)
				return s3StoreConfig(t, srv, bucket)
			},
		})
	}
}

// s3StoreConfig is the store config for a bucket on srv. The versitygw
// store reads its secret from a file, so that path is exercised too.
func s3StoreConfig(t *testing.T, srv *testenv.S3Server, bucket string) map[string]any {
	cfg := map[string]any{
		"bucket":        bucket,
		"region":        srv.Region,
		"endpoint":      srv.Endpoint,
		"access_key_id": srv.AccessKey,
	}
	if srv.Name == "versitygw" {
		cfg["secret_access_key_file"] = writeFile(t, filepath.Join(t.TempDir(), "s3-secret"), []byte(srv.SecretKey+"\n"))
		cfg["path_style"] = true
	} else {
		cfg["secret_access_key"] = srv.SecretKey // minio defaults to path style
	}
	return cfg
}

// s3Plugin starts provider as a real plugin process (`valet plugin serve
// NAME`, supervised by plugins/host) configured with cfg.
func s3Plugin(t *testing.T, provider string, cfg map[string]any, envAllow ...string) *host.Plugin {
	t.Helper()
	return startPlugin(t, provider, "s3-e2e", cfg, envAllow...)
}

type s3Env struct {
	srv    *testenv.S3Server
	bucket string
	cfg    map[string]any // the store config p was configured with
	p      *host.Plugin
}

func setupS3(t *testing.T, b s3Backend) s3Env {
	t.Helper()
	srv := b.start(t)
	bucket := srv.CreateBucket(t, "e2e")
	cfg := s3StoreConfig(t, srv, bucket)
	return s3Env{srv: srv, bucket: bucket, cfg: cfg, p: s3Plugin(t, b.provider, cfg)}
}

// TestS3Conformance runs the provider conformance suite for `s3` against
// versitygw and `minio` against MinIO, each through a plugin process.
// Any 4xx counts as rejected: MinIO answers 400 where AWS answers 403.
func TestS3Conformance(t *testing.T) {
	for _, b := range s3Backends {
		t.Run(b.name, func(t *testing.T) {
			env := setupS3(t, b)
			info, err := env.p.Info(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			c := info.Capabilities
			// The bar: every one of these is claimed, so the suite
			// below must show each rejected rather than skip it.
			if !c.BindsContentLength || !c.BindsContentType || !c.Binds(providers.SHA256) || !c.BindsCreateOnly ||
				!c.GetOverrides || !c.Multipart || !c.PartsBindContentLength || c.MinPartSize != 5<<20 || c.MaxParts != 10000 {
				t.Fatalf("capabilities through the plugin = %+v", c)
			}
			providertest.Run(t, providertest.Harness{
				Provider:   env.p,
				Config:     jsonOf(t, env.cfg),
				SecretKeys: []string{"secret_access_key"},
				Prefix:     "conformance/",
				Rejected:   func(status int) bool { return status >= 400 && status < 500 },
			})
		})
	}
}

// s3Client sends signed requests with exactly the given headers.
var s3Client = &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 8}}

// sendRecipe sends exactly what r says, with body and override on top (see
// providertest.Send).
func sendRecipe(t *testing.T, r providers.Recipe, body []byte, override map[string]string) (int, http.Header, []byte) {
	t.Helper()
	res := providertest.Send(t, s3Client, r, body, override)
	return res.Status, res.Header, res.Body
}

func rejected(status int) bool { return status >= 400 && status < 500 }

// TestS3Bindings checks the S3-specific bindings the generic suite does not
// reach: metadata values, the zero-byte upload (bound by the checksum of no
// content, since SigV4 cannot sign Content-Length: 0), per-part lengths,
// unsigned extra x-amz-* headers, and signed response overrides.
func TestS3Bindings(t *testing.T) {
	for _, b := range s3Backends {
		t.Run(b.name, func(t *testing.T) {
			env := setupS3(t, b)
			ctx := t.Context()
			sign := func(req providers.PutRequest) providers.Recipe {
				t.Helper()
				req.TTL = time.Minute
				r, err := env.p.SignPut(ctx, req)
				if err != nil {
					t.Fatalf("SignPut: %v", err)
				}
				return r
			}

			t.Run("metadata", func(t *testing.T) {
				body := []byte("metadata body")
				r := sign(providers.PutRequest{Key: "bind/meta", ContentType: "text/plain", Size: int64(len(body)), Metadata: map[string]string{"owner": "alice"}})
				if st, _, _ := sendRecipe(t, r, body, map[string]string{"x-amz-meta-owner": "mallory"}); !rejected(st) {
					t.Errorf("changed metadata value: status %d, want 4xx", st)
				}
				if st, _, _ := sendRecipe(t, r, body, map[string]string{"x-amz-meta-owner": ""}); !rejected(st) {
					t.Errorf("dropped metadata header: status %d, want 4xx", st)
				}
				if st, _, rb := sendRecipe(t, r, body, nil); st != 200 {
					t.Fatalf("exact recipe: status %d: %s", st, rb)
				}
				obj, err := env.p.Head(ctx, providers.HeadRequest{Key: "bind/meta"})
				if err != nil || obj.Metadata["owner"] != "alice" || obj.ContentType != "text/plain" || obj.Size != int64(len(body)) {
					t.Errorf("Head = %+v, %v", obj, err)
				}
			})

			t.Run("crc32c", func(t *testing.T) {
				body := []byte("crc32c bound body")
				sum := crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli))
				value := base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint32(nil, sum))
				r := sign(providers.PutRequest{Key: "bind/crc", ContentType: "text/plain", Size: int64(len(body)),
					Checksum: &providers.Checksum{Algorithm: providers.CRC32C, Value: value}})
				other := bytes.Clone(body)
				other[0] ^= 0xff
				if st, _, _ := sendRecipe(t, r, other, nil); !rejected(st) {
					t.Errorf("body not matching the signed crc32c: status %d, want 4xx", st)
				}
				if _, err := env.p.Head(ctx, providers.HeadRequest{Key: "bind/crc"}); !errors.Is(err, providers.ErrNotFound) {
					t.Errorf("object exists after a rejected PUT: %v", err)
				}
				if st, _, rb := sendRecipe(t, r, body, nil); st != 200 {
					t.Fatalf("matching body: status %d: %s", st, rb)
				}
				if obj, err := env.p.Head(ctx, providers.HeadRequest{Key: "bind/crc"}); err != nil || obj.Checksums[providers.CRC32C] != value {
					t.Errorf("Head = %+v, %v; want crc32c %s", obj, err, value)
				}
			})

			t.Run("zero-byte", func(t *testing.T) {
				r := sign(providers.PutRequest{Key: "bind/empty", ContentType: "text/plain", Size: 0})
				if st, _, _ := sendRecipe(t, r, []byte("not empty"), nil); !rejected(st) {
					t.Errorf("body on a zero-byte upload: status %d, want 4xx", st)
				}
				if st, _, rb := sendRecipe(t, r, []byte{}, nil); st != 200 {
					t.Fatalf("empty body: status %d: %s", st, rb)
				}
				if obj, err := env.p.Head(ctx, providers.HeadRequest{Key: "bind/empty"}); err != nil || obj.Size != 0 {
					t.Errorf("Head = %+v, %v", obj, err)
				}
			})

			if b.name == "s3-versitygw" {
				t.Run("unsigned x-amz header", func(t *testing.T) {
					body := []byte("abc")
					r := sign(providers.PutRequest{Key: "bind/unsigned", ContentType: "text/plain", Size: 3})
					if st, _, _ := sendRecipe(t, r, body, map[string]string{"x-amz-meta-extra": "1"}); !rejected(st) {
						t.Errorf("extra unsigned x-amz-meta header: status %d, want 4xx", st)
					}
				})
			}

			t.Run("response overrides", func(t *testing.T) {
				body := []byte("override body")
				if st, _, rb := sendRecipe(t, sign(providers.PutRequest{Key: "bind/ovr", ContentType: "text/plain", Size: int64(len(body))}), body, nil); st != 200 {
					t.Fatalf("put: %d %s", st, rb)
				}
				g, err := env.p.SignGet(ctx, providers.GetRequest{Key: "bind/ovr", TTL: time.Minute,
					ResponseContentType: "application/x-test", ResponseContentDisposition: `attachment; filename="a b.txt"`})
				if err != nil {
					t.Fatal(err)
				}
				st, h, rb := sendRecipe(t, g, nil, nil)
				if st != 200 || !bytes.Equal(rb, body) || h.Get("Content-Type") != "application/x-test" || h.Get("Content-Disposition") != `attachment; filename="a b.txt"` {
					t.Fatalf("GET with overrides: %d %v %q", st, h, rb)
				}
				tampered := providertest.TamperQuery(t, g.URL, "response-content-disposition", func(string) string { return "inline" })
				if st := providertest.SendAs(t, s3Client, "GET", tampered, nil, nil, nil).Status; !rejected(st) {
					t.Errorf("tampered response-content-disposition: status %d, want 4xx", st)
				}
			})

			t.Run("part length", func(t *testing.T) {
				up, err := env.p.CreateMultipart(ctx, providers.CreateMultipartRequest{Key: "bind/mp", ContentType: "application/octet-stream"})
				if err != nil {
					t.Fatal(err)
				}
				defer env.p.AbortMultipart(context.Background(), providers.AbortMultipartRequest{Upload: providers.MultipartRef{Key: "bind/mp", UploadID: up.UploadID}})
				signed, err := env.p.SignParts(ctx, providers.SignPartsRequest{Key: "bind/mp", UploadID: up.UploadID, TTL: time.Minute,
					Parts: []providers.PartSpec{{Number: 1, Size: 1000}}})
				parts := signed.Parts
				if err != nil {
					t.Fatal(err)
				}
				if st, _, _ := sendRecipe(t, parts[0].Recipe, make([]byte, 999), nil); !rejected(st) {
					t.Errorf("part shorter than signed: status %d, want 4xx", st)
				}
				if st, _, _ := sendRecipe(t, parts[0].Recipe, make([]byte, 1001), nil); !rejected(st) {
					t.Errorf("part longer than signed: status %d, want 4xx", st)
				}
				if st, _, rb := sendRecipe(t, parts[0].Recipe, make([]byte, 1000), nil); st != 200 {
					t.Errorf("exact part: status %d %s", st, rb)
				}
			})
		})
	}
}

// TestS3Multipart uploads 64 MiB in 5 MiB parts through signed part URLs,
// completes, reads the object back and compares it; then aborts a second
// upload and checks that no parts or uploads are left behind.
func TestS3Multipart(t *testing.T) {
	const size, partSize = 64 << 20, 5 << 20
	data := make([]byte, size)
	rng := rand.NewChaCha8([32]byte{'v', 'a', 'l', 'e', 't'})
	_, _ = rng.Read(data)
	want := sha256.Sum256(data)

	for _, b := range s3Backends {
		t.Run(b.name, func(t *testing.T) {
			env := setupS3(t, b)
			ctx := t.Context()
			key := "multipart/big video.bin"

			up, err := env.p.CreateMultipart(ctx, providers.CreateMultipartRequest{Key: key, ContentType: "video/mp4", Size: size, PartSize: partSize, TTL: time.Hour})
			if err != nil {
				t.Fatalf("CreateMultipart: %v", err)
			}
			var specs []providers.PartSpec
			for off, n := int64(0), 1; off < size; off, n = off+partSize, n+1 {
				specs = append(specs, providers.PartSpec{Number: n, Size: min(partSize, size-off)})
			}
			if len(specs) != 13 {
				t.Fatalf("%d parts, want 13", len(specs))
			}
			signed, err := env.p.SignParts(ctx, providers.SignPartsRequest{Key: key, UploadID: up.UploadID, Parts: specs, TTL: time.Hour})
			recipes := signed.Parts
			if err != nil {
				t.Fatalf("SignParts: %v", err)
			}
			done := make([]providers.CompletedPart, len(recipes))
			var wg sync.WaitGroup
			errs := make(chan error, len(recipes))
			sem := make(chan struct{}, 4)
			for i, r := range recipes {
				wg.Add(1)
				go func() {
					defer wg.Done()
					sem <- struct{}{}
					defer func() { <-sem }()
					off := int64(i) * partSize
					chunk := data[off : off+specs[i].Size]
					req, _ := http.NewRequestWithContext(ctx, r.Recipe.Method, r.Recipe.URL, bytes.NewReader(chunk))
					for k, v := range r.Recipe.Headers {
						req.Header.Set(k, v)
					}
					res, err := s3Client.Do(req)
					if err != nil {
						errs <- err
						return
					}
					rb, _ := io.ReadAll(res.Body)
					res.Body.Close()
					if res.StatusCode != 200 || res.Header.Get("ETag") == "" {
						errs <- fmt.Errorf("part %d: status %d etag %q: %s", r.Number, res.StatusCode, res.Header.Get("ETag"), rb)
						return
					}
					done[i] = providers.CompletedPart{Number: r.Number, ETag: res.Header.Get("ETag")}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}

			listing, err := env.p.ListParts(ctx, providers.ListPartsRequest{Upload: providers.MultipartRef{Key: key, UploadID: up.UploadID}})
			listed := listing.Parts
			if err != nil || len(listed) != 13 || listed[12].Size != 4<<20 || listed[0].Number != 1 {
				t.Fatalf("ListParts = %d parts %+v, %v", len(listed), listed, err)
			}

			obj, err := env.p.CompleteMultipart(ctx, providers.CompleteMultipartRequest{Key: key, UploadID: up.UploadID, Parts: done})
			if err != nil {
				t.Fatalf("CompleteMultipart: %v", err)
			}
			if obj.Size != size || obj.ContentType != "video/mp4" {
				t.Errorf("completed object = %+v", obj)
			}
			g, err := env.p.SignGet(ctx, providers.GetRequest{Key: key, TTL: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			res, err := s3Client.Get(g.URL)
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.New()
			n, err := io.Copy(h, res.Body)
			res.Body.Close()
			if err != nil || n != size || !bytes.Equal(h.Sum(nil), want[:]) {
				t.Fatalf("read back %d bytes (status %d, err %v), sha256 match=%v", n, res.StatusCode, err, bytes.Equal(h.Sum(nil), want[:]))
			}

			t.Run("abort leaves nothing", func(t *testing.T) {
				key := "multipart/aborted.bin"
				up, err := env.p.CreateMultipart(ctx, providers.CreateMultipartRequest{Key: key, ContentType: "application/octet-stream", Size: 2 * partSize, PartSize: partSize})
				if err != nil {
					t.Fatal(err)
				}
				signed, err := env.p.SignParts(ctx, providers.SignPartsRequest{Key: key, UploadID: up.UploadID, TTL: time.Minute,
					Parts: []providers.PartSpec{{Number: 1, Size: partSize}, {Number: 2, Size: partSize}}})
				parts := signed.Parts
				if err != nil {
					t.Fatal(err)
				}
				for i, pr := range parts {
					if st, _, rb := sendRecipe(t, pr.Recipe, data[i*partSize:(i+1)*partSize], nil); st != 200 {
						t.Fatalf("part %d: %d %s", pr.Number, st, rb)
					}
				}
				if got, err := env.p.ListParts(ctx, providers.ListPartsRequest{Upload: providers.MultipartRef{Key: key, UploadID: up.UploadID}}); err != nil || len(got.Parts) != 2 {
					t.Fatalf("before abort: ListParts = %+v, %v", got.Parts, err)
				}
				if _, err := env.p.AbortMultipart(ctx, providers.AbortMultipartRequest{Upload: providers.MultipartRef{Key: key, UploadID: up.UploadID}}); err != nil {
					t.Fatalf("AbortMultipart: %v", err)
				}
				// Aborting twice is not an error.
				if _, err := env.p.AbortMultipart(ctx, providers.AbortMultipartRequest{Upload: providers.MultipartRef{Key: key, UploadID: up.UploadID}}); err != nil {
					t.Errorf("second AbortMultipart: %v", err)
				}
				listing, err := env.p.ListParts(ctx, providers.ListPartsRequest{Upload: providers.MultipartRef{Key: key, UploadID: up.UploadID}})
				got := listing.Parts
				if len(got) != 0 || (err != nil && !errors.Is(err, providers.ErrNotFound)) {
					t.Errorf("after abort: ListParts = %+v, %v; want none", got, err)
				}
				lu, err := env.srv.Client().ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(env.bucket)})
				if err != nil {
					t.Fatalf("ListMultipartUploads: %v", err)
				}
				for _, u := range lu.Uploads {
					if aws.ToString(u.Key) == key {
						t.Errorf("upload %s still listed after abort", aws.ToString(u.UploadId))
					}
				}
				if _, err := env.p.Head(ctx, providers.HeadRequest{Key: key}); !errors.Is(err, providers.ErrNotFound) {
					t.Errorf("Head after abort: %v, want NotFound", err)
				}
				// A part URL of the aborted upload no longer works. Servers
				// may refuse with a status or reset the connection while
				// the body is still being sent; both count.
				req, _ := http.NewRequestWithContext(ctx, parts[0].Recipe.Method, parts[0].Recipe.URL, bytes.NewReader(data[:partSize]))
				if res, err := s3Client.Do(req); err == nil {
					res.Body.Close()
					if res.StatusCode < 400 {
						t.Errorf("part PUT after abort: status %d, want an error", res.StatusCode)
					}
				}
			})
		})
	}
}

// TestS3ErrorsThroughPlugin checks that S3 errors keep their contract codes
// across the plugin boundary and carry no secret.
func TestS3ErrorsThroughPlugin(t *testing.T) {
	for _, b := range s3Backends {
		t.Run(b.name, func(t *testing.T) {
			env := setupS3(t, b)
			ctx := t.Context()
			if _, err := env.p.Head(ctx, providers.HeadRequest{Key: "missing/key"}); !errors.Is(err, providers.ErrNotFound) {
				t.Errorf("Head missing: %v, want NotFound", err)
			}
			if _, err := env.p.Delete(ctx, providers.DeleteRequest{Key: "missing/key"}); err != nil {
				t.Errorf("Delete missing: %v", err)
			}
			_, err := env.p.CompleteMultipart(ctx, providers.CompleteMultipartRequest{Key: "x", UploadID: "bm90LWFuLXVwbG9hZA",
				Parts: []providers.CompletedPart{{Number: 1, ETag: `"0123"`}}})
			if c := providers.CodeOf(err); c != providers.NotFound && c != providers.FailedPrecondition {
				t.Errorf("complete unknown upload: %v, want NotFound or FailedPrecondition", err)
			}

			// A wrong secret or an unknown access key is refused at
			// Configure as Unauthenticated, naming the server's error code
			// (HeadBucket's bare 403 cannot tell it from a least-privilege
			// AccessDenied; the probe GET's error body can), and the secret
			// is never echoed.
			for name, wrong := range map[string]func(map[string]any){
				"wrong secret": func(c map[string]any) {
					delete(c, "secret_access_key_file")
					c["secret_access_key"] = "wrong-secret-value"
				},
				"unknown key id": func(c map[string]any) { c["access_key_id"] = "AKIAWRONGKEYID000000" },
			} {
				if name == "unknown key id" && env.srv.Name == "versitygw" {
					// versitygw (single account mode) answers an unknown
					// access key with 404s, as if the bucket were missing,
					// so Configure says config.bucket; AWS and MinIO
					// answer InvalidAccessKeyId.
					continue
				}
				cfg := s3StoreConfig(t, env.srv, env.bucket)
				wrong(cfg)
				raw, _ := json.Marshal(cfg)
				h, err := host.New(host.Options{Executable: testenv.ValetBinary(t), Builtins: []string{b.provider},
					Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Off})})
				if err != nil {
					t.Fatal(err)
				}
				_, err = h.Start(ctx, host.Spec{Store: "wrong", Plugin: b.provider, Config: raw})
				h.Close()
				if providers.CodeOf(err) != providers.Unauthenticated || !strings.Contains(err.Error(), "does not accept the credentials") ||
					!(strings.Contains(err.Error(), "SignatureDoesNotMatch") || strings.Contains(err.Error(), "InvalidAccessKeyId")) {
					t.Errorf("%s: start: %v, want Unauthenticated naming SignatureDoesNotMatch or InvalidAccessKeyId", name, err)
				}
				if err != nil && strings.Contains(err.Error(), "wrong-secret-value") {
					t.Errorf("error echoes the secret: %v", err)
				}
			}

			// Missing bucket: InvalidArgument naming config.bucket.
			cfg := s3StoreConfig(t, env.srv, "no-such-bucket-here")
			raw, _ := json.Marshal(cfg)
			h, err := host.New(host.Options{Executable: testenv.ValetBinary(t), Builtins: []string{b.provider},
				Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Off})})
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			_, err = h.Start(ctx, host.Spec{Store: "bad", Plugin: b.provider, Config: raw})
			if providers.CodeOf(err) != providers.InvalidArgument || !strings.Contains(err.Error(), "config.bucket") {
				t.Errorf("missing bucket: %v, want InvalidArgument about config.bucket", err)
			}
		})
	}
}

// TestS3DefaultCredentialChain configures a store without keys: the plugin
// finds them through the AWS default chain, here the AWS_* environment
// variables that the host is allowed to pass on.
func TestS3DefaultCredentialChain(t *testing.T) {
	srv := testenv.Versitygw(t)
	bucket := srv.CreateBucket(t, "chain")
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	t.Setenv("AWS_REGION", srv.Region)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true") // never reach for 169.254.169.254
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	p := s3Plugin(t, "s3", map[string]any{"bucket": bucket, "endpoint": srv.Endpoint}, "AWS_*")

	body := []byte("signed with default-chain credentials")
	r, err := p.SignPut(t.Context(), providers.PutRequest{Key: "chain/obj", ContentType: "text/plain", Size: int64(len(body)), TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.URL, "X-Amz-Credential="+srv.AccessKey) {
		t.Errorf("URL not signed with the environment's key id")
	}
	if st, _, rb := sendRecipe(t, r, body, nil); st != 200 {
		t.Fatalf("PUT: %d %s", st, rb)
	}
	obj, err := p.Head(t.Context(), providers.HeadRequest{Key: "chain/obj"})
	if err != nil || obj.Size != int64(len(body)) {
		t.Fatalf("Head = %+v, %v", obj, err)
	}
	info, err := p.Info(t.Context())
	if err != nil || info.Capabilities.MaxExpiry != 7*24*time.Hour {
		t.Errorf("long-lived environment keys: MaxExpiry = %v, %v; want 168h", info.Capabilities.MaxExpiry, err)
	}

	// When the host passes no keys the plugin finds no credentials and
	// says so. (IMDS stays disabled: tests reach only 127.0.0.1.)
	raw, _ := json.Marshal(map[string]any{"bucket": bucket, "endpoint": srv.Endpoint})
	h, err := host.New(host.Options{Executable: testenv.ValetBinary(t), Builtins: []string{"s3"},
		EnvAllow: []string{"AWS_EC2_METADATA_DISABLED", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_REGION"},
		Logger:   hclog.New(&hclog.LoggerOptions{Level: hclog.Off})})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if _, err := h.Start(ctx, host.Spec{Store: "nochain", Plugin: "s3", Config: raw}); err == nil {
		t.Error("plugin without credentials started")
	} else if strings.Contains(err.Error(), srv.SecretKey) {
		t.Errorf("error leaks the secret: %v", err)
	} else {
		t.Logf("without credentials: %v", err)
	}
}
