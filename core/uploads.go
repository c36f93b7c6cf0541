package core

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/valetgw/valet/core/keys"
	"github.com/valetgw/valet/core/policy"
	"github.com/valetgw/valet/core/problem"
	"github.com/valetgw/valet/core/uploadid"
	"github.com/valetgw/valet/providers"
)

// openUpload opens an upload id and checks that it belongs to this store
// and caller, and that the store's upload rule still allows it.
func (s *Server) openUpload(r *http.Request, c *call) (uploadid.Upload, error) {
	u, err := s.openOwnUpload(r, c)
	if err != nil {
		return u, err
	}
	// The upload rule is evaluated again on every call, so that an upload
	// id stops working as soon as the caller's access is revoked.
	mt, _, _ := mime.ParseMediaType(u.ContentType)
	if err := c.allow(r, policy.Upload, policy.Input{Key: u.Key, Prefix: keys.Dir(u.Key), Size: u.Size, ContentType: mt}); err != nil {
		return u, err
	}
	return u, nil
}

// openOwnUpload is openUpload without the rule: aborting an upload only
// cleans up, and a caller whose access was revoked may still do that.
func (s *Server) openOwnUpload(r *http.Request, c *call) (uploadid.Upload, error) {
	u, err := c.st.sealer.Open(r.PathValue("upload_id"), s.now())
	switch {
	case errors.Is(err, uploadid.ErrExpired):
		return u, apiError("upload_expired", "the upload id has expired; start a new upload")
	case err != nil:
		return u, apiError("upload_not_found", "unknown or invalid upload id")
	case u.Store != c.store.name:
		return u, apiError("upload_not_found", "unknown or invalid upload id")
	case u.Subject != c.who.Subject:
		return u, apiError("upload_forbidden", "the upload belongs to another caller")
	}
	c.rec.key = u.Key
	if u.Multipart() && c.store.multipart == nil {
		// A reload gave the store a provider without multipart uploads.
		return u, apiError("multipart_unsupported", "this store's provider has no multipart uploads")
	}
	return u, nil
}

type uploadRequest struct {
	Filename       string            `json:"filename"`
	ContentType    string            `json:"content_type"`
	Size           *int64            `json:"size"`
	ChecksumSHA256 string            `json:"checksum_sha256,omitempty"`
	Metadata       map[string]string `json:"metadata,omitempty"`
	Key            string            `json:"key,omitempty"`
	Multipart      bool              `json:"multipart,omitempty"`
}

type multipartPlan struct {
	PartSize  int64 `json:"part_size"`
	PartCount int   `json:"part_count"`
}

type partRecipe struct {
	PartNumber int               `json:"part_number"`
	Method     string            `json:"method"`
	URL        string            `json:"url"`
	Headers    map[string]string `json:"headers"`
	ExpiresAt  time.Time         `json:"expires_at"`
}

type uploadResponse struct {
	UploadID  string            `json:"upload_id"`
	Key       string            `json:"key"`
	Method    string            `json:"method,omitempty"`
	URL       string            `json:"url,omitempty"`
	Headers   map[string]string `json:"headers,omitempty"`
	Multipart *multipartPlan    `json:"multipart,omitempty"`
	Parts     []partRecipe      `json:"parts,omitempty"`
	ExpiresAt time.Time         `json:"expires_at"`
}

// MaxObjectSize bounds a declared size on every store, whatever its
// max_size: no storage service keeps a larger object, and sizes up to it
// leave room in every part computation.
const MaxObjectSize = 1 << 50

var metaKey = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

