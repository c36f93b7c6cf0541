package gcs

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/auth"

	"cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	htransport "google.golang.org/api/transport/http"

	"github.com/valetgw/valet/providers"
	"github.com/valetgw/valet/providers/internal/httpspan"
)

// Version is reported by Info.
const Version = "0.1.0"

const (
	// maxExpiry is the longest lifetime GCS accepts for a V4 signature.
	maxExpiry = 7 * 24 * time.Hour
	// maxParts bounds a multipart upload; completion composes them in
	// ceil(log32(n)) rounds (10000 parts: 313 + 10 + 1 compose calls).
	maxParts = 10000
	// maxObjectSize is GCS's object size limit (5 TiB).
	maxObjectSize = 5 << 40
)

// Provider is the gcs provider. The zero value is not usable; call New.
type Provider struct {
	now func() time.Time

	mu     sync.RWMutex
	st     *settings
	client *storage.Client
	signer signer

	sweepMu   sync.Mutex
	lastSweep time.Time
}

// New returns an unconfigured gcs provider.
func New() providers.Provider { return &Provider{now: time.Now} }

type state struct {
	st     *settings
	bucket *storage.BucketHandle
	signer signer
}

func (p *Provider) state() (state, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.st == nil {
		return state{}, providers.Errorf(providers.FailedPrecondition, "gcs: not configured")
	}
	return state{st: p.st, bucket: p.client.Bucket(p.st.Bucket), signer: p.signer}, nil
}

// stateFor is state for a call on key, which checkKey has accepted.
func (p *Provider) stateFor(key string) (state, error) {
	s, err := p.state()
	if err != nil {
		return state{}, err
	}
	if err := s.checkKey(key); err != nil {
		return state{}, err
	}
	return s, nil
}

// Info implements providers.Provider.
func (p *Provider) Info(ctx context.Context) (providers.Info, error) {
	notes := []string{
		"Content-Length cannot be bound in a V4 URL: complete verifies the size by HEAD.",
		"Checksums bound: md5 (Content-MD5) and crc32c (x-goog-hash).",
		"checksum_sha256 cannot be verified by this store (GCS keeps only md5 and crc32c), for single or multipart uploads; uploads that declare it are refused.",
		"Multipart is a parallel composite upload: parts are temporary objects under a reserved prefix, composed at completion. Composite objects have a crc32c but no md5.",
	}
	signerKind := "key"
	p.mu.RLock()
	if p.st != nil {
		signerKind = p.signer.kind()
		notes = append(notes, fmt.Sprintf("Keys under %q are reserved for multipart temporaries.", p.st.PartsPrefix))
	}
	p.mu.RUnlock()
	switch signerKind {
	case "iam":
		notes = append(notes, "Signer iam: each URL costs one IAM signBlob call. This path was tested only against a local stand-in of the IAM API, not against Google.")
	case "hmac":
		notes = append(notes, "Signer hmac: URLs are signed locally with GOOG4-HMAC-SHA256; JSON API calls use credentials or ADC.")
	}
	return providers.Info{
		Name:    "gcs",
		Version: Version,
		Capabilities: providers.Capabilities{
			SignPut:                true,
			SignGet:                true,
			SignDelete:             true,
			BindsContentLength:     false,
			BindsContentType:       true,
			BindsChecksums:         []providers.ChecksumAlgorithm{providers.MD5, providers.CRC32C},
			BindsCreateOnly:        true,
			GetOverrides:           true,
			MaxExpiry:              maxExpiry,
			Multipart:              true,
			MultipartNeedsETags:    false,
			MinPartSize:            0,
			MaxPartSize:            maxObjectSize,
			MaxParts:               maxParts,
			PartsBindContentLength: false,
			Reader:                 true,
			CORS:                   true,
			// GCS reports no sha256 of a composed object (or of any other).
			MultipartChecksums: nil,
			Notes:              notes,
		},
	}, nil
}

