package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A relative *_file path is read from the working directory, not from the
// config file's folder: docs/providers/*.md ("Relative paths") say so, and
// examples/local.yaml (in examples/, naming .dev/ at the repository root)
// relies on it. Store configs are passed to the plugins untouched, and the
// plugins run in the same working directory.
func TestRelativePathsResolveAgainstTheWorkingDirectory(t *testing.T) {
	const fromCwd, fromCfg = "cccccccccccccccccccccccccccccccccccc", "ffffffffffffffffffffffffffffffffffff"
	cwd, cfgDir := t.TempDir(), filepath.Join(t.TempDir(), "conf")
	for dir, secret := range map[string]string{cwd: fromCwd, cfgDir: fromCfg} {
		if err := os.MkdirAll(filepath.Join(dir, "s"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "s", "tokens.secret"), []byte(secret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(cfgDir, "valet.yaml")
	y := `
auth: { jwt: { hs256_secret: "` + fromCwd + `" } }
tokens: { secret_file: s/tokens.secret }
stores: { demo: { provider: local, config: { root: data, secret_file: s/local.secret }, rules: { upload: 'true' } } }
`
	if err := os.WriteFile(file, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(cwd)

	cfg, err := Load(Options{File: file, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Tokens.Keys(); !slices.Equal(got, []string{fromCwd}) {
		t.Errorf("tokens.secret_file s/tokens.secret read %q, want the working directory's %q", got, fromCwd)
	}
	// The provider's paths are not rewritten either.
	if got := cfg.Stores["demo"].Config; got["root"] != "data" || got["secret_file"] != "s/local.secret" {
		t.Errorf("stores.demo.config = %v, want its relative paths untouched", got)
	}

	// Missing from the working directory, the file is an error naming the
	// key, though the config file's folder holds one.
	if err := os.Remove(filepath.Join(cwd, "s", "tokens.secret")); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(Options{File: file, Environ: []string{}}); err == nil || !strings.Contains(err.Error(), "tokens.secret_file") {
		t.Errorf("Load with only the config folder's s/tokens.secret: %v, want an error naming tokens.secret_file", err)
	}
}
