package keys

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

func TestValidate(t *testing.T) {
	good := []string{"a", "users/alice/x.mp4", "a b/ü/文件.txt", strings.Repeat("a", MaxKeyBytes)}
	bad := []string{"", "/a", "a//b", "a/", "a/../b", "..", "./a", "a/.", "a\x00b", "a\nb", `a\b`, strings.Repeat("a", MaxKeyBytes+1), "a\xffb"}
	for _, k := range good {
		if err := Validate(k); err != nil {
			t.Errorf("Validate(%q) = %v, want nil", k, err)
		}
	}
	for _, k := range bad {
		if err := Validate(k); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Validate(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
	if ValidatePrefix("") != nil || ValidatePrefix("users/alice/") != nil || ValidatePrefix("../") == nil {
		t.Error("ValidatePrefix")
	}
}

func TestSanitizeFilename(t *testing.T) {
	tests := []struct{ in, want string }{
		{"movie.mp4", "movie.mp4"},
		{"../../etc/passwd", "passwd"},
		{`C:\Users\a\doc.pdf`, "doc.pdf"},
		{"a\x00b\nc.txt", "abc.txt"},
		{"e\u0301t\u00e9.txt", "\u00e9t\u00e9.txt"}, // NFC
		{"evil\u202Etxt.exe", "eviltxt.exe"},        // bidi override removed
		{"..", "file"},
		{"", "file"},
		{"  .hidden ", "hidden"},
		{"a\tb.txt", "ab.txt"}, {"a\u00a0b.txt", "a b.txt"},
	}
	for _, tt := range tests {
		if got := SanitizeFilename(tt.in); got != tt.want {
			t.Errorf("SanitizeFilename(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	long := strings.Repeat("é", 300) + ".mp4"
	got := SanitizeFilename(long)
	if len(got) > MaxFilenameBytes || !strings.HasSuffix(got, ".mp4") || !utf8.ValidString(got) {
		t.Errorf("long name: %d bytes %q", len(got), got)
	}
}

func FuzzSanitizeFilename(f *testing.F) {
	for _, s := range []string{"a.txt", "../x", "e\u0301", "\x00", strings.Repeat("界", 100) + ".jpeg", "a/b\\c", " . ", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := SanitizeFilename(in)
		if got == "" || got == "." || got == ".." {
			t.Fatalf("empty or dot result %q", got)
		}
		if len(got) > MaxFilenameBytes {
			t.Fatalf("%d bytes", len(got))
		}
		if !utf8.ValidString(got) || !norm.NFC.IsNormalString(got) {
			t.Fatalf("not valid NFC UTF-8: %q", got)
		}
		for _, r := range got {
			if r == '/' || r == '\\' || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("forbidden rune %U in %q", r, got)
			}
		}
		if err := Validate("p/" + got); err != nil {
			t.Fatalf("sanitized name is not a valid key segment: %v", err)
		}
		if again := SanitizeFilename(got); again != got {
			t.Fatalf("not idempotent: %q -> %q", got, again)
		}
	})
}

func TestTemplate(t *testing.T) {
	now := time.Date(2025, 3, 4, 23, 0, 0, 0, time.UTC)
	tm, err := ParseTemplate("users/{subject}/{date}/{uuid}{ext}/{filename}")
	if err != nil {
		t.Fatal(err)
	}
	key, err := tm.Render(Values{Subject: "auth0|a/b", UUID: "U", Filename: "../My Clip.MP4", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if want := "users/auth0|a_b/2025-03-04/U.mp4/My Clip.MP4"; key != want {
		t.Errorf("Render = %q, want %q", key, want)
	}
	if p := tm.Prefix("alice"); p != "users/alice/" {
		t.Errorf("Prefix = %q", p)
	}
	if _, err := tm.Render(Values{Subject: "..", UUID: "U", Filename: "a"}); err != nil {
		t.Errorf("subject \"..\" must be sanitized, got %v", err)
	}
	for _, bad := range []string{"users/{nope}/{uuid}", "/{uuid}", "a//{uuid}", "{uuid", "a}{uuid}", "users/{subject}", "../{uuid}"} {
		if _, err := ParseTemplate(bad); err == nil {
			t.Errorf("ParseTemplate(%q) accepted", bad)
		}
	}
}

// FuzzSanitizeFastPath checks the shortcut in SanitizeFilename: whatever
// alreadyClean accepts, the full sanitization returns unchanged.
func FuzzSanitizeFastPath(f *testing.F) {
	for _, s := range []string{"a.txt", "bench.bin", "My Clip.MP4", ".x", " a", "a ", "a\tb", "a/b", `a\b`, "~!@#$%^&*()_+{}|:\"<>?`-=[];',", strings.Repeat("a", MaxFilenameBytes), strings.Repeat("a", MaxFilenameBytes+1)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if alreadyClean(in) {
			if got := sanitizeFilename(in); got != in {
				t.Fatalf("alreadyClean(%q) but sanitizeFilename gives %q", in, got)
			}
		}
		if got, want := SanitizeFilename(in), sanitizeFilename(in); got != want {
			t.Fatalf("SanitizeFilename(%q) = %q, full path gives %q", in, got, want)
		}
	})
}