// Configure implements providers.Provider. It checks that the bucket can be
// listed, so a wrong bucket or missing permission shows at start-up.
func (p *Provider) Configure(ctx context.Context, cfg providers.StoreConfig) error {
	st, err := parseConfig(cfg.Config)
	if err != nil {
		return err
	}
	var clientOpts []option.ClientOption
	if st.Endpoint != "" {
		clientOpts = append(clientOpts, option.WithEndpoint(st.Endpoint))
	}
	var authOpts []option.ClientOption
	switch {
	case st.WithoutAuthentication:
		authOpts = append(authOpts, option.WithoutAuthentication())
	case st.credsJSON != nil:
		authOpts = append(authOpts, option.WithAuthCredentialsJSON(option.ServiceAccount, st.credsJSON))
	}
	// Without either, the clients use Application Default Credentials.

	var sg signer
	switch st.Signer {
	case "key":
		sg, err = newKeySigner(st.credsJSON)
	case "iam":
		iamOpts := append([]option.ClientOption(nil), authOpts...)
		if st.IAMEndpoint != "" {
			iamOpts = append(iamOpts, option.WithEndpoint(st.IAMEndpoint))
		}
		sg, err = newIAMSigner(ctx, st.GoogleAccessID, iamOpts)
		if err != nil {
			err = providers.Errorf(providers.Unavailable, "store %s: %v", cfg.Store, err)
		}
	case "hmac":
		sg = &hmacSigner{accessID: st.HMACAccessID, secret: st.hmacSecret, now: p.now}
	}
	if err != nil {
		return err
	}

	// The transport's own telemetry (otelhttp) records each URL with its
	// query; httpspan records neither, so the authenticated client is
	// built here without it and wrapped.
	hc, _, err := htransport.NewClient(ctx, append([]option.ClientOption{option.WithScopes(storage.ScopeFullControl), option.WithTelemetryDisabled()}, authOpts...)...)
	if err != nil {
		return providers.Errorf(providers.Unavailable, "store %s: storage client: %v", cfg.Store, err)
	}
	hc.Transport = httpspan.Transport(hc.Transport)
	client, err := storage.NewClient(ctx, append(clientOpts, option.WithHTTPClient(hc))...)
	if err != nil {
		return providers.Errorf(providers.Unavailable, "store %s: storage client: %v", cfg.Store, err)
	}
	// Listing one object needs only storage.objects.list, which object-level
	// roles grant; buckets.get would need more.
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	it := client.Bucket(st.Bucket).Objects(cctx, &storage.Query{Prefix: st.PartsPrefix})
	it.PageInfo().MaxSize = 1
	if _, err := it.Next(); err != nil && !errors.Is(err, iterator.Done) {
		if errors.Is(err, storage.ErrBucketNotExist) {
			client.Close()
			return invalid("bucket: bucket %q does not exist", st.Bucket)
		}
		// Credentials Google does not accept (invalid_grant, 401) fail
		// here; a known account refused the listing (403: a
		// least-privilege role such as objectCreator) does not, since its
		// uploads may still be allowed.
		if e := wrapErr(err, fmt.Sprintf("store %s: bucket %s", cfg.Store, st.Bucket)); providers.CodeOf(e) != providers.PermissionDenied {
			client.Close()
			return e
		}
	}

	p.mu.Lock()
	old := p.client
	p.st, p.client, p.signer = st, client, sg
	p.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

// signURL signs method on object with headers and query, and returns the
// recipe. ExpiresAt is read back from the URL, so it is exactly what the
// backend will enforce.
func (s state) signURL(ctx context.Context, method, object string, ttl time.Duration, headers map[string]string, query url.Values) (providers.Recipe, error) {
	if ttl <= 0 {
		return providers.Recipe{}, providers.Errorf(providers.InvalidArgument, "ttl must be positive")
	}
	if ttl > maxExpiry {
		return providers.Recipe{}, providers.Errorf(providers.InvalidArgument, "ttl %s exceeds the 7-day maximum of a V4 signature", ttl)
	}
	// X-Goog-Expires is whole seconds; round up so a short TTL is not 0.
	ttl = (ttl + time.Second - 1).Truncate(time.Second)
	scheme := s.st.SigningScheme
	if scheme == "" {
		scheme = "https"
	}
	host := s.st.SigningHost
	if host == "" {
		host = "storage.googleapis.com"
	}
	u, exp, err := s.signer.sign(ctx, v4Request{
		Method: method, Bucket: s.st.Bucket, Object: object,
		Scheme: scheme, Hostname: host, Style: s.st.style,
		Headers: headers, Query: query, Expires: ttl,
	})
	if err != nil {
		return providers.Recipe{}, providers.Errorf(providers.Unavailable, "signing with the %s signer failed: %v", s.signer.kind(), err)
	}
	hdr := make(map[string]string, len(headers))
	for k, v := range headers {
		hdr[http.CanonicalHeaderKey(k)] = v
	}
	return providers.Recipe{Method: method, URL: u, Headers: hdr, ExpiresAt: exp}, nil
}

// expiresAt computes X-Goog-Date + X-Goog-Expires of a signed URL.
func expiresAt(signed string) (time.Time, error) {
	u, err := url.Parse(signed)
	if err != nil {
		return time.Time{}, err
	}
	q := u.Query()
	d, err := time.Parse(v4TimeFormat, q.Get("X-Goog-Date"))
	if err != nil {
		return time.Time{}, fmt.Errorf("X-Goog-Date: %w", err)
	}
	n, err := strconv.Atoi(q.Get("X-Goog-Expires"))
	if err != nil {
		return time.Time{}, fmt.Errorf("X-Goog-Expires: %w", err)
	}
	return d.Add(time.Duration(n) * time.Second), nil
}

// SignPut implements providers.Provider. It binds Content-Type, an MD5
// (Content-MD5) or CRC32C (x-goog-hash) checksum, metadata, and create-only
// (x-goog-if-generation-match: 0). A sha256 checksum is not bound: GCS
// cannot verify one.
func (p *Provider) SignPut(ctx context.Context, req providers.PutRequest) (providers.Recipe, error) {
	s, err := p.stateFor(req.Key)
	if err != nil {
		return providers.Recipe{}, err
	}
	if req.Size < 0 || req.Size > maxObjectSize {
		return providers.Recipe{}, providers.Errorf(providers.InvalidArgument, "size %d is outside 0..5 TiB", req.Size)
	}
	headers := map[string]string{}
	if req.ContentType != "" {
		if err := checkHeaderValue("content type", req.ContentType); err != nil {
			return providers.Recipe{}, err
		}
		headers["content-type"] = canonicalHeaderValue(req.ContentType)
	}
	if c := req.Checksum; c != nil {
		switch c.Algorithm {
		case providers.MD5:
			if b, err := base64.StdEncoding.DecodeString(c.Value); err != nil || len(b) != 16 {
				return providers.Recipe{}, providers.Errorf(providers.InvalidArgument, "md5 checksum: want base64 of 16 bytes")
			}
			headers["content-md5"] = c.Value
		case providers.CRC32C:
			if b, err := base64.StdEncoding.DecodeString(c.Value); err != nil || len(b) != 4 {
				return providers.Recipe{}, providers.Errorf(providers.InvalidArgument, "crc32c checksum: want base64 of 4 bytes")
			}
			headers["x-goog-hash"] = "crc32c=" + c.Value
		case providers.SHA256:
			// Not bound (Info does not claim it); the gateway decides.
		default:
			return providers.Recipe{}, providers.Errorf(providers.InvalidArgument, "checksum algorithm %q is not supported", c.Algorithm)
		}
	}
	if err := addMetadata(headers, req.Metadata); err != nil {
		return providers.Recipe{}, err
	}
	if req.CreateOnly {
		headers["x-goog-if-generation-match"] = "0"
	}
	return s.signURL(ctx, http.MethodPut, req.Key, req.TTL, headers, nil)
}

// SignGet implements providers.Provider.
func (p *Provider) SignGet(ctx context.Context, req providers.GetRequest) (providers.Recipe, error) {
	s, err := p.stateFor(req.Key)
	if err != nil {
		return providers.Recipe{}, err
	}
	q := url.Values{}
	if req.ResponseContentType != "" {
		if err := checkQueryValue("response content type", req.ResponseContentType); err != nil {
			return providers.Recipe{}, err
		}
		q.Set("response-content-type", req.ResponseContentType)
	}
	if req.ResponseContentDisposition != "" {
		if err := checkQueryValue("response content disposition", req.ResponseContentDisposition); err != nil {
			return providers.Recipe{}, err
		}
		q.Set("response-content-disposition", req.ResponseContentDisposition)
	}
	return s.signURL(ctx, http.MethodGet, req.Key, req.TTL, nil, q)
}

// SignDelete implements providers.Provider.
func (p *Provider) SignDelete(ctx context.Context, req providers.SignDeleteRequest) (providers.Recipe, error) {
	s, err := p.stateFor(req.Key)
	if err != nil {
		return providers.Recipe{}, err
	}
	return s.signURL(ctx, http.MethodDelete, req.Key, req.TTL, nil, nil)
}

// Head implements providers.Provider.
func (p *Provider) Head(ctx context.Context, req providers.HeadRequest) (providers.Object, error) {
	key := req.Key
	s, err := p.stateFor(key)
	if err != nil {
		return providers.Object{}, err
	}
	a, err := s.bucket.Object(key).Attrs(ctx)
	if err != nil {
		return providers.Object{}, wrapErr(err, "head "+quoteKey(key))
	}
	return toObject(a), nil
}

// ReadObject implements providers.Reader: the object's attributes first
// (so an object over MaxBytes is never opened), then that generation's
// bytes, so the two cannot come from different writes.
func (p *Provider) ReadObject(ctx context.Context, req providers.ReadObjectRequest) (providers.ReadObjectResult, error) {
	if err := providers.CheckReadObject(req); err != nil {
		return providers.ReadObjectResult{}, err
	}
	s, err := p.stateFor(req.Key)
	if err != nil {
		return providers.ReadObjectResult{}, err
	}
	a, err := s.bucket.Object(req.Key).Attrs(ctx)
	if err != nil {
		return providers.ReadObjectResult{}, wrapErr(err, "read "+quoteKey(req.Key))
	}
	if a.Size > req.MaxBytes {
		return providers.ReadObjectResult{}, providers.TooLarge(req.Key, a.Size, req.MaxBytes)
	}
	r, err := s.bucket.Object(req.Key).Generation(a.Generation).NewReader(ctx)
	if err != nil {
		return providers.ReadObjectResult{}, wrapErr(err, "read "+quoteKey(req.Key))
	}
	defer r.Close()
	data, err := providers.ReadBounded(req.Key, r, a.Size, req.MaxBytes)
	if err != nil {
		return providers.ReadObjectResult{}, err
	}
	return providers.ReadObjectResult{Object: toObject(a), Data: data}, nil
}

var _ providers.Reader = (*Provider)(nil)

// List implements providers.Provider. The cursor is GCS's page token.
// Multipart temporaries are never listed.
func (p *Provider) List(ctx context.Context, req providers.ListRequest) (providers.ListPage, error) {
	s, err := p.state()
	if err != nil {
		return providers.ListPage{}, err
	}
	limit := req.PageSize()
	q := &storage.Query{Prefix: req.Prefix}
	if err := q.SetAttrSelection([]string{"Name", "Size", "ContentType", "Etag", "Updated", "Metadata", "MD5", "CRC32C"}); err != nil {
		return providers.ListPage{}, providers.Errorf(providers.Internal, "list: %v", err)
	}
	cursor := req.Cursor
	var page providers.ListPage
	// A page made only of hidden temporaries would look like the end; keep
	// reading (a bounded number of pages) until something is visible.
	for range 10 {
		var attrs []*storage.ObjectAttrs
		next, err := iterator.NewPager(s.bucket.Objects(ctx, q), limit, cursor).NextPage(&attrs)
		if err != nil {
			return providers.ListPage{}, wrapErr(err, "list")
		}
		for _, a := range attrs {
			if strings.HasPrefix(a.Name, s.st.PartsPrefix) {
				continue
			}
			page.Objects = append(page.Objects, toObject(a))
		}
		page.NextCursor = next
		if len(page.Objects) > 0 || next == "" {
			break
		}
		cursor = next
	}
	return page, nil
}

// Delete implements providers.Provider.
func (p *Provider) Delete(ctx context.Context, req providers.DeleteRequest) (providers.DeleteResult, error) {
	key := req.Key
	s, err := p.stateFor(key)
	if err != nil {
		return providers.DeleteResult{}, err
	}
	if err := s.bucket.Object(key).Delete(ctx); err != nil && !errors.Is(err, storage.ErrObjectNotExist) {
		return providers.DeleteResult{}, wrapErr(err, "delete "+quoteKey(key))
	}
	return providers.DeleteResult{}, nil
}

// checkKey refuses keys inside the reserved multipart prefix, so a client
// can never read, overwrite or delete another upload's parts.
func (s state) checkKey(key string) error {
	if key == "" {
		return providers.Errorf(providers.InvalidArgument, "key: required")
	}
	if strings.HasPrefix(key, s.st.PartsPrefix) {
		return providers.Errorf(providers.InvalidArgument, "key: the prefix %q is reserved for multipart temporaries", s.st.PartsPrefix)
	}
	return nil
}

func toObject(a *storage.ObjectAttrs) providers.Object {
	o := providers.Object{
		Key:          a.Name,
		Size:         a.Size,
		ContentType:  a.ContentType,
		ETag:         a.Etag,
		LastModified: a.Updated,
		Metadata:     a.Metadata,
		Checksums:    map[providers.ChecksumAlgorithm]string{},
	}
	if len(a.MD5) == 16 {
		o.Checksums[providers.MD5] = base64.StdEncoding.EncodeToString(a.MD5)
		// The XML API (which the browser talks to) uses the MD5 as ETag.
		o.ETag = `"` + hex.EncodeToString(a.MD5) + `"`
	}
	var crc [4]byte
	binary.BigEndian.PutUint32(crc[:], a.CRC32C)
	o.Checksums[providers.CRC32C] = base64.StdEncoding.EncodeToString(crc[:])
	return o
}

// addMetadata adds x-goog-meta-* headers; names and values must survive
// an HTTP header unchanged.
func addMetadata(headers map[string]string, md map[string]string) error {
	for k, v := range md {
		if k == "" || strings.IndexFunc(k, func(r rune) bool {
			return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_')
		}) >= 0 {
			return providers.Errorf(providers.InvalidArgument, "metadata key %q: only letters, digits, - and _ are allowed", k)
		}
		if err := checkHeaderValue("metadata "+k, v); err != nil {
			return err
		}
		headers["x-goog-meta-"+strings.ToLower(k)] = canonicalHeaderValue(v)
	}
	return nil
}

// checkHeaderValue rejects what an HTTP header cannot carry verbatim.
func checkHeaderValue(what, v string) error {
	for _, r := range v {
		if r < 0x20 || r > 0x7e {
			return providers.Errorf(providers.InvalidArgument, "%s: only printable ASCII is allowed", what)
		}
	}
	return nil
}

// checkQueryValue rejects control characters in a signed response
// override. UTF-8 is allowed: it travels percent-encoded in the query, and
// GCS echoes it as the response header.
func checkQueryValue(what, v string) error {
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return providers.Errorf(providers.InvalidArgument, "%s: control characters are not allowed", what)
		}
	}
	return nil
}

