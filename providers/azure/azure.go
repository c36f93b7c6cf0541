package azure

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/valetgw/valet/providers"
	"github.com/valetgw/valet/providers/internal/httpspan"
)

// SASVersion is the signed version (sv) of every SAS this provider makes.
// It is pinned so that signatures do not change when the SDK's default
// moves. 2026-04-06 is the first version whose user delegation
// string-to-sign matches the one azblob v1.8.3 builds, and Azurite 3.37
// knows it.
const SASVersion = "2026-04-06"

// Limits of block blobs.
const (
	maxBlocks    = 50_000
	maxBlockSize = 4000 << 20 // 4000 MiB
	maxPutBlob   = 5000 << 20 // one Put Blob, API 2019-12-12 and later
	// maxExpiryKey bounds a service SAS. Azure sets no limit without a
	// stored access policy; a week keeps a leaked URL short-lived.
	maxExpiryKey = 7 * 24 * time.Hour
	// maxExpiryAD bounds a user delegation SAS so that a cached delegation
	// key always covers it (see delegation.go).
	maxExpiryAD = 24 * time.Hour
	// opTimeout bounds one metadata call to the service.
	opTimeout = 30 * time.Second
)

// Version is the provider's version, reported by Info.
const Version = "0.1.0"

// notes are shown to operators by Info.
var notes = []string{
	"a SAS cannot bind Content-Length or Content-Type; the gateway verifies both at complete time and deletes a mismatching blob",
	"Content-MD5 is checked by Azure when the client sends it, but the SAS does not bind it, so a client may omit it; Head reports the MD5 Azure stores",
	"checksum_sha256 cannot be verified by this store (Azure keeps only an MD5), for single or multipart uploads; uploads that declare it are refused",
	"aborting a multipart upload leaves its uncommitted blocks, which Azure drops after 7 days (the aborted upload can no longer be listed or completed)",
	"a part URL carries write permission on the blob (Azure has no per-block permission)",
	"completing a multipart upload discards every other uncommitted block of the blob (Azure's Put Block List), so two uploads to one key cannot both complete: the second gets FailedPrecondition; keys the gateway picks are unique",
}

// Provider is the Azure Blob Storage provider. The zero value is not usable;
// call New.
type Provider struct {
	// now is the clock; tests replace it.
	now func() time.Time
	// transport, when set, is the HTTP client for service calls (tests).
	transport policy.Transporter
	// retries is the SDK's MaxRetries for service calls (-1 = none).
	retries int32

	mu  sync.RWMutex
	cfg *store
}

// store is the configured state for one store.
type store struct {
	settings
	name      string
	client    *container.Client
	svc       *service.Client          // the account's Blob service: CORS
	sharedKey *sas.SharedKeyCredential // account_key mode
	keys      *delegationCache         // azure_ad mode
}

// New returns an unconfigured Azure provider.
func New() providers.Provider { return newProvider(time.Now) }

func newProvider(now func() time.Time) *Provider { return &Provider{now: now, retries: 2} }

var (
	_ providers.Provider  = (*Provider)(nil)
	_ providers.Multipart = (*Provider)(nil)
	_ providers.Reader    = (*Provider)(nil)
)

// Info reports what Azure Blob Storage enforces. Before Configure it
// describes account_key mode.
func (p *Provider) Info(ctx context.Context) (providers.Info, error) {
	maxExp := maxExpiryKey
	if s, _ := p.current(); s != nil && s.credential == CredentialAzureAD {
		maxExp = maxExpiryAD
	}
	return providers.Info{
		Name:    "azure",
		Version: Version,
		Capabilities: providers.Capabilities{
			SignPut:    true,
			SignGet:    true,
			SignDelete: true,
			// A service or user delegation SAS grants permissions on a
			// resource for a time window; it never covers request headers
			// Azure checks for us, so length, type and checksums are not
			// bound. Create-only is: sp=c cannot overwrite a blob.
			BindsContentLength:  false,
			BindsContentType:    false,
			BindsChecksums:      nil,
			BindsCreateOnly:     true,
			GetOverrides:        true,
			MaxExpiry:           maxExp,
			Multipart:           true,
			MultipartNeedsETags: false,
			MinPartSize:         0,
			MaxPartSize:         maxBlockSize,
			MaxParts:            maxBlocks,
			Reader:              true,
			CORS:                true,
			// Put Block List computes no digest of the blob.
			MultipartChecksums: nil,
			Notes:              append([]string(nil), notes...),
		},
	}, nil
}

