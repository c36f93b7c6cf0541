package auth

import (
	"fmt"
	"time"
)

// Config is what an Authenticator checks credentials against: plain data,
// which the gateway fills from its configuration file (core.AuthConfig).
type Config struct {
	JWT       JWTConfig
	APIKeys   []APIKey
	Anonymous AnonymousConfig
}

// JWTConfig verifies bearer JWTs: HS256 with a shared secret, and/or
// RS256/ES256/EdDSA with keys from a JWKS URL or file.
//
// Issuer and Audience, when set, are checked on every JWT. With a JWKS both
// are required (see Check): an identity provider's keys sign the tokens of
// all its applications (and, for multi-tenant IdPs, of all its tenants), so
// a JWKS alone does not say a token was meant for Valet. AnyAudience and
// AnyIssuer are the explicit opt-outs.
type JWTConfig struct {
	// HS256Secret is the HS256 key; HS256Secrets, when set, replaces it
	// with several: the first signs (MintDevToken), every one verifies,
	// which is how a key is rotated without logging everyone out.
	HS256Secret  string
	HS256Secrets []string
	JWKSURL      string
	JWKSFile     string
	// JWKSRefresh is how often the JWKS at JWKSURL is fetched again, and the
	// longest a key set is trusted whatever the IdP's cache headers say
	// (0 = DefaultJWKSRefresh).
	JWKSRefresh time.Duration
	Issuer      string
	AnyIssuer   bool
	Audience    string
	AnyAudience bool
	Leeway      time.Duration
}

// UsesJWKS reports whether tokens may be verified with JWKS keys.
func (j JWTConfig) UsesJWKS() bool { return j.JWKSURL != "" || j.JWKSFile != "" }

// hs256Keys returns the HS256 keys, the signing one first.
func (j JWTConfig) hs256Keys() [][]byte {
	list := j.HS256Secrets
	if len(list) == 0 && j.HS256Secret != "" {
		list = []string{j.HS256Secret}
	}
	var out [][]byte
	for _, s := range list {
		if s != "" {
			out = append(out, []byte(s))
		}
	}
	return out
}

// JWKS refresh bounds: JWKSMinRefresh is the shortest interval between
// scheduled fetches of a JWKS URL (so a Cache-Control: max-age=0 cannot make
// Valet hammer the IdP), DefaultJWKSRefresh the longest by default.
const (
	JWKSMinRefresh     = time.Minute
	DefaultJWKSRefresh = 15 * time.Minute
)

// APIKey maps a static key, stored only as its sha256, to a subject.
type APIKey struct {
	// SHA256 is the lower-case hex sha256 of the full key (e.g. "vk_...").
	SHA256  string
	Subject string
	Claims  map[string]any
}

// AnonymousConfig allows requests without credentials.
type AnonymousConfig struct {
	Enabled bool
	Subject string
}

// Check reports what New would refuse about the claims that tie a token to
// Valet: with a JWKS, the audience and the issuer are required unless
// waived, and a waiver cannot come with a value. Each error names its config
// key (auth.jwt.audience, ...).
func (c Config) Check() []error {
	j := c.JWT
	var errs []error
	for _, x := range []struct {
		key, optOut, claim, value, why string
		any                            bool
	}{
		{"auth.jwt.audience", "auth.jwt.any_audience", "aud", j.Audience, "an identity provider's keys also sign the tokens it mints for its other applications", j.AnyAudience},
		{"auth.jwt.issuer", "auth.jwt.any_issuer", "iss", j.Issuer, "one JWKS may serve several issuers, such as the tenants of an identity provider", j.AnyIssuer},
	} {
		switch {
		case x.value != "" && x.any:
			errs = append(errs, fmt.Errorf("%s: set together with %s; use one", x.optOut, x.key))
		case x.value == "" && !x.any && j.UsesJWKS():
			errs = append(errs, fmt.Errorf("%s: required with auth.jwt.jwks_url or auth.jwt.jwks_file (%s); set it, or set %s: true to accept tokens whatever their %s claim",
				x.key, x.why, x.optOut, x.claim))
		}
	}
	return errs
}
