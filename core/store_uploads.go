package core

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/valetgw/valet/core/auth"
	"github.com/valetgw/valet/core/hooks"
	"github.com/valetgw/valet/core/keys"
	"github.com/valetgw/valet/core/policy"
	"github.com/valetgw/valet/core/problem"
	"github.com/valetgw/valet/core/uploadid"
	"github.com/valetgw/valet/providers"
)

// MaxObjectSize bounds a declared size on every store, whatever its
// max_size: no storage service keeps a larger object, and sizes up to it
// leave room in every part computation.
const MaxObjectSize = 1 << 50

// UploadSpec is what a client declares when it starts an upload.
type UploadSpec struct {
	// Filename fills the key template's {filename} and {ext}.
	Filename string
	// ContentType is a media type ("" = application/octet-stream).
	ContentType string
	// Size is the object's size in bytes; negative (as when the client
	// sent none) is invalid_size.
	Size int64
	// ChecksumSHA256 is the base64 of the object's sha256, or "".
	ChecksumSHA256 string
	Metadata       map[string]string
	// Key is a client-chosen key, "" for the store's template.
	Key string
	// Multipart asks for a multipart upload whatever the size.
	Multipart bool
}

// UploadPlan is a started upload: a single signed PUT, or a multipart plan
// with the recipes of its first parts.
type UploadPlan struct {
	// UploadID is the sealed id the client finishes or aborts with.
	UploadID string
	Key      string
	// Put is the signed single request; zero for a multipart upload.
	Put providers.Recipe
	// PartSize and PartCount plan a multipart upload (0 for a single PUT);
	// Parts are the recipes of its first parts, in order.
	PartSize  int64
	PartCount int
	Parts     []providers.PartRecipe
	// ExpiresAt is when a single PUT's URL expires, or a multipart upload
	// id.
	ExpiresAt time.Time
}

// Multipart reports whether the plan is a multipart upload.
func (p UploadPlan) Multipart() bool { return p.PartCount > 0 }

// PartListing is what a multipart upload holds so far, with its plan.
type PartListing struct {
	Parts     []providers.Part
	PartSize  int64
	PartCount int
}

