package core

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/valetgw/valet/internal/testenv"
)

// playBench serves the test config on a local store in process (its
// calls counted), uploads the VOD playlist and a small file through the
// API, and returns the handler, a token, the playlist's playback link and
// the small file's media data path.
func playBench(tb testing.TB) (h http.Handler, c *callCounter, tok, link, dataPath string) {
	tb.Helper()
	c = &callCounter{Provider: benchLocal(tb)}
	h, tok = benchServer(tb, c, "")
	up := func(name string, data []byte) string {
		id, key := benchUpload(tb, h, tok, name, data)
		benchCall(tb, h, tok, http.MethodPost, "/v1/stores/media/uploads/"+id+"/complete", nil, http.StatusOK)
		return key
	}
	vod := up("index.m3u8", testenv.VODPlaylist())
	small := up("clip.mp4", []byte("a small file"))
	var j struct {
		PlaybackURL string `json:"playback_url"`
	}
	_ = json.Unmarshal(benchCall(tb, h, tok, http.MethodGet, "/v1/stores/media/objects/"+escapeKey(vod), nil, http.StatusOK), &j)
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
	c.reset()
	playVOD(t, h, link)
	if c.read.Load() != 1 || c.signGets.Load() != 1 || c.total() != 2 {
		t.Fatalf("%d reads, %d SignGets, %d SignGet, %d Head; want one read and one SignGets", c.read.Load(), c.signGets.Load(), c.signGet.Load(), c.head.Load())
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
			benchCall(b, h, tok, http.MethodGet, dataPath, nil, http.StatusOK)
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
