package azure

import (
	"testing"

	"github.com/valetgw/valet/providers/providertest"
)

// TestConformance runs the suite in process against Azurite. e2e/ runs it
// again through a plugin process.
func TestConformance(t *testing.T) {
	p, _, cfg := azuriteProviderConfig(t)
	providertest.Run(t, providertest.Harness{Provider: p, PartSize: 1 << 20, Config: cfg, SecretKeys: []string{"account_key"}})
}
