package providertest

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valetgw/valet/providers"
)

// Harness is what a provider's test hands to Run.
type Harness struct {
	// Provider is already configured for a store the suite may write to.
	Provider providers.Provider
	// Client sends the signed requests. nil means a plain client with
	// transparent compression turned off, so requests carry only the
	// recipe's headers plus what net/http always adds.
	Client *http.Client
	// Prefix is prepended to every key the suite creates, and should be
	// unique to this run (for example "providertest/" + a random id). Empty
	// means a random prefix chosen by the suite.
	Prefix string
	// PartSize is the multipart part size. 0 means
	// max(Info.Capabilities.MinPartSize, 5 MiB).
	PartSize int64
	// Rejected says whether a status code counts as the backend refusing a
	// request. nil means any 4xx.
	Rejected func(status int) bool

	// Config is the store config (StoreConfig.Config) Provider was
	// configured with. Given, the Configure checks run: an unknown key is
	// InvalidArgument naming it, and a second call with Config is
	// harmless. Nil skips them by name.
	Config json.RawMessage
	// SecretKeys name the config keys that take a secret inline, each also
	// accepted as KEY_file (see providers.Secret), such as "secret". For
	// each, the suite checks that giving both is refused.
	SecretKeys []string
	// Restart, when set, restarts the provider as a crash would, returning
	// once it serves again: the suite checks that the replayed Configure
	// gives a working store. plugintest.Run sets it (it kills the plugin
	// process; the host restarts it and replays the config).
	Restart func(t *testing.T)
	// CORSOrigin is an origin the store's config allows to use its signed
	// URLs from a browser, for a provider that serves its own URLs (or a
	// backend whose CORS rules the test set up). Given, the suite sends the
	// preflights a browser would and checks the answers; other origins must
	// not be allowed. Empty skips the CORS checks by name.
	CORSOrigin string
}

// Run runs the conformance suite against h.Provider as subtests of t.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.Provider == nil {
		t.Fatal("providertest: Harness.Provider is nil")
	}
	info, err := h.Provider.Info(t.Context())
	if err != nil {
		t.Fatalf("Info: %s", errText(err))
	}
	s := &suite{h: h, p: h.Provider, caps: info.Capabilities}
	s.mp, _ = h.Provider.(providers.Multipart)
	if s.caps.Multipart && s.mp == nil {
		t.Fatalf("providertest: provider %q claims Multipart but does not implement providers.Multipart", info.Name)
	}
	if _, ok := h.Provider.(providers.Reader); s.caps.Reader && !ok {
		t.Fatalf("providertest: provider %q claims Reader but does not implement providers.Reader", info.Name)
	}
	if _, ok := h.Provider.(providers.GetSigner); s.caps.SignGets && !ok {
		t.Fatalf("providertest: provider %q claims SignGets but does not implement providers.GetSigner", info.Name)
	}
	if _, ok := h.Provider.(providers.PostPolicySigner); s.caps.PostPolicy && !ok {
		t.Fatalf("providertest: provider %q claims PostPolicy but does not implement providers.PostPolicySigner", info.Name)
	}
	if s.h.Client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.DisableCompression = true
		s.h.Client = &http.Client{Transport: tr}
		t.Cleanup(tr.CloseIdleConnections)
	}
	if s.h.Rejected == nil {
		s.h.Rejected = func(status int) bool { return status >= 400 && status < 500 }
	}
	if s.h.Prefix == "" {
		s.h.Prefix = "providertest-" + randomID() + "/"
	}
	if s.h.PartSize == 0 {
		s.h.PartSize = max(s.caps.MinPartSize, 5<<20)
	}
	if !s.caps.SignPut || !s.caps.SignGet {
		t.Fatalf("providertest: provider %q must support SignPut and SignGet (caps: SignPut=%v SignGet=%v)",
			info.Name, s.caps.SignPut, s.caps.SignGet)
	}

	// Error codes first: every later check that tells a missing object or a
	// refusal by its code depends on them (see testErrorCodes).
	t.Run("ErrorCodes", s.testErrorCodes)
	t.Run("Configure", func(t *testing.T) {
		t.Run("UnknownKey", s.testConfigureUnknownKey)
		t.Run("SecretTwice", s.testConfigureSecretTwice)
		t.Run("Again", s.testConfigureAgain)
		t.Run("ReplayAfterRestart", s.testConfigureReplay)
	})
	t.Run("PutGetRoundTrip", s.testPutGetRoundTrip)
	t.Run("HeadMetadata", s.testHeadMetadata)
	t.Run("RangeGet", s.testRangeGet)
	t.Run("GetContentDisposition", s.testGetContentDisposition)
	t.Run("GetContentType", s.testGetContentType)
	t.Run("Expired", s.testExpired)
	t.Run("TamperedKey", s.testTamperedKey)
	t.Run("TamperedSignature", s.testTamperedSignature)
	t.Run("MissingSignature", s.testMissingSignature)
	t.Run("WrongMethod", s.testWrongMethod)
	t.Run("Binding", func(t *testing.T) {
		t.Run("ContentLength", s.testBindContentLength)
		t.Run("ContentType", s.testBindContentType)
		eachChecksum(t, s.testBindChecksum)
		t.Run("CreateOnly", s.testBindCreateOnly)
	})
	t.Run("List", s.testList)
	t.Run("Delete", s.testDelete)
	t.Run("SignDelete", s.testSignDelete)
	t.Run("Multipart", func(t *testing.T) {
		t.Run("Complete", s.testMultipartComplete)
		t.Run("MissingPart", s.testMultipartMissingPart)
		t.Run("Abort", s.testMultipartAbort)
		eachChecksum(t, s.testMultipartChecksum)
	})
	t.Run("ReadObject", s.testReadObject)
	t.Run("SignGets", s.testSignGets)
	t.Run("PostPolicy", s.testPostPolicy)
	t.Run("CORS", func(t *testing.T) {
		t.Run("Put", s.testCORSPut)
		t.Run("Get", s.testCORSGet)
		t.Run("OtherOrigin", s.testCORSOtherOrigin)
	})
	t.Run("CORSRules", s.testCORSRules)
}

