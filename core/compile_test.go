package core

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valetgw/valet/config"
	"github.com/valetgw/valet/internal/testenv"
)

// checkBody loads a config whose only store is given and runs Check.
func checkBody(t *testing.T, store string) error {
	t.Helper()
	_, err := loadAndCheck(t, "auth: { jwt: { hs256_secret: \""+hsSecret+"\" } }\ntokens: { secret: \""+tokSecret+"\" }\nstores:\n  media: "+store+"\n", []string{})
	return err
}

// Rules and templates are compiled by Check, and their errors name the
// config key (these cases moved here from config's TestLoadErrors).
func TestCheckCompileErrors(t *testing.T) {
	for _, c := range []struct{ store, want string }{
		{`{ provider: local, rules: { upload: 'subject = 1' } }`, "stores.media.rules.upload: 1:"},
		{`{ provider: local, key_template: 'x/{nope}/{uuid}' }`, "stores.media.key_template: unknown placeholder {nope}"},
	} {
		if err := checkBody(t, c.store); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Check = %v, want %q", c.store, err, c.want)
		}
	}
}

// A rule that builds a prefix from subject no longer matches the key's
// encoded subject (and another subject could match it), and a key_prefix
// rule needs a template that puts {subject} in the prefix: both are config
// errors that name the key.
func TestRulesMustUseKeyPrefix(t *testing.T) {
	for _, c := range []struct{ store, want string }{
		{`{ provider: local, rules: { read: 'key.startsWith("users/" + subject + "/")' } }`, "stores.media.rules.read: builds a string from subject"},
		{`{ provider: local, rules: { list: 'prefix.startsWith(subject + "/")' } }`, "stores.media.rules.list: builds a string from subject"},
		// The claim subject comes from, and subject inside a call, are
		// the same raw identity.
		{`{ provider: local, rules: { read: 'key.startsWith("users/" + claims.sub + "/")' } }`, "stores.media.rules.read: builds a string from subject"},
		{`{ provider: local, rules: { read: 'key.startsWith("users/" + claims["sub"] + "/")' } }`, "stores.media.rules.read: builds a string from subject"},
		{`{ provider: local, rules: { delete: 'key.startsWith("users/" + string(subject) + "/")' } }`, "stores.media.rules.delete: builds a string from subject"},
		{`{ provider: local, key_template: "{date}/{subject}/{uuid}", rules: { read: 'key.startsWith(key_prefix)' } }`, "stores.media.key_template: the rules use key_prefix, but {subject} does not come first"},
		{`{ provider: local, key_template: "uploads/{uuid}/{filename}", rules: { read: 'key.startsWith(key_prefix)' } }`, "stores.media.key_template: the rules use key_prefix, but the template has no {subject}"},
	} {
		if err := checkBody(t, c.store); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Check = %v, want %q", c.store, err, c.want)
		}
	}
	if err := checkBody(t, `{ provider: local, rules: { read: 'key.startsWith(key_prefix) || subject == "admin"', list: 'prefix.startsWith(key_prefix)' } }`); err != nil {
		t.Errorf("the shipped rule form: %v", err)
	}
}

func jwksBody(jwt string) string {
	return "auth:\n  jwt: " + jwt + "\ntokens: { secret: \"" + tokSecret + "\" }\nstores:\n  media: { provider: local, rules: { upload: 'true' } }\n"
}

// loadAndCheck is what every valet command does with a config file.
func loadAndCheck(t testing.TB, body string, env []string) (*config.Config, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "valet.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.Options{File: p, Environ: env})
	if err == nil {
		err = Check(cfg)
	}
	return cfg, err
}

