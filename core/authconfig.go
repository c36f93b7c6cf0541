package core

import (
	"time"

	"github.com/valetgw/valet/config"
	"github.com/valetgw/valet/core/auth"
)

// AuthConfig is the authenticator's part of a configuration, with secrets
// already read from their files.
func AuthConfig(c config.AuthConfig) auth.Config {
	j := c.JWT
	out := auth.Config{
		JWT: auth.JWTConfig{
			HS256Secrets: j.HS256Keys(), JWKSURL: j.JWKSURL, JWKSFile: j.JWKSFile, JWKSRefresh: j.JWKSRefresh,
			Issuer: j.Issuer, AnyIssuer: j.AnyIssuer, Audience: j.Audience, AnyAudience: j.AnyAudience, Leeway: j.Leeway,
		},
		Anonymous: auth.AnonymousConfig{Enabled: c.Anonymous.Enabled, Subject: c.Anonymous.Subject},
	}
	for _, k := range c.APIKeys {
		out.APIKeys = append(out.APIKeys, auth.APIKey{SHA256: k.SHA256, Subject: k.Subject, Claims: k.Claims})
	}
	return out
}

// MintDevToken mints an HS256 token that the gateway for cfg accepts
// (`valet token`).
func MintDevToken(cfg *config.Config, subject string, claims map[string]any, ttl time.Duration) (string, error) {
	return auth.MintDevToken(AuthConfig(cfg.Auth), subject, claims, ttl)
}

// tokenSecrets are tokens.secret's keys as bytes, the sealing one first.
func tokenSecrets(cfg *config.Config) [][]byte {
	var out [][]byte
	for _, s := range cfg.Tokens.Keys() {
		out = append(out, []byte(s))
	}
	return out
}
