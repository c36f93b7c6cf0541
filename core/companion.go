package core

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/valetgw/valet/config"
	"github.com/valetgw/valet/core/auth"
	"github.com/valetgw/valet/core/keys"
	"github.com/valetgw/valet/core/policy"
	"github.com/valetgw/valet/core/problem"
	"github.com/valetgw/valet/core/uploadid"
	"github.com/valetgw/valet/providers"
)

// The Companion-compatible routes let a page built on @uppy/aws-s3 with
// companionEndpoint: "{public_url}/companion/{store}" upload through Valet
// unchanged. @uppy/aws-s3 6 sends plain fetches there: no custom header and
// the default credentials mode, so the caller's JWT comes in a cookie (the
// endpoint must then be the page's own origin), or in Authorization from a
// client that can send one. Uppy declares no size, so a single upload is a
// POST policy bounded by the store's max_size and a multipart upload is
// sized at complete (see UnsizedUpload).

// CompanionPath prefixes the routes: CompanionPath/{store}/s3/....
const CompanionPath = "/companion"

// maxFormSize bounds a form upload on every store: S3 takes at most 5 GiB
// in one POST.
const maxFormSize = 5 << 30

func (s *Server) companionRoutes(mux *http.ServeMux) {
	route := func(pattern, op string, h companionFunc) {
		mux.Handle(pattern, s.companion(op, h))
	}
	p := "/companion/{store}/s3"
	route("GET "+p+"/params", "companion.params", s.companionParams)
	route("POST "+p+"/multipart", "companion.create", s.companionCreate)
	route("GET "+p+"/multipart/{upload_id}", "companion.list_parts", s.companionListParts)
	route("GET "+p+"/multipart/{upload_id}/{part}", "companion.sign_part", s.companionSignPart)
	route("POST "+p+"/multipart/{upload_id}/complete", "companion.complete", s.companionComplete)
	route("DELETE "+p+"/multipart/{upload_id}", "companion.abort", s.companionAbort)
	route("GET "+p+"/sts", "companion.sts", func(http.ResponseWriter, *http.Request, *call) (any, error) {
		return nil, apiError("unsupported", "Valet hands out no storage credentials (getCredentials mode); use companionEndpoint, or Valet's uploader for Uppy (/uppy.js)")
	})
	mux.Handle("OPTIONS "+CompanionPath+"/", s.plain("cors.preflight", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
}

// companionFunc handles one Companion route; its answer is sent as JSON
// with status 200, as Companion does.
type companionFunc func(w http.ResponseWriter, r *http.Request, c *call) (any, error)

// companion wraps a Companion route as api wraps the REST routes, but
// checks the Origin first, reads the JWT from the cookie too, and answers
// errors as Companion's {"message"} (with Valet's code beside it).
func (s *Server) companion(op string, h companionFunc) http.Handler {
	return s.instrument(op, func(w http.ResponseWriter, r *http.Request, rec *record) {
		st := s.state.Load()
		c := &call{st: st, rec: rec}
		out, err := func() (any, error) {
			limit := int64(MaxBodyBytes)
			if op == "companion.complete" {
				limit = MaxCompleteBodyBytes // up to 10000 parts (Companion allows 1 MB)
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
			cred, fromCookie := companionCredential(r, st.cfg.Server.Companion.Cookie)
			if err := checkOrigin(st.cfg, r, fromCookie); err != nil {
				return nil, err
			}
			who, err := st.auth.Authenticate(r.Context(), cred)
			if err != nil {
				err = authProblem(w, err)
				if p := (*problem.Problem)(nil); errors.As(err, &p) && p.Code == "unauthenticated" {
					p.Detail = "credentials required: send the session cookie (server.companion.cookie) or Authorization: Bearer <token>"
				}
				return nil, err
			}
			c.who, rec.subject = who, who.Subject
			name := r.PathValue("store")
			rec.store = name
			if c.store, err = st.store(name); err != nil {
				return nil, err
			}
			limitT := time.Duration(st.cfg.Server.ProviderTimeout)
			if op == "companion.complete" {
				limitT = time.Duration(st.cfg.Server.CompleteTimeout)
			}
			ctx, cancel := context.WithTimeout(context.WithValue(r.Context(), recordKey{}, rec), limitT)
			defer cancel()
			return h(w, r.WithContext(ctx), c)
		}()
		if err != nil {
			writeCompanionError(w, c, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// writeCompanionError sends err as Companion does, {"message": ...}, with
// the catalog's status and code; like writeError, only problems and
// provider codes reach the client.
func writeCompanionError(w http.ResponseWriter, c *call, err error) {
	var f *failure
	var p *problem.Problem
	var mb *http.MaxBytesError
	switch {
	case errors.As(err, &f):
		p, c.rec.err = f.problem, f.cause
	case errors.As(err, &p):
	case errors.As(err, &mb):
		p = bodyTooLarge(mb.Limit)
	default:
		p = providerProblem(err)
		c.rec.err = err
	}
	c.rec.code = p.Code
	if p.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((p.RetryAfter+time.Second-1)/time.Second)))
	}
	msg := p.Detail
	if msg == "" {
		msg = p.Title
	}
	writeJSON(w, p.Status, map[string]string{"message": msg, "code": p.Code})
}

// companionCredential is the request's credential: Authorization (or
// X-API-Key) when sent, else the value of the configured cookie, which must
// be a JWT (an API key is a server's secret, never a browser's).
func companionCredential(r *http.Request, cookie string) (cred string, fromCookie bool) {
	if cred := auth.Credential(r); cred != "" || cookie == "" {
		return cred, false
	}
	ck, err := r.Cookie(cookie)
	if err != nil || ck.Value == "" {
		return "", false
	}
	if strings.HasPrefix(ck.Value, auth.APIKeyPrefix) {
		return "\x00invalid", true
	}
	return ck.Value, true
}

// checkOrigin refuses a request a browser sent from another site. Every
// route is checked, the GETs too: they sign, and they deliver the store's
// upload.create hook, so a cross-site <img> must not trigger them even if
// it cannot read the answer. A browser sends Origin on every cross-origin
// fetch and on every POST and DELETE; without one, Sec-Fetch-Site tells a
// same-origin fetch from a cross-site one. A request that carries the
// cookie must show one or the other: an older browser sends neither on a
// no-cors GET (old Safari on a cross-site <img>), so neither is not proof
// of a same-origin page. A request with neither and a credential of its
// own (Authorization) is not a ridden cookie. The origin must be in
// server.cors_origins or be public_url's; "*" counts only for a
// credential the page itself sent (Authorization), never for a cookie the
// browser adds.
func checkOrigin(cfg *config.Config, r *http.Request, fromCookie bool) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		switch site := r.Header.Get("Sec-Fetch-Site"); {
		case site == "same-origin":
			return nil
		case fromCookie:
			return apiError("origin_forbidden", "a request with the session cookie must come from an allowed Origin or be same-origin (Sec-Fetch-Site); this one shows neither")
		case site == "" || site == "none":
			return nil
		}
		return apiError("origin_forbidden", "a cross-site request without Origin is refused on the Companion routes")
	}
	if u, err := url.Parse(cfg.Server.PublicURL); err == nil && u.Host != "" && strings.EqualFold(u.Scheme+"://"+u.Host, origin) {
		return nil
	}
	for _, o := range cfg.Server.CORSOrigins {
		if (o == "*" && !fromCookie) || strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return nil
		}
	}
	return apiError("origin_forbidden", "the request's Origin is not in server.cors_origins")
}

// companionMetadata turns Uppy's metadata (a file's meta fields: name,
// type, relativePath, ...) into Valet's: names lower-cased, as S3 stores
// them, and a value that is not ASCII encoded as RFC 2047 (=?UTF-8?B?...?=),
// as Companion does. JSON values other than strings are written as
// JavaScript's String() writes them.
func companionMetadata(in map[string]any) (map[string]string, error) {
	if len(in) == 0 {
		return nil, nil
	}
	md := make(map[string]string, len(in))
	for k, v := range in {
		var s string
		switch v := v.(type) {
		case string:
			s = v
		case nil:
			s = "null"
		case bool, float64, json.Number:
			b, _ := json.Marshal(v)
			s = string(b)
		default:
			return nil, apiErrorf("invalid_metadata", "metadata %q is not a string", k)
		}
		if strings.ContainsFunc(s, func(r rune) bool { return r > 0x7e }) {
			s = mime.BEncoding.Encode("UTF-8", s)
		}
		md[strings.ToLower(k)] = s
	}
	return md, checkMetadata(md)
}

// queryMetadata reads Uppy's metadata[NAME]=VALUE query parameters.
func queryMetadata(q url.Values) (map[string]string, error) {
	in := map[string]any{}
	for k, vs := range q {
		if name, ok := strings.CutPrefix(k, "metadata["); ok && strings.HasSuffix(name, "]") && len(vs) > 0 {
			in[strings.TrimSuffix(name, "]")] = vs[len(vs)-1]
		}
	}
	return companionMetadata(in)
}

// expiresIn is Companion's "expires": seconds until t.
func expiresIn(now, t time.Time) int64 {
	return max(0, int64(t.Sub(now)/time.Second))
}

func (s *Server) companionParams(w http.ResponseWriter, r *http.Request, c *call) (any, error) {
	q := r.URL.Query()
	md, err := queryMetadata(q)
	if err != nil {
		return nil, err
	}
	fu, err := c.store.SignFormUpload(r.Context(), c.who, UnsizedSpec{Filename: q.Get("filename"), ContentType: q.Get("type"), Metadata: md})
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"method": http.MethodPost, "url": fu.Policy.URL, "fields": fu.Policy.Fields, "headers": map[string]string{},
		"expires": expiresIn(s.now(), fu.Policy.ExpiresAt),
	}, nil
}

func (s *Server) companionCreate(w http.ResponseWriter, r *http.Request, c *call) (any, error) {
	var req struct {
		Filename string         `json:"filename"`
		Type     string         `json:"type"`
		Metadata map[string]any `json:"metadata"`
	}
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	// Uppy's metadata holds whatever fields a file has, so the body is not
	// decoded strictly: unknown members are Uppy's, not mistakes.
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, apiError("invalid_request", "the body is not a JSON object of filename, type and metadata")
	}
	md, err := companionMetadata(req.Metadata)
	if err != nil {
		return nil, err
	}
	plan, err := c.store.CreateUnsizedMultipart(r.Context(), c.who, UnsizedSpec{Filename: req.Filename, ContentType: req.Type, Metadata: md})
	if err != nil {
		return nil, err
	}
	return map[string]string{"uploadId": plan.UploadID, "key": plan.Key}, nil
}

