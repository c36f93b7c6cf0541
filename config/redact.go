package config

import (
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	yamlv3 "go.yaml.in/yaml/v3"
)

// Redacted is a YAML copy of the config fit to print: every secret,
// including secret-looking keys in provider config, is "***", and so are
// the credentials inside any URL-looking value, whatever its key: the user
// and password of its userinfo, the value of every query parameter and the
// fragment (see RedactURL). A store that
// leaves delete_on_mismatch unset prints it as null, with a comment giving
// the default; RedactedFor prints the effective value instead.
func (c *Config) Redacted() ([]byte, error) { return c.RedactedFor(nil) }

// RedactedFor is Redacted with the effective delete_on_mismatch of every
// store in bindsAll, which says whether the store's provider binds both
// Content-Length and Content-Type (see ShouldDeleteOnMismatch). The printed
// config is then the one serve runs with.
func (c *Config) RedactedFor(bindsAll map[string]bool) ([]byte, error) {
	var doc yamlv3.Node
	if err := doc.Encode(toMap(reflect.ValueOf(*c), false)); err != nil {
		return nil, err
	}
	stores := mapValue(&doc, "stores")
	for name, sc := range c.Stores {
		v := mapValue(mapValue(stores, name), "delete_on_mismatch")
		if v == nil || sc.deleteOnMismatchSet {
			continue
		}
		if b, ok := bindsAll[name]; ok {
			v.Value = strconv.FormatBool(sc.ShouldDeleteOnMismatch(b))
			v.LineComment = "unset: the default for provider " + sc.Provider
			continue
		}
		v.Tag, v.Value = "!!null", "null"
		v.LineComment = "unset: true unless the provider binds Content-Length and Content-Type"
	}
	return yamlv3.Marshal(&doc)
}

// mapValue returns the value node of key in a mapping node, or nil.
func mapValue(n *yamlv3.Node, key string) *yamlv3.Node {
	if n == nil || n.Kind != yamlv3.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// secretFields are Config fields that hold secrets.
var secretFields = map[string]bool{"hs256_secret": true, "secret": true}

// secretLists are Config fields that hold lists of secrets; each entry
// prints as "***".
var secretLists = map[string]bool{"secrets": true, "hs256_secrets": true}

// secretWords mark provider config keys whose values are hidden.
var secretWords = []string{"secret", "password", "passwd", "token", "credential", "private", "key", "sas", "signature", "connection_string"}

// LooksSecret reports whether a provider config key probably holds a secret.
// Keys ending in _file name a file, not its content, and are shown.
func LooksSecret(key string) bool {
	k := strings.ToLower(key)
	if strings.HasSuffix(k, "_file") || strings.HasSuffix(k, "_path") {
		return false
	}
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

func toMap(v reflect.Value, free bool) any {
	if v.Type() == durationType {
		return time.Duration(v.Int()).String()
	}
	if v.Type() == sizeType {
		// A plain byte count prints as a number (0, not "0"); others with
		// their unit (10GiB).
		if s := Size(v.Int()).String(); strings.HasSuffix(s, "B") {
			return s
		}
		return v.Int()
	}
	switch v.Kind() {
	case reflect.Struct:
		out := map[string]any{}
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("koanf")
			if !f.IsExported() || tag == "" {
				continue
			}
			fv := v.Field(i)
			if fv.Kind() == reflect.Slice && fv.IsNil() && !secretLists[tag] {
				// Unset is left out, not printed as [] or null, which
				// read back as empty: `events: []` turns a hook off,
				// while unset events take the default.
				continue
			}
			if secretLists[tag] && fv.Kind() == reflect.Slice {
				hidden := make([]any, fv.Len())
				for j := range hidden {
					hidden[j] = "***"
				}
				out[tag] = hidden
				continue
			}
			if secretFields[tag] {
				if fv.String() != "" {
					out[tag] = "***"
				} else {
					out[tag] = ""
				}
				continue
			}
			out[tag] = toMap(fv, tag == "config")
		}
		return out
	case reflect.Map:
		out := map[string]any{}
		iter := v.MapRange()
		for iter.Next() {
			k := iter.Key().String()
			if free && LooksSecret(k) && !iter.Value().IsZero() {
				out[k] = "***"
				continue
			}
			out[k] = toMap(iter.Value(), free)
		}
		return out
	case reflect.Slice:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = toMap(v.Index(i), free)
		}
		return out
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return toMap(v.Elem(), free)
	case reflect.String:
		return RedactURL(v.String())
	default:
		return v.Interface()
	}
}

// urlInText finds URL-looking words in free text, such as an error message
// that quotes a config value.
var urlInText = regexp.MustCompile("[A-Za-z][A-Za-z0-9+.-]*://[^\\s\"'`<>]+")

// RedactURLsIn applies RedactURL to every URL-looking word of s.
func RedactURLsIn(s string) string {
	return urlInText.ReplaceAllStringFunc(s, RedactURL)
}

// urlScheme matches the start of a URL-looking string ("https://",
// "s3+http://").
var urlScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)

// RedactURL hides the credentials a URL-looking string may carry and keeps
// the rest readable: the user and password of its userinfo, the value of
// every query parameter (the names stay) and the fragment each become
// "***", so https://u:pw@idp.example/jwks?sig=abc&v=1 prints as
// https://***:***@idp.example/jwks?sig=***&v=***. A string that is not
// scheme://... is returned unchanged; one that looks like a URL but does not
// parse loses everything between "://" and its last "@", and everything
// after its first "?" or "#".
func RedactURL(s string) string {
	if !urlScheme.MatchString(s) {
		return s
	}
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" {
		scheme, rest, _ := strings.Cut(s, "://")
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			rest = "***@" + rest[at+1:]
		}
		if q := strings.IndexAny(rest, "?#"); q >= 0 {
			rest = rest[:q+1] + "***"
		}
		return scheme + "://" + rest
	}
	userinfo := ""
	if u.User != nil {
		userinfo = "***@"
		if _, ok := u.User.Password(); ok {
			userinfo = "***:***@"
		}
		u.User = nil // url.User would escape the stars
	}
	if u.RawQuery != "" || u.ForceQuery {
		params := strings.Split(u.RawQuery, "&")
		for i, p := range params {
			if name, _, ok := strings.Cut(p, "="); ok {
				params[i] = name + "=***"
			} else if p != "" {
				params[i] = "***" // a bare value (?TOKEN) may be the secret itself
			}
		}
		u.RawQuery = strings.Join(params, "&")
	}
	if u.Fragment != "" || u.RawFragment != "" {
		u.Fragment, u.RawFragment = "***", ""
	}
	out := u.String()
	if userinfo != "" {
		if i := strings.Index(out, "://"); i >= 0 {
			out = out[:i+3] + userinfo + out[i+3:]
		}
	}
	return out
}
