package local

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/valetgw/valet/providers"
)

// SignGets answers every request exactly as SignGet does at the same
// instant: the same URL byte for byte, expiry and method, or the same
// error code and message; and its URLs fetch the objects.
func TestSignGetsIsSignGet(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 678_901_234, time.UTC)
	p := NewWithClock(func() time.Time { return at })
	configure(t, p, testConfig(t))
	long := strings.Repeat("漢", 90) // a segment cut into pieces on disk
	reqs := []providers.GetRequest{
		{Key: "a/b.txt", TTL: time.Hour},
		{Key: "users/ann/clip one.mp4", TTL: 90 * time.Second},
		{Key: "odd/!$&'()*+,;=:@%~/x", TTL: time.Minute},
		{Key: "docs/" + long + ".txt", TTL: time.Minute},
		{Key: "dl/report (1).pdf", TTL: time.Minute, ResponseContentDisposition: `attachment; filename="report (1).pdf"; filename*=UTF-8''report%20%281%29.pdf`},
		{Key: "t/x.svg", TTL: time.Minute, ResponseContentType: "text/plain; charset=utf-8", ResponseContentDisposition: "inline"},
		{Key: "", TTL: time.Minute},
		{Key: "a//b", TTL: time.Minute},
		{Key: "a/../b", TTL: time.Minute},
		{Key: "/lead", TTL: time.Minute},
		{Key: "trail/", TTL: time.Minute},
		{Key: ".", TTL: time.Minute},
		{Key: "nul\x00", TTL: time.Minute},
		{Key: strings.Repeat("k", 1025), TTL: time.Minute},
		{Key: "a/b.txt", TTL: 0},
		{Key: "a/b.txt", TTL: -time.Second},
		{Key: "a/b.txt", TTL: 8 * 24 * time.Hour}, // over the default max_expiry (7 days)
		{Key: "a/b.txt", TTL: time.Minute, ResponseContentType: "text/\nhtml"},
		{Key: "a/b.txt", TTL: time.Minute, ResponseContentDisposition: "inline\r\nX: y"},
		{Key: "a/b.txt", TTL: time.Minute, ResponseContentDisposition: strings.Repeat("d", 1025)},
	}
	res, err := p.SignGets(t.Context(), providers.SignGetsRequest{Requests: reqs})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != len(reqs) {
		t.Fatalf("%d items for %d requests", len(res.Items), len(reqs))
	}
	fails := 0
	for i, r := range reqs {
		got := res.Items[i]
		want, werr := p.SignGet(t.Context(), r)
		name := fmt.Sprintf("item %d (%.40q)", i, r.Key)
		if werr != nil {
			fails++
			if got.Err == nil || got.Err.Error() != werr.Error() || got.Err.Code != providers.AsError(werr).Code {
				t.Errorf("%s: error %v, SignGet says %v", name, got.Err, werr)
			}
			continue
		}
		if got.Err != nil {
			t.Errorf("%s: error %v, SignGet signs it", name, got.Err)
			continue
		}
		if got.Recipe.URL != want.URL || got.Recipe.Method != want.Method || !got.Recipe.ExpiresAt.Equal(want.ExpiresAt) || len(got.Recipe.Headers) != len(want.Headers) {
			t.Errorf("%s:\n got %+v\nwant %+v", name, got.Recipe, want)
		}
	}
	if fails != 14 {
		t.Errorf("%d requests refused by SignGet, want the 14 bad ones", fails)
	}
}

// The batch's URLs are accepted by the store's listener (real clock).
func TestSignGetsURLsFetch(t *testing.T) {
	p := NewWithClock(time.Now)
	configure(t, p, testConfig(t))
	keys := []string{"b/one.txt", "b/two words.txt", "b/" + strings.Repeat("漢", 90)}
	for _, k := range keys {
		put, err := p.SignPut(t.Context(), providers.PutRequest{Key: k, ContentType: "text/plain", Size: int64(len(k)), TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if res, b := do(t, "PUT", put.URL, put.Headers, []byte(k)); res.Status != 200 {
			t.Fatalf("PUT %q: %d %s", k, res.Status, b)
		}
	}
	reqs := make([]providers.GetRequest, len(keys))
	for i, k := range keys {
		reqs[i] = providers.GetRequest{Key: k, TTL: time.Minute, ResponseContentDisposition: "attachment"}
	}
	res, err := p.SignGets(t.Context(), providers.SignGetsRequest{Requests: reqs})
	if err != nil {
		t.Fatal(err)
	}
	for i, it := range res.Items {
		if it.Err != nil {
			t.Fatalf("item %d: %v", i, it.Err)
		}
		got, body := do(t, "GET", it.Recipe.URL, nil, nil)
		if got.Status != 200 || string(body) != keys[i] || got.Header.Get("Content-Disposition") != "attachment" {
			t.Errorf("GET %q: %d %q disposition %q", keys[i], got.Status, body, got.Header.Get("Content-Disposition"))
		}
	}
}

// A batch before Configure fails every item as SignGet fails.
func TestSignGetsUnconfigured(t *testing.T) {
	p := NewWithClock(time.Now)
	res, err := p.SignGets(t.Context(), providers.SignGetsRequest{Requests: []providers.GetRequest{{Key: "a", TTL: time.Minute}}})
	_, werr := p.SignGet(t.Context(), providers.GetRequest{Key: "a", TTL: time.Minute})
	if err != nil || len(res.Items) != 1 || res.Items[0].Err == nil || res.Items[0].Err.Error() != werr.Error() {
		t.Fatalf("SignGets unconfigured = %+v, %v; SignGet says %v", res.Items, err, werr)
	}
}

// benchProvider is a local store configured as "bench" in a temporary root.
func benchProvider(b *testing.B) *Provider {
	p := NewWithClock(time.Now)
	raw := fmt.Sprintf(`{"root":%q,"listen":"127.0.0.1:0","secret":"0123456789abcdef0123456789abcdef"}`, b.TempDir())
	if err := p.Configure(b.Context(), providers.StoreConfig{Store: "bench", Config: []byte(raw)}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	return p
}

func BenchmarkSignGets100(b *testing.B) {
	p := benchProvider(b)
	reqs := make([]providers.GetRequest, 100)
	for i := range reqs {
		reqs[i] = providers.GetRequest{Key: fmt.Sprintf("users/bench/clip-%03d.mp4", i), TTL: 15 * time.Minute}
	}
	req := providers.SignGetsRequest{Requests: reqs}
	b.Run("batch", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.SignGets(b.Context(), req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("each", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			providers.SignEach(b.Context(), p, req)
		}
	})
}

// BenchmarkSignPut is one upload slot's signing, the local store's share
// of the gateway's hot path.
func BenchmarkSignPut(b *testing.B) {
	p := benchProvider(b)
	req := providers.PutRequest{Key: "users/bench/0b6f5a58-1f3e-4f8e-9d0c-2b8f1f2f8f7e/bench.bin", ContentType: "application/octet-stream", Size: 1 << 20, CreateOnly: true, TTL: 15 * time.Minute}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.SignPut(b.Context(), req); err != nil {
			b.Fatal(err)
		}
	}
}