// eachChecksum runs check for each algorithm, as ChecksumSHA256,
// ChecksumMD5 and ChecksumCRC32C.
func eachChecksum(t *testing.T, check func(*testing.T, providers.ChecksumAlgorithm)) {
	for _, alg := range []providers.ChecksumAlgorithm{providers.SHA256, providers.MD5, providers.CRC32C} {
		t.Run("Checksum"+strings.ToUpper(string(alg)), func(t *testing.T) { check(t, alg) })
	}
}

type suite struct {
	h    Harness
	p    providers.Provider
	mp   providers.Multipart // the provider's, or nil
	caps providers.Capabilities
	// codes is what ErrorCodes found wrong, "" when nothing: checks that
	// depend on the codes it covers skip with a pointer to it.
	codes codeFinding
}

const ttl = 5 * time.Minute

// key returns a fresh key under the prefix, named after the test so a
// leftover object says which test made it.
func (s *suite) key(t *testing.T, name string) string {
	base := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	if i := strings.Index(base, "-"); i >= 0 {
		base = base[i+1:] // drop the top-level test's name
	}
	return s.h.Prefix + base + "-" + randomID() + "/" + name
}

// cleanup deletes key when the test ends, whatever happened.
func (s *suite) cleanup(t *testing.T, key string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := s.p.Delete(ctx, providers.DeleteRequest{Key: key}); err != nil {
			t.Logf("cleanup: Delete(%q): %v", key, err)
		}
	})
}

type putOpts struct {
	contentType string
	metadata    map[string]string
	createOnly  bool
	noChecksum  bool
}

// signPut signs a PUT of body, binding a checksum whenever the provider
// claims one, so the plain upload path also exercises the bindings.
func (s *suite) signPut(t *testing.T, key string, body []byte, o putOpts) providers.Recipe {
	t.Helper()
	if o.contentType == "" {
		o.contentType = "application/octet-stream"
	}
	req := providers.PutRequest{
		Key:         key,
		ContentType: o.contentType,
		Size:        int64(len(body)),
		Metadata:    o.metadata,
		CreateOnly:  o.createOnly,
		TTL:         ttl,
	}
	if !o.noChecksum {
		switch {
		case s.caps.Binds(providers.SHA256):
			req.Checksum = Checksum(providers.SHA256, body)
		case s.caps.Binds(providers.MD5):
			req.Checksum = Checksum(providers.MD5, body)
		}
	}
	start := time.Now()
	r, err := s.p.SignPut(t.Context(), req)
	if err != nil {
		t.Fatalf("SignPut(%q): %s", key, errText(err))
	}
	checkRecipe(t, "SignPut", r, start, ttl)
	return r
}

// put uploads body to key and schedules its deletion.
func (s *suite) put(t *testing.T, key string, body []byte, o putOpts) {
	t.Helper()
	s.cleanup(t, key)
	r := s.signPut(t, key, body, o)
	res := s.send(t, r, body, nil)
	if !ok2xx(res.Status) {
		t.Fatalf("signed PUT %s: status %d, want 2xx; body: %s", Redact(r.URL), res.Status, res.Snippet())
	}
}

func (s *suite) signGet(t *testing.T, req providers.GetRequest) providers.Recipe {
	t.Helper()
	if req.TTL == 0 {
		req.TTL = ttl
	}
	start := time.Now()
	r, err := s.p.SignGet(t.Context(), req)
	if err != nil {
		t.Fatalf("SignGet(%q): %s", req.Key, errText(err))
	}
	checkRecipe(t, "SignGet", r, start, req.TTL)
	return r
}

// get downloads key through a fresh signed GET and returns the response.
func (s *suite) get(t *testing.T, key string) Response {
	t.Helper()
	return s.send(t, s.signGet(t, providers.GetRequest{Key: key}), nil, nil)
}

func (s *suite) mustGet(t *testing.T, key string, want []byte) {
	t.Helper()
	res := s.get(t, key)
	if res.Status != http.StatusOK {
		t.Fatalf("signed GET %q: status %d, want 200; body: %s", key, res.Status, res.Snippet())
	}
	if !bytes.Equal(res.Body, want) {
		t.Fatalf("signed GET %q: got %d bytes (sha256 %s), want %d bytes (sha256 %s)",
			key, len(res.Body), hexSum(res.Body), len(want), hexSum(want))
	}
}

// mustNotExist asserts that key is absent, by Head and by signed GET.
func (s *suite) mustNotExist(t *testing.T, key, why string) {
	t.Helper()
	if obj, err := s.p.Head(t.Context(), providers.HeadRequest{Key: key}); !errors.Is(err, providers.ErrNotFound) {
		s.codes.skipIfCause(t, err, providers.NotFound)
		t.Fatalf("%s: Head(%q) = (size %d, %s), want a NotFound error", why, key, obj.Size, errText(err))
	}
	if res := s.get(t, key); res.Status != http.StatusNotFound {
		t.Fatalf("%s: signed GET %q: status %d, want 404", why, key, res.Status)
	}
}

func (s *suite) mustReject(t *testing.T, what string, res Response) {
	t.Helper()
	if !s.h.Rejected(res.Status) {
		t.Fatalf("%s: status %d, want it rejected; body: %s", what, res.Status, res.Snippet())
	}
}

