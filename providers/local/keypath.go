package local

import (
	"strings"

	"github.com/valetgw/valet/providers"
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

const (
	// objectSuffix marks a sidecar file.
	objectSuffix = "@"
	// maxSegment bounds an escaped segment, leaving room under the common
	// 255-byte NAME_MAX for the suffix.
	maxSegment = 250
	// maxKey matches the gateway's limit.
	maxKey = 1024
)

// keyPath maps a key to its sidecar's slash-separated path relative to the
// objects root. It refuses keys that are empty, longer than 1024 bytes, hold
// a NUL, an empty, "." or ".." segment, or a segment too long to be a file
// name once escaped.
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
	segs := strings.Split(key, "/")
	for i, s := range segs {
		switch s {
		case "":
			return "", providers.Errorf(providers.InvalidArgument, "key %q has an empty segment", key)
		case ".", "..":
			return "", providers.Errorf(providers.InvalidArgument, "key %q has a %q segment", key, s)
		}
		e := escapeSegment(s)
		if len(e) > maxSegment {
			return "", providers.Errorf(providers.InvalidArgument,
				"key segment of %d bytes is too long for the local store (at most %d once escaped)", len(s), maxSegment)
		}
		segs[i] = e
	}
	return strings.Join(segs, "/") + objectSuffix, nil
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
			segs[j] = escapeSegment(s)
		}
		dir = strings.Join(segs, "/")
	}
	return dir, tail, true
}

func keep(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// escapeSegment escapes one key segment into a file name.
func escapeSegment(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !keep(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if keep(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return string(b)
}

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
