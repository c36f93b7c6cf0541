package gcsproxy

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/storage"

	"github.com/valetgw/valet/providers/providertest"
)

const email = "proxy-test@example-project.iam.gserviceaccount.com"

// fakeUpstream stands in for fake-gcs-server: it records what reached it
// and answers the JSON API existence check for objects in exists.
type fakeUpstream struct {
	mu     sync.Mutex
	got    []string
	exists map[string]bool
}

func (f *fakeUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/storage/v1/b/") {
		name := r.URL.Path[strings.Index(r.URL.Path, "/o/")+3:]
		if f.exists[name] {
			w.Write([]byte(`{}`))
			return
		}
		http.NotFound(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.got = append(f.got, r.Method+" "+r.Host+" "+r.URL.Path+" "+string(body))
	f.mu.Unlock()
	w.Header().Set("Access-Control-Allow-Origin", "*")
	if r.Method == http.MethodPut {
		sum := md5.Sum(body)
		fmt.Fprintf(w, `{"md5Hash":%q}`, base64.StdEncoding.EncodeToString(sum[:]))
		return
	}
	w.Write([]byte("object-bytes"))
}

type rig struct {
	key    *rsa.PrivateKey
	up     *fakeUpstream
	upSrv  *httptest.Server
	proxy  *Proxy
	srv    *httptest.Server
	now    time.Time
	nowMu  sync.Mutex
	secret string
}

func newRig(t *testing.T) *rig {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rg := &rig{key: key, up: &fakeUpstream{exists: map[string]bool{"taken.txt": true}}, secret: "hmac/secret+value="}
	rg.upSrv = httptest.NewServer(rg.up)
	t.Cleanup(rg.upSrv.Close)
	rg.proxy, err = New(Options{
		Upstream:       rg.upSrv.URL,
		Keys:           Keys{RSA: map[string]*rsa.PublicKey{email: &key.PublicKey}, HMAC: map[string]string{"GOOG1HMACID": rg.secret}},
		Now:            rg.clock,
		AllowedOrigins: []string{"http://app.test"},
	})
	if err != nil {
		t.Fatal(err)
	}
	rg.srv = httptest.NewServer(rg.proxy)
	t.Cleanup(rg.srv.Close)
	return rg
}

func (rg *rig) clock() time.Time {
	rg.nowMu.Lock()
	defer rg.nowMu.Unlock()
	if rg.now.IsZero() {
		return time.Now()
	}
	return rg.now
}

func (rg *rig) setNow(t time.Time) { rg.nowMu.Lock(); rg.now = t; rg.nowMu.Unlock() }

// sign uses the official Go SDK, which shares no code with the verifier.
func (rg *rig) sign(t *testing.T, method, object string, o storage.SignedURLOptions) string {
	t.Helper()
	der, _ := x509.MarshalPKCS8PrivateKey(rg.key)
	o.GoogleAccessID = email
	o.PrivateKey = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	o.Method = method
	o.Scheme = storage.SigningSchemeV4
	o.Insecure = true
	o.Hostname = strings.TrimPrefix(rg.srv.URL, "http://")
	if o.Expires.IsZero() {
		o.Expires = time.Now().Add(10 * time.Minute)
	}
	u, err := storage.SignedURL("bkt", object, &o)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// do sends a request as a browser would (providertest.SendAs).
func do(t *testing.T, method, u string, hdr map[string]string, body string) providertest.Response {
	t.Helper()
	return providertest.SendAs(t, nil, method, u, hdr, []byte(body), nil)
}

func setParam(u, k, v string) string {
	p, _ := url.Parse(u)
	q := p.Query()
	q.Set(k, v)
	p.RawQuery = q.Encode()
	return p.String()
}

func expectRejected(t *testing.T, resp providertest.Response, status int, check Check) {
	t.Helper()
	if resp.Status != status || resp.Header.Get(CheckHeader) != string(check) {
		t.Fatalf("got %d (check %q), want %d rejected by the proxy's %q check", resp.Status, resp.Header.Get(CheckHeader), status, check)
	}
}

func TestProxyAcceptsValidAndForwards(t *testing.T) {
	rg := newRig(t)
	u := rg.sign(t, "PUT", "dir/a b+c~ü.txt", storage.SignedURLOptions{ContentType: "text/plain", Headers: []string{"x-goog-meta-owner:alice"}})
	resp := do(t, "PUT", u, map[string]string{"Content-Type": "text/plain", "x-goog-meta-owner": "alice"}, "hello")
	if resp.Status != 200 {
		t.Fatalf("valid PUT: %d %s", resp.Status, resp.Header.Get(CheckHeader))
	}
	if want := `"` + hex.EncodeToString(md5sum("hello")) + `"`; resp.Header.Get("ETag") != want {
		t.Fatalf("ETag %q, want %q (added from the upload's md5)", resp.Header.Get("ETag"), want)
	}
	up := strings.TrimPrefix(rg.upSrv.URL, "http://")
	if len(rg.up.got) != 1 || rg.up.got[0] != "PUT "+up+" /bkt/dir/a b+c~ü.txt hello" {
		t.Fatalf("upstream saw %q; want the request with Host rewritten to %s", rg.up.got, up)
	}
}

func TestProxyRejects(t *testing.T) {
	rg := newRig(t)
	get := rg.sign(t, "GET", "k.txt", storage.SignedURLOptions{QueryParameters: url.Values{"response-content-disposition": {`attachment; filename="a b.txt"`}}})
	put := rg.sign(t, "PUT", "k.txt", storage.SignedURLOptions{ContentType: "video/mp4", Headers: []string{"x-goog-if-generation-match:0"}})
	putHdr := map[string]string{"Content-Type": "video/mp4", "x-goog-if-generation-match": "0"}

	if r := do(t, "GET", get, nil, ""); r.Status != 200 {
		t.Fatalf("control GET: %d %s", r.Status, r.Header.Get(CheckHeader))
	}
	if r := do(t, "PUT", put, putHdr, "x"); r.Status != 200 {
		t.Fatalf("control PUT: %d %s", r.Status, r.Header.Get(CheckHeader))
	}
	cases := []struct {
		name   string
		method string
		url    string
		hdr    map[string]string
		status int
		check  Check
	}{
		{"wrong method GET url as PUT", "PUT", get, nil, 403, CheckSignature},
		{"wrong method GET url as DELETE", "DELETE", get, nil, 403, CheckSignature},
		{"wrong method PUT url as GET", "GET", put, putHdr, 403, CheckSignature},
		{"wrong content type", "PUT", put, map[string]string{"Content-Type": "text/html", "x-goog-if-generation-match": "0"}, 403, CheckSignature},
		{"dropped signed header", "PUT", put, map[string]string{"Content-Type": "video/mp4"}, 403, CheckSignedHeader},
		{"changed key", "GET", strings.Replace(get, "/k.txt", "/other.txt", 1), nil, 403, CheckSignature},
		{"changed expiry", "GET", setParam(get, "X-Goog-Expires", "604800"), nil, 403, CheckSignature},
		{"changed signature", "GET", flipSig(get), nil, 403, CheckSignature},
		{"tampered rcd", "GET", setParam(get, "response-content-disposition", `attachment; filename="evil.exe"`), nil, 403, CheckSignature},
		{"added response param", "GET", setParam(get, "response-content-type", "text/html"), nil, 403, CheckSignature},
		{"changed date", "GET", setParam(get, "X-Goog-Date", time.Now().UTC().Add(time.Minute).Format(isoFormat)), nil, 403, CheckSignature},
		{"unknown credential", "GET", setParam(get, "X-Goog-Credential", strings.Replace(url.Values(mustQuery(get)).Get("X-Goog-Credential"), "proxy-test", "someone", 1)), nil, 403, CheckCredential},
		{"missing signature", "GET", strings.Split(get, "&X-Goog-Signature")[0], nil, 400, CheckMalformed},
		{"unsigned", "GET", rg.srv.URL + "/bkt/k.txt", nil, 403, CheckUnsigned},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			expectRejected(t, do(t, tc.method, tc.url, tc.hdr, "x"), tc.status, tc.check)
		})
	}
	t.Run("expired", func(t *testing.T) {
		short := rg.sign(t, "GET", "k.txt", storage.SignedURLOptions{Expires: time.Now().Add(61 * time.Second)})
		d, _ := time.Parse(isoFormat, mustQuery(short).Get("X-Goog-Date"))
		rg.setNow(d.Add(59 * time.Second))
		if r := do(t, "GET", short, nil, ""); r.Status != 200 {
			t.Fatalf("before expiry: %d", r.Status)
		}
		rg.setNow(d.Add(61 * time.Second))
		defer rg.setNow(time.Time{})
		expectRejected(t, do(t, "GET", short, nil, ""), 400, CheckExpired)
	})
	if n := len(rg.up.got); n != 3 {
		t.Fatalf("%d requests reached the upstream, want only the 3 valid ones: %q", n, rg.up.got)
	}
}

