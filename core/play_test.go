package core

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/valetgw/valet/core/hls"
	"github.com/valetgw/valet/internal/testenv"
	"github.com/valetgw/valet/providers"
)

func init() {
	// The harness validates every answer against openapi.json.
	openapi3filter.RegisterBodyDecoder(hls.ContentType, openapi3filter.PlainBodyDecoder)
}

// callCounter counts a provider's calls a playback request makes, by
// method, keeping its Reader and GetSigner.
type callCounter struct {
	providers.Provider
	signGet, signGets, read, head atomic.Int64
}

func (c *callCounter) SignGet(ctx context.Context, req providers.GetRequest) (providers.Recipe, error) {
	c.signGet.Add(1)
	return c.Provider.SignGet(ctx, req)
}

func (c *callCounter) SignGets(ctx context.Context, req providers.SignGetsRequest) (providers.SignGetsResult, error) {
	c.signGets.Add(1)
	return c.Provider.(providers.GetSigner).SignGets(ctx, req)
}

func (c *callCounter) ReadObject(ctx context.Context, req providers.ReadObjectRequest) (providers.ReadObjectResult, error) {
	c.read.Add(1)
	return c.Provider.(providers.Reader).ReadObject(ctx, req)
}

func (c *callCounter) Head(ctx context.Context, req providers.HeadRequest) (providers.Object, error) {
	c.head.Add(1)
	return c.Provider.Head(ctx, req)
}

func (c *callCounter) reset() {
	c.signGet.Store(0)
	c.signGets.Store(0)
	c.read.Store(0)
	c.head.Store(0)
}

func (c *callCounter) total() int64 {
	return c.read.Load() + c.signGets.Load() + c.signGet.Load() + c.head.Load()
}

func newPlayHarness(t *testing.T) (*harness, *callCounter) {
	t.Helper()
	fake := newFake(t)
	cp := &callCounter{Provider: fake}
	h := &harness{t: t, fake: fake, cfg: testConfig(t, ""), logs: &testenv.Buffer{}}
	return h.start(cp), cp
}

// playbackURL asks for key's media data as who and returns its
// playback_url, as a path on h's server.
func playbackURL(t *testing.T, h *harness, who, key string) string {
	t.Helper()
	r := h.do("GET", "/v1/stores/media/objects/"+escapeKey(key), who, nil)
	if r.status != 200 {
		t.Fatalf("media data for %s: %d %s", key, r.status, r.body)
	}
	j := r.json(t)
	pu, _ := j["playback_url"].(string)
	if pu == "" || j["playback_expires_at"] == nil {
		t.Fatalf("no playback_url for %s: %s", key, r.body)
	}
	if !strings.HasPrefix(pu, h.http.URL+PlaybackPath+"/media/p1.") {
		t.Fatalf("playback_url %q is not a playback link of %s", pu, h.http.URL)
	}
	return strings.TrimPrefix(pu, h.http.URL)
}

// token is the token segment of a playback link path.
func tokenOf(path string) string {
	return strings.Split(strings.TrimPrefix(path, PlaybackPath+"/"), "/")[1]
}

