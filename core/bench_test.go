package core

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
)

// BenchmarkCreateUpload measures the gateway's own work for one upload
// slot (auth, policy, key, sealing, JSON, the request log line) with an
// in-process provider, so the figure excludes the network and the plugin
// hop that bench/gateway.sh measures end to end.
func BenchmarkCreateUpload(b *testing.B) {
	h, tok := benchServer(b, newFake(b), "")
	body := []byte(`{"filename":"bench.bin","content_type":"application/octet-stream","size":1048576}`)
	b.ReportAllocs()
	for b.Loop() {
		benchCall(b, h, tok, http.MethodPost, "/v1/stores/media/uploads", body, http.StatusCreated)
	}
}

// BenchmarkSignObjects measures the gateway's own work for a batch of 100
// signed GETs (auth, the read rule per key, the JSON request and answer)
// with an in-process provider; bench/batch.sh measures it end to end.
func BenchmarkSignObjects(b *testing.B) {
	h, tok := benchServer(b, newFake(b), "")
	var body bytes.Buffer
	body.WriteString(`{"keys":[`)
	for i := range 100 {
		if i > 0 {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `"users/bench/clip-%03d.mp4"`, i)
	}
	body.WriteString(`]}`)
	var out struct{ Items []struct{ URL string } }
	if err := jsonUnmarshal(benchCall(b, h, tok, http.MethodPost, "/v1/stores/media/objects/sign", body.Bytes(), http.StatusOK), &out); err != nil || len(out.Items) != 100 || out.Items[99].URL == "" {
		b.Fatalf("the batch is not 100 signed URLs: %+v, %v", out.Items, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		benchCall(b, h, tok, http.MethodPost, "/v1/stores/media/objects/sign", body.Bytes(), http.StatusOK)
	}
}