// With a JWKS, audience and issuer are required unless explicitly waived
// (moved here from config: the requirement is the authenticator's, and
// config check finds it through Check):
// an IdP's keys also sign tokens for its other applications and tenants.
func TestJWKSRequiresAudienceAndIssuer(t *testing.T) {
	const (
		needAud = "auth.jwt.audience: required with auth.jwt.jwks_url or auth.jwt.jwks_file"
		needIss = "auth.jwt.issuer: required with auth.jwt.jwks_url or auth.jwt.jwks_file"
	)
	tests := []struct {
		name, jwt string
		env       []string
		want      []string // nil: loads
		notWant   []string
	}{
		{"url alone", `{ jwks_url: "https://idp.example/jwks" }`, nil,
			[]string{needAud, "auth.jwt.any_audience: true", needIss, "auth.jwt.any_issuer: true"}, nil},
		{"file alone", `{ jwks_file: /etc/valet/jwks.json }`, nil, []string{needAud, needIss}, nil},
		{"url with issuer only", `{ jwks_url: "https://idp.example/jwks", issuer: "https://idp.example/" }`, nil,
			[]string{needAud}, []string{needIss}},
		{"url with audience only", `{ jwks_url: "https://idp.example/jwks", audience: valet }`, nil,
			[]string{needIss}, []string{needAud}},
		{"url with both", `{ jwks_url: "https://idp.example/jwks", issuer: "https://idp.example/", audience: valet }`, nil, nil, nil},
		{"file with both", `{ jwks_file: /etc/valet/jwks.json, issuer: "https://idp.example/", audience: valet }`, nil, nil, nil},
		{"opt-outs", `{ jwks_url: "https://idp.example/jwks", any_audience: true, any_issuer: true }`, nil, nil, nil},
		{"opt-outs from env", `{ jwks_url: "https://idp.example/jwks" }`,
			[]string{"VALET_AUTH__JWT__ANY_AUDIENCE=true", "VALET_AUTH__JWT__ANY_ISSUER=true"}, nil, nil},
		{"opt-out false is no opt-out", `{ jwks_url: "https://idp.example/jwks", any_audience: false, issuer: i }`, nil, []string{needAud}, nil},
		{"opt-out with a value", `{ jwks_url: "https://idp.example/jwks", audience: valet, any_audience: true, issuer: i, any_issuer: true }`, nil,
			[]string{"auth.jwt.any_audience: set together with auth.jwt.audience", "auth.jwt.any_issuer: set together with auth.jwt.issuer"}, nil},
		{"hs256 alone needs neither", `{ hs256_secret: "` + hsSecret + `" }`, nil, nil, nil},
		{"refresh too short", `{ jwks_url: "https://idp.example/jwks", issuer: i, audience: a, jwks_refresh: 10s }`, nil,
			[]string{"auth.jwt.jwks_refresh: must be between 1m0s and 24h0m0s, got 10s"}, nil},
		{"refresh too long", `{ jwks_url: "https://idp.example/jwks", issuer: i, audience: a, jwks_refresh: 720h }`, nil,
			[]string{"auth.jwt.jwks_refresh: must be between"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := tt.env
			if env == nil {
				env = []string{}
			}
			cfg, err := loadAndCheck(t, jwksBody(tt.jwt), env)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if j := cfg.Auth.JWT; j.JWKSRefresh != config.DefaultJWKSRefresh {
					t.Errorf("jwks_refresh default = %s, want %s", j.JWKSRefresh, config.DefaultJWKSRefresh)
				}
				return
			}
			if err == nil {
				t.Fatalf("loaded; want errors %q", tt.want)
			}
			testenv.ErrorMentions(t, err, tt.want, tt.notWant)
		})
	}
	cfg, err := loadAndCheck(t, jwksBody(`{ jwks_url: "https://idp.example/jwks", any_audience: true, any_issuer: true, jwks_refresh: 5m }`), []string{})
	if err != nil {
		t.Fatal(err)
	}
	if j := cfg.Auth.JWT; !j.AnyAudience || !j.AnyIssuer || j.JWKSRefresh != 5*time.Minute {
		t.Errorf("jwt = %+v", j)
	}
}
