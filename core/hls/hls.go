// Package hls rewrites HLS playlists (RFC 8216) so that a player can fetch
// them through the gateway and their media straight from storage: every
// URI in a playlist is resolved against the playlist's object key, child
// playlists become gateway playback URLs and segments, init sections and
// keys become signed storage URLs, all of it asked of the caller, media in
// one batch per playlist. Everything else is kept byte for byte, which is
// why this is a line rewriter and not a parse-and-encode of a playlist
// model. The package does no I/O of its own, never panics on input, and
// refuses what it cannot rewrite safely with a typed *Error that names the
// line.
package hls

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/valetgw/valet/core/keys"
)

// ContentType is the media type of a rewritten playlist.
const ContentType = "application/vnd.apple.mpegurl"

// Bounds checked before any parsing. A one-hour VOD playlist of 6 s
// segments is about 1,200 lines and 40 KB; a day of them with byte
// ranges about 43,000 lines.
const (
	MaxPlaylistBytes = 4 << 20
	MaxLines         = 1 << 16
)

// The kinds of *Error, for errors.Is.
var (
	// ErrTooLarge: over MaxPlaylistBytes or MaxLines.
	ErrTooLarge = errors.New("playlist too large")
	// ErrMalformed: not a playlist RFC 8216 allows (no #EXTM3U first, a
	// URI line missing after #EXTINF or #EXT-X-STREAM-INF, a bad attribute
	// list, NUL bytes, invalid UTF-8, master and media tags mixed).
	ErrMalformed = errors.New("malformed playlist")
	// ErrAbsoluteURL: a URI with a scheme or a host (http://other/…,
	// //other/…, data:…). The gateway can only sign keys of its store.
	ErrAbsoluteURL = errors.New("absolute URL in playlist")
	// ErrOutside: a URI that leaves the playlist's folder ("..", or a
	// path starting with "/").
	ErrOutside = errors.New("URI leaves the playlist's folder")
	// ErrInvalidKey: a URI that resolves to a key keys.Validate refuses,
	// or to a folder rather than an object.
	ErrInvalidKey = errors.New("URI resolves to an invalid key")
	// ErrUnsupported: a URI with a query or fragment (an object key
	// cannot carry one), or a tag the gateway cannot serve
	// (EXT-X-CONTENT-STEERING).
	ErrUnsupported = errors.New("unsupported in a signed playlist")
)

