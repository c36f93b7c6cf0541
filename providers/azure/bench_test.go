package azure

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/valetgw/valet/providers"
)

// benchProviders returns an account-key provider and an azure_ad provider
// whose delegation key is already cached; neither touches the network.
func benchProviders(b *testing.B) map[string]*Provider {
	b.Helper()
	mk := func(cfg map[string]any) settings {
		raw, _ := json.Marshal(cfg)
		s, err := parseConfig(raw)
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	key := newProvider(time.Now)
	ks := mk(map[string]any{"account_name": "acct1", "account_key": testKey, "container": "media"})
	cred, err := container.NewSharedKeyCredential(ks.account, ks.keyB64)
	if err != nil {
		b.Fatal(err)
	}
	key.cfg = &store{settings: ks, sharedKey: cred}

	ad := newProvider(time.Now)
	as := mk(map[string]any{"account_name": "acct1", "container": "media", "credential": "azure_ad"})
	udc := udcFixture(b, time.Now().Add(-time.Minute).UTC().Truncate(time.Second), time.Now().Add(delegationKeyLifetime).UTC().Truncate(time.Second))
	ad.cfg = &store{settings: as, keys: newDelegationCache(func(context.Context, time.Time, time.Time) (*service.UserDelegationCredential, error) {
		return udc, nil
	}, time.Now)}
	return map[string]*Provider{"account_key": key, "azure_ad": ad}
}

// BenchmarkSign measures SAS signing per call, account key vs user
// delegation (cached key), side by side.
func BenchmarkSign(b *testing.B) {
	ctx := context.Background()
	for _, mode := range []string{"account_key", "azure_ad"} {
		p := benchProviders(b)[mode]
		b.Run(mode+"/SignPut", func(b *testing.B) {
			b.ReportAllocs()
			req := providers.PutRequest{Key: "users/alice/0f8e/video 1.mp4", ContentType: "video/mp4", Size: 73 << 20, TTL: 15 * time.Minute,
				Checksum: &providers.Checksum{Algorithm: providers.MD5, Value: "1B2M2Y8AsgTpgAmY7PhCfg=="}}
			for b.Loop() {
				if _, err := p.SignPut(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(mode+"/SignGet", func(b *testing.B) {
			b.ReportAllocs()
			req := providers.GetRequest{Key: "users/alice/0f8e/video 1.mp4", TTL: 5 * time.Minute, ResponseContentDisposition: `attachment; filename="video 1.mp4"`}
			for b.Loop() {
				if _, err := p.SignGet(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(mode+"/SignParts100", func(b *testing.B) {
			b.ReportAllocs()
			up, _ := p.CreateMultipart(ctx, providers.CreateMultipartRequest{Key: "k", PartSize: 8 << 20})
			parts := make([]providers.PartSpec, 100)
			for i := range parts {
				parts[i] = providers.PartSpec{Number: i + 1, Size: 8 << 20}
			}
			req := providers.SignPartsRequest{Key: "users/alice/0f8e/video 1.mp4", UploadID: up.UploadID, Parts: parts, TTL: 15 * time.Minute}
			for b.Loop() {
				if _, err := p.SignParts(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
