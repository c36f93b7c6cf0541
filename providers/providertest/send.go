package providertest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/valetgw/valet/providers"
)

// Response is what a backend answered to a request made by Send.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Snippet is the start of the body, quoted, for a failure message.
func (r Response) Snippet() string {
	b := r.Body
	if len(b) > 512 {
		b = b[:512]
	}
	return strconv.Quote(string(b))
}

// plainClient sends only what it is given: no transparent compression, so
// no Accept-Encoding the recipe did not ask for.
var plainClient = &http.Client{Transport: func() http.RoundTripper {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DisableCompression = true
	return tr
}()}

// Send performs a recipe exactly as a browser would: its method, URL and
// headers, nothing else, with body (nil for none). extra headers are added
// on top, replacing the recipe's case-insensitively, and an empty value
// removes a header: that is how a test violates a binding. An explicit
// Content-Length in the recipe is honoured through the request's
// ContentLength; the body's real length is always what is sent, and a
// Host header sets the request's host. client nil means a plain client
// without transparent compression. A transport error fails t without the
// signed URL's query (its signature) in the message.
func Send(t testing.TB, client *http.Client, r providers.Recipe, body []byte, extra map[string]string) Response {
	t.Helper()
	return SendAs(t, client, r.Method, r.URL, r.Headers, body, extra)
}

// SendAs is Send with the method, URL and headers given apart, for a
// recipe that was tampered with.
func SendAs(t testing.TB, client *http.Client, method, rawURL string, headers map[string]string, body []byte, extra map[string]string) Response {
	t.Helper()
	if client == nil {
		client = plainClient
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	req, err := providers.Recipe{Method: method, URL: rawURL, Headers: headers}.NewRequest(ctx, body, extra)
	if err != nil {
		t.Fatalf("building %s %s: %v", method, Redact(rawURL), err)
	}
	res, err := client.Do(req)
	if err != nil {
		// *url.Error repeats the full signed URL; report only its cause.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		t.Fatalf("%s %s: %v", method, Redact(rawURL), err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, Redact(rawURL), err)
	}
	return Response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// Redact drops a URL's query, which carries the signature, so the URL can
// go in a log or a failure message.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "<unparsable URL>"
	}
	if u.RawQuery != "" {
		u.RawQuery = "<redacted>"
	}
	return u.String()
}
