package core

import (
	"fmt"
	"strings"
	"testing"

	"github.com/valetgw/valet/core/keys"
	"github.com/valetgw/valet/internal/testenv"
	"github.com/valetgw/valet/providers/memprovider"
)

// TestBodyLimitsFitTheLimits: a request within every advertised limit is
// never refused for its size. A batch of limits.max_batch keys of nearly
// keys.MaxKeyBytes each (over 64 KiB of JSON) is signed, and a complete
// listing every part of a 10000-part plan with its ETag (over 64 KiB too)
// reaches the store (which finds the parts missing); a body over its route's limit is 413 body_too_large,
// naming that limit.
func TestBodyLimitsFitTheLimits(t *testing.T) {
	h := &harness{t: t, fake: newFake(t), cfg: testConfig(t, ""), logs: &testenv.Buffer{}}
	sc := h.cfg.Stores["media"]
	sc.Limits.MaxSize = 16 << 30
	sc.Limits.MaxBatch = 100
	sc.Rules.Upload = "true" // the test config allows 50 MiB
	h.cfg.Stores["media"] = sc
	caps := memprovider.DefaultCapabilities()
	caps.MaxParts = 10000 // as S3
	h.fake.SetCapabilities(caps)
	h.start(h.fake)
	alice := h.token("alice", nil)

	// Batch signing: 100 keys of 1000 bytes, each under alice's prefix.
	var batch []string
	for i := range 100 {
		k := fmt.Sprintf("users/alice/%03d-", i)
		batch = append(batch, k+strings.Repeat("k", 1000-len(k)))
	}
	r := h.do("POST", "/v1/stores/media/objects/sign", alice, map[string]any{"keys": batch})
	if r.status != 200 || len(r.body) < 64<<10 {
		t.Fatalf("batch of 100 keys of 1000 bytes: %d %.300s", r.status, r.body)
	}
	var out struct{ Items []struct{ Key, URL string } }
	if err := jsonUnmarshal(r.body, &out); err != nil || len(out.Items) != 100 || out.Items[99].Key != batch[99] || out.Items[99].URL == "" {
		t.Fatalf("batch answer: %v, %d items", err, len(out.Items))
	}
	// Over the route's limit: 64 KiB + 100 × (2 KiB + 16) bytes.
	limit := MaxBodyBytes + 100*(2*keys.MaxKeyBytes+16)
	huge := map[string]any{"keys": []string{strings.Repeat("k", limit)}}
	if r := h.do("POST", "/v1/stores/media/objects/sign", alice, huge); r.status != 413 || r.code() != "body_too_large" || !strings.Contains(string(r.body), fmt.Sprint(limit)) {
		t.Errorf("batch body over %d bytes: %d %s", limit, r.status, r.body)
	}

	// Complete of a 10000-part plan, every part listed with an ETag.
	size := 10000 << 20
	r = h.do("POST", "/v1/stores/media/uploads", alice, map[string]any{"filename": "big.mp4", "content_type": "video/mp4", "size": size})
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	up := r.json(t)
	n := int(up["multipart"].(map[string]any)["part_count"].(float64))
	if n != 10000 {
		t.Fatalf("plan of %d parts, want 10000", n)
	}
	parts := make([]map[string]any, n)
	for i := range parts {
		parts[i] = map[string]any{"part_number": i + 1, "etag": fmt.Sprintf(`"%032x"`, i)}
	}
	base := "/v1/stores/media/uploads/" + up["upload_id"].(string)
	r = h.do("POST", base+"/complete", alice, map[string]any{"parts": parts})
	// No part was uploaded: the store, having read every part, says so.
	if r.status != 409 || r.code() != "parts_invalid" {
		t.Fatalf("complete listing %d parts: %d %.300s; want 409 parts_invalid from the store", n, r.status, r.body)
	}
	if r := h.do("POST", base+"/complete", alice, map[string]any{"parts": strings.Repeat(" ", MaxCompleteBodyBytes)}); r.status != 413 || !strings.Contains(string(r.body), "1 MiB") {
		t.Errorf("complete body over 1 MiB: %d %s", r.status, r.body)
	}
	// Every other body keeps the 64 KiB limit.
	if r := h.do("POST", "/v1/stores/media/uploads", alice, map[string]any{"filename": strings.Repeat("f", MaxBodyBytes)}); r.status != 413 || !strings.Contains(string(r.body), "64 KiB") {
		t.Errorf("create body over 64 KiB: %d %s", r.status, r.body)
	}
}