func (s *Server) createUpload(w http.ResponseWriter, r *http.Request, c *call) error {
	var req uploadRequest
	if err := decode(r, &req, false); err != nil {
		return err
	}
	st, lim, caps := c.store, c.store.cfg.Limits, c.store.info.Capabilities
	if req.Size == nil || *req.Size < 0 {
		return apiError("invalid_size", "size is required and must not be negative")
	}
	size := *req.Size
	if size > MaxObjectSize {
		return apiErrorf("too_large", "size %d exceeds the gateway's limit of %d bytes (1 PiB)", size, int64(MaxObjectSize))
	}
	if lim.MaxSize > 0 && size > int64(lim.MaxSize) {
		return apiErrorf("too_large", "size %d exceeds the store's limit of %d bytes", size, lim.MaxSize)
	}
	ct := req.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || !strings.Contains(mt, "/") {
		return apiError("invalid_content_type", "content_type is not a valid media type")
	}
	if !typeAllowed(mt, lim.ContentTypes) {
		return apiErrorf("content_type_not_allowed", "content type %s is not allowed in this store", mt)
	}
	var sum *providers.Checksum
	if req.ChecksumSHA256 != "" {
		if b, err := base64.StdEncoding.DecodeString(req.ChecksumSHA256); err != nil || len(b) != sha256.Size {
			return apiError("invalid_checksum", "checksum_sha256 must be the base64 of a 32-byte sha256 digest")
		}
		sum = &providers.Checksum{Algorithm: providers.SHA256, Value: req.ChecksumSHA256}
	}
	if len(req.Metadata) > 16 {
		return apiError("invalid_metadata", "at most 16 metadata entries")
	}
	metaBytes := 0
	for k, v := range req.Metadata {
		metaBytes += len(k) + len(v)
		if !metaKey.MatchString(k) || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r > 0x7e }) {
			return apiError("invalid_metadata", "metadata keys are lower-case letters, digits and '-'; values printable ASCII")
		}
	}
	if metaBytes > 2048 {
		return apiError("invalid_metadata", "metadata exceeds 2 KiB")
	}

	key := req.Key
	clientKey := key != ""
	if clientKey {
		if !st.cfg.AllowClientKeys {
			return apiError("client_keys_not_allowed", "this store chooses keys itself; omit key")
		}
		if err := keys.Validate(key); err != nil {
			return apiError("invalid_key", err.Error())
		}
	} else {
		key, err = st.tmpl.Render(keys.Values{Subject: c.who.Subject, UUID: uuid.NewString(), Filename: req.Filename, Now: s.now()})
		if err != nil {
			return apiError("invalid_key", "the key template gives an invalid key for this subject or filename")
		}
	}
	c.rec.key = key
	if err := c.allow(r, policy.Upload, policy.Input{Key: key, Prefix: keys.Dir(key), Size: size, ContentType: mt}); err != nil {
		return err
	}

	now := s.now()
	// Millisecond precision, like the signed URLs' expiries, so that every
	// expires_at in the API has the same form.
	idExpiry := now.Add(lim.UploadTTL).Truncate(time.Millisecond)
	// Guarded: other uploads can write this key too (a client-chosen key,
	// or a template without {uuid}).
	tok := uploadid.Upload{Store: st.name, Key: key, Subject: c.who.Subject, Size: size, ContentType: ct, ChecksumSHA256: req.ChecksumSHA256,
		Guarded: clientKey || !st.tmpl.Unique()}
	multipart := req.Multipart || size > int64(lim.MultipartThreshold)
	if multipart && !caps.Multipart {
		if req.Multipart || !caps.SignPut {
			return apiError("multipart_unsupported", "this store's provider has no multipart uploads")
		}
		multipart = false
	}
	if sum != nil {
		// A declared checksum is only taken when the store can check it:
		// bound into the signed PUT, or computed when parts are assembled.
		if !multipart && !caps.Binds(providers.SHA256) {
			return apiError("checksum_unverifiable", "this store cannot verify checksum_sha256 on an upload; omit it (see capabilities.verifies_checksum_sha256 in GET /v1/stores)")
		}
		if multipart && !caps.VerifiesMultipart(providers.SHA256) {
			return apiError("checksum_unverifiable", "this store cannot verify checksum_sha256 on a multipart upload; omit it, or stay below limits.multipart_threshold (see capabilities.verifies_checksum_sha256 in GET /v1/stores)")
		}
	}
	if !multipart {
		if !caps.SignPut {
			return apiError("unsupported", "this store's provider cannot sign uploads")
		}
		if tok.Guarded {
			// Remember what is there now, so that complete never deletes
			// an object this upload did not write. A failed look (S3
			// answers 403 for a missing key without s3:ListBucket) leaves
			// the prior unknown: then only the delete rule may allow it.
			tok.Prior = unknownPrior
			switch o, err := st.provider.Head(r.Context(), providers.HeadRequest{Key: key}); {
			case err == nil:
				tok.Prior = fingerprint(o)
			case providers.CodeOf(err) == providers.NotFound:
				tok.Prior = ""
			}
		}
		rc, err := st.provider.SignPut(r.Context(), providers.PutRequest{
			Key: key, ContentType: ct, Size: size, Checksum: sum, Metadata: req.Metadata,
			CreateOnly: caps.BindsCreateOnly && !clientKey, TTL: st.ttl(0, lim.PutTTL),
		})
		if err != nil {
			return err
		}
		tok.ExpiresAt = later(idExpiry, rc.ExpiresAt)
		id, err := c.st.sealer.Seal(tok)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, uploadResponse{UploadID: id, Key: key, Method: rc.Method, URL: rc.URL, Headers: nonNil(rc.Headers), ExpiresAt: rc.ExpiresAt.UTC()})
		return nil
	}

	partSize, count, err := planParts(size, int64(lim.PartSize), caps)
	if err != nil {
		if errors.Is(err, errTooManyParts) {
			return apiError("too_large", err.Error())
		}
		return apiError("invalid_size", err.Error())
	}
	mu, err := st.multipart.CreateMultipart(r.Context(), providers.CreateMultipartRequest{
		Key: key, ContentType: ct, Size: size, PartSize: partSize, Metadata: req.Metadata, TTL: lim.UploadTTL, Checksum: sum,
	})
	if err != nil {
		return err
	}
	tok.ProviderUploadID, tok.PartSize, tok.PartCount, tok.ExpiresAt = mu.UploadID, partSize, count, idExpiry
	nums := make([]int, min(count, firstBatch))
	for i := range nums {
		nums[i] = i + 1
	}
	parts, err := s.sign(r, c, tok, nums)
	if err == nil {
		var id string
		if id, err = c.st.sealer.Seal(tok); err == nil {
			writeJSON(w, http.StatusCreated, uploadResponse{UploadID: id, Key: key, Multipart: &multipartPlan{PartSize: partSize, PartCount: count}, Parts: parts, ExpiresAt: idExpiry.UTC()})
			return nil
		}
	}
	// Do not leak an upload nobody can finish.
	_, _ = st.multipart.AbortMultipart(r.Context(), providers.AbortMultipartRequest{Upload: providers.MultipartRef{Key: key, UploadID: mu.UploadID}})
	return err
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func nonNil(h map[string]string) map[string]string {
	if h == nil {
		return map[string]string{}
	}
	return h
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

func (s *Server) sign(r *http.Request, c *call, u uploadid.Upload, nums []int) ([]partRecipe, error) {
	specs := make([]providers.PartSpec, len(nums))
	for i, n := range nums {
		specs[i] = providers.PartSpec{Number: n, Size: partLen(u.Size, u.PartSize, u.PartCount, n)}
	}
	signed, err := c.store.multipart.SignParts(r.Context(), providers.SignPartsRequest{
		Key: u.Key, UploadID: u.ProviderUploadID, Parts: specs, TTL: c.store.ttl(0, c.store.cfg.Limits.PutTTL),
	})
	if err != nil {
		return nil, err
	}
	out := make([]partRecipe, len(signed.Parts))
	for i, p := range signed.Parts {
		out[i] = partRecipe{PartNumber: p.Number, Method: p.Recipe.Method, URL: p.Recipe.URL, Headers: nonNil(p.Recipe.Headers), ExpiresAt: p.Recipe.ExpiresAt.UTC()}
	}
	return out, nil
}

func (s *Server) multipartUpload(r *http.Request, c *call) (uploadid.Upload, error) {
	u, err := s.openUpload(r, c)
	if err != nil {
		return u, err
	}
	if !u.Multipart() {
		return u, apiError("not_multipart", "this upload is a single PUT; it has no parts")
	}
	return u, nil
}

func (s *Server) signParts(w http.ResponseWriter, r *http.Request, c *call) error {
	u, err := s.multipartUpload(r, c)
	if err != nil {
		return err
	}
	var req struct {
		PartNumbers []int `json:"part_numbers"`
	}
	if err := decode(r, &req, false); err != nil {
		return err
	}
	if len(req.PartNumbers) == 0 || len(req.PartNumbers) > MaxPartsPerBatch {
		return apiErrorf("invalid_parts", "part_numbers must list 1 to %d parts", MaxPartsPerBatch)
	}
	seen := map[int]bool{}
	for _, n := range req.PartNumbers {
		if n < 1 || n > u.PartCount || seen[n] {
			return apiErrorf("invalid_parts", "part numbers must be distinct and between 1 and %d", u.PartCount)
		}
		seen[n] = true
	}
	parts, err := s.sign(r, c, u, req.PartNumbers)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"parts": parts})
	return nil
}

