package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// MinIO starts a single-drive MinIO server on a free port with a fresh data
// directory and waits for /minio/health/ready. MinIO answers 400 where AWS
// answers 403 for some rejected signed requests, and its CORS is always
// open (PutBucketCors gives 501).
func MinIO(t testing.TB) *S3Server {
	t.Helper()
	bin := Tool(t, "minio")
	s, port := newS3Server(t, "minio", "valetminio")
	console := FreePort(t)
	cmd := exec.Command(bin, "server", t.TempDir(), "--address", Addr(port), "--console-address", Addr(console), "--quiet")
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+s.AccessKey,
		"MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_UPDATE=off",
		"MINIO_BROWSER=off",
		"MINIO_CALLHOME_ENABLE=off",
	)
	s.Process = Start(t, Spec{Name: "minio", Cmd: cmd, Ready: s.minioReady()})
	return s
}

// minioReady succeeds once a signed ListBuckets works: /minio/health/ready
// can answer before the object layer is initialised, when bucket calls
// still get 503 XMinioServerNotInitialized.
func (s *S3Server) minioReady() Probe {
	health := HTTPReady(s.Endpoint + "/minio/health/ready")
	return func(p *Process) error {
		if err := health(p); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := s.Client().ListBuckets(ctx, &s3.ListBucketsInput{}, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
		return err
	}
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
