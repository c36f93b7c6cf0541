package providers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
	"time"
)

// Provider is implemented by every storage backend, built in or external:
// the calls every store needs. Optional abilities are separate small
// interfaces (Multipart) that a provider implements, and announces in
// Capabilities, when its backend has them; the gateway finds them by type
// assertion, and a plugin announces them over the wire through Info.
//
// One Provider value serves exactly one store: the host calls Configure once
// with that store's configuration before any other method except Info, and
// calls it again with the same configuration after a plugin restart.
// Implementations must be safe for concurrent use once configured.
//
// Every error returned must carry a Code (see Error); errors without one are
// treated as Internal. Keys are always non-empty, already validated by the
// gateway (no "..", no empty segments, at most 1024 bytes) and must be used
// verbatim.
type Provider interface {
	// Info describes the provider and what it can enforce. It may be called
	// before Configure; after Configure it must reflect the store's settings
	// (for example a MaxExpiry clamped to temporary credentials).
	Info(ctx context.Context) (Info, error)

	// Configure validates and applies a store's configuration. It must return
	// an InvalidArgument error naming the offending key (for example
	// `config.bucket: required`) for bad input, and Unavailable when the
	// backend cannot be reached but the configuration is otherwise valid.
	Configure(ctx context.Context, cfg StoreConfig) error

	// SignPut returns the recipe for a single-request upload of exactly
	// req.Size bytes. Every constraint the provider claims to bind in
	// Capabilities (length, type, checksum, create-only) must be bound into
	// the signature, so that a request violating it is rejected by the
	// backend. Recipe.Headers must list every header the client has to send,
	// with its exact value, and nothing the client must not send.
	SignPut(ctx context.Context, req PutRequest) (Recipe, error)

	// SignGet returns the recipe for downloading an object. It does not check
	// that the object exists. Overrides that the provider cannot sign must
	// give an Unimplemented error rather than be silently dropped.
	SignGet(ctx context.Context, req GetRequest) (Recipe, error)

	// SignDelete returns the recipe for deleting one object.
	SignDelete(ctx context.Context, req SignDeleteRequest) (Recipe, error)

	// Head returns the metadata of the object req.Key, or a NotFound error.
	Head(ctx context.Context, req HeadRequest) (Object, error)

	// List returns one page of objects whose keys start with req.Prefix, in
	// lexical key order. An empty NextCursor means there are no more pages.
	List(ctx context.Context, req ListRequest) (ListPage, error)

	// Delete removes the object req.Key. Deleting a missing object is not
	// an error.
	Delete(ctx context.Context, req DeleteRequest) (DeleteResult, error)
}

// Multipart is the optional multipart-upload capability. A provider that
// implements it says so with Capabilities.Multipart; the gateway finds it
// by type assertion and treats a provider without it as having
// Capabilities.Multipart false. A provider whose multipart support depends
// on its configuration implements Multipart, leaves the capability
// unclaimed when it is off, and answers Unimplemented.
type Multipart interface {
	// CreateMultipart starts a multipart upload. It is never retried by the
	// host, since a retry could leak an upload.
	CreateMultipart(ctx context.Context, req CreateMultipartRequest) (MultipartUpload, error)

	// SignParts returns one recipe per requested part in Parts, in the
	// order asked.
	SignParts(ctx context.Context, req SignPartsRequest) (SignPartsResult, error)

	// CompleteMultipart assembles the listed parts, in the listed order, into
	// the final object and returns its metadata. A missing or mismatched part
	// gives FailedPrecondition. The object appears atomically or not at all.
	CompleteMultipart(ctx context.Context, req CompleteMultipartRequest) (Object, error)

	// AbortMultipart discards the upload req.Upload and its parts. Aborting
	// an unknown or already finished upload is not an error.
	AbortMultipart(ctx context.Context, req AbortMultipartRequest) (AbortMultipartResult, error)

	// ListParts returns in Parts the parts of req.Upload uploaded so far,
	// ordered by part number.
	ListParts(ctx context.Context, req ListPartsRequest) (ListPartsResult, error)
}

