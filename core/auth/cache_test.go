package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

func TestCacheServesVerifiedTokenOnly(t *testing.T) {
	clk := &testClock{t: now}
	a := newClockedAuth(t, Config{JWT: JWTConfig{HS256Secret: secret}}, clk)
	ctx := context.Background()
	tok := signWith(t, jwa.HS256(), []byte(secret), "", nil)
	for i := 0; i < 3; i++ {
		p, err := a.Authenticate(ctx, tok)
		if err != nil || p.Subject != "alice" || p.Claims["role"] != "editor" || p.Method != "jwt" {
			t.Fatalf("call %d: %+v %v", i, p, err)
		}
	}
	if n := a.verified.len(); n != 1 {
		t.Fatalf("cache holds %d entries after one token, want 1", n)
	}
	// Failures are never remembered.
	for i := 0; i < 2; i++ {
		if _, err := a.Authenticate(ctx, signWith(t, jwa.HS256(), []byte("another-secret-another-secret-xx"), "", nil)); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("wrong secret: %v", err)
		}
	}
	if n := a.verified.len(); n != 1 {
		t.Fatalf("cache holds %d entries after failures, want 1", n)
	}
}

func TestCacheNeverServesTamperedToken(t *testing.T) {
	clk := &testClock{t: now}
	a := newClockedAuth(t, Config{JWT: JWTConfig{HS256Secret: secret}}, clk)
	ctx := context.Background()
	tok := signWith(t, jwa.HS256(), []byte(secret), "", nil)
	if _, err := a.Authenticate(ctx, tok); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	hdr, payload, sig := parts[0], parts[1], parts[2]
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	claims["sub"], claims["role"] = "mallory", "admin"
	forged, _ := json.Marshal(claims)
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	tampered := map[string]string{
		"payload swapped":  hdr + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + sig,
		"signature byte":   hdr + "." + payload + "." + flip(sig, 3),
		"signature cut":    hdr + "." + payload + "." + sig[:len(sig)-2],
		"signature empty":  hdr + "." + payload + ".",
		"header changed":   flip(hdr, 2) + "." + payload + "." + sig,
		"trailing garbage": tok + "x",
	}
	for name, bad := range tampered {
		// Twice: the second attempt must not be answered from the cache either.
		for i := 0; i < 2; i++ {
			if p, err := a.Authenticate(ctx, bad); !errors.Is(err, ErrInvalidCredentials) {
				t.Errorf("%s (attempt %d): accepted as %+v, err %v", name, i+1, p, err)
			}
		}
	}
	// The genuine token is still served, and nothing else was cached.
	if p, err := a.Authenticate(ctx, tok); err != nil || p.Subject != "alice" {
		t.Errorf("genuine token after tampering: %+v %v", p, err)
	}
	if n := a.verified.len(); n != 1 {
		t.Errorf("cache holds %d entries, want 1", n)
	}
}

func TestCacheHonoursExpWithoutLeeway(t *testing.T) {
	for _, leeway := range []time.Duration{0, 30 * time.Second} {
		clk := &testClock{t: now}
		a := newClockedAuth(t, Config{JWT: JWTConfig{HS256Secret: secret, Leeway: time.Duration(leeway)}}, clk)
		ctx := context.Background()
		exp := now.Add(time.Minute)
		tok := signWith(t, jwa.HS256(), []byte(secret), "", func(b *jwt.Builder) *jwt.Builder { return b.Expiration(exp) })
		if _, err := a.Authenticate(ctx, tok); err != nil {
			t.Fatalf("leeway %s: fresh token: %v", leeway, err)
		}
		clk.Set(exp.Add(-time.Second))
		if _, err := a.Authenticate(ctx, tok); err != nil {
			t.Fatalf("leeway %s: before exp: %v", leeway, err)
		}
		// At exp the cache no longer answers: the token goes through full
		// verification, which applies the configured leeway and no more.
		clk.Set(exp)
		if _, ok := a.verified.get(sha256.Sum256([]byte(tok)), clk.Now()); ok {
			t.Fatalf("leeway %s: cache still serves the token at its exp", leeway)
		}
		clk.Set(exp.Add(leeway + time.Second))
		if _, err := a.Authenticate(ctx, tok); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("leeway %s: expired cached token accepted: %v", leeway, err)
		}
		if leeway > 0 {
			clk.Set(exp.Add(leeway / 2))
			if _, err := a.Authenticate(ctx, tok); err != nil {
				t.Fatalf("leeway %s: within leeway (full verification): %v", leeway, err)
			}
			clk.Set(exp.Add(leeway + time.Second))
			if _, err := a.Authenticate(ctx, tok); !errors.Is(err, ErrInvalidCredentials) {
				t.Fatalf("leeway %s: accepted past exp+leeway after a leeway acceptance: %v", leeway, err)
			}
		}
	}
}

