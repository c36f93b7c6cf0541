package local

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/valetgw/valet/providers"
	"github.com/valetgw/valet/providers/providertest"
)

// configure configures p with cfg and returns the config as JSON.
func configure(t *testing.T, p *Provider, cfg map[string]any) json.RawMessage {
	t.Helper()
	raw, _ := json.Marshal(cfg)
	if err := p.Configure(t.Context(), providers.StoreConfig{Store: "test", Config: raw}); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return raw
}

func testConfig(t *testing.T) map[string]any {
	return map[string]any{
		"root":   t.TempDir(),
		"listen": "127.0.0.1:0",
		"secret": "0123456789abcdef0123456789abcdef",
	}
}

func TestConformance(t *testing.T) {
	p := NewWithClock(time.Now)
	raw := configure(t, p, testConfig(t))
	providertest.Run(t, providertest.Harness{Provider: p, Config: raw, SecretKeys: []string{"secret"}})
}

var timeNow = time.Now