func TestPlaybackLink(t *testing.T) {
	h, _ := newPlayHarness(t)
	alice := h.token("alice", nil)
	key, other := "users/alice/u1/clip.mp4", "users/alice/u1/other.mp4"
	h.fake.PutObject(key, []byte("clip bytes"), "video/mp4", time.Now())
	h.fake.PutObject(other, []byte("other bytes"), "video/mp4", time.Now())
	link := playbackURL(t, h, alice, key)
	tok := tokenOf(link)

	// No Authorization: the token is the grant.
	r := h.do("GET", link, "", nil)
	if r.status != http.StatusFound || r.header.Get("Cache-Control") != "private, no-store" || r.header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("playback link: %d %v %s", r.status, r.header, r.body)
	}
	if st, body := get(t, r.header.Get("Location")); st != 200 || string(body) != "clip bytes" {
		t.Fatalf("redirected GET: %d %q", st, body)
	}
	if r := h.do("HEAD", link, "", nil); r.status != http.StatusFound {
		t.Fatalf("HEAD playback link: %d", r.status)
	}

	// A leaked token opens nothing else.
	refused := map[string]string{
		"another key":   strings.Replace(link, "/clip.mp4", "/other.mp4", 1),
		"an escape":     strings.Replace(link, "/clip.mp4", "/../u1/other.mp4", 1),
		"another store": strings.Replace(link, "/media/", "/other/", 1),
	}
	for _, pos := range []int{5, len(tok) / 2, len(tok) - 1} {
		b := []byte(tok)
		if b[pos] == 'A' {
			b[pos] = 'B'
		} else {
			b[pos] = 'A'
		}
		refused[fmt.Sprintf("byte %d changed", pos)] = strings.Replace(link, tok, string(b), 1)
	}
	for name, p := range refused {
		r := h.do("GET", p, "", nil)
		if r.status == http.StatusTemporaryRedirect { // the mux cleans "..", then the token refuses
			r = h.do("GET", r.header.Get("Location"), "", nil)
		}
		if r.status != http.StatusForbidden && r.status != http.StatusNotFound && (r.status != http.StatusBadRequest || r.code() != "invalid_key") {
			t.Errorf("%s: %d %s, want it refused", name, r.status, r.body)
		}
		if r.status == http.StatusFound {
			t.Errorf("%s: redirected to %s", name, r.header.Get("Location"))
		}
	}
	wantCode := func(r resp, status int, code string) {
		t.Helper()
		if r.status != status || !strings.Contains(string(r.body), `"code":"`+code+`"`) {
			t.Errorf("%d %s, want %d %s", r.status, r.body, status, code)
		}
	}
	wantCode(h.do("GET", refused["another key"], "", nil), http.StatusForbidden, "playback_denied")
	wantCode(h.do("GET", refused["byte 5 changed"], "", nil), http.StatusForbidden, "playback_denied")
	wantCode(h.do("GET", refused["another store"], "", nil), http.StatusNotFound, "store_not_found")

	// A second replica with the same tokens.secret opens it.
	h2 := &harness{t: t, fake: h.fake, cfg: testConfig(t, ""), logs: &testenv.Buffer{}}
	h2.start(h.fake)
	if r := h2.do("GET", link, "", nil); r.status != http.StatusFound {
		t.Fatalf("second replica: %d %s", r.status, r.body)
	}

	// After the store's playback_ttl (4h by default) it is refused.
	h.skew.Store(int64(4*time.Hour + time.Second))
	wantCode(h.do("GET", link, "", nil), http.StatusForbidden, "playback_expired")

	// Neither the token nor a signature is logged.
	if logs := h.logs.String(); strings.Contains(logs, tok) || !strings.Contains(logs, `"op":"object.play"`) {
		t.Errorf("the log holds the token or no object.play line:\n%s", logs)
	}
}

// hlsPackage stores an HLS package under dir: a master with a TS variant
// and an fMP4 variant (EXT-X-MAP), segments of n each.
func hlsPackage(h *harness, dir string, n int) {
	h.fake.PutObject(dir+"master.m3u8", []byte("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=200000\nts/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=400000\nfmp4/index.m3u8\n"), "application/vnd.apple.mpegurl", time.Now())
	var ts, fm strings.Builder
	ts.WriteString("#EXTM3U\n#EXT-X-TARGETDURATION:6\n")
	fm.WriteString("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:6\n#EXT-X-MAP:URI=\"init.mp4\"\n")
	for i := range n {
		fmt.Fprintf(&ts, "#EXTINF:6.0,\nseg%03d.ts\n", i)
		fmt.Fprintf(&fm, "#EXTINF:6.0,\nseg%03d.m4s\n", i)
		h.fake.PutObject(fmt.Sprintf("%sts/seg%03d.ts", dir, i), []byte(fmt.Sprintf("ts %d", i)), "video/mp2t", time.Now())
	}
	ts.WriteString("#EXT-X-ENDLIST\n")
	fm.WriteString("#EXT-X-ENDLIST\n")
	h.fake.PutObject(dir+"ts/index.m3u8", []byte(ts.String()), "application/vnd.apple.mpegurl", time.Now())
	h.fake.PutObject(dir+"fmp4/index.m3u8", []byte(fm.String()), "application/vnd.apple.mpegurl", time.Now())
}