// readBody reads the request body, bounded by companion's MaxBytesReader.
func readBody(r *http.Request) ([]byte, error) { return io.ReadAll(r.Body) }

func (s *Server) companionSignPart(w http.ResponseWriter, r *http.Request, c *call) (any, error) {
	n, err := strconv.Atoi(r.PathValue("part"))
	if err != nil || n < 1 {
		return nil, apiError("invalid_parts", "the part number must be a number between 1 and 10000")
	}
	rc, err := c.store.SignCompanionPart(r.Context(), c.who, r.PathValue("upload_id"), r.URL.Query().Get("key"), n)
	if err != nil {
		return nil, err
	}
	return map[string]any{"url": rc.URL, "expires": expiresIn(s.now(), rc.ExpiresAt), "headers": nonNil(rc.Headers)}, nil
}

// companionPart is a part as S3's ListParts lists it, which is Companion's
// answer.
type companionPart struct {
	PartNumber int    `json:"PartNumber"`
	Size       int64  `json:"Size"`
	ETag       string `json:"ETag"`
}

func (s *Server) companionListParts(w http.ResponseWriter, r *http.Request, c *call) (any, error) {
	parts, err := c.store.CompanionParts(r.Context(), c.who, r.PathValue("upload_id"), r.URL.Query().Get("key"))
	if err != nil {
		return nil, err
	}
	out := make([]companionPart, len(parts))
	for i, p := range parts {
		out[i] = companionPart{PartNumber: p.Number, Size: p.Size, ETag: p.ETag}
	}
	return out, nil
}

