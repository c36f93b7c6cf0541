package uploadid

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

func TestRoundTripAndSharing(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	a, _ := NewSealer(secret)
	b, _ := NewSealer(append([]byte(nil), secret...))
	u := Upload{Store: "media", Key: "users/a/x", Subject: "a", Size: 5, ContentType: "video/mp4", ChecksumSHA256: "abc=", ProviderUploadID: "p1", PartSize: 8 << 20, PartCount: 3, ExpiresAt: now.Add(time.Hour)}
	id, err := a.Seal(u)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(id, "users") || strings.Contains(id, "media") {
		t.Fatalf("id leaks plaintext: %s", id)
	}
	got, err := b.Open(id, now)
	if err != nil {
		t.Fatal(err)
	}
	if !got.ExpiresAt.Equal(u.ExpiresAt) || got.Key != u.Key || got.ProviderUploadID != "p1" || got.PartCount != 3 || !got.Multipart() {
		t.Fatalf("got %+v", got)
	}
	id2, _ := a.Seal(u)
	if id2 == id {
		t.Fatal("nonce reuse: two seals gave the same id")
	}
}

func TestRejects(t *testing.T) {
	now := time.Now()
	a, _ := NewSealer(secret)
	other, _ := NewSealer([]byte("another-secret-another-secret-xx"))
	id, _ := a.Seal(Upload{Key: "k", ExpiresAt: now.Add(time.Minute)})
	if _, err := a.Open(id, now.Add(2*time.Minute)); !errors.Is(err, ErrExpired) {
		t.Errorf("expired: %v", err)
	}
	if _, err := other.Open(id, now); !errors.Is(err, ErrInvalid) {
		t.Errorf("foreign secret: %v", err)
	}
	for i := len(prefix); i < len(id); i += 7 {
		c := byte('A')
		if id[i] == 'A' {
			c = 'B'
		}
		bad := id[:i] + string(c) + id[i+1:]
		if _, err := a.Open(bad, now); !errors.Is(err, ErrInvalid) {
			t.Fatalf("tampered at %d: %v", i, err)
		}
	}
	for _, bad := range []string{"", "u1.", "u2." + id[3:], "u1.!!!", id[:len(id)-4], strings.Repeat("u1.AAAA", 5000)} {
		if _, err := a.Open(bad, now); !errors.Is(err, ErrInvalid) {
			t.Errorf("Open(%.20q) = %v", bad, err)
		}
	}
	if _, err := NewSealer([]byte("short")); err == nil {
		t.Error("short secret accepted")
	}
}
