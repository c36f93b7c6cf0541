package local

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/valetgw/valet/providers"
)

// Form uploads (POST policies), the local store's answer to S3's: the form
// goes to {public_url}/post with the fields "key", "Content-Type" and
// "policy", then the file in "file". The policy is the base64url of a
// signed query, like a PUT URL's, of method POST over the key:
//
//	ct=image%2Fpng&min=1&max=1048576&meta-owner=42&v=1&exp=...&sig=...
//
// so changing any byte of it, or posting to another key, breaks the HMAC.
// The server checks it and the fields before it reads the file, streams
// the file to a temp file with at most max+1 bytes read, and commits it
// atomically as a PUT does.
const (
	postPath = "/post"
	pMin     = "min"
	pMax     = "max"
	// maxFormFields and maxFieldBytes bound the fields before the file;
	// maxPreFileBytes bounds all the bytes before it (a preamble, part
	// headers), and formSlack what the multipart reader reads ahead of the
	// file's bytes and its closing boundary.
	maxFormFields   = 64
	maxFieldBytes   = 16 << 10
	formSlack       = 64 << 10
	maxPreFileBytes = maxFormFields*maxFieldBytes + formSlack
)

// signedFields are the form fields the server reads; each may appear once,
// so no two readers of the form (a proxy, this server) can see different
// values.
var signedFields = map[string]bool{"key": true, "Content-Type": true, "policy": true}

// SignPostPolicy implements providers.PostPolicySigner.
func (p *Provider) SignPostPolicy(_ context.Context, req providers.PostPolicyRequest) (providers.PostPolicy, error) {
	in, err := p.instance()
	if err != nil {
		return providers.PostPolicy{}, err
	}
	if _, err := keyPath(req.Key); err != nil {
		return providers.PostPolicy{}, err
	}
	switch {
	case strings.Contains(req.Key, "${"):
		// S3 fills ${filename} in a form's key from the file's name; no
		// store of Valet's takes a key the client can still change.
		return providers.PostPolicy{}, providers.Errorf(providers.InvalidArgument, "key %q: a POST policy's key may not hold \"${\"", req.Key)
	case req.MaxSize <= 0 || req.MinSize < 0 || req.MinSize > req.MaxSize:
		return providers.PostPolicy{}, providers.Errorf(providers.InvalidArgument, "size range %d..%d: want 0 <= min <= max and max > 0", req.MinSize, req.MaxSize)
	case req.MaxSize > maxPartSize:
		return providers.PostPolicy{}, providers.Errorf(providers.InvalidArgument, "max size %d is more than the %d a single upload takes", req.MaxSize, int64(maxPartSize))
	case req.ContentType == "":
		return providers.PostPolicy{}, providers.Errorf(providers.InvalidArgument, "a POST policy binds a content type; none was given")
	}
	if err := checkType("content type", req.ContentType); err != nil {
		return providers.PostPolicy{}, err
	}
	if err := checkMeta(req.Metadata); err != nil {
		return providers.PostPolicy{}, err
	}
	ttl := req.TTL
	if req.ExpiresAt.IsZero() {
		if err := in.checkTTL(ttl); err != nil {
			return providers.PostPolicy{}, err
		}
	} else if ttl = req.ExpiresAt.Sub(in.sign.now()); ttl > in.set.maxExpiry {
		// An explicit expiry may be past; the server then refuses the form.
		return providers.PostPolicy{}, providers.Errorf(providers.InvalidArgument, "expiry %s is more than max_expiry %s away", req.ExpiresAt.Format(time.RFC3339), in.set.maxExpiry)
	}
	q := url.Values{pType: {req.ContentType}, pMin: {strconv.FormatInt(req.MinSize, 10)}, pMax: {strconv.FormatInt(req.MaxSize, 10)}}
	for k, v := range req.Metadata {
		q.Set(pMetaPrefix+k, v)
	}
	policy, exp := in.sign.sign(http.MethodPost, req.Key, ttl, q)
	return providers.PostPolicy{
		URL: in.base.String() + postPath,
		Fields: map[string]string{
			"key":          req.Key,
			"Content-Type": req.ContentType,
			"policy":       base64.RawURLEncoding.EncodeToString([]byte(policy)),
		},
		ExpiresAt: exp,
	}, nil
}

