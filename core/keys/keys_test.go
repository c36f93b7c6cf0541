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
	if want := "users/auth0|a%2Fb/2025-03-04/U.mp4/My Clip.MP4"; key != want {
		t.Errorf("Render = %q, want %q", key, want)
	}
	if p := tm.Prefix("alice"); p != "users/alice/" {
		t.Errorf("Prefix = %q", p)
	}
	if k, err := tm.Render(Values{Subject: "..", UUID: "U", Filename: "a"}); err != nil || !strings.HasPrefix(k, "users/%2E./") {
		t.Errorf("subject \"..\" must be encoded, got %q, %v", k, err)
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

// collidingSubjects are pairs that the old many-to-one sanitizing mapped to
// one key segment ("org/carol" and "org_carol" both gave "org_carol").
var collidingSubjects = [][2]string{
	{"org/carol", "org_carol"},
	{".bob", "bob"},
	{" bob ", "bob"},
	{"bob\u200b", "bob"},
	{"bob\u00ad", "bob"},
	{"bob\\x", "bob_x"},
	{"a\x00b", "ab"},
	{"..", "_"},
	{"a%2Fb", "a/b"},
	{"x\xff", "x"},
	{"e\u0301", "\u00e9"}, // NFD and NFC spellings of é
	{"Bob", "bob"},
	{"%41", "A"},
	{"", "%"},
	{"repo:org/name:ref:refs/heads/main", "repo:org_name:ref:refs_heads_main"},
	{"spiffe://example.org/ns/a", "spiffe:__example.org_ns_a"},
}

func TestEncodeSubjectIsOneToOne(t *testing.T) {
	for _, p := range collidingSubjects {
		a, b := EncodeSubject(p[0]), EncodeSubject(p[1])
		if a == b {
			t.Errorf("EncodeSubject(%q) = EncodeSubject(%q) = %q", p[0], p[1], a)
		}
		for _, s := range p {
			seg := EncodeSubject(s)
			if got, ok := DecodeSubject(seg); !ok || got != s {
				t.Errorf("DecodeSubject(EncodeSubject(%q) = %q) = %q, %v", s, seg, got, ok)
			}
			if strings.Contains(seg, "/") || seg == "." || seg == ".." || seg == "" {
				t.Errorf("EncodeSubject(%q) = %q is not one safe segment", s, seg)
			}
		}
	}
	// Subjects that were never ambiguous keep the segment they always had.
	for _, s := range []string{"alice", "user@example.com", "auth0-abc_123.x~y", "auth0|abc", "user+tag@example.com", "josé", "google-oauth2|1234", "Jane Doe", "repo:org_name:ref:x"} {
		if got := EncodeSubject(s); got != s {
			t.Errorf("EncodeSubject(%q) = %q, want it unchanged", s, got)
		}
	}
	for _, bad := range []string{"%4", "%zz", "%41", " x", "x ", ".x", "%2e", "%2E%2E", "a\u200bb"} {
		if _, ok := DecodeSubject(bad); ok {
			t.Errorf("DecodeSubject(%q) accepted a segment EncodeSubject never gives", bad)
		}
	}
}

func TestPrefixesNeverOverlap(t *testing.T) {
	tm, err := ParseTemplate("users/{subject}/{uuid}/{filename}")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range collidingSubjects {
		pa, pb := tm.Prefix(p[0]), tm.Prefix(p[1])
		ka, err := tm.Render(Values{Subject: p[0], UUID: "U", Filename: "f"})
		if err != nil {
			t.Fatalf("Render(%q): %v", p[0], err)
		}
		if strings.HasPrefix(ka, pb) || strings.HasPrefix(pa, pb) || strings.HasPrefix(pb, pa) {
			t.Errorf("subjects %q and %q share a prefix: %q, %q (key %q)", p[0], p[1], pa, pb, ka)
		}
		if !strings.HasPrefix(ka, pa) {
			t.Errorf("key %q is outside its own prefix %q", ka, pa)
		}
	}
}

func TestRenderLongSubjectKeepsTheSubject(t *testing.T) {
	tm, err := ParseTemplate("users/{subject}/{uuid}/{filename}")
	if err != nil {
		t.Fatal(err)
	}
	sub := strings.Repeat("漢", 100) // 300 bytes, 900 encoded
	fn := strings.Repeat("名", 60) + ".mp4"
	key, err := tm.Render(Values{Subject: sub, UUID: "0123456789abcdef0123456789abcdef0123", Filename: fn})
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	if len(key) > MaxKeyBytes || !strings.HasPrefix(key, tm.Prefix(sub)) || !strings.HasSuffix(key, ".mp4") {
		t.Errorf("key %q (%d bytes) lost its subject, its extension or the length limit", key, len(key))
	}
	if err := Validate(key); err != nil {
		t.Error(err)
	}
}

func TestSubjectInPrefix(t *testing.T) {
	for src, want := range map[string]bool{
		"users/{subject}/{uuid}/{filename}": true,
		"{subject}/{filename}":              true,
		"t/u-{subject}/{date}/{uuid}":       true,
		"{date}/{subject}/{uuid}":           false,
		"users/{subject}-{uuid}/{filename}": false,
		"uploads/{uuid}/{filename}":         false,
		"users/{uuid}/{subject}/{filename}": false,
	} {
		tm, err := ParseTemplate(src)
		if err != nil {
			t.Fatal(err)
		}
		if got := tm.SubjectInPrefix(); got != want {
			t.Errorf("%s: SubjectInPrefix = %v, want %v", src, got, want)
		}
	}
}

// FuzzRenderSubject renders a key for arbitrary subjects and filenames:
// rendering never panics, a rendered key is valid and lies inside its
// subject's prefix, the subject's segment decodes back to the subject, and
// two different subjects never share a prefix.
func FuzzRenderSubject(f *testing.F) {
	for _, p := range collidingSubjects {
		f.Add(p[0], p[1], "a.txt")
	}
	f.Add(strings.Repeat("x", 300), "y", strings.Repeat("漢", 70)+".mp4")
	tm, err := ParseTemplate("users/{subject}/{uuid}/{filename}")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, a, b, filename string) {
		pa := tm.Prefix(a)
		seg := strings.TrimSuffix(strings.TrimPrefix(pa, "users/"), "/")
		if got, ok := DecodeSubject(seg); !ok || got != a {
			t.Fatalf("subject %q: prefix %q does not decode back (%q, %v)", a, pa, got, ok)
		}
		if a != b {
			pb := tm.Prefix(b)
			if strings.HasPrefix(pa, pb) || strings.HasPrefix(pb, pa) {
				t.Fatalf("subjects %q and %q share a prefix: %q, %q", a, b, pa, pb)
			}
		}
		key, err := tm.Render(Values{Subject: a, UUID: "0123456789abcdef0123456789abcdef0123", Filename: filename})
		if err != nil {
			// Room for the uuid, a "/" and one character of any size.
			if len(pa)+36+1+utf8.UTFMax <= MaxKeyBytes {
				t.Fatalf("Render(%q, %q): %v although the prefix leaves room", a, filename, err)
			}
			return
		}
		if err := Validate(key); err != nil || !strings.HasPrefix(key, pa) {
			t.Fatalf("key %q: %v, or outside prefix %q", key, err, pa)
		}
	})
}
