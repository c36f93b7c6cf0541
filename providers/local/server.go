package local

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valetgw/valet/providers"
)

// server answers signed requests on the store's own listener. It is the
// only part of Valet that touches object bytes.
type server struct {
	st       *store
	sign     signer
	basePath string // public_url's path, stripped from requests
	origins  []string
	bodyIdle time.Duration // cut a body silent this long; 0 means never
}

// Headers a browser may send on a signed request, for CORS preflights.
var allowedRequestHeaders = []string{"content-type", "range", "if-none-match", "if-modified-since", "if-match", "if-range", "if-unmodified-since"}

const exposedHeaders = "ETag, Content-Length, Content-Range, Content-Type, Content-Disposition, Accept-Ranges, Last-Modified"

// apiError is the JSON error body every refusal carries.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	h := w.Header()
	for _, k := range []string{"Content-Disposition", "ETag", "Last-Modified", "Content-Encoding", "Content-Range"} {
		h.Del(k)
	}
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(apiError{Code: code, Message: msg})
}

// writeProviderError maps a provider error onto an HTTP error.
func writeProviderError(w http.ResponseWriter, err error) {
	var pe *providers.Error
	msg := "internal error"
	if errors.As(err, &pe) {
		msg = pe.Message
	}
	switch providers.CodeOf(err) {
	case providers.NotFound:
		writeError(w, http.StatusNotFound, "NoSuchKey", msg)
	case providers.InvalidArgument:
		writeError(w, http.StatusBadRequest, "InvalidArgument", msg)
	case providers.FailedPrecondition:
		writeError(w, http.StatusConflict, "InvalidState", msg)
	default:
		writeError(w, http.StatusInternalServerError, "InternalError", "the store could not complete the request")
	}
}

func (sv *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Stored bytes are anyone's: an SVG or HTML object opened from a signed
	// URL must not run script on this origin, nor be sniffed into something
	// that does. Every answer says so, objects and errors alike.
	h := w.Header()
	h.Set("Content-Security-Policy", "sandbox")
	h.Set("X-Content-Type-Options", "nosniff")
	if sv.bodyIdle > 0 && r.Body != nil && r.Body != http.NoBody {
		// Until receive reads the body (and keeps extending this), the
		// deadline bounds net/http's own read of a body refused unread:
		// it discards up to 256 KiB of it before answering.
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(sv.bodyIdle))
	}
	sv.cors(w, r)
	if r.Method == http.MethodOptions {
		sv.preflight(w, r)
		return
	}
	p := strings.TrimPrefix(r.URL.Path, sv.basePath)
	if p == postPath && r.Method == http.MethodPost {
		sv.post(w, r)
		return
	}
	key, ok := strings.CutPrefix(p, "/o/")
	if !ok {
		writeError(w, http.StatusNotFound, "NoSuchRoute", "signed URLs start with /o/")
		return
	}
	if _, err := keyPath(key); err != nil {
		writeProviderError(w, err)
		return
	}
	q := r.URL.Query()
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet // a GET URL may also HEAD the object
	}
	switch method {
	case http.MethodGet, http.MethodPut, http.MethodDelete:
	default:
		writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", r.Method+" is not supported")
		return
	}
	if ve := sv.sign.verify(method, key, q); ve != nil {
		writeError(w, ve.status, ve.code, ve.message)
		return
	}
	switch {
	case method == http.MethodGet:
		sv.get(w, r, key, q)
	case method == http.MethodDelete:
		if err := sv.st.remove(key); err != nil {
			writeProviderError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case q.Has(pUpload):
		sv.putPart(w, r, key, q)
	default:
		sv.put(w, r, key, q)
	}
}

func (sv *server) allowedOrigin(origin string) bool {
	return origin != "" && (slices.Contains(sv.origins, "*") || slices.Contains(sv.origins, origin))
}

