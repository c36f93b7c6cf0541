package config

import (
	"strings"
	"testing"

	"github.com/valetgw/valet/internal/testenv"
)

// Errors that say what to do (issue M2.9, item 5).
func TestErrorsSayWhatToDo(t *testing.T) {
	for _, tt := range []struct {
		name, body string
		env        []string
		want       []string
		not        []string
	}{
		{"did you mean", strings.Replace(base, "cors_origins:", "cors_origin:", 1), nil,
			[]string{"server.cors_origin: unknown key (did you mean cors_origins?)"}, nil},
		{"did you mean in a store", base + "    limts: {}\n", nil,
			[]string{"stores.media.limts: unknown key (did you mean limits?)"}, nil},
		{"nothing near", base + "bogus: 1\n", nil, []string{"bogus: unknown key"}, []string{"did you mean"}},
		{"unknown key from the environment", base, []string{"VALET_SERVER__CORS_ORIGIN=http://a.example"},
			[]string{"server.cors_origin: unknown key (did you mean cors_origins?) (from VALET_SERVER__CORS_ORIGIN)"}, nil},
		{"bad value from the environment", base, []string{"VALET_SERVER__PROVIDER_TIMEOUT=5 min"},
			[]string{`server.provider_timeout: `, `"5 min"`, "(from VALET_SERVER__PROVIDER_TIMEOUT)"}, nil},
		{"a list item from the environment", base, []string{"VALET_SERVER__CORS_ORIGINS=http://ok.example,nope"},
			[]string{`server.cors_origins[1]: must be an origin`, "(from VALET_SERVER__CORS_ORIGINS)"}, nil},
		{"validation from the environment", base, []string{"VALET_TOKENS__SECRET=short"},
			[]string{"tokens.secret: must be at least 32 bytes (from VALET_TOKENS__SECRET)"}, nil},
		{"not from the environment", strings.Replace(base, "put_ttl: 10m", "put_ttl: soon", 1), []string{"VALET_SERVER__LISTEN=:1"},
			[]string{"stores.media.limits.put_ttl"}, []string{"(from VALET_"}},
		{"unquoted rule", strings.Replace(base, "upload: 'true'", "upload: true", 1), nil,
			[]string{`stores.media.rules.upload: true is a YAML bool, not a rule: quote it (upload: "true")`}, nil},
		{"a number for a rule", strings.Replace(base, "upload: 'true'", "upload: 1", 1), nil,
			[]string{`stores.media.rules.upload: 1 is a YAML int`}, nil},
		{"bad duration", strings.Replace(base, "put_ttl: 10m", "put_ttl: 7d", 1), nil,
			[]string{`stores.media.limits.put_ttl: invalid duration "7d" (unknown unit "d"): valid units are ns, us, ms, s, m and h`}, nil},
		{"duration without a unit", strings.Replace(base, "put_ttl: 10m", "put_ttl: '10'", 1), nil,
			[]string{`stores.media.limits.put_ttl: invalid duration "10" (missing unit): valid units are`}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := tt.env
			if env == nil {
				env = []string{}
			}
			_, err := Load(Options{File: write(t, "v.yaml", tt.body), Environ: env})
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			testenv.ErrorMentions(t, err, tt.want, tt.not)
		})
	}
}

func TestEmptyRulesWarn(t *testing.T) {
	cfg, err := Load(Options{File: write(t, "v.yaml", base), Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(cfg.Warnings(), "\n")
	want := `stores.media.rules: delete and list are empty: every delete and list request will be denied`
	if !strings.Contains(got, want) {
		t.Fatalf("Warnings() = %q, want %q", got, want)
	}
	cfg.Stores["media"] = func(s StoreConfig) StoreConfig {
		s.Rules.Delete, s.Rules.List = "false", "true"
		return s
	}(cfg.Stores["media"])
	if w := cfg.Warnings(); len(w) != 0 {
		t.Fatalf("Warnings() with every rule set = %q, want none", w)
	}
	cfg.Stores["media"] = func(s StoreConfig) StoreConfig { s.Rules.Read = " "; return s }(cfg.Stores["media"])
	if w := strings.Join(cfg.Warnings(), "\n"); !strings.Contains(w, "stores.media.rules.read is empty: every read request will be denied") {
		t.Fatalf("Warnings() with a blank read rule = %q", w)
	}
}

func TestRestartOnly(t *testing.T) {
	old, err := Load(Options{File: write(t, "v.yaml", base), Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	same, err := Load(Options{File: write(t, "v.yaml", base), Environ: []string{"VALET_SERVER__PROVIDER_TIMEOUT=1m"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := RestartOnly(old, same); len(got) != 0 {
		t.Fatalf("RestartOnly with only reloadable changes = %q, want none", got)
	}
	moved, err := Load(Options{File: write(t, "v.yaml", base), Environ: []string{"VALET_SERVER__LISTEN=:9001", "VALET_SERVER__ADMIN_LISTEN=127.0.0.1:9090"}})
	if err != nil {
		t.Fatal(err)
	}
	got := RestartOnly(old, moved)
	if len(got) != 2 ||
		got[0] != `server.listen changed from ":9000" to ":9001" but was not applied: it takes effect when the gateway restarts, and until then it still listens on ":9000"` ||
		!strings.HasPrefix(got[1], `server.admin_listen changed from "" to "127.0.0.1:9090" but was not applied`) {
		t.Fatalf("RestartOnly = %q", got)
	}
}