type partJSON struct {
	PartNumber int    `json:"part_number"`
	Size       int64  `json:"size"`
	ETag       string `json:"etag,omitempty"`
}

func (s *Server) listParts(w http.ResponseWriter, r *http.Request, c *call) error {
	u, err := s.multipartUpload(r, c)
	if err != nil {
		return err
	}
	listing, err := c.store.multipart.ListParts(r.Context(), providers.ListPartsRequest{Upload: providers.MultipartRef{Key: u.Key, UploadID: u.ProviderUploadID}})
	if err != nil {
		return err
	}
	out := make([]partJSON, len(listing.Parts))
	for i, p := range listing.Parts {
		out[i] = partJSON{PartNumber: p.Number, Size: p.Size, ETag: p.ETag}
	}
	writeJSON(w, http.StatusOK, map[string]any{"parts": out, "part_size": u.PartSize, "part_count": u.PartCount})
	return nil
}

func (s *Server) complete(w http.ResponseWriter, r *http.Request, c *call) error {
	u, err := s.openUpload(r, c)
	if err != nil {
		return err
	}
	var req struct {
		Parts []struct {
			PartNumber int    `json:"part_number"`
			ETag       string `json:"etag,omitempty"`
		} `json:"parts"`
	}
	if err := decode(r, &req, true); err != nil {
		return err
	}
	st := c.store
	var obj providers.Object
	if u.Multipart() {
		// The parts must be the whole plan, 1 to N in order; a client may
		// leave them out, or leave out ETags, which the provider knows.
		if len(req.Parts) > 0 && len(req.Parts) != u.PartCount {
			return apiErrorf("invalid_parts", "parts must list every part of the plan, 1 to %d, in ascending order", u.PartCount)
		}
		need := len(req.Parts) == 0
		for i, p := range req.Parts {
			if p.PartNumber != i+1 {
				return apiErrorf("invalid_parts", "parts must list every part of the plan, 1 to %d, in ascending order", u.PartCount)
			}
			need = need || p.ETag == ""
		}
		ref := providers.MultipartRef{Key: u.Key, UploadID: u.ProviderUploadID}
		var listed map[int]string
		if need {
			listing, err := st.multipart.ListParts(r.Context(), providers.ListPartsRequest{Upload: ref})
			if providers.CodeOf(err) == providers.NotFound {
				return s.uploadGone(w, r, c, u)
			}
			if err != nil {
				return err
			}
			listed = map[int]string{}
			for _, p := range listing.Parts {
				listed[p.Number] = p.ETag
			}
		}
		parts := make([]providers.CompletedPart, u.PartCount)
		for n := 1; n <= u.PartCount; n++ {
			etag := ""
			if len(req.Parts) > 0 {
				etag = req.Parts[n-1].ETag
			}
			if etag == "" {
				var ok bool
				if etag, ok = listed[n]; !ok {
					// A retried complete whose first answer was lost finds
					// the parts gone and the object in place.
					return s.finished(w, r, c, u, apiErrorf("parts_missing", "part %d has not been uploaded", n))
				}
			}
			parts[n-1] = providers.CompletedPart{Number: n, ETag: etag}
		}
		var sum *providers.Checksum
		if u.ChecksumSHA256 != "" {
			sum = &providers.Checksum{Algorithm: providers.SHA256, Value: u.ChecksumSHA256}
		}
		obj, err = st.multipart.CompleteMultipart(r.Context(), providers.CompleteMultipartRequest{Key: u.Key, UploadID: u.ProviderUploadID, Parts: parts, Checksum: sum})
		if err != nil {
			switch providers.CodeOf(err) {
			case providers.FailedPrecondition, providers.InvalidArgument:
				return apiError("parts_invalid", "the parts are missing or do not match what was uploaded")
			case providers.NotFound:
				return s.uploadGone(w, r, c, u)
			}
			return err
		}
	} else {
		obj, err = st.provider.Head(r.Context(), providers.HeadRequest{Key: u.Key})
		if providers.CodeOf(err) == providers.NotFound {
			return apiError("object_missing", "nothing was uploaded for this upload id")
		}
		if err != nil {
			return err
		}
	}
	return s.settle(w, r, c, u, obj, u.Multipart())
}

