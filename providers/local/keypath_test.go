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
	const e = "%C3%A9" // "é" escaped
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
		{strings.Repeat("a", 250) + "/b", strings.Repeat("a", 250) + "/b@"},
		// Longer segments are cut into pieces of at most 240 bytes.
		{strings.Repeat("a", 251), strings.Repeat("a", 240) + "+/" + strings.Repeat("a", 11) + "@"},
		{strings.Repeat("a", 251) + "/b", strings.Repeat("a", 240) + "+/" + strings.Repeat("a", 11) + "/b@"},
		{strings.Repeat("é", 84), strings.Repeat(e, 40) + "+/" + strings.Repeat(e, 40) + "+/" + strings.Repeat(e, 4) + "@"}, // 168 bytes, 504 escaped
		// ... never inside a %XX, whichever of its bytes byte 240 falls on.
		{"ab" + strings.Repeat("é", 100), "ab" + strings.Repeat(e, 39) + "%C3+/%A9" + strings.Repeat(e, 39) + "%C3+/%A9" + strings.Repeat(e, 20) + "@"},
		{"a" + strings.Repeat("é", 100), "a" + strings.Repeat(e, 39) + "%C3+/%A9" + strings.Repeat(e, 39) + "%C3+/%A9" + strings.Repeat(e, 20) + "@"},
		{strings.Repeat("a", 1024), strings.Repeat(strings.Repeat("a", 240)+"+/", 4) + strings.Repeat("a", 64) + "@"},
		{strings.Repeat("a", 1025), ""},
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
// nowhere, has only names that fit NAME_MAX, decodes back to the key, and
// that storing the key through the store puts a file under objects/ and
// nowhere else, which listing finds under the same key.
func FuzzKeyPath(f *testing.F) {
	for _, s := range []string{"a", "a/b", "..", "../x", "/abs", `a\..\b`, "a\x00", "%2e%2e/x", "%tmp/x",
		"a/./b", "ü/✓", strings.Repeat("x", 300), "a@", "con/aux", " ", "\t\n",
		strings.Repeat("漢", 66) + ".txt", "a" + strings.Repeat("é", 300), strings.Repeat("+", 300) + "/x+",
		strings.Repeat("%", 400) + "/" + strings.Repeat("@", 200)} {
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
		names := strings.Split(rel, "/")
		for i, n := range names {
			stem := n
			if i == len(names)-1 {
				stem = strings.TrimSuffix(n, objectSuffix)
			} else if p, ok := strings.CutSuffix(n, contSuffix); ok {
				stem = p
				if j := strings.LastIndexByte(p, '%'); j >= 0 && j > len(p)-3 {
					t.Fatalf("keyPath(%q) = %q: piece %q cuts a %%XX", key, rel, n)
				}
			}
			if n == "." || n == ".." || stem == "" || strings.ContainsAny(stem, "\\\x00@+/") || len(n) > 255 {
				t.Fatalf("keyPath(%q) = %q: bad name %q", key, rel, n)
			}
		}
		back, ok := decodeKeyPath(rel)
		if !ok || back != key {
			t.Fatalf("keyPath(%q) = %q decodes back to %q, %v", key, rel, back, ok)
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
		if objs, _, err := st.list(key, "", 1); err != nil || len(objs) != 1 || objs[0].Key != key {
			t.Fatalf("list(%q) = %v, %v; want the key", key, objs, err)
		}
		if err := st.remove(key); err != nil {
			t.Fatalf("remove(%q): %v", key, err)
		}
		if ents, _ := os.ReadDir(filepath.Join(root, "objects")); len(ents) != 1 {
			t.Fatalf("remove(%q) left %d entries in objects/, want only %s", key, len(ents), sidecarTmp)
		}
	})
}

// decodeKeyPath reverses keyPath independently of the store's walk: pieces
// ending in "+" join the next name into one segment.
func decodeKeyPath(rel string) (string, bool) {
	stem, ok := strings.CutSuffix(rel, objectSuffix)
	if !ok {
		return "", false
	}
	names := strings.Split(stem, "/")
	var segs []string
	esc := ""
	for i, n := range names {
		if p, ok := strings.CutSuffix(n, contSuffix); ok && i < len(names)-1 {
			esc += p
			continue
		}
		seg, ok := unescapeSegment(esc + n)
		if !ok {
			return "", false
		}
		segs, esc = append(segs, seg), ""
	}
	return strings.Join(segs, "/"), true
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
