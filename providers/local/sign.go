package local

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// Signed URLs look like
//
//	{public_url}/o/{key}?v=1&exp=1767225600000&ct=video%2Fmp4&len=1048576&sig=...
//
// The signature is HMAC-SHA256, keyed by the store secret, over the string
//
//	"valet-local-v1\n" + field(method) + field(key) + for each query
//	parameter but sig, sorted by name: field(name) + field(value)
//
// where field(s) is len(s) in decimal, ":", s, "\n", so no choice of values
// can make two different requests sign the same string. Everything a URL
// binds is a query parameter, so every parameter is signed and adding,
// removing or changing any of them breaks the signature. "v" names the
// encoding, so it can change without old URLs being misread.
const (
	sigVersion = "1"
	sigPrefix  = "valet-local-v1\n"
)

// Query parameters of a signed URL.
const (
	pVersion     = "v"
	pExpires     = "exp" // Unix milliseconds
	pLength      = "len"
	pType        = "ct"
	pSHA256      = "sha256" // base64 of the raw digest
	pCreateOnly  = "create_only"
	pRespType    = "response-content-type"
	pRespDisp    = "response-content-disposition"
	pUpload      = "upload"
	pPart        = "part"
	pMetaPrefix  = "meta-"
	pSignature   = "sig"
	maxMetaBytes = 2048 // total user metadata, as S3 allows
)

// signer makes and checks signatures. now is injectable for test vectors.
type signer struct {
	secret []byte
	// older are secrets being rotated out: URLs they signed still verify.
	older [][]byte
	now   func() time.Time
}

func (s signer) mac(method, key string, q url.Values) []byte {
	return macWith(s.secret, method, key, q)
}

// verifies reports whether sig is the MAC of the request under the signing
// secret or one of the older ones.
func (s signer) verifies(sig []byte, method, key string, q url.Values) bool {
	if hmac.Equal(sig, s.mac(method, key, q)) {
		return true
	}
	for _, o := range s.older {
		if hmac.Equal(sig, macWith(o, method, key, q)) {
			return true
		}
	}
	return false
}

func macWith(secret []byte, method, key string, q url.Values) []byte {
	// The signed string is built in one buffer and hashed with one Write:
	// writing each piece to the hash converted and allocated every one.
	var nameBuf [16]string
	names := nameBuf[:0]
	for n := range q {
		if n != pSignature {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	b := append(make([]byte, 0, 512), sigPrefix...)
	b = appendField(b, method)
	b = appendField(b, key)
	for _, n := range names {
		b = appendField(b, n)
		b = appendField(b, q.Get(n))
	}
	m := hmac.New(sha256.New, secret)
	m.Write(b)
	return m.Sum(nil)
}

// sign adds v, exp and sig to q and returns the URL's query and expiry.
func (s signer) sign(method, key string, ttl time.Duration, q url.Values) (string, time.Time) {
	exp := s.now().Add(ttl).Truncate(time.Millisecond)
	q.Set(pVersion, sigVersion)
	q.Set(pExpires, strconv.FormatInt(exp.UnixMilli(), 10))
	q.Set(pSignature, base64.RawURLEncoding.EncodeToString(s.mac(method, key, q)))
	return q.Encode(), exp
}

// verifyError is why a signed request was refused.
type verifyError struct {
	status  int
	code    string
	message string
}

// verify checks a request's signature and expiry. The signature is checked
// first and in constant time, so an expired URL says "expired" only when it
// was genuine.
func (s signer) verify(method, key string, q url.Values) *verifyError {
	sig := q.Get(pSignature)
	if sig == "" {
		return &verifyError{403, "MissingSignature", "this URL is not signed; ask the gateway for a signed URL"}
	}
	for n, vs := range q {
		if len(vs) != 1 {
			return &verifyError{403, "SignatureDoesNotMatch", "query parameter " + strconv.Quote(n) + " is repeated"}
		}
	}
	if q.Get(pVersion) != sigVersion {
		return &verifyError{403, "UnsupportedSignatureVersion", "signature version " + strconv.Quote(q.Get(pVersion)) + " is not supported"}
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !s.verifies(got, method, key, q) {
		return &verifyError{403, "SignatureDoesNotMatch",
			"the signature does not match this request's method, key and parameters"}
	}
	exp, err := strconv.ParseInt(q.Get(pExpires), 10, 64)
	if err != nil {
		return &verifyError{403, "SignatureDoesNotMatch", "bad expiry"}
	}
	if !s.now().Before(time.UnixMilli(exp)) {
		return &verifyError{403, "RequestExpired", "this URL expired at " + time.UnixMilli(exp).UTC().Format(time.RFC3339)}
	}
	return nil
}

func base64Std(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }
