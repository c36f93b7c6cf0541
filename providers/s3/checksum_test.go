package s3

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/valetgw/valet/internal/testenv"
	"github.com/valetgw/valet/providers"
	"github.com/valetgw/valet/providers/providertest"
)

// TestChecksumsOnRealServers checks, against versitygw and MinIO, what the
// provider says about sha256: a single PUT signed with one is verified and
// Head reports it; a multipart object has no full-object sha256, so neither
// CompleteMultipart nor Head reports one, even when the parts carried
// checksums (S3 then stores a composite "...-N" value), and Info does not
// list sha256 in MultipartChecksums.
func TestChecksumsOnRealServers(t *testing.T) {
	for _, b := range []struct {
		name  string
		start func(testing.TB) *testenv.S3Server
		p     func() providers.Provider
	}{
		{"versitygw", testenv.Versitygw, New},
		{"minio", testenv.MinIO, NewMinIO},
	} {
		t.Run(b.name, func(t *testing.T) {
			srv := b.start(t)
			bucket := srv.CreateBucket(t, "sums")
			p := b.p().(*Provider)
			cfg, _ := json.Marshal(map[string]any{
				"bucket": bucket, "region": srv.Region, "endpoint": srv.Endpoint, "path_style": true,
				"access_key_id": srv.AccessKey, "secret_access_key": srv.SecretKey,
			})
			ctx := t.Context()
			if err := p.Configure(ctx, providers.StoreConfig{Store: "t", Config: cfg}); err != nil {
				t.Fatalf("Configure: %v", err)
			}
			info, err := p.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !info.Capabilities.Binds(providers.SHA256) || info.Capabilities.VerifiesMultipart(providers.SHA256) {
				t.Fatalf("Info: BindsChecksums %v, MultipartChecksums %v; want sha256 bound for a PUT and not claimed for multipart",
					info.Capabilities.BindsChecksums, info.Capabilities.MultipartChecksums)
			}

			t.Run("single", func(t *testing.T) {
				body := providertest.RandomBytes(1000)
				sum := providertest.Checksum(providers.SHA256, body)
				r, err := p.SignPut(ctx, providers.PutRequest{Key: "single.bin", ContentType: "application/octet-stream",
					Size: int64(len(body)), Checksum: sum, TTL: time.Minute})
				if err != nil {
					t.Fatal(err)
				}
				wrong := bytes.Clone(body)
				wrong[0] ^= 1
				if st := sendBody(t, r, wrong); st < 400 {
					t.Fatalf("PUT of another body under a signed sha256: %d, want it refused", st)
				}
				if st := sendBody(t, r, body); st != http.StatusOK {
					t.Fatalf("PUT: %d", st)
				}
				o, err := p.Head(ctx, providers.HeadRequest{Key: "single.bin"})
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%s: Head of a single PUT reports %v", b.name, o.Checksums)
				if got := o.Checksums[providers.SHA256]; got != sum.Value {
					t.Errorf("Head: Checksums[sha256] = %q, want %q", got, sum.Value)
				}
			})

			t.Run("multipart", func(t *testing.T) {
				parts := [][]byte{providertest.RandomBytes(minPartSize), providertest.RandomBytes(100)}
				declared := providertest.Checksum(providers.SHA256, append(bytes.Clone(parts[0]), parts[1]...))
				up, err := p.CreateMultipart(ctx, providers.CreateMultipartRequest{Key: "mp.bin", ContentType: "application/octet-stream",
					Size: int64(len(parts[0]) + len(parts[1])), PartSize: minPartSize, TTL: time.Minute, Checksum: declared})
				if err != nil {
					t.Fatal(err)
				}
				signed, err := p.SignParts(ctx, providers.SignPartsRequest{Key: "mp.bin", UploadID: up.UploadID, TTL: time.Minute,
					Parts: []providers.PartSpec{{Number: 1, Size: int64(len(parts[0]))}, {Number: 2, Size: int64(len(parts[1]))}}})
				recipes := signed.Parts
				if err != nil {
					t.Fatal(err)
				}
				var done []providers.CompletedPart
				for i, pr := range recipes {
					res := providertest.Send(t, nil, pr.Recipe, parts[i], nil)
					if res.Status != http.StatusOK {
						t.Fatalf("part %d: %d", pr.Number, res.Status)
					}
					done = append(done, providers.CompletedPart{Number: pr.Number, ETag: res.Header.Get("ETag")})
				}
				o, err := p.CompleteMultipart(ctx, providers.CompleteMultipartRequest{Key: "mp.bin", UploadID: up.UploadID, Parts: done, Checksum: declared})
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%s: CompleteMultipart reports %v", b.name, o.Checksums)
				if _, ok := o.Checksums[providers.SHA256]; ok {
					t.Errorf("CompleteMultipart reports a sha256 (%v) that S3 cannot compute for a multipart object", o.Checksums)
				}
			})

			// Parts sent with their own sha256 (as an SDK client would) give
			// S3 a checksum of part checksums, which is not the content's.
			t.Run("composite", func(t *testing.T) {
				c := srv.Client()
				key := "composite.bin"
				cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key),
					ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
				if err != nil {
					t.Fatal(err)
				}
				parts := [][]byte{providertest.RandomBytes(minPartSize), providertest.RandomBytes(100)}
				var done []types.CompletedPart
				for i, b := range parts {
					sum := providertest.Checksum(providers.SHA256, b).Value
					out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: cr.UploadId,
						PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(b), ContentLength: aws.Int64(int64(len(b))),
						ChecksumAlgorithm: types.ChecksumAlgorithmSha256, ChecksumSHA256: aws.String(sum)})
					if err != nil {
						t.Fatalf("part %d: %v", i+1, err)
					}
					done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag, ChecksumSHA256: aws.String(sum)})
				}
				if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key),
					UploadId: cr.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}); err != nil {
					t.Fatal(err)
				}
				raw, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%s: HeadObject of a multipart object with sha256 parts: ChecksumSHA256=%q ChecksumType=%q",
					b.name, aws.ToString(raw.ChecksumSHA256), raw.ChecksumType)
				o, err := p.Head(ctx, providers.HeadRequest{Key: key})
				if err != nil {
					t.Fatal(err)
				}
				whole := providertest.Checksum(providers.SHA256, append(bytes.Clone(parts[0]), parts[1]...)).Value
				if got, ok := o.Checksums[providers.SHA256]; ok && got != whole {
					t.Errorf("Head reports Checksums[sha256] = %q for a multipart object; the content's is %q (a composite value must not be reported)", got, whole)
				}
			})
		})
	}
}

func sendBody(t *testing.T, r providers.Recipe, body []byte) int {
	t.Helper()
	return providertest.Send(t, nil, r, body, nil).Status
}
