package auth

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

func TestJWKSFileAndConfusion(t *testing.T) {
	key := newRSAKey(t, "k1")
	p := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(p, jwksOf(t, key), 0o600); err != nil {
		t.Fatal(err)
	}
	a := newAuth(t, Config{JWT: JWTConfig{JWKSFile: p}})
	ctx := context.Background()
	if pr, err := a.Authenticate(ctx, signWith(t, jwa.RS256(), key.priv, "k1", nil)); err != nil || pr.Subject != "alice" {
		t.Fatalf("RS256: %v", err)
	}
	if _, err := a.Authenticate(ctx, signWith(t, jwa.RS256(), key.priv, "unknown", nil)); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("unknown kid: %v", err)
	}
	other := newRSAKey(t, "k1")
	if _, err := a.Authenticate(ctx, signWith(t, jwa.RS256(), other.priv, "k1", nil)); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("wrong key: %v", err)
	}
	// Algorithm confusion: HS256 keyed with the public key's bytes.
	der, _ := x509.MarshalPKIXPublicKey(key.priv.Public())
	for _, pub := range [][]byte{der, jwksOf(t, key)} {
		if _, err := a.Authenticate(ctx, signWith(t, jwa.HS256(), pub, "k1", nil)); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("HS256 with public key accepted: %v", err)
		}
	}
	// RS256 header with an ES256 signature.
	ec := newECKey(t, "k1")
	if _, err := a.Authenticate(ctx, signWith(t, jwa.ES256(), ec.priv, "k1", nil)); !errors.Is(err, ErrInvalidCredentials) {
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
	ec1, ed := newECKey(t, "ec1"), newEdKey(t, "ed2")
	srv := newJWKSServer(t, "", jwksOf(t, ec1))
	a := newAuth(t, Config{JWT: JWTConfig{JWKSURL: srv.URL}})
	ctx := context.Background()
	if _, err := a.Authenticate(ctx, signWith(t, jwa.ES256(), ec1.priv, "ec1", nil)); err != nil {
		t.Fatalf("ES256: %v", err)
	}
	srv.serve(jwksOf(t, ec1, ed)) // rotate "ed2" in
	if _, err := a.Authenticate(ctx, signWith(t, jwa.EdDSA(), ed.priv, "ed2", nil)); err != nil {
		t.Fatalf("EdDSA after rotation: %v", err)
	}
	// EdDSA header against the EC key.
	if _, err := a.Authenticate(ctx, signWith(t, jwa.EdDSA(), ed.priv, "ec1", nil)); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("EdDSA with EC kid: %v", err)
	}
	// Unknown kids do not trigger a fetch each (rate limited).
	before := srv.fetches.Load()
	for i := 0; i < 5; i++ {
		_, _ = a.Authenticate(ctx, signWith(t, jwa.ES256(), ec1.priv, "nope", nil))
	}
	if got := srv.fetches.Load() - before; got > 1 {
		t.Errorf("%d JWKS fetches for unknown kids, want <= 1", got)
	}
}

