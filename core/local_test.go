package core

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/valetgw/valet/internal/testenv"
)

// The upload and download flows against the real local provider, in
// process: the signed requests go to its own HTTP listener.
func TestLocalProviderFlows(t *testing.T) {
	h := &harness{t: t, cfg: testConfig(t, ""), logs: &testenv.Buffer{}}
	h.start(localProvider(t))
	alice := h.token("alice", nil)

	data := []byte("bytes through the local store")
	up := h.uploadFile(t, alice, "clip.mp4", "video/mp4", data, nil)
	r := h.do("POST", "/v1/stores/media/uploads/"+up["upload_id"].(string)+"/complete", alice, nil)
	if r.status != 200 {
		t.Fatalf("complete: %d %s", r.status, r.body)
	}
	path := "/v1/stores/media/objects/" + escapeKey(up["key"].(string))
	r = h.do("GET", path+"?redirect=true", alice, nil)
	if r.status != http.StatusFound {
		t.Fatalf("redirect: %d %s", r.status, r.body)
	}
	if st, body := get(t, r.header.Get("Location"), "Range", "bytes=6-12"); st != 206 || string(body) != "through" {
		t.Fatalf("range GET: %d %q", st, body)
	}

	// Multipart across the real provider, with its own minimum part size.
	size := 12 << 20
	big := bytes.Repeat([]byte("valet!"), size/6+1)[:size]
	r = h.do("POST", "/v1/stores/media/uploads", alice, map[string]any{"filename": "big.mp4", "content_type": "video/mp4", "size": size})
	if r.status != 201 {
		t.Fatalf("multipart create: %d %s", r.status, r.body)
	}
	up = r.json(t)
	mp := up["multipart"].(map[string]any)
	ps, n := int(mp["part_size"].(float64)), int(mp["part_count"].(float64))
	for _, x := range up["parts"].([]any) {
		pr := x.(map[string]any)
		i := int(pr["part_number"].(float64))
		if res := put(t, pr["method"].(string), pr["url"].(string), pr["headers"].(map[string]any), big[(i-1)*ps:min(i*ps, size)]); res.StatusCode/100 != 2 {
			t.Fatalf("part %d: %d", i, res.StatusCode)
		}
	}
	if len(up["parts"].([]any)) != n {
		t.Fatalf("first batch %d of %d parts", len(up["parts"].([]any)), n)
	}
	r = h.do("POST", "/v1/stores/media/uploads/"+up["upload_id"].(string)+"/complete", alice, nil)
	if r.status != 200 {
		t.Fatalf("multipart complete: %d %s", r.status, r.body)
	}
	r = h.do("GET", "/v1/stores/media/objects/"+escapeKey(up["key"].(string)), alice, nil)
	if st, body := get(t, r.json(t)["url"].(string)); st != 200 || !bytes.Equal(body, big) {
		t.Fatalf("multipart download: %d, %d bytes", st, len(body))
	}
	if !strings.Contains(h.logs.String(), `"op":"upload.complete"`) {
		t.Error("no log line for complete")
	}
}
