package seal

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

var (
	secretA = []byte("0123456789abcdef0123456789abcdef")
	secretB = []byte("another-secret-another-secret-xx")
)

// An upload id sealed by uploadid before it moved onto this package: the
// format (prefix, nonce, AD, key derivation) must not have changed, or ids
// in flight during an upgrade would stop opening.
const uploadIDBeforeRefactor = "u1.aIIxPRu5PvSxHobapABAtrQnvvermMV-RahsImQn58QhqxHuOsKB0sA_C5M_IYvP9e0qc_qjIoN_XGuNUDWFcOw_HqhtRRio2zqfcZMVpKCYIppsEPc23f6wz2akwY1xrL6l77iG5FSsdr8DzXe5yTFUv07l_osjiqYGSKnMbMJnlJW2ow"

func TestOpensTheFormatUploadIDsHad(t *testing.T) {
	b, err := New("valet upload id v1", "u1.", secretA)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := b.Open(uploadIDBeforeRefactor)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(plain, []byte(`"k":"users/a/x"`)) {
		t.Fatalf("plaintext %s", plain)
	}
}

func TestRoundTripRotationAndPurpose(t *testing.T) {
	old, _ := New("p", "x1.", secretA)
	rotated, _ := New("p", "x1.", secretB, secretA)
	newOnly, _ := New("p", "x1.", secretB)
	otherPurpose, _ := New("q", "x1.", secretA)
	otherPrefix, _ := New("p", "y1.", secretA)

	tok, err := old.Seal([]byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(tok, "hello") || !strings.HasPrefix(tok, "x1.") {
		t.Fatalf("token %q", tok)
	}
	for name, b := range map[string]*Box{"same": old, "rotated": rotated} {
		if got, err := b.Open(tok); err != nil || string(got) != "hello" {
			t.Errorf("%s: %q, %v", name, got, err)
		}
	}
	for name, b := range map[string]*Box{"new secret only": newOnly, "other purpose": otherPurpose} {
		if _, err := b.Open(tok); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s opened it: %v", name, err)
		}
	}
	if _, err := otherPrefix.Open("y1." + tok[3:]); !errors.Is(err, ErrInvalid) {
		t.Errorf("other prefix (authenticated) opened it: %v", err)
	}
	// The first secret seals: what the rotated box makes, the old one refuses.
	tok2, _ := rotated.Seal([]byte("hello"))
	if _, err := old.Open(tok2); !errors.Is(err, ErrInvalid) {
		t.Errorf("old secret opened a token of the new one: %v", err)
	}
	if tok3, _ := old.Seal([]byte("hello")); tok3 == tok {
		t.Error("two seals gave the same token")
	}
}

func TestEveryChangedCharacterIsRefused(t *testing.T) {
	b, _ := New("p", "x1.", secretA)
	tok, _ := b.Seal([]byte("some plaintext"))
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range len(tok) {
		for _, c := range []byte(alphabet) {
			if c == tok[i] {
				continue
			}
			if _, err := b.Open(tok[:i] + string(c) + tok[i+1:]); !errors.Is(err, ErrInvalid) {
				t.Fatalf("changed %q to %q at %d: %v", tok[i], c, i, err)
			}
		}
	}
	for _, bad := range []string{"", "x1.", "x1.!!!", "x1.AAAA", tok[:len(tok)-1], tok + "A", tok + "=", strings.Repeat("x1.AAAA", 2000)} {
		if _, err := b.Open(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Open(%.20q) = %v", bad, err)
		}
	}
}

func TestNewRefuses(t *testing.T) {
	for name, f := range map[string]func() (*Box, error){
		"short secret": func() (*Box, error) { return New("p", "x1.", []byte("short")) },
		"short second": func() (*Box, error) { return New("p", "x1.", secretA, []byte("short")) },
		"no secret":    func() (*Box, error) { return New("p", "x1.") },
		"no purpose":   func() (*Box, error) { return New("", "x1.", secretA) },
		"no prefix":    func() (*Box, error) { return New("p", "", secretA) },
	} {
		if _, err := f(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// SealJSON and OpenJSON round-trip a record; a plaintext that does not
// decode into the target, or a token of another box, is ErrInvalid.
func TestJSONRecords(t *testing.T) {
	b, _ := New("p", "x1.", secretA)
	type rec struct{ A string }
	tok, err := b.SealJSON(rec{A: "v"})
	if err != nil {
		t.Fatal(err)
	}
	var got rec
	if err := b.OpenJSON(tok, &got); err != nil || got.A != "v" {
		t.Fatalf("OpenJSON = %+v, %v", got, err)
	}
	notJSON, _ := b.Seal([]byte("not json"))
	other, _ := New("q", "x1.", secretA)
	for _, tk := range []string{notJSON, tok[:len(tok)-1]} {
		if err := b.OpenJSON(tk, &got); !errors.Is(err, ErrInvalid) {
			t.Errorf("OpenJSON(%q) = %v, want ErrInvalid", tk, err)
		}
	}
	if err := other.OpenJSON(tok, &got); !errors.Is(err, ErrInvalid) {
		t.Errorf("another purpose's OpenJSON = %v, want ErrInvalid", err)
	}
}
