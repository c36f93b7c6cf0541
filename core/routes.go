package core

import (
	_ "embed"
	"net/http"
	"path"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/valetgw/valet/core/keys"
	"github.com/valetgw/valet/core/problem"
)

// Request body limits: the API moves no file bytes, and MaxBodyBytes
// bounds every JSON body but those that list many things. A complete
// lists up to 10000 parts (MaxCompleteBodyBytes, as Companion allows), and
// a batch signing request up to the store's limits.max_batch keys of up to
// keys.MaxKeyBytes each (see bodyLimit).
const (
	MaxBodyBytes         = 64 << 10
	MaxCompleteBodyBytes = 1 << 20
)

// bodyLimit is how many bytes the body of op may have on store (the
// route's store, "" for none; a store that does not exist gets the
// default, and is refused before its body is read).
func (st *state) bodyLimit(op, store string) int64 {
	switch op {
	case "upload.complete":
		return MaxCompleteBodyBytes
	case "object.sign":
		if s := st.stores[store]; s != nil {
			// Room for every key twice over (escapes), and the rest.
			return MaxBodyBytes + int64(s.cfg.Limits.MaxBatch)*(2*keys.MaxKeyBytes+16)
		}
	}
	return MaxBodyBytes
}

//go:embed openapi.json
var openAPIDoc []byte

// OpenAPI returns the OpenAPI 3.1 document served at /openapi.json.
// Its Problem schema lists every error code of the catalog (errors.go).
func OpenAPI() []byte { return slices.Clone(served()) }

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
	api("POST /v1/stores/{store}/objects/sign", "object.sign", true, s.signObjects)
	api("DELETE /v1/stores/{store}/objects/{key...}", "object.delete", true, s.deleteObject)
	api("GET /v1/stores/{store}/objects", "object.list", true, s.listObjects)
	api("GET /v1/stores", "stores.list", false, s.listStores)
	s.companionRoutes(mux)
	mux.Handle("GET "+PlaybackPath+"/{store}/{token}/{key...}", s.playback())
	mux.Handle("OPTIONS /v1/", s.plain("cors.preflight", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	mux.Handle("GET /healthz", s.plain("healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}))
	mux.Handle("GET /readyz", s.plain("readyz", s.readyz))
	if !s.opts.MetricsElsewhere {
		mux.Handle("GET /metrics", s.plain("metrics", promhttp.HandlerFor(s.metrics.gatherer, promhttp.HandlerOpts{}).ServeHTTP))
	}
	mux.Handle("GET /openapi.json", s.plain("openapi", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(served())
	}))
	mux.Handle("/", s.plain("root", func(w http.ResponseWriter, r *http.Request) {
		if allow := allowedMethods(mux, r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			problem.Write(w, apiError("method_not_allowed", r.Method+" is not allowed here; use "+strings.Join(allow, " or ")))
			return
		}
		if s.state.Load().cfg.Demo.Enabled && s.opts.Web != nil && !strings.HasPrefix(r.URL.Path, "/v1/") {
			pw := &problemWriter{ResponseWriter: w}
			s.opts.Web.ServeHTTP(pw, r)
			pw.finish()
			return
		}
		problem.Write(w, apiError("not_found", "no such endpoint"))
	}))
	// http.ServeMux answers a path with an empty, "." or ".." segment with
	// a 307 to its cleaned form, which keeps the method: a DELETE of
	// users/ann/x/../../bob/y would be sent on to users/bob/y, without
	// CORS headers or a problem body. Such a path names no key (keys
	// never have those segments), so it is refused here instead.
	unclean := s.plain("unclean_path", func(w http.ResponseWriter, r *http.Request) {
		problem.Write(w, apiError("invalid_key", "the path has an empty, \".\" or \"..\" segment, which no key has; send the key as it is, escaping each segment"))
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; strings.HasPrefix(p, "/v1/") && path.Clean(p) != strings.TrimSuffix(p, "/") {
			if rest, ok := strings.CutPrefix(p, PlaybackPath+"/"); ok {
				// The log sees a playback path without its token, as
				// playback's own does.
				store, after, _ := strings.Cut(rest, "/")
				_, key, _ := strings.Cut(after, "/")
				r = withoutToken(r, store, key)
			}
			unclean.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
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
		problem.Write(w.ResponseWriter, apiError("not_found", "no such endpoint"))
	case http.StatusMethodNotAllowed:
		problem.Write(w.ResponseWriter, apiError("method_not_allowed", "use "+w.Header().Get("Allow")))
	}
}

// readyz says whether this replica can serve: 503 while some store's
// plugin is not running (a local fault, which another replica may not
// have), 200 otherwise, even while a backend is unreachable (an outage
// every replica shares; taking them all out of rotation would not help).
// Each store's plugin and backend state is in "stores" (storestate.go).
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	st := s.state.Load()
	stores := s.storeStates(st)
	var down []string
	for _, name := range st.cfg.StoreNames() {
		if !healthy(st.stores[name].provider) {
			down = append(down, name)
		}
	}
	if len(down) > 0 {
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "unhealthy_stores": down, "stores": stores})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "stores": stores})
}
