package core

import (
	"bytes"
	"context"
	_ "embed"
	stdjson "encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	json "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/valetgw/valet/core/auth"
	"github.com/valetgw/valet/core/keys"
	"github.com/valetgw/valet/core/policy"
	"github.com/valetgw/valet/core/problem"
	"github.com/valetgw/valet/core/tokens"
	"github.com/valetgw/valet/providers"
)

// MaxBodyBytes bounds every JSON request body; the API moves no file bytes.
const MaxBodyBytes = 64 << 10

//go:embed openapi.json
var openAPIDoc []byte

// OpenAPI returns the OpenAPI 3.1 document served at /openapi.json.
func OpenAPI() []byte { return slices.Clone(openAPIDoc) }

// call is one API request in progress.
type call struct {
	st    *state
	store *store
	who   auth.Principal
	rec   *record
}

// record collects what the request log line reports.
type record struct {
	store, op, key, subject, code string
	err                           error
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, c *call) error

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	api := func(pattern, op string, needStore bool, h handlerFunc) {
		mux.Handle(pattern, s.api(op, needStore, h))
	}
	api("POST /v1/stores/{store}/uploads", "upload.create", true, s.createUpload)
	api("POST /v1/stores/{store}/uploads/{upload_id}/parts", "upload.sign_parts", true, s.signParts)
	api("GET /v1/stores/{store}/uploads/{upload_id}/parts", "upload.list_parts", true, s.listParts)
	api("POST /v1/stores/{store}/uploads/{upload_id}/complete", "upload.complete", true, s.complete)
	api("DELETE /v1/stores/{store}/uploads/{upload_id}", "upload.abort", true, s.abort)
	api("GET /v1/stores/{store}/objects/{key...}", "object.get", true, s.getObject)
	api("DELETE /v1/stores/{store}/objects/{key...}", "object.delete", true, s.deleteObject)
	api("GET /v1/stores/{store}/objects", "object.list", true, s.listObjects)
	api("GET /v1/stores", "stores.list", false, s.listStores)
	mux.Handle("OPTIONS /v1/", s.plain("cors.preflight", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	mux.Handle("GET /healthz", s.plain("healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}))
	mux.Handle("GET /readyz", s.plain("readyz", s.readyz))
	mux.Handle("GET /metrics", s.plain("metrics", promhttp.HandlerFor(s.metrics.gatherer, promhttp.HandlerOpts{}).ServeHTTP))
	mux.Handle("GET /openapi.json", s.plain("openapi", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openAPIDoc)
	}))
	mux.Handle("/", s.plain("root", func(w http.ResponseWriter, r *http.Request) {
		if allow := allowedMethods(mux, r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			problem.Write(w, problem.New(http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed here; use "+strings.Join(allow, " or ")))
			return
		}
		if s.state.Load().cfg.Demo.Enabled && s.opts.Web != nil && !strings.HasPrefix(r.URL.Path, "/v1/") {
			pw := &problemWriter{ResponseWriter: w}
			s.opts.Web.ServeHTTP(pw, r)
			pw.finish()
			return
		}
		problem.Write(w, problem.New(http.StatusNotFound, "not_found", "no such endpoint"))
	}))
	return mux
}

// probeMethods are the methods tried to tell a wrong method (405) from a
// path no route has (404).
var probeMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// allowedMethods lists the methods some route other than the catch-all
// accepts for r's path; empty when the path is unknown.
func allowedMethods(mux *http.ServeMux, r *http.Request) []string {
	var allow []string
	for _, m := range probeMethods {
		if m == r.Method {
			continue
		}
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/" && !strings.HasPrefix(pattern, "OPTIONS ") {
			allow = append(allow, m)
		}
	}
	return allow
}

// problemWriter passes the web handler's successful responses through and
// turns its errors (plain-text 404 or 405) into problem+json, so that every
// unmatched path answers the API's way.
type problemWriter struct {
	http.ResponseWriter
	status int // the error status swallowed, 0 while passing through
}

func (w *problemWriter) WriteHeader(code int) {
	if code == http.StatusNotFound || code == http.StatusMethodNotAllowed {
		w.status = code
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *problemWriter) Write(b []byte) (int, error) {
	if w.status != 0 {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

func (w *problemWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// finish writes the problem for a swallowed error response.
func (w *problemWriter) finish() {
	switch w.status {
	case http.StatusNotFound:
		problem.Write(w.ResponseWriter, problem.New(http.StatusNotFound, "not_found", "no such endpoint"))
	case http.StatusMethodNotAllowed:
		problem.Write(w.ResponseWriter, problem.New(http.StatusMethodNotAllowed, "method_not_allowed", "use "+w.Header().Get("Allow")))
	}
}

// statusWriter remembers the status for logs and metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// plain wraps a non-API handler with CORS, logging and metrics.
func (s *Server) plain(op string, h http.HandlerFunc) http.Handler {
	return s.instrument(op, func(w http.ResponseWriter, r *http.Request, rec *record) { h(w, r) })
}

func (s *Server) instrument(op string, h func(http.ResponseWriter, *http.Request, *record)) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := s.now()
		w := &statusWriter{ResponseWriter: rw}
		rec := &record{op: op}
		s.cors(w, r)
		h(w, r, rec)
		if w.status == 0 {
			w.status = http.StatusOK
		}
		elapsed := s.now().Sub(start)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		s.metrics.requests.WithLabelValues(route, r.Method, strconv.Itoa(w.status)).Inc()
		s.metrics.latency.WithLabelValues(route).Observe(elapsed.Seconds())
		// Only the path is logged: queries may carry an access_token.
		// The attributes live in a fixed array: one line per request should
		// not cost a slice and its growth.
		var buf [10]slog.Attr
		attrs := append(buf[:0],
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.String("op", rec.op),
			slog.Int("status", w.status),
			slog.Float64("latency_ms", float64(elapsed.Microseconds())/1000),
		)
		attrs = appendNonEmpty(attrs, "store", rec.store)
		attrs = appendNonEmpty(attrs, "key", rec.key)
		attrs = appendNonEmpty(attrs, "subject", rec.subject)
		attrs = appendNonEmpty(attrs, "code", rec.code)
		level := slog.LevelInfo
		if rec.err != nil {
			attrs = append(attrs, slog.String("error", rec.err.Error()))
			level = slog.LevelError
		}
		s.log.LogAttrs(r.Context(), level, "request", attrs...)
	})
}

func appendNonEmpty(attrs []slog.Attr, k, v string) []slog.Attr {
	if v == "" {
		return attrs
	}
	return append(attrs, slog.String(k, v))
}

func (s *Server) cors(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return
	}
	h := w.Header()
	h.Add("Vary", "Origin")
	allowed := false
	for _, o := range s.state.Load().cfg.Server.CORSOrigins {
		if o == "*" || strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			allowed = true
			break
		}
	}
	if !allowed {
		return
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Expose-Headers", "Retry-After, Location")
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-API-Key")
		h.Set("Access-Control-Max-Age", "600")
	}
}

// api wraps an API handler: it authenticates, finds the store, bounds the
// body and turns returned errors into problem documents.
func (s *Server) api(op string, needStore bool, h handlerFunc) http.Handler {
	return s.instrument(op, func(w http.ResponseWriter, r *http.Request, rec *record) {
		st := s.state.Load()
		c := &call{st: st, rec: rec}
		err := func() error {
			r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
			cred := auth.Credential(r)
			if cred == "" && op == "object.get" {
				// <video src> and <a href> cannot send headers.
				cred = r.URL.Query().Get("access_token")
			}
			who, err := st.auth.Authenticate(r.Context(), cred)
			if err != nil {
				return authProblem(w, err)
			}
			c.who, rec.subject = who, who.Subject
			if needStore {
				name := r.PathValue("store")
				rec.store = name
				c.store = st.stores[name]
				if c.store == nil {
					return problem.New(http.StatusNotFound, "store_not_found", "no store named "+strconv.Quote(name))
				}
				// Bound the provider calls: a provider that hangs gives
				// 504 instead of holding the request for good.
				limit := time.Duration(st.cfg.Server.ProviderTimeout)
				if op == "upload.complete" {
					limit = time.Duration(st.cfg.Server.CompleteTimeout)
				}
				ctx, cancel := context.WithTimeout(r.Context(), limit)
				defer cancel()
				r = r.WithContext(ctx)
			}
			return h(w, r, c)
		}()
		if err != nil {
			s.writeError(w, c, err)
		}
	})
}

func authProblem(w http.ResponseWriter, err error) error {
	switch {
	case errors.Is(err, auth.ErrNoCredentials):
		w.Header().Set("WWW-Authenticate", `Bearer realm="valet"`)
		return problem.New(http.StatusUnauthorized, "unauthenticated", "credentials required: send Authorization: Bearer <token>")
	case errors.Is(err, auth.ErrUnavailable):
		p := problem.New(http.StatusServiceUnavailable, "auth_unavailable", "token signing keys are not available yet")
		p.RetryAfter = 5 * time.Second
		return p
	default:
		w.Header().Set("WWW-Authenticate", `Bearer realm="valet", error="invalid_token"`)
		return problem.New(http.StatusUnauthorized, "invalid_token", "the credentials are invalid or expired")
	}
}

// writeError renders err. Only problems and provider codes reach the
// client; any other error text stays in the log.
func (s *Server) writeError(w http.ResponseWriter, c *call, err error) {
	var p *problem.Problem
	switch {
	case errors.As(err, &p):
	case errors.Is(err, errBody):
		p = problem.New(http.StatusRequestEntityTooLarge, "body_too_large", "request body exceeds 64 KiB")
	default:
		p = providerProblem(err)
		c.rec.err = err
	}
	c.rec.code = p.Code
	problem.Write(w, p)
}

var errBody = errors.New("body too large")

// providerProblem maps a provider error code to a status. The provider's
// message is shown only for codes that describe the request.
func providerProblem(err error) *problem.Problem {
	if errors.Is(err, context.DeadlineExceeded) {
		return problem.New(http.StatusGatewayTimeout, "provider_timeout", "the store's provider did not answer in time")
	}
	code := providers.CodeOf(err)
	msg := ""
	var pe *providers.Error
	if errors.As(err, &pe) {
		msg = pe.Message
	}
	switch code {
	case providers.NotFound:
		return problem.New(http.StatusNotFound, "not_found", "not found")
	case providers.InvalidArgument:
		return problem.New(http.StatusBadRequest, "provider_invalid_argument", msg)
	case providers.AlreadyExists:
		return problem.New(http.StatusConflict, "already_exists", "the object already exists")
	case providers.FailedPrecondition:
		return problem.New(http.StatusConflict, "failed_precondition", msg)
	case providers.Unimplemented:
		return problem.New(http.StatusNotImplemented, "unsupported", "the store's provider does not support this")
	case providers.Unavailable:
		p := problem.New(http.StatusServiceUnavailable, "provider_unavailable", "the store's provider is unavailable; retry shortly")
		p.RetryAfter = 5 * time.Second
		return p
	case providers.PermissionDenied:
		return problem.New(http.StatusBadGateway, "provider_denied", "the storage backend refused the gateway's credentials")
	default:
		return problem.New(http.StatusBadGateway, "provider_error", "the store's provider failed")
	}
}

// provider records a failed provider call in metrics and passes err on.
func (s *Server) provider(c *call, op string, err error) error {
	if err != nil {
		s.metrics.providerErrors.WithLabelValues(c.store.name, op, string(providers.CodeOf(err))).Inc()
	}
	return err
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = stdjson.NewEncoder(w).Encode(v)
}

// decode reads a JSON body strictly: member names match exactly (no
// case folding), unknown or duplicate members and trailing data are
// errors, and the text must be valid UTF-8. An empty body leaves v
// untouched when optional.
func decode(r *http.Request, v any, optional bool) error {
	body, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return errBody
	case err != nil:
		return problem.New(http.StatusRequestTimeout, "body_incomplete", "the request body did not arrive in full")
	}
	return decodeBytes(body, v, optional)
}

