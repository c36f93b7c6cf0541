package core

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/valetgw/valet/providers"
)

// BenchmarkCreateUpload measures the gateway's own work for one upload
// slot (auth, policy, key, sealing, JSON, the request log line) with an
// in-process provider, so the figure excludes the network and the plugin
// hop that bench/gateway.sh measures end to end.
func BenchmarkCreateUpload(b *testing.B) {
	cfg := testConfig(b, "")
	srv, err := New(cfg, map[string]providers.Provider{"media": newFake(b)}, Options{
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	tok, err := MintDevToken(cfg, "bench", nil, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"filename":"bench.bin","content_type":"application/octet-stream","size":1048576}`)
	h := srv.Handler()
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/v1/stores/media/uploads", bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+tok)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusCreated {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkSignObjects measures the gateway's own work for a batch of 100
// signed GETs (auth, the read rule per key, the JSON request and answer)
// with an in-process provider; bench/batch.sh measures it end to end.
func BenchmarkSignObjects(b *testing.B) {
	cfg := testConfig(b, "")
	srv, err := New(cfg, map[string]providers.Provider{"media": newFake(b)}, Options{
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	tok, err := MintDevToken(cfg, "bench", nil, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	var body bytes.Buffer
	body.WriteString(`{"keys":[`)
	for i := range 100 {
		if i > 0 {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `"users/bench/clip-%03d.mp4"`, i)
	}
	body.WriteString(`]}`)
	h := srv.Handler()
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/v1/stores/media/objects/sign", bytes.NewReader(body.Bytes()))
		r.Header.Set("Authorization", "Bearer "+tok)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
