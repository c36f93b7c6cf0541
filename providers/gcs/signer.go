package gcs

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/api/iamcredentials/v1"
	"google.golang.org/api/option"
)

// signer turns a v4Request into a signed URL.
type signer interface {
	// sign returns the signed URL and the moment it expires.
	sign(ctx context.Context, r v4Request) (string, time.Time, error)
	// kind is "key", "iam" or "hmac", for Info and logs.
	kind() string
}

// sdkSigner signs with cloud.google.com/go/storage's V4 signer. signBytes is
// either an RSA key held in memory or the IAM signBlob API.
type sdkSigner struct {
	accessID  string
	which     string
	signBytes func(ctx context.Context, b []byte) ([]byte, error)
}

func (s *sdkSigner) kind() string { return s.which }

func (s *sdkSigner) sign(ctx context.Context, r v4Request) (string, time.Time, error) {
	opts := &storage.SignedURLOptions{
		GoogleAccessID: s.accessID,
		SignBytes:      func(b []byte) ([]byte, error) { return s.signBytes(ctx, b) },
		Method:         r.Method,
		// The SDK takes its own "now" a moment after ours and truncates
		// X-Goog-Expires to whole seconds; half a second of slack keeps the
		// signed TTL equal to the requested one.
		Expires:         time.Now().Add(r.Expires + 500*time.Millisecond),
		Scheme:          storage.SigningSchemeV4,
		Insecure:        r.Scheme == "http",
		Hostname:        r.Hostname,
		QueryParameters: r.Query,
	}
	switch r.Style {
	case styleVirtualHosted:
		opts.Style = storage.VirtualHostedStyle()
	case styleBucketBound:
		opts.Style = storage.BucketBoundHostname(r.Hostname)
	default:
		opts.Style = storage.PathStyle()
	}
	for k, v := range r.Headers {
		switch k {
		case "content-type":
			opts.ContentType = v
		case "content-md5":
			opts.MD5 = v
		default:
			opts.Headers = append(opts.Headers, k+":"+v)
		}
	}
	u, err := storage.SignedURL(r.Bucket, r.Object, opts)
	if err != nil {
		return "", time.Time{}, err
	}
	exp, err := expiresAt(u)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("signed URL: %w", err)
	}
	return u, exp, nil
}

// newKeySigner parses a service-account key once, so each URL costs one
// RSA signature and no PEM parsing.
func newKeySigner(credsJSON []byte) (*sdkSigner, error) {
	sa, err := parseServiceAccount(credsJSON)
	if err != nil {
		return nil, err
	}
	key, err := parseRSAKey([]byte(sa.PrivateKey))
	if err != nil {
		return nil, invalid("credentials: private_key: %v", err)
	}
	return &sdkSigner{
		accessID: sa.ClientEmail,
		which:    "key",
		signBytes: func(_ context.Context, b []byte) ([]byte, error) {
			sum := sha256.Sum256(b)
			return rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
		},
	}, nil
}

func parseRSAKey(p []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(p)
	if block == nil {
		return nil, errors.New("not PEM encoded")
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, errors.New("not an RSA key")
		}
		return rk, nil
	}
	k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("neither PKCS#8 nor PKCS#1 RSA")
	}
	return k, nil
}

// newIAMSigner signs through the IAM credentials API's signBlob as email,
// authenticated by Application Default Credentials (workload identity on
// GKE and Cloud Run). The key never leaves Google; every URL costs one
// API round trip.
func newIAMSigner(ctx context.Context, email string, opts []option.ClientOption) (*sdkSigner, error) {
	svc, err := iamcredentials.NewService(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("iam credentials client: %w", err)
	}
	name := "projects/-/serviceAccounts/" + email
	return &sdkSigner{
		accessID: email,
		which:    "iam",
		signBytes: func(ctx context.Context, b []byte) ([]byte, error) {
			ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			defer cancel()
			resp, err := svc.Projects.ServiceAccounts.SignBlob(name, &iamcredentials.SignBlobRequest{
				Payload: base64.StdEncoding.EncodeToString(b),
			}).Context(ctx).Do()
			if err != nil {
				return nil, fmt.Errorf("iam signBlob: %w", err)
			}
			sig, err := base64.StdEncoding.DecodeString(resp.SignedBlob)
			if err != nil {
				return nil, fmt.Errorf("iam signBlob: bad signature encoding: %w", err)
			}
			return sig, nil
		},
	}, nil
}

// hmacSigner signs GOOG4-HMAC-SHA256 URLs with v4.go. It is some hundred
// times cheaper than an RSA signature (see docs/benchmarks.md).
type hmacSigner struct {
	accessID string
	secret   string
	now      func() time.Time
	// key caches the signing key of one date: it changes once a day.
	key atomic.Pointer[datedKey]
}

type datedKey struct {
	date string
	// macs hold HMAC-SHA256 states keyed with the date's signing key;
	// reusing one saves keying it again for every URL.
	macs sync.Pool
}

func (s *hmacSigner) kind() string { return "hmac" }

func (s *hmacSigner) sign(_ context.Context, r v4Request) (string, time.Time, error) {
	r.Now = s.now()
	date := r.Now.UTC().Format(v4DateFormat)
	dk := s.key.Load()
	if dk == nil || dk.date != date {
		key := hmacSigningKey(s.secret, date)
		dk = &datedKey{date: date, macs: sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}}
		s.key.Store(dk)
	}
	return v4Sign(r, algHMAC, s.accessID, func(sts []byte) ([]byte, error) {
		h := dk.macs.Get().(hash.Hash)
		h.Reset()
		h.Write(sts)
		sig := h.Sum(make([]byte, 0, sha256.Size))
		dk.macs.Put(h)
		return sig, nil
	})
}
