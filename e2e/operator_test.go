package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// valet presign clamps --ttl as the API does: to the store's
// limits.max_ttl, then to the provider's maximum expiry, says so on
// stderr with the expiry it signed, and --help documents it.
func TestPresignClampsTTL(t *testing.T) {
	b := localBackend(t)
	capped := b.Setup(t, []string{testOrigin})
	capped["max_expiry"] = "2h" // the local provider's own MaxExpiry
	env := newGatewayEnv(t, map[string]any{
		"media": map[string]any{"provider": b.Provider, "config": b.Setup(t, []string{testOrigin}),
			"limits": map[string]any{"max_ttl": "1h"}, "rules": map[string]any{"read": "true"}},
		"long": map[string]any{"provider": b.Provider, "config": capped,
			"limits": map[string]any{"max_ttl": "48h"}, "rules": map[string]any{"read": "true"}},
	})
	for _, tc := range []struct {
		store, ttl string
		want       time.Duration
		note       string
	}{
		{"media", "100h", time.Hour, "valet: --ttl 100h0m0s clamped to 1h0m0s by stores.media.limits.max_ttl"},
		{"media", "10m", 10 * time.Minute, ""},
		{"long", "30h", 2 * time.Hour, "valet: --ttl 30h0m0s clamped to 2h0m0s by the provider's maximum expiry"},
	} {
		before := time.Now()
		out, errs, code := valet(t, "presign", "--config", env.ConfigPath, "--store", tc.store, "--method", "GET", "--key", "a/b.txt", "--ttl", tc.ttl, "--json")
		if code != 0 {
			t.Fatalf("%s --ttl %s: exit %d: %s", tc.store, tc.ttl, code, errs)
		}
		var r struct {
			ExpiresAt time.Time `json:"expires_at"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%s: %v", out, err)
		}
		// The signed expiry is the clamped TTL from about now: minutes of
		// slack for a loaded machine, far below the hours clamped away.
		if d := r.ExpiresAt.Sub(before); d < tc.want-time.Second || d > tc.want+5*time.Minute {
			t.Errorf("%s --ttl %s: expires in %s, want %s", tc.store, tc.ttl, d, tc.want)
		}
		if tc.note != "" && !strings.Contains(errs, tc.note) {
			t.Errorf("%s --ttl %s: stderr %q lacks %q", tc.store, tc.ttl, errs, tc.note)
		}
		if tc.note == "" && strings.Contains(errs, "clamped") {
			t.Errorf("%s --ttl %s: unclamped, yet stderr %q", tc.store, tc.ttl, errs)
		}
		if want := "valet: expires at " + r.ExpiresAt.UTC().Format(time.RFC3339); !strings.Contains(errs, want) {
			t.Errorf("stderr %q lacks %q", errs, want)
		}
	}
	help, _, _ := valet(t, "presign", "--help")
	if !strings.Contains(help, "limits.max_ttl") || !strings.Contains(help, "maximum expiry") {
		t.Errorf("presign --help does not say --ttl is clamped:\n%s", help)
	}
}