// uploadGone answers a complete for a multipart upload the provider no
// longer knows. A retried complete whose first answer was lost finds its
// object in place: when it stands as u declared it and was written since u
// was created, it is answered again. Keys the gateway picks are unique, and
// the time check keeps an older object under a client-chosen key from
// passing. Otherwise the upload is missing.
func (s *Server) uploadGone(w http.ResponseWriter, r *http.Request, c *call, u uploadid.Upload) error {
	return s.finished(w, r, c, u, apiError("upload_missing", "the provider no longer knows this upload"))
}

// finished answers with u's object when an earlier complete of u already
// made it (see uploadGone), and with missing otherwise.
func (s *Server) finished(w http.ResponseWriter, r *http.Request, c *call, u uploadid.Upload, missing *problem.Problem) error {
	o, err := c.store.provider.Head(r.Context(), providers.HeadRequest{Key: u.Key})
	if err != nil {
		return missing
	}
	created := u.ExpiresAt.Add(-c.store.cfg.Limits.UploadTTL)
	if o.LastModified.Before(created.Add(-time.Minute)) {
		return missing
	}
	return s.settle(w, r, c, u, o, false)
}

// settle answers a complete with the stored object o, or with how it
// differs from what u declared. On a mismatch the object is deleted (as
// delete_on_mismatch says) only when it is this upload's: ours (assembled
// by this complete), or under a key no other upload writes. Under a shared
// key (Guarded) an object that is still the one found at creation is
// never deleted, and any other only when the caller may delete the key, so
// an upload never deletes what its caller could not.
func (s *Server) settle(w http.ResponseWriter, r *http.Request, c *call, u uploadid.Upload, o providers.Object, ours bool) error {
	if o.Key == "" {
		o.Key = u.Key
	}
	p := mismatch(u, o, u.Multipart())
	if p == nil {
		writeJSON(w, http.StatusOK, toObject(o))
		return nil
	}
	st, caps := c.store, c.store.info.Capabilities
	// Parts bind neither the whole size nor the digest, so a multipart
	// mismatch can come from the upload itself.
	if !st.cfg.ShouldDeleteOnMismatch(caps.BindsContentLength && caps.BindsContentType && !u.Multipart()) {
		return p
	}
	if !ours && u.Guarded {
		if fingerprint(o) == u.Prior {
			p.Detail += "; the object there was not written by this upload and was left in place"
			return p
		}
		if c.allow(r, policy.Delete, policy.Input{Key: u.Key, Prefix: keys.Dir(u.Key)}) != nil {
			p.Detail += "; the object was left in place: other uploads may write this key, and the store's delete rule does not allow this caller to delete it"
			return p
		}
	}
	if _, err := st.provider.Delete(r.Context(), providers.DeleteRequest{Key: u.Key}); err != nil {
	} else {
		p.Detail += "; the object was deleted"
	}
	return p
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

func (s *Server) abort(w http.ResponseWriter, r *http.Request, c *call) error {
	u, err := s.openOwnUpload(r, c)
	if err != nil {
		return err
	}
	if u.Multipart() {
		if err := s.abortMultipart(r.Context(), c, providers.MultipartRef{Key: u.Key, UploadID: u.ProviderUploadID}); err != nil {
			return err
		}
	}
	// A single PUT has nothing to abort: its URL simply expires.
	w.WriteHeader(http.StatusNoContent)
	return nil
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
func (s *Server) abortMultipart(ctx context.Context, c *call, ref providers.MultipartRef) error {
	p := c.store.multipart
	if _, err := p.AbortMultipart(ctx, providers.AbortMultipartRequest{Upload: ref}); err != nil {
		return err
	}
	for _, d := range s.abortChecks {
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
