// Package keys chooses and checks object keys: it renders a store's key
// template, sanitizes client filenames and validates any key before it
// reaches a provider. Providers use keys verbatim, so this package is the
// one place where a key's shape is enforced.
package keys

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxKeyBytes is the longest key the gateway accepts.
const MaxKeyBytes = 1024

// MaxFilenameBytes bounds a sanitized filename.
const MaxFilenameBytes = 200

// ErrInvalidKey is wrapped by every error from Validate.
var ErrInvalidKey = errors.New("invalid key")

// Validate reports whether key is acceptable for any provider: non-empty,
// valid UTF-8, at most MaxKeyBytes, no leading "/", no empty, "." or ".."
// segments, no control characters.
func Validate(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	case len(key) > MaxKeyBytes:
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidKey, MaxKeyBytes)
	case !utf8.ValidString(key):
		return fmt.Errorf("%w: not valid UTF-8", ErrInvalidKey)
	case strings.HasPrefix(key, "/"):
		return fmt.Errorf("%w: starts with \"/\"", ErrInvalidKey)
	}
	for _, r := range key {
		if unicode.IsControl(r) || r == '\\' {
			return fmt.Errorf("%w: contains a control character or backslash", ErrInvalidKey)
		}
	}
	for _, seg := range strings.Split(key, "/") {
		switch seg {
		case "":
			return fmt.Errorf("%w: empty path segment", ErrInvalidKey)
		case ".", "..":
			return fmt.Errorf("%w: %q segment", ErrInvalidKey, seg)
		}
	}
	return nil
}

// ValidatePrefix checks a listing prefix: empty is allowed, and a trailing
// "/" is allowed; otherwise the rules of Validate apply.
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	return Validate(strings.TrimSuffix(prefix, "/"))
}

// Dir returns key up to and including its last "/" ("" when there is none).
func Dir(key string) string {
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		return key[:i+1]
	}
	return ""
}

// SanitizeFilename turns a client-supplied filename into one safe path
// segment: NFC-normalized, without path separators, control or format
// characters, without leading dots or surrounding blanks, and at most
// MaxFilenameBytes long (cut on a rune boundary, keeping a short extension).
// It never returns "" (it falls back to "file").
func SanitizeFilename(name string) string {
	if alreadyClean(name) {
		return name // the common case, without the normalization's allocations
	}
	return sanitizeFilename(name)
}

// alreadyClean reports whether sanitizeFilename would return name unchanged
// because it is plain printable ASCII (which NFC leaves as is) without
// separators, leading dots or blanks, trailing blanks, and within the
// length limit. FuzzSanitizeFastPath checks that claim.
func alreadyClean(name string) bool {
	if name == "" || len(name) > MaxFilenameBytes || name[0] == '.' || name[0] == ' ' || name[len(name)-1] == ' ' {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c > 0x7e || c == '/' || c == '\\' {
			return false
		}
	}
	return true
}

func sanitizeFilename(name string) string {
	name = strings.ToValidUTF8(name, "")
	// Keep only the last path element so "C:\\x\\a.txt" and "a/b.txt" name a file.
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = norm.NFC.String(name)
	var b strings.Builder
	for _, r := range name {
		switch {
		case r == '/' || r == '\\':
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), r == utf8.RuneError:
		case unicode.IsSpace(r):
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	name = strings.TrimSpace(b.String())
	name = strings.TrimLeft(name, ". ")
	name = strings.TrimRight(name, " ")
	if len(name) > MaxFilenameBytes {
		ext := path.Ext(name)
		if len(ext) > 16 || len(ext) >= MaxFilenameBytes/2 {
			ext = ""
		}
		name = truncate(name[:len(name)-len(ext)], MaxFilenameBytes-len(ext)) + ext
		name = strings.TrimRight(name, " ")
	}
	// Truncation may split a combining sequence; normalize again and re-trim.
	name = norm.NFC.String(name)
	for len(name) > MaxFilenameBytes {
		name = truncate(name, len(name)-1)
	}
	if name == "" {
		return "file"
	}
	return name
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// EncodeSubject turns a subject into one key segment, one-to-one and
// reversibly. A character is kept as it is when it is printable and cannot
// make two subjects look alike: ASCII from "!" to "~" except "/", "\" and
// "%", a space that is neither first nor last, a "." that is not first,
// and any other graphic Unicode character that is not a format character
// (such as U+200B or U+00AD). Every other byte, invalid UTF-8 included, is
// percent-encoded with upper-case hex. Nothing is normalized or dropped, so
// no two subjects give the same segment and users/{subject}/ prefixes never
// overlap: "org/carol" is "org%2Fcarol" while "org_carol" stays as it is,
// and " bob", ".bob" and "bob\u200b" each differ from "bob". Subjects that
// need no encoding (auth0|abc, user+tag@example.com, josé) are unchanged.
// The empty subject, which authentication never produces, is "%": a
// segment no other subject encodes to.
func EncodeSubject(s string) string {
	if s == "" {
		return "%"
	}
	if subjectClean(s) {
		return s
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+16)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if subjectKeeps(r, n, i == 0, i+n == len(s)) {
			b = append(b, s[i:i+n]...)
		} else {
			for _, c := range []byte(s[i : i+n]) {
				b = append(b, '%', hex[c>>4], hex[c&15])
			}
		}
		i += n
	}
	return string(b)
}

// subjectClean reports whether EncodeSubject keeps s as it is.
func subjectClean(s string) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !subjectKeeps(r, n, i == 0, i+n == len(s)) {
			return false
		}
		i += n
	}
	return true
}