// CreateUpload starts an upload: it checks the spec against the store's
// limits, picks the key (the template's, or the client's where the store
// allows it), evaluates the upload rule, and signs a single PUT or starts
// a multipart upload and signs its first parts.
func (st *Store) CreateUpload(ctx context.Context, who auth.Principal, spec UploadSpec) (plan UploadPlan, err error) {
	defer catalog(&err)
	lim, caps := st.cfg.Limits, st.info.Capabilities
	if spec.Size < 0 {
		return plan, apiError("invalid_size", "size is required and must not be negative")
	}
	size := spec.Size
	if size > MaxObjectSize {
		return plan, apiErrorf("too_large", "size %d exceeds the gateway's limit of %d bytes (1 PiB)", size, int64(MaxObjectSize))
	}
	if lim.MaxSize > 0 && size > int64(lim.MaxSize) {
		return plan, apiErrorf("too_large", "size %d exceeds the store's limit of %d bytes", size, lim.MaxSize)
	}
	ct := spec.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || !strings.Contains(mt, "/") {
		return plan, apiError("invalid_content_type", "content_type is not a valid media type")
	}
	if !typeAllowed(mt, lim.ContentTypes) {
		return plan, apiErrorf("content_type_not_allowed", "content type %s is not allowed in this store", mt)
	}
	var sum *providers.Checksum
	if spec.ChecksumSHA256 != "" {
		b, err := base64.StdEncoding.DecodeString(spec.ChecksumSHA256)
		if err != nil || len(b) != sha256.Size {
			return plan, apiError("invalid_checksum", "checksum_sha256 must be the base64 of a 32-byte sha256 digest")
		}
		// The canonical spelling: a lax one (other bits in the last
		// character) decodes to the same digest, but a provider signs the
		// string and compares the digest, and complete compares strings.
		spec.ChecksumSHA256 = base64.StdEncoding.EncodeToString(b)
		sum = &providers.Checksum{Algorithm: providers.SHA256, Value: spec.ChecksumSHA256}
	}
	if err := checkMetadata(spec.Metadata); err != nil {
		return plan, err
	}

	key := spec.Key
	clientKey := key != ""
	if clientKey {
		if !st.cfg.AllowClientKeys {
			return plan, apiError("client_keys_not_allowed", "this store chooses keys itself; omit key")
		}
		if err := keys.Validate(key); err != nil {
			return plan, apiError("invalid_key", err.Error())
		}
	} else {
		key, err = st.tmpl.Render(keys.Values{Subject: who.Subject, UUID: uuid.NewString(), Filename: spec.Filename, Now: st.now()})
		if err != nil {
			return plan, apiError("invalid_key", "the key template gives an invalid key for this subject or filename")
		}
	}
	noteKey(ctx, key)
	if err := st.allow(ctx, who, policy.Upload, policy.Input{Key: key, Prefix: keys.Dir(key), Size: size, ContentType: mt}); err != nil {
		return plan, err
	}

	now := st.now()
	// Millisecond precision, like the signed URLs' expiries, so that every
	// expires_at in the API has the same form.
	idExpiry := now.Add(lim.UploadTTL).Truncate(time.Millisecond)
	// Guarded: other uploads can write this key too (a client-chosen key,
	// or a template without {uuid}).
	tok := uploadid.Upload{Store: st.name, Key: key, Subject: who.Subject, Size: size, ContentType: ct, ChecksumSHA256: spec.ChecksumSHA256,
		Guarded: clientKey || !st.tmpl.Unique()}
	multipart := spec.Multipart || size > int64(lim.MultipartThreshold)
	if multipart && !caps.Multipart {
		if spec.Multipart || !caps.SignPut {
			return plan, apiError("multipart_unsupported", "this store's provider has no multipart uploads")
		}
		multipart = false
	}
	if sum != nil {
		// A declared checksum is only taken when the store can check it:
		// bound into the signed PUT, or computed when parts are assembled.
		if !multipart && !caps.Binds(providers.SHA256) {
			return plan, apiError("checksum_unverifiable", "this store cannot verify checksum_sha256 on an upload; omit it (see capabilities.verifies_checksum_sha256 in GET /v1/stores)")
		}
		if multipart && !caps.VerifiesMultipart(providers.SHA256) {
			return plan, apiError("checksum_unverifiable", "this store cannot verify checksum_sha256 on a multipart upload; omit it, or stay below limits.multipart_threshold (see capabilities.verifies_checksum_sha256 in GET /v1/stores)")
		}
	}
	// Last before anything is signed: the application hears only of an
	// upload the gateway would allow, and may still refuse it.
	md, err := st.hookCreate(ctx, who, tok, spec.Metadata)
	if err != nil {
		return plan, err
	}
	if !multipart {
		return st.signPut(ctx, tok, idExpiry, md, sum, clientKey)
	}
	return st.startMultipart(ctx, tok, idExpiry, md, sum)
}

// checkMetadata applies the metadata rules (hooks.CheckMetadata, which a
// hook's added metadata follows too): at most 16 entries of lower-case
// names and printable ASCII values, 2 KiB in all.
func checkMetadata(md map[string]string) error {
	if err := hooks.CheckMetadata(md); err != nil {
		return apiError("invalid_metadata", err.Error())
	}
	return nil
}

