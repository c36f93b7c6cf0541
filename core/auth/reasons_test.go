package auth

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// With several HS256 keys the first signs and every one verifies; a token
// signed with a key no longer listed is refused as a bad signature.
func TestHS256Rotation(t *testing.T) {
	const older = "older-hs256-secret-0123456789abcdef"
	ctx := context.Background()
	oldTok := signWith(t, jwa.HS256(), []byte(older), "", nil)
	newTok := signWith(t, jwa.HS256(), []byte(secret), "", nil)

	rotated := newAuth(t, Config{JWT: JWTConfig{HS256Secrets: []string{secret, older}}})
	for name, tok := range map[string]string{"old": oldTok, "new": newTok} {
		if p, err := rotated.Authenticate(ctx, tok); err != nil || p.Subject != "alice" {
			t.Errorf("%s key during rotation: %+v %v", name, p, err)
		}
	}
	// A claim failure under the second key says so, not "signature".
	expired := signWith(t, jwa.HS256(), []byte(older), "", func(b *jwt.Builder) *jwt.Builder { return b.Expiration(now.Add(-time.Hour)) })
	if _, err := rotated.Authenticate(ctx, expired); Reason(err) != ReasonExpired {
		t.Errorf("expired token under the old key: %v (reason %q)", err, Reason(err))
	}
	minted, err := MintDevToken(Config{JWT: JWTConfig{HS256Secrets: []string{secret, older}, Issuer: "iss", Audience: "aud"}}, "bob", nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// MintDevToken signs with the first key (and the real clock).
	realClock, err := New(Config{JWT: JWTConfig{HS256Secret: secret, Issuer: "iss", Audience: "aud"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := realClock.Authenticate(ctx, minted); err != nil || p.Subject != "bob" {
		t.Errorf("minted with the first key: %+v %v", p, err)
	}
	only := newAuth(t, Config{JWT: JWTConfig{HS256Secret: secret}})
	if _, err := only.Authenticate(ctx, oldTok); Reason(err) != ReasonSignature {
		t.Errorf("dropped key: %v (reason %q)", err, Reason(err))
	}
}

// Every refusal carries the reason the gateway logs (never the token), and
// still matches ErrInvalidCredentials.
func TestRefusalReasons(t *testing.T) {
	ctx := context.Background()
	ec := newECKey(t, "k1")
	jwks := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(jwks, jwksOf(t, ec), 0o600); err != nil {
		t.Fatal(err)
	}
	a := newAuth(t, Config{JWT: JWTConfig{HS256Secret: secret, JWKSFile: jwks, Issuer: "iss", Audience: "aud"},
		APIKeys: []APIKey{{SHA256: "00", Subject: "robot"}}})
	hs := func(mod func(*jwt.Builder) *jwt.Builder) string {
		return signWith(t, jwa.HS256(), []byte(secret), "", mod)
	}
	other := newECKey(t, "k2")
	for _, tc := range []struct{ name, cred, want string }{
		{"garbage", "not-a-jwt", ReasonMalformed},
		{"unsupported scheme", "\x00invalid", ReasonMalformed},
		{"wrong secret", signWith(t, jwa.HS256(), []byte("another-secret-another-secret-xx"), "", nil), ReasonSignature},
		{"expired", hs(func(b *jwt.Builder) *jwt.Builder { return b.Expiration(now.Add(-time.Hour)) }), ReasonExpired},
		{"not yet valid", hs(func(b *jwt.Builder) *jwt.Builder { return b.NotBefore(now.Add(time.Hour)) }), ReasonNotYetValid},
		{"audience", hs(func(b *jwt.Builder) *jwt.Builder { return b.Audience([]string{"other"}) }), ReasonAudience},
		{"issuer", hs(func(b *jwt.Builder) *jwt.Builder { return b.Issuer("evil") }), ReasonIssuer},
		{"no subject", hs(func(b *jwt.Builder) *jwt.Builder { return b.Subject("") }), ReasonClaims},
		{"HS384", signWith(t, jwa.HS384(), []byte(secret), "", nil), ReasonAlgorithm},
		{"unknown kid", signWith(t, jwa.ES256(), other.priv, "k2", nil), ReasonUnknownKey},
		{"ES256 signed by another key under a known kid", signWith(t, jwa.ES256(), other.priv, "k1", nil), ReasonSignature},
		{"unknown API key", APIKeyPrefix + "nope", ReasonUnknownAPIKey},
	} {
		_, err := a.Authenticate(ctx, tc.cred)
		if !errors.Is(err, ErrInvalidCredentials) || Reason(err) != tc.want {
			t.Errorf("%s: %v, reason %q, want %q", tc.name, err, Reason(err), tc.want)
		}
	}
	if _, err := a.Authenticate(ctx, signWith(t, jwa.ES256(), ec.priv, "k1", nil)); err != nil {
		t.Errorf("valid ES256: %v", err)
	}
	if _, err := newAuth(t, Config{JWT: JWTConfig{HS256Secret: secret}}).Authenticate(ctx, ""); Reason(err) != ReasonNone {
		t.Errorf("no credentials: %v reason %q", err, Reason(err))
	}
}