// post answers a form upload made with a SignPostPolicy policy: 204 with
// the stored object's ETag, or the refusal; nothing is stored unless every
// check passed and the whole file arrived. Until the file starts at most
// maxPreFileBytes of the body are read, whatever its Content-Length (or
// none, chunked); the file is then read to the policy's max.
func (sv *server) post(w http.ResponseWriter, r *http.Request) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		writeError(w, http.StatusBadRequest, "MalformedPOSTRequest", "a form upload is multipart/form-data")
		return
	}
	body := &budgetReader{r: sv.body(w, r), left: maxPreFileBytes}
	mr := multipart.NewReader(body, params["boundary"])
	fields := map[string]string{}
	for parts := 0; ; parts++ {
		part, err := mr.NextPart()
		if errors.Is(err, errOverBudget) {
			writePreFileTooLarge(w)
			return
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, "MalformedPOSTRequest", "the form ended before its file field")
			return
		}
		name := part.FormName()
		if name == "file" {
			sv.postFile(w, r, fields, part, body)
			return
		}
		if parts == maxFormFields {
			writeError(w, http.StatusBadRequest, "MalformedPOSTRequest", "too many form fields")
			return
		}
		if _, seen := fields[name]; seen && signedFields[name] {
			writeError(w, http.StatusBadRequest, "MalformedPOSTRequest", "form field "+strconv.Quote(name)+" appears more than once")
			return
		}
		b, err := io.ReadAll(io.LimitReader(part, maxFieldBytes+1))
		if errors.Is(err, errOverBudget) {
			writePreFileTooLarge(w)
			return
		}
		if err != nil || len(b) > maxFieldBytes {
			writeError(w, http.StatusBadRequest, "MalformedPOSTRequest", "form field "+strconv.Quote(name)+" is too long or unreadable")
			return
		}
		fields[name] = string(b)
	}
}

// writePreFileTooLarge is S3's answer to fields too large before the file.
func writePreFileTooLarge(w http.ResponseWriter) {
	writeError(w, http.StatusBadRequest, "MaxPostPreDataLengthExceededError", "the form's fields before its file are over "+strconv.Itoa(maxPreFileBytes)+" bytes")
}

// errOverBudget is a budgetReader's error once its budget is spent.
var errOverBudget = errors.New("form body over its budget")

// budgetReader reads r while left lasts, then fails with errOverBudget
// (a body that ends exactly at the budget ends with r's own EOF).
type budgetReader struct {
	r    io.Reader
	left int64
}

func (b *budgetReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if b.left <= 0 {
		var one [1]byte
		if n, err := b.r.Read(one[:]); n == 0 {
			return 0, err
		}
		return 0, errOverBudget
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

func (sv *server) postFile(w http.ResponseWriter, r *http.Request, fields map[string]string, file io.Reader, body *budgetReader) {
	key := fields["key"]
	if _, err := keyPath(key); err != nil {
		writeError(w, http.StatusBadRequest, "InvalidArgument", "the form's key is not a valid key")
		return
	}
	raw, err := base64.RawURLEncoding.DecodeString(fields["policy"])
	if err != nil || fields["policy"] == "" {
		writeError(w, http.StatusForbidden, "MissingPolicy", "the form has no valid policy field")
		return
	}
	q, err := url.ParseQuery(string(raw))
	if err != nil {
		writeError(w, http.StatusForbidden, "SignatureDoesNotMatch", "the policy is malformed")
		return
	}
	// The signature covers the key: a policy posted with another key fails.
	if ve := sv.sign.verify(http.MethodPost, key, q); ve != nil {
		writeError(w, ve.status, ve.code, ve.message)
		return
	}
	if got, want := fields["Content-Type"], q.Get(pType); got != want {
		writeError(w, http.StatusForbidden, "AccessDenied", "policy condition failed: Content-Type "+strconv.Quote(got)+" is not the signed "+strconv.Quote(want))
		return
	}
	minSize, err1 := strconv.ParseInt(q.Get(pMin), 10, 64)
	maxSize, err2 := strconv.ParseInt(q.Get(pMax), 10, 64)
	if err1 != nil || err2 != nil || minSize < 0 || maxSize < minSize || maxSize > maxPartSize {
		writeError(w, http.StatusForbidden, "SignatureDoesNotMatch", "bad signed size range")
		return
	}
	// A body far over the range is refused before any of it is read.
	if r.ContentLength > maxSize+maxPreFileBytes {
		writeError(w, http.StatusBadRequest, "EntityTooLarge", "the form is larger than the policy allows")
		return
	}
	// The file's own bytes, and what the multipart reader reads past them.
	body.left += maxSize + formSlack
	tmp, n, err := sv.receiveFrom(file, -1, maxSize, nil)
	if err != nil {
		if errors.Is(err, errTooLong) {
			writeError(w, http.StatusBadRequest, "EntityTooLarge", "the file is larger than the policy's "+strconv.FormatInt(maxSize, 10)+" bytes; nothing was stored")
			return
		}
		receiveError(w, err)
		return
	}
	if n < minSize {
		removeTemp(tmp)
		writeError(w, http.StatusBadRequest, "EntityTooSmall", "the file is smaller than the policy's "+strconv.FormatInt(minSize, 10)+" bytes; nothing was stored")
		return
	}
	stored, err := sv.st.commit(key, tmp, sidecar{Size: n, Type: q.Get(pType), Meta: metaFromQuery(q)}, false)
	if err != nil {
		writeProviderError(w, err)
		return
	}
	w.Header().Set("ETag", stored.etag())
	w.WriteHeader(http.StatusNoContent)
}

var _ providers.PostPolicySigner = (*Provider)(nil)
