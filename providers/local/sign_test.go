package local

import (
	"net/url"
	"testing"
	"time"
)

// Fixed vectors: a change in the signing encoding must be deliberate (and
// bump the version), since URLs already handed out stop working. Vector 1
// was also computed independently (Python hmac) from the documented format.
func TestSignVectors(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := signer{secret: []byte("0123456789abcdef"), now: func() time.Time { return at }}
	for _, tc := range []struct {
		method, key string
		q           url.Values
		want        string
	}{
		{"GET", "a/b.txt", url.Values{}, "exp=1767326645000&sig=" + "dR0mXovPq1mqTWpPtlIXw3-ahp3dI8jGfVEwRbVNsMM" + "&v=1"},
		{"PUT", "users/ann/clip.mp4", url.Values{pType: {"video/mp4"}, pLength: {"1048576"}, pSHA256: {"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}, pCreateOnly: {"1"}},
			"create_only=1&ct=video%2Fmp4&exp=1767326645000&len=1048576&sha256=47DEQpj8HBSa%2B%2FTImW%2B5JCeuQeRkm5NMpJWZG3hSuFU%3D&sig=" + "y7Dr1yJunOUNxbHwy77CjBA9vl20Ey_9-ZJHoKNc_yI" + "&v=1"},
	} {
		got, exp := s.sign(tc.method, tc.key, time.Hour, tc.q)
		if got != tc.want {
			t.Errorf("sign(%s %s) = %s\nwant %s", tc.method, tc.key, got, tc.want)
		}
		if !exp.Equal(at.Add(time.Hour)) {
			t.Errorf("expiry %s, want %s", exp, at.Add(time.Hour))
		}
		q, _ := url.ParseQuery(got)
		if ve := s.verify(tc.method, tc.key, q); ve != nil {
			t.Errorf("verify of a fresh signature: %+v", ve)
		}
	}
}

func TestVerify(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := signer{secret: []byte("0123456789abcdef"), now: func() time.Time { return now }}
	raw, _ := s.sign("PUT", "k", time.Minute, url.Values{pType: {"text/plain"}, pLength: {"3"}})
	good, _ := url.ParseQuery(raw)
	mod := func(f func(q url.Values)) url.Values {
		q := url.Values{}
		for k, v := range good {
			q[k] = append([]string(nil), v...)
		}
		f(q)
		return q
	}
	for _, tc := range []struct {
		name, method, key string
		q                 url.Values
		now               time.Time
		code              string
	}{
		{"ok", "PUT", "k", good, now, ""},
		{"just before expiry", "PUT", "k", good, now.Add(time.Minute - time.Millisecond), ""},
		{"at expiry", "PUT", "k", good, now.Add(time.Minute), "RequestExpired"},
		{"wrong method", "GET", "k", good, now, "SignatureDoesNotMatch"},
		{"wrong key", "PUT", "k2", good, now, "SignatureDoesNotMatch"},
		{"changed length", "PUT", "k", mod(func(q url.Values) { q.Set(pLength, "4") }), now, "SignatureDoesNotMatch"},
		{"dropped type", "PUT", "k", mod(func(q url.Values) { q.Del(pType) }), now, "SignatureDoesNotMatch"},
		{"added param", "PUT", "k", mod(func(q url.Values) { q.Set(pCreateOnly, "1") }), now, "SignatureDoesNotMatch"},
		{"extended expiry", "PUT", "k", mod(func(q url.Values) { q.Set(pExpires, "99999999999999") }), now, "SignatureDoesNotMatch"},
		{"repeated param", "PUT", "k", mod(func(q url.Values) { q.Add(pLength, "3") }), now, "SignatureDoesNotMatch"},
		{"no signature", "PUT", "k", mod(func(q url.Values) { q.Del(pSignature) }), now, "MissingSignature"},
		{"garbage signature", "PUT", "k", mod(func(q url.Values) { q.Set(pSignature, "!!") }), now, "SignatureDoesNotMatch"},
		{"future version", "PUT", "k", mod(func(q url.Values) { q.Set(pVersion, "2") }), now, "UnsupportedSignatureVersion"},
	} {
		s := signer{secret: s.secret, now: func() time.Time { return tc.now }}
		ve := s.verify(tc.method, tc.key, tc.q)
		switch {
		case tc.code == "" && ve != nil:
			t.Errorf("%s: refused: %+v", tc.name, ve)
		case tc.code != "" && (ve == nil || ve.code != tc.code):
			t.Errorf("%s: got %+v, want %s", tc.name, ve, tc.code)
		}
	}
	// A different secret never verifies.
	other := signer{secret: []byte("fedcba9876543210"), now: s.now}
	if ve := other.verify("PUT", "k", good); ve == nil || ve.code != "SignatureDoesNotMatch" {
		t.Errorf("other secret: %+v", ve)
	}
}