func TestJWKSUnavailable(t *testing.T) {
	srv := newDownJWKSServer(t)
	// The default (short) fetch wait: whether it runs out or the fetch
	// fails first, the verdict is the same.
	a, err := New(Config{JWT: JWTConfig{JWKSURL: srv.URL, Issuer: "iss", Audience: "aud"}}, Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ec := newECKey(t, "x")
	if _, err := a.Authenticate(context.Background(), signWith(t, jwa.ES256(), ec.priv, ec.kid, nil)); !errors.Is(err, ErrUnavailable) {
		t.Errorf("want ErrUnavailable, got %v", err)
	}
}

// The configured audience is enforced on JWKS-verified tokens: a token
// minted for another application of the same IdP, or for none, is refused
// (ErrInvalidCredentials, a 401). Only any_audience waives the check, and
// it does not waive the issuer.
func TestJWKSAudience(t *testing.T) {
	key := newECKey(t, "k1")
	file := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(file, jwksOf(t, key), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := newJWKSServer(t, "", jwksOf(t, key))
	claims := func(mod func(map[string]any)) map[string]any {
		c := map[string]any{"sub": "alice", "iss": "https://idp.example/", "aud": []string{"valet"}, "exp": now.Add(time.Hour).Unix()}
		if mod != nil {
			mod(c)
		}
		return c
	}
	cases := []struct {
		name   string
		claims map[string]any
		strict bool // accepted with audience "valet" and the issuer
		anyAud bool // accepted with any_audience: true and the issuer
		anyIss bool // accepted with audience "valet" and any_issuer: true
	}{
		{"right aud", claims(nil), true, true, true},
		{"right aud among others", claims(func(c map[string]any) { c["aud"] = []string{"other-app", "valet"} }), true, true, true},
		{"right aud as a string", claims(func(c map[string]any) { c["aud"] = "valet" }), true, true, true},
		{"wrong aud", claims(func(c map[string]any) { c["aud"] = []string{"other-app"} }), false, true, false},
		{"aud prefix", claims(func(c map[string]any) { c["aud"] = "valet-admin" }), false, true, false},
		{"empty aud", claims(func(c map[string]any) { c["aud"] = []string{} }), false, true, false},
		{"missing aud claim", claims(func(c map[string]any) { delete(c, "aud") }), false, true, false},
		{"wrong iss", claims(func(c map[string]any) { c["iss"] = "https://evil.example/" }), false, false, true},
		{"missing iss claim", claims(func(c map[string]any) { delete(c, "iss") }), false, false, true},
	}
	for _, src := range []struct {
		name string
		jwt  JWTConfig
	}{
		{"file", JWTConfig{JWKSFile: file}},
		{"url", JWTConfig{JWKSURL: srv.URL}},
	} {
		for _, mode := range []string{"audience", "any_audience"} {
			j := src.jwt
			j.Issuer = "https://idp.example/"
			if mode == "audience" {
				j.Audience = "valet"
			} else {
				j.AnyAudience = true
			}
			a, err := New(Config{JWT: j}, Options{Now: clock, FetchWait: testFetchWait})
			if err != nil {
				t.Fatalf("%s %s: %v", src.name, mode, err)
			}
			defer a.Close()
			for _, c := range cases {
				want := c.strict
				if mode == "any_audience" {
					want = c.anyAud
				}
				p, err := a.Authenticate(context.Background(), signClaims(t, key, c.claims))
				switch {
				case want && (err != nil || p.Subject != "alice"):
					t.Errorf("%s, %s: %s refused: %v", src.name, mode, c.name, err)
				case !want && !errors.Is(err, ErrInvalidCredentials):
					t.Errorf("%s, %s: %s: got %+v, %v; want ErrInvalidCredentials", src.name, mode, c.name, p, err)
				}
			}
		}
	}

	// any_issuer waives the issuer, not the audience.
	a, err := New(Config{JWT: JWTConfig{JWKSFile: file, Audience: "valet", AnyIssuer: true}}, Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, c := range cases {
		want := c.anyIss
		if _, err := a.Authenticate(context.Background(), signClaims(t, key, c.claims)); (err == nil) != want {
			t.Errorf("any_issuer: %s: err %v, want accepted=%v", c.name, err, want)
		}
	}
}

// New refuses a JWKS without an audience and an issuer (or their
// opt-outs), even when handed a config that skipped Validate.
func TestNewRequiresAudienceWithJWKS(t *testing.T) {
	file := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(file, jwksOf(t, newECKey(t, "k1")), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		jwt  JWTConfig
		want []string // "" = accepted
	}{
		{"file alone", JWTConfig{JWKSFile: file}, []string{"auth.jwt.audience", "auth.jwt.any_audience", "auth.jwt.issuer", "auth.jwt.any_issuer"}},
		{"url alone", JWTConfig{JWKSURL: "http://127.0.0.1:1/jwks", Issuer: "iss"}, []string{"auth.jwt.audience: required", "auth.jwt.any_audience"}},
		{"no issuer", JWTConfig{JWKSFile: file, Audience: "aud"}, []string{"auth.jwt.issuer: required"}},
		{"both", JWTConfig{JWKSFile: file, Audience: "aud", Issuer: "iss"}, nil},
		{"opt-outs", JWTConfig{JWKSFile: file, AnyAudience: true, AnyIssuer: true}, nil},
		{"hs256 needs neither", JWTConfig{HS256Secret: secret}, nil},
	} {
		a, err := New(Config{JWT: tc.jwt}, Options{})
		if a != nil {
			a.Close()
		}
		if tc.want == nil {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tc.name, err, w)
			}
		}
	}
}

// An IdP that says its JWKS may be cached for 30 days does not make Valet
// trust a key it withdraws for that long: the set is fetched again within
// auth.jwt.jwks_refresh (small here), by the cache's own schedule — the
// check below reads the cache and never forces a refresh.
func TestJWKSRefreshIgnoresLongMaxAge(t *testing.T) {
	old, rotated := newECKey(t, "old"), newECKey(t, "new")
	srv := newJWKSServer(t, "public, max-age=2592000", jwksOf(t, old))
	clk := &testClock{t: now}
	a, err := New(Config{JWT: JWTConfig{JWKSURL: srv.URL, Issuer: "iss", Audience: "aud", JWKSRefresh: 2 * time.Second}},
		Options{Now: clk.Now, FetchWait: testFetchWait})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	waitJWKS(t, a)
	ctx := context.Background()
	tokOld := signWith(t, jwa.ES256(), old.priv, old.kid, nil)
	if _, err := a.Authenticate(ctx, tokOld); err != nil {
		t.Fatalf("token of the current key: %v", err)
	}

	srv.serve(jwksOf(t, rotated)) // withdraw "old", publish "new"
	deadline := time.Now().Add(time.Minute)
	for {
		set, err := a.cache.Lookup(ctx, srv.URL)
		if err == nil {
			if _, stale := set.LookupKeyID(old.kid); !stale {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("withdrawn key still in the cached JWKS a minute after rotation (jwks_refresh 2s, %d fetches)", srv.fetches.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := a.Authenticate(ctx, tokOld); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("token of the withdrawn key: %v", err)
	}
	if _, err := a.Authenticate(ctx, signWith(t, jwa.ES256(), rotated.priv, rotated.kid, nil)); err != nil {
		t.Errorf("token of the new key: %v", err)
	}
}

// The scheduled refresh is clamped: a long max-age to jwks_refresh, a
// max-age=0 up to JWKSMinRefresh, and no cache header at all means
// jwks_refresh. The schedule is read from the cache, not waited for.
func TestJWKSRefreshBounds(t *testing.T) {
	key := newECKey(t, "k1")
	for _, tc := range []struct {
		cacheControl string
		refresh      time.Duration // auth.jwt.jwks_refresh (0 = default)
		want         time.Duration // the next fetch, from the last one
	}{
		{"max-age=2592000", 0, DefaultJWKSRefresh},
		{"max-age=2592000", time.Hour, time.Hour},
		{"max-age=0", 0, JWKSMinRefresh},
		{"no-cache", 0, JWKSMinRefresh},
		{"max-age=300", 0, 5 * time.Minute},
		{"", 0, DefaultJWKSRefresh},
		{"", 5 * time.Minute, 5 * time.Minute},
	} {
		srv := newJWKSServer(t, tc.cacheControl, jwksOf(t, key))
		before := time.Now() // New fetches at once, in the background
		a, err := New(Config{JWT: JWTConfig{JWKSURL: srv.URL, Issuer: "iss", Audience: "aud", JWKSRefresh: tc.refresh}},
			Options{Now: clock, FetchWait: testFetchWait})
		if err != nil {
			t.Fatal(err)
		}
		waitJWKS(t, a)
		r, err := a.cache.LookupResource(context.Background(), srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		// The fetch happened between before and now.
		next := r.Next()
		if next.Before(before.Add(tc.want)) || next.After(time.Now().Add(tc.want)) {
			t.Errorf("Cache-Control %q, jwks_refresh %s: next fetch in %s, want %s", tc.cacheControl, tc.refresh, next.Sub(before).Round(time.Second), tc.want)
		}
		a.Close()
	}

	// A failed fetch is retried after the shortest interval, not the
	// longest a missing cache header defaults to.
	down := newDownJWKSServer(t)
	before := time.Now()
	a, err := New(Config{JWT: JWTConfig{JWKSURL: down.URL, Issuer: "iss", Audience: "aud"}}, Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	r, err := a.cache.LookupResource(context.Background(), down.URL)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); r.Next().Before(before); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no fetch attempt within a minute")
		}
	}
	if next := r.Next(); next.Before(before.Add(JWKSMinRefresh)) || next.After(time.Now().Add(JWKSMinRefresh)) {
		t.Errorf("after a failed fetch: next in %s, want %s", next.Sub(before).Round(time.Second), JWKSMinRefresh)
	}
}

// A token with an unknown kid forces at most one JWKS fetch per
// forcedRefreshEvery, however many arrive; after that a rotated-in key is
// found by the next such token.
func TestUnknownKidRefreshIsRateLimited(t *testing.T) {
	k1, k2 := newECKey(t, "k1"), newECKey(t, "k2")
	srv := newJWKSServer(t, "max-age=3600", jwksOf(t, k1)) // no scheduled fetch during the test
	clk := &testClock{t: now}
	a := newClockedAuth(t, Config{JWT: JWTConfig{JWKSURL: srv.URL}}, clk)
	waitJWKS(t, a)
	ctx := context.Background()
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches after start, want 1", n)
	}
	unknown := signWith(t, jwa.ES256(), k1.priv, "nope", nil)
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := a.Authenticate(ctx, unknown); !errors.Is(err, ErrInvalidCredentials) {
				t.Errorf("unknown kid: %v", err)
			}
		}()
	}
	wg.Wait()
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after 20 unknown kids, want 2 (one forced)", n)
	}
	srv.serve(jwksOf(t, k1, k2))
	tok2 := signWith(t, jwa.ES256(), k2.priv, k2.kid, nil)
	clk.Set(now.Add(forcedRefreshEvery - time.Second))
	if _, err := a.Authenticate(ctx, tok2); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("new kid within the rate limit: %v (want refused: no fetch allowed yet)", err)
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches within the rate limit, want 2", n)
	}
	clk.Set(now.Add(forcedRefreshEvery))
	if _, err := a.Authenticate(ctx, tok2); err != nil {
		t.Fatalf("rotated-in key after the rate limit: %v", err)
	}
	if n := srv.fetches.Load(); n != 3 {
		t.Fatalf("%d fetches, want 3", n)
	}
	for i := 0; i < 5; i++ {
		_, _ = a.Authenticate(ctx, unknown)
	}
	if n := srv.fetches.Load(); n != 3 {
		t.Fatalf("%d fetches after more unknown kids, want 3", n)
	}
	// A clock stepped back does not stop forced refreshes until it
	// catches up again.
	clk.Set(now.Add(-time.Hour))
	_, _ = a.Authenticate(ctx, unknown)
	if n := srv.fetches.Load(); n != 4 {
		t.Fatalf("%d fetches after the clock stepped back, want 4", n)
	}
}
