package s3

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/valetgw/valet/providers"
	"github.com/valetgw/valet/providers/internal/httpspan"
)

// Version is reported in Info.
const Version = "1.0.0"

// S3 limits, reported in Info and enforced before anything is signed.
const (
	maxExpiry   = 7 * 24 * time.Hour // SigV4 presigned URLs
	minPartSize = 5 << 20            // every part but the last
	maxPartSize = 5 << 30
	maxParts    = 10000
	maxPutSize  = 5 << 30 // a single PUT
)

// credentialsExpiryWindow makes the SDK refresh temporary credentials this
// long before they expire, so that a URL signed with them still has a useful
// lifetime after clamping.
const credentialsExpiryWindow = 5 * time.Minute

// Provider implements providers.Provider for S3 and S3-compatible stores.
// The zero value is not usable; call New or NewMinIO.
type Provider struct {
	name  string
	minio bool
	// now is the clock used for signing; tests pin it.
	now func() time.Time
	st  atomic.Pointer[state]
}

// state is everything Configure derives from a store config. It is replaced
// as a whole, so a reconfigure never exposes a half-applied config.
type state struct {
	cfg    Config
	client *s3.Client
	creds  aws.CredentialsProvider
	// temporary is true when the credentials come from the default chain
	// or carry a session token, so URLs may not outlive them.
	temporary bool
	signer    *v4.Signer
	// Signed object URLs are scheme:opaque+escapedKey, where opaque is
	// //host[/prefix]/bucket/ (path style) or //bucket.host[/prefix]/
	// (virtual-hosted), for the public endpoint.
	scheme, host, opaque string
}

// New returns the "s3" provider: AWS by default, any S3-compatible store with
// an endpoint.
func New() providers.Provider { return &Provider{name: "s3", now: time.Now} }

// NewMinIO returns the "minio" provider: the same code with MinIO's
// defaults, path-style addressing and a required endpoint.
func NewMinIO() providers.Provider { return &Provider{name: "minio", minio: true, now: time.Now} }

// Info reports S3's capabilities. After Configure, MaxExpiry is clamped to
// the remaining lifetime of temporary credentials.
func (p *Provider) Info(ctx context.Context) (providers.Info, error) {
	caps := providers.Capabilities{
		SignPut:                true,
		SignGet:                true,
		SignDelete:             true,
		BindsContentLength:     true,
		BindsContentType:       true,
		BindsChecksums:         []providers.ChecksumAlgorithm{providers.SHA256, providers.MD5, providers.CRC32C},
		BindsCreateOnly:        true,
		GetOverrides:           true,
		MaxExpiry:              maxExpiry,
		Multipart:              true,
		MultipartNeedsETags:    true,
		MinPartSize:            minPartSize,
		MaxPartSize:            maxPartSize,
		MaxParts:               maxParts,
		PartsBindContentLength: true,
		Reader:                 true,
		PostPolicy:             true,
		CORS:                   true,
		// No MultipartChecksums: S3 keeps no full-object sha256 for a
		// multipart object, only a checksum of part checksums ("...-N").
		MultipartChecksums: nil,
		Notes: []string{
			"incomplete multipart uploads are kept until aborted; add a bucket lifecycle rule (AbortIncompleteMultipartUpload) to expire them",
			"checksum_sha256 is verified on a single PUT (signed x-amz-checksum-sha256, BadDigest otherwise) but cannot be verified by this store for a multipart upload, which has no full-object sha256; multipart uploads that declare it are refused",
		},
	}
	if p.minio {
		caps.Notes = append(caps.Notes, "MinIO answers 400 instead of 403 for some rejected signed requests")
	}
	if st := p.st.Load(); st != nil && st.temporary {
		creds, err := st.creds.Retrieve(ctx)
		if err != nil {
			return providers.Info{}, credentialsError(err)
		}
		if creds.CanExpire {
			caps.MaxExpiry = min(maxExpiry, time.Until(creds.Expires).Truncate(time.Second))
		}
		caps.Notes = append(caps.Notes, "temporary credentials: signed URLs stop working when the credentials that signed them expire")
	}
	return providers.Info{Name: p.name, Version: Version, Capabilities: caps}, nil
}

// Configure validates the store config, builds the S3 client and checks that
// the bucket is reachable. A missing bucket is InvalidArgument; an
// unreachable endpoint is Unavailable. A bare 403 on the HeadBucket check
// (which has no body to say why) is followed by a ranged GET of
// probeKey, whose error body tells a wrong key (InvalidAccessKeyId,
// SignatureDoesNotMatch: Unauthenticated, refused) from a least-privilege
// key without s3:ListBucket (AccessDenied: accepted; the first real call
// will tell).
func (p *Provider) Configure(ctx context.Context, sc providers.StoreConfig) error {
	cfg, err := decodeConfig(sc.Config, p.minio)
	if err != nil {
		return err
	}
	st, err := newState(ctx, cfg)
	if err != nil {
		return err
	}
	_, err = st.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(cfg.Bucket)})
	if err != nil {
		switch providers.CodeOf(mapError("HeadBucket", "", err)) {
		case providers.PermissionDenied:
			if err := probeCredentials(ctx, st); err != nil {
				return err
			}
		case providers.Unauthenticated:
			return credentialsRefused(mapError("HeadBucket", "", err))
		case providers.NotFound:
			// Some servers (versitygw) answer an unknown access key's
			// HeadBucket with a bare 404; the probe's body tells.
			if err := probeCredentials(ctx, st); providers.CodeOf(err) == providers.Unauthenticated {
				return err
			}
			return invalid("bucket", "bucket %q not found at %s", cfg.Bucket, endpointName(cfg))
		case providers.Unavailable:
			return mapError("HeadBucket", "", err)
		default:
			var ae smithy.APIError
			if errors.As(err, &ae) && (ae.ErrorCode() == "301" || ae.ErrorCode() == "PermanentRedirect" || ae.ErrorCode() == "AuthorizationHeaderMalformed") {
				return invalid("region", "bucket %q is not in region %q", cfg.Bucket, cfg.Region)
			}
			return mapError("HeadBucket", "", err)
		}
	}
	p.st.Store(st)
	return nil
}

