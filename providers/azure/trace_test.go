package azure

import (
	"net/url"
	"testing"
	"time"

	"github.com/valetgw/valet/internal/testenv"
	"github.com/valetgw/valet/providers"
	"github.com/valetgw/valet/providers/internal/httpspan/httpspantest"
)

// Against Azurite, each SDK attempt made within a traced call is a child
// span of it, and no span holds the account key, a SAS signature or query,
// or a credential header.
func TestSDKSpansKeepSecretsOut(t *testing.T) {
	p, _ := azuriteProvider(t)
	call := httpspantest.Start()
	ctx := call.Ctx

	res := put(t, p, "t/a.txt", []byte("traced body"), false)
	if res.Status != 201 {
		t.Fatalf("signed PUT: %d", res.Status)
	}
	get, err := p.SignGet(ctx, providers.GetRequest{Key: "t/a.txt", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Head(ctx, providers.HeadRequest{Key: "t/a.txt"}); err != nil {
		t.Fatal(err)
	}
	if r, err := p.ReadObject(ctx, providers.ReadObjectRequest{Key: "t/a.txt", MaxBytes: 100}); err != nil || string(r.Data) != "traced body" {
		t.Fatalf("ReadObject = %q, %v", r.Data, err)
	}
	if _, err := p.List(ctx, providers.ListRequest{Prefix: "t/", Limit: 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Delete(ctx, providers.DeleteRequest{Key: "t/a.txt"}); err != nil {
		t.Fatal(err)
	}

	u, _ := url.Parse(get.URL)
	call.End(t, 4, testenv.AzuriteKey, u.Query().Get("sig"), u.RawQuery,
		"sig=", "SharedKey", "Authorization", "?")
}