// Configure validates cfg, builds the service clients and checks that the
// container is reachable. A valid configuration is kept even when the
// service cannot be reached (Unavailable), so calls succeed once it is up.
func (p *Provider) Configure(ctx context.Context, cfg providers.StoreConfig) error {
	s, err := parseConfig(cfg.Config)
	if err != nil {
		return err
	}
	st := &store{settings: s, name: cfg.Store}
	opts := &container.ClientOptions{}
	opts.Retry = policy.RetryOptions{MaxRetries: p.retries, TryTimeout: opTimeout}
	opts.Telemetry.Disabled = true
	// Each attempt is a child span of the call being traced (httpspan
	// records no URL query, where a SAS would be, and no header).
	opts.PerRetryPolicies = append(opts.PerRetryPolicies, spanPolicy{})
	if p.transport != nil {
		opts.Transport = p.transport
	}
	containerURL := s.serviceURL + "/" + s.container
	switch s.credential {
	case CredentialAccountKey:
		st.sharedKey, err = container.NewSharedKeyCredential(s.account, s.keyB64)
		if err != nil {
			return invalid("config.account_key: %v", err)
		}
		st.client, err = container.NewClientWithSharedKeyCredential(containerURL, st.sharedKey, opts)
		if err == nil {
			st.svc, err = service.NewClientWithSharedKeyCredential(s.serviceURL+"/", st.sharedKey, &service.ClientOptions{ClientOptions: opts.ClientOptions})
		}
	case CredentialAzureAD:
		var cred azcore.TokenCredential
		cred, err = azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{TenantID: s.tenantID})
		if err != nil {
			return providers.Errorf(providers.FailedPrecondition, "config.credential: azure_ad: no Azure AD credential available: %v", err)
		}
		var svc *service.Client
		svc, err = service.NewClient(s.serviceURL+"/", cred, &service.ClientOptions{ClientOptions: opts.ClientOptions})
		if err != nil {
			return invalid("config.endpoint: %v", err)
		}
		st.keys = newDelegationCache(func(ctx context.Context, start, expiry time.Time) (*service.UserDelegationCredential, error) {
			startS, expS := start.UTC().Format(sas.TimeFormat), expiry.UTC().Format(sas.TimeFormat)
			return svc.GetUserDelegationCredential(ctx, service.KeyInfo{Start: &startS, Expiry: &expS}, nil)
		}, p.now)
		st.client, err = container.NewClient(containerURL, cred, opts)
		st.svc = svc
	}
	if err != nil {
		return invalid("config.endpoint: %v", err)
	}

	err = p.probe(ctx, st)
	if err == nil || providers.CodeOf(err) == providers.Unavailable {
		p.mu.Lock()
		p.cfg = st
		p.mu.Unlock()
	}
	return err
}

// probe checks that the container exists and, in azure_ad mode, fetches
// the first delegation key, so that a missing container, a wrong key or a
// missing role shows at start rather than at the first upload. Credentials
// Azure does not accept (AuthenticationFailed) fail it, and so does any
// refusal of an account key, which grants everything (Azurite answers a
// wrong one AuthorizationFailure); an Azure AD identity refused the
// container's properties (AuthorizationPermissionMismatch, a
// least-privilege role) does not, since its uploads may still be allowed.
func (p *Provider) probe(ctx context.Context, st *store) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if _, err := st.client.GetProperties(ctx, nil); err != nil {
		e := mapError(err, "container "+st.container)
		code := providers.CodeOf(e)
		if code == providers.PermissionDenied && st.credential != CredentialAzureAD {
			code = providers.Unauthenticated
		}
		switch code {
		case providers.NotFound:
			return invalid("config.container: container %q does not exist in account %q", st.settings.container, st.account)
		case providers.Unauthenticated:
			return providers.Errorf(providers.Unauthenticated, "Azure does not accept the credentials of account %q (config.account_name and config.account_key, or the azure_ad identity): %s", st.account, strings.TrimPrefix(strings.TrimPrefix(e.Error(), string(providers.Unauthenticated)+": "), string(providers.PermissionDenied)+": "))
		case providers.PermissionDenied:
			return nil
		}
		return e
	}
	if st.keys != nil {
		if _, err := st.keys.keyFor(ctx, p.now().Add(time.Minute)); err != nil {
			return mapError(err, "user delegation key")
		}
	}
	return nil
}