// Error is a refused playlist: its kind (one of the Err values above),
// the 1-based line (0 for the playlist as a whole) and what was found.
// Detail quotes the playlist's own text, never a signed URL.
type Error struct {
	Line   int
	Kind   error
	Detail string
	cause  error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("hls: ")
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	b.WriteString(e.Kind.Error())
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// Unwrap gives the kind and, for ErrInvalidKey, the keys error.
func (e *Error) Unwrap() []error {
	if e.cause != nil {
		return []error{e.Kind, e.cause}
	}
	return []error{e.Kind}
}

func errorf(line int, kind error, format string, args ...any) *Error {
	return &Error{Line: line, Kind: kind, Detail: fmt.Sprintf(format, args...)}
}

// Type tells a master playlist from a media playlist.
type Type int

const (
	// Media is a media playlist: segments (#EXTINF), perhaps init
	// sections and keys. One with no master tags is this type.
	Media Type = iota + 1
	// Master is a master (multivariant) playlist: variants and
	// renditions, which are child playlists.
	Master
)

func (t Type) String() string {
	switch t {
	case Media:
		return "media"
	case Master:
		return "master"
	}
	return "unknown"
}

// IsPlaylist reports whether an object is an HLS playlist by its key
// (".m3u8", any case) or its content type (application/vnd.apple.mpegurl,
// application/x-mpegurl, audio/mpegurl or audio/x-mpegurl, with any
// parameters).
func IsPlaylist(key, contentType string) bool {
	if len(key) >= 5 && strings.EqualFold(key[len(key)-5:], ".m3u8") {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch mt {
	case "application/vnd.apple.mpegurl", "application/x-mpegurl", "audio/mpegurl", "audio/x-mpegurl":
		return true
	}
	return false
}

// Playlist is a parsed playlist, ready to be rendered with URLs for its
// references.
type Playlist struct {
	data     []byte
	typ      Type
	live     bool
	media    []string
	children []string
	refs     []ref
}

// ref is one URI in the playlist: data[start:end] is replaced by the URL
// for media[idx] or children[idx].
type ref struct {
	start, end int
	child      bool
	idx        int
}

// Type is Master or Media.
func (p *Playlist) Type() Type { return p.typ }

// Live reports a media playlist without #EXT-X-ENDLIST: players re-fetch
// it every target duration (and so get fresh signatures).
func (p *Playlist) Live() bool { return p.live }

// Playlists returns the distinct keys of the child playlists, in the order
// they first appear: #EXT-X-STREAM-INF URI lines and the URI attributes
// of #EXT-X-MEDIA, #EXT-X-I-FRAME-STREAM-INF and #EXT-X-RENDITION-REPORT.
func (p *Playlist) Playlists() []string { return p.children }

// Media returns the distinct keys to sign, in the order they first appear:
// segment URI lines (after #EXTINF) and the URI attributes of
// #EXT-X-MAP, #EXT-X-KEY and #EXT-X-SESSION-KEY (key format "identity"),
// #EXT-X-PART, #EXT-X-PRELOAD-HINT and #EXT-X-SESSION-DATA. A single-file
// byte-range playlist has one.
func (p *Playlist) Media() []string { return p.media }

// References is the number of URIs that Render replaces.
func (p *Playlist) References() int { return len(p.refs) }

// Linker gives Rewrite the URLs for a playlist's references.
type Linker interface {
	// PlaylistURL returns the URL that serves the child playlist key,
	// rewritten in turn (a gateway playback link). It is called once per
	// distinct child.
	PlaylistURL(key string) (string, error)
	// SignMedia returns one URL per key, in order: signed GETs from the
	// provider. Rewrite calls it at most once per playlist, with every
	// distinct media key (so a caller whose provider takes smaller batches
	// splits them), and never with none.
	SignMedia(ctx context.Context, keys []string) ([]string, error)
}

// Rewrite parses the playlist data, stored at key, whose URIs may not
// leave root, and renders it with the URLs l gives. See Parse and Render.
func Rewrite(ctx context.Context, data []byte, key, root string, l Linker) ([]byte, error) {
	p, err := Parse(data, key, root)
	if err != nil {
		return nil, err
	}
	children := make([]string, len(p.children))
	for i, k := range p.children {
		if children[i], err = l.PlaylistURL(k); err != nil {
			return nil, fmt.Errorf("hls: link for playlist %q: %w", k, err)
		}
	}
	var media []string
	if len(p.media) > 0 {
		if media, err = l.SignMedia(ctx, p.media); err != nil {
			return nil, fmt.Errorf("hls: signing %d media URIs: %w", len(p.media), err)
		}
	}
	return p.Render(children, media)
}

// Render returns the playlist with each child playlist reference replaced
// by children[i] and each media reference by media[i] (aligned with
// Playlists and Media), and every other byte as it was.
func (p *Playlist) Render(children, media []string) ([]byte, error) {
	if len(children) != len(p.children) || len(media) != len(p.media) {
		return nil, fmt.Errorf("hls: %d playlist and %d media URLs for %d and %d references", len(children), len(media), len(p.children), len(p.media))
	}
	// The URLs are the caller's (signed, so secret): errors name the key.
	for i, u := range children {
		if err := checkURL(u); err != nil {
			return nil, fmt.Errorf("hls: URL for playlist %q %s", p.children[i], err)
		}
	}
	for i, u := range media {
		if err := checkURL(u); err != nil {
			return nil, fmt.Errorf("hls: URL for %q %s", p.media[i], err)
		}
	}
	size := len(p.data)
	for _, r := range p.refs {
		size += len(p.url(r, children, media)) - (r.end - r.start)
	}
	out := make([]byte, 0, size)
	last := 0
	for _, r := range p.refs {
		out = append(out, p.data[last:r.start]...)
		out = append(out, p.url(r, children, media)...)
		last = r.end
	}
	return append(out, p.data[last:]...), nil
}

func (p *Playlist) url(r ref, children, media []string) string {
	if r.child {
		return children[r.idx]
	}
	return media[r.idx]
}

// checkURL refuses a URL that would change the playlist's structure: one
// that is empty, holds a line break, a NUL or a quote (which would end a
// URI="…" attribute), or starts with "#" (a tag, on a URI line).
func checkURL(u string) error {
	switch {
	case u == "":
		return errors.New("is empty")
	case strings.IndexByte(u, '\n') >= 0 || strings.IndexByte(u, '\r') >= 0 || strings.IndexByte(u, 0) >= 0 || strings.IndexByte(u, '"') >= 0:
		return errors.New("holds a line break, NUL or quote")
	case u[0] == '#':
		return errors.New("starts with \"#\"")
	}
	return nil
}

// parser is the state of one Parse.
type parser struct {
	p          *Playlist
	dir, root  string
	mediaIdx   map[string]int
	childIdx   map[string]int
	segment    int // line of an #EXTINF waiting for its URI line, or 0
	variant    int // same for #EXT-X-STREAM-INF
	masterLine int // first master-only tag
	mediaLine  int // first media-only tag
	endlist    bool
}

// Parse checks a playlist stored at key and finds its references. Every
// URI is resolved against key's folder as a relative reference (RFC 3986:
// "." and ".." segments, each segment percent-decoded, "%2E%2E" being
// ".." as browsers have it) and must name a key under root, which is ""
// or a folder ending in "/" that key is under: the playlist's own folder,
// or the folder of the master a child playlist was reached from. URIs
// with a scheme or host, absolute paths, queries and fragments are
// refused, not passed through: what the player fetches is only ever a
// signed URL for a key under root, or a playback link.
func Parse(data []byte, key, root string) (*Playlist, error) {
	if err := keys.Validate(key); err != nil {
		return nil, fmt.Errorf("hls: playlist key: %w", err)
	}
	if root != "" && !strings.HasSuffix(root, "/") || !strings.HasPrefix(key, root) {
		return nil, fmt.Errorf("hls: root %q is not a folder holding the playlist %q", root, key)
	}
	if len(data) > MaxPlaylistBytes {
		return nil, errorf(0, ErrTooLarge, "%d bytes, more than %d", len(data), MaxPlaylistBytes)
	}
	lines := bytes.Count(data, []byte{'\n'})
	if len(data) > 0 && data[len(data)-1] != '\n' {
		lines++
	}
	if lines > MaxLines {
		return nil, errorf(0, ErrTooLarge, "%d lines, more than %d", lines, MaxLines)
	}
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return nil, errorf(lineAt(data, i), ErrMalformed, "NUL byte")
	}
	if !utf8.Valid(data) {
		return nil, errorf(lineAt(data, invalidUTF8(data)), ErrMalformed, "not valid UTF-8")
	}
	if i := oddLineBreak(data); i >= 0 {
		// hls.js ends a line at a lone CR too (and an #EXTINF title at
		// U+2028 or U+2029): a player would see a line, perhaps a URI to
		// another host, that this parser did not.
		return nil, errorf(lineAt(data, i), ErrMalformed, "a line break other than LF or CRLF (CR alone, U+2028 or U+2029)")
	}
	ps := &parser{
		p:        &Playlist{data: data},
		dir:      keys.Dir(key),
		root:     root,
		mediaIdx: map[string]int{},
		childIdx: map[string]int{},
	}
	if err := ps.run(); err != nil {
		return nil, err
	}
	return ps.p, nil
}

func (ps *parser) run() error {
	data := string(ps.p.data) // one copy; lines and keys are substrings of it
	for n, off := 1, 0; off < len(data); n++ {
		end := strings.IndexByte(data[off:], '\n')
		if end < 0 {
			end = len(data)
		} else {
			end += off
		}
		line := strings.TrimSuffix(data[off:end], "\r")
		if err := ps.line(n, off, line); err != nil {
			return err
		}
		off = end + 1
	}
	if len(data) == 0 {
		return errorf(1, ErrMalformed, "empty, where #EXTM3U must be the first line")
	}
	switch {
	case ps.segment > 0:
		return errorf(ps.segment, ErrMalformed, "#EXTINF without a URI line after it")
	case ps.variant > 0:
		return errorf(ps.variant, ErrMalformed, "#EXT-X-STREAM-INF without a URI line after it")
	case ps.masterLine > 0 && ps.mediaLine > 0:
		return errorf(max(ps.masterLine, ps.mediaLine), ErrMalformed, "master playlist tags (line %d) and media playlist tags (line %d) in one playlist", ps.masterLine, ps.mediaLine)
	case ps.masterLine > 0:
		ps.p.typ = Master
	default:
		ps.p.typ = Media
		ps.p.live = !ps.endlist
	}
	return nil
}

// line handles line n, whose text (without its line ending) starts at
// byte off of the playlist.
func (ps *parser) line(n, off int, line string) error {
	if n == 1 {
		if strings.TrimRight(line, " \t") != "#EXTM3U" {
			if strings.HasPrefix(line, "\uFEFF") {
				return errorf(1, ErrMalformed, "starts with a byte order mark")
			}
			return errorf(1, ErrMalformed, "first line is %.40q, not #EXTM3U", line)
		}
		return nil
	}
	trimmed := strings.Trim(line, " \t")
	switch {
	case trimmed == "":
		return nil // blank lines are ignored
	case !strings.HasPrefix(line, "#"):
		start := off + len(line) - len(strings.TrimLeft(line, " \t"))
		return ps.uriLine(n, start, trimmed)
	case !strings.HasPrefix(line, "#EXT"):
		return nil // a comment
	}
	name, attrs, _ := strings.Cut(line[1:], ":")
	attrOff := off + 1 + len(name) + 1
	switch name {
	case "EXTINF":
		ps.media(n)
		if ps.segment > 0 {
			return errorf(ps.segment, ErrMalformed, "#EXTINF without a URI line after it (another #EXTINF follows on line %d)", n)
		}
		ps.segment = n
	case "EXT-X-STREAM-INF":
		ps.master(n)
		if ps.variant > 0 {
			return errorf(ps.variant, ErrMalformed, "#EXT-X-STREAM-INF without a URI line after it (another follows on line %d)", n)
		}
		ps.variant = n
	case "EXT-X-TARGETDURATION", "EXT-X-MEDIA-SEQUENCE", "EXT-X-PLAYLIST-TYPE", "EXT-X-I-FRAMES-ONLY":
		ps.media(n)
	case "EXT-X-ENDLIST":
		ps.media(n)
		ps.endlist = true
	case "EXT-X-MEDIA":
		ps.master(n)
		return ps.attrURI(n, attrOff, attrs, name, true, false)
	case "EXT-X-I-FRAME-STREAM-INF":
		ps.master(n)
		return ps.attrURI(n, attrOff, attrs, name, true, true)
	case "EXT-X-RENDITION-REPORT":
		ps.media(n)
		return ps.attrURI(n, attrOff, attrs, name, true, true)
	case "EXT-X-MAP", "EXT-X-PART", "EXT-X-PRELOAD-HINT":
		ps.media(n)
		return ps.attrURI(n, attrOff, attrs, name, false, true)
	case "EXT-X-KEY":
		ps.media(n)
		return ps.keyURI(n, attrOff, attrs, name)
	case "EXT-X-SESSION-KEY":
		ps.master(n)
		return ps.keyURI(n, attrOff, attrs, name)
	case "EXT-X-SESSION-DATA":
		ps.master(n)
		return ps.attrURI(n, attrOff, attrs, name, false, false)
	case "EXT-X-CONTENT-STEERING":
		return errorf(n, ErrUnsupported, "#EXT-X-CONTENT-STEERING (a steering server is not a key of the store)")
	case "EXT-X-DEFINE":
		return errorf(n, ErrUnsupported, "#EXT-X-DEFINE (the player would substitute variables into URIs after they were signed)")
	case "EXT-X-DATERANGE":
		return ps.dateRange(n, attrs)
	}
	return nil // every other tag is kept as it is
}

func (ps *parser) media(n int) {
	if ps.mediaLine == 0 {
		ps.mediaLine = n
	}
}

func (ps *parser) master(n int) {
	if ps.masterLine == 0 {
		ps.masterLine = n
	}
}

func (ps *parser) uriLine(n, start int, uri string) error {
	var child bool
	switch {
	case ps.segment > 0 && ps.variant > 0:
		return errorf(n, ErrMalformed, "URI line after both #EXTINF (line %d) and #EXT-X-STREAM-INF (line %d)", ps.segment, ps.variant)
	case ps.segment > 0:
		ps.segment = 0
	case ps.variant > 0:
		ps.variant, child = 0, true
	default:
		return errorf(n, ErrMalformed, "URI line %.80q without #EXTINF or #EXT-X-STREAM-INF before it", uri)
	}
	return ps.add(n, start, uri, child)
}

// dateRange refuses an HLS interstitial (X-ASSET-URI, X-ASSET-LIST): a
// player fetches those, and they are not rewritten. Other date ranges are
// kept as they are.
func (ps *parser) dateRange(n int, list string) error {
	if !strings.Contains(list, "X-ASSET-") {
		return nil
	}
	as, err := parseAttrs(list)
	if err != nil {
		return errorf(n, ErrMalformed, "#EXT-X-DATERANGE: %s", err)
	}
	for _, name := range []string{"X-ASSET-URI", "X-ASSET-LIST"} {
		if _, ok := as.get(name); ok {
			return errorf(n, ErrUnsupported, "#EXT-X-DATERANGE with %s (an interstitial)", name)
		}
	}
	return nil
}

// keyURI handles #EXT-X-KEY and #EXT-X-SESSION-KEY: METHOD=NONE has no
// key to fetch, and a KEYFORMAT other than "identity" (FairPlay's skd://,
// Widevine's data:) names a key for the player's DRM system, not an object,
// so both lines are kept as they are.
func (ps *parser) keyURI(n, off int, list, tag string) error {
	as, err := parseAttrs(list)
	if err != nil {
		return errorf(n, ErrMalformed, "#%s: %s", tag, err)
	}
	method, _ := as.get("METHOD")
	format, hasFormat := as.get("KEYFORMAT")
	if method.value == "NONE" || hasFormat && format.value != "identity" {
		return nil
	}
	return ps.uriAttr(n, off, as, tag, false, true)
}

func (ps *parser) attrURI(n, off int, list, tag string, child, required bool) error {
	as, err := parseAttrs(list)
	if err != nil {
		return errorf(n, ErrMalformed, "#%s: %s", tag, err)
	}
	return ps.uriAttr(n, off, as, tag, child, required)
}

func (ps *parser) uriAttr(n, off int, as attrs, tag string, child, required bool) error {
	a, ok := as.get("URI")
	switch {
	case !ok && required:
		return errorf(n, ErrMalformed, "#%s without URI", tag)
	case !ok:
		return nil
	case !a.quoted:
		return errorf(n, ErrMalformed, "#%s URI is not a quoted string", tag)
	}
	return ps.add(n, off+a.start, a.value, child)
}

// add resolves uri, found at data[start:], and records it.
func (ps *parser) add(n, start int, uri string, child bool) error {
	key, err := resolve(uri, ps.dir, ps.root)
	if err != nil {
		err.Line = n
		return err
	}
	idx, list := ps.mediaIdx, &ps.p.media
	if child {
		idx, list = ps.childIdx, &ps.p.children
	}
	i, seen := idx[key]
	if !seen {
		i = len(*list)
		idx[key] = i
		*list = append(*list, key)
	}
	ps.p.refs = append(ps.p.refs, ref{start: start, end: start + len(uri), child: child, idx: i})
	return nil
}

// resolve turns a URI reference from a playlist in folder dir into a key
// under root. Its *Error has no line yet.
func resolve(uri, dir, root string) (string, *Error) {
	switch {
	case uri == "":
		return "", errorf(0, ErrMalformed, "empty URI")
	case hasScheme(uri) || strings.HasPrefix(uri, "//"):
		return "", errorf(0, ErrAbsoluteURL, "%.80q (only keys under the playlist's folder can be signed)", uri)
	case uri[0] == '/':
		return "", errorf(0, ErrOutside, "%.80q is an absolute path (use a path relative to the playlist)", uri)
	case strings.ContainsAny(uri, "?#"):
		return "", errorf(0, ErrUnsupported, "%.80q has a query or fragment, which an object key cannot carry (percent-encode a \"?\" or \"#\" that is part of the key)", uri)
	}
	if plain(uri) {
		return checkKey(uri, dir+uri, root)
	}
	return resolveSegments(uri, dir, root)
}

// resolveSegments resolves uri segment by segment: percent-decoding, then
// "." and "..".
func resolveSegments(uri, dir, root string) (string, *Error) {
	var segs []string
	if d := strings.TrimSuffix(dir, "/"); d != "" {
		segs = strings.Split(d, "/")
	}
	raw := strings.Split(uri, "/")
	for i, r := range raw {
		seg, err := url.PathUnescape(r)
		if err != nil {
			return "", errorf(0, ErrMalformed, "%.80q: bad percent-encoding", uri)
		}
		if strings.Contains(seg, "/") {
			return "", errorf(0, ErrInvalidKey, "%.80q has an encoded \"/\" (%%2F) in a segment", uri)
		}
		last := i == len(raw)-1
		switch seg {
		case ".":
		case "..":
			if len(segs) == 0 {
				return "", errorf(0, ErrOutside, "%.80q goes above the store's root", uri)
			}
			segs = segs[:len(segs)-1]
		default:
			segs = append(segs, seg)
		}
		if last && (seg == "." || seg == ".." || seg == "") {
			return "", errorf(0, ErrInvalidKey, "%.80q names a folder, not an object", uri)
		}
	}
	return checkKey(uri, strings.Join(segs, "/"), root)
}

// plain reports a URI that resolves by appending it to the folder: no
// percent-encoding and no empty, "." or ".." segment (the usual case,
// taken without allocating).
func plain(uri string) bool {
	if strings.IndexByte(uri, '%') >= 0 {
		return false
	}
	for seg := range strings.SplitSeq(uri, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// checkKey is the last check of what uri resolved to.
func checkKey(uri, key, root string) (string, *Error) {
	if !strings.HasPrefix(key, root) {
		return "", errorf(0, ErrOutside, "%.80q resolves to %.80q, outside %q", uri, key, root)
	}
	if err := keys.Validate(key); err != nil {
		e := errorf(0, ErrInvalidKey, "%.80q resolves to %.80q", uri, key)
		e.cause = err
		return "", e
	}
	return key, nil
}

// hasScheme reports whether uri starts with an RFC 3986 scheme and ":"
// (a relative path's first segment cannot hold a ":").
func hasScheme(uri string) bool {
	for i := 0; i < len(uri); i++ {
		c := uri[i]
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return true
		default:
			return false
		}
	}
	return false
}

// attr is one attribute of an attribute list (RFC 8216 section 4.2);
// list[start:start+len(value)] is its value, inside the quotes of a
// quoted string.
type attr struct {
	name   string
	value  string
	quoted bool
	start  int
}

type attrs []attr

func (as attrs) get(name string) (attr, bool) {
	for _, a := range as {
		if a.name == name {
			return a, true
		}
	}
	return attr{}, false
}

// parseAttrs parses NAME=VALUE,NAME="VALUE",… It tolerates blanks after a
// comma; a name must be [A-Za-z0-9_-]+, given once.
func parseAttrs(s string) (attrs, error) {
	var as attrs
	for i := 0; ; {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		j := i
		for j < len(s) && isNameByte(s[j]) {
			j++
		}
		if j == i || j == len(s) || s[j] != '=' {
			return nil, fmt.Errorf("attribute list %.60q: expected NAME= at byte %d", s, i)
		}
		a := attr{name: s[i:j]}
		if _, dup := as.get(a.name); dup {
			return nil, fmt.Errorf("attribute %s given twice", a.name)
		}
		j++
		if j < len(s) && s[j] == '"' {
			k := strings.IndexByte(s[j+1:], '"')
			if k < 0 {
				return nil, fmt.Errorf("attribute %s: unterminated quoted string", a.name)
			}
			a.quoted, a.start, a.value = true, j+1, s[j+1:j+1+k]
			j += k + 2
		} else {
			k := strings.IndexByte(s[j:], ',')
			if k < 0 {
				k = len(s) - j
			}
			a.start, a.value = j, s[j:j+k]
			if strings.ContainsRune(a.value, '"') {
				return nil, fmt.Errorf("attribute %s: quote inside an unquoted value", a.name)
			}
			j += k
		}
		as = append(as, a)
		if j == len(s) {
			return as, nil
		}
		if s[j] != ',' {
			return nil, fmt.Errorf("attribute %s: expected \",\" after its value", a.name)
		}
		i = j + 1
	}
}

func isNameByte(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// lineAt is the 1-based line holding byte i of data.
func lineAt(data []byte, i int) int {
	return bytes.Count(data[:i], []byte{'\n'}) + 1
}

// oddLineBreak is the offset of the first CR not followed by LF, U+2028
// or U+2029, or -1.
func oddLineBreak(data []byte) int {
	for i := 0; ; {
		j := bytes.IndexByte(data[i:], '\r')
		if j < 0 {
			break
		}
		i += j + 1
		if i == len(data) || data[i] != '\n' {
			return i - 1
		}
	}
	for i := 0; ; {
		j := bytes.Index(data[i:], []byte{0xe2, 0x80})
		if j < 0 {
			return -1
		}
		i += j + 2
		if i < len(data) && (data[i] == 0xa8 || data[i] == 0xa9) {
			return i - 2
		}
	}
}

// invalidUTF8 is the offset of the first byte that is not valid UTF-8.
func invalidUTF8(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(data)
}
