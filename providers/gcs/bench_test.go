package gcs

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/valetgw/valet/providers"
)

// BenchmarkSignPut compares the signers side by side on the same SignPut
// (content type, md5, create-only): the RSA key signer (one 2048-bit
// RSA-SHA256 signature per URL) and the HMAC signer.
func BenchmarkSignPut(b *testing.B) {
	// Configure lists the bucket once; a stub JSON API answers it.
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"kind":"storage#objects"}`))
	}))
	defer api.Close()
	_, creds := testKey(b)
	base := map[string]any{"bucket": "bench", "endpoint": api.URL + "/storage/v1/", "without_authentication": true}
	for _, tc := range []struct {
		name string
		cfg  map[string]any
	}{
		{"key", map[string]any{"signer": "key", "credentials": json.RawMessage(creds)}},
		{"hmac", map[string]any{"signer": "hmac", "hmac_access_id": "GOOG1BENCH", "secret": "bench-secret"}},
	} {
		for k, v := range base {
			tc.cfg[k] = v
		}
		raw, _ := json.Marshal(tc.cfg)
		p := New()
		if err := p.Configure(context.Background(), providers.StoreConfig{Store: "bench", Config: raw}); err != nil {
			b.Fatal(err)
		}
		req := providers.PutRequest{Key: "users/u1/0b7c/movie 2026.mp4", ContentType: "video/mp4", Size: 1 << 30,
			Checksum: &providers.Checksum{Algorithm: providers.MD5, Value: "1B2M2Y8AsgTpgAmY7PhCfg=="}, CreateOnly: true, TTL: 15 * time.Minute}
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				if _, err := p.SignPut(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
