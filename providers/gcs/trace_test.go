package gcs

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/valetgw/valet/internal/testenv"
	"github.com/valetgw/valet/providers"
	"github.com/valetgw/valet/providers/internal/httpspan/httpspantest"
)

// Against fake-gcs-server, the requests the storage SDK makes within a
// traced call are child spans of it, and no span holds the HMAC secret, a
// signed URL's signature or query, or a credential.
func TestSDKSpansKeepSecretsOut(t *testing.T) {
	fake := testenv.FakeGCS(t)
	bucket := fake.CreateBucket(t, "trace")
	secret := "trace/hmac+secret=" + time.Now().Format("150405.000000")
	f := filepath.Join(t.TempDir(), "hmac-secret")
	if err := os.WriteFile(f, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _ := json.Marshal(map[string]any{"bucket": bucket, "signer": "hmac", "endpoint": fake.JSONEndpoint(), "without_authentication": true,
		"hmac_access_id": "GOOG1ETRACETEST", "secret_file": f, "signing_host": "127.0.0.1:1", "signing_scheme": "http", "url_style": "path"})
	p := New().(*Provider)
	if err := p.Configure(context.Background(), providers.StoreConfig{Store: "t", Config: cfg}); err != nil {
		t.Fatal(err)
	}
	call := httpspantest.Start()
	ctx := call.Ctx
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(call.TP) // the storage SDK's own spans use the global provider
	t.Cleanup(func() { otel.SetTracerProvider(prev) })

	get, err := p.SignGet(ctx, providers.GetRequest{Key: "t/a.txt", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Head(ctx, providers.HeadRequest{Key: "t/missing.txt"}); err == nil {
		t.Fatal("Head of a missing key succeeded")
	}
	if _, err := p.List(ctx, providers.ListRequest{Prefix: "t/", Limit: 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Delete(ctx, providers.DeleteRequest{Key: "t/missing.txt"}); err != nil {
		t.Fatal(err)
	}

	u, _ := url.Parse(get.URL)
	call.End(t, 3, secret, u.Query().Get("X-Goog-Signature"), u.RawQuery,
		"X-Goog-Signature", "X-Goog-Credential", "Authorization", "?")
}