// send performs a recipe exactly, with the suite's client (see Send).
func (s *suite) send(t *testing.T, r providers.Recipe, body []byte, extra map[string]string) Response {
	t.Helper()
	return Send(t, s.h.Client, r, body, extra)
}

// sendAs is send with a recipe's parts given apart (see SendAs).
func (s *suite) sendAs(t *testing.T, method, rawURL string, headers map[string]string, body []byte, extra map[string]string) Response {
	t.Helper()
	return SendAs(t, s.h.Client, method, rawURL, headers, body, extra)
}

func checkRecipe(t *testing.T, op string, r providers.Recipe, start time.Time, ttl time.Duration) {
	t.Helper()
	if r.Method == "" || r.URL == "" {
		t.Fatalf("%s: recipe has no method or URL", op)
	}
	u, err := url.Parse(r.URL)
	if err != nil || !u.IsAbs() {
		t.Fatalf("%s: recipe URL is not absolute: %v", op, err)
	}
	// Providers may round to whole seconds, so allow a little slack.
	lo, hi := start.Add(-2*time.Second), time.Now().Add(ttl+2*time.Second)
	if r.ExpiresAt.Before(lo) || r.ExpiresAt.After(hi) {
		t.Fatalf("%s: ExpiresAt %s is outside [%s, %s] for TTL %s", op,
			r.ExpiresAt.Format(time.RFC3339), lo.Format(time.RFC3339), hi.Format(time.RFC3339), ttl)
	}
}

func (s *suite) testPutGetRoundTrip(t *testing.T) {
	key := s.key(t, "round trip ü+(1).bin")
	body := RandomBytes(256<<10 + 3)
	s.put(t, key, body, putOpts{contentType: "application/octet-stream"})
	s.mustGet(t, key, body)

	// An empty object is a valid object too.
	empty := s.key(t, "empty")
	s.put(t, empty, []byte{}, putOpts{})
	s.mustGet(t, empty, []byte{})
}

func (s *suite) testHeadMetadata(t *testing.T) {
	key := s.key(t, "meta.txt")
	body := []byte("conformance metadata body\n")
	meta := map[string]string{"purpose": "conformance", "owner-id": "42"}
	before := time.Now().Add(-time.Minute)
	s.put(t, key, body, putOpts{contentType: "text/plain", metadata: meta})

	obj, err := s.p.Head(t.Context(), providers.HeadRequest{Key: key})
	if err != nil {
		t.Fatalf("Head(%q): %s", key, errText(err))
	}
	if obj.Key != key {
		t.Errorf("Head: Key = %q, want %q", obj.Key, key)
	}
	if obj.Size != int64(len(body)) {
		t.Errorf("Head: Size = %d, want %d", obj.Size, len(body))
	}
	if mediaType(obj.ContentType) != "text/plain" {
		t.Errorf("Head: ContentType = %q, want text/plain", obj.ContentType)
	}
	if obj.ETag == "" {
		t.Errorf("Head: ETag is empty")
	}
	if obj.LastModified.Before(before) || obj.LastModified.After(time.Now().Add(time.Minute)) {
		t.Errorf("Head: LastModified = %s, want about now", obj.LastModified)
	}
	for k, v := range meta {
		if got := obj.Metadata[k]; got != v {
			t.Errorf("Head: Metadata[%q] = %q, want %q (all: %v)", k, got, v, obj.Metadata)
		}
	}
	if alg := boundAlg(s.caps); alg != "" {
		want := Checksum(alg, body).Value
		if got, ok := obj.Checksums[alg]; ok && got != want {
			t.Errorf("Head: Checksums[%s] = %q, want %q", alg, got, want)
		}
	}

	// A signed GET serves the stored type.
	res := s.get(t, key)
	if res.Status != http.StatusOK {
		t.Fatalf("signed GET: status %d", res.Status)
	}
	if ct := mediaType(res.Header.Get("Content-Type")); ct != "text/plain" {
		t.Errorf("signed GET: Content-Type = %q, want text/plain", res.Header.Get("Content-Type"))
	}
}

func (s *suite) testRangeGet(t *testing.T) {
	key := s.key(t, "range.bin")
	body := RandomBytes(1000)
	s.put(t, key, body, putOpts{})
	r := s.signGet(t, providers.GetRequest{Key: key})
	res := s.send(t, r, nil, map[string]string{"Range": "bytes=100-199"})
	if res.Status != http.StatusPartialContent {
		t.Fatalf("Range GET: status %d, want 206; body: %s", res.Status, res.Snippet())
	}
	if !bytes.Equal(res.Body, body[100:200]) {
		t.Fatalf("Range GET: got %d bytes, not bytes 100-199", len(res.Body))
	}
	if cr := res.Header.Get("Content-Range"); cr != "bytes 100-199/1000" {
		t.Errorf("Range GET: Content-Range = %q, want %q", cr, "bytes 100-199/1000")
	}
	// An open-ended range, as players ask when seeking. (Suffix ranges,
	// bytes=-N, are not in Azure Blob's documented range forms.)
	res = s.send(t, r, nil, map[string]string{"Range": "bytes=990-"})
	if res.Status != http.StatusPartialContent || !bytes.Equal(res.Body, body[990:]) {
		t.Fatalf("open-ended Range GET: status %d, %d bytes; want 206 and the last 10 bytes", res.Status, len(res.Body))
	}
}

