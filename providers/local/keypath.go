package local

import (
	"strings"

	"github.com/valetgw/valet/providers"
	"github.com/valetgw/valet/providers/internal/escape"
)

// On disk, a key is a chain of directories, one per segment, ending in a
// small metadata file (the "sidecar") that points at the object's bytes:
//
//	key "users/ann/a b.mp4"  ->  objects/users/ann/a%20b.mp4@
//
// Each segment is escaped so that the file name holds only [A-Za-z0-9._~-]
// and "%XX". That rules out "/", "\", NUL and every other byte a filesystem
// could give meaning to, and a "%" in a key is itself escaped, so no
// percent-encoding in a key is ever decoded into a path. Segments "." and
// ".." are refused, so an escaped segment can never climb. The "@" suffix,
// a byte the escaper never emits, keeps an object "a/b" and the prefix
// "a/b/" from colliding, and leaves names such as "%tmp" free for the
// store's own use. Confinement does not rest on the escaping alone: every
// access goes through an os.Root, which also refuses symlinks that leave it.
//
// A segment whose escaped form is longer than maxSegment bytes does not fit
// in one file name (NAME_MAX is 255 on common filesystems; escaping triples
// every byte outside the set above, so 84 CJK characters are already too
// many). It is cut, never inside a "%XX", into pieces of at most chunkSize
// bytes, each but the last a directory named piece + "+", the last piece
// then named as a whole segment would be:
//
//	key "docs/" + 66 × "漢" + ".txt"  (the name escapes to 598 bytes)
//	  ->  objects/docs/%E6%BC%A2...+/...+/...%E6%BC%A2.txt@  (240+, 240+, 118)
//
// "+" is another byte the escaper never emits, so such a directory is never
// a segment's own name; a reader joins the pieces back into one segment
// (see store.walk). The cutting is fixed by the escaped segment alone, so a
// key has exactly one path and a path stands for at most one key: a reader
// accepts a name only if escaping the key it decodes to gives that path
// back. Segments that fit, which are all that earlier versions could store,
// keep their old names, so existing stores read unchanged.

const (
	// objectSuffix marks a sidecar file.
	objectSuffix = "@"
	// contSuffix marks a directory holding the rest of a long segment.
	contSuffix = "+"
	// maxSegment bounds an escaped segment kept as one name, leaving room
	// under the common 255-byte NAME_MAX for the suffix.
	maxSegment = 250
	// chunkSize bounds each piece of a longer segment but the last.
	chunkSize = 240
	// maxKey matches the gateway's limit.
	maxKey = 1024
)

// appendSegmentPath appends segment s's path (its names joined by "/",
// without the object suffix) to b.
func appendSegmentPath(b []byte, s string) []byte {
	e := escapeSegment(s)
	for len(e) > maxSegment {
		n := chunkSize
		// Every '%' starts a "%XX"; never cut one in two.
		switch {
		case e[n-1] == '%':
			n--
		case e[n-2] == '%':
			n -= 2
		}
		b = append(b, e[:n]...)
		b = append(b, contSuffix+"/"...)
		e = e[n:]
	}
	return append(b, e...)
}

// segmentPath is the relative path of the directory (or, with
// objectSuffix, the sidecar) that stands for segment s.
func segmentPath(s string) string { return string(appendSegmentPath(nil, s)) }

// keyPath maps a key to its sidecar's slash-separated path relative to the
// objects root. It refuses keys that are empty, longer than 1024 bytes, hold
// a NUL, or an empty, "." or ".." segment. A segment of any length fits.
func keyPath(key string) (string, error) {
	if key == "" {
		return "", providers.Errorf(providers.InvalidArgument, "key is empty")
	}
	if len(key) > maxKey {
		return "", providers.Errorf(providers.InvalidArgument, "key is %d bytes, more than %d", len(key), maxKey)
	}
	if strings.IndexByte(key, 0) >= 0 {
		return "", providers.Errorf(providers.InvalidArgument, "key holds a NUL byte")
	}
	b := make([]byte, 0, len(key)+16)
	for i, s := range strings.Split(key, "/") {
		switch s {
		case "":
			return "", providers.Errorf(providers.InvalidArgument, "key %q has an empty segment", key)
		case ".", "..":
			return "", providers.Errorf(providers.InvalidArgument, "key %q has a %q segment", key, s)
		}
		if i > 0 {
			b = append(b, '/')
		}
		b = appendSegmentPath(b, s)
	}
	return string(append(b, objectSuffix...)), nil
}

// prefixDir maps a list prefix to the directory that holds every key with
// that prefix, plus the part of the last segment that names must start with
// (escaped). ok is false when no key can have the prefix.
func prefixDir(prefix string) (dir, partial string, ok bool) {
	i := strings.LastIndexByte(prefix, '/')
	head, tail := "", prefix
	if i >= 0 {
		head, tail = prefix[:i], prefix[i+1:]
	}
	if head != "" {
		segs := strings.Split(head, "/")
		for j, s := range segs {
			if s == "" || s == "." || s == ".." || strings.IndexByte(s, 0) >= 0 {
				return "", "", false
			}
			segs[j] = segmentPath(s)
		}
		dir = strings.Join(segs, "/")
	}
	return dir, tail, true
}

// keep reports whether escapeSegment leaves c as it is.
func keep(c byte) bool { return escape.Unreserved(c) }

// escapeSegment escapes one key segment into a file name.
func escapeSegment(s string) string { return escape.String(s, false) }

// unescapeSegment reverses escapeSegment. ok is false for a name that
// escapeSegment cannot have produced, such as the store's own "%tmp".
func unescapeSegment(e string) (string, bool) {
	if !strings.Contains(e, "%") {
		for i := 0; i < len(e); i++ {
			if !keep(e[i]) {
				return "", false
			}
		}
		return e, e != ""
	}
	b := make([]byte, 0, len(e))
	for i := 0; i < len(e); i++ {
		c := e[i]
		switch {
		case keep(c):
			b = append(b, c)
		case c == '%' && i+2 < len(e) && unhex(e[i+1]) >= 0 && unhex(e[i+2]) >= 0:
			d := byte(unhex(e[i+1])<<4 | unhex(e[i+2]))
			if keep(d) {
				return "", false // escapeSegment never escapes these
			}
			b = append(b, d)
			i += 2
		default:
			return "", false
		}
	}
	return string(b), len(b) > 0
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
