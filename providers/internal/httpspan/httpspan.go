// Package httpspan gives the storage SDKs' HTTP clients one OpenTelemetry
// client span per request, as children of the call being traced. A span
// records the method, the server's host and port and the response status,
// never the URL's path or query, nor any header: a query can carry a
// signature or SAS token, a header credentials. (otelhttp records url.full
// with its query, which is why it is not used here.) Requests outside a
// recording span, such as everything when tracing is off, pass through
// untouched and cost nothing.
package httpspan

import (
	"net"
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Doer is an HTTP client as the AWS and Azure SDKs take one.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Wrap returns next with a span around each request.
func Wrap(next Doer) Doer { return doer{next} }

type doer struct{ next Doer }

func (d doer) Do(r *http.Request) (*http.Response, error) { return Around(r, d.next.Do) }

// Transport returns next with a span around each request, for SDKs that
// take an *http.Client.
func Transport(next http.RoundTripper) http.RoundTripper { return roundTripper{next} }

type roundTripper struct{ next http.RoundTripper }

func (t roundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	return Around(r, t.next.RoundTrip)
}

// Around sends r with next inside a span, for SDKs that take a pipeline
// step rather than a client (Azure's policies).
func Around(r *http.Request, next func(*http.Request) (*http.Response, error)) (*http.Response, error) {
	parent := trace.SpanFromContext(r.Context())
	if !parent.IsRecording() {
		return next(r)
	}
	ctx, span := parent.TracerProvider().Tracer("github.com/valetgw/valet/providers").Start(r.Context(), "HTTP "+r.Method,
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs(r)...))
	defer span.End()
	res, err := next(r.WithContext(ctx))
	switch {
	case err != nil:
		span.SetStatus(codes.Error, "transport error")
	default:
		span.SetAttributes(attribute.Int("http.response.status_code", res.StatusCode))
		if res.StatusCode >= 500 {
			span.SetStatus(codes.Error, strconv.Itoa(res.StatusCode))
		}
	}
	return res, err
}

func attrs(r *http.Request) []attribute.KeyValue {
	host, port := r.URL.Hostname(), r.URL.Port()
	kv := []attribute.KeyValue{attribute.String("http.request.method", r.Method), attribute.String("server.address", host)}
	if p, err := strconv.Atoi(port); err == nil {
		kv = append(kv, attribute.Int("server.port", p))
	} else if _, p, err := net.SplitHostPort(r.Host); err == nil {
		if n, err := strconv.Atoi(p); err == nil {
			kv = append(kv, attribute.Int("server.port", n))
		}
	}
	return kv
}