// Reader is the optional capability of reading a small object's bytes
// through the provider's own credentials, for the gateway's own use (an
// HLS playlist it rewrites, for example); media bytes never take this
// path. A provider that implements it says so with Capabilities.Reader.
type Reader interface {
	// ReadObject returns the object req.Key with its bytes. An object
	// larger than req.MaxBytes gives a FailedPrecondition error (see
	// ErrTooLarge) without its bytes being read past the bound; a missing
	// key gives NotFound; a MaxBytes outside 1..MaxReadBytes gives
	// InvalidArgument (CheckReadObject).
	ReadObject(ctx context.Context, req ReadObjectRequest) (ReadObjectResult, error)
}

// MaxReadBytes bounds ReadObjectRequest.MaxBytes: the bytes travel in one
// plugin message, whose limit is 16 MiB.
const MaxReadBytes = 8 << 20

// ReadObjectRequest asks for a small object's bytes.
type ReadObjectRequest struct {
	Key string
	// MaxBytes is the largest object that may be read, 1..MaxReadBytes.
	MaxBytes int64
}

// ReadObjectResult is an object's metadata and its bytes
// (len(Data) == Object.Size).
type ReadObjectResult struct {
	Object Object
	Data   []byte
}

// CheckReadObject is the check every Reader makes of req.MaxBytes first.
func CheckReadObject(req ReadObjectRequest) error {
	if req.MaxBytes < 1 || req.MaxBytes > MaxReadBytes {
		return Errorf(InvalidArgument, "max_bytes %d is outside 1..%d", req.MaxBytes, MaxReadBytes)
	}
	return nil
}

// TooLarge is the error a Reader returns for an object of size bytes read
// with a bound of max bytes: FailedPrecondition, and errors.Is(err,
// ErrTooLarge).
func TooLarge(key string, size, max int64) error {
	return &Error{Code: FailedPrecondition, Message: fmt.Sprintf("object %q is %d bytes, more than the %d that may be read", key, size, max), Err: ErrTooLarge}
}

// ReadBounded reads body, announced as size bytes (-1 if unknown), for
// ReadObject: an object over max is refused before any byte is read when
// its size is known, and after max+1 bytes when it is not (or lied). A
// read error is Unavailable.
func ReadBounded(key string, body io.Reader, size, max int64) ([]byte, error) {
	if size > max {
		return nil, TooLarge(key, size, max)
	}
	capHint := max
	if size >= 0 {
		capHint = size
	}
	buf := bytes.NewBuffer(make([]byte, 0, capHint))
	n, err := buf.ReadFrom(io.LimitReader(body, max+1))
	if err != nil {
		return nil, Errorf(Unavailable, "reading %q: %v", key, err)
	}
	if n > max {
		return nil, TooLarge(key, n, max)
	}
	return buf.Bytes(), nil
}

// ErrTooLarge is in the chain of a ReadObject error for an object over
// MaxBytes, on this side of the plugin hop (over the wire only the code,
// FailedPrecondition, travels).
var ErrTooLarge = errors.New("object larger than max_bytes")

// GetSigner is the optional capability of signing many GETs in one call.
// A provider implements it when its backend has a faster path than one
// SignGet per key; every plugin has it anyway, since plugins.Serve answers
// SignGets with SignGet per item in the plugin process, and the host's
// Plugin announces Capabilities.SignGets then. SignGets (the function)
// serves any provider either way.
type GetSigner interface {
	// SignGets signs req.Requests, at most MaxSignGets, and answers one
	// item per request, in order, each with its recipe or its own error.
	// The call's own error is for a failure of the whole batch.
	SignGets(ctx context.Context, req SignGetsRequest) (SignGetsResult, error)
}

