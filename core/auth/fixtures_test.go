package auth

// The fixtures every test of the package builds on: a fixed clock, an
// Authenticator, key pairs with their JWKS, signed tokens and an httptest
// JWKS endpoint.

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

var (
	secret = "0123456789abcdef0123456789abcdef"
	now    = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
)

func clock() time.Time { return now }

// testFetchWait replaces the one second a request waits for a JWKS fetch:
// a verdict must not depend on how fast a loaded machine serves an
// httptest JWKS.
const testFetchWait = time.Minute

func newAuth(t *testing.T, cfg Config) *Authenticator {
	t.Helper()
	if cfg.JWT.Issuer == "" {
		cfg.JWT.Issuer, cfg.JWT.Audience = "iss", "aud"
	}
	if cfg.JWT.Leeway == 0 {
		cfg.JWT.Leeway = 30 * time.Second
	}
	a, err := New(cfg, Options{Now: clock, FetchWait: testFetchWait})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

// testClock is a settable clock for an Authenticator.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// newClockedAuth is newAuth on clk, with the leeway exactly as cfg says.
func newClockedAuth(t *testing.T, cfg Config, clk *testClock) *Authenticator {
	t.Helper()
	cfg.JWT.Issuer, cfg.JWT.Audience = "iss", "aud"
	a, err := New(cfg, Options{Now: clk.Now, FetchWait: testFetchWait})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

// testKey is a private key with its kid, and the alg its JWKS entry
// names (none when alg is the zero value).
type testKey struct {
	kid  string
	priv crypto.Signer
	alg  jwa.SignatureAlgorithm
}

func newECKey(t *testing.T, kid string) testKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{kid: kid, priv: k}
}

func newEdKey(t *testing.T, kid string) testKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{kid: kid, priv: k}
}

// newRSAKey is a 2048-bit key whose JWKS entry pins RS256.
func newRSAKey(t *testing.T, kid string) testKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{kid: kid, priv: k, alg: jwa.RS256()}
}

// jwksOf is the JWKS of the public halves of keys.
func jwksOf(t *testing.T, keys ...testKey) []byte {
	t.Helper()
	set := jwk.NewSet()
	for _, k := range keys {
		pub, err := jwk.Import(k.priv.Public())
		if err != nil {
			t.Fatal(err)
		}
		_ = pub.Set(jwk.KeyIDKey, k.kid)
		if k.alg.String() != "" {
			_ = pub.Set(jwk.AlgorithmKey, k.alg)
		}
		_ = set.AddKey(pub)
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signWith signs alice's default claims (iss, aud, an hour's exp, role
// editor), changed by mod where it is not nil, with key under alg; kid ""
// puts no kid in the header.
func signWith(t *testing.T, alg jwa.SignatureAlgorithm, key any, kid string, mod func(*jwt.Builder) *jwt.Builder) string {
	t.Helper()
	b := jwt.NewBuilder().Subject("alice").Issuer("iss").Audience([]string{"aud"}).Expiration(now.Add(time.Hour)).Claim("role", "editor")
	if mod != nil {
		b = mod(b)
	}
	return sign(t, b, alg, key, kid)
}

// signClaims signs exactly the given claims (no defaults) with ES256.
func signClaims(t *testing.T, k testKey, claims map[string]any) string {
	t.Helper()
	b := jwt.NewBuilder()
	for name, v := range claims {
		b = b.Claim(name, v)
	}
	return sign(t, b, jwa.ES256(), k.priv, k.kid)
}

func sign(t *testing.T, b *jwt.Builder, alg jwa.SignatureAlgorithm, key any, kid string) string {
	t.Helper()
	tok, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	var opts []jwt.Option
	if kid != "" {
		h := jws.NewHeaders()
		_ = h.Set(jws.KeyIDKey, kid)
		opts = append(opts, jws.WithProtectedHeaders(h))
	}
	s, err := jwt.Sign(tok, jwt.WithKey(alg, key, opts...))
	if err != nil {
		t.Fatal(err)
	}
	return string(s)
}

// jwksServer serves the key set in keys with the given Cache-Control
// ("" = no cache header) and counts its fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	keys    []byte
	fetches atomic.Int32
}

func newJWKSServer(t *testing.T, cacheControl string, keys []byte) *jwksServer {
	t.Helper()
	s := &jwksServer{keys: keys}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		b := s.keys
		s.mu.Unlock()
		if cacheControl != "" {
			w.Header().Set("Cache-Control", cacheControl)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}))
	t.Cleanup(s.Close)
	return s
}

// serve replaces the key set served from the next fetch on.
func (s *jwksServer) serve(keys []byte) { s.mu.Lock(); s.keys = keys; s.mu.Unlock() }

// newDownJWKSServer answers every fetch with a 500.
func newDownJWKSServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 500) }))
	t.Cleanup(srv.Close)
	return srv
}

// waitJWKS waits (generously) for the first background fetch, so that no
// verdict depends on how fast it is.
func waitJWKS(t *testing.T, a *Authenticator) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if !a.cache.Ready(ctx, a.cfg.JWT.JWKSURL) {
		t.Fatal("JWKS not fetched within a minute")
	}
}