// current returns the configured store or a FailedPrecondition error.
func (p *Provider) current() (*store, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.cfg == nil {
		return nil, providers.Errorf(providers.FailedPrecondition, "azure provider is not configured")
	}
	return p.cfg, nil
}

// blobURL is the unsigned URL of key. Each path segment is escaped on its
// own so that "/" stays a separator, which Azure and browsers expect.
func (s *store) blobURL(key string) string {
	segs := strings.Split(key, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return s.serviceURL + "/" + s.container + "/" + strings.Join(segs, "/")
}

func (s *store) maxExpiry() time.Duration {
	if s.credential == CredentialAzureAD {
		return maxExpiryAD
	}
	return maxExpiryKey
}

// sign returns the SAS query for key with permissions perms, valid for ttl
// from now, with optional response overrides, and the SAS's expiry.
func (p *Provider) sign(ctx context.Context, s *store, key, perms string, ttl time.Duration, rsct, rscd string) (string, time.Time, error) {
	if ttl <= 0 {
		return "", time.Time{}, invalid("ttl: must be positive, got %s", ttl)
	}
	if ttl > s.maxExpiry() {
		return "", time.Time{}, invalid("ttl: %s exceeds the provider's maximum of %s", ttl, s.maxExpiry())
	}
	// se has one-second precision; truncating keeps ExpiresAt equal to what
	// Azure enforces. No st is signed: a start a second in the future (clock
	// skew) makes Azure reject the SAS.
	expiry := p.now().Add(ttl).UTC().Truncate(time.Second)
	proto := sas.ProtocolHTTPS
	if !s.httpsOnly {
		proto = sas.ProtocolHTTPSandHTTP
	}
	v := sas.BlobSignatureValues{
		Version:            SASVersion,
		Protocol:           proto,
		ExpiryTime:         expiry,
		Permissions:        perms,
		ContainerName:      s.container,
		BlobName:           key,
		ContentType:        rsct,
		ContentDisposition: rscd,
	}
	var (
		q   sas.QueryParameters
		err error
	)
	switch {
	case s.sharedKey != nil:
		q, err = v.SignWithSharedKey(s.sharedKey)
	case s.keys != nil:
		var k *delegationKey
		k, err = s.keys.keyFor(ctx, expiry)
		if err != nil {
			return "", time.Time{}, mapError(err, "user delegation key")
		}
		if k.expiry.Before(expiry) { // keyFor guarantees this; never sign past the key
			return "", time.Time{}, providers.Errorf(providers.Internal, "user delegation key expires before the SAS")
		}
		q, err = v.SignWithUserDelegation(k.cred)
	default:
		err = errors.New("no signing credential")
	}
	if err != nil {
		return "", time.Time{}, providers.Errorf(providers.Internal, "sign SAS: %v", err)
	}
	return q.Encode(), expiry, nil
}

// SignPut returns a Put Blob recipe. The SAS grants create (sp=c) for a
// create-only upload, which Azure refuses with 409 BlobAlreadyExists when
// the blob exists, and write (sp=w) otherwise.
func (p *Provider) SignPut(ctx context.Context, req providers.PutRequest) (providers.Recipe, error) {
	s, err := p.current()
	if err != nil {
		return providers.Recipe{}, err
	}
	if req.Size < 0 {
		return providers.Recipe{}, invalid("size: must not be negative")
	}
	if req.Size > maxPutBlob {
		return providers.Recipe{}, invalid("size: %d bytes is more than one Put Blob takes (%d); use multipart", req.Size, int64(maxPutBlob))
	}
	h := map[string]string{"x-ms-blob-type": "BlockBlob"}
	if req.ContentType != "" {
		h["x-ms-blob-content-type"] = req.ContentType
	}
	// No checksum is bound (Info says so), so the gateway verifies at
	// complete time. An MD5 still goes into the recipe: Azure checks
	// Content-MD5 when a client sends it, which catches corruption in
	// transit for every honest client. Other algorithms have no Azure
	// header and are left to the gateway.
	if c := req.Checksum; c != nil && c.Algorithm == providers.MD5 {
		if d, err := base64.StdEncoding.DecodeString(c.Value); err != nil || len(d) != 16 {
			return providers.Recipe{}, invalid("checksum: md5 must be the base64 of 16 bytes")
		}
		h["Content-MD5"] = c.Value
	}
	meta, err := encodeMetadata(req.Metadata)
	if err != nil {
		return providers.Recipe{}, err
	}
	for k, v := range meta {
		h["x-ms-meta-"+k] = v
	}
	perms := "w"
	if req.CreateOnly {
		perms = "c"
	}
	q, exp, err := p.sign(ctx, s, req.Key, perms, req.TTL, "", "")
	if err != nil {
		return providers.Recipe{}, err
	}
	return providers.Recipe{Method: http.MethodPut, URL: s.blobURL(req.Key) + "?" + q, Headers: h, ExpiresAt: exp}, nil
}

// SignGet returns a Get Blob recipe; rsct and rscd are signed when given.
func (p *Provider) SignGet(ctx context.Context, req providers.GetRequest) (providers.Recipe, error) {
	s, err := p.current()
	if err != nil {
		return providers.Recipe{}, err
	}
	q, exp, err := p.sign(ctx, s, req.Key, "r", req.TTL, req.ResponseContentType, req.ResponseContentDisposition)
	if err != nil {
		return providers.Recipe{}, err
	}
	return providers.Recipe{Method: http.MethodGet, URL: s.blobURL(req.Key) + "?" + q, Headers: map[string]string{}, ExpiresAt: exp}, nil
}

// SignDelete returns a Delete Blob recipe (sp=d).
func (p *Provider) SignDelete(ctx context.Context, req providers.SignDeleteRequest) (providers.Recipe, error) {
	s, err := p.current()
	if err != nil {
		return providers.Recipe{}, err
	}
	q, exp, err := p.sign(ctx, s, req.Key, "d", req.TTL, "", "")
	if err != nil {
		return providers.Recipe{}, err
	}
	return providers.Recipe{Method: http.MethodDelete, URL: s.blobURL(req.Key) + "?" + q, Headers: map[string]string{}, ExpiresAt: exp}, nil
}

// Head returns the blob's properties.
func (p *Provider) Head(ctx context.Context, req providers.HeadRequest) (providers.Object, error) {
	key := req.Key
	s, err := p.current()
	if err != nil {
		return providers.Object{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	r, err := s.client.NewBlobClient(key).GetProperties(ctx, nil)
	if err != nil {
		return providers.Object{}, mapError(err, "blob "+key)
	}
	return blobObject(key, r.Metadata, blobProps{r.ContentLength, r.ContentType, r.ETag, r.LastModified, r.ContentMD5}), nil
}

// spanPolicy puts each HTTP attempt of the SDK in a span (see httpspan).
type spanPolicy struct{}

func (spanPolicy) Do(req *policy.Request) (*http.Response, error) {
	return httpspan.Around(req.Raw(), func(r *http.Request) (*http.Response, error) {
		return req.WithContext(r.Context()).Next()
	})
}

// ReadObject implements providers.Reader with one Get Blob: a blob over
// MaxBytes is refused from the response's Content-Length, its body closed
// unread.
func (p *Provider) ReadObject(ctx context.Context, req providers.ReadObjectRequest) (providers.ReadObjectResult, error) {
	if err := providers.CheckReadObject(req); err != nil {
		return providers.ReadObjectResult{}, err
	}
	s, err := p.current()
	if err != nil {
		return providers.ReadObjectResult{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	r, err := s.client.NewBlobClient(req.Key).DownloadStream(ctx, nil)
	if err != nil {
		return providers.ReadObjectResult{}, mapError(err, "blob "+req.Key)
	}
	defer r.Body.Close()
	size := int64(-1)
	if r.ContentLength != nil {
		size = *r.ContentLength
	}
	data, err := providers.ReadBounded(req.Key, r.Body, size, req.MaxBytes)
	if err != nil {
		return providers.ReadObjectResult{}, err
	}
	o := providers.Object{Key: req.Key, Size: int64(len(data)), Metadata: metadata(r.Metadata)}
	if r.ContentType != nil {
		o.ContentType = *r.ContentType
	}
	if r.ETag != nil {
		o.ETag = string(*r.ETag)
	}
	if r.LastModified != nil {
		o.LastModified = r.LastModified.UTC()
	}
	return providers.ReadObjectResult{Object: o, Data: data}, nil
}

// List returns one page of blobs under req.Prefix. The cursor is Azure's
// opaque NextMarker.
func (p *Provider) List(ctx context.Context, req providers.ListRequest) (providers.ListPage, error) {
	s, err := p.current()
	if err != nil {
		return providers.ListPage{}, err
	}
	limit := req.PageSize()
	n := int32(limit)
	opts := &container.ListBlobsFlatOptions{MaxResults: &n, Include: container.ListBlobsInclude{Metadata: true}}
	if req.Prefix != "" {
		opts.Prefix = &req.Prefix
	}
	if req.Cursor != "" {
		opts.Marker = &req.Cursor
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	pager := s.client.NewListBlobsFlatPager(opts)
	page, err := pager.NextPage(ctx)
	if err != nil {
		return providers.ListPage{}, mapError(err, "list "+s.container)
	}
	var out providers.ListPage
	if page.Segment != nil {
		for _, b := range page.Segment.BlobItems {
			if b == nil || b.Name == nil {
				continue
			}
			var props blobProps
			if pr := b.Properties; pr != nil {
				props = blobProps{pr.ContentLength, pr.ContentType, pr.ETag, pr.LastModified, pr.ContentMD5}
			}
			out.Objects = append(out.Objects, blobObject(*b.Name, b.Metadata, props))
		}
	}
	if page.NextMarker != nil {
		out.NextCursor = *page.NextMarker
	}
	return out, nil
}

// Delete removes a blob and its snapshots. A missing blob is not an error.
func (p *Provider) Delete(ctx context.Context, req providers.DeleteRequest) (providers.DeleteResult, error) {
	key := req.Key
	s, err := p.current()
	if err != nil {
		return providers.DeleteResult{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	inc := blob.DeleteSnapshotsOptionTypeInclude
	_, err = s.client.NewBlobClient(key).Delete(ctx, &blob.DeleteOptions{DeleteSnapshots: &inc})
	if err != nil {
		if e := mapError(err, "blob "+key); providers.CodeOf(e) != providers.NotFound {
			return providers.DeleteResult{}, e
		}
	}
	return providers.DeleteResult{}, nil
}

// Azure metadata names must be C# identifiers, so "owner-id" cannot be
// stored as is. A character that is not allowed where it stands (a hyphen,
// a leading digit) is written as _0xHH_ and decoded again on read; names
// that are already identifiers are stored unchanged. Names are
// case-insensitive and reported in lower case, as S3 does.
var metaEscape = regexp.MustCompile(`_0x([0-9a-f]{2})_`)

// encodeMetadata validates metadata and returns it with Azure-safe names.
func encodeMetadata(m map[string]string) (map[string]string, error) {
	if len(m) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if k == "" || len(k) > 128 {
			return nil, invalid("metadata: name %q must be 1-128 characters", k)
		}
		var b strings.Builder
		for i := 0; i < len(k); i++ {
			c := k[i]
			switch {
			case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
				b.WriteByte(c)
			case c >= '0' && c <= '9' && i > 0:
				b.WriteByte(c)
			case c == '-' || c == '.' || c >= '0' && c <= '9':
				fmt.Fprintf(&b, "_0x%02x_", c)
			default:
				return nil, invalid("metadata: name %q may hold only letters, digits, '_', '-' and '.'", k)
			}
		}
		if !validHeaderValue(v) {
			return nil, invalid("metadata: value of %q must be printable ASCII", k)
		}
		name := strings.ToLower(b.String())
		if _, dup := out[name]; dup {
			return nil, invalid("metadata: name %q is given twice (names are case-insensitive)", k)
		}
		out[name] = v
	}
	return out, nil
}

// metadata decodes Azure metadata names (see encodeMetadata).
// blobProps are the properties of a blob that an Object reports, as Get
// Blob Properties and List Blobs both give them (any may be missing).
type blobProps struct {
	size         *int64
	contentType  *string
	etag         *azcore.ETag
	lastModified *time.Time
	md5          []byte
}

// blobObject is the Object of the blob key.
func blobObject(key string, meta map[string]*string, pr blobProps) providers.Object {
	o := providers.Object{Key: key, Metadata: metadata(meta), Size: deref(pr.size), ContentType: deref(pr.contentType), ETag: string(deref(pr.etag))}
	if pr.lastModified != nil {
		o.LastModified = pr.lastModified.UTC()
	}
	if len(pr.md5) == 16 {
		o.Checksums = map[providers.ChecksumAlgorithm]string{providers.MD5: base64.StdEncoding.EncodeToString(pr.md5)}
	}
	return o
}

func metadata(m map[string]*string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if v == nil {
			continue
		}
		name := metaEscape.ReplaceAllStringFunc(strings.ToLower(k), func(e string) string {
			c, _ := strconv.ParseUint(e[3:5], 16, 8) // the regexp admits only hex
			return string(rune(c))
		})
		out[name] = *v
	}
	return out
}

func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}