func decodeBytes(body []byte, v any, optional bool) error {
	if len(bytes.TrimSpace(body)) == 0 {
		if optional {
			return nil
		}
		return invalidBody("empty body")
	}
	// One value, an object, and nothing after it.
	dec := jsontext.NewDecoder(bytes.NewReader(body))
	val, err := dec.ReadValue()
	if err != nil {
		return invalidBody(jsonError(err))
	}
	if val.Kind() != '{' {
		return invalidBody("the body must be a JSON object")
	}
	val = val.Clone() // valid only until the next read otherwise
	if _, err := dec.ReadToken(); err != io.EOF {
		return invalidBody("trailing data after the JSON object at byte " + strconv.FormatInt(dec.InputOffset(), 10))
	}
	if err := json.Unmarshal(val, v, json.RejectUnknownMembers(true)); err != nil {
		return invalidBody(jsonError(err))
	}
	return nil
}

func invalidBody(why string) error {
	return problem.New(http.StatusBadRequest, "invalid_request", "invalid JSON body: "+why)
}

// jsonError keeps decoder messages short and free of echoed values: only
// the top-level member is named (never a metadata key), quoted and cut to
// 64 bytes.
func jsonError(err error) string {
	var se *json.SemanticError
	var syn *jsontext.SyntacticError
	switch {
	case errors.Is(err, json.ErrUnknownName) && errors.As(err, &se):
		return "unknown field " + memberName(se.JSONPointer)
	case errors.Is(err, jsontext.ErrDuplicateName) && errors.As(err, &syn):
		return "duplicate field " + memberName(syn.JSONPointer)
	case errors.As(err, &se):
		field := memberName(se.JSONPointer)
		if se.GoType != nil && !strings.Contains(strings.TrimPrefix(string(se.JSONPointer), "/"), "/") {
			return "field " + field + " must be " + jsonKind(se.GoType)
		}
		return "field " + field + " is invalid"
	case errors.As(err, &syn):
		if strings.Contains(syn.Err.Error(), "UTF-8") {
			return "invalid UTF-8 at byte " + strconv.FormatInt(syn.ByteOffset, 10)
		}
		return "syntax error at byte " + strconv.FormatInt(syn.ByteOffset, 10)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "unexpected end of the body"
	}
	return "malformed"
}