// probeKey is the reserved key Configure reads to check the credentials;
// it need not exist.
const probeKey = ".valet-probe/credentials"

// probeCredentials GETs the first byte of probeKey. An absent key, an
// existing one, or AccessDenied (a key without s3:GetObject there, or
// without s3:ListBucket, which turns NoSuchKey into AccessDenied) prove
// the credentials are known; an Unauthenticated answer is the error.
func probeCredentials(ctx context.Context, st *state) error {
	out, err := st.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(st.cfg.Bucket), Key: aws.String(probeKey), Range: aws.String("bytes=0-0")})
	if err == nil {
		out.Body.Close()
		return nil
	}
	e := mapError("GetObject", probeKey, err)
	switch providers.CodeOf(e) {
	case providers.NotFound, providers.PermissionDenied, providers.InvalidArgument:
		return nil
	case providers.Unauthenticated:
		return credentialsRefused(e)
	}
	return e
}

// credentialsRefused words an Unauthenticated error for the operator.
func credentialsRefused(err error) error {
	msg := err.Error()
	var pe *providers.Error
	if errors.As(err, &pe) {
		msg = pe.Message
	}
	return &providers.Error{Code: providers.Unauthenticated, Message: "the storage server does not accept the credentials (config.access_key_id and config.secret_access_key, or the SDK's default chain): " + msg}
}

func endpointName(c Config) string {
	if c.Endpoint == "" {
		return "AWS region " + c.Region
	}
	return c.Endpoint
}

func newState(ctx context.Context, cfg Config) (*state, error) {
	st := &state{cfg: cfg}
	opts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithCredentialsCacheOptions(func(o *aws.CredentialsCacheOptions) {
			o.ExpiryWindow = credentialsExpiryWindow
		}),
	}
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)))
		st.temporary = cfg.SessionToken != ""
	} else {
		st.temporary = true
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		// Shared config files can be malformed; the message names the file,
		// never a secret.
		return nil, providers.Errorf(providers.InvalidArgument, "config: loading the AWS default configuration: %v", err)
	}
	if awsCfg.Region == "" {
		return nil, invalid("region", "required (or set AWS_REGION)")
	}
	st.cfg.Region = awsCfg.Region
	if awsCfg.Credentials == nil {
		return nil, invalid("access_key_id", "no credentials: set access_key_id and secret_access_key, or provide AWS default-chain credentials")
	}
	st.creds = awsCfg.Credentials
	if st.temporary {
		// Fail at configure time, not at the first upload.
		creds, err := st.creds.Retrieve(ctx)
		if err != nil {
			return nil, credentialsError(err)
		}
		if !creds.CanExpire && creds.SessionToken == "" {
			st.temporary = false // long-lived keys from the environment
		}
	}
	st.client = s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = bool(*cfg.PathStyle)
		// Each S3 request is a child span of the call being traced
		// (httpspan records no URL query and no header). Wrapped here,
		// after the default config has set up its client (CA bundle).
		o.HTTPClient = httpspan.Wrap(o.HTTPClient)
		// Only the calls that need a checksum get one: S3-compatible
		// servers differ in their support for the newer defaults.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	st.signer = v4.NewSigner(func(o *v4.SignerOptions) {
		o.DisableURIPathEscaping = true // S3 keys are escaped once, by objectURL
	})
	st.scheme, st.host, st.opaque = publicBase(st.cfg)
	return st, nil
}

// publicBase splits the URL prefix of signed object URLs into scheme, host
// and opaque path (see state).
func publicBase(c Config) (scheme, host, opaque string) {
	ep := c.PublicEndpoint
	if ep == "" {
		ep = c.Endpoint
	}
	if ep == "" {
		ep = "https://s3." + c.Region + ".amazonaws.com"
	}
	u, _ := url.Parse(ep) // checked by decodeConfig
	prefix := strings.TrimRight(u.EscapedPath(), "/")
	if bool(*c.PathStyle) {
		return u.Scheme, u.Host, "//" + u.Host + prefix + "/" + c.Bucket + "/"
	}
	host = c.Bucket + "." + u.Host
	return u.Scheme, host, "//" + host + prefix + "/"
}

// credentialsError reports a failure to obtain credentials without the
// provider chain's details, which can include file paths and role ARNs but
// must never include a secret.
func credentialsError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return providers.Errorf(providers.Unavailable, "s3: retrieving credentials: %v", err)
	}
	return providers.Errorf(providers.Unavailable, "s3: no usable credentials from the AWS default chain (%s)", firstLine(err.Error()))
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// configured returns the state or a FailedPrecondition error.
func (p *Provider) configured() (*state, error) {
	st := p.st.Load()
	if st == nil {
		return nil, providers.Errorf(providers.FailedPrecondition, "%s provider: not configured", p.name)
	}
	return st, nil
}

// configuredFor is configured for a call on a multipart upload, whose id
// must be given.
func (p *Provider) configuredFor(uploadID string) (*state, error) {
	st, err := p.configured()
	if err != nil {
		return nil, err
	}
	if uploadID == "" {
		return nil, providers.Errorf(providers.InvalidArgument, "upload id is empty")
	}
	return st, nil
}

var (
	_ providers.Provider  = (*Provider)(nil)
	_ providers.Multipart = (*Provider)(nil)
	_ providers.Reader    = (*Provider)(nil)
)
