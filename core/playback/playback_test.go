package playback

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/valetgw/valet/core/uploadid"
)

var (
	secret = []byte("0123456789abcdef0123456789abcdef")
	now    = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
)

func sealer(t *testing.T, secrets ...[]byte) *Sealer {
	t.Helper()
	s, err := NewSealer(secrets...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mint(t *testing.T, s *Sealer, g Grant) string {
	t.Helper()
	tok, err := s.Seal(g)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// A token made by one gateway opens on another that has the same secret
// and nothing else in common: the second replica behind a load balancer.
func TestSecondReplicaOpens(t *testing.T) {
	first := sealer(t, secret)
	second := sealer(t, append([]byte(nil), secret...))
	g := ForFolder("media", "users/alice/v1/", "alice", now.Add(3*time.Hour))
	tok := mint(t, first, g)
	got, err := second.Open(tok, "media", "users/alice/v1/720p/seg00042.ts", now)
	if err != nil {
		t.Fatal(err)
	}
	if got != g {
		t.Fatalf("opened %+v, sealed %+v", got, g)
	}
	if tok2 := mint(t, first, g); tok2 == tok {
		t.Fatal("two seals gave the same token")
	}
}

func TestTokenIsURLSafeAndOpaque(t *testing.T) {
	s := sealer(t, secret)
	tok := mint(t, s, ForKey("media", "users/alice/clip.mp4", "alice@example.com", now.Add(time.Hour)))
	if !strings.HasPrefix(tok, prefix) {
		t.Fatalf("token %q", tok)
	}
	for _, c := range tok[len(prefix):] {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			t.Fatalf("token has %q, not URL-safe: %s", c, tok)
		}
	}
	for _, plain := range []string{"media", "alice", "clip", "users"} {
		if strings.Contains(tok, plain) {
			t.Fatalf("token shows %q: %s", plain, tok)
		}
	}
	// A grant has no field a credential could ride in; the token is
	// sized by the grant alone (a JWT is hundreds of bytes).
	if len(tok) > 200 {
		t.Fatalf("token of %d bytes for a one-key grant", len(tok))
	}
}

func TestKeyTokenOpensThatKeyOnly(t *testing.T) {
	s := sealer(t, secret)
	tok := mint(t, s, ForKey("media", "users/alice/clip.mp4", "alice", now.Add(time.Hour)))
	if _, err := s.Open(tok, "media", "users/alice/clip.mp4", now); err != nil {
		t.Fatal(err)
	}
	refusesScope(t, s, tok, []storeKey{
		{"other", "users/alice/clip.mp4"},
		{"media", "users/alice/clip.mp4.m3u8"},
		{"media", "users/alice/clip.mp"},
		{"media", "users/alice/other.mp4"},
		{"media", "users/alice/"},
		{"media", "users/bob/clip.mp4"},
		{"media", ""},
	})
}

func TestFolderTokenOpensItsFolderOnly(t *testing.T) {
	s := sealer(t, secret)
	tok := mint(t, s, ForFolder("media", "users/alice/v1/", "alice", now.Add(time.Hour)))
	for _, key := range []string{"users/alice/v1/master.m3u8", "users/alice/v1/720p/index.m3u8", "users/alice/v1/720p/seg0.ts"} {
		if _, err := s.Open(tok, "media", key, now); err != nil {
			t.Errorf("%s: %v", key, err)
		}
	}
	refusesScope(t, s, tok, []storeKey{
		{"other", "users/alice/v1/master.m3u8"},
		{"media", "users/alice/v1"},
		{"media", "users/alice/v1/"},
		{"media", "users/alice/v10/master.m3u8"},
		{"media", "users/alice/v1/../v2/master.m3u8"},
		{"media", "users/alice/v1/./master.m3u8"},
		{"media", "users/alice/v1//master.m3u8"},
		{"media", "users/alice/other.mp4"},
		{"media", "users/bob/v1/master.m3u8"},
	})
}

func TestExpiry(t *testing.T) {
	s := sealer(t, secret)
	exp := now.Add(2 * time.Hour)
	tok := mint(t, s, ForKey("media", "a/b.mp4", "", exp))
	if _, err := s.Open(tok, "media", "a/b.mp4", exp.Add(-time.Second)); err != nil {
		t.Errorf("a second before expiry: %v", err)
	}
	for _, at := range []time.Time{exp, exp.Add(time.Second), exp.Add(24 * time.Hour)} {
		if _, err := s.Open(tok, "media", "a/b.mp4", at); !errors.Is(err, ErrExpired) {
			t.Errorf("at %v: %v, want ErrExpired", at, err)
		}
	}
	// Sub-second expiries round down: the token never outlives its grant.
	tok = mint(t, s, ForKey("media", "a/b.mp4", "", exp.Add(999*time.Millisecond)))
	if _, err := s.Open(tok, "media", "a/b.mp4", exp); !errors.Is(err, ErrExpired) {
		t.Errorf("rounded expiry: %v", err)
	}
}

func TestChangedTokensAreRefused(t *testing.T) {
	s := sealer(t, secret)
	tok := mint(t, s, ForFolder("media", "users/alice/v1/", "alice", now.Add(time.Hour)))
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
	for i := range len(tok) {
		for _, c := range []byte(alphabet) {
			if c == tok[i] {
				continue
			}
			bad := tok[:i] + string(c) + tok[i+1:]
			if _, err := s.Open(bad, "media", "users/alice/v1/master.m3u8", now); !errors.Is(err, ErrInvalid) {
				t.Fatalf("changed %q to %q at %d: %v", tok[i], c, i, err)
			}
		}
	}
	for _, bad := range []string{"", prefix, tok[:len(tok)-1], tok + "A", tok[1:], "u1." + tok[len(prefix):], strings.Repeat(tok, 60)} {
		if _, err := s.Open(bad, "media", "users/alice/v1/master.m3u8", now); !errors.Is(err, ErrInvalid) {
			t.Errorf("Open(%.24q…) = %v", bad, err)
		}
	}
}

func TestOtherSecretsAndRotation(t *testing.T) {
	oldSecret := secret
	newSecret := []byte("another-secret-another-secret-xx")
	old := sealer(t, oldSecret)
	rotated := sealer(t, newSecret, oldSecret)
	stranger := sealer(t, newSecret)

	g := ForKey("media", "a/b.mp4", "", now.Add(time.Hour))
	tok := mint(t, old, g)
	if _, err := rotated.Open(tok, "media", "a/b.mp4", now); err != nil {
		t.Errorf("rotated gateway refuses a token of the old secret: %v", err)
	}
	if _, err := stranger.Open(tok, "media", "a/b.mp4", now); !errors.Is(err, ErrInvalid) {
		t.Errorf("another secret opened it: %v", err)
	}
	if _, err := old.Open(mint(t, rotated, g), "media", "a/b.mp4", now); !errors.Is(err, ErrInvalid) {
		t.Errorf("the first secret does not seal: %v", err)
	}
}

// Upload ids and playback tokens share a secret in config and a sealing
// primitive; each must still refuse the other, with or without its prefix.
func TestUploadIDsAndTokensNeverCross(t *testing.T) {
	ids, err := uploadid.NewSealer(secret)
	if err != nil {
		t.Fatal(err)
	}
	tokens := sealer(t, secret)
	id, err := ids.Seal(uploadid.Upload{Store: "media", Key: "a/b.mp4", ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	tok := mint(t, tokens, ForKey("media", "a/b.mp4", "", now.Add(time.Hour)))
	body := func(s string) string { return s[strings.IndexByte(s, '.')+1:] }
	for _, asToken := range []string{id, prefix + body(id)} {
		if _, err := tokens.Open(asToken, "media", "a/b.mp4", now); !errors.Is(err, ErrInvalid) {
			t.Errorf("upload id opened as a playback token: %v", err)
		}
	}
	for _, asID := range []string{tok, "u1." + body(tok)} {
		if _, err := ids.Open(asID, now); !errors.Is(err, uploadid.ErrInvalid) {
			t.Errorf("playback token opened as an upload id: %v", err)
		}
	}
}

func TestSealRefusesBadGrants(t *testing.T) {
	s := sealer(t, secret)
	exp := now.Add(time.Hour)
	for name, g := range map[string]Grant{
		"no store":           {Key: "a/b", ExpiresAt: exp},
		"no expiry":          {Store: "m", Key: "a/b"},
		"no scope":           {Store: "m", ExpiresAt: exp},
		"key and folder":     {Store: "m", Key: "a/b", Folder: "a/", ExpiresAt: exp},
		"whole store":        ForFolder("m", "", "", exp),
		"root folder":        ForFolder("m", "/", "", exp),
		"folder without /":   ForFolder("m", "a", "", exp),
		"folder with ..":     ForFolder("m", "a/../", "", exp),
		"folder with //":     ForFolder("m", "a//", "", exp),
		"bad key":            ForKey("m", "a/../b", "", exp),
		"key with a leading": ForKey("m", "/a", "", exp),
	} {
		if _, err := s.Seal(g); err == nil {
			t.Errorf("%s: sealed", name)
		}
	}
	for _, bad := range [][][]byte{nil, {[]byte("short")}, {secret, []byte("short")}} {
		if _, err := NewSealer(bad...); err == nil {
			t.Errorf("NewSealer(%d secrets) accepted", len(bad))
		}
	}
}

// storeKey is a store and a key a token is opened for.
type storeKey struct{ store, key string }

// refusesScope checks that tok opens none of cases: each is ErrScope.
func refusesScope(t *testing.T, s *Sealer, tok string, cases []storeKey) {
	t.Helper()
	for _, c := range cases {
		if _, err := s.Open(tok, c.store, c.key, now); !errors.Is(err, ErrScope) {
			t.Errorf("Open for %s/%q = %v, want ErrScope", c.store, c.key, err)
		}
	}
}