// MaxSignGets is the most requests one SignGets call may carry; the plugin
// hop refuses a larger batch with InvalidArgument.
const MaxSignGets = 1000

// SignGetsRequest asks for many signed GETs.
type SignGetsRequest struct {
	Requests []GetRequest
}

// SignGetsResult holds one item per request, in the order asked.
type SignGetsResult struct {
	Items []SignGetItem
}

// SignGetItem is one request's answer: Recipe when Err is nil.
type SignGetItem struct {
	Recipe Recipe
	// Err is this item's error, with its code (never a secret).
	Err *Error
}

// SignGets signs req with p's own GetSigner when it has one, else with one
// SignGet per request. An item's error that carries no *Error is reported
// as Internal.
func SignGets(ctx context.Context, p Provider, req SignGetsRequest) (SignGetsResult, error) {
	if len(req.Requests) > MaxSignGets {
		return SignGetsResult{}, Errorf(InvalidArgument, "%d requests in one SignGets, more than %d", len(req.Requests), MaxSignGets)
	}
	if gs, ok := p.(GetSigner); ok {
		return gs.SignGets(ctx, req)
	}
	return SignEach(ctx, p, req), nil
}

// SignEach answers req with one p.SignGet per request: what SignGets does
// for a provider without GetSigner.
func SignEach(ctx context.Context, p Provider, req SignGetsRequest) SignGetsResult {
	items := make([]SignGetItem, len(req.Requests))
	for i, r := range req.Requests {
		rec, err := p.SignGet(ctx, r)
		if err != nil {
			items[i].Err = AsError(err)
			continue
		}
		items[i].Recipe = rec
	}
	return SignGetsResult{Items: items}
}

// AsError is err as an *Error: the first in its chain, or Internal with
// err's text.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	return &Error{Code: Internal, Message: err.Error(), Err: err}
}

// PostPolicySigner is the optional capability of signing a browser form
// upload (an S3-style POST policy): the client POSTs multipart/form-data
// with Fields (the content type among them), then the file, to URL. A
// provider that implements it says so with Capabilities.PostPolicy, and
// claims it only when the backend itself refuses a body outside
// MinSize..MaxSize, another content type, another key, a changed policy
// or signature and an expired policy.
type PostPolicySigner interface {
	SignPostPolicy(ctx context.Context, req PostPolicyRequest) (PostPolicy, error)
}

// PostPolicyRequest asks for a POST policy.
type PostPolicyRequest struct {
	Key string
	// ContentType is bound exactly: the form's Content-Type field must
	// equal it (Fields carries it, and the client must send it as given).
	ContentType string
	// MinSize and MaxSize bound the file's length (content-length-range),
	// 0 <= MinSize <= MaxSize, MaxSize > 0.
	MinSize, MaxSize int64
	Metadata         map[string]string
	TTL              time.Duration
	// ExpiresAt, when set, replaces now+TTL as the policy's expiry. It may
	// lie in the past, which makes a policy the backend must refuse: that
	// is how the conformance suite tests expiry without waiting.
	ExpiresAt time.Time
}

// PostPolicy is a signed form upload: POST to URL a multipart/form-data
// body whose fields are Fields (every one, unchanged), followed by the
// file in a field named "file", before ExpiresAt.
type PostPolicy struct {
	URL       string
	Fields    map[string]string
	ExpiresAt time.Time
}

// CORSConfigurer is the optional capability of reading and writing the
// bucket's CORS rules, for `valet doctor` and `valet cors`. A provider that
// implements it says so with Capabilities.CORS. Where the backend's CORS is
// set elsewhere (the local store's config, a MinIO server's environment),
// PutCORS answers Unimplemented with a message saying what to set instead,
// and GetCORS answers what is in effect, or Unimplemented when the backend
// cannot tell.
type CORSConfigurer interface {
	// GetCORS returns the bucket's CORS rules in the backend's order; no
	// rules is an empty Rules, not an error.
	GetCORS(ctx context.Context, req GetCORSRequest) (CORSResult, error)

	// PutCORS replaces the bucket's CORS rules with req.Rules (none removes
	// them). Rules that are malformed for the backend (an empty origin or
	// method list, a negative max age) give InvalidArgument (CheckCORSRules).
	PutCORS(ctx context.Context, req PutCORSRequest) (PutCORSResult, error)
}

