package s3

import (
	"net/url"
	"testing"
	"time"

	"github.com/valetgw/valet/internal/testenv"
	"github.com/valetgw/valet/providers"
	"github.com/valetgw/valet/providers/internal/httpspan/httpspantest"
	"github.com/valetgw/valet/providers/providertest"
)

// Against versitygw, the SDK's requests made within a traced call are
// child spans of it, and no span or attribute holds the secret key, a
// signature of a signed URL or POST policy, a URL query or a credential.
func TestSDKSpansKeepSecretsOut(t *testing.T) {
	srv := testenv.Versitygw(t)
	bucket := srv.CreateBucket(t, "trace")
	p := New().(*Provider)
	if err := configure(t, p, map[string]any{"bucket": bucket, "region": srv.Region, "endpoint": srv.Endpoint,
		"path_style": true, "access_key_id": srv.AccessKey, "secret_access_key": srv.SecretKey}); err != nil {
		t.Fatal(err)
	}
	call := httpspantest.Start()
	ctx := call.Ctx

	body := []byte("traced body")
	put, err := p.SignPut(ctx, providers.PutRequest{Key: "t/a.txt", ContentType: "text/plain", Size: int64(len(body)), TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if res := providertest.Send(t, nil, put, body, nil); res.Status != 200 {
		t.Fatalf("signed PUT: %d", res.Status)
	}
	get, err := p.SignGet(ctx, providers.GetRequest{Key: "t/a.txt", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	pol, err := p.SignPostPolicy(ctx, providers.PostPolicyRequest{Key: "t/b.png", ContentType: "image/png", MaxSize: 10, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Head(ctx, providers.HeadRequest{Key: "t/a.txt"}); err != nil {
		t.Fatal(err)
	}
	if res, err := p.ReadObject(ctx, providers.ReadObjectRequest{Key: "t/a.txt", MaxBytes: 100}); err != nil || string(res.Data) != string(body) {
		t.Fatalf("ReadObject = %q, %v", res.Data, err)
	}
	if _, err := p.List(ctx, providers.ListRequest{Prefix: "t/", Limit: 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Delete(ctx, providers.DeleteRequest{Key: "t/a.txt"}); err != nil {
		t.Fatal(err)
	}

	secrets := []string{srv.SecretKey, pol.Fields["x-amz-signature"], pol.Fields["policy"], "X-Amz-Signature", "X-Amz-Credential", "Authorization", "AWS4-HMAC-SHA256", "?"}
	for _, r := range []providers.Recipe{put, get} {
		u, _ := url.Parse(r.URL)
		secrets = append(secrets, u.Query().Get("X-Amz-Signature"), u.RawQuery)
	}
	// HeadObject, GetObject, ListObjectsV2 and DeleteObject at least.
	call.End(t, 4, secrets...)
}
