package hls

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/valetgw/valet/core/keys"
)

// renamer links child i as "c<i>.m3u8" and signs media i as "m<i>":
// relative names, so what Rewrite returns can be parsed again.
type renamer struct{ calls int }

func (r *renamer) PlaylistURL(key string) (string, error) { return "", errors.New("unused") }

func (r *renamer) SignMedia(_ context.Context, ks []string) ([]string, error) {
	r.calls++
	out := make([]string, len(ks))
	for i := range ks {
		out[i] = fmt.Sprintf("m%d", i)
	}
	return out, nil
}

// FuzzRewrite checks, for any input: no panic; a refusal is an *Error of
// one of the kinds with a line inside the playlist; an accepted playlist
// names only valid keys under the root, is signed in at most one batch,
// and, rendered with relative names, parses again to the same structure
// (so the bytes around each URI were kept and no URL could add a line).
func FuzzRewrite(f *testing.F) {
	for _, c := range examples {
		f.Add([]byte(c.in))
	}
	f.Add([]byte("#EXTM3U\n#EXTINF:6,\n../../x.ts\n"))
	f.Add([]byte("#EXTM3U\n#EXT-X-MAP:URI=\"a\",BYTERANGE=\"1@0\"\n#EXTINF:1,\n%2e%2e/b\n"))
	f.Add([]byte("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nhttp://h/x\n"))
	f.Add([]byte("#EXTM3U\r\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\",KEYFORMAT=\"identity\"\r\n#EXTINF:1,t\u2028\r\nx\r"))
	f.Add([]byte("#EXTM3U\n#EXT-X-DATERANGE:ID=\"a\",X-ASSET-URI=\"a.m3u8\"\n#EXT-X-DEFINE:NAME=\"v\"\n"))
	const key, root = "a/b/list.m3u8", "a/"
	kinds := []error{ErrTooLarge, ErrMalformed, ErrAbsoluteURL, ErrOutside, ErrInvalidKey, ErrUnsupported}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data, key, root)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !slices.ContainsFunc(kinds, func(k error) bool { return errors.Is(err, k) }) {
				t.Fatalf("untyped error %v", err)
			}
			if e.Line < 0 || e.Line > strings.Count(string(data), "\n")+1 {
				t.Fatalf("line %d of %d: %v", e.Line, strings.Count(string(data), "\n")+1, err)
			}
			return
		}
		for _, k := range slices.Concat(p.Media(), p.Playlists()) {
			if keys.Validate(k) != nil || !strings.HasPrefix(k, root) {
				t.Fatalf("resolved to %q", k)
			}
		}
		children := make([]string, len(p.Playlists()))
		for i := range children {
			children[i] = fmt.Sprintf("c%d.m3u8", i)
		}
		r := &renamer{}
		media, _ := r.SignMedia(context.Background(), p.Media())
		out, err := p.Render(children, media)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Parse(out, key, root)
		if err != nil {
			t.Fatalf("rendered playlist refused: %v\n%q", err, out)
		}
		wantMedia := make([]string, len(media))
		for i, m := range media {
			wantMedia[i] = "a/b/" + m
		}
		wantChildren := make([]string, len(children))
		for i, c := range children {
			wantChildren[i] = "a/b/" + c
		}
		if again.Type() != p.Type() || again.Live() != p.Live() || again.References() != p.References() ||
			!slices.Equal(again.Media(), wantMedia) || !slices.Equal(again.Playlists(), wantChildren) {
			t.Fatalf("structure changed: %v/%v/%d %q %q -> %v/%v/%d %q %q", p.Type(), p.Live(), p.References(), p.Media(), p.Playlists(),
				again.Type(), again.Live(), again.References(), again.Media(), again.Playlists())
		}
		if strings.Count(string(out), "\n") != strings.Count(string(data), "\n") {
			t.Fatal("line count changed")
		}
		// Rewrite asks for media in one batch, or not at all.
		if _, err := Rewrite(context.Background(), data, key, root, &countingLinker{renamer: r}); err != nil {
			t.Fatal(err)
		}
		if want := min(1, len(p.Media())); r.calls != 1+want {
			t.Fatalf("%d SignMedia calls for %d media keys", r.calls-1, len(p.Media()))
		}
	})
}

type countingLinker struct{ *renamer }

func (c *countingLinker) PlaylistURL(key string) (string, error) { return "c.m3u8", nil }
