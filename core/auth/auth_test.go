package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
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

func signWith(t *testing.T, alg jwa.SignatureAlgorithm, key any, kid string, mod func(*jwt.Builder) *jwt.Builder) string {
	t.Helper()
	b := jwt.NewBuilder().Subject("alice").Issuer("iss").Audience([]string{"aud"}).Expiration(now.Add(time.Hour)).Claim("role", "editor")
	if mod != nil {
		b = mod(b)
	}
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

func TestHS256(t *testing.T) {
	a := newAuth(t, Config{JWT: JWTConfig{HS256Secret: secret}})
	ctx := context.Background()
	p, err := a.Authenticate(ctx, signWith(t, jwa.HS256(), []byte(secret), "", nil))
	if err != nil || p.Subject != "alice" || p.Claims["role"] != "editor" || p.Method != "jwt" {
		t.Fatalf("valid token: %+v %v", p, err)
	}
	bad := map[string]func(*jwt.Builder) *jwt.Builder{
		"expired":        func(b *jwt.Builder) *jwt.Builder { return b.Expiration(now.Add(-time.Minute)) },
		"not yet valid":  func(b *jwt.Builder) *jwt.Builder { return b.NotBefore(now.Add(time.Minute)) },
		"wrong issuer":   func(b *jwt.Builder) *jwt.Builder { return b.Issuer("evil") },
		"wrong audience": func(b *jwt.Builder) *jwt.Builder { return b.Audience([]string{"other"}) },
		"no subject":     func(b *jwt.Builder) *jwt.Builder { return b.Subject("") },
		"no exp": func(b *jwt.Builder) *jwt.Builder {
			tk, _ := b.Build()
			_ = tk.Remove("exp")
			return jwt.NewBuilder().Subject("alice").Issuer("iss").Audience([]string{"aud"})
		},
	}
	for name, mod := range bad {
		if _, err := a.Authenticate(ctx, signWith(t, jwa.HS256(), []byte(secret), "", mod)); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Within leeway is accepted.
	if _, err := a.Authenticate(ctx, signWith(t, jwa.HS256(), []byte(secret), "", func(b *jwt.Builder) *jwt.Builder { return b.Expiration(now.Add(-10 * time.Second)) })); err != nil {
		t.Errorf("within leeway: %v", err)
	}
	if _, err := a.Authenticate(ctx, signWith(t, jwa.HS256(), []byte("another-secret-another-secret-xx"), "", nil)); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("wrong secret: %v", err)
	}
	if _, err := a.Authenticate(ctx, signWith(t, jwa.HS384(), []byte(secret), "", nil)); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("HS384 must be refused: %v", err)
	}
	// alg none, hand-made.
	enc := base64.RawURLEncoding.EncodeToString
	payload, _ := json.Marshal(map[string]any{"sub": "alice", "iss": "iss", "aud": "aud", "exp": now.Add(time.Hour).Unix()})
	for _, alg := range []string{"none", "None", "NONE"} {
		hdr, _ := json.Marshal(map[string]string{"alg": alg, "typ": "JWT"})
		tok := enc(hdr) + "." + enc(payload) + "."
		if _, err := a.Authenticate(ctx, tok); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("alg %s accepted: %v", alg, err)
		}
	}
	for _, junk := range []string{"x", "a.b.c", strings.Repeat("a", 20000)} {
		if _, err := a.Authenticate(ctx, junk); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("junk %q: %v", junk[:1], err)
		}
	}
	if _, err := a.Authenticate(ctx, ""); !errors.Is(err, ErrNoCredentials) {
		t.Errorf("no credentials: %v", err)
	}
}

