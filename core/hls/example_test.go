package hls_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/valetgw/valet/core/hls"
)

// gateway is how the gateway links a playlist's references: child
// playlists through its playback route with the same token (its scope is
// the master's folder), media through one batched signing call.
type gateway struct{ token string }

func (g gateway) PlaylistURL(key string) (string, error) {
	return "https://valet.example/v1/play/" + g.token + "/" + url.PathEscape(key), nil
}

func (g gateway) SignMedia(_ context.Context, keys []string) ([]string, error) {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = "https://media.storage.example/" + k + "?X-Signature=…"
	}
	return out, nil
}

func ExampleRewrite() {
	variant := []byte(`#EXTM3U
#EXT-X-TARGETDURATION:6
#EXT-X-MAP:URI="init.mp4"
#EXTINF:6,
seg0.m4s
#EXT-X-ENDLIST
`)
	out, err := hls.Rewrite(context.Background(), variant, "users/alice/v1/720p/index.m3u8", "users/alice/v1/", gateway{token: "p1.TOKEN"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(out))

	_, err = hls.Rewrite(context.Background(), []byte("#EXTM3U\n#EXTINF:6,\n../../../bob/seg0.ts\n"), "users/alice/v1/720p/index.m3u8", "users/alice/v1/", gateway{})
	var e *hls.Error
	fmt.Println(errors.Is(err, hls.ErrOutside), errors.As(err, &e) && e.Line == 3)
	fmt.Println(err)
	// Output:
	// #EXTM3U
	// #EXT-X-TARGETDURATION:6
	// #EXT-X-MAP:URI="https://media.storage.example/users/alice/v1/720p/init.mp4?X-Signature=…"
	// #EXTINF:6,
	// https://media.storage.example/users/alice/v1/720p/seg0.m4s?X-Signature=…
	// #EXT-X-ENDLIST
	// true true
	// hls: line 3: URI leaves the playlist's folder: "../../../bob/seg0.ts" resolves to "users/bob/seg0.ts", outside "users/alice/v1/"
}
