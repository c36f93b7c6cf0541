package config

import (
	"errors"
	"fmt"
	"mime"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

var (
	storeName  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	pluginName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	sha256Hex  = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// MinSecretBytes is the shortest accepted HS256 or token secret.
const MinSecretBytes = 32

// Validate checks the whole configuration's syntax: required keys, ranges,
// URLs, secrets. All problems are returned together, each naming its key.
// Key templates and rules are compiled by the gateway (core.Check), which
// knows their language.
func (c *Config) Validate() error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}

	// server
	if c.Server.Listen == "" {
		add("server.listen", "required (e.g. \":8080\")")
	}
	if u := c.Server.PublicURL; u != "" {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			add("server.public_url", "must be an absolute http(s) URL, got %q", RedactURL(u))
		}
	}
	for i, o := range c.Server.CORSOrigins {
		if o == "*" {
			continue
		}
		if p, err := url.Parse(o); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || (p.Path != "" && p.Path != "/") || p.RawQuery != "" {
			add(fmt.Sprintf("server.cors_origins[%d]", i), "must be an origin like https://app.example.com, got %q", RedactURL(o))
		}
	}
	if l := c.Server.LogLevel; l != "" && !slices.Contains(LogLevels, l) {
		add("server.log_level", "must be one of %s, got %q", strings.Join(LogLevels, ", "), l)
	}
	if c.Server.ShutdownTimeout < 0 {
		add("server.shutdown_timeout", "must not be negative")
	}
	if c.Server.ProviderTimeout <= 0 {
		add("server.provider_timeout", "must be positive")
	}
	if c.Server.CompleteTimeout <= 0 {
		add("server.complete_timeout", "must be positive")
	}
	if a := c.Server.AdminListen; a != "" {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
			add("server.admin_listen", "must be host:port or :port (e.g. \"127.0.0.1:9090\"), got %q", a)
		} else if a == c.Server.Listen {
			add("server.admin_listen", "must differ from server.listen (%q): the admin listener keeps /metrics and pprof off the public API", a)
		}
	}
	if n := c.Server.Companion.Cookie; n != "" && !validCookieName(n) {
		add("server.companion.cookie", "must be a cookie name (letters, digits and !#$%%&'*+-.^_`|~), got %q", n)
	}

	// auth
	j := c.Auth.JWT
	if j.HS256Secret != "" && len(j.HS256Secret) < MinSecretBytes {
		add("auth.jwt.hs256_secret", "must be at least %d bytes", MinSecretBytes)
	}
	checkSecretList(add, "auth.jwt.hs256_secrets", j.HS256Secret, j.HS256Secrets)
	if j.JWKSURL != "" && j.JWKSFile != "" {
		add("auth.jwt.jwks_url", "set together with auth.jwt.jwks_file; use one")
	}
	if u := j.JWKSURL; u != "" {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			add("auth.jwt.jwks_url", "must be an absolute http(s) URL")
		}
	}
	if j.Leeway < 0 || j.Leeway > 5*time.Minute {
		add("auth.jwt.leeway", "must be between 0 and 5m, got %s", j.Leeway)
	}
	if j.JWKSRefresh < JWKSMinRefresh || j.JWKSRefresh > MaxJWKSRefresh {
		add("auth.jwt.jwks_refresh", "must be between %s and %s, got %s", JWKSMinRefresh, MaxJWKSRefresh, j.JWKSRefresh)
	}
	seen := map[string]bool{}
	for i, k := range c.Auth.APIKeys {
		key := fmt.Sprintf("auth.api_keys[%d]", i)
		h := strings.ToLower(k.SHA256)
		c.Auth.APIKeys[i].SHA256 = h
		if !sha256Hex.MatchString(h) {
			add(key+".sha256", "must be 64 hex digits (sha256 of the key)")
		} else if seen[h] {
			add(key+".sha256", "duplicate key")
		}
		seen[h] = true
		if k.Subject == "" {
			add(key+".subject", "required")
		}
	}
	if c.Auth.Anonymous.Enabled && c.Auth.Anonymous.Subject == "" {
		add("auth.anonymous.subject", "required when anonymous access is enabled")
	}
	if len(j.HS256Keys()) == 0 && j.JWKSURL == "" && j.JWKSFile == "" && len(c.Auth.APIKeys) == 0 && !c.Auth.Anonymous.Enabled {
		add("auth", "no way to authenticate: set auth.jwt.hs256_secret(_file), auth.jwt.jwks_url, auth.jwt.jwks_file, auth.api_keys or auth.anonymous.enabled")
	}

	// tokens
	switch {
	case len(c.Tokens.Keys()) == 0:
		add("tokens.secret", "required (or tokens.secret_file, tokens.secrets, or VALET_TOKENS__SECRET): it seals upload ids")
	case c.Tokens.Secret != "" && len(c.Tokens.Secret) < MinSecretBytes:
		add("tokens.secret", "must be at least %d bytes", MinSecretBytes)
	}
	checkSecretList(add, "tokens.secrets", c.Tokens.Secret, c.Tokens.Secrets)

	// plugins
	for name, pin := range c.Plugins.Pins {
		if !sha256Hex.MatchString(strings.ToLower(pin)) {
			add("plugins.pins."+name, "must be 64 hex digits (sha256 of the plugin binary)")
		}
	}

	// stores
	if len(c.Stores) == 0 {
		add("stores", "at least one store is required")
	}
	for _, name := range c.StoreNames() {
		s := c.Stores[name]
		errs = append(errs, s.validate(name)...)
	}
	errs = append(errs, c.validateHooks()...)
	return errors.Join(errs...)
}

