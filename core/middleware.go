package core

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/valetgw/valet/core/auth"
	"github.com/valetgw/valet/core/problem"
)

// call is one API request in progress.
type call struct {
	st    *state
	store *Store
	who   auth.Principal
	rec   *record
}

// record collects what the request log line reports.
type record struct {
	store, op, key, subject, code string
	// authReason says why a credential was refused (auth.Reason), never
	// the credential itself.
	authReason string
	// refusedOrigin is the Origin of a request whose origin is not in
	// server.cors_origins.
	refusedOrigin string
	err           error
}

type recordKey struct{}

// noteKey tells the request log line, if ctx belongs to a request, which
// key or prefix the request is about. Store methods call it as soon as
// they know, so that a refused request is logged with its key too.
func noteKey(ctx context.Context, key string) {
	if rec, ok := ctx.Value(recordKey{}).(*record); ok {
		rec.key = key
	}
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, c *call) error

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
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		var span trace.Span
		if s.tracer != nil {
			r, span = s.startSpan(r, route, op)
		}
		id := requestID(r, span)
		w.Header().Set(RequestIDHeader, id)
		if !s.cors(w, r) {
			rec.refusedOrigin = r.Header.Get("Origin")
		}
		h(w, r, rec)
		if w.status == 0 {
			w.status = http.StatusOK
		}
		elapsed := s.now().Sub(start)
		s.metrics.requests.WithLabelValues(route, r.Method, strconv.Itoa(w.status)).Inc()
		s.metrics.latency.WithLabelValues(route).Observe(elapsed.Seconds())
		// Only the path is logged: queries may carry an access_token.
		// The attributes live in a fixed array: one line per request should
		// not cost a slice and its growth.
		var buf [14]slog.Attr
		attrs := append(buf[:0],
			slog.String("request_id", id),
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
		attrs = appendNonEmpty(attrs, "auth_reason", rec.authReason)
		level := slog.LevelInfo
		if rec.refusedOrigin != "" {
			// A browser on this origin is refused: most often a
			// server.cors_origins entry that is missing or misspelt.
			attrs = append(attrs, slog.String("origin", rec.refusedOrigin), slog.String("cors", "origin not allowed"))
			if r.Method == http.MethodOptions {
				level = slog.LevelWarn
			}
		}
		if rec.err != nil {
			attrs = append(attrs, slog.String("error", rec.err.Error()))
			level = slog.LevelError
		}
		if span != nil {
			attrs = append(attrs, slog.String("trace_id", span.SpanContext().TraceID().String()))
		}
		s.log.LogAttrs(r.Context(), level, "request", attrs...)
		if span != nil {
			endSpan(span, w.status, rec)
		}
	})
}

// traceContext reads and writes W3C trace context (traceparent and
// tracestate): an incoming traceparent makes the request's span a child of
// the caller's.
var traceContext propagation.TraceContext

// startSpan starts the request's server span, named by the route template
// (never the raw path, which holds keys), as a child of the caller's trace
// when the request carries a traceparent. Its attributes are the method,
// the route and the operation; the query, credentials and subject never
// become attributes.
func (s *Server) startSpan(r *http.Request, route, op string) (*http.Request, trace.Span) {
	ctx := traceContext.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	ctx, span := s.tracer.Start(ctx, route, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.String("http.request.method", r.Method),
			attribute.String("http.route", route),
			attribute.String("valet.operation", op)))
	return r.WithContext(ctx), span
}

