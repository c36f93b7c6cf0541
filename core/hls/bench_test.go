package hls

import (
	"context"
	"testing"

	"github.com/valetgw/valet/internal/testenv"
)

// batchSigner stands in for the provider: one call for the batch, each URL
// about as long as an S3 presigned GET.
type batchSigner struct{ calls int }

func (s *batchSigner) PlaylistURL(key string) (string, error) {
	return "https://gw.example/p/TOKEN/" + key, nil
}

const sigQuery = "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20250101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20250101T000000Z&X-Amz-Expires=14400&X-Amz-SignedHeaders=host&X-Amz-Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func (s *batchSigner) SignMedia(_ context.Context, keys []string) ([]string, error) {
	s.calls++
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = "https://media.s3.us-east-1.amazonaws.com/" + k + sigQuery
	}
	return out, nil
}

// BenchmarkRewriteVOD rewrites the one-hour playlist: parse, one batch of
// 601 keys, render (signing itself is the provider's, not measured here).
func BenchmarkRewriteVOD(b *testing.B) {
	data := testenv.VODPlaylist()
	const key = "users/alice/0b8e6a3e-3d3c-4a8e-9a53-1f1d0c4e2b7a/720p/index.m3u8"
	s := &batchSigner{}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var out []byte
	for b.Loop() {
		var err error
		if out, err = Rewrite(context.Background(), data, key, "users/alice/0b8e6a3e-3d3c-4a8e-9a53-1f1d0c4e2b7a/", s); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(s.calls)/float64(b.N), "batches/op")
	b.ReportMetric(float64(len(out)), "out-bytes")
}
