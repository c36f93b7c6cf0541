// Package config loads, validates and prints Valet's configuration.
//
// Layers, lowest first: built-in defaults < the YAML file < VALET_
// environment variables ("__" nests: VALET_SERVER__LISTEN) < command-line
// flags. Unknown keys are errors, sizes ("10GiB") and durations ("15m") are
// parsed, and every validation error names its key (for example
// "stores.media.limits.max_size: ..."). Secrets may be inline, read from a
// *_file, or come from the environment; Redacted never prints them.
//
// The top-level hooks block is every store's default webhook; Load merges
// it into each store's hooks (see HooksConfig), and Validate checks the
// URL, the whsec_ secrets, the events and the timeout.
//
// Loading compiles each store's rules and key template, so a bad rule fails
// `valet config check` with its position. The package never contacts a
// provider.
package config

import (
	"time"
)

// Duration is a time.Duration; in YAML and the environment it is written
// like "15m" or "1h30m".
type Duration = time.Duration

// Config is the whole configuration.
type Config struct {
	Server  ServerConfig           `koanf:"server"`
	Auth    AuthConfig             `koanf:"auth"`
	Tokens  TokensConfig           `koanf:"tokens"`
	Plugins PluginsConfig          `koanf:"plugins"`
	Stores  map[string]StoreConfig `koanf:"stores"`
	Demo    DemoConfig             `koanf:"demo"`
	// Hooks is every store's default webhook (see HooksConfig).
	Hooks HooksConfig `koanf:"hooks"`
}

// ServerConfig is the HTTP listener.
type ServerConfig struct {
	Listen    string `koanf:"listen"`
	PublicURL string `koanf:"public_url"`
	// CORSOrigins may call the API from a browser ("*" allows any origin).
	CORSOrigins     []string `koanf:"cors_origins"`
	ShutdownTimeout Duration `koanf:"shutdown_timeout"`
	// ProviderTimeout bounds the provider calls of one API request; a
	// provider that does not answer in time gives 504 provider_timeout.
	ProviderTimeout Duration `koanf:"provider_timeout"`
	// CompleteTimeout replaces it for completing an upload, which may
	// assemble thousands of parts.
	CompleteTimeout Duration `koanf:"complete_timeout"`
	// AdminListen, when set, is a second listener (e.g. "127.0.0.1:9090")
	// for operators: /metrics and the Go profiler (/debug/pprof/). The
	// public listener then no longer serves /metrics.
	AdminListen string `koanf:"admin_listen"`
	// Companion configures the Companion-compatible routes for
	// @uppy/aws-s3 (/companion/{store}/s3/...).
	Companion CompanionConfig `koanf:"companion"`
	// LogLevel is the least severe level the gateway logs: debug, info
	// (the default), warn or error. It applies to the gateway's own lines
	// and to the plugins' lines it relays, and is read at start.
	LogLevel string `koanf:"log_level"`
}

// LogLevels are the accepted values of server.log_level, least severe first.
var LogLevels = []string{"debug", "info", "warn", "error"}

// CompanionConfig configures the Companion-compatible routes.
type CompanionConfig struct {
	// Cookie names the cookie whose value is the caller's JWT on those
	// routes, for pages that cannot send Authorization (@uppy/aws-s3 sends
	// no headers). "" reads no cookie.
	Cookie string `koanf:"cookie"`
}

// AuthConfig says who may call the API.
type AuthConfig struct {
	JWT       JWTConfig       `koanf:"jwt"`
	APIKeys   []APIKey        `koanf:"api_keys"`
	Anonymous AnonymousConfig `koanf:"anonymous"`
	// QueryAccessToken accepts the credential of GET .../objects/KEY in
	// an access_token query parameter as well (off by default: a JWT in a
	// URL lands in histories, logs and Referer headers; playback links
	// replace it).
	QueryAccessToken bool `koanf:"query_access_token"`
}

