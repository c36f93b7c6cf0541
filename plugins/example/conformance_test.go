package main

import (
	"testing"

	"github.com/valetgw/valet/plugins/plugintest"
	"github.com/valetgw/valet/providers"
	"github.com/valetgw/valet/providers/providertest"
)

// testConfig is the store's config block in the tests, and suite the
// suite's settings for it: the key that takes a secret (and secret_file)
// and an origin the config allows, so the Configure and CORS checks run.
var (
	testConfig = []byte(`{"secret":"s3cret","cors_origins":["https://app.example"]}`)
	suite      = providertest.Harness{SecretKeys: []string{"secret"}, CORSOrigin: "https://app.example"}
)

// The provider passes the conformance suite in process...
func TestConformanceInProcess(t *testing.T) {
	s := &store{objects: map[string]object{}}
	if err := s.Configure(t.Context(), providers.StoreConfig{Store: "demo", Config: testConfig}); err != nil {
		t.Fatal(err)
	}
	h := suite
	h.Provider, h.Config = s, testConfig
	providertest.Run(t, h)
}

// ...and through a real plugin process: built from this folder, found in
// a plugin directory, pinned, and started by a plugin host, as the gateway
// runs it. This one call is the test every plugin should have.
func TestConformanceThroughPlugin(t *testing.T) {
	plugintest.Run(t, ".", plugintest.Options{StoreConfig: testConfig, Suite: suite})
}
