package e2e

import (
	"encoding/json"
	"testing"
)

// backend is one real storage backend that the gateway and browser suites
// run against. The suites are written once; only the store config differs.
type backend struct {
	// Name labels subtests, e.g. "local", "s3-versitygw", "minio", "gcs", "azure".
	Name string
	// Provider is the store's provider name in Valet's config.
	Provider string
	// Setup starts (or reuses) the server, creates a fresh bucket or
	// container that allows CORS from origins, and returns the store's
	// provider config (stores.NAME.config). It calls testenv.Unavailable
	// when the server cannot run.
	Setup func(t *testing.T, origins []string) map[string]any
	// MinPartSize is the smallest part the backend accepts (0 = none).
	MinPartSize int64
}

var backends []backend

// registerBackend is called from init() in each backend's e2e file.
func registerBackend(b backend) { backends = append(backends, b) }

// jsonOf is v as JSON, for a store config handed to the conformance suite.
func jsonOf(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