func TestProxyEnforcesWhatFakeGCSIgnores(t *testing.T) {
	rg := newRig(t)
	t.Run("proxy create-only 412", func(t *testing.T) {
		u := rg.sign(t, "PUT", "taken.txt", storage.SignedURLOptions{Headers: []string{"x-goog-if-generation-match:0"}})
		expectRejected(t, do(t, "PUT", u, map[string]string{"x-goog-if-generation-match": "0"}, "x"), 412, CheckPrecondition)
	})
	t.Run("proxy Content-MD5 400 BadDigest", func(t *testing.T) {
		sum := base64.StdEncoding.EncodeToString(md5sum("right"))
		u := rg.sign(t, "PUT", "m.txt", storage.SignedURLOptions{MD5: sum})
		expectRejected(t, do(t, "PUT", u, map[string]string{"Content-MD5": sum}, "wrong"), 400, CheckDigest)
		if r := do(t, "PUT", u, map[string]string{"Content-MD5": sum}, "right"); r.Status != 200 {
			t.Fatalf("right body: %d", r.Status)
		}
	})
	t.Run("proxy x-goog-hash crc32c 400 BadDigest", func(t *testing.T) {
		crc := "zM3bHQ==" // not the CRC32C of "data"
		u := rg.sign(t, "PUT", "c.txt", storage.SignedURLOptions{Headers: []string{"x-goog-hash:crc32c=" + crc}})
		expectRejected(t, do(t, "PUT", u, map[string]string{"x-goog-hash": "crc32c=" + crc}, "data"), 400, CheckDigest)
	})
}