func (sv *server) cors(w http.ResponseWriter, r *http.Request) {
	w.Header().Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	if !sv.allowedOrigin(origin) {
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Expose-Headers", exposedHeaders)
}

// preflight answers a CORS preflight for an allowed origin, method and
// headers, and refuses anything else.
func (sv *server) preflight(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	method := r.Header.Get("Access-Control-Request-Method")
	if !sv.allowedOrigin(origin) {
		writeError(w, http.StatusForbidden, "CORSOriginNotAllowed", "origin "+strconv.Quote(origin)+" is not allowed by this store")
		return
	}
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodPost:
	default:
		writeError(w, http.StatusForbidden, "CORSMethodNotAllowed", "method "+strconv.Quote(method)+" is not allowed")
		return
	}
	var asked []string
	for _, hv := range r.Header.Values("Access-Control-Request-Headers") {
		for _, name := range strings.Split(hv, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			if name == "" {
				continue
			}
			if !slices.Contains(allowedRequestHeaders, name) {
				writeError(w, http.StatusForbidden, "CORSHeaderNotAllowed", "header "+strconv.Quote(name)+" is not allowed")
				return
			}
			asked = append(asked, name)
		}
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", "GET, HEAD, PUT, DELETE, POST")
	if len(asked) > 0 {
		h.Set("Access-Control-Allow-Headers", strings.Join(asked, ", "))
	}
	h.Set("Access-Control-Max-Age", strconv.Itoa(preflightMaxAge))
	w.WriteHeader(http.StatusNoContent)
}

const metaHeader = "X-Valet-Meta-"

func (sv *server) get(w http.ResponseWriter, r *http.Request, key string, q url.Values) {
	sc, f, err := sv.st.open(key)
	if err != nil {
		writeProviderError(w, err)
		return
	}
	defer f.Close()
	h := w.Header()
	ct := sc.Type
	if q.Has(pRespType) {
		ct = q.Get(pRespType)
	}
	if ct == "" {
		ct = "application/octet-stream" // never let ServeContent sniff
	}
	h.Set("Content-Type", ct)
	h.Set("X-Content-Type-Options", "nosniff")
	if q.Has(pRespDisp) {
		h.Set("Content-Disposition", q.Get(pRespDisp))
	}
	h.Set("ETag", sc.etag())
	for k, v := range sc.Meta {
		h.Set(metaHeader+k, v)
	}
	if sv.allowedOrigin(r.Header.Get("Origin")) && len(sc.Meta) > 0 {
		names := []string{exposedHeaders}
		for k := range sc.Meta {
			names = append(names, metaHeader+k)
		}
		h.Set("Access-Control-Expose-Headers", strings.Join(names, ", "))
	}
	// ServeContent handles Range (206/416), If-None-Match, If-Modified-Since
	// and HEAD; with an *os.File the kernel's sendfile moves the bytes.
	http.ServeContent(w, r, "", sc.Modified, f)
}

// idleBody cuts a request body that goes silent: before each read it moves
// the connection's read deadline to idle from now, so a read fails once no
// byte has come for that long, however long the whole body takes. Once the
// body has ended it leaves the deadline alone: net/http lifts it when the
// body reaches its end, to watch for the client going away. It wraps the
// body only where receive reads it, never as r.Body: net/http treats a
// replaced r.Body as unknown and would read up to 256 KiB of a refused
// body before answering, instead of answering at once.
type idleBody struct {
	body io.Reader
	rc   *http.ResponseController
	idle time.Duration
	done bool
}

func (b *idleBody) Read(p []byte) (int, error) {
	if b.done {
		return b.body.Read(p)
	}
	if err := b.rc.SetReadDeadline(time.Now().Add(b.idle)); err != nil {
		return 0, err
	}
	n, err := b.body.Read(p)
	if err != nil {
		b.done = true
	}
	return n, err
}

// body is r's body, cut when silent for body_idle_timeout.
func (sv *server) body(w http.ResponseWriter, r *http.Request) io.Reader {
	if sv.bodyIdle <= 0 {
		return r.Body
	}
	return &idleBody{body: r.Body, rc: http.NewResponseController(w), idle: sv.bodyIdle}
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// receive streams exactly want bytes of the body into a new temp file and
// fsyncs it, hashing on the way when asked. want < 0 means up to limit
// bytes. It never reads past the limit. On error the file is gone.
func (sv *server) receive(w http.ResponseWriter, r *http.Request, want, limit int64, h hash.Hash) (string, int64, error) {
	return sv.receiveFrom(sv.body(w, r), want, limit, h)
}

// removeTemp drops a received temp file that will not be committed.
func removeTemp(path string) { os.Remove(path) }

// receiveFrom is receive reading body, for a body that is part of the
// request's (a form's file field).
func (sv *server) receiveFrom(body io.Reader, want, limit int64, h hash.Hash) (string, int64, error) {
	f, err := sv.st.tempFile("put-*")
	if err != nil {
		return "", 0, err
	}
	max := limit
	if want >= 0 {
		max = want
	}
	var dst io.Writer = f
	if h != nil {
		dst = io.MultiWriter(f, h)
	}
	bp := copyBufs.Get().(*[]byte)
	n, err := io.CopyBuffer(dst, io.LimitReader(body, max+1), *bp)
	copyBufs.Put(bp)
	switch {
	case err != nil:
	case n > max:
		err = errTooLong
	case want >= 0 && n != want:
		err = errTooShort
	}
	if err := closeTemp(f, err); err != nil {
		return "", n, err
	}
	return f.Name(), n, nil
}

var (
	errTooLong  = errors.New("body longer than signed")
	errTooShort = errors.New("body shorter than signed")
)

// checkLength enforces a signed length before any byte is read.
func checkLength(w http.ResponseWriter, r *http.Request, q url.Values) (int64, bool) {
	if !q.Has(pLength) {
		return -1, true
	}
	want, err := strconv.ParseInt(q.Get(pLength), 10, 64)
	if err != nil || want < 0 {
		writeError(w, http.StatusForbidden, "SignatureDoesNotMatch", "bad signed length")
		return 0, false
	}
	switch {
	case r.ContentLength < 0:
		writeError(w, http.StatusLengthRequired, "MissingContentLength",
			"this URL is signed for exactly "+strconv.FormatInt(want, 10)+" bytes; send a Content-Length")
		return 0, false
	case r.ContentLength != want:
		writeError(w, http.StatusBadRequest, "ContentLengthMismatch",
			"Content-Length "+strconv.FormatInt(r.ContentLength, 10)+" does not match the signed "+strconv.FormatInt(want, 10))
		return 0, false
	}
	return want, true
}

func receiveError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, errTooLong), errors.Is(err, errTooShort):
		writeError(w, http.StatusBadRequest, "IncompleteBody", "the body does not have the signed length; nothing was stored")
	default:
		// A client that goes away mid-body lands here; nothing was stored.
		writeError(w, http.StatusBadRequest, "IncompleteBody", "the body could not be read in full; nothing was stored")
	}
}

