package e2e

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/valetgw/valet/internal/testenv"
	"github.com/valetgw/valet/plugins/host"
)

// startPlugin runs the built-in provider as a real plugin process
// (`valet plugin serve NAME`, supervised by plugins/host), configured with
// cfg for a store named store. The host and the process stop in t.Cleanup.
func startPlugin(t *testing.T, provider, store string, cfg map[string]any, envAllow ...string) *host.Plugin {
	t.Helper()
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h, err := host.New(host.Options{
		Executable: testenv.ValetBinary(t),
		Builtins:   []string{provider},
		EnvAllow:   envAllow,
		Logger:     hclog.New(&hclog.LoggerOptions{Name: "host", Level: hclog.Warn, Output: os.Stderr}),
	})
	if err != nil {
		t.Fatalf("host.New: %v", err)
	}
	t.Cleanup(func() { _ = h.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := h.Start(ctx, host.Spec{Store: store, Plugin: provider, Config: raw})
	if err != nil {
		t.Fatalf("start plugin %s: %v", provider, err)
	}
	return p
}
