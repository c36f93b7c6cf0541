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

// SanitizeSegment makes a value (such as a subject) usable as one or more
// characters inside a key segment: like SanitizeFilename, but separators
// become "_" instead of splitting, so "auth0|a/b" stays one segment.
func SanitizeSegment(s string) string {
	return SanitizeFilename(separators.Replace(s))
}

var separators = strings.NewReplacer("/", "_", `\`, "_")

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

// Render fills the template and validates the resulting key.
func (t *Template) Render(v Values) (string, error) {
	fn := SanitizeFilename(v.Filename)
	var b strings.Builder
	b.Grow(len(t.src) + len(fn) + len(v.Subject) + len(v.UUID))
	for _, p := range t.parts {
		switch p.field {
		case "":
			b.WriteString(p.lit)
		case "subject":
			b.WriteString(SanitizeSegment(v.Subject))
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
	key := b.String()
	if err := Validate(key); err != nil {
		return "", err
	}
	return key, nil
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
		b.WriteString(SanitizeSegment(subject))
	}
	return Dir(b.String())
}