// GetCORSRequest asks for the bucket's CORS rules.
type GetCORSRequest struct{}

// CORSResult is the bucket's CORS rules.
type CORSResult struct {
	Rules []CORSRule
}

// PutCORSRequest replaces the bucket's CORS rules.
type PutCORSRequest struct {
	Rules []CORSRule
}

// PutCORSResult is what PutCORS returns: nothing yet.
type PutCORSResult struct{}

// CORSRule is one CORS rule: requests from AllowedOrigins ("*" for any)
// with one of AllowedMethods and only AllowedHeaders (request header
// names, "*" for any) are allowed; ExposeHeaders are the response headers
// the page may read; a preflight answer may be cached MaxAgeSeconds.
type CORSRule struct {
	AllowedOrigins []string
	AllowedMethods []string
	AllowedHeaders []string
	ExposeHeaders  []string
	MaxAgeSeconds  int
}

// CheckCORSRules is the check every CORSConfigurer makes of rules before
// writing them.
func CheckCORSRules(rules []CORSRule) error {
	for i, r := range rules {
		switch {
		case len(r.AllowedOrigins) == 0:
			return Errorf(InvalidArgument, "cors rule %d: no allowed origin", i+1)
		case len(r.AllowedMethods) == 0:
			return Errorf(InvalidArgument, "cors rule %d: no allowed method", i+1)
		case r.MaxAgeSeconds < 0:
			return Errorf(InvalidArgument, "cors rule %d: max age %d is negative", i+1, r.MaxAgeSeconds)
		}
		for _, l := range [][]string{r.AllowedOrigins, r.AllowedMethods, r.AllowedHeaders, r.ExposeHeaders} {
			for _, v := range l {
				if v == "" || strings.ContainsAny(v, ", \t\r\n") {
					return Errorf(InvalidArgument, "cors rule %d: %q is not a single origin, method or header name", i+1, v)
				}
			}
		}
	}
	return nil
}

// StoreConfig is one store's provider configuration, as written under
// stores.NAME.config in Valet's config file.
type StoreConfig struct {
	// Store is the store's name, for error messages and logs.
	Store string
	// Config is the provider-specific settings as a JSON object. Providers
	// should decode it strictly (unknown keys are errors).
	Config json.RawMessage
}

// Info describes a provider.
type Info struct {
	Name         string
	Version      string
	Capabilities Capabilities
}

