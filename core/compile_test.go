package core

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/valetgw/valet/config"
)

// checkBody loads a config whose only store is given and runs Check.
func checkBody(t *testing.T, store string) error {
	t.Helper()
	body := "auth: { jwt: { hs256_secret: \"" + hsSecret + "\" } }\ntokens: { secret: \"" + tokSecret + "\" }\nstores:\n  media: " + store + "\n"
	p := filepath.Join(t.TempDir(), "valet.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.Options{File: p, Environ: []string{}})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return Check(cfg)
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
