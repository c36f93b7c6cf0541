package providertest

import (
	"net/url"
	"strings"
	"testing"
)

// Helpers that break a signed URL on purpose, the way the suite does, for
// a provider's own tests of what its backend rejects.

// SignatureParam names the query parameter of a signed URL that carries its
// signature: one whose name mentions "sig" (X-Amz-Signature,
// X-Goog-Signature, sig), else the one with the longest value.
func SignatureParam(t testing.TB, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("recipe URL: %v", err)
	}
	q := u.Query()
	best := ""
	for name, vs := range q {
		if strings.Contains(strings.ToLower(name), "sig") && len(vs) > 0 && vs[0] != "" {
			return name
		}
		if best == "" || len(vs[0]) > len(q.Get(best)) || (len(vs[0]) == len(q.Get(best)) && name < best) {
			best = name
		}
	}
	if best == "" {
		t.Fatalf("recipe URL %s has no query parameter to tamper with", Redact(raw))
	}
	return best
}

// TamperSignature changes one character of a signed URL's signature (see
// SignatureParam and FlipChar) and keeps the rest of it exact: a request
// to the result must be rejected.
func TamperSignature(t testing.TB, raw string) string {
	t.Helper()
	return TamperQuery(t, raw, SignatureParam(t, raw), FlipChar)
}

// TamperQuery rewrites one query parameter's value with f, or removes the
// parameter when f is nil. The rest of the query keeps its exact encoding.
func TamperQuery(t testing.TB, raw, name string, f func(string) string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("recipe URL: %v", err)
	}
	found := editQuery(u, func(k, v string) (string, bool) {
		if dk, err := url.QueryUnescape(k); err != nil || dk != name {
			return "", false
		}
		if f == nil {
			return "", true
		}
		dv, err := url.QueryUnescape(v)
		if err != nil {
			t.Fatalf("query value of %s: %v", name, err)
		}
		return k + "=" + url.QueryEscape(f(dv)), true
	})
	if !found {
		t.Fatalf("query parameter %q not found", name)
	}
	return u.String()
}

// FlipChar changes one character in the middle of s to a different one of
// the same kind, so the value stays well-formed (hex stays hex, base64 stays
// base64) and only its meaning changes.
func FlipChar(s string) string {
	if s == "" {
		return "x"
	}
	b := []byte(s)
	i := len(b) / 2
	for j := i; j < len(b); j++ {
		if isAlnum(b[j]) {
			i = j
			break
		}
	}
	switch {
	case b[i] == '0':
		b[i] = '1'
	case b[i] >= '1' && b[i] <= '9':
		b[i] = '0'
	case b[i] == 'a':
		b[i] = 'b'
	case b[i] == 'A':
		b[i] = 'B'
	case b[i] >= 'a' && b[i] <= 'z':
		b[i] = 'a'
	case b[i] >= 'A' && b[i] <= 'Z':
		b[i] = 'A'
	default:
		b[i] = 'A'
	}
	return string(b)
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// replaceQueryValue replaces the query parameter whose decoded value is old.
func replaceQueryValue(raw, old, repl string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", false
	}
	found := editQuery(u, func(k, v string) (string, bool) {
		if dv, err := url.QueryUnescape(v); err != nil || dv != old {
			return "", false
		}
		return k + "=" + url.QueryEscape(repl), true
	})
	return u.String(), found
}

// editQuery offers each name=value pair of u's query, still encoded, to
// edit until edit reports a match; the matched pair becomes what edit
// returns, or is dropped when that is "". Every other pair keeps its exact
// encoding. It reports whether a pair matched.
func editQuery(u *url.URL, edit func(k, v string) (string, bool)) bool {
	var out []string
	found := false
	for _, kv := range strings.Split(u.RawQuery, "&") {
		if !found {
			k, v, _ := strings.Cut(kv, "=")
			if repl, ok := edit(k, v); ok {
				found = true
				if repl == "" {
					continue
				}
				kv = repl
			}
		}
		out = append(out, kv)
	}
	u.RawQuery = strings.Join(out, "&")
	return found
}

// RetargetKey points a signed URL at another key by replacing the last
// occurrence of from with to in the URL's path, leaving the query as signed.
func RetargetKey(t testing.TB, raw, from, to string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("recipe URL: %v", err)
	}
	p := u.EscapedPath()
	i := strings.LastIndex(p, from)
	if i < 0 {
		t.Fatalf("key segment %q not found in the URL path %q", from, p)
	}
	np := p[:i] + to + p[i+len(from):]
	dp, err := url.PathUnescape(np)
	if err != nil {
		t.Fatalf("path: %v", err)
	}
	u.Path, u.RawPath = dp, np
	return u.String()
}