func TestPlaybackHLS(t *testing.T) {
	h, cp := newPlayHarness(t)
	alice := h.token("alice", nil)
	dir := "users/alice/v1/"
	hlsPackage(h, dir, 600) // one hour of 6 s segments
	link := playbackURL(t, h, alice, dir+"master.m3u8")

	cp.reset()
	r := h.do("GET", link, "", nil)
	if r.status != 200 || r.header.Get("Content-Type") != hls.ContentType || r.header.Get("Cache-Control") != "private, no-store" {
		t.Fatalf("master: %d %v %s", r.status, r.header, r.body)
	}
	var children []string
	for _, line := range strings.Split(string(r.body), "\n") {
		if strings.HasPrefix(line, "http") {
			children = append(children, strings.TrimPrefix(line, h.http.URL))
		}
	}
	if len(children) != 2 || !strings.HasSuffix(children[0], "/ts/index.m3u8") || tokenOf(children[0]) != tokenOf(link) {
		t.Fatalf("master's children: %q", children)
	}
	if n := cp.signGets.Load() + cp.signGet.Load(); n != 0 {
		t.Errorf("a master with no media made %d signing calls", n)
	}

	// A variant of 600 segments: one read and one batched signing call.
	cp.reset()
	r = h.do("GET", children[0], "", nil)
	if r.status != 200 {
		t.Fatalf("variant: %d %s", r.status, r.body)
	}
	if cp.read.Load() != 1 || cp.signGets.Load() != 1 || cp.signGet.Load() != 0 || cp.head.Load() != 0 {
		t.Errorf("variant: %d reads, %d SignGets, %d SignGet, %d Head; want 1, 1, 0, 0", cp.read.Load(), cp.signGets.Load(), cp.signGet.Load(), cp.head.Load())
	}
	var segs []string
	for _, line := range strings.Split(string(r.body), "\n") {
		if strings.HasPrefix(line, h.fake.URL()) {
			segs = append(segs, line)
		}
	}
	if len(segs) != 600 {
		t.Fatalf("%d signed segment URLs, want 600", len(segs))
	}
	if st, body := get(t, segs[599]); st != 200 || string(body) != "ts 599" {
		t.Fatalf("last segment: %d %q", st, body)
	}
	// Signed until the token expires (4h), not for get_ttl (5m); the fake
	// clamps to its MaxExpiry of 2h.
	u, _ := url.Parse(segs[0])
	exp, err := strconv.ParseInt(u.Query().Get("exp"), 10, 64)
	if left := time.Until(time.Unix(exp, 0)); err != nil || left < 110*time.Minute || left > 2*time.Hour {
		t.Errorf("segment URL %s expires in %s, want the fake's MaxExpiry of 2h", u.Query().Get("exp"), left)
	}

	// The fMP4 variant signs its init section in the same batch.
	cp.reset()
	if r = h.do("GET", children[1], "", nil); r.status != 200 || !strings.Contains(string(r.body), `#EXT-X-MAP:URI="`+h.fake.URL()) || cp.signGets.Load() != 1 {
		t.Fatalf("fMP4 variant: %d, %d SignGets: %.300s", r.status, cp.signGets.Load(), r.body)
	}

	// CORS for the configured origin: hls.js fetches playlists with XHR.
	req, _ := http.NewRequest("GET", h.http.URL+link, nil)
	req.Header.Set("Origin", "http://app.test")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Header.Get("Access-Control-Allow-Origin") != "http://app.test" {
		t.Errorf("no CORS on a playback answer: %v", res.Header)
	}
}

