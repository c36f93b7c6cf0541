package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

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