func TestMintRoundTrip(t *testing.T) {
	cfg := Config{JWT: JWTConfig{HS256Secret: secret, Issuer: "iss", Audience: "aud", Leeway: time.Second}}
	tok, err := MintDevToken(cfg, "bob", map[string]any{"team": "x"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := New(cfg, Options{})
	p, err := a.Authenticate(context.Background(), tok)
	if err != nil || p.Subject != "bob" || p.Claims["team"] != "x" {
		t.Fatalf("%+v %v", p, err)
	}
	if _, err := MintHS256(nil, "x", nil, time.Minute, "", "", now); err == nil {
		t.Error("mint without secret")
	}
}

func rsaJWKS(t *testing.T, priv *rsa.PrivateKey, kid string) []byte {
	t.Helper()
	k, err := jwk.Import(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	_ = k.Set(jwk.KeyIDKey, kid)
	_ = k.Set(jwk.AlgorithmKey, jwa.RS256())
	set := jwk.NewSet()
	_ = set.AddKey(k)
	b, _ := json.Marshal(set)
	return b
}

func TestJWKSFileAndConfusion(t *testing.T) {
	priv, _ := rsa.GenerateKey(rand.Reader, 2048)
	p := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(p, rsaJWKS(t, priv, "k1"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := newAuth(t, Config{JWT: JWTConfig{JWKSFile: p}})
	ctx := context.Background()
	if pr, err := a.Authenticate(ctx, signWith(t, jwa.RS256(), priv, "k1", nil)); err != nil || pr.Subject != "alice" {
		t.Fatalf("RS256: %v", err)
	}
	if _, err := a.Authenticate(ctx, signWith(t, jwa.RS256(), priv, "unknown", nil)); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("unknown kid: %v", err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	if _, err := a.Authenticate(ctx, signWith(t, jwa.RS256(), other, "k1", nil)); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("wrong key: %v", err)
	}
	// Algorithm confusion: HS256 keyed with the public key's bytes.
	der, _ := x509.MarshalPKIXPublicKey(priv.Public())
	for _, pub := range [][]byte{der, rsaJWKS(t, priv, "k1")} {
		if _, err := a.Authenticate(ctx, signWith(t, jwa.HS256(), pub, "k1", nil)); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("HS256 with public key accepted: %v", err)
		}
	}
	// RS256 header with an ES256 signature.
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if _, err := a.Authenticate(ctx, signWith(t, jwa.ES256(), ec, "k1", nil)); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("ES256 against RSA key accepted: %v", err)
	}
	// A JWKS holding a symmetric key is refused at load.
	sym, _ := jwk.Import([]byte(secret))
	set := jwk.NewSet()
	_ = set.AddKey(sym)
	b, _ := json.Marshal(set)
	_ = os.WriteFile(p, b, 0o600)
	if _, err := New(Config{JWT: JWTConfig{JWKSFile: p, Issuer: "iss", Audience: "aud"}}, Options{}); err == nil || !strings.Contains(err.Error(), "symmetric") {
		t.Errorf("oct key in JWKS: %v", err)
	}
}

func TestJWKSURLRotation(t *testing.T) {
	ec1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	var rotated atomic.Bool
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		set := jwk.NewSet()
		k1, _ := jwk.Import(ec1.Public())
		_ = k1.Set(jwk.KeyIDKey, "ec1")
		_ = set.AddKey(k1)
		if rotated.Load() {
			k2, _ := jwk.Import(ed.Public())
			_ = k2.Set(jwk.KeyIDKey, "ed2")
			_ = set.AddKey(k2)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	}))
	defer srv.Close()
	a := newAuth(t, Config{JWT: JWTConfig{JWKSURL: srv.URL}})
	ctx := context.Background()
	if _, err := a.Authenticate(ctx, signWith(t, jwa.ES256(), ec1, "ec1", nil)); err != nil {
		t.Fatalf("ES256: %v", err)
	}
	rotated.Store(true)
	if _, err := a.Authenticate(ctx, signWith(t, jwa.EdDSA(), ed, "ed2", nil)); err != nil {
		t.Fatalf("EdDSA after rotation: %v", err)
	}
	// EdDSA header against the EC key.
	if _, err := a.Authenticate(ctx, signWith(t, jwa.EdDSA(), ed, "ec1", nil)); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("EdDSA with EC kid: %v", err)
	}
	// Unknown kids do not trigger a fetch each (rate limited).
	before := fetches.Load()
	for i := 0; i < 5; i++ {
		_, _ = a.Authenticate(ctx, signWith(t, jwa.ES256(), ec1, "nope", nil))
	}
	if got := fetches.Load() - before; got > 1 {
		t.Errorf("%d JWKS fetches for unknown kids, want <= 1", got)
	}
}

func TestJWKSUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 500) }))
	defer srv.Close()
	// The default (short) fetch wait: whether it runs out or the fetch
	// fails first, the verdict is the same.
	a, err := New(Config{JWT: JWTConfig{JWKSURL: srv.URL, Issuer: "iss", Audience: "aud"}}, Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if _, err := a.Authenticate(context.Background(), signWith(t, jwa.ES256(), ec, "x", nil)); !errors.Is(err, ErrUnavailable) {
		t.Errorf("want ErrUnavailable, got %v", err)
	}
}

func TestAPIKeysAndAnonymous(t *testing.T) {
	key := "vk_live_abcdef"
	sum := sha256.Sum256([]byte(key))
	a := newAuth(t, Config{
		APIKeys:   []APIKey{{SHA256: hex.EncodeToString(sum[:]), Subject: "ci", Claims: map[string]any{"role": "admin"}}},
		Anonymous: AnonymousConfig{Enabled: true, Subject: "guest"},
	})
	ctx := context.Background()
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-API-Key", key)
	if p, err := a.Authenticate(ctx, Credential(r)); err != nil || p.Subject != "ci" || p.Claims["role"] != "admin" {
		t.Fatalf("X-API-Key: %+v %v", p, err)
	}
	r = httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+key)
	if p, err := a.Authenticate(ctx, Credential(r)); err != nil || p.Method != "api_key" {
		t.Fatalf("Bearer key: %+v %v", p, err)
	}
	if _, err := a.Authenticate(ctx, "vk_wrong"); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("wrong key: %v", err)
	}
	if p, err := a.Authenticate(ctx, ""); err != nil || p.Subject != "guest" || p.Method != "anonymous" {
		t.Errorf("anonymous: %+v %v", p, err)
	}
	r = httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Basic Zm9vOmJhcg==")
	if _, err := a.Authenticate(ctx, Credential(r)); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("Basic auth must not fall back to anonymous: %v", err)
	}
	// A bad JWT never falls back to anonymous either.
	if _, err := a.Authenticate(ctx, "a.b.c"); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("bad jwt: %v", err)
	}
}
