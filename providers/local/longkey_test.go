package local

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valetgw/valet/providers"
)

// roundTrip stores key through a signed PUT and checks it through every
// other way in: Head, a signed GET and HEAD, and List under its parent.
func roundTrip(t *testing.T, p *Provider, key string) {
	t.Helper()
	body := []byte("body of " + key)
	putObject(t, p, key, "text/plain", body, nil)
	obj, err := p.Head(t.Context(), providers.HeadRequest{Key: key})
	if err != nil || obj.Key != key || obj.Size != int64(len(body)) {
		t.Fatalf("Head(%d-byte key) = %+v, %v", len(key), obj, err)
	}
	g, err := p.SignGet(t.Context(), providers.GetRequest{Key: key, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if res, b := do(t, "GET", g.URL, nil, nil); res.Status != 200 || string(b) != string(body) {
		t.Fatalf("GET of a %d-byte key: %d %q", len(key), res.Status, b)
	}
	if res, _ := do(t, "HEAD", g.URL, nil, nil); res.Status != 200 || res.Header.Get("Content-Length") != strconv.Itoa(len(body)) {
		t.Fatalf("HEAD of a %d-byte key: %d, length %s", len(key), res.Status, res.Header.Get("Content-Length"))
	}
	parent := ""
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		parent = key[:i+1]
	}
	for _, prefix := range []string{parent, key} {
		page, err := p.List(t.Context(), providers.ListRequest{Prefix: prefix, Limit: 1000})
		if err != nil || !slices.ContainsFunc(page.Objects, func(o providers.Object) bool { return o.Key == key }) {
			t.Fatalf("List(%d-byte prefix) of a %d-byte key: %d objects, %v; key missing", len(prefix), len(key), len(page.Objects), err)
		}
	}
}

// Every key the gateway accepts fits the local store, however its segments
// escape: a 200-byte CJK filename (600 bytes escaped), a 1024-byte key of
// one segment, and segments right at the cutting boundaries. Each is stored,
// read, listed and deleted through the provider and its signed URLs, and a
// delete leaves no directory behind.
func TestLongKeysRoundTrip(t *testing.T) {
	p, root := newLocal(t, nil)
	cjk := strings.Repeat("漢", 66) + ".txt" // 202 bytes
	keys := []string{
		"users/ann/" + cjk,
		strings.Repeat("漢", 341) + "a", // 1024 bytes, one segment, 3070 escaped
		strings.Repeat("z", 1024),      // 1024 bytes, nothing escaped
		strings.Repeat("a", 250) + "/" + strings.Repeat("b", 251) + "/" + strings.Repeat("c", 490) + "/" + strings.Repeat("d", 30), // 250 fits, 251 cuts, 240+250, 1024 in all
		strings.Repeat("c", 491) + "/x",                                     // 240+240+11
		"t/a" + strings.Repeat("é", 100), "t/ab" + strings.Repeat("é", 100), // a cut at byte 240 falls inside a %XX
		strings.Repeat("%", 300) + "/" + strings.Repeat("+", 300), // escaped, and the marker byte itself
		cjk + "/" + cjk, // a long segment as a directory too
	}
	for _, key := range keys {
		if len(key) > maxKey {
			t.Fatalf("test key of %d bytes", len(key))
		}
		roundTrip(t, p, key)
	}
	// Delete half through the provider, half through signed URLs.
	for i, key := range keys {
		if i%2 == 0 {
			if _, err := p.Delete(t.Context(), providers.DeleteRequest{Key: key}); err != nil {
				t.Fatalf("Delete(%d-byte key): %v", len(key), err)
			}
		} else {
			d, err := p.SignDelete(t.Context(), providers.SignDeleteRequest{Key: key, TTL: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			if res, b := do(t, d.Method, d.URL, d.Headers, nil); res.Status != 204 {
				t.Fatalf("signed DELETE of a %d-byte key: %d %s", len(key), res.Status, b)
			}
		}
		if _, err := p.Head(t.Context(), providers.HeadRequest{Key: key}); !errors.Is(err, providers.ErrNotFound) {
			t.Fatalf("Head after Delete of a %d-byte key: %v", len(key), err)
		}
	}
	if page, err := p.List(t.Context(), providers.ListRequest{Limit: 1000}); err != nil || len(page.Objects) != 0 {
		t.Fatalf("List after deleting everything: %d objects, %v", len(page.Objects), err)
	}
	ents, _ := os.ReadDir(filepath.Join(root, "objects"))
	if len(ents) != 1 || ents[0].Name() != sidecarTmp {
		t.Fatalf("objects/ after deleting everything: %v", ents)
	}
	// A key one byte too long is still refused, before anything is signed.
	if _, err := p.SignPut(t.Context(), providers.PutRequest{Key: strings.Repeat("z", 1025), ContentType: "a/b", TTL: time.Hour}); !errors.Is(err, providers.ErrInvalidArgument) {
		t.Fatalf("SignPut of a 1025-byte key: %v, want InvalidArgument", err)
	}
}

// Listing returns keys in byte order even where a long segment's pieces
// share a directory with short names that start the same way, and bytes
// on both sides of "/" follow the shared start; paging with a cursor
// resumes in the same order.
func TestListOrderAcrossLongSegments(t *testing.T) {
	p, _ := newLocal(t, nil)
	P := strings.Repeat("p", 240) // exactly one piece
	var keys []string
	for _, tail := range []string{"", "!", "-", ".", "0", "z", "~",
		strings.Repeat("!", 20), strings.Repeat(".", 20), strings.Repeat("0", 20), strings.Repeat("z", 20),
		"/x", "/" + P + "q", "!" + strings.Repeat("é", 10), strings.Repeat("é", 10), "é"} {
		keys = append(keys, "l/"+P+tail)
	}
	keys = append(keys, "l/o", "l/q", "l/"+strings.Repeat("p", 239), "l/"+strings.Repeat("p", 241), "l/"+strings.Repeat("p", 500), "m")
	for _, key := range keys {
		putObject(t, p, key, "text/plain", []byte("x"), nil)
	}
	want := slices.Clone(keys)
	slices.Sort(want)

	page, err := p.List(t.Context(), providers.ListRequest{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if got := listKeys(page.Objects); !slices.Equal(got, want) {
		t.Fatalf("List order:\n got %q\nwant %q", short(got), short(want))
	}
	// Page through three at a time.
	var got []string
	cursor := ""
	for range 100 {
		page, err := p.List(t.Context(), providers.ListRequest{Prefix: "l/", Cursor: cursor, Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, listKeys(page.Objects)...)
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if !slices.Equal(got, want[:len(want)-1]) { // all but "m"
		t.Fatalf("paged List order:\n got %q\nwant %q", short(got), short(want[:len(want)-1]))
	}
	// A prefix that ends inside a long segment's first piece or right after it.
	for _, prefix := range []string{"l/" + P[:100], "l/" + P, "l/" + P + "!", "l/" + P + "/"} {
		page, err := p.List(t.Context(), providers.ListRequest{Prefix: prefix, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var w []string
		for _, k := range want {
			if strings.HasPrefix(k, prefix) {
				w = append(w, k)
			}
		}
		if got := listKeys(page.Objects); !slices.Equal(got, w) {
			t.Fatalf("List(prefix %q):\n got %q\nwant %q", short([]string{prefix}), short(got), short(w))
		}
	}
}

func listKeys(objs []providers.Object) []string {
	var ks []string
	for _, o := range objs {
		ks = append(ks, o.Key)
	}
	return ks
}

// short abbreviates runs of "p" so that failures stay readable.
func short(ks []string) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = strings.ReplaceAll(k, strings.Repeat("p", 239), "p{239}")
	}
	return out
}