// signPut plans tok as a single PUT.
func (st *Store) signPut(ctx context.Context, tok uploadid.Upload, idExpiry time.Time, md map[string]string, sum *providers.Checksum, clientKey bool) (UploadPlan, error) {
	caps := st.info.Capabilities
	if !caps.SignPut {
		return UploadPlan{}, apiError("unsupported", "this store's provider cannot sign uploads")
	}
	if tok.Guarded {
		// Remember what is there now, so that complete never deletes an
		// object this upload did not write. A failed look (S3 answers 403
		// for a missing key without s3:ListBucket) leaves the prior
		// unknown: then only the delete rule may allow it.
		tok.Prior = unknownPrior
		switch o, err := st.provider.Head(ctx, providers.HeadRequest{Key: tok.Key}); {
		case err == nil:
			tok.Prior = fingerprint(o)
		case providers.CodeOf(err) == providers.NotFound:
			tok.Prior = ""
		}
	}
	rc, err := st.provider.SignPut(ctx, providers.PutRequest{
		Key: tok.Key, ContentType: tok.ContentType, Size: tok.Size, Checksum: sum, Metadata: md,
		CreateOnly: caps.BindsCreateOnly && !clientKey, TTL: st.ttl(0, st.cfg.Limits.PutTTL),
	})
	if err != nil {
		return UploadPlan{}, err
	}
	tok.ExpiresAt = later(idExpiry, rc.ExpiresAt)
	id, err := st.sealer.Seal(tok)
	if err != nil {
		return UploadPlan{}, err
	}
	return UploadPlan{UploadID: id, Key: tok.Key, Put: rc, ExpiresAt: rc.ExpiresAt}, nil
}