// Capabilities says honestly what a provider can do and, above all, what it
// binds into a signature. A binding is claimed only when the backend itself
// rejects a request that violates it; the conformance suite checks every
// claim. Whatever is not bound, the gateway verifies at complete time.
type Capabilities struct {
	SignPut    bool
	SignGet    bool
	SignDelete bool

	// Bindings enforced by the backend for a signed PUT.
	BindsContentLength bool
	BindsContentType   bool
	// BindsChecksums lists the checksum algorithms bound into a signed
	// single PUT: given PutRequest.Checksum of such an algorithm, the
	// backend itself rejects a body with another digest.
	BindsChecksums  []ChecksumAlgorithm
	BindsCreateOnly bool

	// GetOverrides is true when SignGet can bind response content type and
	// content disposition.
	GetOverrides bool

	// MaxExpiry is the longest TTL a signature may have.
	MaxExpiry time.Duration

	Multipart bool
	// MultipartNeedsETags is true when CompleteMultipart needs each part's
	// ETag from the client.
	MultipartNeedsETags bool
	MinPartSize         int64 // every part but the last
	MaxPartSize         int64
	MaxParts            int
	// PartsBindContentLength is true when a part recipe binds its size.
	PartsBindContentLength bool
	// MultipartChecksums lists the algorithms whose full-object digest the
	// provider computes, or has the backend compute, when it assembles a
	// multipart upload. Given CompleteMultipartRequest.Checksum of such an
	// algorithm, CompleteMultipart returns the digest of the assembled
	// object's content in Object.Checksums[alg]: computed, never copied
	// from the declared value, so the gateway can compare the two. Part or
	// composite checksums (S3's "...-N") do not count. An upload declaring
	// an algorithm not listed here cannot be verified after multipart.
	MultipartChecksums []ChecksumAlgorithm

	// Reader is true when the provider implements Reader.
	Reader bool
	// SignGets is true when SignGets is one round trip: a provider that
	// implements GetSigner, or a plugin (whose server always answers it).
	SignGets bool
	// PostPolicy is true when the provider implements PostPolicySigner and
	// its backend enforces the policy (see PostPolicySigner).
	PostPolicy bool
	// CORS is true when the provider implements CORSConfigurer.
	CORS bool

	// Notes are short, human-readable remarks for operators (for example
	// "aborted uploads leave blocks that Azure drops after 7 days").
	Notes []string
}

// Binds reports whether alg is among the bound checksum algorithms.
func (c Capabilities) Binds(alg ChecksumAlgorithm) bool {
	for _, a := range c.BindsChecksums {
		if a == alg {
			return true
		}
	}
	return false
}

// VerifiesMultipart reports whether alg is among MultipartChecksums.
func (c Capabilities) VerifiesMultipart(alg ChecksumAlgorithm) bool {
	for _, a := range c.MultipartChecksums {
		if a == alg {
			return true
		}
	}
	return false
}

// ChecksumAlgorithm names a checksum. Values are base64 of the raw digest.
type ChecksumAlgorithm string

const (
	SHA256 ChecksumAlgorithm = "sha256"
	MD5    ChecksumAlgorithm = "md5"
	CRC32C ChecksumAlgorithm = "crc32c"
)

// Checksum is one digest of an object's full content.
type Checksum struct {
	Algorithm ChecksumAlgorithm
	// Value is the standard base64 encoding of the raw digest.
	Value string
}

// Recipe is a signed request: the client must send exactly this method to
// this URL with these headers (and, for uploads, the body) before ExpiresAt.
type Recipe struct {
	Method    string
	URL       string
	Headers   map[string]string
	ExpiresAt time.Time
}

// PutRequest asks for a single-request upload.
type PutRequest struct {
	Key         string
	ContentType string
	Size        int64
	Checksum    *Checksum
	Metadata    map[string]string
	// CreateOnly asks that the upload fail if the key already exists
	// (If-None-Match: *), where BindsCreateOnly is claimed.
	CreateOnly bool
	TTL        time.Duration
}

// GetRequest asks for a download.
type GetRequest struct {
	Key string
	TTL time.Duration
	// ResponseContentType and ResponseContentDisposition, when set, override
	// what the backend sends back.
	ResponseContentType        string
	ResponseContentDisposition string
}

// SignDeleteRequest asks for a signed delete.
type SignDeleteRequest struct {
	Key string
	TTL time.Duration
}

// HeadRequest asks for one object's metadata.
type HeadRequest struct {
	Key string
}

// DeleteRequest asks the provider to delete one object now, with its own
// credentials (SignDeleteRequest, by contrast, asks for a signed delete that
// the client sends).
type DeleteRequest struct {
	Key string
}

// DeleteResult is what Delete returns: nothing yet.
type DeleteResult struct{}

// Object is an object's metadata.
type Object struct {
	Key          string
	Size         int64
	ContentType  string
	ETag         string
	LastModified time.Time
	Metadata     map[string]string
	// Checksums holds the digests the backend reports, by algorithm.
	Checksums map[ChecksumAlgorithm]string
}

