package providers_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/valetgw/valet/providers"
)

type sampleConfig struct {
	Listen     string   `json:"listen"`
	Secret     string   `json:"secret"`
	SecretFile string   `json:"secret_file"`
	Origins    []string `json:"cors_origins"`
	Retries    int      `json:"retries"`
}

func TestDecodeConfig(t *testing.T) {
	c := sampleConfig{Listen: "127.0.0.1:0"}
	if err := providers.DecodeConfig(nil, &c); err != nil || c.Listen != "127.0.0.1:0" {
		t.Fatalf("DecodeConfig(nil) = %v, listen %q; want no error and the default kept", err, c.Listen)
	}
	if err := providers.DecodeConfig([]byte(` {"listen":":1","retries":3} `), &c); err != nil || c.Listen != ":1" || c.Retries != 3 {
		t.Fatalf("DecodeConfig = %v, %+v", err, c)
	}
	for raw, want := range map[string]string{
		`{"bucket":"x"}`:             `config.bucket: unknown key`,
		`{"cors_origin":["x"]}`:      `config.cors_origin: unknown key (did you mean cors_origins?)`,
		`{"secretfile":"/x"}`:        `config.secretfile: unknown key (did you mean secret_file?)`,
		`{"retries":"three"}`:        `config.retries: want int, got a JSON string`,
		`{"listen":":1"} {"x":1}`:    `config: trailing data`,
		`{"listen":`:                 `config: unexpected EOF`,
		`["not", "an", "object"]`:    `config: json: cannot unmarshal array`,
		`{"zzzzzzzzzzzzzzzzzzzz":1}`: `unknown key`,
		`{"listen":123456789}`:       `config.listen: want string, got a JSON number`,
	} {
		err := providers.DecodeConfig([]byte(raw), &sampleConfig{})
		if !errors.Is(err, providers.ErrInvalidArgument) || !strings.Contains(err.Error(), want) {
			t.Errorf("DecodeConfig(%s) = %v, want InvalidArgument containing %q", raw, err, want)
		}
		if strings.Contains(raw, "zzzz") && strings.Contains(err.Error(), "did you mean") {
			t.Errorf("DecodeConfig(%s) suggests a key nothing like it: %v", raw, err)
		}
		if strings.Contains(err.Error(), "123456789") {
			t.Errorf("DecodeConfig(%s) echoes the value: %v", raw, err)
		}
	}
}

func TestSecretResolve(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	if err := os.WriteFile(file, []byte("from-a-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		s       providers.Secret
		want    string
		wantErr string
	}{
		{s: providers.Secret{Key: "secret"}},
		{s: providers.Secret{Key: "secret", Value: "inline"}, want: "inline"},
		{s: providers.Secret{Key: "secret", File: file}, want: "from-a-file"},
		{s: providers.Secret{Key: "secret", Value: "inline", File: file}, wantErr: "config.secret_file: given together with config.secret"},
		{s: providers.Secret{Key: "account_key", File: filepath.Join(dir, "missing")}, wantErr: "config.account_key_file: cannot read " + filepath.Join(dir, "missing") + ": no such file"},
		{s: providers.Secret{Key: "secret", File: empty}, wantErr: "config.secret_file: " + empty + " is empty"},
	} {
		got, err := tc.s.Resolve()
		switch {
		case tc.wantErr != "":
			if !errors.Is(err, providers.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v.Resolve() = %v, want InvalidArgument containing %q", tc.s, err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "inline") || strings.Contains(err.Error(), "from-a-file") {
				t.Errorf("%v.Resolve() error quotes the secret: %v", tc.s, err)
			}
		case err != nil || string(got) != tc.want:
			t.Errorf("%v.Resolve() = %q, %v; want %q", tc.s, got, err, tc.want)
		}
	}
	if s := fmt.Sprint(providers.Secret{Key: "secret", Value: "hunter2"}); strings.Contains(s, "hunter2") {
		t.Errorf("a Secret prints its value: %s", s)
	}
}
