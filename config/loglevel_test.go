package config

import (
	"strings"
	"testing"
)

func TestLogLevel(t *testing.T) {
	body := `
auth: { anonymous: { enabled: true } }
tokens: { secret: "` + secret32 + `" }
stores: { m: { provider: local, rules: { upload: 'true' } } }
`
	cfg, err := Load(Options{File: write(t, "valet.yaml", body), Environ: []string{}})
	if err != nil || cfg.Server.LogLevel != "info" {
		t.Fatalf("default: %v %q", err, cfg.Server.LogLevel)
	}
	cfg, err = Load(Options{File: write(t, "valet.yaml", body), Environ: []string{"VALET_SERVER__LOG_LEVEL=debug"}})
	if err != nil || cfg.Server.LogLevel != "debug" {
		t.Fatalf("from the environment: %v %q", err, cfg.Server.LogLevel)
	}
	_, err = Load(Options{File: write(t, "valet.yaml", body), Environ: []string{"VALET_SERVER__LOG_LEVEL=verbose"}})
	if err == nil || !strings.Contains(err.Error(), `server.log_level: must be one of debug, info, warn, error, got "verbose"`) {
		t.Fatalf("bad level: %v", err)
	}
}
