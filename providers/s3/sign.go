package s3

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/valetgw/valet/providers"
	"github.com/valetgw/valet/providers/internal/escape"
)

// emptySHA256 is the base64 SHA-256 of zero bytes. v4.Signer can only sign a
// Content-Length above zero, so a zero-byte upload is bound by its checksum
// instead: any body at all is then rejected with BadDigest.
const emptySHA256 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

// maxMetadataSize is S3's limit on user metadata (names plus values).
const maxMetadataSize = 2 << 10

// SignPut signs a PUT that binds the exact Content-Length, the Content-Type,
// the checksum (x-amz-checksum-sha256, x-amz-checksum-crc32c or Content-MD5), If-None-Match: * when
// CreateOnly is set, and every x-amz-meta-* header. Recipe.Headers holds all
// of them except Content-Length, which HTTP clients derive from the body
// (browsers refuse to set it).
func (p *Provider) SignPut(ctx context.Context, req providers.PutRequest) (providers.Recipe, error) {
	st, err := p.configured()
	if err != nil {
		return providers.Recipe{}, err
	}
	h, err := putHeaders(req)
	if err != nil {
		return providers.Recipe{}, err
	}
	return st.presign(ctx, p.now(), http.MethodPut, req.Key, nil, h, req.Size, req.TTL)
}

// putHeaders validates a PUT request and returns the headers to sign.
func putHeaders(req providers.PutRequest) (http.Header, error) {
	if req.Size < 0 || req.Size > maxPutSize {
		return nil, providers.Errorf(providers.InvalidArgument,
			"size %d out of range: a single S3 PUT takes 0 to %d bytes; use multipart above that", req.Size, int64(maxPutSize))
	}
	h := make(http.Header, 4+len(req.Metadata))
	if req.ContentType != "" {
		if !validHeaderValue(req.ContentType) {
			return nil, providers.Errorf(providers.InvalidArgument, "content type %q is not a valid header value", req.ContentType)
		}
		h["Content-Type"] = []string{req.ContentType}
	}
	switch {
	case req.Checksum != nil:
		name, err := checksumHeader(*req.Checksum)
		if err != nil {
			return nil, err
		}
		h[name] = []string{req.Checksum.Value}
	case req.Size == 0:
		h["x-amz-checksum-sha256"] = []string{emptySHA256}
	}
	if req.CreateOnly {
		h["If-None-Match"] = []string{"*"}
	}
	if err := metadataHeaders(h, req.Metadata); err != nil {
		return nil, err
	}
	return h, nil
}

// SignGet signs a GET; response overrides are signed query parameters, so a
// changed or added override is rejected.
func (p *Provider) SignGet(ctx context.Context, req providers.GetRequest) (providers.Recipe, error) {
	st, err := p.configured()
	if err != nil {
		return providers.Recipe{}, err
	}
	var q url.Values
	if req.ResponseContentType != "" || req.ResponseContentDisposition != "" {
		q = url.Values{}
		if v := req.ResponseContentType; v != "" {
			if !validHeaderValue(v) {
				return providers.Recipe{}, providers.Errorf(providers.InvalidArgument, "response content type %q is not a valid header value", v)
			}
			q.Set("response-content-type", v)
		}
		if v := req.ResponseContentDisposition; v != "" {
			if !validHeaderValue(v) {
				return providers.Recipe{}, providers.Errorf(providers.InvalidArgument, "response content disposition %q is not a valid header value", v)
			}
			q.Set("response-content-disposition", v)
		}
	}
	return st.presign(ctx, p.now(), http.MethodGet, req.Key, q, nil, 0, req.TTL)
}

// SignDelete signs a DELETE of one object.
func (p *Provider) SignDelete(ctx context.Context, req providers.SignDeleteRequest) (providers.Recipe, error) {
	st, err := p.configured()
	if err != nil {
		return providers.Recipe{}, err
	}
	return st.presign(ctx, p.now(), http.MethodDelete, req.Key, nil, nil, 0, req.TTL)
}

// SignParts signs one UploadPart PUT per part, binding Content-Length when
// the part's size is given. Credentials and expiry are resolved once for the
// whole batch.
func (p *Provider) SignParts(ctx context.Context, req providers.SignPartsRequest) (providers.SignPartsResult, error) {
	st, err := p.configuredFor(req.UploadID)
	if err != nil {
		return providers.SignPartsResult{}, err
	}
	if len(req.Parts) == 0 || len(req.Parts) > maxParts {
		return providers.SignPartsResult{}, providers.Errorf(providers.InvalidArgument, "between 1 and %d parts can be signed at once, got %d", maxParts, len(req.Parts))
	}
	for _, part := range req.Parts {
		if part.Number < 1 || part.Number > maxParts {
			return providers.SignPartsResult{}, providers.Errorf(providers.InvalidArgument, "part number %d out of range 1..%d", part.Number, maxParts)
		}
		if part.Size < 0 || part.Size > maxPartSize {
			return providers.SignPartsResult{}, providers.Errorf(providers.InvalidArgument, "part %d: size %d out of range 0..%d", part.Number, part.Size, int64(maxPartSize))
		}
	}
	now := p.now()
	secs, creds, err := st.expiry(ctx, now, req.TTL)
	if err != nil {
		return providers.SignPartsResult{}, err
	}
	out := make([]providers.PartRecipe, len(req.Parts))
	for i, part := range req.Parts {
		q := url.Values{
			"partNumber": {strconv.Itoa(part.Number)},
			"uploadId":   {req.UploadID},
		}
		r, err := st.sign(ctx, creds, now, secs, http.MethodPut, req.Key, q, nil, part.Size)
		if err != nil {
			return providers.SignPartsResult{}, err
		}
		out[i] = providers.PartRecipe{Number: part.Number, Recipe: r}
	}
	return providers.SignPartsResult{Parts: out}, nil
}