// JWTConfig verifies bearer JWTs: HS256 with a shared secret, and/or
// RS256/ES256/EdDSA with keys from a JWKS URL or file.
//
// Issuer and Audience, when set, are checked on every JWT (HS256 and JWKS
// alike). With a JWKS both are required: an identity provider's keys sign
// the tokens of all its applications (and, for multi-tenant IdPs, of all its
// tenants), so a JWKS alone does not say a token was meant for Valet. An
// operator who really wants any audience or issuer says so with AnyAudience
// or AnyIssuer, which only waive the requirement and cannot be combined
// with a value.
type JWTConfig struct {
	// HS256Secret, HS256SecretFile and HS256Secrets give the HS256 keys;
	// set at most one. The first key of the list (or the file's first line)
	// signs (valet token), every one verifies, so a key is rotated by
	// putting the new one first and dropping the old one once the tokens it
	// signed have expired. HS256SecretFile holds one key per line.
	HS256Secret     string   `koanf:"hs256_secret"`
	HS256SecretFile string   `koanf:"hs256_secret_file"`
	HS256Secrets    []string `koanf:"hs256_secrets"`
	JWKSURL         string   `koanf:"jwks_url"`
	JWKSFile        string   `koanf:"jwks_file"`
	// JWKSRefresh is how often the JWKS at JWKSURL is fetched again, and the
	// longest Valet keeps it whatever the IdP's Cache-Control or Expires say:
	// a key the IdP withdraws is trusted at most this long. Cache headers
	// asking for less are honoured down to JWKSMinRefresh.
	JWKSRefresh Duration `koanf:"jwks_refresh"`
	Issuer      string   `koanf:"issuer"`
	// AnyIssuer accepts JWKS-verified tokens whatever their iss claim
	// (or none); it is the explicit opt-out from requiring Issuer.
	AnyIssuer bool   `koanf:"any_issuer"`
	Audience  string `koanf:"audience"`
	// AnyAudience accepts JWKS-verified tokens whatever their aud claim
	// (or none); it is the explicit opt-out from requiring Audience.
	AnyAudience bool     `koanf:"any_audience"`
	Leeway      Duration `koanf:"leeway"`
}

// UsesJWKS reports whether tokens may be verified with JWKS keys.
func (j JWTConfig) UsesJWKS() bool { return j.JWKSURL != "" || j.JWKSFile != "" }

// HS256Keys returns the HS256 keys, the signing one first: HS256Secrets,
// or HS256Secret, or what Load read from HS256SecretFile; nil for none.
func (j JWTConfig) HS256Keys() []string { return secretList(j.HS256Secret, j.HS256Secrets) }

// JWKS refresh bounds: JWKSMinRefresh is the shortest interval between
// scheduled fetches of a JWKS URL (so a Cache-Control: max-age=0 cannot make
// Valet hammer the IdP), DefaultJWKSRefresh the default of
// auth.jwt.jwks_refresh (the longest), and MaxJWKSRefresh the largest value
// it accepts.
const (
	JWKSMinRefresh     = time.Minute
	DefaultJWKSRefresh = 15 * time.Minute
	MaxJWKSRefresh     = 24 * time.Hour
)

// APIKey maps a static key, stored only as its sha256, to a subject.
type APIKey struct {
	// SHA256 is the lower-case hex sha256 of the full key (e.g. "vk_...").
	SHA256  string         `koanf:"sha256"`
	Subject string         `koanf:"subject"`
	Claims  map[string]any `koanf:"claims"`
}

// AnonymousConfig allows requests without credentials.
type AnonymousConfig struct {
	Enabled bool   `koanf:"enabled"`
	Subject string `koanf:"subject"`
}

// TokensConfig holds the secrets that seal upload ids and playback links.
// Gateways that share them accept each other's ids.
//
// Set one of Secret, SecretFile or Secrets. The first secret of the list
// (or the file's first line) seals, every one opens: a secret is rotated
// without breaking uploads in flight by listing the new one first and the
// old one second on every replica, then dropping the old one once the ids
// it sealed have expired (limits.upload_ttl, and playback_ttl). SecretFile
// holds one secret per line.
type TokensConfig struct {
	Secret     string   `koanf:"secret"`
	SecretFile string   `koanf:"secret_file"`
	Secrets    []string `koanf:"secrets"`
}

// Keys returns the sealing secrets, the one that seals first: Secrets, or
// Secret, or what Load read from SecretFile; nil for none.
func (t TokensConfig) Keys() []string { return secretList(t.Secret, t.Secrets) }

// secretList is list when set, else the single secret (nil when empty).
func secretList(one string, list []string) []string {
	if len(list) > 0 {
		return list
	}
	if one != "" {
		return []string{one}
	}
	return nil
}

// PluginsConfig configures the plugin host.
type PluginsConfig struct {
	Dirs     []string `koanf:"dirs"`
	EnvAllow []string `koanf:"env_allow"`
	// Pins maps an external plugin name to the sha256 hex of its binary.
	Pins map[string]string `koanf:"pins"`
}