func (s StoreConfig) validate(name string) []error {
	var errs []error
	p := "stores." + name
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", p, key, fmt.Sprintf(format, args...)))
	}
	if !storeName.MatchString(name) {
		errs = append(errs, fmt.Errorf("%s: store names are lower-case letters, digits, '-' and '_' (at most 63)", p))
	}
	if s.Provider == "" {
		add("provider", "required (local, s3, minio, gcs, azure or a plugin name)")
	} else if !pluginName.MatchString(s.Provider) {
		add("provider", "invalid provider name %q", s.Provider)
	}
	l := s.Limits
	if l.MaxSize < 0 {
		add("limits.max_size", "must not be negative")
	}
	for i, ct := range l.ContentTypes {
		if err := checkTypePattern(ct); err != nil {
			add(fmt.Sprintf("limits.content_types[%d]", i), "%v", err)
		}
	}
	for _, x := range []struct {
		key string
		v   Duration
	}{{"put_ttl", l.PutTTL}, {"get_ttl", l.GetTTL}, {"delete_ttl", l.DeleteTTL}} {
		if x.v < time.Second {
			add("limits."+x.key, "must be at least 1s, got %s (write a unit, e.g. 15m)", x.v)
		} else if x.v > l.MaxTTL {
			add("limits."+x.key, "%s is above limits.max_ttl (%s)", x.v, l.MaxTTL)
		}
	}
	if l.MaxTTL < time.Second || l.MaxTTL > 7*24*time.Hour {
		add("limits.max_ttl", "must be between 1s and 168h, got %s", l.MaxTTL)
	}
	if l.PlaybackTTL < time.Second || l.PlaybackTTL > 7*24*time.Hour {
		add("limits.playback_ttl", "must be between 1s and 168h, got %s", l.PlaybackTTL)
	}
	if l.UploadTTL < time.Second {
		add("limits.upload_ttl", "must be at least 1s, got %s", l.UploadTTL)
	}
	if l.MultipartThreshold < 1 {
		add("limits.multipart_threshold", "must be positive")
	}
	if l.PartSize < 1 {
		add("limits.part_size", "must be positive")
	}
	if l.MaxBatch < 1 || l.MaxBatch > MaxBatchLimit {
		add("limits.max_batch", "must be between 1 and %d, got %d", MaxBatchLimit, l.MaxBatch)
	}
	return errs
}

func checkTypePattern(p string) error {
	if p == "*" || p == "*/*" {
		return nil
	}
	typ, sub, ok := strings.Cut(p, "/")
	if !ok || typ == "" || sub == "" || typ == "*" {
		return fmt.Errorf("want type/subtype, type/* or */*, got %q", p)
	}
	if sub == "*" {
		p = typ + "/x"
	}
	if _, _, err := mime.ParseMediaType(p); err != nil {
		return fmt.Errorf("invalid media type %q", p)
	}
	return nil
}

// validCookieName reports whether n is an RFC 6265 cookie name (an HTTP
// token).
func validCookieName(n string) bool {
	for _, r := range n {
		if r > 0x7e || r <= ' ' || strings.ContainsRune("()<>@,;:\\\"/[]?={}", r) {
			return false
		}
	}
	return n != ""
}

// checkSecretList checks a list form of a secret (tokens.secrets,
// auth.jwt.hs256_secrets): not beside the single form, and every entry at
// least MinSecretBytes long and listed once.
func checkSecretList(add func(key, format string, args ...any), key, single string, list []string) {
	if len(list) > 0 && single != "" {
		add(key, "set together with %s; use one", strings.TrimSuffix(key, "s"))
	}
	seen := map[string]bool{}
	for i, v := range list {
		switch {
		case len(v) < MinSecretBytes:
			add(fmt.Sprintf("%s[%d]", key, i), "must be at least %d bytes", MinSecretBytes)
		case seen[v]:
			add(fmt.Sprintf("%s[%d]", key, i), "listed twice")
		}
		seen[v] = true
	}
}