// presign resolves credentials and expiry, then signs one request.
func (st *state) presign(ctx context.Context, now time.Time, method, key string, q url.Values, h http.Header, length int64, ttl time.Duration) (providers.Recipe, error) {
	secs, creds, err := st.expiry(ctx, now, ttl)
	if err != nil {
		return providers.Recipe{}, err
	}
	return st.sign(ctx, creds, now, secs, method, key, q, h, length)
}

// expiry turns a TTL into X-Amz-Expires seconds (rounded up, so a TTL is
// never cut short), clamped to the lifetime of temporary credentials.
func (st *state) expiry(ctx context.Context, now time.Time, ttl time.Duration) (int64, aws.Credentials, error) {
	if ttl <= 0 {
		return 0, aws.Credentials{}, providers.Errorf(providers.InvalidArgument, "ttl must be positive, got %s", ttl)
	}
	if ttl > maxExpiry {
		return 0, aws.Credentials{}, providers.Errorf(providers.InvalidArgument, "ttl %s exceeds the SigV4 maximum of %s", ttl, maxExpiry)
	}
	creds, err := st.creds.Retrieve(ctx)
	if err != nil {
		return 0, aws.Credentials{}, credentialsError(err)
	}
	secs := int64((ttl + time.Second - 1) / time.Second)
	if creds.CanExpire {
		left := int64(creds.Expires.Sub(now.Truncate(time.Second)) / time.Second)
		if left < 1 {
			return 0, aws.Credentials{}, providers.Errorf(providers.Unavailable, "s3: credentials have expired and could not be refreshed")
		}
		secs = min(secs, left)
	}
	return secs, creds, nil
}

// sign presigns method on key with v4.Signer. Every header in h is signed
// (v4.Signer keeps Content-Type, If-None-Match, x-amz-checksum-* and
// x-amz-meta-* as headers rather than hoisting them into the query), and
// Content-Length is signed when length > 0.
func (st *state) sign(ctx context.Context, creds aws.Credentials, now time.Time, secs int64, method, key string, q url.Values, h http.Header, length int64) (providers.Recipe, error) {
	if q == nil {
		q = make(url.Values, 1)
	}
	q.Set("X-Amz-Expires", strconv.FormatInt(secs, 10))
	if h == nil {
		h = http.Header{}
	}
	headers := make(map[string]string, len(h))
	for k, v := range h {
		headers[k] = v[0]
	}
	// Opaque carries the already-escaped path, so neither net/url nor the
	// signer escapes it a second time (S3 canonical URIs are escaped once).
	u := &url.URL{Scheme: st.scheme, Opaque: st.opaque + escape.String(key, true), RawQuery: q.Encode()}
	r := &http.Request{Method: method, URL: u, Host: st.host, Header: h, ContentLength: length}
	signed, _, err := st.signer.PresignHTTP(ctx, creds, r, unsignedPayload, "s3", st.cfg.Region, now)
	if err != nil {
		return providers.Recipe{}, providers.Errorf(providers.Internal, "s3: signing %s failed", method)
	}
	return providers.Recipe{
		Method:    method,
		URL:       signed,
		Headers:   headers,
		ExpiresAt: now.UTC().Truncate(time.Second).Add(time.Duration(secs) * time.Second),
	}, nil
}

const unsignedPayload = "UNSIGNED-PAYLOAD"

// checksumHeader validates a checksum and names the header that binds it.
func checksumHeader(c providers.Checksum) (string, error) {
	var name string
	var size int
	switch c.Algorithm {
	case providers.SHA256:
		name, size = "x-amz-checksum-sha256", 32
	case providers.MD5:
		name, size = "Content-MD5", 16
	case providers.CRC32C:
		name, size = "x-amz-checksum-crc32c", 4
	default:
		return "", providers.Errorf(providers.InvalidArgument, "checksum algorithm %q is not bound by S3 uploads (use sha256, md5 or crc32c)", c.Algorithm)
	}
	raw, err := base64.StdEncoding.DecodeString(c.Value)
	if err != nil || len(raw) != size {
		return "", providers.Errorf(providers.InvalidArgument, "checksum %s: want the standard base64 of a %d-byte digest", c.Algorithm, size)
	}
	return name, nil
}

// metadataHeaders adds x-amz-meta-* headers. Names are lower-cased (S3
// stores them so); values must be printable ASCII without surrounding
// spaces, since SigV4 trims spaces and S3 only carries ASCII in headers.
func metadataHeaders(h http.Header, md map[string]string) error {
	total := 0
	for k, v := range md {
		if k == "" || !token(k) {
			return providers.Errorf(providers.InvalidArgument, "metadata name %q: only letters, digits and !#$%%&'*+-.^_`|~ are allowed", k)
		}
		if !validHeaderValue(v) || strings.TrimSpace(v) != v {
			return providers.Errorf(providers.InvalidArgument, "metadata %q: value must be printable ASCII without leading or trailing spaces", k)
		}
		total += len(k) + len(v)
		h["x-amz-meta-"+strings.ToLower(k)] = []string{v}
	}
	if total > maxMetadataSize {
		return providers.Errorf(providers.InvalidArgument, "metadata is %d bytes; S3 allows %d", total, maxMetadataSize)
	}
	return nil
}

func token(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// validHeaderValue accepts printable ASCII (and tab), which is what SigV4
// canonicalises predictably and what every HTTP client can send.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 0x20 && c != '\t') || c > 0x7e {
			return false
		}
	}
	return true
}