// memberName names the top-level member a JSON pointer starts with.
func memberName(p jsontext.Pointer) string {
	name := ""
	for tok := range p.Tokens() {
		name = tok
		break
	}
	if len(name) > 64 {
		name = truncateUTF8(name, 64) + "…"
	}
	return strconv.QuoteToASCII(name)
}

func truncateUTF8(s string, n int) string {
	for n > 0 && n < len(s) && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return t.String()
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	st := s.state.Load()
	var down []string
	for _, name := range st.cfg.StoreNames() {
		if !healthy(st.stores[name].provider) {
			down = append(down, name)
		}
	}
	if len(down) > 0 {
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "unhealthy_stores": down})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready"})
}

// openUpload opens an upload id and checks that it belongs to this store
// and caller, and that the store's upload rule still allows it.
func (s *Server) openUpload(r *http.Request, c *call) (tokens.Upload, error) {
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
func (s *Server) openOwnUpload(r *http.Request, c *call) (tokens.Upload, error) {
	u, err := c.st.sealer.Open(r.PathValue("upload_id"), s.now())
	switch {
	case errors.Is(err, tokens.ErrExpired):
		return u, problem.New(http.StatusGone, "upload_expired", "the upload id has expired; start a new upload")
	case err != nil:
		return u, problem.New(http.StatusNotFound, "upload_not_found", "unknown or invalid upload id")
	case u.Store != c.store.name:
		return u, problem.New(http.StatusNotFound, "upload_not_found", "unknown or invalid upload id")
	case u.Subject != c.who.Subject:
		return u, problem.New(http.StatusForbidden, "upload_forbidden", "the upload belongs to another caller")
	}
	c.rec.key = u.Key
	return u, nil
}
