package azure

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/valetgw/valet/internal/testenv"
	"github.com/valetgw/valet/providers"
	"github.com/valetgw/valet/providers/providertest"
)

// These tests run the provider in process against a real Azurite. The
// conformance suite (providertest) runs through a plugin process in e2e/.

func azuriteProvider(t *testing.T) (*Provider, string) {
	p, cont, _ := azuriteProviderConfig(t)
	return p, cont
}

// azuriteProviderConfig is azuriteProvider that also returns the store
// config it configured the provider with.
func azuriteProviderConfig(t *testing.T) (*Provider, string, json.RawMessage) {
	t.Helper()
	az := testenv.SharedAzurite(t)
	cont := az.NewContainer(t)
	p := newProvider(time.Now)
	cfg, _ := json.Marshal(map[string]any{
		"account_name": testenv.AzuriteAccount,
		"account_key":  testenv.AzuriteKey,
		"endpoint":     az.ServiceURL,
		"container":    cont,
		"https_only":   false,
	})
	if err := p.Configure(context.Background(), providers.StoreConfig{Store: "t", Config: cfg}); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return p, cont, cfg
}

func put(t *testing.T, p *Provider, key string, body []byte, createOnly bool) providertest.Response {
	t.Helper()
	sum := md5.Sum(body)
	r, err := p.SignPut(context.Background(), providers.PutRequest{
		Key: key, ContentType: "text/plain", Size: int64(len(body)), TTL: time.Minute, CreateOnly: createOnly,
		Checksum: &providers.Checksum{Algorithm: providers.MD5, Value: base64.StdEncoding.EncodeToString(sum[:])},
	})
	if err != nil {
		t.Fatalf("SignPut: %v", err)
	}
	return providertest.Send(t, nil, r, body, nil)
}