func (s *Server) companionComplete(w http.ResponseWriter, r *http.Request, c *call) (any, error) {
	var req struct {
		Parts []struct {
			PartNumber *int    `json:"PartNumber"`
			ETag       *string `json:"ETag"`
		} `json:"parts"`
	}
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Parts == nil {
		return nil, apiError("invalid_request", "parts must be an array of {ETag, PartNumber} objects")
	}
	parts := make([]providers.CompletedPart, len(req.Parts))
	for i, p := range req.Parts {
		if p.PartNumber == nil || p.ETag == nil {
			return nil, apiError("invalid_request", "parts must be an array of {ETag, PartNumber} objects")
		}
		parts[i] = providers.CompletedPart{Number: *p.PartNumber, ETag: *p.ETag}
	}
	store := c.store
	done, err := store.CompleteCompanion(r.Context(), c.who, r.PathValue("upload_id"), r.URL.Query().Get("key"), parts)
	if err != nil {
		return nil, err
	}
	// Uppy shows location as the file's uploadURL: a signed GET where the
	// caller may read the object, else the object's API path.
	location := publicBase(c.st, r) + "/v1/stores/" + url.PathEscape(store.Name()) + "/objects/" + escapeKeyPath(done.Key)
	if link, err := store.Object(r.Context(), c.who, GetSpec{Key: done.Key, SkipHead: true}); err == nil {
		location = link.Get.URL
	}
	out := map[string]any{"location": location, "key": done.Key}
	if done.Hook != nil {
		out["hook"] = done.Hook
	}
	return out, nil
}

