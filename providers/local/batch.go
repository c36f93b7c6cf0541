package local

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/valetgw/valet/providers"
)

// SignGets implements providers.GetSigner natively: one pass over the
// batch that reads the configuration and the clock once and reuses one
// HMAC state and one buffer for every URL, where SignGet builds a
// url.Values, sorts it twice and keys a fresh HMAC per key. Every item is
// the URL SignGet makes for its request at the same instant, byte for
// byte, or the error SignGet gives it (batch_test.go checks both).
func (p *Provider) SignGets(_ context.Context, req providers.SignGetsRequest) (providers.SignGetsResult, error) {
	if n := len(req.Requests); n > providers.MaxSignGets {
		return providers.SignGetsResult{}, providers.Errorf(providers.InvalidArgument, "%d requests in one SignGets, more than %d", n, providers.MaxSignGets)
	}
	items := make([]providers.SignGetItem, len(req.Requests))
	if len(items) == 0 {
		return providers.SignGetsResult{Items: items}, nil
	}
	in, err := p.instance()
	if err != nil {
		for i := range items {
			items[i].Err = providers.AsError(err)
		}
		return providers.SignGetsResult{Items: items}, nil
	}
	b := newBatchSigner(in)
	for i, r := range req.Requests {
		rec, err := b.signGet(r)
		if err != nil {
			items[i].Err = providers.AsError(err)
			continue
		}
		items[i].Recipe = rec
	}
	return providers.SignGetsResult{Items: items}, nil
}

// batchSigner signs many GET URLs of one instance at one instant.
type batchSigner struct {
	in   *instance
	now  time.Time
	mac  hash.Hash // keyed once; Reset between URLs
	base string    // in.base.String() + "/o/"
	buf  []byte    // the string to sign, then the URL
	sum  []byte
	ms   []byte // the expiry, Unix milliseconds in decimal
}

func newBatchSigner(in *instance) *batchSigner {
	return &batchSigner{
		in:   in,
		now:  in.sign.now(),
		mac:  hmac.New(sha256.New, in.sign.secret),
		base: in.base.String() + "/o/",
		buf:  make([]byte, 0, 512),
		sum:  make([]byte, 0, sha256.Size),
		ms:   make([]byte, 0, 20),
	}
}

// signGet is SignGet for r: the same checks in the same order, and the
// URL sign and url build, without the url.Values.
func (b *batchSigner) signGet(r providers.GetRequest) (providers.Recipe, error) {
	if !keyMaps(r.Key) {
		_, err := keyPath(r.Key) // its error, for a key it refuses
		return providers.Recipe{}, err
	}
	if err := b.in.checkTTL(r.TTL); err != nil {
		return providers.Recipe{}, err
	}
	ct, cd := r.ResponseContentType, r.ResponseContentDisposition
	if ct != "" {
		if err := checkType("response content type", ct); err != nil {
			return providers.Recipe{}, err
		}
	}
	if cd != "" && (!headerSafe(cd) || len(cd) > 1024) {
		return providers.Recipe{}, providers.Errorf(providers.InvalidArgument, "response content disposition is not a valid header value")
	}
	exp := b.now.Add(r.TTL).Truncate(time.Millisecond)
	b.ms = strconv.AppendInt(b.ms[:0], exp.UnixMilli(), 10)
	ms := b.ms

	// The string macWith signs: the method, the key, then every parameter
	// but sig sorted by name (exp < response-content-disposition <
	// response-content-type < v).
	s := append(b.buf[:0], sigPrefix...)
	s = appendField(s, http.MethodGet)
	s = appendField(s, r.Key)
	s = appendField(appendField(s, pExpires), string(ms)) // no copy: appended at once
	if cd != "" {
		s = appendField(appendField(s, pRespDisp), cd)
	}
	if ct != "" {
		s = appendField(appendField(s, pRespType), ct)
	}
	s = appendField(appendField(s, pVersion), sigVersion)
	b.mac.Reset()
	b.mac.Write(s)
	b.sum = b.mac.Sum(b.sum[:0])

	// The URL url() builds, its query as url.Values.Encode writes it:
	// names sorted, names and values query-escaped.
	u := append(s[:0], b.base...)
	u = appendKeyPath(u, r.Key)
	u = append(u, "?"+pExpires+"="...)
	u = append(u, ms...)
	if cd != "" {
		u = append(u, "&"+pRespDisp+"="...)
		u = append(u, url.QueryEscape(cd)...)
	}
	if ct != "" {
		u = append(u, "&"+pRespType+"="...)
		u = append(u, url.QueryEscape(ct)...)
	}
	u = append(u, "&"+pSignature+"="...)
	u = base64.RawURLEncoding.AppendEncode(u, b.sum)
	u = append(u, "&"+pVersion+"="+sigVersion...)
	b.buf = u
	return providers.Recipe{
		Method:    http.MethodGet,
		URL:       string(u),
		Headers:   map[string]string{},
		ExpiresAt: exp,
	}, nil
}

// appendField appends field(v) of the signed string: len(v), ":", v, "\n".
func appendField(b []byte, v string) []byte {
	b = strconv.AppendInt(b, int64(len(v)), 10)
	b = append(b, ':')
	b = append(b, v...)
	return append(b, '\n')
}

// appendKeyPath appends key with each "/"-separated segment path-escaped,
// as url() joins them.
func appendKeyPath(b []byte, key string) []byte {
	for start := 0; ; {
		end := start
		for end < len(key) && key[end] != '/' {
			end++
		}
		if seg := key[start:end]; needsPathEscape(seg) {
			b = append(b, url.PathEscape(seg)...)
		} else {
			b = append(b, seg...)
		}
		if end == len(key) {
			return b
		}
		b = append(b, '/')
		start = end + 1
	}
}

// needsPathEscape is false when url.PathEscape would return s unchanged;
// it is conservative (true for anything but unreserved bytes).
func needsPathEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		if !keep(s[i]) {
			return true
		}
	}
	return false
}

// keyMaps reports whether keyPath accepts key (it refuses only these),
// without building the path: not empty, at most maxKey bytes, no NUL, and
// no empty, "." or ".." segment.
func keyMaps(key string) bool {
	if key == "" || len(key) > maxKey || strings.IndexByte(key, 0) >= 0 {
		return false
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}
