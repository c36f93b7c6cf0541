package s3

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/valetgw/valet/providers"
)

// BenchmarkSign compares the two ways of presigning the same request:
// v4.Signer.PresignHTTP called directly (what the provider does) and the
// SDK's s3.PresignClient. TestSignMatchesPresignClient shows that both
// produce the same signature for the same request. Run with
//
//	go test -run '^$' -bench Sign -benchmem ./providers/s3
//
// Besides wall time, each case reports cpu-ns/op (process CPU time, GC
// included), which stays meaningful on a machine shared with other work.
func BenchmarkSign(b *testing.B) {
	f := newFakeS3(b)
	p := New().(*Provider)
	if err := configure(b, p, map[string]any{
		"bucket": "media", "endpoint": f.URL, "access_key_id": testKeyID, "secret_access_key": testSecret,
	}); err != nil {
		b.Fatal(err)
	}
	st := p.st.Load()
	pc := s3.NewPresignClient(s3.New(s3.Options{
		Region: st.cfg.Region, BaseEndpoint: aws.String(st.cfg.Endpoint), UsePathStyle: true, Credentials: st.creds,
	}))
	ctx := context.Background()
	const key = "users/alice/0f6b1c9e-2d7a-4c55-9a0e-5b7f4f1d2c3a/holiday video.mp4"
	const sum = "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="
	put := providers.PutRequest{Key: key, ContentType: "video/mp4", Size: 73 << 20, TTL: 15 * time.Minute,
		Checksum: &providers.Checksum{Algorithm: providers.SHA256, Value: sum}}

	b.Run("put/direct", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			if _, err := p.SignPut(ctx, put); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("put/presign-client", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			_, err := pc.PresignPutObject(ctx, &s3.PutObjectInput{
				Bucket: aws.String("media"), Key: aws.String(key), ContentType: aws.String("video/mp4"),
				ContentLength: aws.Int64(73 << 20), ChecksumSHA256: aws.String(sum),
			}, s3.WithPresignExpires(15*time.Minute))
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("get/direct", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			if _, err := p.SignGet(ctx, providers.GetRequest{Key: key, TTL: 5 * time.Minute}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("get/presign-client", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			if _, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("media"), Key: aws.String(key)},
				s3.WithPresignExpires(5*time.Minute)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parts-100/direct", func(b *testing.B) {
		parts := make([]providers.PartSpec, 100)
		for i := range parts {
			parts[i] = providers.PartSpec{Number: i + 1, Size: 8 << 20}
		}
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			if _, err := p.SignParts(ctx, providers.SignPartsRequest{Key: key, UploadID: "upload-1", Parts: parts, TTL: time.Hour}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// reportCPU measures the process CPU time used until the returned function
// runs and reports it per operation.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() { b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op") }
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
