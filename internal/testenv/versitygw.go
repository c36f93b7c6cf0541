package testenv

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// S3Server is a running S3-compatible server (versitygw or MinIO) with one
// set of test credentials.
type S3Server struct {
	// Name is "versitygw" or "minio".
	Name      string
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string
	SecretKey string
	Region    string
	Process   *Process
}

// Versitygw starts versitygw's posix backend on a free port with a fresh
// data directory. It is the most AWS-faithful test server: unsigned x-amz-*
// headers are rejected and PutBucketCors is honoured.
func Versitygw(t testing.TB) *S3Server {
	t.Helper()
	bin := Tool(t, "versitygw")
	s, port := newS3Server(t, "versitygw", "AKIAVALETTEST")
	cmd := exec.Command(bin, "--port", Addr(port), "--access", s.AccessKey, "--secret", s.SecretKey,
		"--region", s.Region, "posix", t.TempDir())
	s.Process = Start(t, Spec{Name: "versitygw", Cmd: cmd, Ready: HTTPReady(s.Endpoint + "/")})
	return s
}

// newS3Server is an S3Server named name on a free port, with accessKey and
// a fresh secret, not yet started.
func newS3Server(t testing.TB, name, accessKey string) (*S3Server, int) {
	t.Helper()
	port := FreePort(t)
	return &S3Server{
		Name:      name,
		Endpoint:  "http://" + Addr(port),
		AccessKey: accessKey,
		SecretKey: "valet-" + name + "-secret-" + randomSuffix(),
		Region:    "us-east-1",
	}, port
}

// Client returns an SDK client for test set-up and inspection, path-style,
// with the server's credentials.
func (s *S3Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:                     s.Region,
		BaseEndpoint:               aws.String(s.Endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

var bucketSeq atomic.Int64

// CreateBucket creates a fresh, uniquely named bucket and returns its name.
func (s *S3Server) CreateBucket(t testing.TB, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d-%d", strings.ToLower(prefix), time.Now().UnixNano()%1e9, bucketSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("%s: create bucket %s: %v", s.Name, name, err)
	}
	return name
}

// SetCORS lets browsers from origins PUT, GET and HEAD objects with the
// headers Valet signs, and read the ETag (needed to complete multipart
// uploads). MinIO does not implement PutBucketCors (501) and always allows
// every origin, so NotImplemented is not an error.
func (s *S3Server) SetCORS(t testing.TB, bucket string, origins []string) {
	t.Helper()
	if len(origins) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := s.Client().PutBucketCors(ctx, &s3.PutBucketCorsInput{
		Bucket: aws.String(bucket),
		CORSConfiguration: &types.CORSConfiguration{CORSRules: []types.CORSRule{{
			AllowedOrigins: origins,
			AllowedMethods: []string{"PUT", "POST", "GET", "HEAD", "DELETE"}, // POST: form uploads (POST policies)
			AllowedHeaders: []string{"content-type", "content-md5", "if-none-match", "range", "x-amz-*"},
			ExposeHeaders:  []string{"ETag", "Content-Length", "Content-Type", "Content-Range", "Accept-Ranges", "Last-Modified"},
			MaxAgeSeconds:  aws.Int32(600),
		}}},
	})
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "NotImplemented" {
		return
	}
	if err != nil {
		t.Fatalf("%s: put bucket cors on %s: %v", s.Name, bucket, err)
	}
}