func (sv *server) put(w http.ResponseWriter, r *http.Request, key string, q url.Values) {
	if got, want := r.Header.Get("Content-Type"), q.Get(pType); got != want {
		writeError(w, http.StatusBadRequest, "ContentTypeMismatch",
			"Content-Type "+strconv.Quote(got)+" does not match the signed "+strconv.Quote(want))
		return
	}
	want, ok := checkLength(w, r, q)
	if !ok {
		return
	}
	createOnly := q.Get(pCreateOnly) == "1"
	if createOnly {
		if _, err := sv.st.stat(key); err == nil {
			writeError(w, http.StatusPreconditionFailed, "PreconditionFailed", "the object exists and this URL only creates")
			return
		}
	}
	var h hash.Hash
	if q.Has(pSHA256) {
		h = sha256.New()
	}
	tmp, n, err := sv.receive(w, r, want, maxPartSize, h)
	if err != nil {
		receiveError(w, err)
		return
	}
	sc := sidecar{Size: n, Type: q.Get(pType), Meta: metaFromQuery(q)}
	if h != nil {
		sc.SHA256 = base64.StdEncoding.EncodeToString(h.Sum(nil))
		if sc.SHA256 != q.Get(pSHA256) {
			os.Remove(tmp)
			writeError(w, http.StatusBadRequest, "BadDigest", "the body's SHA-256 does not match the signed checksum; nothing was stored")
			return
		}
	}
	stored, err := sv.st.commit(key, tmp, sc, createOnly)
	if err != nil {
		if errors.Is(err, errExists) {
			writeError(w, http.StatusPreconditionFailed, "PreconditionFailed", "the object exists and this URL only creates")
			return
		}
		writeProviderError(w, err)
		return
	}
	w.Header().Set("ETag", stored.etag())
	w.WriteHeader(http.StatusOK)
}

func (sv *server) putPart(w http.ResponseWriter, r *http.Request, key string, q url.Values) {
	n, err := strconv.Atoi(q.Get(pPart))
	if err != nil || n < 1 || n > maxParts {
		writeError(w, http.StatusBadRequest, "InvalidPart", "bad part number")
		return
	}
	want, ok := checkLength(w, r, q)
	if !ok {
		return
	}
	if _, _, err := sv.st.loadUpload(key, q.Get(pUpload)); err != nil {
		writeError(w, http.StatusNotFound, "NoSuchUpload", "no such upload for this key")
		return
	}
	// The body streams into tmp/, so mark the upload as active now: the
	// sweep keeps uploads touched within part_max_age.
	now := sv.st.now()
	_ = os.Chtimes(sv.st.uploadDir(q.Get(pUpload)), now, now)
	tmp, _, err := sv.receive(w, r, want, maxPartSize, nil)
	if err != nil {
		receiveError(w, err)
		return
	}
	etag, err := sv.st.putPart(key, q.Get(pUpload), n, tmp)
	if err != nil {
		if providers.CodeOf(err) == providers.NotFound {
			writeError(w, http.StatusNotFound, "NoSuchUpload", "no such upload for this key")
			return
		}
		writeProviderError(w, err)
		return
	}
	w.Header().Set("ETag", etag)
	w.WriteHeader(http.StatusOK)
}

func metaFromQuery(q url.Values) map[string]string {
	var m map[string]string
	for k := range q {
		if name, ok := strings.CutPrefix(k, pMetaPrefix); ok {
			if m == nil {
				m = map[string]string{}
			}
			m[name] = q.Get(k)
		}
	}
	return m
}