// endSpan records the response on span and ends it: the status, the store
// and the problem code. A 5xx marks the span failed.
func endSpan(span trace.Span, status int, rec *record) {
	span.SetAttributes(attribute.Int("http.response.status_code", status))
	if rec.store != "" {
		span.SetAttributes(attribute.String("valet.store", rec.store))
	}
	if rec.code != "" {
		span.SetAttributes(attribute.String("valet.code", rec.code))
	}
	if status >= 500 {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
	span.End()
}

func appendNonEmpty(attrs []slog.Attr, k, v string) []slog.Attr {
	if v == "" {
		return attrs
	}
	return append(attrs, slog.String(k, v))
}

// cors adds the CORS headers for an allowed Origin. It reports false for
// a request whose Origin is not allowed, true otherwise (none is fine).
func (s *Server) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
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
		return false
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Expose-Headers", "Retry-After, Location, "+RequestIDHeader)
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-API-Key, "+RequestIDHeader)
		h.Set("Access-Control-Max-Age", "600")
	}
	return true
}

// RequestIDHeader carries the request id on every response (and may on a
// request: see requestID).
const RequestIDHeader = "X-Request-Id"

// requestID is the id of the request, on its response and its log line:
// the caller's X-Request-Id when it is sane (1 to 128 characters of
// letters, digits and -_.:), else the trace id of its traceparent (or of
// the request's span), else a random one.
func requestID(r *http.Request, span trace.Span) string {
	if id := r.Header.Get(RequestIDHeader); saneRequestID(id) {
		return id
	}
	if span != nil && span.SpanContext().HasTraceID() {
		return span.SpanContext().TraceID().String()
	}
	if tp := r.Header.Get("Traceparent"); tp != "" {
		sc := trace.SpanContextFromContext(traceContext.Extract(context.Background(), propagation.HeaderCarrier(r.Header)))
		if sc.HasTraceID() {
			return sc.TraceID().String()
		}
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// api wraps an API handler: it authenticates, finds the store, bounds the
// body and turns returned errors into problem documents.
func (s *Server) api(op string, needStore bool, h handlerFunc) http.Handler {
	return s.instrument(op, func(w http.ResponseWriter, r *http.Request, rec *record) {
		st := s.state.Load()
		c := &call{st: st, rec: rec}
		err := func() error {
			r.Body = http.MaxBytesReader(w, r.Body, st.bodyLimit(op, r.PathValue("store")))
			cred := auth.Credential(r)
			if cred == "" && op == "object.get" && st.cfg.Auth.QueryAccessToken {
				// Off unless auth.query_access_token: playback links
				// serve <video src> and <a href> without a JWT in a URL.
				cred = r.URL.Query().Get("access_token")
			}
			who, err := st.auth.Authenticate(r.Context(), cred)
			if err != nil {
				rec.authReason = auth.Reason(err)
				return authProblem(w, err)
			}
			c.who, rec.subject = who, who.Subject
			if needStore {
				name := r.PathValue("store")
				rec.store = name
				if c.store, err = st.store(name); err != nil {
					return err
				}
				// Bound the provider calls: a provider that hangs gives
				// 504 instead of holding the request for good.
				limit := time.Duration(st.cfg.Server.ProviderTimeout)
				if op == "upload.complete" {
					limit = time.Duration(st.cfg.Server.CompleteTimeout)
				}
				ctx, cancel := context.WithTimeout(context.WithValue(r.Context(), recordKey{}, rec), limit)
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
		return apiError("unauthenticated", "credentials required: send Authorization: Bearer <token>")
	case errors.Is(err, auth.ErrUnavailable):
		p := apiError("auth_unavailable", "token signing keys are not available yet")
		p.RetryAfter = 5 * time.Second
		return p
	default:
		w.Header().Set("WWW-Authenticate", `Bearer realm="valet", error="invalid_token"`)
		return apiError("invalid_token", "the credentials are invalid or expired")
	}
}

// writeError renders err. Only problems and provider codes reach the
// client; any other error text stays in the log.
func (s *Server) writeError(w http.ResponseWriter, c *call, err error) {
	var f *failure
	var p *problem.Problem
	switch {
	case errors.As(err, &f):
		p, c.rec.err = f.problem, f.cause
	case errors.As(err, &p):
	default:
		p = providerProblem(err)
		c.rec.err = err
	}
	c.rec.code = p.Code
	problem.Write(w, p)
}
