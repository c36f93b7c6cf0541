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

// linker is a Linker that records its calls. Child playlists become
// "https://gw.test/p/KEY", media "https://s.test/KEY?sig".
type linker struct {
	children []string
	batches  [][]string
	fail     error
}

func (l *linker) PlaylistURL(key string) (string, error) {
	l.children = append(l.children, key)
	return "https://gw.test/p/" + key, nil
}

func (l *linker) SignMedia(_ context.Context, keys []string) ([]string, error) {
	l.batches = append(l.batches, slices.Clone(keys))
	if l.fail != nil {
		return nil, l.fail
	}
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = "https://s.test/" + k + "?sig"
	}
	return out, nil
}

// The examples of RFC 8216 section 8, with their http URIs made relative
// as a playlist stored in a bucket has them (verbatim they are refused:
// TestRefusals), and the shapes ffmpeg writes (fMP4 with EXT-X-MAP, a
// single-file byte-range playlist).
var examples = []struct {
	name     string
	key      string
	in, want string
	typ      Type
	live     bool
	media    []string
	children []string
}{
	{
		name: "8.1 simple media playlist",
		key:  "v/clip/index.m3u8",
		in: `#EXTM3U
#EXT-X-TARGETDURATION:10
#EXT-X-VERSION:3
#EXTINF:9.009,
first.ts
#EXTINF:9.009,
second.ts
#EXTINF:3.003,
third.ts
#EXT-X-ENDLIST
`,
		want: `#EXTM3U
#EXT-X-TARGETDURATION:10
#EXT-X-VERSION:3
#EXTINF:9.009,
https://s.test/v/clip/first.ts?sig
#EXTINF:9.009,
https://s.test/v/clip/second.ts?sig
#EXTINF:3.003,
https://s.test/v/clip/third.ts?sig
#EXT-X-ENDLIST
`,
		typ:   Media,
		media: []string{"v/clip/first.ts", "v/clip/second.ts", "v/clip/third.ts"},
	},
	{
		name:  "8.2 live media playlist (CRLF, blank line)",
		key:   "v/live/index.m3u8",
		in:    "#EXTM3U\r\n#EXT-X-VERSION:3\r\n#EXT-X-TARGETDURATION:8\r\n#EXT-X-MEDIA-SEQUENCE:2680\r\n\r\n#EXTINF:7.975,\r\nfileSequence2680.ts\r\n#EXTINF:7.941,\r\nfileSequence2681.ts\r\n#EXTINF:7.975,\r\nfileSequence2682.ts\r\n",
		want:  "#EXTM3U\r\n#EXT-X-VERSION:3\r\n#EXT-X-TARGETDURATION:8\r\n#EXT-X-MEDIA-SEQUENCE:2680\r\n\r\n#EXTINF:7.975,\r\nhttps://s.test/v/live/fileSequence2680.ts?sig\r\n#EXTINF:7.941,\r\nhttps://s.test/v/live/fileSequence2681.ts?sig\r\n#EXTINF:7.975,\r\nhttps://s.test/v/live/fileSequence2682.ts?sig\r\n",
		typ:   Media,
		live:  true,
		media: []string{"v/live/fileSequence2680.ts", "v/live/fileSequence2681.ts", "v/live/fileSequence2682.ts"},
	},
	{
		name: "8.3 encrypted media segments",
		key:  "v/enc/index.m3u8",
		in: `#EXTM3U
#EXT-X-VERSION:3
#EXT-X-MEDIA-SEQUENCE:7794
#EXT-X-TARGETDURATION:15

#EXT-X-KEY:METHOD=AES-128,URI="keys/52.key"

#EXTINF:2.833,
fileSequence52-A.ts
#EXTINF:15.0,
fileSequence52-B.ts
#EXTINF:13.333,
fileSequence52-C.ts

#EXT-X-KEY:METHOD=AES-128,URI="keys/53.key",IV=0x9c7db8778570d05c3177c349fd9236aa

#EXTINF:15.0,
fileSequence53-A.ts
`,
		want: `#EXTM3U
#EXT-X-VERSION:3
#EXT-X-MEDIA-SEQUENCE:7794
#EXT-X-TARGETDURATION:15

#EXT-X-KEY:METHOD=AES-128,URI="https://s.test/v/enc/keys/52.key?sig"

#EXTINF:2.833,
https://s.test/v/enc/fileSequence52-A.ts?sig
#EXTINF:15.0,
https://s.test/v/enc/fileSequence52-B.ts?sig
#EXTINF:13.333,
https://s.test/v/enc/fileSequence52-C.ts?sig

#EXT-X-KEY:METHOD=AES-128,URI="https://s.test/v/enc/keys/53.key?sig",IV=0x9c7db8778570d05c3177c349fd9236aa

#EXTINF:15.0,
https://s.test/v/enc/fileSequence53-A.ts?sig
`,
		typ:   Media,
		live:  true,
		media: []string{"v/enc/keys/52.key", "v/enc/fileSequence52-A.ts", "v/enc/fileSequence52-B.ts", "v/enc/fileSequence52-C.ts", "v/enc/keys/53.key", "v/enc/fileSequence53-A.ts"},
	},
	{
		name: "8.4 master playlist",
		key:  "v/m/master.m3u8",
		in: `#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=1280000,AVERAGE-BANDWIDTH=1000000
low.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=2560000,AVERAGE-BANDWIDTH=2000000
mid.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=7680000,AVERAGE-BANDWIDTH=6000000
hi.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=65000,CODECS="mp4a.40.5"
audio-only.m3u8
`,
		want: `#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=1280000,AVERAGE-BANDWIDTH=1000000
https://gw.test/p/v/m/low.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=2560000,AVERAGE-BANDWIDTH=2000000
https://gw.test/p/v/m/mid.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=7680000,AVERAGE-BANDWIDTH=6000000
https://gw.test/p/v/m/hi.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=65000,CODECS="mp4a.40.5"
https://gw.test/p/v/m/audio-only.m3u8
`,
		typ:      Master,
		children: []string{"v/m/low.m3u8", "v/m/mid.m3u8", "v/m/hi.m3u8", "v/m/audio-only.m3u8"},
	},
	{
		name: "8.5 master playlist with I-frames",
		key:  "v/i/master.m3u8",
		in: `#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=1280000
low/audio-video.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=86000,URI="low/iframe.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=2560000
mid/audio-video.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=150000,URI="mid/iframe.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=7680000
hi/audio-video.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=550000,URI="hi/iframe.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=65000,CODECS="mp4a.40.5"
audio-only.m3u8
`,
		want: `#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=1280000
https://gw.test/p/v/i/low/audio-video.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=86000,URI="https://gw.test/p/v/i/low/iframe.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=2560000
https://gw.test/p/v/i/mid/audio-video.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=150000,URI="https://gw.test/p/v/i/mid/iframe.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=7680000
https://gw.test/p/v/i/hi/audio-video.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=550000,URI="https://gw.test/p/v/i/hi/iframe.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=65000,CODECS="mp4a.40.5"
https://gw.test/p/v/i/audio-only.m3u8
`,
		typ: Master,
		children: []string{"v/i/low/audio-video.m3u8", "v/i/low/iframe.m3u8", "v/i/mid/audio-video.m3u8", "v/i/mid/iframe.m3u8",
			"v/i/hi/audio-video.m3u8", "v/i/hi/iframe.m3u8", "v/i/audio-only.m3u8"},
	},
	{
		name: "8.6 alternative audio (a rendition that is also a variant is linked once)",
		key:  "v/a/master.m3u8",
		in: `#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aac",LANGUAGE="en",NAME="English",DEFAULT=YES,AUTOSELECT=YES,URI="main/english-audio.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aac",LANGUAGE="de",NAME="Deutsch",DEFAULT=NO,AUTOSELECT=YES,URI="main/german-audio.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aac",LANGUAGE="en",NAME="Commentary",DEFAULT=NO,AUTOSELECT=NO,URI="commentary/audio-only.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=1280000,CODECS="...",AUDIO="aac"
low/video-only.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=65000,CODECS="mp4a.40.5",AUDIO="aac"
main/english-audio.m3u8
`,
		want: `#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aac",LANGUAGE="en",NAME="English",DEFAULT=YES,AUTOSELECT=YES,URI="https://gw.test/p/v/a/main/english-audio.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aac",LANGUAGE="de",NAME="Deutsch",DEFAULT=NO,AUTOSELECT=YES,URI="https://gw.test/p/v/a/main/german-audio.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aac",LANGUAGE="en",NAME="Commentary",DEFAULT=NO,AUTOSELECT=NO,URI="https://gw.test/p/v/a/commentary/audio-only.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=1280000,CODECS="...",AUDIO="aac"
https://gw.test/p/v/a/low/video-only.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=65000,CODECS="mp4a.40.5",AUDIO="aac"
https://gw.test/p/v/a/main/english-audio.m3u8
`,
		typ:      Master,
		children: []string{"v/a/main/english-audio.m3u8", "v/a/main/german-audio.m3u8", "v/a/commentary/audio-only.m3u8", "v/a/low/video-only.m3u8"},
	},
	{
		name: "8.7 alternative video, closed captions without URI",
		key:  "v/cam/master.m3u8",
		in: `#EXTM3U
#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="English",INSTREAM-ID="CC1"
#EXT-X-MEDIA:TYPE=VIDEO,GROUP-ID="low",NAME="Main",DEFAULT=YES,URI="low/main/audio-video.m3u8"
#EXT-X-MEDIA:TYPE=VIDEO,GROUP-ID="low",NAME="Centerfield",DEFAULT=NO,URI="low/centerfield/audio-video.m3u8"

#EXT-X-STREAM-INF:BANDWIDTH=1280000,CODECS="...",VIDEO="low",CLOSED-CAPTIONS="cc"
low/main/audio-video.m3u8
`,
		want: `#EXTM3U
#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="English",INSTREAM-ID="CC1"
#EXT-X-MEDIA:TYPE=VIDEO,GROUP-ID="low",NAME="Main",DEFAULT=YES,URI="https://gw.test/p/v/cam/low/main/audio-video.m3u8"
#EXT-X-MEDIA:TYPE=VIDEO,GROUP-ID="low",NAME="Centerfield",DEFAULT=NO,URI="https://gw.test/p/v/cam/low/centerfield/audio-video.m3u8"

#EXT-X-STREAM-INF:BANDWIDTH=1280000,CODECS="...",VIDEO="low",CLOSED-CAPTIONS="cc"
https://gw.test/p/v/cam/low/main/audio-video.m3u8
`,
		typ:      Master,
		children: []string{"v/cam/low/main/audio-video.m3u8", "v/cam/low/centerfield/audio-video.m3u8"},
	},
	{
		name: "8.8 session data and a DRM session key kept as is",
		key:  "v/s/master.m3u8",
		in: `#EXTM3U
#EXT-X-SESSION-DATA:DATA-ID="com.example.lyrics",URI="lyrics.json"
#EXT-X-SESSION-DATA:DATA-ID="com.example.title",LANGUAGE="en",VALUE="This is an example"
#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI="skd://key65",KEYFORMAT="com.apple.streamingkeydelivery"
#EXT-X-STREAM-INF:BANDWIDTH=65000
a.m3u8
`,
		want: `#EXTM3U
#EXT-X-SESSION-DATA:DATA-ID="com.example.lyrics",URI="https://s.test/v/s/lyrics.json?sig"
#EXT-X-SESSION-DATA:DATA-ID="com.example.title",LANGUAGE="en",VALUE="This is an example"
#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI="skd://key65",KEYFORMAT="com.apple.streamingkeydelivery"
#EXT-X-STREAM-INF:BANDWIDTH=65000
https://gw.test/p/v/s/a.m3u8
`,
		typ:      Master,
		media:    []string{"v/s/lyrics.json"},
		children: []string{"v/s/a.m3u8"},
	},
	{
		name: "fMP4 with EXT-X-MAP, comments, a percent-encoded name and ./..",
		key:  "v/f/720p/index.m3u8",
		in: `#EXTM3U
# written by ffmpeg
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:6
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-MAP:URI="init.mp4"
#EXT-X-FUTURE-TAG:URI="kept.bin"
#EXTINF:6.000000,
./seg%200.m4s
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T00:00:06Z
#EXT-X-DATERANGE:ID="chapter-2",START-DATE="2025-01-01T00:00:06Z",X-ASSET-ID="a1"
#EXTINF:6.000000,
  ../720p/seg1.m4s	
#EXT-X-KEY:METHOD=NONE
#EXTINF:2.5,
%2E%2E/shared/tail.m4s
#EXT-X-ENDLIST
`,
		want: `#EXTM3U
# written by ffmpeg
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:6
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-MAP:URI="https://s.test/v/f/720p/init.mp4?sig"
#EXT-X-FUTURE-TAG:URI="kept.bin"
#EXTINF:6.000000,
https://s.test/v/f/720p/seg 0.m4s?sig
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T00:00:06Z
#EXT-X-DATERANGE:ID="chapter-2",START-DATE="2025-01-01T00:00:06Z",X-ASSET-ID="a1"
#EXTINF:6.000000,
  https://s.test/v/f/720p/seg1.m4s?sig	
#EXT-X-KEY:METHOD=NONE
#EXTINF:2.5,
https://s.test/v/f/shared/tail.m4s?sig
#EXT-X-ENDLIST
`,
		typ:   Media,
		media: []string{"v/f/720p/init.mp4", "v/f/720p/seg 0.m4s", "v/f/720p/seg1.m4s", "v/f/shared/tail.m4s"},
	},
	{
		name: "single-file byte ranges: one key, signed once, no final newline",
		key:  "v/br/index.m3u8",
		in: `#EXTM3U
#EXT-X-VERSION:4
#EXT-X-TARGETDURATION:6
#EXT-X-PLAYLIST-TYPE:VOD
#EXTINF:6.000000,
#EXT-X-BYTERANGE:123456@0
all.ts
#EXTINF:6.000000,
#EXT-X-BYTERANGE:120000@123456
all.ts
#EXTINF:6.000000,
#EXT-X-BYTERANGE:99999
all.ts
#EXT-X-ENDLIST`,
		want: `#EXTM3U
#EXT-X-VERSION:4
#EXT-X-TARGETDURATION:6
#EXT-X-PLAYLIST-TYPE:VOD
#EXTINF:6.000000,
#EXT-X-BYTERANGE:123456@0
https://s.test/v/br/all.ts?sig
#EXTINF:6.000000,
#EXT-X-BYTERANGE:120000@123456
https://s.test/v/br/all.ts?sig
#EXTINF:6.000000,
#EXT-X-BYTERANGE:99999
https://s.test/v/br/all.ts?sig
#EXT-X-ENDLIST`,
		typ:   Media,
		media: []string{"v/br/all.ts"},
	},
	{
		name: "low-latency parts, preload hint and rendition report",
		key:  "v/ll/720/index.m3u8",
		in: `#EXTM3U
#EXT-X-TARGETDURATION:4
#EXT-X-VERSION:6
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.0
#EXT-X-PART-INF:PART-TARGET=0.33334
#EXT-X-MEDIA-SEQUENCE:266
#EXT-X-MAP:URI="init.mp4"
#EXTINF:4.00008,
fileSequence266.mp4
#EXT-X-PART:DURATION=0.33334,URI="filePart267.0.mp4",INDEPENDENT=YES
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="filePart267.1.mp4"
#EXT-X-RENDITION-REPORT:URI="../480/index.m3u8",LAST-MSN=266,LAST-PART=0
`,
		want: `#EXTM3U
#EXT-X-TARGETDURATION:4
#EXT-X-VERSION:6
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.0
#EXT-X-PART-INF:PART-TARGET=0.33334
#EXT-X-MEDIA-SEQUENCE:266
#EXT-X-MAP:URI="https://s.test/v/ll/720/init.mp4?sig"
#EXTINF:4.00008,
https://s.test/v/ll/720/fileSequence266.mp4?sig
#EXT-X-PART:DURATION=0.33334,URI="https://s.test/v/ll/720/filePart267.0.mp4?sig",INDEPENDENT=YES
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="https://s.test/v/ll/720/filePart267.1.mp4?sig"
#EXT-X-RENDITION-REPORT:URI="https://gw.test/p/v/ll/480/index.m3u8",LAST-MSN=266,LAST-PART=0
`,
		typ:      Media,
		live:     true,
		media:    []string{"v/ll/720/init.mp4", "v/ll/720/fileSequence266.mp4", "v/ll/720/filePart267.0.mp4", "v/ll/720/filePart267.1.mp4"},
		children: []string{"v/ll/480/index.m3u8"},
	},
}

