package local

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valetgw/valet/providers"
	"github.com/valetgw/valet/providers/providertest"
)

func newLocal(t *testing.T, edit func(cfg map[string]any)) (*Provider, string) {
	t.Helper()
	p := NewWithClock(time.Now)
	cfg := testConfig(t)
	if edit != nil {
		edit(cfg)
	}
	configure(t, p, cfg)
	return p, cfg["root"].(string)
}

// do sends one request as a browser would (providertest.SendAs) and
// returns the answer and its body.
func do(t *testing.T, method, url string, hdr map[string]string, body []byte) (providertest.Response, []byte) {
	t.Helper()
	res := providertest.SendAs(t, nil, method, url, hdr, body, nil)
	return res, res.Body
}

func putObject(t *testing.T, p *Provider, key, ct string, body []byte, meta map[string]string) {
	t.Helper()
	r, err := p.SignPut(t.Context(), providers.PutRequest{Key: key, ContentType: ct, Size: int64(len(body)), Metadata: meta, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if res, b := do(t, r.Method, r.URL, r.Headers, body); res.Status != 200 {
		t.Fatalf("PUT: %d %s", res.Status, b)
	}
}

func errorCode(t *testing.T, res providertest.Response, body []byte) string {
	t.Helper()
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error body type %q, want application/json: %s", ct, body)
	}
	var e apiError
	if err := json.Unmarshal(body, &e); err != nil || e.Code == "" || e.Message == "" {
		t.Fatalf("error body %q is not {code, message}", body)
	}
	return e.Code
}

func TestPutRejections(t *testing.T) {
	p, root := newLocal(t, nil)
	body := []byte("hello, world")
	sum := sha256.Sum256(body)
	sign := func(req providers.PutRequest) providers.Recipe {
		req.Key, req.TTL = "k/obj.txt", time.Minute
		if req.ContentType == "" {
			req.ContentType = "text/plain"
		}
		if req.Size == 0 {
			req.Size = int64(len(body))
		}
		r, err := p.SignPut(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, tc := range []struct {
		name   string
		r      providers.Recipe
		hdr    map[string]string
		body   []byte
		status int
		code   string
	}{
		{"wrong type", sign(providers.PutRequest{}), map[string]string{"Content-Type": "text/html"}, body, 400, "ContentTypeMismatch"},
		{"no type", sign(providers.PutRequest{}), map[string]string{"Content-Type": ""}, body, 400, "ContentTypeMismatch"},
		{"too long", sign(providers.PutRequest{}), nil, append(bytes.Clone(body), '!'), 400, "ContentLengthMismatch"},
		{"too short", sign(providers.PutRequest{}), nil, body[1:], 400, "ContentLengthMismatch"},
		{"bad digest", sign(providers.PutRequest{Checksum: &providers.Checksum{Algorithm: providers.SHA256,
			Value: base64.StdEncoding.EncodeToString(make([]byte, 32))}}), nil, body, 400, "BadDigest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{}
			for k, v := range tc.r.Headers {
				hdr[k] = v
			}
			for k, v := range tc.hdr {
				hdr[k] = v
			}
			res, b := do(t, tc.r.Method, tc.r.URL, hdr, tc.body)
			if res.Status != tc.status || errorCode(t, res, b) != tc.code {
				t.Fatalf("got %d %s, want %d %s", res.Status, b, tc.status, tc.code)
			}
			if _, err := p.Head(t.Context(), providers.HeadRequest{Key: "k/obj.txt"}); err == nil {
				t.Fatal("a rejected PUT left an object")
			}
		})
	}
	// The right body with the signed digest works, and records the digest.
	r := sign(providers.PutRequest{Checksum: &providers.Checksum{Algorithm: providers.SHA256, Value: base64.StdEncoding.EncodeToString(sum[:])}})
	if res, b := do(t, r.Method, r.URL, r.Headers, body); res.Status != 200 {
		t.Fatalf("good PUT: %d %s", res.Status, b)
	}
	obj, err := p.Head(t.Context(), providers.HeadRequest{Key: "k/obj.txt"})
	if err != nil || obj.Checksums[providers.SHA256] != base64.StdEncoding.EncodeToString(sum[:]) {
		t.Fatalf("Head = %+v, %v", obj, err)
	}
	// Nothing was left in temp or blobs by the rejected ones.
	if n := countFiles(t, filepath.Join(root, "blobs")); n != 1 {
		t.Errorf("%d blobs, want 1", n)
	}
	if n := countTemps(t, root); n != 0 {
		t.Errorf("%d temp files left", n)
	}
}

func countTemps(t *testing.T, root string) int {
	n := 0
	dirs, _ := os.ReadDir(filepath.Join(root, "tmp"))
	for _, d := range dirs {
		if d.IsDir() {
			n += countFiles(t, filepath.Join(root, "tmp", d.Name()))
		}
	}
	return n
}

// A body whose Content-Length disagrees with the signature is refused
// before it is read: the answer comes back while the client is still
// holding the rest of the body.
func TestPutRefusedBeforeReading(t *testing.T) {
	p, _ := newLocal(t, nil)
	r, _ := p.SignPut(t.Context(), providers.PutRequest{Key: "big", ContentType: "a/b", Size: 10, TTL: time.Minute})
	conn, err := net.Dial("tcp", strings.TrimPrefix(p.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	path := r.URL[len(p.URL()):]
	fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: x\r\nContent-Type: a/b\r\nContent-Length: 1073741824\r\n\r\n", path)
	conn.Write(make([]byte, 1024)) // 1 KiB of a declared 1 GiB
	// Generous for a loaded machine: the client never sends more, so only
	// an answer given before reading can arrive at all.
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	line, err := readLine(conn)
	if err != nil || !strings.Contains(line, " 400 ") {
		t.Fatalf("status line %q, %v; want 400 before the body is sent", line, err)
	}
}

func readLine(c net.Conn) (string, error) {
	var b []byte
	one := make([]byte, 1)
	for {
		if _, err := c.Read(one); err != nil {
			return string(b), err
		}
		if one[0] == '\n' {
			return string(b), nil
		}
		b = append(b, one[0])
	}
}

// A client that disconnects mid-body leaves no object and no temp file.
func TestPutCutShort(t *testing.T) {
	p, root := newLocal(t, nil)
	r, _ := p.SignPut(t.Context(), providers.PutRequest{Key: "cut", ContentType: "a/b", Size: 1 << 20, TTL: time.Minute})
	conn, err := net.Dial("tcp", strings.TrimPrefix(p.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: x\r\nContent-Type: a/b\r\nContent-Length: %d\r\n\r\n", r.URL[len(p.URL()):], 1<<20)
	conn.Write(make([]byte, 512<<10))
	// Cut only once the body is streaming into a temp file; cutting earlier
	// would find no temp file to clean up and prove nothing.
	for deadline := time.Now().Add(30 * time.Second); countTemps(t, root) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the body never reached a temp file")
		}
	}
	conn.Close()
	deadline := time.Now().Add(30 * time.Second)
	for countTemps(t, root) != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := countTemps(t, root); n != 0 {
		t.Fatalf("%d temp files after a cut upload", n)
	}
	if _, err := p.Head(t.Context(), providers.HeadRequest{Key: "cut"}); err == nil {
		t.Fatal("a cut upload is visible")
	}
}

// Concurrent PUTs to one key never mix: the object is exactly one of the
// bodies, and only its blob remains.
func TestConcurrentPuts(t *testing.T) {
	p, root := newLocal(t, nil)
	const n, size = 6, 256 << 10
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			putObject(t, p, "race/obj", "application/octet-stream", bytes.Repeat([]byte{byte('a' + i)}, size), nil)
		}()
	}
	wg.Wait()
	g, _ := p.SignGet(t.Context(), providers.GetRequest{Key: "race/obj", TTL: time.Minute})
	res, b := do(t, "GET", g.URL, nil, nil)
	if res.Status != 200 || len(b) != size || !bytes.Equal(b, bytes.Repeat(b[:1], size)) {
		t.Fatalf("GET after concurrent PUTs: %d, %d bytes, mixed=%v", res.Status, len(b), !bytes.Equal(b, bytes.Repeat(b[:1], size)))
	}
	if c := countFiles(t, filepath.Join(root, "blobs")); c != 1 {
		t.Fatalf("%d blobs after concurrent overwrites, want 1", c)
	}
}

func TestGetConditionalAndRange(t *testing.T) {
	p, _ := newLocal(t, nil)
	body := []byte("0123456789")
	putObject(t, p, "c/obj.txt", "text/plain", body, map[string]string{"owner": "ann"})
	g, _ := p.SignGet(t.Context(), providers.GetRequest{Key: "c/obj.txt", TTL: time.Minute})

	res, b := do(t, "GET", g.URL, nil, nil)
	etag, lm := res.Header.Get("ETag"), res.Header.Get("Last-Modified")
	if res.Status != 200 || string(b) != string(body) || etag == "" || lm == "" ||
		res.Header.Get("Content-Type") != "text/plain" || res.Header.Get("X-Valet-Meta-Owner") != "ann" {
		t.Fatalf("GET: %d %q headers %v", res.Status, b, res.Header)
	}
	if res, _ := do(t, "GET", g.URL, map[string]string{"If-None-Match": etag}, nil); res.Status != 304 {
		t.Errorf("If-None-Match: %d, want 304", res.Status)
	}
	if res, _ := do(t, "GET", g.URL, map[string]string{"If-None-Match": `"other"`}, nil); res.Status != 200 {
		t.Errorf("If-None-Match other: %d, want 200", res.Status)
	}
	if res, _ := do(t, "GET", g.URL, map[string]string{"If-Modified-Since": time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}, nil); res.Status != 304 {
		t.Errorf("If-Modified-Since: %d, want 304", res.Status)
	}
	if res, b := do(t, "GET", g.URL, map[string]string{"Range": "bytes=2-4"}, nil); res.Status != 206 || string(b) != "234" {
		t.Errorf("Range: %d %q", res.Status, b)
	}
	if res, _ := do(t, "GET", g.URL, map[string]string{"Range": "bytes=50-60"}, nil); res.Status != 416 {
		t.Errorf("unsatisfiable Range: %d, want 416", res.Status)
	}
	res, b = do(t, "HEAD", g.URL, nil, nil)
	if res.Status != 200 || len(b) != 0 || res.Header.Get("Content-Length") != "10" || res.Header.Get("X-Valet-Meta-Owner") != "ann" {
		t.Errorf("HEAD: %d len %s meta %q", res.Status, res.Header.Get("Content-Length"), res.Header.Get("X-Valet-Meta-Owner"))
	}
	// Unsigned and expired requests get a JSON error.
	res, b = do(t, "GET", p.URL()+"/o/c/obj.txt", nil, nil)
	if res.Status != 403 || errorCode(t, res, b) != "MissingSignature" {
		t.Errorf("unsigned GET: %d %s", res.Status, b)
	}
}

func TestCreateOnlyRace(t *testing.T) {
	p, _ := newLocal(t, nil)
	const n = 6
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := range n {
		r, err := p.SignPut(t.Context(), providers.PutRequest{Key: "once", ContentType: "a/b", Size: 4, CreateOnly: true, TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, _ := do(t, r.Method, r.URL, r.Headers, []byte(fmt.Sprintf("w%03d", i)))
			mu.Lock()
			codes[res.Status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[200] != 1 || codes[412] != n-1 {
		t.Fatalf("create-only race: statuses %v, want one 200 and %d 412", codes, n-1)
	}
}

func TestCORS(t *testing.T) {
	p, _ := newLocal(t, func(c map[string]any) { c["cors_origins"] = []string{"http://app.test"} })
	putObject(t, p, "cors.txt", "text/plain", []byte("x"), nil)
	r, _ := p.SignPut(t.Context(), providers.PutRequest{Key: "cors2.txt", ContentType: "text/plain", Size: 1, TTL: time.Minute})
	pre := func(origin, method, headers string) providertest.Response {
		res, _ := do(t, "OPTIONS", r.URL, map[string]string{"Origin": origin,
			"Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers}, nil)
		return res
	}
	res := pre("http://app.test", "PUT", "content-type")
	if res.Status != 204 || res.Header.Get("Access-Control-Allow-Origin") != "http://app.test" ||
		!strings.Contains(res.Header.Get("Access-Control-Allow-Methods"), "PUT") ||
		res.Header.Get("Access-Control-Allow-Headers") != "content-type" {
		t.Fatalf("allowed preflight: %d %v", res.Status, res.Header)
	}
	if res := pre("http://evil.test", "PUT", "content-type"); res.Status != 403 || res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("foreign origin preflight: %d %v", res.Status, res.Header)
	}
	if res := pre("http://app.test", "PUT", "x-custom"); res.Status != 403 {
		t.Fatalf("unknown header preflight: %d", res.Status)
	}
	g, _ := p.SignGet(t.Context(), providers.GetRequest{Key: "cors.txt", TTL: time.Minute})
	res, _ = do(t, "GET", g.URL, map[string]string{"Origin": "http://app.test"}, nil)
	if res.Header.Get("Access-Control-Allow-Origin") != "http://app.test" || !strings.Contains(res.Header.Get("Access-Control-Expose-Headers"), "ETag") {
		t.Fatalf("GET CORS headers: %v", res.Header)
	}
}

// Objects are served as inert documents: whatever their type (an SVG with
// script here, or HTML by a response type override), every answer about an
// object carries Content-Security-Policy: sandbox and nosniff, so opening a
// signed URL never runs script on the store's origin.
func TestObjectResponsesAreSandboxed(t *testing.T) {
	p, _ := newLocal(t, nil)
	svg := []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.domain)"><script>alert(1)</script></svg>`)
	putObject(t, p, "active/x.svg", "image/svg+xml", svg, nil)
	g, _ := p.SignGet(t.Context(), providers.GetRequest{Key: "active/x.svg", TTL: time.Hour})
	html, _ := p.SignGet(t.Context(), providers.GetRequest{Key: "active/x.svg", TTL: time.Hour, ResponseContentType: "text/html"})
	missing, _ := p.SignGet(t.Context(), providers.GetRequest{Key: "active/none.svg", TTL: time.Hour})
	res, _ := do(t, "GET", g.URL, nil, nil)
	etag := res.Header.Get("ETag")
	for _, tc := range []struct {
		name, method, url string
		hdr               map[string]string
		status            int
	}{
		{"GET", "GET", g.URL, nil, 200},
		{"HEAD", "HEAD", g.URL, nil, 200},
		{"range", "GET", g.URL, map[string]string{"Range": "bytes=0-9"}, 206},
		{"not modified", "GET", g.URL, map[string]string{"If-None-Match": etag}, 304},
		{"unsatisfiable range", "GET", g.URL, map[string]string{"Range": "bytes=5000-"}, 416},
		{"type override", "GET", html.URL, nil, 200},
		{"missing object", "GET", missing.URL, nil, 404},
	} {
		res, b := do(t, tc.method, tc.url, tc.hdr, nil)
		if res.Status != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.name, res.Status, tc.status, b)
			continue
		}
		if csp := res.Header.Values("Content-Security-Policy"); len(csp) != 1 || csp[0] != "sandbox" {
			t.Errorf("%s: Content-Security-Policy %q, want sandbox", tc.name, csp)
		}
		if v := res.Header.Get("X-Content-Type-Options"); v != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q, want nosniff", tc.name, v)
		}
	}
}
