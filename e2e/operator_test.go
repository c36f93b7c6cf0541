package e2e

import (
	"encoding/base64"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/valetgw/valet/internal/testenv"
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

// A wrong MinIO secret fails `valet config check` (non-zero, naming the
// store and the server's reason) and the gateway's start, instead of
// passing every check and failing the first upload; the right one passes.
func TestWrongCredentialFailsChecks(t *testing.T) {
	srv := testenv.MinIO(t)
	bucket := srv.CreateBucket(t, "valet")
	store := func(secret string) map[string]any {
		return map[string]any{"provider": "minio", "rules": map[string]any{"upload": "true"},
			"config": map[string]any{"bucket": bucket, "region": srv.Region, "endpoint": srv.Endpoint,
				"access_key_id": srv.AccessKey, "secret_access_key": secret}}
	}
	good := newGatewayEnv(t, map[string]any{"demo": store(srv.SecretKey)})
	if out, errs, code := valet(t, "config", "check", "--config", good.ConfigPath); code != 0 {
		t.Fatalf("config check with the right secret: exit %d\n%s\n%s", code, out, errs)
	}

	const wrong = "not-the-minio-secret-123"
	bad := newGatewayEnv(t, map[string]any{"demo": store(wrong)})
	_, errs, code := valet(t, "config", "check", "--config", bad.ConfigPath)
	if code == 0 || !strings.Contains(errs, "stores.demo") || !strings.Contains(errs, "does not accept the credentials") ||
		!strings.Contains(errs, "SignatureDoesNotMatch") {
		t.Fatalf("config check with a wrong secret: exit %d, stderr:\n%s", code, errs)
	}
	if strings.Contains(errs, wrong) {
		t.Errorf("config check prints the secret:\n%s", errs)
	}

	// valet serve refuses to start on it, with the same reason.
	cmd := exec.Command(testenv.ValetBinary(t), "serve", "--config", bad.ConfigPath, "--listen", "127.0.0.1:0")
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("valet serve with a wrong secret kept running:\n%s", out)
	}
	if err == nil || !strings.Contains(string(out), "stores.demo") || !strings.Contains(string(out), "SignatureDoesNotMatch") {
		t.Fatalf("valet serve with a wrong secret: %v\n%s", err, out)
	}
	if strings.Contains(string(out), wrong) {
		t.Errorf("valet serve logs the secret:\n%s", out)
	}
}

// The same for Azure: a wrong account key (Azure answers
// AuthenticationFailed, Azurite AuthorizationFailure; an account key grants
// everything, so either means the key is wrong) fails `valet config check`,
// naming the store.
func TestWrongAzureKeyFailsCheck(t *testing.T) {
	az := testenv.SharedAzurite(t)
	cont := az.NewContainer(t)
	cfg := azureStoreConfig(t, az, cont)
	delete(cfg, "account_key_file")
	cfg["account_key"] = base64.StdEncoding.EncodeToString([]byte("a wrong account key, 64 bytes long, base64 like the real ones"))
	env := newGatewayEnv(t, map[string]any{"demo": map[string]any{"provider": "azure", "config": cfg, "rules": map[string]any{"upload": "true"}}})
	_, errs, code := valet(t, "config", "check", "--config", env.ConfigPath)
	if code == 0 || !strings.Contains(errs, "stores.demo") || !strings.Contains(errs, "does not accept the credentials") ||
		!(strings.Contains(errs, "AuthenticationFailed") || strings.Contains(errs, "AuthorizationFailure")) {
		t.Fatalf("config check with a wrong account key: exit %d, stderr:\n%s", code, errs)
	}
	if strings.Contains(errs, cfg["account_key"].(string)) {
		t.Errorf("config check prints the key:\n%s", errs)
	}
}
