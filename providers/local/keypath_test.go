package local

import (
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/valetgw/valet/providers"
)

func TestKeyPath(t *testing.T) {
	for _, tc := range []struct {
		key, want string // want "" means refused
	}{
		{"a", "a@"},
		{"users/ann/clip.mp4", "users/ann/clip.mp4@"},
		{"a b/ü.txt", "a%20b/%C3%BC.txt@"},
		{"..", ""},
		{"a/../b", ""},
		{"a/./b", ""},
		{"/etc/passwd", ""},
		{"a//b", ""},
		{"a/", ""},
		{"", ""},
		{"a\x00b", ""},
		{`..\..\windows`, "..%5C..%5Cwindows@"},
		{"%2e%2e/%2E%2E/x", "%252e%252e/%252E%252E/x@"},
		{"...", "...@"},
		{"C:/x", "C%3A/x@"},
		{"a@/b@", "a%40/b%40@"},
		{"%tmp/x", "%25tmp/x@"},
		{strings.Repeat("a", 250), strings.Repeat("a", 250) + "@"},
		{strings.Repeat("a", 251), ""},
		{strings.Repeat("é", 84), ""}, // 168 bytes, 504 escaped
		{strings.Repeat("a/", 512) + "b", ""},
	} {
		got, err := keyPath(tc.key)
		if tc.want == "" {
			if err == nil || !errors.Is(err, providers.ErrInvalidArgument) {
				t.Errorf("keyPath(%q) = %q, %v; want InvalidArgument", tc.key, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("keyPath(%q) = %q, %v; want %q", tc.key, got, err, tc.want)
		}
	}
}

// FuzzKeyPath checks, for any key, that a mapped path is local, climbs
// nowhere, decodes back to the key, and that storing the key through the
// store puts a file under objects/ and nowhere else.
func FuzzKeyPath(f *testing.F) {
	for _, s := range []string{"a", "a/b", "..", "../x", "/abs", `a\..\b`, "a\x00", "%2e%2e/x", "%tmp/x",
		"a/./b", "ü/✓", strings.Repeat("x", 300), "a@", "con/aux", " ", "\t\n"} {
		f.Add(s)
	}
	root := f.TempDir()
	st, err := openStore(root, timeNow)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(st.close)
	outside := filepath.Join(f.TempDir(), "outside")
	f.Fuzz(func(t *testing.T, key string) {
		rel, err := keyPath(key)
		if err != nil {
			return
		}
		if !filepath.IsLocal(rel) || path.Clean(rel) != rel {
			t.Fatalf("keyPath(%q) = %q: not a clean local path", key, rel)
		}
		segs := strings.Split(strings.TrimSuffix(rel, objectSuffix), "/")
		for i, s := range segs {
			if s == "." || s == ".." || s == "" || strings.ContainsAny(s, "\\\x00@") || len(s) > maxSegment {
				t.Fatalf("keyPath(%q) = %q: bad segment %q", key, rel, s)
			}
			dec, ok := unescapeSegment(s)
			if !ok {
				t.Fatalf("segment %q of %q does not decode", s, rel)
			}
			segs[i] = dec
		}
		if back := strings.Join(segs, "/"); back != key {
			t.Fatalf("keyPath(%q) decodes back to %q", key, back)
		}
		if !utf8.ValidString(rel) {
			t.Fatalf("keyPath(%q) = %q is not ASCII", key, rel)
		}
		// Store it for real and check where it landed.
		tmp, err := st.tempFile("fuzz-*")
		if err != nil {
			t.Fatal(err)
		}
		tmp.Close()
		if _, err := st.commit(key, tmp.Name(), sidecar{Type: "x/y"}, false); err != nil {
			t.Fatalf("commit(%q): %v", key, err)
		}
		if _, err := os.Stat(filepath.Join(root, "objects", filepath.FromSlash(rel))); err != nil {
			t.Fatalf("commit(%q) did not write objects/%s: %v", key, rel, err)
		}
		if _, err := os.Stat(outside); err == nil {
			t.Fatalf("commit(%q) wrote outside the root", key)
		}
		if err := st.remove(key); err != nil {
			t.Fatalf("remove(%q): %v", key, err)
		}
	})
}

// A symlink planted inside the root that points out of it must never be
// followed, for writes or reads.
func TestPlantedSymlink(t *testing.T) {
	root := t.TempDir()
	st, err := openStore(root, timeNow)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret@")
	os.WriteFile(secret, []byte(`{"v":1,"blob":"00000000000000000000000000000000","size":6}`), 0o600)
	if err := os.Symlink(outside, filepath.Join(root, "objects", "evil")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(root, "objects", "leaf@")); err != nil {
		t.Fatal(err)
	}

	tmp, _ := st.tempFile("x-*")
	tmp.WriteString("payload")
	tmp.Close()
	_, err = st.commit("evil/new.txt", tmp.Name(), sidecar{}, false)
	if err == nil {
		t.Fatal("commit through a planted symlink succeeded")
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 1 {
		t.Fatalf("files appeared outside the root: %v", ents)
	}
	for _, key := range []string{"evil/secret", "leaf"} {
		if _, err := st.stat(key); !errors.Is(err, providers.ErrNotFound) {
			t.Errorf("stat(%q) through a symlink: %v, want NotFound", key, err)
		}
	}
	// The failed commit left no blob behind.
	if n := countFiles(t, filepath.Join(root, "blobs")); n != 0 {
		t.Errorf("%d blobs left after a refused commit", n)
	}
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}