// root is the folder of the examples' master: every URI stays under it.
const root = "v/"

func TestRewriteExamples(t *testing.T) {
	for _, c := range examples {
		t.Run(c.name, func(t *testing.T) {
			p, err := Parse([]byte(c.in), c.key, root)
			if err != nil {
				t.Fatal(err)
			}
			if p.Type() != c.typ || p.Live() != c.live {
				t.Errorf("type %v live %v, want %v %v", p.Type(), p.Live(), c.typ, c.live)
			}
			if !slices.Equal(p.Media(), c.media) || !slices.Equal(p.Playlists(), c.children) {
				t.Errorf("media %q\nchildren %q", p.Media(), p.Playlists())
			}
			l := &linker{}
			out, err := Rewrite(context.Background(), []byte(c.in), c.key, root, l)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != c.want {
				t.Errorf("got\n%s\nwant\n%s", out, c.want)
			}
			// One batch with every distinct media key, or none at all.
			switch {
			case len(c.media) == 0 && len(l.batches) != 0:
				t.Errorf("SignMedia called for a playlist without media: %q", l.batches)
			case len(c.media) > 0 && (len(l.batches) != 1 || !slices.Equal(l.batches[0], c.media)):
				t.Errorf("SignMedia batches %q, want one of %q", l.batches, c.media)
			}
			if !slices.Equal(l.children, c.children) {
				t.Errorf("PlaylistURL for %q", l.children)
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	const key = "users/a/v1/720p/index.m3u8"
	const rootv1 = "users/a/v1/"
	media := func(uri string) string {
		return "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\n" + uri + "\n#EXT-X-ENDLIST\n"
	}
	mapTag := func(attrs string) string { return "#EXTM3U\n#EXT-X-MAP:" + attrs + "\n#EXTINF:6,\ns.ts\n" }
	for _, c := range []struct {
		name string
		in   string
		kind error
		line int
	}{
		// Leaving the folder.
		{"dot-dot above root", media("../../other/seg.ts"), ErrOutside, 4},
		{"dot-dot above the store", media("../../../../../../etc/passwd"), ErrOutside, 4},
		{"encoded dot-dot", media("%2e%2e/%2E%2E/x.ts"), ErrOutside, 4},
		{"half-encoded dot-dot", media(".%2e/.%2E/x.ts"), ErrOutside, 4},
		{"absolute path", media("/users/a/v1/720p/seg.ts"), ErrOutside, 4},
		{"absolute path in an attribute", mapTag(`URI="/init.mp4"`), ErrOutside, 2},
		{"child above root", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n../../b/index.m3u8\n", ErrOutside, 3},
		{"rendition above root", "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"x\",URI=\"../../../x.m3u8\"\n", ErrOutside, 2},
		// Other hosts and schemes.
		{"other host", media("http://other-host/seg.ts"), ErrAbsoluteURL, 4},
		{"https", media("HTTPS://storage.example/bucket/users/a/v1/720p/seg.ts"), ErrAbsoluteURL, 4},
		{"network-path", media("//other-host/seg.ts"), ErrAbsoluteURL, 4},
		{"data URI", media("data:video/mp2t;base64,AAAA"), ErrAbsoluteURL, 4},
		{"javascript", media("javascript:alert(1)"), ErrAbsoluteURL, 4},
		{"key on another host", "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"https://keys.example/k\"\n#EXTINF:6,\ns.ts\n", ErrAbsoluteURL, 2},
		{"RFC 8216 8.1 verbatim", "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXT-X-VERSION:3\n#EXTINF:9.009,\nhttp://media.example.com/first.ts\n#EXT-X-ENDLIST\n", ErrAbsoluteURL, 5},
		// What a key cannot be.
		{"query", media("seg.ts?token=1"), ErrUnsupported, 4},
		{"fragment", media("seg.ts#t=1"), ErrUnsupported, 4},
		{"encoded slash", media("a%2F..%2F..%2Fx.ts"), ErrInvalidKey, 4},
		{"encoded NUL", media("seg%00.ts"), ErrInvalidKey, 4},
		{"encoded invalid UTF-8", media("seg%FF.ts"), ErrInvalidKey, 4},
		{"backslashes", media(`..\..\x.ts`), ErrInvalidKey, 4},
		{"empty segment", media("a//b.ts"), ErrInvalidKey, 4},
		{"folder", media("sub/"), ErrInvalidKey, 4},
		{"dot", media("."), ErrInvalidKey, 4},
		{"too long", media(strings.Repeat("a", keys.MaxKeyBytes)), ErrInvalidKey, 4},
		{"bad escape", media("seg%zz.ts"), ErrMalformed, 4},
		{"empty URI attribute", mapTag(`URI=""`), ErrMalformed, 2},
		{"variables", "#EXTM3U\n#EXT-X-DEFINE:NAME=\"h\",VALUE=\"http://other-host\"\n#EXTINF:6,\n{$h}/s.ts\n", ErrUnsupported, 2},
		{"interstitial", "#EXTM3U\n#EXT-X-DATERANGE:ID=\"ad\",CLASS=\"com.apple.hls.interstitial\",START-DATE=\"2025-01-01T00:00:00Z\",X-ASSET-URI=\"http://ads/a.m3u8\"\n#EXTINF:6,\ns.ts\n", ErrUnsupported, 2},
		{"interstitial list", "#EXTM3U\n#EXTINF:6,\ns.ts\n#EXT-X-DATERANGE:ID=\"ad\",X-ASSET-LIST=\"list.json\"\n", ErrUnsupported, 4},
		{"content steering", "#EXTM3U\n#EXT-X-CONTENT-STEERING:SERVER-URI=\"steer.json\"\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n", ErrUnsupported, 2},
		// Malformed playlists.
		{"empty", "", ErrMalformed, 1},
		{"no EXTM3U", "#EXTINF:6,\ns.ts\n", ErrMalformed, 1},
		{"byte order mark", "\uFEFF#EXTM3U\n#EXTINF:6,\ns.ts\n", ErrMalformed, 1},
		{"EXTINF at the end", "#EXTM3U\n#EXTINF:6,\ns.ts\n#EXTINF:6,\n", ErrMalformed, 4},
		{"EXTINF twice", "#EXTM3U\n#EXTINF:6,\n#EXTINF:6,\ns.ts\n", ErrMalformed, 2},
		{"STREAM-INF at the end", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n\n# nothing\n", ErrMalformed, 2},
		{"URI without EXTINF", "#EXTM3U\n#EXT-X-TARGETDURATION:6\ns.ts\n", ErrMalformed, 3},
		{"master and media mixed", "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n", ErrMalformed, 3},
		{"unterminated quote", mapTag(`URI="init.mp4`), ErrMalformed, 2},
		{"unquoted URI", mapTag(`URI=init.mp4`), ErrMalformed, 2},
		{"MAP without URI", mapTag(`BYTERANGE="10@0"`), ErrMalformed, 2},
		{"URI twice", mapTag(`URI="a.mp4",URI="../../../b.mp4"`), ErrMalformed, 2},
		{"attribute without a value", mapTag(`URI`), ErrMalformed, 2},
		{"stray quote", mapTag(`BYTERANGE=1"0,URI="a"`), ErrMalformed, 2},
		{"garbage after a quoted value", mapTag(`URI="a"x`), ErrMalformed, 2},
		{"I-frame stream without URI", "#EXTM3U\n#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1\n", ErrMalformed, 2},
		{"NUL byte", "#EXTM3U\n#EXTINF:6,\ns\x00.ts\n", ErrMalformed, 3},
		{"NUL in a comment", "#EXTM3U\n#EXTINF:6,\ns.ts\n# \x00\n", ErrMalformed, 4},
		{"lone CR hiding a URI line", "#EXTM3U\n#EXTINF:6,\ns.ts\n#EXT-X-FOO:1\rhttp://other-host/x.ts\n", ErrMalformed, 4},
		{"CR at the end", "#EXTM3U\n#EXTINF:6,\ns.ts\r", ErrMalformed, 3},
		{"U+2028 in a title", "#EXTM3U\n#EXTINF:6,title\u2028http://other-host/x.ts\ns.ts\n", ErrMalformed, 2},
		{"U+2029", "#EXTM3U\n# \u2029\n", ErrMalformed, 2},
		{"invalid UTF-8", "#EXTM3U\n#EXTINF:6,\n\xff.ts\n", ErrMalformed, 3},
		{"overlong UTF-8 in a tag", "#EXTM3U\n#EXT-X-FOO:\xc0\xaf\n", ErrMalformed, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := &linker{}
			_, err := Rewrite(context.Background(), []byte(c.in), key, rootv1, l)
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, c.kind) || e.Line != c.line {
				t.Fatalf("got %v (%#v), want %v on line %d", err, e, c.kind, c.line)
			}
			if len(l.batches)+len(l.children) != 0 {
				t.Errorf("the linker was called for a refused playlist")
			}
			if want := fmt.Sprintf("hls: line %d: %s", c.line, c.kind); !strings.HasPrefix(err.Error(), want) {
				t.Errorf("message %q does not start with %q", err, want)
			}
		})
	}
}

func TestKeyErrorsCarryTheKeysCause(t *testing.T) {
	_, err := Parse([]byte("#EXTM3U\n#EXTINF:6,\na//b.ts\n"), "v/index.m3u8", "v/")
	if !errors.Is(err, ErrInvalidKey) || !errors.Is(err, keys.ErrInvalidKey) {
		t.Fatalf("%v", err)
	}
}

func TestSizeBoundsComeFirst(t *testing.T) {
	// 100k short lines, well under the byte bound: refused on the line
	// count before a line is read (the NUL at the end is never seen).
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-TARGETDURATION:1\n")
	for b.Len() < 100_000*10 {
		b.WriteString("#EXTINF:1,\nseg.ts\n")
	}
	b.WriteString("\x00")
	lines := []byte(b.String())
	if len(lines) > MaxPlaylistBytes {
		t.Fatalf("test playlist of %d bytes", len(lines))
	}
	l := &linker{}
	_, err := Rewrite(context.Background(), lines, "v/index.m3u8", "v/", l)
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrTooLarge) || e.Line != 0 || !strings.Contains(err.Error(), "lines") {
		t.Fatalf("100k lines: %v", err)
	}

	big := make([]byte, MaxPlaylistBytes+1)
	copy(big, "#EXTM3U\n")
	for i := 8; i < len(big); i++ {
		big[i] = '#'
	}
	if _, err := Parse(big, "v/index.m3u8", "v/"); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "bytes") {
		t.Fatalf("%d bytes: %v", len(big), err)
	}
	if len(l.batches) != 0 {
		t.Fatal("signed a refused playlist")
	}
}

func TestLargestAcceptedPlaylist(t *testing.T) {
	// MaxLines lines exactly (the last without a newline) are accepted,
	// and every one of its segments is in the one batch.
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-TARGETDURATION:2\n")
	n := (MaxLines - 3) / 2
	for i := range n {
		fmt.Fprintf(&b, "#EXTINF:2,\ns%d.ts\n", i)
	}
	b.WriteString("#EXT-X-ENDLIST")
	l := &linker{}
	out, err := Rewrite(context.Background(), []byte(b.String()), "v/index.m3u8", "v/", l)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.batches) != 1 || len(l.batches[0]) != n || strings.Count(string(out), "?sig\n") != n {
		t.Fatalf("%d batches for %d segments", len(l.batches), n)
	}
}

func TestLinkerFailures(t *testing.T) {
	in := []byte(examples[0].in)
	boom := errors.New("provider unavailable")
	if _, err := Rewrite(context.Background(), in, examples[0].key, root, &linker{fail: boom}); !errors.Is(err, boom) {
		t.Errorf("SignMedia error: %v", err)
	}
	p, err := Parse(in, examples[0].key, root)
	if err != nil {
		t.Fatal(err)
	}
	for name, urls := range map[string][]string{
		"too few":     {"https://a", "https://b"},
		"empty":       {"https://a", "", "https://c"},
		"line break":  {"https://a", "https://b\n#EXT-X-ENDLIST", "https://c"},
		"quote":       {"https://a", `https://b"`, "https://c"},
		"looks a tag": {"https://a", "#EXT-X-ENDLIST", "https://c"},
	} {
		_, err := p.Render(nil, urls)
		if err == nil {
			t.Errorf("%s: rendered", name)
			continue
		}
		// A URL is signed: it never shows in an error.
		for _, u := range urls {
			if len(u) > 10 && strings.Contains(err.Error(), u) {
				t.Errorf("%s: error %q shows the URL", name, err)
			}
		}
	}
}

func TestParseArguments(t *testing.T) {
	in := []byte(examples[0].in)
	for _, c := range []struct{ key, root string }{
		{"v/index.m3u8", "w/"},        // root does not hold the key
		{"v/index.m3u8", "v"},         // root is not a folder
		{"../index.m3u8", ""},         // not a key
		{"v/sub/index.m3u8", "v/su/"}, // a prefix but not a folder of it
	} {
		if _, err := Parse(in, c.key, c.root); err == nil {
			t.Errorf("Parse(key %q, root %q) accepted", c.key, c.root)
		}
	}
	// At the store's root, "" is the root and only ".." past it is refused.
	p, err := Parse([]byte("#EXTM3U\n#EXTINF:1,\na/../b.ts\n"), "index.m3u8", "")
	if err != nil || !slices.Equal(p.Media(), []string{"b.ts"}) {
		t.Fatalf("%v %q", err, p.Media())
	}
}

func TestIsPlaylist(t *testing.T) {
	for _, c := range []struct {
		key, ct string
		want    bool
	}{
		{"v/index.m3u8", "", true},
		{"v/INDEX.M3U8", "application/octet-stream", true},
		{"v/index", "application/vnd.apple.mpegurl", true},
		{"v/index", "application/x-mpegURL; charset=utf-8", true},
		{"v/index", "audio/mpegurl", true},
		{"v/index.m3u", "audio/x-mpegurl", true},
		{"v/index.m3u8.mp4", "video/mp4", false},
		{"v/index.mpd", "application/dash+xml", false},
		{"v/x", "", false},
		{"v/x", ";;", false},
	} {
		if got := IsPlaylist(c.key, c.ct); got != c.want {
			t.Errorf("IsPlaylist(%q, %q) = %v", c.key, c.ct, got)
		}
	}
}

// The shortcut for plain URIs resolves as the segment walk does.
func TestPlainShortcutAgrees(t *testing.T) {
	for _, uri := range []string{"seg.ts", "a/b/c.m4s", "720p/index.m3u8", "x..y", ".hidden", "a.b/..c", "~u/+s:t@v"} {
		if !plain(uri) {
			t.Fatalf("%q not plain", uri)
		}
		for _, dir := range []string{"", "v/", "v/w/"} {
			fast, err1 := resolve(uri, dir, "")
			slow, err2 := resolveSegments(uri, dir, "")
			if fast != slow || (err1 == nil) != (err2 == nil) {
				t.Errorf("%q in %q: %q %v, walk %q %v", uri, dir, fast, err1, slow, err2)
			}
		}
	}
	for _, uri := range []string{"a//b", "./a", "a/.", "a/../b", "%41", "a/"} {
		if plain(uri) {
			t.Errorf("%q plain", uri)
		}
	}
}
