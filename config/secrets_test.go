package config

import (
	"slices"
	"strings"
	"testing"
)

// tokens.secret and the HS256 secret take a list for rotation, inline, in a
// file of one secret per line, or from the environment; the single form
// keeps working, two forms at once are refused, and every entry is
// checked and printed as ***.
func TestSecretLists(t *testing.T) {
	const a, b = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	body := func(tokens, hs string) string {
		return `
auth: { jwt: { ` + hs + ` } }
` + tokens + `
stores: { m: { provider: local, rules: { upload: 'true' } } }
`
	}
	load := func(t *testing.T, y string, env ...string) (*Config, error) {
		t.Helper()
		return Load(Options{File: write(t, "valet.yaml", y), Environ: env})
	}

	cfg, err := load(t, body(`tokens: { secrets: ["`+a+`", "`+b+`"] }`, `hs256_secrets: ["`+b+`", "`+a+`"]`))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Tokens.Keys(); !slices.Equal(got, []string{a, b}) {
		t.Errorf("tokens keys %q", got)
	}
	if got := cfg.Auth.JWT.HS256Keys(); !slices.Equal(got, []string{b, a}) {
		t.Errorf("hs256 keys %q", got)
	}
	out, err := cfg.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), a) || strings.Contains(string(out), b) {
		t.Errorf("a secret printed:\n%s", out)
	}

	// The single form is a one-key list.
	cfg, err = load(t, body(`tokens: { secret: "`+a+`" }`, `hs256_secret: "`+b+`"`))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Tokens.Keys(), []string{a}) || !slices.Equal(cfg.Auth.JWT.HS256Keys(), []string{b}) {
		t.Errorf("single forms: %q %q", cfg.Tokens.Keys(), cfg.Auth.JWT.HS256Keys())
	}

	// A file of two lines is a list, one line the single form.
	two := write(t, "two", a+"\n"+b+"\n")
	one := write(t, "one", b+"\n")
	cfg, err = load(t, body(`tokens: { secret_file: "`+two+`" }`, `hs256_secret_file: "`+one+`"`))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Tokens.Keys(), []string{a, b}) || !slices.Equal(cfg.Auth.JWT.HS256Keys(), []string{b}) {
		t.Errorf("files: %q %q", cfg.Tokens.Keys(), cfg.Auth.JWT.HS256Keys())
	}

	// The environment's list replaces the file's single secret.
	cfg, err = load(t, body(`tokens: { secret: "`+a+`" }`, `hs256_secret: "`+a+`"`), "VALET_TOKENS__SECRETS="+b+","+a)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Tokens.Keys(), []string{b, a}) {
		t.Errorf("environment list: %q", cfg.Tokens.Keys())
	}

	for _, tc := range []struct{ tokens, hs, want string }{
		{`tokens: { secret: "` + a + `", secrets: ["` + b + `"] }`, `hs256_secret: "` + a + `"`, "tokens.secrets: set together with tokens.secret"},
		{`tokens: { secret_file: "` + two + `", secrets: ["` + b + `"] }`, `hs256_secret: "` + a + `"`, "tokens.secret_file: set together with tokens.secret or tokens.secrets"},
		{`tokens: { secrets: ["` + a + `", "short"] }`, `hs256_secret: "` + a + `"`, "tokens.secrets[1]: must be at least 32 bytes"},
		{`tokens: { secrets: ["` + a + `", "` + a + `"] }`, `hs256_secret: "` + a + `"`, "tokens.secrets[1]: listed twice"},
		{`tokens: { secrets: [] }`, `hs256_secret: "` + a + `"`, "tokens.secret: required"},
		{`tokens: { secret: "` + a + `" }`, `hs256_secrets: ["` + a + `", "nope"]`, "auth.jwt.hs256_secrets[1]: must be at least 32 bytes"},
		{`tokens: { secret: "` + a + `" }`, `hs256_secret: "` + a + `", hs256_secrets: ["` + b + `"]`, "auth.jwt.hs256_secrets: set together with auth.jwt.hs256_secret"},
	} {
		_, err := load(t, body(tc.tokens, tc.hs))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s: %v, want %q", tc.tokens, tc.hs, err, tc.want)
		}
	}
}