// ListRequest asks for one page of a listing.
type ListRequest struct {
	Prefix string
	Cursor string
	// Limit is between 1 and 1000; the gateway clamps it.
	Limit int
}

// MaxPageSize is the most objects one List page holds.
const MaxPageSize = 1000

// PageSize is Limit, or MaxPageSize when Limit is outside 1..MaxPageSize
// (a caller that did not clamp it).
func (r ListRequest) PageSize() int {
	if r.Limit < 1 || r.Limit > MaxPageSize {
		return MaxPageSize
	}
	return r.Limit
}

// Page picks the keys of the page r asks for from keys given in any order,
// for a provider that holds its keys itself (in memory, say): those under
// r.Prefix after r.Cursor, in lexical order, at most r.PageSize(). next is
// the last key picked when more remain, the cursor of such a provider, and
// empty on the last page.
func (r ListRequest) Page(keys iter.Seq[string]) (page []string, next string) {
	for k := range keys {
		if strings.HasPrefix(k, r.Prefix) && k > r.Cursor {
			page = append(page, k)
		}
	}
	slices.Sort(page)
	if n := r.PageSize(); len(page) > n {
		page = page[:n]
		next = page[n-1]
	}
	return page, next
}

// ListPage is one page of a listing.
type ListPage struct {
	Objects    []Object
	NextCursor string
}

// CreateMultipartRequest starts a multipart upload.
type CreateMultipartRequest struct {
	Key         string
	ContentType string
	// Size is the total size, when known (0 = unknown).
	Size     int64
	PartSize int64
	Metadata map[string]string
	TTL      time.Duration
	// Checksum is the declared digest of the whole object, or nil. The
	// gateway passes the same value again to CompleteMultipart, so a
	// provider need not keep it; one whose backend must know it up front
	// may use it here. An algorithm not listed in MultipartChecksums is
	// ignored, never an error.
	Checksum *Checksum
}

// MultipartUpload identifies a started multipart upload.
type MultipartUpload struct {
	UploadID string
}

// MultipartRef names an upload in progress.
type MultipartRef struct {
	Key      string
	UploadID string
}

// PartSpec is one part to sign. Size 0 means the size is not bound.
type PartSpec struct {
	Number int
	Size   int64
}

// SignPartsRequest asks for a batch of part recipes.
type SignPartsRequest struct {
	Key      string
	UploadID string
	Parts    []PartSpec
	TTL      time.Duration
}

// SignPartsResult holds the part recipes, in the order asked.
type SignPartsResult struct {
	Parts []PartRecipe
}

// PartRecipe is the signed request for one part.
type PartRecipe struct {
	Number int
	Recipe Recipe
}

// CompletedPart is one part as listed by the client at completion.
type CompletedPart struct {
	Number int
	ETag   string
}

// CompleteMultipartRequest finishes a multipart upload.
type CompleteMultipartRequest struct {
	Key      string
	UploadID string
	Parts    []CompletedPart
	// Checksum is the declared digest of the whole object, or nil. When its
	// algorithm is in MultipartChecksums, the returned Object.Checksums
	// holds the digest of what was assembled under that algorithm (see
	// Capabilities.MultipartChecksums); the provider does not compare the
	// two itself, the gateway does. Otherwise it is ignored.
	Checksum *Checksum
}

// Part is an uploaded part.
type Part struct {
	Number int
	Size   int64
	ETag   string
}

// AbortMultipartRequest discards an upload in progress.
type AbortMultipartRequest struct {
	Upload MultipartRef
}

// AbortMultipartResult is what AbortMultipart returns: nothing yet.
type AbortMultipartResult struct{}

// ListPartsRequest asks for the parts of an upload in progress.
type ListPartsRequest struct {
	Upload MultipartRef
}

// ListPartsResult holds the uploaded parts, ordered by part number.
type ListPartsResult struct {
	Parts []Part
}
