package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	yamlv3 "go.yaml.in/yaml/v3"

	"github.com/valetgw/valet/internal/testenv"
)

const secret32 = "0123456789abcdef0123456789abcdef"

// redacted is cfg.Redacted() as text, failing t on an error.
func redacted(t *testing.T, cfg *Config) string {
	t.Helper()
	out, err := cfg.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// noLeaks fails t for each of leaked that the redacted config s holds.
func noLeaks(t *testing.T, s string, leaked ...string) {
	t.Helper()
	for _, l := range leaked {
		if strings.Contains(s, l) {
			t.Errorf("Redacted leaks %q:\n%s", l, s)
		}
	}
}

func write(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const base = `
server: { listen: ":9000", public_url: "http://localhost:9000", cors_origins: ["http://localhost:3000"] }
auth:
  jwt: { hs256_secret: "` + secret32 + `", issuer: valet-dev, audience: valet }
tokens: { secret: "` + secret32 + `" }
stores:
  media:
    provider: local
    config: { root: /tmp/x, secret_key: hunter2hunter2, nested: { password: p4ss, region: eu } }
    limits: { max_size: 10GiB, content_types: ["video/*", "image/png"], put_ttl: 10m }
    rules:  { upload: 'true', read: 'key.startsWith(key_prefix)' }
`

func TestLoadLayers(t *testing.T) {
	p := write(t, "valet.yaml", base)
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	fs.String("listen", "", "")
	fs.String("config", "", "")
	fs.Bool("demo.enabled", false, "")
	if err := fs.Parse([]string{"--listen=:7000", "--config=ignored.yaml", "--demo.enabled"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(Options{File: p, Flags: fs, Environ: []string{
		"VALET_SERVER__LISTEN=:8000",
		"VALET_SERVER__PUBLIC_URL=http://env.example:1",
		"VALET_STORES__MEDIA__LIMITS__MAX_SIZE=5MiB",
		"VALET_STORES__MEDIA__CONFIG__PATH_STYLE=true",
		"VALET_STORES__MEDIA__LIMITS__CONTENT_TYPES=video/*,audio/*",
		"OTHER_THING=1",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Listen != ":7000" {
		t.Errorf("flag should win: listen = %q", cfg.Server.Listen)
	}
	if cfg.Server.PublicURL != "http://env.example:1" {
		t.Errorf("env should beat file: public_url = %q", cfg.Server.PublicURL)
	}
	if !cfg.Demo.Enabled {
		t.Error("demo.enabled flag not applied")
	}
	m := cfg.Stores["media"]
	if m.Limits.MaxSize != 5<<20 {
		t.Errorf("max_size = %d", m.Limits.MaxSize)
	}
	if got := strings.Join(m.Limits.ContentTypes, ","); got != "video/*,audio/*" {
		t.Errorf("content_types = %q", got)
	}
	if m.Config["path_style"] != true {
		t.Errorf("path_style = %#v, want bool true", m.Config["path_style"])
	}
	if m.Limits.MaxBatch != 100 {
		t.Errorf("max_batch = %d, want the default 100", m.Limits.MaxBatch)
	}
	if m.Limits.PutTTL != 10*time.Minute || m.Limits.GetTTL != 5*time.Minute || m.Limits.MaxTTL != time.Hour {
		t.Errorf("ttls = %+v", m.Limits)
	}
	if m.KeyTemplate != DefaultKeyTemplate {
		t.Errorf("key_template default = %q", m.KeyTemplate)
	}
	if cfg.Server.ShutdownTimeout != 30*time.Second || cfg.Auth.JWT.Leeway != 30*time.Second {
		t.Errorf("defaults: %v %v", cfg.Server.ShutdownTimeout, cfg.Auth.JWT.Leeway)
	}
	if !m.ShouldDeleteOnMismatch(false) || m.ShouldDeleteOnMismatch(true) {
		t.Error("delete_on_mismatch default should follow the provider's bindings")
	}
}

func TestDeleteOnMismatchExplicit(t *testing.T) {
	p := write(t, "v.yaml", base+"    delete_on_mismatch: false\n")
	cfg, err := Load(Options{File: p, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Stores["media"].ShouldDeleteOnMismatch(false) {
		t.Error("explicit false must win")
	}
}

func TestSecretsFromFilesAndEnv(t *testing.T) {
	sf := write(t, "hs", secret32+"\n")
	body := strings.Replace(base, `hs256_secret: "`+secret32+`"`, `hs256_secret_file: "`+sf+`"`, 1)
	body = strings.Replace(body, `tokens: { secret: "`+secret32+`" }`, ``, 1)
	p := write(t, "v.yaml", body)
	tok := strings.Repeat("t", 40)
	cfg, err := Load(Options{File: p, Environ: []string{"VALET_TOKENS__SECRET=" + tok}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Auth.JWT.HS256Secret != secret32 || cfg.Tokens.Secret != tok {
		t.Fatalf("secrets not resolved: %q %q", cfg.Auth.JWT.HS256Secret, cfg.Tokens.Secret)
	}
	s := redacted(t, cfg)
	noLeaks(t, s, secret32, tok, "hunter2hunter2", "p4ss")
	for _, want := range []string{"hs256_secret: '***'", "secret: '***'", "secret_key: '***'", "password: '***'", "region: eu", "max_size: 10GiB", "put_ttl: 10m0s", sf} {
		if !strings.Contains(s, want) {
			t.Errorf("Redacted lacks %q:\n%s", want, s)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, body string
		env        []string
		want       []string
	}{
		{"unknown top", base + "bogus: 1\n", nil, []string{"bogus: unknown key"}},
		{"unknown nested", strings.Replace(base, `listen: ":9000"`, `lisen: ":9000"`, 1), nil, []string{"server.lisen: unknown key"}},
		{"unknown store key", base + "    limts: {}\n", nil, []string{"stores.media.limts: unknown key"}},
		{"unknown env", base, []string{"VALET_SERVER__NOPE=1"}, []string{"server.nope: unknown key"}},
		{"bad size", strings.Replace(base, "10GiB", "10 parsecs", 1), nil, []string{"stores.media.limits.max_size: invalid size \"10 parsecs\""}},
		{"bad duration", strings.Replace(base, "put_ttl: 10m", "put_ttl: soon", 1), nil, []string{"stores.media.limits.put_ttl: invalid duration"}},
		{"ttl above max", base + "", []string{"VALET_STORES__MEDIA__LIMITS__GET_TTL=2h"}, []string{"stores.media.limits.get_ttl: 2h0m0s is above limits.max_ttl"}},
		{"bad type", strings.Replace(base, `"image/png"`, `"image"`, 1), nil, []string{"stores.media.limits.content_types[1]"}},
		{"short secret", strings.Replace(base, `tokens: { secret: "`+secret32+`" }`, `tokens: { secret: "short" }`, 1), nil, []string{"tokens.secret: must be at least 32 bytes"}},
		{"no provider", strings.Replace(base, "provider: local", "", 1), nil, []string{"stores.media.provider: required"}},
		{"bad store name", strings.Replace(base, "  media:", "  Media:", 1), nil, []string{"stores.Media: store names"}},
		{"bad api key", base + "", []string{}, nil},
		{"secret twice", strings.Replace(base, `tokens: { secret: "`+secret32+`" }`, `tokens: { secret: "`+secret32+`", secret_file: /nonexistent }`, 1), nil, []string{"tokens.secret_file: set together with tokens.secret"}},
		{"admin listen without port", base, []string{"VALET_SERVER__ADMIN_LISTEN=localhost"}, []string{"server.admin_listen: must be host:port or :port"}},
		{"admin listen on the API's address", base, []string{"VALET_SERVER__ADMIN_LISTEN=:9000"}, []string{"server.admin_listen: must differ from server.listen"}},
		{"admin listen", base, []string{"VALET_SERVER__ADMIN_LISTEN=127.0.0.1:9090"}, nil},
		{"companion cookie", base, []string{"VALET_SERVER__COMPANION__COOKIE=__Host-session"}, nil},
		{"companion cookie not a token", base, []string{"VALET_SERVER__COMPANION__COOKIE=my session"}, []string{"server.companion.cookie: must be a cookie name"}},
		{"max_batch above the provider call's", base, []string{"VALET_STORES__MEDIA__LIMITS__MAX_BATCH=1001"}, []string{"stores.media.limits.max_batch: must be between 1 and 1000, got 1001"}},
		{"negative max_batch", base, []string{"VALET_STORES__MEDIA__LIMITS__MAX_BATCH=-1"}, []string{"stores.media.limits.max_batch: must be between 1 and 1000, got -1"}},
		{"max_batch", base, []string{"VALET_STORES__MEDIA__LIMITS__MAX_BATCH=1000"}, nil},
		{"missing secret file", strings.Replace(base, `tokens: { secret: "`+secret32+`" }`, `tokens: { secret_file: /nonexistent/x }`, 1), nil, []string{"tokens.secret_file: open /nonexistent/x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := tt.env
			if env == nil {
				env = []string{}
			}
			_, err := Load(Options{File: write(t, "v.yaml", tt.body), Environ: env})
			if tt.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			testenv.ErrorMentions(t, err, tt.want, nil)
		})
	}
}

func TestAPIKeysAndNoAuth(t *testing.T) {
	body := `
auth:
  api_keys:
    - { sha256: "ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789", subject: ci, claims: { role: admin } }
    - { sha256: "nothex", subject: "" }
tokens: { secret: "` + secret32 + `" }
stores: { m: { provider: local } }
`
	_, err := Load(Options{File: write(t, "v.yaml", body), Environ: []string{}})
	for _, w := range []string{"auth.api_keys[1].sha256: must be 64 hex", "auth.api_keys[1].subject: required"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v lacks %q", err, w)
		}
	}
	body = "tokens: { secret: \"" + secret32 + "\" }\nstores: { m: { provider: local } }\n"
	_, err = Load(Options{File: write(t, "v.yaml", body), Environ: []string{}})
	if err == nil || !strings.Contains(err.Error(), "auth: no way to authenticate") {
		t.Errorf("error %v", err)
	}
}

func TestParseSize(t *testing.T) {
	tests := map[string]Size{"10GiB": 10 << 30, "512MB": 512e6, "1024": 1024, "1.5KiB": 1536, "5 mib": 5 << 20, "0": 0}
	for in, want := range tests {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "GiB", "-1", "1e400", "abc", "99999999999TiB"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
	if s := Size(10 << 30).String(); s != "10GiB" {
		t.Errorf("String = %q", s)
	}
}

func TestWatchReloads(t *testing.T) {
	p := write(t, "v.yaml", base)
	ctx := t.Context()
	got := make(chan error, 4)
	cfgs := make(chan *Config, 4)
	if err := Watch(ctx, Options{File: p, Environ: []string{}}, 50*time.Millisecond, func(c *Config, err error) {
		cfgs <- c
		got <- err
	}); err != nil {
		t.Fatal(err)
	}
	// The file is replaced whole (written aside, then renamed over), as
	// editors and config management do: rewriting it in place lets the
	// watcher, on a loaded machine, read it truncated or half written more
	// than the 50ms debounce after the first event, and report that.
	replace := func(body string) {
		t.Helper()
		tmp := p + ".tmp"
		if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, p); err != nil {
			t.Fatal(err)
		}
	}
	replace(base + "bogus: 1\n")
	select {
	case err := <-got:
		<-cfgs
		if err == nil || !strings.Contains(err.Error(), "bogus") {
			t.Fatalf("bad reload error = %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("no reload event")
	}
	replace(strings.Replace(base, ":9000", ":9001", 1))
	select {
	case err := <-got:
		c := <-cfgs
		if err != nil || c.Server.Listen != ":9001" {
			t.Fatalf("good reload: %v %+v", err, c)
		}
	case <-time.After(time.Minute):
		t.Fatal("no reload event")
	}
}

func TestPluginEnvIsNotConfig(t *testing.T) {
	p := write(t, "valet.yaml", base)
	_, err := Load(Options{File: p, Environ: []string{
		"VALET_PLUGIN_LOG_LEVEL=debug",
		"VALET_PLUGIN_PARENT_PID=1",
	}})
	if err != nil {
		t.Fatalf("VALET_PLUGIN_* must be ignored by the gateway's config: %v", err)
	}
	_, err = Load(Options{File: p, Environ: []string{"VALET_PLUGINZ=1"}})
	if err == nil || !strings.Contains(err.Error(), "pluginz") {
		t.Fatalf("other unknown VALET_ keys must still fail, got %v", err)
	}
}

// A secret in a higher layer replaces its counterpart from a lower one
// (inline over *_file and *_file over inline); both in one layer is an error.
func TestSecretLayersOverride(t *testing.T) {
	sf := write(t, "tok", strings.Repeat("f", 40)+"\n")
	fileBody := strings.Replace(base, `tokens: { secret: "`+secret32+`" }`, `tokens: { secret_file: "`+sf+`" }`, 1)
	fileBody = strings.Replace(fileBody, `secret_key: hunter2hunter2`, `secret_file: /from/yaml`, 1)
	envTok := strings.Repeat("e", 40)
	cfg, err := Load(Options{File: write(t, "v.yaml", fileBody), Environ: []string{
		"VALET_TOKENS__SECRET=" + envTok,
		"VALET_STORES__MEDIA__CONFIG__SECRET=from-env",
	}})
	if err != nil {
		t.Fatalf("env secret over YAML secret_file: %v", err)
	}
	if cfg.Tokens.Secret != envTok || cfg.Tokens.SecretFile != "" {
		t.Errorf("tokens = %q, file %q; want the env secret", cfg.Tokens.Secret, cfg.Tokens.SecretFile)
	}
	if c := cfg.Stores["media"].Config; c["secret"] != "from-env" || c["secret_file"] != nil {
		t.Errorf("provider config = %v; want env secret and no secret_file", c)
	}

	// The other way round: an env *_file over an inline YAML secret.
	cfg, err = Load(Options{File: write(t, "v.yaml", base), Environ: []string{"VALET_AUTH__JWT__HS256_SECRET_FILE=" + sf}})
	if err != nil {
		t.Fatalf("env secret_file over YAML secret: %v", err)
	}
	if cfg.Auth.JWT.HS256Secret != strings.Repeat("f", 40) {
		t.Errorf("hs256 secret not read from the env's file")
	}

	// An empty env value overrides nothing.
	if _, err := Load(Options{File: write(t, "v.yaml", fileBody), Environ: []string{"VALET_TOKENS__SECRET="}}); err != nil {
		t.Errorf("empty env secret: %v", err)
	}

	// Both in the same layer is still ambiguous.
	_, err = Load(Options{File: write(t, "v.yaml", base), Environ: []string{
		"VALET_TOKENS__SECRET=" + envTok, "VALET_TOKENS__SECRET_FILE=" + sf,
	}})
	if err == nil || !strings.Contains(err.Error(), "tokens.secret_file: set together with tokens.secret") {
		t.Errorf("both in env: %v", err)
	}
}

// The printed config is the effective one: delete_on_mismatch shows its
// default when unset, and sizes are unquoted (0, 10GiB).
func TestRedactedEffective(t *testing.T) {
	body := strings.Replace(base, "max_size: 10GiB", "max_size: 0", 1) + `
  pinned:
    provider: local
    delete_on_mismatch: false
    rules: { upload: 'true' }
`
	cfg, err := Load(Options{File: write(t, "v.yaml", body), Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	s := redacted(t, cfg)
	for _, want := range []string{"max_size: 0\n", "multipart_threshold: 64MiB", "delete_on_mismatch: null # unset: true unless", "delete_on_mismatch: false\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("Redacted lacks %q:\n%s", want, s)
		}
	}
	for bindsAll, want := range map[bool]string{false: "delete_on_mismatch: true # unset", true: "delete_on_mismatch: false # unset"} {
		out, err := cfg.RedactedFor(map[string]bool{"media": bindsAll, "pinned": false})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(out), want) || strings.Count(string(out), "delete_on_mismatch: false\n") != 1 {
			t.Errorf("bindsAll=%v: want %q and the explicit false kept:\n%s", bindsAll, want, out)
		}
	}
	// The printed config loads back to the same values.
	var back struct {
		Stores map[string]struct{ Limits map[string]any }
	}
	if err := yamlv3.Unmarshal([]byte(s), &back); err != nil || back.Stores["media"].Limits["max_size"] != 0 {
		t.Errorf("max_size round trip: %v %#v", err, back.Stores["media"].Limits["max_size"])
	}
}

// jwksBase is base with its HS256 secret replaced by a JWKS; the jwt line
// is JWT so each case writes its own.
func jwksBody(jwt string) string {
	return strings.Replace(base, `  jwt: { hs256_secret: "`+secret32+`", issuer: valet-dev, audience: valet }`, "  jwt: "+jwt, 1)
}

// Credentials inside URLs are redacted whatever the key that holds them.
func TestRedactedHidesURLCredentials(t *testing.T) {
	body := jwksBody(`{ jwks_url: "https://u:secretpw@idp.example/jwks?sig=abc123&kid=k1", issuer: "https://idp.example/", audience: valet }`) + `
  archive:
    provider: s3
    config:
      endpoint: "https://s3.example.com:9000/base?X-Amz-Security-Token=tok987xyz&region=eu"
      mirrors: ["https://mirror.example/?t=listsecret", "http://plain.example/a"]
      webhook: "https://ghp_usertoken456@hooks.example/notify#frag789"
    rules: { upload: 'true' }
`
	cfg, err := Load(Options{File: write(t, "v.yaml", body), Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	s := redacted(t, cfg)
	noLeaks(t, s, "secretpw", "abc123", "tok987xyz", "listsecret", "ghp_usertoken456", "frag789", "hunter2hunter2")
	for _, want := range []string{
		"jwks_url: https://***:***@idp.example/jwks?sig=***&kid=***",
		"endpoint: https://s3.example.com:9000/base?X-Amz-Security-Token=***&region=***",
		"https://mirror.example/?t=***", "http://plain.example/a",
		"webhook: https://***@hooks.example/notify#***",
		"public_url: http://localhost:9000", "issuer: https://idp.example/",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("Redacted lacks %q:\n%s", want, s)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://idp.example/jwks":                    "https://idp.example/jwks",
		"http://localhost:9000":                       "http://localhost:9000",
		"https://user:pw@host/p?a=1&b=&c":             "https://***:***@host/p?a=***&b=***&***",
		"https://user@host":                           "https://***@host",
		"https://host/?tok":                           "https://host/?***",
		"s3+http://k:s@minio:9000/bucket":             "s3+http://***:***@minio:9000/bucket",
		"https://u:p%zz@host/x?sig=s3cr3t":            "https://***@host/x?***", // does not parse
		"https://u:pa#ss@host/x":                      "https://***@host/x",     // does not parse
		"https://host/a#access_token=abc":             "https://host/a#***",
		"users/{subject}/{uuid}/{filename}":           "users/{subject}/{uuid}/{filename}",
		"not a url: user:pw@host?x=1":                 "not a url: user:pw@host?x=1",
		"":                                            "",
		"mailto:someone@example.com":                  "mailto:someone@example.com",
		"https://user:p@ss@host/":                     "https://***:***@host/",
		"https://[::1]:8443/jwks?key=v&key=w&other=x": "https://[::1]:8443/jwks?key=***&key=***&other=***",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// Errors that quote a URL (from validation, or a provider's, which
// `valet config check` passes through RedactURLsIn) do not carry its
// credentials either.
func TestRedactURLsInErrors(t *testing.T) {
	msg := `stores.m.config.endpoint: "https://s3.example.com/?X-Amz-Security-Token=abc123": bad; also see http://u:pw@x.example/a, 'ftp://y.example/?k=v'`
	want := `stores.m.config.endpoint: "https://s3.example.com/?X-Amz-Security-Token=***": bad; also see http://***:***@x.example/a, 'ftp://y.example/?k=***'`
	if got := RedactURLsIn(msg); got != want {
		t.Errorf("RedactURLsIn:\n got %s\nwant %s", got, want)
	}
	body := strings.Replace(base, `public_url: "http://localhost:9000"`, `public_url: "ftp://u:secretpw@host/?sig=abc123"`, 1)
	body = strings.Replace(body, `cors_origins: ["http://localhost:3000"]`, `cors_origins: ["https://u:corspw@app.example/x?t=corstok"]`, 1)
	_, err := Load(Options{File: write(t, "v.yaml", body), Environ: []string{}})
	if err == nil || !strings.Contains(err.Error(), "server.public_url") || !strings.Contains(err.Error(), "server.cors_origins[0]") {
		t.Fatalf("want public_url and cors_origins errors, got %v", err)
	}
	for _, leaked := range []string{"secretpw", "abc123", "corspw", "corstok"} {
		if strings.Contains(err.Error(), leaked) {
			t.Errorf("error leaks %q: %v", leaked, err)
		}
	}
}