// subjectKeeps reports whether the rune r (n bytes, at the start and/or
// end of the subject) stands for itself in an encoded subject.
func subjectKeeps(r rune, n int, first, last bool) bool {
	switch {
	case r == utf8.RuneError && n <= 1:
		return false // a byte of invalid UTF-8
	case r == ' ':
		return !first && !last
	case r == '.':
		return !first
	case r < utf8.RuneSelf:
		return r > ' ' && r < 0x7f && r != '/' && r != '\\' && r != '%'
	}
	return unicode.IsGraphic(r) && !unicode.IsSpace(r) && !unicode.Is(unicode.Cf, r) && r != utf8.RuneError
}

// DecodeSubject reverses EncodeSubject; ok is false for a segment that
// EncodeSubject never returns.
func DecodeSubject(seg string) (subject string, ok bool) {
	if seg == "%" {
		return "", true
	}
	b := make([]byte, 0, len(seg))
	for i := 0; i < len(seg); i++ {
		if seg[i] != '%' {
			b = append(b, seg[i])
			continue
		}
		if i+2 >= len(seg) {
			return "", false
		}
		hi, lo := unhex(seg[i+1]), unhex(seg[i+2])
		if hi < 0 || lo < 0 {
			return "", false
		}
		b = append(b, byte(hi<<4|lo))
		i += 2
	}
	// Only the canonical spelling decodes: "%41" is not "A".
	if s := string(b); s != "" && EncodeSubject(s) == seg {
		return s, true
	}
	return "", false
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// Template is a parsed key template such as
// "users/{subject}/{uuid}/{filename}".
type Template struct {
	src   string
	parts []part
}

type part struct {
	lit   string
	field string // "" for a literal
}

// Fields understood in a template.
var fields = map[string]bool{"subject": true, "uuid": true, "date": true, "filename": true, "ext": true}

// ParseTemplate parses a key template. Placeholders are {subject}, {uuid},
// {date} (YYYY-MM-DD, UTC), {filename} (sanitized) and {ext} (the
// filename's lower-case extension with its dot, or ""). The template must
// contain {uuid} or {filename} so that keys differ between uploads.
func ParseTemplate(src string) (*Template, error) {
	t := &Template{src: src}
	rest := src
	for rest != "" {
		i := strings.IndexAny(rest, "{}")
		if i < 0 {
			t.parts = append(t.parts, part{lit: rest})
			break
		}
		if rest[i] == '}' {
			return nil, fmt.Errorf("unmatched \"}\" at byte %d", len(src)-len(rest)+i)
		}
		if i > 0 {
			t.parts = append(t.parts, part{lit: rest[:i]})
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return nil, fmt.Errorf("unclosed \"{\" at byte %d", len(src)-len(rest)+i)
		}
		name := rest[i+1 : i+j]
		if !fields[name] {
			return nil, fmt.Errorf("unknown placeholder {%s} (want {subject}, {uuid}, {date}, {filename} or {ext})", name)
		}
		t.parts = append(t.parts, part{field: name})
		rest = rest[i+j+1:]
	}
	if !strings.Contains(src, "{uuid}") && !strings.Contains(src, "{filename}") {
		return nil, errors.New("must contain {uuid} or {filename}")
	}
	// Render a sample to catch literal problems ("//", leading "/", "..").
	if _, err := t.Render(Values{Subject: "s", UUID: "u", Filename: "f.txt", Now: time.Unix(0, 0)}); err != nil {
		return nil, err
	}
	return t, nil
}

// String returns the template source.
func (t *Template) String() string { return t.src }

// Values fill a template.
type Values struct {
	Subject  string
	UUID     string
	Filename string // raw client filename; sanitized here
	Now      time.Time
}

// Render fills the template and validates the resulting key. When a long
// subject would push the key past MaxKeyBytes, the filename is shortened
// (keeping its extension) to fit; the subject never is.
func (t *Template) Render(v Values) (string, error) {
	fn := SanitizeFilename(v.Filename)
	key := t.render(v, fn)
	if over := len(key) - MaxKeyBytes; over > 0 && t.has("filename") {
		n := t.count("filename")
		if short, ok := shorten(fn, len(fn)-(over+n-1)/n); ok {
			key = t.render(v, short)
		}
	}
	if err := Validate(key); err != nil {
		return "", err
	}
	return key, nil
}

func (t *Template) render(v Values, fn string) string {
	var b strings.Builder
	b.Grow(len(t.src) + len(fn) + 3*len(v.Subject) + len(v.UUID))
	for _, p := range t.parts {
		switch p.field {
		case "":
			b.WriteString(p.lit)
		case "subject":
			b.WriteString(EncodeSubject(v.Subject))
		case "uuid":
			b.WriteString(v.UUID)
		case "date":
			b.WriteString(v.Now.UTC().Format("2006-01-02"))
		case "filename":
			b.WriteString(fn)
		case "ext":
			b.WriteString(Ext(fn))
		}
	}
	return b.String()
}

func (t *Template) has(field string) bool { return t.count(field) > 0 }

// Unique reports whether every key the template renders is new: it holds
// {uuid}, so no two uploads share a key.
func (t *Template) Unique() bool { return t.has("uuid") }

func (t *Template) count(field string) int {
	n := 0
	for _, p := range t.parts {
		if p.field == field {
			n++
		}
	}
	return n
}

// shorten cuts a sanitized filename to at most n bytes, keeping a short
// extension when there is room for it and some of the name; ok is false
// when nothing would be left.
func shorten(fn string, n int) (string, bool) {
	if n < 1 {
		return "", false
	}
	ext := Ext(fn)
	if ext != "" {
		ext = fn[len(fn)-len(ext):] // the original case
	}
	if n > len(ext) {
		if stem := strings.TrimRight(truncate(strings.TrimSuffix(fn, ext), n-len(ext)), " "); stem != "" {
			return norm.NFC.String(stem) + ext, true
		}
	}
	if short := strings.TrimRight(truncate(fn, n), " "); short != "" {
		return norm.NFC.String(short), true
	}
	return "", false
}

// Ext returns a sanitized filename's extension, lower-cased, with its dot;
// "" when there is none or it is implausibly long.
func Ext(filename string) string {
	ext := path.Ext(filename)
	if ext == "." || len(ext) > 16 || ext == filename {
		return ""
	}
	return strings.ToLower(ext)
}

// Prefix returns the part of the template that is fixed for a subject: the
// literal text and {subject} up to the last "/" before the first other
// placeholder. For "users/{subject}/{uuid}/{filename}" and subject "alice"
// it is "users/alice/". Clients use it to list their own files.
func (t *Template) Prefix(subject string) string {
	var b strings.Builder
	for _, p := range t.parts {
		if p.field == "" {
			b.WriteString(p.lit)
			continue
		}
		if p.field != "subject" {
			break
		}
		b.WriteString(EncodeSubject(subject))
	}
	return Dir(b.String())
}

// SubjectInPrefix reports whether {subject}, where the template has it,
// lies inside Prefix: before any per-upload field ({uuid}, {date},
// {filename}, {ext}) and followed by a "/" before that field. Only then does
// Prefix keep one subject's keys apart from another's. A template without
// {subject} gives every caller the same prefix and reports false.
func (t *Template) SubjectInPrefix() bool {
	fixed := true
	var lit strings.Builder
	seen := false
	for _, p := range t.parts {
		switch {
		case p.field == "":
			lit.WriteString(p.lit)
			if seen && strings.Contains(p.lit, "/") {
				return fixed
			}
		case p.field == "subject":
			if !fixed {
				return false
			}
			seen = true
		default:
			if seen {
				return false // no "/" between {subject} and this field
			}
			fixed = false
		}
	}
	return false
}
