package azure

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/valetgw/valet/internal/testenv"
	"github.com/valetgw/valet/providers"
	"github.com/valetgw/valet/providers/providertest"
)

// TestSHA256NotClaimed: Azure keeps only an MD5, so Info claims sha256
// neither for a signed PUT nor after a multipart complete, and says so.
func TestSHA256NotClaimed(t *testing.T) {
	testenv.SHA256NotClaimed(t, New())
}

// TestAzuriteSHA256NeverReported: a declared sha256 is neither bound into
// a PUT nor reported afterwards, single or multipart, so the gateway can
// never mistake it for a verified one.
func TestAzuriteSHA256NeverReported(t *testing.T) {
	p, _ := azuriteProvider(t)
	ctx := context.Background()
	body := []byte("declared sha256, which Azure cannot check")
	s := sha256.Sum256(body)
	declared := &providers.Checksum{Algorithm: providers.SHA256, Value: base64.StdEncoding.EncodeToString(s[:])}

	r, err := p.SignPut(ctx, providers.PutRequest{Key: "sum/single", ContentType: "text/plain", Size: int64(len(body)), Checksum: declared, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	for h := range r.Headers {
		if strings.Contains(strings.ToLower(h), "sha") || strings.EqualFold(h, "Content-MD5") {
			t.Errorf("recipe for a sha256 checksum has header %s", h)
		}
	}
	if resp := providertest.Send(t, nil, r, body, nil); resp.Status != 201 {
		t.Fatalf("PUT: %d %s", resp.Status, resp.Body)
	}
	if o, err := p.Head(ctx, providers.HeadRequest{Key: "sum/single"}); err != nil || o.Checksums[providers.SHA256] != "" {
		t.Fatalf("Head = %v, %v; want no sha256", o.Checksums, err)
	}

	up, err := p.CreateMultipart(ctx, providers.CreateMultipartRequest{Key: "sum/mp", ContentType: "text/plain", Size: int64(len(body)), Checksum: declared})
	if err != nil {
		t.Fatal(err)
	}
	signed, err := p.SignParts(ctx, providers.SignPartsRequest{Key: "sum/mp", UploadID: up.UploadID, TTL: time.Minute, Parts: []providers.PartSpec{{Number: 1}}})
	rs := signed.Parts
	if err != nil {
		t.Fatal(err)
	}
	if resp := providertest.Send(t, nil, rs[0].Recipe, body, nil); resp.Status != 201 {
		t.Fatalf("part: %d %s", resp.Status, resp.Body)
	}
	o, err := p.CompleteMultipart(ctx, providers.CompleteMultipartRequest{Key: "sum/mp", UploadID: up.UploadID, Parts: []providers.CompletedPart{{Number: 1}}, Checksum: declared})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := o.Checksums[providers.SHA256]; ok {
		t.Fatalf("CompleteMultipart reports a sha256: %v", o.Checksums)
	}
	if o, err := p.Head(ctx, providers.HeadRequest{Key: "sum/mp"}); err != nil || o.Checksums[providers.SHA256] != "" {
		t.Fatalf("Head after complete = %v, %v; want no sha256", o.Checksums, err)
	}
}