// StoreConfig is one store.
type StoreConfig struct {
	Provider string `koanf:"provider"`
	// Config is passed to the provider as JSON, untouched.
	Config          map[string]any `koanf:"config"`
	KeyTemplate     string         `koanf:"key_template"`
	AllowClientKeys bool           `koanf:"allow_client_keys"`
	// DeleteOnMismatch deletes an uploaded object that fails verification
	// at complete time. When not set, it defaults to true for providers that
	// do not bind both Content-Length and Content-Type (see
	// ShouldDeleteOnMismatch).
	DeleteOnMismatch bool        `koanf:"delete_on_mismatch"`
	Limits           Limits      `koanf:"limits"`
	Rules            Rules       `koanf:"rules"`
	Hooks            HooksConfig `koanf:"hooks"`

	deleteOnMismatchSet bool
}

// ShouldDeleteOnMismatch reports whether a mismatched object is deleted:
// the configured value when delete_on_mismatch was set, otherwise true
// unless the provider binds length and type (bindsAll), in which case a
// mismatch cannot come from the signed upload.
func (s StoreConfig) ShouldDeleteOnMismatch(bindsAll bool) bool {
	if s.deleteOnMismatchSet {
		return s.DeleteOnMismatch
	}
	return s.DeleteOnMismatch || !bindsAll
}

// Limits bound what a store accepts.
type Limits struct {
	// MaxSize is the largest object accepted (0 = no limit of Valet's own).
	MaxSize Size `koanf:"max_size"`
	// ContentTypes allowed, with wildcards ("video/*", "*/*"); empty = any.
	ContentTypes []string `koanf:"content_types"`
	PutTTL       Duration `koanf:"put_ttl"`
	GetTTL       Duration `koanf:"get_ttl"`
	DeleteTTL    Duration `koanf:"delete_ttl"`
	// MaxTTL caps any TTL a client asks for.
	MaxTTL Duration `koanf:"max_ttl"`
	// UploadTTL is how long an upload id stays valid for parts, complete
	// and abort (never shorter than the signed PUT it came with).
	UploadTTL Duration `koanf:"upload_ttl"`
	// MultipartThreshold: uploads larger than this are multipart.
	MultipartThreshold Size `koanf:"multipart_threshold"`
	// PartSize is the preferred part size; the planner adjusts it to the
	// provider's limits.
	PartSize Size `koanf:"part_size"`
	// MaxBatch is the most keys one batch signing request may name
	// (POST /v1/stores/NAME/objects/sign), 1..1000.
	MaxBatch int `koanf:"max_batch"`
	// PlaybackTTL is how long a playback link (playback_url) opens, and so
	// how long the signed URLs it hands out last (clamped to the
	// provider's maximum expiry), 1s..168h. It is not capped by MaxTTL:
	// the client does not choose it.
	PlaybackTTL Duration `koanf:"playback_ttl"`
}

// Rules are CEL expressions; an empty rule denies.
type Rules struct {
	Upload string `koanf:"upload"`
	Read   string `koanf:"read"`
	Delete string `koanf:"delete"`
	List   string `koanf:"list"`
}

// DemoConfig serves the demo page at "/".
type DemoConfig struct {
	Enabled bool `koanf:"enabled"`
}

// Defaults returns the built-in defaults (the lowest layer).
func Defaults() map[string]any {
	return map[string]any{
		"server.listen":           ":8080",
		"server.shutdown_timeout": "30s",
		"server.provider_timeout": "30s",
		"server.complete_timeout": "10m",
		"server.log_level":        "info",
		"auth.jwt.leeway":         "30s",
		"auth.jwt.jwks_refresh":   DefaultJWKSRefresh.String(),
		"auth.anonymous.subject":  "anonymous",
	}
}

// MaxBatchLimit bounds limits.max_batch: the most GETs one provider call
// signs (providers.MaxSignGets, which core checks it equals).
const MaxBatchLimit = 1000

// Store defaults are applied per store after decoding, since koanf cannot
// default the entries of a map.
var storeDefaults = Limits{
	PutTTL:             15 * time.Minute,
	GetTTL:             5 * time.Minute,
	DeleteTTL:          5 * time.Minute,
	MaxTTL:             time.Hour,
	UploadTTL:          24 * time.Hour,
	MultipartThreshold: 64 << 20,
	PartSize:           16 << 20,
	MaxBatch:           100,
	PlaybackTTL:        4 * time.Hour,
}

// DefaultKeyTemplate is used when a store sets no key_template.
const DefaultKeyTemplate = "users/{subject}/{uuid}/{filename}"
