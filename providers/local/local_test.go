package local

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/valetgw/valet/providers"
	"github.com/valetgw/valet/providers/providertest"
)

func configure(t *testing.T, p *Provider, cfg map[string]any) {
	t.Helper()
	raw, _ := json.Marshal(cfg)
	if err := p.Configure(t.Context(), providers.StoreConfig{Store: "test", Config: raw}); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	t.Cleanup(func() { p.Close() })
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
	cfg := testConfig(t)
	configure(t, p, cfg)
	raw, _ := json.Marshal(cfg)
	providertest.Run(t, providertest.Harness{Provider: p, Config: raw, SecretKeys: []string{"secret"}})
}

var timeNow = time.Now