func quoteKey(k string) string { return strconv.Quote(k) }

// wrapErr maps storage and transport errors to provider codes.
func wrapErr(err error, what string) error {
	var ge *googleapi.Error
	var re *auth.Error
	var ne net.Error
	switch {
	case errors.Is(err, storage.ErrObjectNotExist), errors.Is(err, storage.ErrBucketNotExist):
		return &providers.Error{Code: providers.NotFound, Message: what + ": not found", Err: err}
	case errors.As(err, &re):
		// The token exchange refused the service account: invalid_grant is
		// a deleted or wrong key (or a clock far off), invalid_client and
		// unauthorized_client an unknown account. Only the OAuth error
		// code is quoted: the response body may echo request details.
		code := providers.Unavailable
		if re.Response != nil && re.Response.StatusCode >= 400 && re.Response.StatusCode < 500 {
			code = providers.Unauthenticated
		}
		return &providers.Error{Code: code, Message: fmt.Sprintf("%s: Google OAuth refused the service account credentials: %s", what, oauthCode(re))}
	case errors.As(err, &ge):
		code := providers.StatusCode(ge.Code)
		return &providers.Error{Code: code, Message: fmt.Sprintf("%s: gcs answered %d %s", what, ge.Code, ge.Message), Err: err}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled), errors.As(err, &ne):
		return &providers.Error{Code: providers.Unavailable, Message: what + ": " + err.Error(), Err: err}
	}
	return &providers.Error{Code: providers.Unavailable, Message: what + ": " + err.Error(), Err: err}
}

// oauthCode is the OAuth error code of a failed token exchange
// ("invalid_grant"): from the answer's JSON body, or from the error's text
// (`auth: "invalid_grant" "..."`; cloud.google.com/go/auth keeps the code
// unexported), else the HTTP status. The description is left out.
func oauthCode(re *auth.Error) string {
	var body struct {
		Error any `json:"error"`
	}
	if json.Unmarshal(re.Body, &body) == nil {
		if code, ok := body.Error.(string); ok && code != "" && len(code) < 64 {
			return code
		}
	}
	if rest, ok := strings.CutPrefix(re.Error(), `auth: "`); ok {
		if code, _, ok := strings.Cut(rest, `"`); ok && code != "" {
			return code
		}
	}
	if re.Response != nil {
		return re.Response.Status
	}
	return "no answer"
}