// escapeKeyPath escapes each of a key's segments for a URL path, keeping
// its slashes.
func escapeKeyPath(key string) string {
	segs := strings.Split(key, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return strings.Join(segs, "/")
}

func (s *Server) companionAbort(w http.ResponseWriter, r *http.Request, c *call) (any, error) {
	if err := c.store.AbortCompanion(r.Context(), c.who, r.PathValue("upload_id"), r.URL.Query().Get("key")); err != nil {
		return nil, err
	}
	return map[string]any{}, nil
}

// UnsizedSpec is an upload whose client declares no size, as Uppy's
// Companion client does: the store's max_size bounds it instead.
type UnsizedSpec struct {
	// Filename fills the key template's {filename} and {ext}; required.
	Filename string
	// ContentType is a media type ("" = application/octet-stream).
	ContentType string
	Metadata    map[string]string
}

// FormUpload is a signed form upload (a POST policy) and its key.
type FormUpload struct {
	Key    string
	Policy providers.PostPolicy
}

// unsizedMax is the most an unsized upload may hold: the store's max_size,
// or the gateway's limit without one.
func (st *Store) unsizedMax(limit int64) int64 {
	if m := int64(st.cfg.Limits.MaxSize); m > 0 && m < limit {
		return m
	}
	return limit
}

// prepareUnsized checks an unsized upload as CreateUpload checks a sized
// one (type, metadata, the key from the store's template, the upload rule
// with size at its bound, unsizedMax(limit)), then tells the store's
// upload.create hook. It returns the upload record (Size -1), the metadata
// with what the hook added, and the bound.
func (st *Store) prepareUnsized(ctx context.Context, who auth.Principal, spec UnsizedSpec, limit int64) (tok uploadid.Upload, md map[string]string, bound int64, err error) {
	bound = st.unsizedMax(limit)
	if tok, err = st.checkUnsized(ctx, who, spec, bound); err != nil {
		return tok, nil, bound, err
	}
	md, err = st.hookCreate(ctx, who, tok, spec.Metadata)
	return tok, md, bound, err
}

// checkUnsized is prepareUnsized's checks, before the hook.
func (st *Store) checkUnsized(ctx context.Context, who auth.Principal, spec UnsizedSpec, bound int64) (uploadid.Upload, error) {
	if spec.Filename == "" {
		return uploadid.Upload{}, apiError("invalid_request", `the "filename" is required and must be a non-empty string`)
	}
	ct := spec.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || !strings.Contains(mt, "/") {
		return uploadid.Upload{}, apiError("invalid_content_type", "type is not a valid media type")
	}
	if !typeAllowed(mt, st.cfg.Limits.ContentTypes) {
		return uploadid.Upload{}, apiErrorf("content_type_not_allowed", "content type %s is not allowed in this store", mt)
	}
	if err := checkMetadata(spec.Metadata); err != nil {
		return uploadid.Upload{}, err
	}
	key, err := st.tmpl.Render(keys.Values{Subject: who.Subject, UUID: uuid.NewString(), Filename: spec.Filename, Now: st.now()})
	if err != nil {
		return uploadid.Upload{}, apiError("invalid_key", "the key template gives an invalid key for this subject or filename")
	}
	noteKey(ctx, key)
	// The rule sees the largest size the upload may reach.
	if err := st.allow(ctx, who, policy.Upload, policy.Input{Key: key, Prefix: keys.Dir(key), Size: bound, ContentType: mt}); err != nil {
		return uploadid.Upload{}, err
	}
	return uploadid.Upload{Store: st.name, Key: key, Subject: who.Subject, Size: -1, ContentType: ct, Guarded: !st.tmpl.Unique()}, nil
}

// SignFormUpload signs a single upload of unknown size as a form POST
// whose policy binds the key, the exact content type and a
// content-length-range of 0 to the store's max_size (5 GiB at most), which
// the backend enforces. The store's upload.create hook is told first
// (without a size). Nothing completes a form upload: Uppy never asks, so
// no upload.complete hook runs and no upload id is made.
func (st *Store) SignFormUpload(ctx context.Context, who auth.Principal, spec UnsizedSpec) (fu FormUpload, err error) {
	defer catalog(&err)
	if st.postPolicy == nil || !st.info.Capabilities.PostPolicy {
		return fu, apiErrorf("form_upload_unsupported", "this store's backend (%s) takes no form uploads (POST policies): upload with Valet's uploader for Uppy (/uppy.js), or use multipart for every file (shouldUseMultipart: true)", st.cfg.Provider)
	}
	if !st.tmpl.Unique() {
		// A form POST replaces what is there; only {uuid} keeps uploads apart.
		return fu, apiError("form_upload_unsupported", "a form upload cannot be create-only, and this store's key_template has no {uuid}: another upload could replace the object; add {uuid} to the template, or use multipart for every file (shouldUseMultipart: true)")
	}
	tok, md, bound, err := st.prepareUnsized(ctx, who, spec, maxFormSize)
	if err != nil {
		return fu, err
	}
	pp, err := st.postPolicy.SignPostPolicy(ctx, providers.PostPolicyRequest{
		Key: tok.Key, ContentType: tok.ContentType, MinSize: 0, MaxSize: bound, Metadata: md, TTL: st.ttl(0, st.cfg.Limits.PutTTL),
	})
	if err != nil {
		return fu, err
	}
	return FormUpload{Key: tok.Key, Policy: pp}, nil
}

// CreateUnsizedMultipart starts a multipart upload of unknown size: its
// parts are signed unbound (Uppy picks their sizes), up to the provider's
// part count, and CompleteCompanion checks the assembled object against
// max_size and the declared type. The upload id carries Size -1.
func (st *Store) CreateUnsizedMultipart(ctx context.Context, who auth.Principal, spec UnsizedSpec) (plan UploadPlan, err error) {
	defer catalog(&err)
	if st.multipart == nil || !st.info.Capabilities.Multipart {
		return plan, apiError("multipart_unsupported", "this store's provider has no multipart uploads")
	}
	tok, md, bound, err := st.prepareUnsized(ctx, who, spec, MaxObjectSize)
	if err != nil {
		return plan, err
	}
	lim := st.cfg.Limits
	mu, err := st.multipart.CreateMultipart(ctx, providers.CreateMultipartRequest{
		Key: tok.Key, ContentType: tok.ContentType, Metadata: md, TTL: lim.UploadTTL,
	})
	if err != nil {
		return plan, err
	}
	count := unsizedParts(bound, st.info.Capabilities)
	tok.ProviderUploadID, tok.PartCount = mu.UploadID, count
	tok.ExpiresAt = st.now().Add(lim.UploadTTL).Truncate(time.Millisecond)
	id, err := st.sealer.Seal(tok)
	if err != nil {
		_, _ = st.multipart.AbortMultipart(ctx, providers.AbortMultipartRequest{Upload: providers.MultipartRef{Key: tok.Key, UploadID: mu.UploadID}})
		return plan, err
	}
	return UploadPlan{UploadID: id, Key: tok.Key, PartCount: count, ExpiresAt: tok.ExpiresAt}, nil
}

// unsizedParts is how many parts an unsized upload of at most bound bytes
// may have: every part but the last holds at least the provider's
// MinPartSize, so more would only let unbound parts pile up in storage
// beyond max_size until complete. Never more than the provider takes.
func unsizedParts(bound int64, c providers.Capabilities) int {
	n := int64(c.MaxParts)
	if n <= 0 {
		n = defaultMaxParts
	}
	if c.MinPartSize > 0 {
		n = min(n, ceilDiv(bound, c.MinPartSize)+1)
	}
	return int(n)
}

// openCompanion opens a multipart upload for a Companion route: the id
// must be the caller's, key (Uppy sends it beside the id) must be the key
// sealed in it, and the upload rule must still allow it, with an unsized
// upload's size at its bound.
func (st *Store) openCompanion(ctx context.Context, who auth.Principal, id, key string) (uploadid.Upload, error) {
	u, err := st.openOwn(ctx, who, id)
	if err != nil {
		return u, err
	}
	if key != u.Key {
		return u, apiError("key_mismatch", "the key query parameter is not this upload's key")
	}
	if !u.Multipart() {
		return u, apiError("not_multipart", "this upload is a single PUT; it has no parts")
	}
	size := u.Size
	if size < 0 {
		size = st.unsizedMax(MaxObjectSize)
	}
	mt, _, _ := mime.ParseMediaType(u.ContentType)
	if err := st.allow(ctx, who, policy.Upload, policy.Input{Key: u.Key, Prefix: keys.Dir(u.Key), Size: size, ContentType: mt}); err != nil {
		return u, err
	}
	return u, nil
}

// SignCompanionPart signs part n of a multipart upload: unbound for an
// unsized upload, bound to its planned size for one made by the REST API.
func (st *Store) SignCompanionPart(ctx context.Context, who auth.Principal, id, key string, n int) (rc providers.Recipe, err error) {
	defer catalog(&err)
	u, err := st.openCompanion(ctx, who, id, key)
	if err != nil {
		return rc, err
	}
	if n > u.PartCount {
		return rc, apiErrorf("invalid_parts", "the part number must be between 1 and %d", u.PartCount)
	}
	var parts []providers.PartRecipe
	if u.Size >= 0 {
		parts, err = st.signParts(ctx, u, []int{n})
	} else {
		var res providers.SignPartsResult
		res, err = st.multipart.SignParts(ctx, providers.SignPartsRequest{
			Key: u.Key, UploadID: u.ProviderUploadID, Parts: []providers.PartSpec{{Number: n}}, TTL: st.ttl(0, st.cfg.Limits.PutTTL),
		})
		parts = res.Parts
	}
	if err != nil {
		return rc, err
	}
	if len(parts) != 1 {
		return rc, errors.New("the provider signed no part")
	}
	return parts[0].Recipe, nil
}

// CompanionParts lists the parts a multipart upload holds so far.
func (st *Store) CompanionParts(ctx context.Context, who auth.Principal, id, key string) (parts []providers.Part, err error) {
	defer catalog(&err)
	u, err := st.openCompanion(ctx, who, id, key)
	if err != nil {
		return nil, err
	}
	listing, err := st.multipart.ListParts(ctx, providers.ListPartsRequest{Upload: providers.MultipartRef{Key: u.Key, UploadID: u.ProviderUploadID}})
	if err != nil {
		return nil, err
	}
	return listing.Parts, nil
}

// CompleteCompanion completes a multipart upload from the parts Uppy lists
// (1 to N in order, each with its ETag). An upload made by the REST API
// completes as Complete does. An unsized one is assembled, then checked:
// over the store's max_size it is deleted (too_large); otherwise it is
// verified as Complete verifies (the declared type, delete_on_mismatch)
// with its size as found, and the store's upload.complete hook is told.
func (st *Store) CompleteCompanion(ctx context.Context, who auth.Principal, id, key string, parts []providers.CompletedPart) (done Completed, err error) {
	defer catalog(&err)
	u, err := st.openCompanion(ctx, who, id, key)
	if err != nil {
		return done, err
	}
	if u.Size >= 0 {
		return st.Complete(ctx, who, id, parts)
	}
	if len(parts) == 0 || len(parts) > u.PartCount {
		return done, apiErrorf("invalid_parts", "parts must list 1 to %d parts", u.PartCount)
	}
	for i, p := range parts {
		if p.Number != i+1 {
			return done, apiError("invalid_parts", "parts must be numbered 1 to N in ascending order")
		}
	}
	bound := st.unsizedMax(MaxObjectSize)
	ref := providers.MultipartRef{Key: u.Key, UploadID: u.ProviderUploadID}
	// Uppy strips an ETag's quotes; the provider gets its own spelling back.
	listing, err := st.multipart.ListParts(ctx, providers.ListPartsRequest{Upload: ref})
	if err == nil {
		listed := make(map[int]string, len(listing.Parts))
		for _, p := range listing.Parts {
			listed[p.Number] = p.ETag
		}
		for i, p := range parts {
			if e, ok := listed[p.Number]; ok && strings.Trim(e, `"`) == strings.Trim(p.ETag, `"`) {
				parts[i].ETag = e
			}
		}
	}
	obj, err := st.multipart.CompleteMultipart(ctx, providers.CompleteMultipartRequest{Key: u.Key, UploadID: u.ProviderUploadID, Parts: parts})
	switch providers.CodeOf(err) {
	case "":
	case providers.FailedPrecondition, providers.InvalidArgument:
		return done, apiError("parts_invalid", "the parts are missing or do not match what was uploaded")
	case providers.NotFound:
		// A retried complete whose first answer was lost finds the upload
		// gone and the object in place. An unsized upload declared no size
		// to check it by, so only a key no other upload writes is taken
		// (finished refuses a Guarded one).
		missing := apiError("upload_missing", "the provider no longer knows this upload")
		if u.Guarded {
			return done, shared(missing)
		}
		o, herr := st.provider.Head(ctx, providers.HeadRequest{Key: ref.Key})
		if herr != nil || o.Size > bound {
			return done, missing
		}
		u.Size = o.Size
		if obj, err = st.finished(ctx, who, u, missing); err != nil {
			return done, err
		}
		return st.completed(ctx, who, id, u, obj, false)
	default:
		return done, err
	}
	if obj.Key == "" {
		obj.Key = u.Key
	}
	if obj.Size > bound {
		// This complete assembled it, so it is deleted whatever
		// delete_on_mismatch says: no object over max_size stays.
		p := apiErrorf("too_large", "the object has %d bytes, more than the store's limit of %d", obj.Size, bound)
		if _, derr := st.provider.Delete(context.WithoutCancel(ctx), providers.DeleteRequest{Key: u.Key}); derr != nil {
			p.Detail += "; deleting it failed"
			return done, &failure{problem: p, cause: derr}
		}
		p.Detail += "; the object was deleted"
		return done, p
	}
	u.Size = obj.Size
	if obj, err = st.settle(ctx, who, u, obj, true); err != nil {
		return done, err
	}
	return st.completed(ctx, who, id, u, obj, true)
}

// completed tells the store's hook of a verified object and answers with
// it; ours is whether this complete assembled it.
func (st *Store) completed(ctx context.Context, who auth.Principal, id string, u uploadid.Upload, obj providers.Object, ours bool) (Completed, error) {
	a, err := st.hookComplete(ctx, who, id, u, obj, ours)
	if err != nil {
		return Completed{}, err
	}
	return Completed{Object: obj, Hook: a.Body}, nil
}

// AbortCompanion aborts a multipart upload (key must be its key). Like
// Abort, it does not evaluate the upload rule.
func (st *Store) AbortCompanion(ctx context.Context, who auth.Principal, id, key string) (err error) {
	defer catalog(&err)
	u, err := st.openOwn(ctx, who, id)
	if err != nil {
		return err
	}
	if key != u.Key {
		return apiError("key_mismatch", "the key query parameter is not this upload's key")
	}
	if !u.Multipart() {
		return nil
	}
	return st.abortMultipart(ctx, providers.MultipartRef{Key: u.Key, UploadID: u.ProviderUploadID})
}
