package e2e

import (
	"testing"

	"github.com/valetgw/valet/internal/testenv"
)

// The local provider is its own server: the plugin process serves signed
// requests on its own listener, so there is nothing to start here beyond a
// fresh root directory and port.
func init() {
	registerBackend(backend{
		Name:     "local",
		Provider: "local",
		Setup: func(t *testing.T, origins []string) map[string]any {
			port := testenv.FreePort(t)
			return map[string]any{
				"root":         t.TempDir(),
				"listen":       testenv.Addr(port),
				"public_url":   "http://" + testenv.Addr(port),
				"cors_origins": origins,
				"secret":       randomSecret(t),
			}
		},
	})
}
