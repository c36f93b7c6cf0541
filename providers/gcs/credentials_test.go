package gcs

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/valetgw/valet/providers"
)

// A service-account key Google does not accept fails Configure as
// Unauthenticated, naming the OAuth error code (invalid_grant) and not the
// server's description; a known account refused the bucket listing (403, a
// least-privilege role) is accepted.
func TestConfigureCredentials(t *testing.T) {
	var tokenCalls atomic.Int32
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tokenCalls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error":"invalid_grant","error_description":"Invalid JWT Signature. secret-detail"}`))
	}))
	defer tokens.Close()
	var listStatus atomic.Int32
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		st := int(listStatus.Load())
		w.WriteHeader(st)
		fmt.Fprintf(w, `{"error":{"code":%d,"message":"refused"}}`, st)
	}))
	defer api.Close()

	_, creds := testKey(t)
	var sa map[string]string
	json.Unmarshal(creds, &sa)
	sa["token_uri"] = tokens.URL + "/token"
	withURI, _ := json.Marshal(sa)
	cfg, _ := json.Marshal(map[string]any{"bucket": "media", "endpoint": api.URL + "/storage/v1/", "credentials": json.RawMessage(withURI)})

	listStatus.Store(http.StatusForbidden)
	err := New().Configure(t.Context(), providers.StoreConfig{Store: "s", Config: cfg})
	if providers.CodeOf(err) != providers.Unauthenticated || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("refused key: %v (token endpoint called %d times), want Unauthenticated naming invalid_grant", err, tokenCalls.Load())
	}
	if strings.Contains(err.Error(), "secret-detail") || strings.Contains(err.Error(), "PRIVATE KEY") {
		t.Errorf("error quotes the token server's description or the key: %v", err)
	}

	// Without authentication (as against an emulator) a 403 on the listing
	// is a least-privilege account, a 401 a refused one.
	cfg, _ = json.Marshal(map[string]any{"bucket": "media", "endpoint": api.URL + "/storage/v1/", "without_authentication": true,
		"signer": "hmac", "hmac_access_id": "GOOG1X", "secret": "s"})
	if err := New().Configure(t.Context(), providers.StoreConfig{Store: "s", Config: cfg}); err != nil {
		t.Errorf("403 on the listing: %v, want accepted", err)
	}
	listStatus.Store(http.StatusUnauthorized)
	if err := New().Configure(t.Context(), providers.StoreConfig{Store: "s", Config: cfg}); providers.CodeOf(err) != providers.Unauthenticated {
		t.Errorf("401 on the listing: %v, want Unauthenticated", err)
	}
}