func TestProxyHMAC(t *testing.T) {
	rg := newRig(t)
	host := strings.TrimPrefix(rg.srv.URL, "http://")
	u := hmacURL("GOOG1HMACID", rg.secret, "PUT", host, "/bkt/h ü.txt", "content-type:text/plain", time.Now())
	if r := do(t, "PUT", u, map[string]string{"Content-Type": "text/plain"}, "hi"); r.Status != 200 {
		t.Fatalf("valid HMAC PUT: %d %s", r.Status, r.Header.Get(CheckHeader))
	}
	expectRejected(t, do(t, "PUT", u, map[string]string{"Content-Type": "text/html"}, "hi"), 403, CheckSignature)
	bad := hmacURL("GOOG1HMACID", "wrong-secret", "PUT", host, "/bkt/h ü.txt", "content-type:text/plain", time.Now())
	expectRejected(t, do(t, "PUT", bad, map[string]string{"Content-Type": "text/plain"}, "hi"), 403, CheckSignature)
}

func TestProxyCORS(t *testing.T) {
	rg := newRig(t)
	pre := func(origin string) providertest.Response {
		return do(t, "OPTIONS", rg.srv.URL+"/bkt/k", map[string]string{
			"Origin":                         origin,
			"Access-Control-Request-Method":  "PUT",
			"Access-Control-Request-Headers": "content-type,x-goog-if-generation-match",
		}, "")
	}
	if r := pre("http://app.test"); r.Status != 200 || r.Header.Get("Access-Control-Allow-Origin") != "http://app.test" ||
		r.Header.Get("Access-Control-Allow-Headers") != "content-type,x-goog-if-generation-match" {
		t.Fatalf("allowed preflight: %d %v", r.Status, r.Header)
	}
	expectRejected(t, pre("http://evil.test"), 403, CheckCORS)
	u := rg.sign(t, "GET", "k", storage.SignedURLOptions{})
	r := do(t, "GET", u, map[string]string{"Origin": "http://app.test"}, "")
	if r.Header.Get("Access-Control-Allow-Origin") != "http://app.test" || !strings.Contains(r.Header.Get("Access-Control-Expose-Headers"), "ETag") {
		t.Fatalf("GET CORS headers: %v", r.Header)
	}
	r = do(t, "GET", u, map[string]string{"Origin": "http://evil.test"}, "")
	if v := r.Header.Values("Access-Control-Allow-Origin"); len(v) != 0 {
		t.Fatalf("disallowed origin got ACAO %q (fake-gcs's * must be dropped)", v)
	}
}