// startMultipart plans tok as a multipart upload and signs its first parts.
func (st *Store) startMultipart(ctx context.Context, tok uploadid.Upload, idExpiry time.Time, md map[string]string, sum *providers.Checksum) (UploadPlan, error) {
	lim := st.cfg.Limits
	partSize, count, err := planParts(tok.Size, int64(lim.PartSize), st.info.Capabilities)
	if err != nil {
		if errors.Is(err, errTooManyParts) {
			return UploadPlan{}, apiError("too_large", err.Error())
		}
		return UploadPlan{}, apiError("invalid_size", err.Error())
	}
	mu, err := st.multipart.CreateMultipart(ctx, providers.CreateMultipartRequest{
		Key: tok.Key, ContentType: tok.ContentType, Size: tok.Size, PartSize: partSize, Metadata: md, TTL: lim.UploadTTL, Checksum: sum,
	})
	if err != nil {
		return UploadPlan{}, err
	}
	tok.ProviderUploadID, tok.PartSize, tok.PartCount, tok.ExpiresAt = mu.UploadID, partSize, count, idExpiry
	nums := make([]int, min(count, firstBatch))
	for i := range nums {
		nums[i] = i + 1
	}
	parts, err := st.signParts(ctx, tok, nums)
	if err == nil {
		var id string
		if id, err = st.sealer.Seal(tok); err == nil {
			return UploadPlan{UploadID: id, Key: tok.Key, PartSize: partSize, PartCount: count, Parts: parts, ExpiresAt: idExpiry}, nil
		}
	}
	// Do not leak an upload nobody can finish.
	_, _ = st.multipart.AbortMultipart(ctx, providers.AbortMultipartRequest{Upload: providers.MultipartRef{Key: tok.Key, UploadID: mu.UploadID}})
	return UploadPlan{}, err
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// typeAllowed matches a media type against patterns such as "video/*".
func typeAllowed(mt string, patterns []string) bool {
	if len(patterns) == 0 {
		return true
	}
	typ, _, _ := strings.Cut(mt, "/")
	for _, p := range patterns {
		p = strings.ToLower(p)
		if p == "*" || p == "*/*" || p == mt || (strings.HasSuffix(p, "/*") && strings.TrimSuffix(p, "/*") == typ) {
			return true
		}
	}
	return false
}

// openOwn opens an upload id and checks that it belongs to this store and
// caller. It does not evaluate the upload rule: aborting an upload only
// cleans up, and a caller whose access was revoked may still do that.
func (st *Store) openOwn(ctx context.Context, who auth.Principal, id string) (uploadid.Upload, error) {
	u, err := st.sealer.Open(id, st.now())
	switch {
	case errors.Is(err, uploadid.ErrExpired):
		return u, apiError("upload_expired", "the upload id has expired; start a new upload")
	case err != nil:
		return u, apiError("upload_not_found", "unknown or invalid upload id")
	case u.Store != st.name:
		return u, apiError("upload_not_found", "unknown or invalid upload id")
	case u.Subject != who.Subject:
		return u, apiError("upload_forbidden", "the upload belongs to another caller")
	}
	noteKey(ctx, u.Key)
	if u.Multipart() && st.multipart == nil {
		// A reload gave the store a provider without multipart uploads.
		return u, apiError("multipart_unsupported", "this store's provider has no multipart uploads")
	}
	return u, nil
}

// open is openOwn with the upload rule, evaluated again on every call so
// that an upload id stops working as soon as the caller's access is
// revoked.
func (st *Store) open(ctx context.Context, who auth.Principal, id string) (uploadid.Upload, error) {
	u, err := st.openOwn(ctx, who, id)
	if err != nil {
		return u, err
	}
	if u.Size < 0 {
		// An unsized upload (started on the Companion routes) is signed
		// and verified there; Valet's own routes plan and check sizes.
		return u, apiError("companion_upload", "this upload was started on the Companion routes; continue it there")
	}
	mt, _, _ := mime.ParseMediaType(u.ContentType)
	if err := st.allow(ctx, who, policy.Upload, policy.Input{Key: u.Key, Prefix: keys.Dir(u.Key), Size: u.Size, ContentType: mt}); err != nil {
		return u, err
	}
	return u, nil
}

// openMultipart is open for a multipart upload only.
func (st *Store) openMultipart(ctx context.Context, who auth.Principal, id string) (uploadid.Upload, error) {
	u, err := st.open(ctx, who, id)
	if err != nil {
		return u, err
	}
	if !u.Multipart() {
		return u, apiError("not_multipart", "this upload is a single PUT; it has no parts")
	}
	return u, nil
}

// SignParts signs more parts of a multipart upload: 1 to MaxPartsPerBatch
// distinct part numbers of its plan, answered in the order asked.
func (st *Store) SignParts(ctx context.Context, who auth.Principal, uploadID string, nums []int) (parts []providers.PartRecipe, err error) {
	defer catalog(&err)
	u, err := st.openMultipart(ctx, who, uploadID)
	if err != nil {
		return nil, err
	}
	if len(nums) == 0 || len(nums) > MaxPartsPerBatch {
		return nil, apiErrorf("invalid_parts", "part_numbers must list 1 to %d parts", MaxPartsPerBatch)
	}
	seen := make(map[int]bool, len(nums))
	for _, n := range nums {
		if n < 1 || n > u.PartCount || seen[n] {
			return nil, apiErrorf("invalid_parts", "part numbers must be distinct and between 1 and %d", u.PartCount)
		}
		seen[n] = true
	}
	return st.signParts(ctx, u, nums)
}

// signParts signs parts nums of u, each bound to its planned size.
func (st *Store) signParts(ctx context.Context, u uploadid.Upload, nums []int) ([]providers.PartRecipe, error) {
	specs := make([]providers.PartSpec, len(nums))
	for i, n := range nums {
		specs[i] = providers.PartSpec{Number: n, Size: partLen(u.Size, u.PartSize, u.PartCount, n)}
	}
	signed, err := st.multipart.SignParts(ctx, providers.SignPartsRequest{
		Key: u.Key, UploadID: u.ProviderUploadID, Parts: specs, TTL: st.ttl(0, st.cfg.Limits.PutTTL),
	})
	if err != nil {
		return nil, err
	}
	return signed.Parts, nil
}

// ListParts lists the parts of a multipart upload uploaded so far.
func (st *Store) ListParts(ctx context.Context, who auth.Principal, uploadID string) (pl PartListing, err error) {
	defer catalog(&err)
	u, err := st.openMultipart(ctx, who, uploadID)
	if err != nil {
		return pl, err
	}
	listing, err := st.multipart.ListParts(ctx, providers.ListPartsRequest{Upload: providers.MultipartRef{Key: u.Key, UploadID: u.ProviderUploadID}})
	if err != nil {
		return pl, err
	}
	return PartListing{Parts: listing.Parts, PartSize: u.PartSize, PartCount: u.PartCount}, nil
}

// Completed is a completed upload: the stored object, and what the store's
// hook answered to upload.complete (nil without a hook or an answer).
type Completed struct {
	providers.Object
	Hook json.RawMessage
}

// Complete finishes an upload and checks the stored object against what
// the upload declared (size, content type, sha256), then tells the store's
// hook, which may refuse it (the object is then deleted). For a multipart
// upload, parts is the whole plan, 1 to N in order, or empty; a part
// without an ETag gets the provider's. A complete whose first answer was
// lost is answered again with the same object, and delivered to the hook
// again with the same webhook-id.
func (st *Store) Complete(ctx context.Context, who auth.Principal, uploadID string, parts []providers.CompletedPart) (done Completed, err error) {
	defer catalog(&err)
	u, err := st.open(ctx, who, uploadID)
	if err != nil {
		return done, err
	}
	obj, ours, err := st.complete(ctx, who, u, parts)
	if err != nil {
		return done, err
	}
	a, err := st.hookComplete(ctx, who, uploadID, u, obj, ours)
	if err != nil {
		return done, err
	}
	return Completed{Object: obj, Hook: a.Body}, nil
}

// complete is Complete for an opened upload. ours is whether this
// complete assembled the object itself; an object merely found under the
// key (a single PUT's, or a retried complete's) may be another's.
func (st *Store) complete(ctx context.Context, who auth.Principal, u uploadid.Upload, parts []providers.CompletedPart) (obj providers.Object, ours bool, err error) {
	if !u.Multipart() {
		obj, err = st.provider.Head(ctx, providers.HeadRequest{Key: u.Key})
		if providers.CodeOf(err) == providers.NotFound {
			return obj, false, apiError("object_missing", "nothing was uploaded for this upload id")
		}
		if err != nil {
			return obj, false, err
		}
		if u.Guarded && fingerprint(obj) == u.Prior {
			// Still the object that stood there when the upload was
			// created: nothing was uploaded, and answering with it
			// would tell this caller (and the hook) of another's object.
			return obj, false, apiError("object_missing", "nothing was uploaded for this upload id; the object under the key is the one that was there before it")
		}
		obj, err = st.settle(ctx, who, u, obj, false)
		return obj, false, err
	}
	// The parts must be the whole plan, 1 to N in order; a client may leave
	// them out, or leave out ETags, which the provider knows.
	if len(parts) > 0 && len(parts) != u.PartCount {
		return obj, false, apiErrorf("invalid_parts", "parts must list every part of the plan, 1 to %d, in ascending order", u.PartCount)
	}
	need := len(parts) == 0
	for i, p := range parts {
		if p.Number != i+1 {
			return obj, false, apiErrorf("invalid_parts", "parts must list every part of the plan, 1 to %d, in ascending order", u.PartCount)
		}
		need = need || p.ETag == ""
	}
	ref := providers.MultipartRef{Key: u.Key, UploadID: u.ProviderUploadID}
	var listed map[int]string
	if need {
		listing, err := st.multipart.ListParts(ctx, providers.ListPartsRequest{Upload: ref})
		if providers.CodeOf(err) == providers.NotFound {
			obj, err := st.uploadGone(ctx, who, u)
			return obj, false, err
		}
		if err != nil {
			return obj, false, err
		}
		listed = map[int]string{}
		for _, p := range listing.Parts {
			listed[p.Number] = p.ETag
		}
	}
	all := make([]providers.CompletedPart, u.PartCount)
	for n := 1; n <= u.PartCount; n++ {
		etag := ""
		if len(parts) > 0 {
			etag = parts[n-1].ETag
		}
		if etag == "" {
			var ok bool
			if etag, ok = listed[n]; !ok {
				// A retried complete whose first answer was lost finds the
				// parts gone and the object in place.
				obj, err := st.finished(ctx, who, u, apiErrorf("parts_missing", "part %d has not been uploaded", n))
				return obj, false, err
			}
		}
		all[n-1] = providers.CompletedPart{Number: n, ETag: etag}
	}
	var sum *providers.Checksum
	if u.ChecksumSHA256 != "" {
		sum = &providers.Checksum{Algorithm: providers.SHA256, Value: u.ChecksumSHA256}
	}
	obj, err = st.multipart.CompleteMultipart(ctx, providers.CompleteMultipartRequest{Key: u.Key, UploadID: u.ProviderUploadID, Parts: all, Checksum: sum})
	if err != nil {
		switch providers.CodeOf(err) {
		case providers.FailedPrecondition, providers.InvalidArgument:
			return obj, false, apiError("parts_invalid", "the parts are missing or do not match what was uploaded")
		case providers.NotFound:
			obj, err := st.uploadGone(ctx, who, u)
			return obj, false, err
		}
		return obj, false, err
	}
	obj, err = st.settle(ctx, who, u, obj, true)
	return obj, true, err
}

// uploadGone answers a complete for a multipart upload the provider no
// longer knows. A retried complete whose first answer was lost finds its
// object in place: when it stands as u declared it and was written since u
// was created, it is answered again. Only under a key no other upload
// writes: under a shared key (Guarded) the object may be another caller's,
// written after this upload was created (or aborted), and answering it
// would tell the hook of it as this caller's and let a refusal delete it.
// Otherwise the upload is missing.
func (st *Store) uploadGone(ctx context.Context, who auth.Principal, u uploadid.Upload) (providers.Object, error) {
	return st.finished(ctx, who, u, apiError("upload_missing", "the provider no longer knows this upload"))
}

// finished answers with u's object when an earlier complete of u already
// made it (see uploadGone), and with missing otherwise.
func (st *Store) finished(ctx context.Context, who auth.Principal, u uploadid.Upload, missing *problem.Problem) (providers.Object, error) {
	if u.Guarded {
		return providers.Object{}, shared(missing)
	}
	o, err := st.provider.Head(ctx, providers.HeadRequest{Key: u.Key})
	if err != nil {
		return providers.Object{}, missing
	}
	created := u.ExpiresAt.Add(-st.cfg.Limits.UploadTTL)
	if o.LastModified.Before(created.Add(-time.Minute)) {
		return providers.Object{}, missing
	}
	return st.settle(ctx, who, u, o, false)
}

// shared is missing for an upload under a shared key, which finished
// never answers with the object found there.
func shared(missing *problem.Problem) *problem.Problem {
	missing.Detail += "; other uploads may write this key, so an object there is not taken as this upload's"
	return missing
}

// settle answers a complete with the stored object o, or with how it
// differs from what u declared. On a mismatch the object is deleted (as
// delete_on_mismatch says) only when it is this upload's to delete (see
// notOurs; ours is whether this complete assembled it).
func (st *Store) settle(ctx context.Context, who auth.Principal, u uploadid.Upload, o providers.Object, ours bool) (providers.Object, error) {
	if o.Key == "" {
		o.Key = u.Key
	}
	p := mismatch(u, o, u.Multipart())
	if p == nil {
		return o, nil
	}
	caps := st.info.Capabilities
	// Parts bind neither the whole size nor the digest, so a multipart
	// mismatch can come from the upload itself.
	if !st.cfg.ShouldDeleteOnMismatch(caps.BindsContentLength && caps.BindsContentType && !u.Multipart()) {
		return providers.Object{}, p
	}
	if why := st.notOurs(ctx, who, u, o, ours); why != "" {
		p.Detail += "; " + why
		return providers.Object{}, p
	}
	if _, err := st.provider.Delete(ctx, providers.DeleteRequest{Key: u.Key}); err == nil {
		p.Detail += "; the object was deleted"
	}
	return providers.Object{}, p
}

// notOurs says why o, found under u's key, must not be deleted on u's
// behalf, or "" when it may be: ours (assembled by this complete), or
// under a key no other upload writes. Under a shared key (Guarded) an
// object that is still the one found at creation is never deleted, and any
// other only when the caller may delete the key, so that an upload never
// deletes what its caller could not (docs/security.md).
func (st *Store) notOurs(ctx context.Context, who auth.Principal, u uploadid.Upload, o providers.Object, ours bool) string {
	if ours || !u.Guarded {
		return ""
	}
	if fingerprint(o) == u.Prior {
		return "the object there was not written by this upload and was left in place"
	}
	if st.allow(ctx, who, policy.Delete, policy.Input{Key: u.Key, Prefix: keys.Dir(u.Key)}) != nil {
		return "the object was left in place: other uploads may write this key, and the store's delete rule does not allow this caller to delete it"
	}
	return ""
}

// unknownPrior is an Upload.Prior that matches no object.
const unknownPrior = "?"

// fingerprint identifies one version of an object, for Upload.Prior.
func fingerprint(o providers.Object) string {
	return fmt.Sprintf("%s|%d|%d", o.ETag, o.Size, o.LastModified.UnixNano())
}

// mismatch compares a stored object with what the upload declared. With
// needSum, a declared sha256 must also be reported by the provider (a
// multipart upload, whose parts no signature bound to the whole digest).
func mismatch(u uploadid.Upload, o providers.Object, needSum bool) *problem.Problem {
	if o.Size != u.Size {
		return apiErrorf("size_mismatch", "the object has %d bytes, %d were declared", o.Size, u.Size)
	}
	want, _, _ := mime.ParseMediaType(u.ContentType)
	got, _, err := mime.ParseMediaType(o.ContentType)
	if err != nil || !strings.EqualFold(got, want) {
		return apiError("content_type_mismatch", "the object's content type differs from the declared one")
	}
	if u.ChecksumSHA256 != "" {
		v, ok := o.Checksums[providers.SHA256]
		switch {
		case ok && v != u.ChecksumSHA256:
			return apiError("checksum_mismatch", "the object's sha256 differs from the declared one")
		case !ok && needSum:
			return apiError("checksum_unverified", "the store did not report the object's sha256, so the declared one could not be checked")
		}
	}
	return nil
}

// Abort discards an upload. A single PUT has nothing to abort (its URL
// simply expires). The upload rule is not evaluated: aborting only cleans
// up, and a caller whose access was revoked may still do that.
func (st *Store) Abort(ctx context.Context, who auth.Principal, uploadID string) (err error) {
	defer catalog(&err)
	u, err := st.openOwn(ctx, who, uploadID)
	if err != nil {
		return err
	}
	if !u.Multipart() {
		return nil
	}
	return st.abortMultipart(ctx, providers.MultipartRef{Key: u.Key, UploadID: u.ProviderUploadID})
}

// abortChecks is when, after an abort, the gateway looks again for parts that
// landed late.
var abortChecks = []time.Duration{50 * time.Millisecond, 150 * time.Millisecond, 300 * time.Millisecond}

// abortMultipart aborts an upload and keeps it aborted. A part whose bytes
// were already on the wire when the client cancelled can still land after
// the abort: S3 documents this ("it might be necessary to abort a given
// multipart upload multiple times"), and versitygw brings the upload back
// with that part. So the gateway looks again over a short window (about
// half a second in all) and aborts once more whenever parts show up.
func (st *Store) abortMultipart(ctx context.Context, ref providers.MultipartRef) error {
	p := st.multipart
	if _, err := p.AbortMultipart(ctx, providers.AbortMultipartRequest{Upload: ref}); err != nil {
		return err
	}
	for _, d := range st.abortChecks {
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		listing, err := p.ListParts(ctx, providers.ListPartsRequest{Upload: ref})
		if err != nil && providers.CodeOf(err) != providers.NotFound {
			// The abort itself succeeded; a failed look is only counted.
			continue
		}
		if len(listing.Parts) == 0 {
			continue
		}
		if _, err := p.AbortMultipart(ctx, providers.AbortMultipartRequest{Upload: ref}); err != nil {
			return err
		}
	}
	return nil
}
