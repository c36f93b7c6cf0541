package gcsproxy

import (
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// This file implements Google's published V4 verification
// (https://cloud.google.com/storage/docs/authentication/signatures), with
// no code shared with providers/gcs or cloud.google.com/go/storage.

const (
	algRSA    = "GOOG4-RSA-SHA256"
	algHMAC   = "GOOG4-HMAC-SHA256"
	isoFormat = "20060102T150405Z"
	maxExpiry = 604800
)

// Check names which verification step rejected a request.
type Check string

const (
	CheckUnsigned     Check = "unsigned"      // no X-Goog-Algorithm: anonymous
	CheckMalformed    Check = "malformed"     // a required query parameter is missing or bad
	CheckCredential   Check = "credential"    // unknown access id or bad scope
	CheckSignedHeader Check = "signed-header" // a signed header is absent from the request
	CheckSignature    Check = "signature"     // the signature does not match the request
	CheckExpired      Check = "expired"       // X-Goog-Date + X-Goog-Expires is past
	CheckNotYetValid  Check = "not-yet-valid" // X-Goog-Date is in the future
	CheckPrecondition Check = "precondition"  // x-goog-if-generation-match: 0 on an existing object (proxy-enforced)
	CheckDigest       Check = "digest"        // Content-MD5 / x-goog-hash differ from the body (proxy-enforced)
	CheckCORS         Check = "cors"          // preflight from an origin that is not allowed
)

// Rejection is a request the proxy refused, answered the way GCS answers.
type Rejection struct {
	Check   Check
	Status  int
	Code    string // GCS XML error code, e.g. SignatureDoesNotMatch
	Message string
	Method  string
	Path    string
	// StringToSign and CanonicalRequest are what the proxy computed, as GCS
	// reports them on SignatureDoesNotMatch.
	StringToSign     string
	CanonicalRequest string
}

func (r *Rejection) Error() string {
	return fmt.Sprintf("%s %s: %d %s (%s): %s", r.Method, r.Path, r.Status, r.Code, r.Check, r.Message)
}

// Keys are the credentials the verifier trusts.
type Keys struct {
	// RSA maps a service account email to its public key.
	RSA map[string]*rsa.PublicKey
	// HMAC maps an HMAC access id to its secret.
	HMAC map[string]string
}

// Verify checks r's V4 query-string signature at time now: parameters,
// credential scope, every signed header, the signature, then expiry. It
// returns nil when GCS would accept the request's authentication.
func Verify(r *http.Request, keys Keys, now time.Time) *Rejection {
	rej := func(c Check, status int, code, format string, args ...any) *Rejection {
		return &Rejection{Check: c, Status: status, Code: code, Message: fmt.Sprintf(format, args...), Method: r.Method, Path: r.URL.Path}
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return rej(CheckMalformed, 400, "InvalidArgument", "query: %v", err)
	}
	if len(q["X-Goog-Algorithm"]) == 0 {
		return rej(CheckUnsigned, 403, "AccessDenied", "Anonymous caller does not have access.")
	}
	one := func(name string) (string, *Rejection) {
		if len(q[name]) != 1 || q[name][0] == "" {
			return "", rej(CheckMalformed, 400, "AuthorizationQueryParametersError", "%s must appear exactly once", name)
		}
		return q[name][0], nil
	}
	var p [6]string
	for i, name := range []string{"X-Goog-Algorithm", "X-Goog-Credential", "X-Goog-Date", "X-Goog-Expires", "X-Goog-SignedHeaders", "X-Goog-Signature"} {
		v, bad := one(name)
		if bad != nil {
			return bad
		}
		p[i] = v
	}
	alg, cred, date, expires, signedHeaders, sigHex := p[0], p[1], p[2], p[3], p[4], p[5]
	if alg != algRSA && alg != algHMAC {
		return rej(CheckMalformed, 400, "AuthorizationQueryParametersError", "unsupported algorithm %q", alg)
	}
	signedAt, err := time.Parse(isoFormat, date)
	if err != nil {
		return rej(CheckMalformed, 400, "AuthorizationQueryParametersError", "X-Goog-Date is not YYYYMMDDTHHMMSSZ")
	}
	exp, err := strconv.Atoi(expires)
	if err != nil || exp < 1 || exp > maxExpiry {
		return rej(CheckMalformed, 400, "AuthorizationQueryParametersError", "X-Goog-Expires must be 1..%d", maxExpiry)
	}
	sig, err := hex.DecodeString(sigHex)
	if err != nil {
		return rej(CheckSignature, 400, "AuthorizationQueryParametersError", "X-Goog-Signature is not hex")
	}

	// Credential: ACCESS_ID/DATE/LOCATION/storage/goog4_request.
	cp := strings.Split(cred, "/")
	if len(cp) < 5 {
		return rej(CheckCredential, 400, "AuthorizationQueryParametersError", "malformed X-Goog-Credential")
	}
	n := len(cp)
	accessID, scopeDate, region, service, term := strings.Join(cp[:n-4], "/"), cp[n-4], cp[n-3], cp[n-2], cp[n-1]
	if scopeDate != date[:8] || region != "auto" || service != "storage" || term != "goog4_request" {
		return rej(CheckCredential, 400, "AuthorizationQueryParametersError", "credential scope %s/%s/%s/%s does not match", scopeDate, region, service, term)
	}
	scope := strings.Join(cp[n-4:], "/")

	// Signed headers: lower-case, sorted, unique, host included.
	names := strings.Split(signedHeaders, ";")
	if !sort.StringsAreSorted(names) || !contains(names, "host") {
		return rej(CheckMalformed, 400, "AuthorizationQueryParametersError", "X-Goog-SignedHeaders must be sorted and include host")
	}
	var canonHeaders strings.Builder
	payload := "UNSIGNED-PAYLOAD"
	for i, name := range names {
		if name != strings.ToLower(name) || name == "" || (i > 0 && names[i-1] == name) {
			return rej(CheckMalformed, 400, "AuthorizationQueryParametersError", "bad signed header name %q", name)
		}
		var value string
		if name == "host" {
			// Both official SDKs sign the host without a port; GCS itself
			// never has one. Strip it so emulator URLs verify.
			value = r.Host
			if h, _, err := net.SplitHostPort(r.Host); err == nil {
				value = h
			}
		} else {
			vals := r.Header.Values(name)
			if len(vals) == 0 {
				return rej(CheckSignedHeader, 403, "SignatureDoesNotMatch", "signed header %q is missing from the request", name)
			}
			for j := range vals {
				vals[j] = strings.Join(strings.Fields(vals[j]), " ")
			}
			value = strings.Join(vals, ",")
		}
		if name == "x-goog-content-sha256" {
			payload = value
		}
		canonHeaders.WriteString(name + ":" + value + "\n")
	}

	canonical := strings.Join([]string{
		r.Method,
		escape(r.URL.Path, true),
		canonicalQuery(q),
		canonHeaders.String(),
		signedHeaders,
		payload,
	}, "\n")
	crHash := sha256.Sum256([]byte(canonical))
	sts := alg + "\n" + date + "\n" + scope + "\n" + hex.EncodeToString(crHash[:])

	switch alg {
	case algRSA:
		pub, ok := keys.RSA[accessID]
		if !ok {
			return rej(CheckCredential, 403, "AccessDenied", "unknown service account")
		}
		stsHash := sha256.Sum256([]byte(sts))
		if rsa.VerifyPKCS1v15(pub, crypto.SHA256, stsHash[:], sig) != nil {
			return mismatch(rej, sts, canonical)
		}
	case algHMAC:
		secret, ok := keys.HMAC[accessID]
		if !ok {
			return rej(CheckCredential, 403, "InvalidAccessKeyId", "unknown HMAC access id")
		}
		key := []byte("GOOG4" + secret)
		for _, part := range []string{scopeDate, region, service, term} {
			key = hmacSHA256(key, part)
		}
		if !hmac.Equal(hmacSHA256(key, sts), sig) {
			return mismatch(rej, sts, canonical)
		}
	}

	if now.After(signedAt.Add(time.Duration(exp) * time.Second)) {
		return rej(CheckExpired, 400, "ExpiredToken", "The provided token has expired. Request signature expired at: %s",
			signedAt.Add(time.Duration(exp)*time.Second).Format(time.RFC3339))
	}
	if signedAt.After(now.Add(15 * time.Minute)) {
		return rej(CheckNotYetValid, 400, "RequestNotYetValid", "X-Goog-Date is in the future")
	}
	return nil
}

func mismatch(rej func(Check, int, string, string, ...any) *Rejection, sts, canonical string) *Rejection {
	r := rej(CheckSignature, 403, "SignatureDoesNotMatch",
		"Access denied. The request signature we calculated does not match the signature you provided. Check your Google secret key and signing method.")
	r.StringToSign, r.CanonicalRequest = sts, canonical
	return r
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// escape is RFC 3986 percent-encoding with upper-case hex, keeping only
// unreserved characters (and '/', in paths).
func escape(s string, path bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 || (path && c == '/') {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// canonicalQuery encodes every parameter but the signature, sorted by
// encoded name and then value.
func canonicalQuery(q url.Values) string {
	type kv struct{ k, v string }
	var all []kv
	for k, vs := range q {
		if k == "X-Goog-Signature" {
			continue
		}
		for _, v := range vs {
			all = append(all, kv{escape(k, false), escape(v, false)})
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].k != all[j].k {
			return all[i].k < all[j].k
		}
		return all[i].v < all[j].v
	})
	parts := make([]string, len(all))
	for i, e := range all {
		parts[i] = e.k + "=" + e.v
	}
	return strings.Join(parts, "&")
}