func (s *suite) testGetContentDisposition(t *testing.T) {
	if !s.caps.GetOverrides {
		t.Skip("not claimed: GetOverrides")
	}
	key := s.key(t, "report.csv")
	body := []byte("a,b\n1,2\n")
	s.put(t, key, body, putOpts{contentType: "text/csv"})
	const cd = `attachment; filename="report 2026.csv"`
	r := s.signGet(t, providers.GetRequest{Key: key, ResponseContentDisposition: cd})
	res := s.send(t, r, nil, nil)
	if res.Status != http.StatusOK || !bytes.Equal(res.Body, body) {
		t.Fatalf("GET with disposition override: status %d, %d bytes", res.Status, len(res.Body))
	}
	if got := res.Header.Get("Content-Disposition"); got != cd {
		t.Fatalf("Content-Disposition = %q, want %q", got, cd)
	}
	// The override is part of what is signed: changing it must be refused.
	if tampered, ok := replaceQueryValue(r.URL, cd, `attachment; filename="evil.html"`); ok {
		res := s.sendAs(t, r.Method, tampered, r.Headers, nil, nil)
		s.mustReject(t, "GET with a changed disposition", res)
	} else {
		t.Log("disposition is not a query value; tamper check skipped")
	}
}

func (s *suite) testGetContentType(t *testing.T) {
	if !s.caps.GetOverrides {
		t.Skip("not claimed: GetOverrides")
	}
	key := s.key(t, "typed.bin")
	body := []byte("plain text, stored as octet-stream")
	s.put(t, key, body, putOpts{contentType: "application/octet-stream"})
	r := s.signGet(t, providers.GetRequest{Key: key, ResponseContentType: "text/plain"})
	res := s.send(t, r, nil, nil)
	if res.Status != http.StatusOK || !bytes.Equal(res.Body, body) {
		t.Fatalf("GET with type override: status %d, %d bytes", res.Status, len(res.Body))
	}
	if got := mediaType(res.Header.Get("Content-Type")); got != "text/plain" {
		t.Fatalf("Content-Type = %q, want text/plain", res.Header.Get("Content-Type"))
	}
}

// expiryTTL is the TTL of the URLs testExpired lets expire: long enough
// that signing and then using a URL at once fits in it on a loaded machine
// (providers truncate the signing time to the second, so a 1 s URL can be
// dead before its first use), short enough to wait out.
const expiryTTL = 5 * time.Second

// expiryMargin is how long testExpired waits past a URL's ExpiresAt before
// it expects a rejection: backends compare whole seconds.
const expiryMargin = 2 * time.Second

