package core

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/valetgw/valet/providers"
	"github.com/valetgw/valet/providers/local"
)

// benchServer serves the test config (with extra) on p in process, logging
// nowhere, and returns its handler and a token of subject "bench".
func benchServer(tb testing.TB, p providers.Provider, extra string) (http.Handler, string) {
	tb.Helper()
	cfg := testConfig(tb, extra)
	srv, err := New(cfg, map[string]providers.Provider{"media": p}, Options{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.Close() })
	tok, err := MintDevToken(cfg, "bench", nil, time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	return srv.Handler(), tok
}

// benchLocal is the local store in process, under a temporary root.
func benchLocal(tb testing.TB) providers.Provider {
	tb.Helper()
	p := local.New()
	raw, _ := json.Marshal(map[string]any{"root": tb.TempDir(), "listen": "127.0.0.1:0", "secret": "local-provider-secret-0123456789"})
	if err := p.Configure(tb.Context(), providers.StoreConfig{Store: "media", Config: raw}); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.(io.Closer).Close() })
	return p
}

// benchCall serves one request with tok (and body as JSON when it is not
// nil) and fails unless the answer's status is want; it returns the
// answer's body.
func benchCall(tb testing.TB, h http.Handler, tok, method, path string, body []byte, want int) []byte {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	r := httptest.NewRequest(method, path, rd)
	r.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != want {
		tb.Fatalf("%s %s: %d %s", method, path, w.Code, w.Body)
	}
	return w.Body.Bytes()
}

// benchUpload creates an upload of data as name through the API and PUTs
// data to its signed URL; it returns the upload's id and key, not yet
// completed.
func benchUpload(tb testing.TB, h http.Handler, tok, name string, data []byte) (id, key string) {
	tb.Helper()
	create, _ := json.Marshal(map[string]any{"filename": name, "content_type": "text/plain", "size": len(data)})
	var up struct {
		UploadID string            `json:"upload_id"`
		URL      string            `json:"url"`
		Key      string            `json:"key"`
		Headers  map[string]string `json:"headers"`
	}
	if err := json.Unmarshal(benchCall(tb, h, tok, http.MethodPost, "/v1/stores/media/uploads", create, http.StatusCreated), &up); err != nil {
		tb.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPut, up.URL, bytes.NewReader(data))
	for k, v := range up.Headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode/100 != 2 {
		tb.Fatalf("PUT %s: %v %v", name, res, err)
	}
	res.Body.Close()
	return up.UploadID, up.Key
}