func TestCacheIgnoresClockBeforeVerification(t *testing.T) {
	clk := &testClock{t: now.Add(time.Minute)}
	a := newClockedAuth(t, Config{JWT: JWTConfig{HS256Secret: secret}}, clk)
	ctx := context.Background()
	tok := signWith(t, jwa.HS256(), []byte(secret), "", func(b *jwt.Builder) *jwt.Builder { return b.NotBefore(now) })
	if _, err := a.Authenticate(ctx, tok); err != nil {
		t.Fatal(err)
	}
	clk.Set(now.Add(-time.Hour)) // before nbf: must be re-checked, not served
	if _, err := a.Authenticate(ctx, tok); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("token served from cache before its nbf: %v", err)
	}
}

func TestCacheBelongsToAuthenticator(t *testing.T) {
	clk := &testClock{t: now}
	ctx := context.Background()
	tok := signWith(t, jwa.HS256(), []byte(secret), "", nil)
	a := newClockedAuth(t, Config{JWT: JWTConfig{HS256Secret: secret}}, clk)
	if _, err := a.Authenticate(ctx, tok); err != nil {
		t.Fatal(err)
	}
	// A reload with a rotated secret builds a new Authenticator: the token
	// verified (and cached) by the old one is refused.
	b := newClockedAuth(t, Config{JWT: JWTConfig{HS256Secret: "rotated-secret-rotated-secret-xx"}}, clk)
	if _, err := b.Authenticate(ctx, tok); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("token accepted after secret rotation: %v", err)
	}
}

func TestCacheDropsTokensOfWithdrawnJWKSKey(t *testing.T) {
	ec1, ed := newECKey(t, "ec1"), newEdKey(t, "ed2")
	srv := newJWKSServer(t, "", jwksOf(t, ec1, ed))
	clk := &testClock{t: now}
	a := newClockedAuth(t, Config{JWT: JWTConfig{JWKSURL: srv.URL}}, clk)
	ctx := context.Background()
	tok := signWith(t, jwa.ES256(), ec1.priv, "ec1", nil)
	for i := 0; i < 2; i++ {
		if _, err := a.Authenticate(ctx, tok); err != nil {
			t.Fatalf("ES256 call %d: %v", i, err)
		}
	}
	if n := a.verified.len(); n != 1 {
		t.Fatalf("cache holds %d entries, want 1", n)
	}
	// The issuer withdraws ec1; the next refresh of the key set must end
	// the cached acceptance of tokens it signed.
	srv.serve(jwksOf(t, ed))
	if _, err := a.refresh(ctx, srv.URL); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, tok); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("token of a withdrawn key accepted: %v", err)
	}
}

func TestVerifiedCacheIsBounded(t *testing.T) {
	c := newVerifiedCache(4)
	e := cacheEntry{verifiedAt: now, exp: now.Add(time.Hour)}
	key := func(i int) [sha256.Size]byte { return sha256.Sum256([]byte{byte(i)}) }
	for i := 0; i < 4; i++ {
		c.put(key(i), e, now)
	}
	// Keep 0 and 1 in use; 2 and 3 are the ones to go.
	_, _ = c.get(key(0), now)
	_, _ = c.get(key(1), now)
	c.put(key(10), e, now)
	c.put(key(11), e, now)
	if n := c.len(); n != 4 {
		t.Fatalf("len %d, want 4", n)
	}
	for _, i := range []int{0, 1, 10, 11} {
		if _, ok := c.get(key(i), now); !ok {
			t.Errorf("entry %d evicted", i)
		}
	}
	for i := 20; i < 200; i++ {
		c.put(key(i), e, now)
	}
	if n := c.len(); n != 4 {
		t.Fatalf("len %d after many puts, want 4", n)
	}
	// An expired entry is dropped on lookup.
	c.put(key(7), cacheEntry{verifiedAt: now, exp: now.Add(time.Second)}, now)
	if _, ok := c.get(key(7), now.Add(time.Second)); ok {
		t.Error("expired entry served")
	}
	if n := c.len(); n != 3 {
		t.Errorf("len %d after dropping an expired entry, want 3", n)
	}
}