func (s *suite) testExpired(t *testing.T) {
	key := s.key(t, "expiring.bin")
	body := []byte("expiring")
	s.put(t, key, body, putOpts{})

	getR, err := s.p.SignGet(t.Context(), providers.GetRequest{Key: key, TTL: expiryTTL})
	if err != nil {
		t.Fatalf("SignGet with TTL %s: %s", expiryTTL, errText(err))
	}
	if time.Until(getR.ExpiresAt) > expiryTTL+2*time.Second {
		t.Fatalf("a %s TTL gave ExpiresAt %s (now %s): the provider does not honour short TTLs",
			expiryTTL, getR.ExpiresAt.Format(time.RFC3339), time.Now().Format(time.RFC3339))
	}
	// Used while fresh, the URL works: the later rejection is the expiry's doing.
	if res := s.send(t, getR, nil, nil); res.Status != http.StatusOK {
		t.Fatalf("GET with a fresh %s URL: status %d, want 200", expiryTTL, res.Status)
	}
	putKey := s.key(t, "expired-put.bin")
	s.cleanup(t, putKey)
	putR, err := s.p.SignPut(t.Context(), providers.PutRequest{
		Key: putKey, ContentType: "application/octet-stream", Size: int64(len(body)), TTL: expiryTTL,
		Checksum: boundChecksum(s.caps, body),
	})
	if err != nil {
		t.Fatalf("SignPut with TTL %s: %s", expiryTTL, errText(err))
	}
	if time.Until(putR.ExpiresAt) > expiryTTL+2*time.Second {
		t.Fatalf("a %s TTL gave ExpiresAt %s (now %s): the provider does not honour short TTLs",
			expiryTTL, putR.ExpiresAt.Format(time.RFC3339), time.Now().Format(time.RFC3339))
	}
	// Wait until both URLs are past their ExpiresAt, however long the steps
	// above took.
	time.Sleep(time.Until(later(getR.ExpiresAt, putR.ExpiresAt).Add(expiryMargin)))
	s.mustReject(t, "GET after expiry", s.send(t, getR, nil, nil))
	s.mustReject(t, "PUT after expiry", s.send(t, putR, body, nil))
	s.mustNotExist(t, putKey, "expired PUT")
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func (s *suite) testTamperedKey(t *testing.T) {
	dir := s.key(t, "")
	a, b := dir+"tamper-aaaa.bin", dir+"tamper-bbbb.bin"
	bodyA, bodyB := []byte("object A"), []byte("object B, the other one")
	s.put(t, a, bodyA, putOpts{})
	s.put(t, b, bodyB, putOpts{})

	getA := s.signGet(t, providers.GetRequest{Key: a})
	toB := RetargetKey(t, getA.URL, "tamper-aaaa", "tamper-bbbb")
	res := s.sendAs(t, getA.Method, toB, getA.Headers, nil, nil)
	s.mustReject(t, "GET with A's URL retargeted at B", res)

	putA := s.signPut(t, a, bodyA, putOpts{})
	res = s.sendAs(t, putA.Method, RetargetKey(t, putA.URL, "tamper-aaaa", "tamper-bbbb"), putA.Headers, bodyA, nil)
	s.mustReject(t, "PUT with A's URL retargeted at B", res)
	s.mustGet(t, b, bodyB)
}

func (s *suite) testTamperedSignature(t *testing.T) {
	key := s.key(t, "sig.bin")
	body := []byte("signed")
	s.put(t, key, body, putOpts{})

	r := s.signGet(t, providers.GetRequest{Key: key})
	name := SignatureParam(t, r.URL)
	res := s.sendAs(t, r.Method, TamperQuery(t, r.URL, name, FlipChar), r.Headers, nil, nil)
	s.mustReject(t, "GET with a tampered signature ("+name+")", res)

	other := s.key(t, "sig-put.bin")
	s.cleanup(t, other)
	pr := s.signPut(t, other, body, putOpts{})
	name = SignatureParam(t, pr.URL)
	res = s.sendAs(t, pr.Method, TamperQuery(t, pr.URL, name, FlipChar), pr.Headers, body, nil)
	s.mustReject(t, "PUT with a tampered signature ("+name+")", res)
	s.mustNotExist(t, other, "PUT with a tampered signature")
}

func (s *suite) testMissingSignature(t *testing.T) {
	key := s.key(t, "nosig.bin")
	s.put(t, key, []byte("signed"), putOpts{})
	r := s.signGet(t, providers.GetRequest{Key: key})
	name := SignatureParam(t, r.URL)
	res := s.sendAs(t, r.Method, TamperQuery(t, r.URL, name, nil), r.Headers, nil, nil)
	s.mustReject(t, "GET without its signature ("+name+")", res)

	u, _ := url.Parse(r.URL)
	u.RawQuery = ""
	s.mustReject(t, "GET with the query stripped", s.sendAs(t, http.MethodGet, u.String(), nil, nil, nil))
}

func (s *suite) testWrongMethod(t *testing.T) {
	key := s.key(t, "method.bin")
	body := []byte("method bound")
	s.put(t, key, body, putOpts{})

	get := s.signGet(t, providers.GetRequest{Key: key})
	// Borrow a real PUT recipe's headers, so the only thing wrong with the
	// request is its method and URL.
	put := s.signPut(t, key, []byte("overwritten!"), putOpts{})
	res := s.sendAs(t, http.MethodPut, get.URL, put.Headers, []byte("overwritten!"), nil)
	s.mustReject(t, "GET URL used as PUT", res)
	res = s.sendAs(t, http.MethodDelete, get.URL, nil, nil, nil)
	s.mustReject(t, "GET URL used as DELETE", res)
	res = s.sendAs(t, http.MethodGet, put.URL, nil, nil, nil)
	s.mustReject(t, "PUT URL used as GET", res)
	s.mustGet(t, key, body)
}

func (s *suite) testBindContentLength(t *testing.T) {
	if !s.caps.BindsContentLength {
		t.Skip("not claimed: BindsContentLength")
	}
	for _, tc := range []struct {
		name string
		sent int
	}{{"longer", 65}, {"shorter", 63}} {
		t.Run(tc.name, func(t *testing.T) {
			key := s.key(t, "len.bin")
			s.cleanup(t, key)
			signed := RandomBytes(64)
			r := s.signPut(t, key, signed, putOpts{noChecksum: true})
			sent := RandomBytes(tc.sent)
			s.mustReject(t, fmt.Sprintf("PUT of %d bytes signed for 64", tc.sent), s.send(t, r, sent, nil))
			s.mustNotExist(t, key, "PUT with the wrong length")
		})
	}
}

func (s *suite) testBindContentType(t *testing.T) {
	if !s.caps.BindsContentType {
		t.Skip("not claimed: BindsContentType")
	}
	key := s.key(t, "type.png")
	s.cleanup(t, key)
	body := []byte("not really a png")
	r := s.signPut(t, key, body, putOpts{contentType: "image/png"})
	s.mustReject(t, "PUT with Content-Type text/html signed for image/png",
		s.send(t, r, body, map[string]string{"Content-Type": "text/html"}))
	s.mustNotExist(t, key, "PUT with the wrong type")
}

func (s *suite) testBindChecksum(t *testing.T, alg providers.ChecksumAlgorithm) {
	if !s.caps.Binds(alg) {
		t.Skip("not claimed: BindsChecksums " + string(alg))
	}
	key := s.key(t, "sum.bin")
	s.cleanup(t, key)
	signed := RandomBytes(4096)
	r, err := s.p.SignPut(t.Context(), providers.PutRequest{
		Key: key, ContentType: "application/octet-stream", Size: int64(len(signed)),
		Checksum: Checksum(alg, signed), TTL: ttl,
	})
	if err != nil {
		t.Fatalf("SignPut with %s checksum: %s", alg, errText(err))
	}
	// Same length, different bytes: only the checksum can catch it.
	other := bytes.Clone(signed)
	other[len(other)/2] ^= 0xff
	s.mustReject(t, "PUT whose body does not match the signed "+string(alg), s.send(t, r, other, nil))
	s.mustNotExist(t, key, "PUT with the wrong checksum")
	// The same recipe with the right body works, so the rejection was the
	// checksum's doing.
	if res := s.send(t, r, signed, nil); !ok2xx(res.Status) {
		t.Fatalf("PUT with the signed %s and the right body: status %d; body: %s", alg, res.Status, res.Snippet())
	}
}

func (s *suite) testBindCreateOnly(t *testing.T) {
	if !s.caps.BindsCreateOnly {
		t.Skip("not claimed: BindsCreateOnly")
	}
	key := s.key(t, "once.bin")
	first := []byte("first writer wins")
	s.cleanup(t, key)
	r := s.signPut(t, key, first, putOpts{createOnly: true})
	if res := s.send(t, r, first, nil); !ok2xx(res.Status) {
		t.Fatalf("create-only PUT to a new key: status %d; body: %s", res.Status, res.Snippet())
	}
	second := []byte("second writer loses")
	r = s.signPut(t, key, second, putOpts{createOnly: true})
	s.mustReject(t, "create-only PUT to an existing key", s.send(t, r, second, nil))
	s.mustGet(t, key, first)
}

func (s *suite) testList(t *testing.T) {
	dir := s.key(t, "")
	var want []string
	for i := range 5 {
		k := fmt.Sprintf("%sitems/%02d.txt", dir, i)
		s.put(t, k, []byte(strconv.Itoa(i)+strings.Repeat("x", i)), putOpts{contentType: "text/plain"})
		want = append(want, k)
	}
	// Siblings that share a string prefix but not the listed prefix.
	s.put(t, dir+"itemsx.txt", []byte("sibling"), putOpts{})
	s.put(t, dir+"items2/00.txt", []byte("sibling"), putOpts{})

	var got []string
	cursor, pages := "", 0
	for {
		page, err := s.p.List(t.Context(), providers.ListRequest{Prefix: dir + "items/", Cursor: cursor, Limit: 2})
		if err != nil {
			t.Fatalf("List page %d: %s", pages+1, errText(err))
		}
		pages++
		if len(page.Objects) > 2 {
			t.Fatalf("List page %d: %d objects, limit was 2", pages, len(page.Objects))
		}
		for _, o := range page.Objects {
			got = append(got, o.Key)
			i, _ := strconv.Atoi(strings.TrimSuffix(o.Key[len(dir+"items/"):], ".txt"))
			if o.Size != int64(1+i) {
				t.Errorf("List: %q has Size %d, want %d", o.Key, o.Size, 1+i)
			}
		}
		if page.NextCursor == "" {
			break
		}
		if page.NextCursor == cursor || pages > 10 {
			t.Fatalf("List does not advance (page %d)", pages)
		}
		cursor = page.NextCursor
	}
	if !slices.Equal(got, want) {
		t.Fatalf("List walk = %q, want %q", got, want)
	}
	if pages < 3 {
		t.Fatalf("List of 5 with limit 2 took %d pages, want at least 3", pages)
	}
	page, err := s.p.List(t.Context(), providers.ListRequest{Prefix: dir + "nothing-here/", Limit: 10})
	if err != nil || len(page.Objects) != 0 || page.NextCursor != "" {
		t.Fatalf("List of an empty prefix = %d objects, cursor %q, err %s; want nothing", len(page.Objects), page.NextCursor, errText(err))
	}
}

func (s *suite) testDelete(t *testing.T) {
	key := s.key(t, "doomed.bin")
	s.put(t, key, []byte("doomed"), putOpts{})
	if _, err := s.p.Delete(t.Context(), providers.DeleteRequest{Key: key}); err != nil {
		t.Fatalf("Delete(%q): %s", key, errText(err))
	}
	s.mustNotExist(t, key, "after Delete")
	if _, err := s.p.Delete(t.Context(), providers.DeleteRequest{Key: key}); err != nil {
		t.Fatalf("Delete of a missing object: %s, want nil", errText(err))
	}
}

func (s *suite) testSignDelete(t *testing.T) {
	if !s.caps.SignDelete {
		t.Skip("not claimed: SignDelete")
	}
	key := s.key(t, "signed-delete.bin")
	s.put(t, key, []byte("doomed"), putOpts{})
	r, err := s.p.SignDelete(t.Context(), providers.SignDeleteRequest{Key: key, TTL: ttl})
	if err != nil {
		t.Fatalf("SignDelete: %s", errText(err))
	}
	if r.Method != http.MethodDelete {
		t.Errorf("SignDelete: Method = %q, want DELETE", r.Method)
	}
	if res := s.send(t, r, nil, nil); !ok2xx(res.Status) {
		t.Fatalf("signed DELETE: status %d; body: %s", res.Status, res.Snippet())
	}
	s.mustNotExist(t, key, "after signed DELETE")
}

// uploadParts signs and uploads parts, returning them as listed at complete.
func (s *suite) uploadParts(t *testing.T, key, id string, parts [][]byte) []providers.CompletedPart {
	t.Helper()
	specs := make([]providers.PartSpec, len(parts))
	for i, p := range parts {
		specs[i] = providers.PartSpec{Number: i + 1, Size: int64(len(p))}
	}
	start := time.Now()
	signed, err := s.mp.SignParts(t.Context(), providers.SignPartsRequest{Key: key, UploadID: id, Parts: specs, TTL: ttl})
	recipes := signed.Parts
	if err != nil {
		t.Fatalf("SignParts: %s", errText(err))
	}
	if len(recipes) != len(parts) {
		t.Fatalf("SignParts: %d recipes for %d parts", len(recipes), len(parts))
	}
	var done []providers.CompletedPart
	for i, pr := range recipes {
		if pr.Number != i+1 {
			t.Fatalf("SignParts: recipe %d has Number %d, want %d", i, pr.Number, i+1)
		}
		checkRecipe(t, "SignParts", pr.Recipe, start, ttl)
		res := s.send(t, pr.Recipe, parts[i], nil)
		if !ok2xx(res.Status) {
			t.Fatalf("part %d upload: status %d; body: %s", pr.Number, res.Status, res.Snippet())
		}
		etag := res.Header.Get("ETag")
		if s.caps.MultipartNeedsETags && etag == "" {
			t.Fatalf("part %d upload: no ETag in the response, and the provider needs ETags", pr.Number)
		}
		done = append(done, providers.CompletedPart{Number: pr.Number, ETag: etag})
	}
	return done
}

func (s *suite) testMultipartComplete(t *testing.T) {
	if !s.caps.Multipart {
		t.Skip("not claimed: Multipart")
	}
	key := s.key(t, "assembled.bin")
	s.cleanup(t, key)
	parts := [][]byte{RandomBytes(int(s.h.PartSize)), RandomBytes(1234)}
	total := int64(len(parts[0]) + len(parts[1]))
	up, err := s.mp.CreateMultipart(t.Context(), providers.CreateMultipartRequest{
		Key: key, ContentType: "video/mp4", Size: total, PartSize: s.h.PartSize,
		Metadata: map[string]string{"purpose": "conformance"}, TTL: ttl,
	})
	if err != nil {
		t.Fatalf("CreateMultipart: %s", errText(err))
	}
	if up.UploadID == "" {
		t.Fatal("CreateMultipart: empty UploadID")
	}
	ref := providers.MultipartRef{Key: key, UploadID: up.UploadID}
	t.Cleanup(func() { _, _ = s.mp.AbortMultipart(context.Background(), providers.AbortMultipartRequest{Upload: ref}) })
	done := s.uploadParts(t, key, up.UploadID, parts)

	listing, err := s.mp.ListParts(t.Context(), providers.ListPartsRequest{Upload: ref})
	listed := listing.Parts
	if err != nil {
		t.Fatalf("ListParts: %s", errText(err))
	}
	if len(listed) != 2 || listed[0].Number != 1 || listed[1].Number != 2 ||
		listed[0].Size != int64(len(parts[0])) || listed[1].Size != int64(len(parts[1])) {
		t.Fatalf("ListParts = %+v, want parts 1 (%d bytes) and 2 (%d bytes)", listed, len(parts[0]), len(parts[1]))
	}
	s.mustNotExist(t, key, "before CompleteMultipart")

	obj, err := s.mp.CompleteMultipart(t.Context(), providers.CompleteMultipartRequest{Key: key, UploadID: up.UploadID, Parts: done})
	if err != nil {
		t.Fatalf("CompleteMultipart: %s", errText(err))
	}
	if obj.Size != total {
		t.Errorf("CompleteMultipart: Size = %d, want %d", obj.Size, total)
	}
	head, err := s.p.Head(t.Context(), providers.HeadRequest{Key: key})
	if err != nil {
		t.Fatalf("Head after complete: %s", errText(err))
	}
	if head.Size != total || mediaType(head.ContentType) != "video/mp4" {
		t.Errorf("Head after complete: size %d type %q, want %d video/mp4", head.Size, head.ContentType, total)
	}
	if head.Metadata["purpose"] != "conformance" {
		t.Errorf("Head after complete: Metadata = %v, want purpose=conformance", head.Metadata)
	}
	whole := append(bytes.Clone(parts[0]), parts[1]...)
	// Whatever digest is reported must be the content's: the gateway
	// compares it with a declared one (a part-checksum composite is not).
	checkReportedSums(t, "CompleteMultipart", obj.Checksums, whole)
	checkReportedSums(t, "Head after complete", head.Checksums, whole)
	s.mustGet(t, key, whole)
}

// checkReportedSums fails for any reported digest, of an algorithm the
// suite knows, that is not body's.
func checkReportedSums(t *testing.T, what string, sums map[providers.ChecksumAlgorithm]string, body []byte) {
	t.Helper()
	for alg, got := range sums {
		if want := Checksum(alg, body); want != nil && got != want.Value {
			t.Errorf("%s: Checksums[%s] = %q, want %q (the content's)", what, alg, got, want.Value)
		}
	}
}

// startMultipart skips unless Multipart is claimed, then starts a plain
// upload at a fresh key that is deleted when the test ends.
func (s *suite) startMultipart(t *testing.T, name string) (string, providers.MultipartUpload, providers.MultipartRef) {
	t.Helper()
	if !s.caps.Multipart {
		t.Skip("not claimed: Multipart")
	}
	key := s.key(t, name)
	s.cleanup(t, key)
	up, err := s.mp.CreateMultipart(t.Context(), providers.CreateMultipartRequest{
		Key: key, ContentType: "application/octet-stream", PartSize: s.h.PartSize, TTL: ttl,
	})
	if err != nil {
		t.Fatalf("CreateMultipart: %s", errText(err))
	}
	return key, up, providers.MultipartRef{Key: key, UploadID: up.UploadID}
}

func (s *suite) testMultipartMissingPart(t *testing.T) {
	key, up, ref := s.startMultipart(t, "incomplete.bin")
	t.Cleanup(func() { _, _ = s.mp.AbortMultipart(context.Background(), providers.AbortMultipartRequest{Upload: ref}) })
	done := s.uploadParts(t, key, up.UploadID, [][]byte{RandomBytes(100)})
	done = append(done, providers.CompletedPart{Number: 2, ETag: done[0].ETag})
	_, err := s.mp.CompleteMultipart(t.Context(), providers.CompleteMultipartRequest{Key: key, UploadID: up.UploadID, Parts: done})
	if !errors.Is(err, providers.ErrFailedPrecondition) {
		s.codes.skipIfCause(t, err, providers.FailedPrecondition)
		t.Fatalf("CompleteMultipart listing a part never uploaded: %s, want FailedPrecondition", errText(err))
	}
	s.mustNotExist(t, key, "after a failed complete")
}

func (s *suite) testMultipartAbort(t *testing.T) {
	key, up, ref := s.startMultipart(t, "aborted.bin")
	s.uploadParts(t, key, up.UploadID, [][]byte{RandomBytes(100)})
	if _, err := s.mp.AbortMultipart(t.Context(), providers.AbortMultipartRequest{Upload: ref}); err != nil {
		t.Fatalf("AbortMultipart: %s", errText(err))
	}
	listing, err := s.mp.ListParts(t.Context(), providers.ListPartsRequest{Upload: ref})
	parts := listing.Parts
	if err != nil && !errors.Is(err, providers.ErrNotFound) {
		s.codes.skipIfCause(t, err, providers.NotFound)
		t.Fatalf("ListParts after abort: %s, want no parts or NotFound", errText(err))
	}
	if len(parts) != 0 {
		t.Fatalf("ListParts after abort: %d parts, want none", len(parts))
	}
	s.mustNotExist(t, key, "after AbortMultipart")
	if _, err := s.mp.AbortMultipart(t.Context(), providers.AbortMultipartRequest{Upload: ref}); err != nil {
		t.Fatalf("second AbortMultipart: %s, want nil", errText(err))
	}
}

// testMultipartChecksum checks a MultipartChecksums claim: after a real
// multipart upload over HTTP, CompleteMultipart reports the digest of the
// assembled content, and a wrong declared digest is not echoed back, so
// the gateway's comparison catches it.
func (s *suite) testMultipartChecksum(t *testing.T, alg providers.ChecksumAlgorithm) {
	if !s.caps.Multipart || !s.caps.VerifiesMultipart(alg) {
		t.Skip("not claimed: MultipartChecksums " + string(alg))
	}
	parts := [][]byte{RandomBytes(int(s.h.PartSize)), RandomBytes(1234)}
	whole := append(bytes.Clone(parts[0]), parts[1]...)
	right := Checksum(alg, whole)
	// Same length, one byte differs: only a digest of the content tells.
	other := bytes.Clone(whole)
	other[len(other)/2] ^= 0xff
	wrong := Checksum(alg, other)

	upload := func(t *testing.T, declared *providers.Checksum) (string, providers.Object, error) {
		t.Helper()
		key := s.key(t, "summed.bin")
		s.cleanup(t, key)
		up, err := s.mp.CreateMultipart(t.Context(), providers.CreateMultipartRequest{
			Key: key, ContentType: "application/octet-stream", Size: int64(len(whole)), PartSize: s.h.PartSize,
			TTL: ttl, Checksum: declared,
		})
		if err != nil {
			t.Fatalf("CreateMultipart declaring %s: %s", alg, errText(err))
		}
		ref := providers.MultipartRef{Key: key, UploadID: up.UploadID}
		t.Cleanup(func() { _, _ = s.mp.AbortMultipart(context.Background(), providers.AbortMultipartRequest{Upload: ref}) })
		done := s.uploadParts(t, key, up.UploadID, parts)
		obj, err := s.mp.CompleteMultipart(t.Context(), providers.CompleteMultipartRequest{
			Key: key, UploadID: up.UploadID, Parts: done, Checksum: declared,
		})
		return key, obj, err
	}

	t.Run("right", func(t *testing.T) {
		key, obj, err := upload(t, right)
		if err != nil {
			t.Fatalf("CompleteMultipart with the right %s: %s", alg, errText(err))
		}
		if got := obj.Checksums[alg]; got != right.Value {
			t.Fatalf("CompleteMultipart: Checksums[%s] = %q, want %q (the assembled object's)", alg, got, right.Value)
		}
		head, err := s.p.Head(t.Context(), providers.HeadRequest{Key: key})
		if err != nil {
			t.Fatalf("Head after complete: %s", errText(err))
		}
		if got, ok := head.Checksums[alg]; ok && got != right.Value {
			t.Errorf("Head after complete: Checksums[%s] = %q, want %q", alg, got, right.Value)
		}
		s.mustGet(t, key, whole)
	})
	t.Run("wrong", func(t *testing.T) {
		key, obj, err := upload(t, wrong)
		if err != nil {
			// Refusing outright is honest too, provided nothing was stored.
			t.Logf("CompleteMultipart with a wrong %s: %v", alg, err)
			s.mustNotExist(t, key, "a refused complete")
			return
		}
		switch got := obj.Checksums[alg]; got {
		case wrong.Value:
			t.Fatalf("CompleteMultipart echoed the declared %s instead of the assembled object's: a wrong digest would pass", alg)
		case right.Value:
		default:
			t.Fatalf("CompleteMultipart: Checksums[%s] = %q, want %q (the assembled object's)", alg, got, right.Value)
		}
	})
}

// --- helpers ---

func randomID() string {
	return hex.EncodeToString(RandomBytes(6))
}

// RandomBytes is n random bytes, for a body: crypto/rand.Read never fails
// (Go 1.24).
func RandomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// Checksum is body's alg digest as a recipe declares it (standard base64 of
// the raw digest), or nil for an algorithm it does not know.
func Checksum(alg providers.ChecksumAlgorithm, body []byte) *providers.Checksum {
	var sum []byte
	switch alg {
	case providers.SHA256:
		s := sha256.Sum256(body)
		sum = s[:]
	case providers.MD5:
		s := md5.Sum(body)
		sum = s[:]
	case providers.CRC32C:
		sum = binary.BigEndian.AppendUint32(nil, crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
	default:
		return nil
	}
	return &providers.Checksum{Algorithm: alg, Value: base64.StdEncoding.EncodeToString(sum)}
}

func boundAlg(c providers.Capabilities) providers.ChecksumAlgorithm {
	switch {
	case c.Binds(providers.SHA256):
		return providers.SHA256
	case c.Binds(providers.MD5):
		return providers.MD5
	}
	return ""
}

func boundChecksum(c providers.Capabilities, body []byte) *providers.Checksum {
	if alg := boundAlg(c); alg != "" {
		return Checksum(alg, body)
	}
	return nil
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:8])
}

func ok2xx(status int) bool { return status >= 200 && status < 300 }

func mediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.ToLower(strings.TrimSpace(ct))
}