func TestAzuriteRoundTrip(t *testing.T) {
	p, _ := azuriteProvider(t)
	ctx := context.Background()
	key := "dir/a b+c~ü(1).txt"
	body := []byte("hello, azure")

	if resp := put(t, p, key, body, false); resp.Status != 201 {
		t.Fatalf("PUT: %d %s", resp.Status, resp.Body)
	}
	o, err := p.Head(ctx, providers.HeadRequest{Key: key})
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	sum := md5.Sum(body)
	if o.Size != int64(len(body)) || o.ContentType != "text/plain" || o.ETag == "" ||
		o.Checksums[providers.MD5] != base64.StdEncoding.EncodeToString(sum[:]) {
		t.Fatalf("Head = %+v", o)
	}

	g, err := p.SignGet(ctx, providers.GetRequest{Key: key, TTL: time.Minute,
		ResponseContentType: "application/x-test", ResponseContentDisposition: `attachment; filename="a b.txt"`})
	if err != nil {
		t.Fatal(err)
	}
	resp := providertest.Send(t, nil, g, nil, map[string]string{"Range": "bytes=0-4"})
	if got := resp.Body; resp.Status != 206 || string(got) != "hello" {
		t.Fatalf("ranged GET: %d %q", resp.Status, got)
	}
	if resp.Header.Get("Content-Type") != "application/x-test" || resp.Header.Get("Content-Disposition") != `attachment; filename="a b.txt"` {
		t.Fatalf("overrides not applied: %v", resp.Header)
	}

	// A tampered rscd is rejected: the overrides are signed.
	tampered := g
	tampered.URL = providertest.TamperQuery(t, g.URL, "rscd", func(string) string { return "inline" })
	if resp := providertest.Send(t, nil, tampered, nil, nil); resp.Status != 403 {
		t.Fatalf("tampered rscd: %d, want 403", resp.Status)
	}

	// Create-only on an existing blob: create permission cannot overwrite.
	if resp := put(t, p, key, []byte("other"), true); resp.Status != 403 && resp.Status != 409 {
		t.Fatalf("create-only overwrite: %d, want 403 or 409", resp.Status)
	} else {
		t.Logf("create-only overwrite refused: %d %s", resp.Status, resp.Header.Get("x-ms-error-code"))
	}
	if o, err := p.Head(ctx, providers.HeadRequest{Key: key}); err != nil || o.Size != int64(len(body)) {
		t.Fatalf("blob changed by a refused create-only PUT: %+v %v", o, err)
	}
	// Create-only on a new key works.
	if resp := put(t, p, "fresh", body, true); resp.Status != 201 {
		t.Fatalf("create-only new: %d %s", resp.Status, resp.Body)
	}
	// A wrong Content-MD5 is refused by Azure (transport check).
	if resp := providertest.Send(t, nil, mustSignPut(t, p, "md5", body), body, map[string]string{"Content-MD5": base64.StdEncoding.EncodeToString(make([]byte, 16))}); resp.Status != 400 {
		t.Fatalf("wrong Content-MD5: %d, want 400", resp.Status)
	}
	// Without Content-MD5, Azure still computes and stores the MD5 of a
	// single Put Blob, so Head can report it for the gateway to compare.
	if resp := providertest.Send(t, nil, mustSignPut(t, p, "nomd5", body), body, nil); resp.Status != 201 {
		t.Fatalf("PUT without md5: %d", resp.Status)
	}
	if o, err := p.Head(ctx, providers.HeadRequest{Key: "nomd5"}); err != nil || o.Checksums[providers.MD5] != base64.StdEncoding.EncodeToString(sum[:]) {
		t.Fatalf("Head without a client md5: %+v %v", o, err)
	}
	// The GET URL cannot upload: sp=r.
	if resp := providertest.Send(t, nil, providers.Recipe{Method: "PUT", URL: g.URL, Headers: map[string]string{"x-ms-blob-type": "BlockBlob"}}, body, nil); resp.Status != 403 {
		t.Fatalf("PUT with GET URL: %d, want 403", resp.Status)
	}

	d, err := p.SignDelete(ctx, providers.SignDeleteRequest{Key: key, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if resp := providertest.Send(t, nil, d, nil, nil); resp.Status != 202 {
		t.Fatalf("DELETE: %d", resp.Status)
	}
	if _, err := p.Head(ctx, providers.HeadRequest{Key: key}); !errors.Is(err, providers.ErrNotFound) {
		t.Fatalf("Head after delete: %v, want NotFound", err)
	}
	if _, err := p.Delete(ctx, providers.DeleteRequest{Key: key}); err != nil {
		t.Fatalf("Delete of missing blob: %v", err)
	}
}

func mustSignPut(t *testing.T, p *Provider, key string, body []byte) providers.Recipe {
	t.Helper()
	r, err := p.SignPut(context.Background(), providers.PutRequest{Key: key, ContentType: "text/plain", Size: int64(len(body)), TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestAzuriteExpired(t *testing.T) {
	p, _ := azuriteProvider(t)
	r, err := p.SignPut(context.Background(), providers.PutRequest{Key: "exp", ContentType: "text/plain", Size: 1, TTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(r.ExpiresAt) + 1100*time.Millisecond)
	if resp := providertest.Send(t, nil, r, []byte("x"), nil); resp.Status != 403 {
		t.Fatalf("expired PUT: %d, want 403", resp.Status)
	}
}

func TestAzuriteList(t *testing.T) {
	p, _ := azuriteProvider(t)
	ctx := context.Background()
	var want []string
	for i := range 5 {
		k := fmt.Sprintf("list/%02d", i)
		want = append(want, k)
		if resp := put(t, p, k, []byte{byte(i)}, false); resp.Status != 201 {
			t.Fatalf("PUT %s: %d", k, resp.Status)
		}
	}
	if resp := put(t, p, "other", []byte("x"), false); resp.Status != 201 {
		t.Fatal(resp.Status)
	}
	var got []string
	cursor, pages := "", 0
	for {
		page, err := p.List(ctx, providers.ListRequest{Prefix: "list/", Cursor: cursor, Limit: 2})
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		pages++
		for _, o := range page.Objects {
			got = append(got, o.Key)
			if o.Size != 1 || o.ContentType != "text/plain" {
				t.Fatalf("listed %+v", o)
			}
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") || pages != 3 {
		t.Fatalf("listed %v in %d pages, want %v in 3", got, pages, want)
	}
}

func TestAzuriteMultipart(t *testing.T) {
	p, _ := azuriteProvider(t)
	ctx := context.Background()
	key := "mp/big.bin"
	const partSize = 1 << 20
	data := make([]byte, 3*partSize-100)
	_, _ = rand.Read(data)

	up, err := p.CreateMultipart(ctx, providers.CreateMultipartRequest{Key: key, ContentType: "application/octet-stream", Size: int64(len(data)), PartSize: partSize, Metadata: map[string]string{"origin": "test"}})
	if err != nil {
		t.Fatal(err)
	}
	signed, err := p.SignParts(ctx, providers.SignPartsRequest{Key: key, UploadID: up.UploadID, TTL: time.Minute,
		Parts: []providers.PartSpec{{Number: 1}, {Number: 2}, {Number: 3}}})
	recipes := signed.Parts
	if err != nil {
		t.Fatal(err)
	}
	// Upload in reverse order: order is set at commit.
	for i := len(recipes) - 1; i >= 0; i-- {
		r := recipes[i]
		lo := (r.Number - 1) * partSize
		hi := min(lo+partSize, len(data))
		if resp := providertest.Send(t, nil, r.Recipe, data[lo:hi], nil); resp.Status != 201 {
			t.Fatalf("part %d: %d %s", r.Number, resp.Status, resp.Body)
		}
	}
	listing, err := p.ListParts(ctx, providers.ListPartsRequest{Upload: providers.MultipartRef{Key: key, UploadID: up.UploadID}})
	parts := listing.Parts
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 3 || parts[0].Number != 1 || parts[2].Number != 3 || parts[2].Size != int64(len(data)-2*partSize) {
		t.Fatalf("ListParts = %+v", parts)
	}
	// Another upload's list does not see these blocks.
	other, _ := p.CreateMultipart(ctx, providers.CreateMultipartRequest{Key: key})
	if ps, err := p.ListParts(ctx, providers.ListPartsRequest{Upload: providers.MultipartRef{Key: key, UploadID: other.UploadID}}); err != nil || len(ps.Parts) != 0 {
		t.Fatalf("other upload's parts = %v, %v", ps.Parts, err)
	}
	// An aborted upload lists no parts and cannot be completed, although
	// Azure keeps its blocks for 7 days.
	ab, _ := p.CreateMultipart(ctx, providers.CreateMultipartRequest{Key: key})
	abSigned, err := p.SignParts(ctx, providers.SignPartsRequest{Key: key, UploadID: ab.UploadID, TTL: time.Minute, Parts: []providers.PartSpec{{Number: 1}}})
	abRecipes := abSigned.Parts
	if err != nil {
		t.Fatal(err)
	}
	if resp := providertest.Send(t, nil, abRecipes[0].Recipe, []byte("doomed"), nil); resp.Status != 201 {
		t.Fatalf("part of aborted upload: %d", resp.Status)
	}
	abRef := providers.MultipartRef{Key: key, UploadID: ab.UploadID}
	if _, err := p.AbortMultipart(ctx, providers.AbortMultipartRequest{Upload: abRef}); err != nil {
		t.Fatalf("abort: %v", err)
	}
	if ps, err := p.ListParts(ctx, providers.ListPartsRequest{Upload: abRef}); err != nil || len(ps.Parts) != 0 {
		t.Fatalf("parts after abort = %v, %v", ps.Parts, err)
	}
	if _, err := p.CompleteMultipart(ctx, providers.CompleteMultipartRequest{Key: key, UploadID: ab.UploadID, Parts: []providers.CompletedPart{{Number: 1}}}); !errors.Is(err, providers.ErrFailedPrecondition) {
		t.Fatalf("complete after abort: %v, want FailedPrecondition", err)
	}

	// A missing part is FailedPrecondition and creates nothing.
	_, err = p.CompleteMultipart(ctx, providers.CompleteMultipartRequest{Key: key, UploadID: up.UploadID,
		Parts: []providers.CompletedPart{{Number: 1}, {Number: 2}, {Number: 4}}})
	if !errors.Is(err, providers.ErrFailedPrecondition) {
		t.Fatalf("complete with missing part: %v", err)
	}
	if _, err := p.Head(ctx, providers.HeadRequest{Key: key}); !errors.Is(err, providers.ErrNotFound) {
		t.Fatalf("blob exists after failed complete: %v", err)
	}
	o, err := p.CompleteMultipart(ctx, providers.CompleteMultipartRequest{Key: key, UploadID: up.UploadID,
		Parts: []providers.CompletedPart{{Number: 1}, {Number: 2}, {Number: 3}}})
	if err != nil {
		t.Fatalf("complete: %v", err)
	}
	if o.Size != int64(len(data)) || o.ContentType != "application/octet-stream" || o.Metadata["origin"] != "test" {
		t.Fatalf("completed object %+v", o)
	}
	g, _ := p.SignGet(ctx, providers.GetRequest{Key: key, TTL: time.Minute})
	if got := providertest.Send(t, nil, g, nil, nil).Body; !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, not equal to the %d uploaded", len(got), len(data))
	}
	if _, err := p.AbortMultipart(ctx, providers.AbortMultipartRequest{Upload: providers.MultipartRef{Key: key, UploadID: up.UploadID}}); err != nil {
		t.Fatalf("abort after complete: %v", err)
	}
}
