// Package escape percent-encodes the way URL signing wants it (RFC 3986,
// as AWS and GCS V4 signatures and the local store's file names use it):
// every byte except the unreserved A-Z a-z 0-9 - . _ ~ (and '/', when
// asked) becomes %XX with upper-case hex digits.
package escape

const hexDigits = "0123456789ABCDEF"

// Unreserved reports whether c is left as it is.
func Unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// Append appends s escaped to b; keepSlash leaves '/' as it is.
func Append(b []byte, s string, keepSlash bool) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; Unreserved(c) || c == '/' && keepSlash {
			b = append(b, c)
		} else {
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	return b
}

// String is s escaped; keepSlash leaves '/' as it is. A string with
// nothing to escape is returned as it is.
func String(s string, keepSlash bool) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; !Unreserved(c) && !(c == '/' && keepSlash) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	return string(Append(make([]byte, 0, len(s)+2*n), s, keepSlash))
}