func md5sum(s string) []byte { b := md5.Sum([]byte(s)); return b[:] }

func mustQuery(u string) url.Values { p, _ := url.Parse(u); return p.Query() }

func flipSig(u string) string {
	sig := mustQuery(u).Get("X-Goog-Signature")
	b := []byte(sig)
	if b[10] == 'a' {
		b[10] = 'b'
	} else {
		b[10] = 'a'
	}
	return setParam(u, "X-Goog-Signature", string(b))
}

// hmacURL is a deliberately plain GOOG4-HMAC-SHA256 signer written from
// Google's documentation for this test (one signed header besides host).
func hmacURL(id, secret, method, host, path, header string, now time.Time) string {
	now = now.UTC()
	date, ts := now.Format("20060102"), now.Format(isoFormat)
	scope := date + "/auto/storage/goog4_request"
	hname, hval, _ := strings.Cut(header, ":")
	q := map[string]string{
		"X-Goog-Algorithm": "GOOG4-HMAC-SHA256", "X-Goog-Credential": id + "/" + scope,
		"X-Goog-Date": ts, "X-Goog-Expires": "600", "X-Goog-SignedHeaders": hname + ";host",
	}
	var qs []string
	for _, k := range slices.Sorted(maps.Keys(q)) {
		qs = append(qs, k+"="+strings.ReplaceAll(url.QueryEscape(q[k]), "+", "%20"))
	}
	epath := strings.ReplaceAll(url.PathEscape(path), "%2F", "/")
	hostOnly, _, _ := strings.Cut(host, ":")
	cr := strings.Join([]string{method, epath, strings.Join(qs, "&"), hname + ":" + hval + "\nhost:" + hostOnly + "\n", hname + ";host", "UNSIGNED-PAYLOAD"}, "\n")
	h := sha256.Sum256([]byte(cr))
	sts := "GOOG4-HMAC-SHA256\n" + ts + "\n" + scope + "\n" + hex.EncodeToString(h[:])
	mac := func(k []byte, d string) []byte { m := hmac.New(sha256.New, k); m.Write([]byte(d)); return m.Sum(nil) }
	k := mac(mac(mac(mac([]byte("GOOG4"+secret), date), "auto"), "storage"), "goog4_request")
	return "http://" + host + epath + "?" + strings.Join(qs, "&") + "&X-Goog-Signature=" + hex.EncodeToString(mac(k, sts))
}
