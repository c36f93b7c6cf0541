package providers

import (
	"bytes"
	"context"
	"io"
	"net/http"
)

// NewRequest builds the request that performs r exactly as a browser would:
// its method, URL and headers, nothing else, with body (nil for none).
// extra headers are set on top, replacing the recipe's case-insensitively,
// and an empty extra value removes a header. A Host header sets the
// request's host; a Content-Length header is left to net/http, which always
// sends the body's real length. An error is http.NewRequestWithContext's,
// which may quote the URL (and its signature).
func (r Recipe) NewRequest(ctx context.Context, body []byte, extra map[string]string) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, rd)
	if err != nil {
		return nil, err
	}
	set := func(k, v string) {
		switch http.CanonicalHeaderKey(k) {
		case "Host":
			req.Host = v
		case "Content-Length":
			// net/http writes Content-Length from req.ContentLength, which
			// NewRequestWithContext set from the body actually sent.
		default:
			req.Header.Set(k, v)
		}
	}
	for k, v := range r.Headers {
		set(k, v)
	}
	for k, v := range extra {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		set(k, v)
	}
	return req, nil
}