func TestPlaybackHLSRefusals(t *testing.T) {
	h, cp := newPlayHarness(t)
	alice := h.token("alice", nil)
	dir := "users/alice/v2/"
	hlsPackage(h, dir, 3)
	h.fake.PutObject("users/alice/secret.mp4", []byte("not in the folder"), "video/mp4", time.Now())
	h.fake.PutObject(dir+"escape.m3u8", []byte("#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\n../secret.mp4\n#EXT-X-ENDLIST\n"), "application/vnd.apple.mpegurl", time.Now())
	h.fake.PutObject(dir+"other-host.m3u8", []byte("#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\nhttp://evil.test/seg.ts\n#EXT-X-ENDLIST\n"), "application/vnd.apple.mpegurl", time.Now())
	h.fake.PutObject(dir+"huge.m3u8", make([]byte, hls.MaxPlaylistBytes+1), "application/vnd.apple.mpegurl", time.Now())
	link := playbackURL(t, h, alice, dir+"master.m3u8")
	for _, name := range []string{"escape.m3u8", "other-host.m3u8", "huge.m3u8"} {
		cp.reset()
		r := h.do("GET", strings.Replace(link, "/master.m3u8", "/"+name, 1), "", nil)
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), `"code":"playlist_invalid"`) {
			t.Errorf("%s: %d %s, want 422 playlist_invalid", name, r.status, r.body)
		}
		if cp.signGets.Load()+cp.signGet.Load() != 0 {
			t.Errorf("%s: something was signed", name)
		}
	}
	// The folder token does not reach the parent folder.
	if r := h.do("GET", strings.Replace(link, "/v2/master.m3u8", "/secret.mp4", 1), "", nil); r.status != http.StatusForbidden {
		t.Errorf("parent folder's object: %d", r.status)
	}
	// A playlist at the store's root gets no playback link: its folder
	// would be the whole store.
	h.fake.PutObject("root.m3u8", []byte("#EXTM3U\n"), "application/vnd.apple.mpegurl", time.Now())
	admin := h.token("root", map[string]any{"role": "admin"})
	if r := h.do("GET", "/v1/stores/media/objects/root.m3u8", admin, nil); r.status != 200 || strings.Contains(string(r.body), "playback_url") {
		t.Errorf("root playlist: %d %s", r.status, r.body)
	}
}

// 1,500 media URIs take two provider calls of at most MaxSignGets each.
func TestPlaybackHLSBatches(t *testing.T) {
	h, cp := newPlayHarness(t)
	alice := h.token("alice", nil)
	dir := "users/alice/v3/"
	hlsPackage(h, dir, 1500)
	link := playbackURL(t, h, alice, dir+"ts/index.m3u8")
	cp.reset()
	r := h.do("GET", link, "", nil)
	if r.status != 200 || cp.signGets.Load() != 2 || strings.Count(string(r.body), h.fake.URL()) != 1500 {
		t.Fatalf("%d, %d SignGets, %d signed URLs", r.status, cp.signGets.Load(), strings.Count(string(r.body), h.fake.URL()))
	}
}

// access_token in the query works only with auth.query_access_token.
func TestQueryAccessToken(t *testing.T) {
	h := &harness{t: t, fake: newFake(t), cfg: testConfig(t, ""), logs: &testenv.Buffer{}}
	h.cfg.Auth.QueryAccessToken = true
	h.start(h.fake)
	alice := h.token("alice", nil)
	h.fake.PutObject("users/alice/q/a.mp4", []byte("x"), "video/mp4", time.Now())
	if r := h.do("GET", "/v1/stores/media/objects/users/alice/q/a.mp4?redirect=true&access_token="+alice, "", nil); r.status != http.StatusFound {
		t.Fatalf("with auth.query_access_token: %d %s", r.status, r.body)
	}
	off := newHarness(t, "")
	off.fake.PutObject("users/alice/q/a.mp4", []byte("x"), "video/mp4", time.Now())
	if r := off.do("GET", "/v1/stores/media/objects/users/alice/q/a.mp4?redirect=true&access_token="+alice, "", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("without it: %d %s", r.status, r.body)
	}
}
