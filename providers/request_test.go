package providers

import (
	"context"
	"io"
	"net/http"
	"testing"
)

// NewRequest sends the recipe's method, URL and headers as given, extra on
// top (an empty value removes one), Host as the request's host and the
// body's own length whatever Content-Length the recipe says.
func TestRecipeNewRequest(t *testing.T) {
	r := Recipe{Method: "PUT", URL: "http://store.example/b/k?sig=x", Headers: map[string]string{
		"content-type":   "text/plain",
		"Content-Length": "99",
		"Host":           "b.store.example",
		"X-Amz-Meta-A":   "1",
	}}
	req, err := r.NewRequest(context.Background(), []byte("hello"), map[string]string{"Content-Type": "image/png", "x-amz-meta-a": "", "Origin": "https://app.example"})
	if err != nil {
		t.Fatal(err)
	}
	if req.Method != "PUT" || req.URL.String() != r.URL || req.Host != "b.store.example" || req.ContentLength != 5 {
		t.Errorf("method %s URL %s host %s length %d", req.Method, req.URL, req.Host, req.ContentLength)
	}
	want := http.Header{"Content-Type": {"image/png"}, "Origin": {"https://app.example"}}
	if len(req.Header) != len(want) || req.Header.Get("Content-Type") != "image/png" || req.Header.Get("Origin") != "https://app.example" {
		t.Errorf("headers %v, want %v", req.Header, want)
	}
	if b, _ := io.ReadAll(req.Body); string(b) != "hello" {
		t.Errorf("body %q", b)
	}

	empty, err := r.NewRequest(context.Background(), []byte{}, nil)
	if err != nil || empty.Body != http.NoBody || empty.ContentLength != 0 {
		t.Errorf("empty body: %v, %v, length %d", err, empty.Body, empty.ContentLength)
	}
	none, err := Recipe{Method: "GET", URL: "http://store.example/b/k"}.NewRequest(context.Background(), nil, nil)
	if err != nil || none.Body != nil {
		t.Errorf("no body: %v, %v", err, none.Body)
	}
	if _, err := (Recipe{Method: "GET", URL: "http://[::1"}).NewRequest(context.Background(), nil, nil); err == nil {
		t.Error("a malformed URL gave no error")
	}
}
