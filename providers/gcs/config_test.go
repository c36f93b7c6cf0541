package gcs

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valetgw/valet/providers"
)

func TestConfigErrors(t *testing.T) {
	_, creds := testKey(t)
	dir := t.TempDir()
	credFile := filepath.Join(dir, "sa.json")
	if err := os.WriteFile(credFile, creds, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	cases := []struct {
		cfg     string
		wantErr string // substring; "" = valid
	}{
		{`{}`, "config.bucket: required"},
		{`{"bucket":"b1","bukket":"x"}`, "config.bukket: unknown key"},
		{`{"bucket":"B!"}`, "config.bucket: "},
		{`{"bucket":"media"}`, "config.credentials: the key signer needs"},
		{`{"bucket":"media","credentials_file":"` + credFile + `"}`, ""},
		{`{"bucket":"media","credentials":` + string(creds) + `}`, ""},
		{`{"bucket":"media","credentials":"not json"}`, "config.credentials: not a JSON service-account key"},
		{`{"bucket":"media","credentials_file":"/nonexistent/sa.json"}`, "config.credentials_file:"},
		{`{"bucket":"media","signer":"iam"}`, "config.google_access_id: required"},
		{`{"bucket":"media","signer":"iam","google_access_id":"sa@p.iam.gserviceaccount.com"}`, ""},
		{`{"bucket":"media","signer":"hmac","hmac_access_id":"GOOG1X"}`, "config.secret: required"},
		{`{"bucket":"media","signer":"hmac","hmac_access_id":"GOOG1X","secret":"s","secret_file":"f"}`, "not both"},
		{`{"bucket":"media","signer":"hmac","hmac_access_id":"GOOG1X","secret":"s"}`, ""},
		{`{"bucket":"media","signer":"rsa"}`, "config.signer: want key, iam or hmac"},
		{`{"bucket":"media","signer":"hmac","hmac_access_id":"G","secret":"s","signing_scheme":"ftp"}`, "config.signing_scheme"},
		{`{"bucket":"media","signer":"hmac","hmac_access_id":"G","secret":"s","url_style":"bucket_bound"}`, "config.signing_host: required"},
		{`{"bucket":"media","signer":"hmac","hmac_access_id":"G","secret":"s","parts_prefix":"tmp"}`, "config.parts_prefix"},
		{`{"bucket":"media","signer":"hmac","hmac_access_id":"G","secret":"s","sweep_after":"soon"}`, "config.sweep_after"},
		{`{"bucket":"media","signer":"hmac","hmac_access_id":"G","secret":"s","endpoint":"127.0.0.1:1"}`, "config.endpoint"},
	}
	for _, tc := range cases {
		_, err := parseConfig(json.RawMessage(tc.cfg))
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tc.cfg, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%.80s: error %v, want it to contain %q", tc.cfg, err, tc.wantErr)
		case err != nil && providers.CodeOf(err) != providers.InvalidArgument:
			t.Errorf("%s: code %s, want InvalidArgument", tc.cfg, providers.CodeOf(err))
		}
		if err != nil && strings.Contains(err.Error(), "PRIVATE KEY") {
			t.Errorf("error leaks the private key: %v", err)
		}
	}
}

func TestSecretNeverInErrors(t *testing.T) {
	p := New()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err := p.Configure(ctx, providers.StoreConfig{Store: "s", Config: json.RawMessage(
		`{"bucket":"media","signer":"hmac","hmac_access_id":"G","secret":"TOPSECRETVALUE","endpoint":"http://127.0.0.1:1/storage/v1/","without_authentication":true}`)})
	if err == nil || strings.Contains(err.Error(), "TOPSECRETVALUE") {
		t.Fatalf("want an Unavailable error without the secret, got %v", err)
	}
	if providers.CodeOf(err) != providers.Unavailable {
		t.Fatalf("unreachable endpoint: code %s, want Unavailable (%v)", providers.CodeOf(err), err)
	}
}
