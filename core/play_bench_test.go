package core

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valetgw/valet/providers"
	"github.com/valetgw/valet/providers/local"
)

// callCounter counts a provider's calls by method, keeping its Reader and
// GetSigner.
type callCounter struct {
	providers.Provider
	reads, batches, gets, heads atomic.Int64
}

func (c *callCounter) SignGet(ctx context.Context, req providers.GetRequest) (providers.Recipe, error) {
	c.gets.Add(1)
	return c.Provider.SignGet(ctx, req)
}

func (c *callCounter) Head(ctx context.Context, req providers.HeadRequest) (providers.Object, error) {
	c.heads.Add(1)
	return c.Provider.Head(ctx, req)
}

func (c *callCounter) ReadObject(ctx context.Context, req providers.ReadObjectRequest) (providers.ReadObjectResult, error) {
	c.reads.Add(1)
	return c.Provider.(providers.Reader).ReadObject(ctx, req)
}

func (c *callCounter) SignGets(ctx context.Context, req providers.SignGetsRequest) (providers.SignGetsResult, error) {
	c.batches.Add(1)
	return c.Provider.(providers.GetSigner).SignGets(ctx, req)
}

func (c *callCounter) total() int64 {
	return c.reads.Load() + c.batches.Load() + c.gets.Load() + c.heads.Load()
}

// vodPlaylist is one hour of 6 s fMP4 segments.
func vodPlaylist() []byte {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:6\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MAP:URI=\"init.mp4\"\n")
	for i := range 600 {
		fmt.Fprintf(&b, "#EXTINF:6.000000,\nseg%05d.m4s\n", i)
	}
	b.WriteString("#EXT-X-ENDLIST\n")
	return []byte(b.String())
}

// playBench serves the test config on a local store in process (its
// calls counted), uploads the VOD playlist and a small file through the
// API, and returns the handler, a token, the playlist's playback link and
// the small file's media data path.
func playBench(tb testing.TB) (h http.Handler, c *callCounter, tok, link, dataPath string) {
	tb.Helper()
	p := local.New()
	dir := tb.TempDir()
	raw, _ := json.Marshal(map[string]any{"root": dir, "listen": "127.0.0.1:0", "secret": "local-provider-secret-0123456789"})
	if err := p.Configure(context.Background(), providers.StoreConfig{Store: "media", Config: raw}); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.(io.Closer).Close() })
	c = &callCounter{Provider: p}
	cfg := testConfig(tb, "")
	srv, err := New(cfg, map[string]providers.Provider{"media": c}, Options{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.Close() })
	if tok, err = MintDevToken(cfg, "bench", nil, time.Hour); err != nil {
		tb.Fatal(err)
	}
	h = srv.Handler()
	call := func(method, path string, body any) []byte {
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		r := httptest.NewRequest(method, path, rd)
		r.Header.Set("Authorization", "Bearer "+tok)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code/100 != 2 {
			tb.Fatalf("%s %s: %d %s", method, path, w.Code, w.Body)
		}
		return w.Body.Bytes()
	}
	up := func(name string, data []byte) string {
		var u struct {
			UploadID string            `json:"upload_id"`
			URL      string            `json:"url"`
			Key      string            `json:"key"`
			Headers  map[string]string `json:"headers"`
		}
		_ = json.Unmarshal(call("POST", "/v1/stores/media/uploads", map[string]any{"filename": name, "content_type": "text/plain", "size": len(data)}), &u)
		req, _ := http.NewRequest(http.MethodPut, u.URL, bytes.NewReader(data))
		for k, v := range u.Headers {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil || res.StatusCode/100 != 2 {
			tb.Fatalf("PUT %s: %v %v", name, res, err)
		}
		res.Body.Close()
		call("POST", "/v1/stores/media/uploads/"+u.UploadID+"/complete", nil)
		return u.Key
	}
	vod := up("index.m3u8", vodPlaylist())
	small := up("clip.mp4", []byte("a small file"))
	var j struct {
		PlaybackURL string `json:"playback_url"`
	}
	_ = json.Unmarshal(call("GET", "/v1/stores/media/objects/"+escapeKey(vod), nil), &j)
	u, _ := strings.CutPrefix(j.PlaybackURL, "http://example.com")
	return h, c, tok, u, "/v1/stores/media/objects/" + escapeKey(small)
}

// playVOD fetches the playlist once, checking the answer.
func playVOD(tb testing.TB, h http.Handler, link string) {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, link, nil))
	if w.Code != http.StatusOK || bytes.Count(w.Body.Bytes(), []byte("sig=")) != 601 {
		tb.Fatalf("playlist: %d, %d signed URLs", w.Code, bytes.Count(w.Body.Bytes(), []byte("sig=")))
	}
}

// Rewriting a one-hour VOD playlist on the local store costs one read and
// one batched signing round trip, for 601 URLs.
func TestPlaybackVODProviderCalls(t *testing.T) {
	h, c, _, link, _ := playBench(t)
	c.reads.Store(0)
	c.batches.Store(0)
	c.gets.Store(0)
	c.heads.Store(0)
	playVOD(t, h, link)
	if c.reads.Load() != 1 || c.batches.Load() != 1 || c.total() != 2 {
		t.Fatalf("%d reads, %d SignGets, %d SignGet, %d Head; want one read and one SignGets", c.reads.Load(), c.batches.Load(), c.gets.Load(), c.heads.Load())
	}
}

// BenchmarkPlayback measures, side by side on the local store in process,
// a plain media data request (Head and SignGet: GET .../objects/KEY) and a
// playback link to a one-hour VOD playlist (ReadObject, then 601 GETs
// signed in one SignGets call, and the rewrite).
func BenchmarkPlayback(b *testing.B) {
	h, c, tok, link, dataPath := playBench(b)
	b.Run("media_data", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r := httptest.NewRequest(http.MethodGet, dataPath, nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				b.Fatalf("media data: %d %s", w.Code, w.Body)
			}
		}
	})
	b.Run("vod_playlist_600", func(b *testing.B) {
		b.ReportAllocs()
		before := c.total()
		for b.Loop() {
			playVOD(b, h, link)
		}
		b.ReportMetric(float64(c.total()-before)/float64(b.N), "provider_calls/op")
	})
}
