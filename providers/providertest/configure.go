package providertest

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/valetgw/valet/providers"
)

// The Configure checks: the contract's rules for a store's config block
// (strict decoding, a secret given once, a second call harmless, a replay
// after a restart), which a provider may otherwise break unnoticed because
// every other check runs after Configure succeeded.

// configStore is the store name the suite configures with.
const configStore = "providertest"

// configWith is Harness.Config with the given keys set (nil deletes).
func (s *suite) configWith(t *testing.T, set map[string]any) json.RawMessage {
	t.Helper()
	m := map[string]any{}
	if len(s.h.Config) > 0 {
		if err := json.Unmarshal(s.h.Config, &m); err != nil {
			t.Fatalf("providertest: Harness.Config is not a JSON object: %v", err)
		}
	}
	for k, v := range set {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (s *suite) needConfig(t *testing.T) {
	t.Helper()
	if s.h.Config == nil {
		t.Skip("no Harness.Config: give the config the provider was configured with to check Configure")
	}
}

func (s *suite) testConfigureUnknownKey(t *testing.T) {
	s.needConfig(t)
	const key = "providertest_unknown_key"
	err := s.p.Configure(t.Context(), providers.StoreConfig{Store: configStore, Config: s.configWith(t, map[string]any{key: true})})
	if err == nil {
		t.Fatalf("Configure with an unknown key %q succeeded: decode the config strictly (providers.DecodeConfig), so a misspelt key is an error and not a silent default", key)
	}
	if !errors.Is(err, providers.ErrInvalidArgument) {
		s.codes.skipIfCause(t, err, providers.InvalidArgument)
		t.Fatalf("Configure with an unknown key: %s, want code InvalidArgument", errText(err))
	}
	if !strings.Contains(err.Error(), key) {
		t.Fatalf("Configure with an unknown key: %s does not name the key %q", errText(err), key)
	}
}

func (s *suite) testConfigureSecretTwice(t *testing.T) {
	s.needConfig(t)
	if len(s.h.SecretKeys) == 0 {
		t.Skip("no Harness.SecretKeys: name the config keys that take a secret (and KEY_file) to check them")
	}
	for _, key := range s.h.SecretKeys {
		inline, inFile := "providertest-inline-"+randomID()+randomID(), "providertest-file-"+randomID()+randomID()
		file := filepath.Join(t.TempDir(), "secret")
		if err := os.WriteFile(file, []byte(inFile+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := s.configWith(t, map[string]any{key: inline, key + "_file": file})
		err := s.p.Configure(t.Context(), providers.StoreConfig{Store: configStore, Config: cfg})
		if err == nil {
			t.Errorf("Configure with both %s and %s_file succeeded: refuse it, so it is clear which one is used (providers.Secret)", key, key)
			continue
		}
		if !errors.Is(err, providers.ErrInvalidArgument) {
			s.codes.skipIfCause(t, err, providers.InvalidArgument)
			t.Errorf("Configure with both %s and %s_file: %s, want code InvalidArgument", key, key, errText(err))
		}
		msg := err.Error()
		if !strings.Contains(msg, key) {
			t.Errorf("Configure with both %s and %s_file: %s does not name the key", key, key, errText(err))
		}
		if strings.Contains(msg, inline) || strings.Contains(msg, inFile) {
			t.Errorf("Configure with both %s and %s_file: the error quotes a secret", key, key)
		}
	}
}

// testConfigureAgain calls Configure a second time with the same config,
// as a reload does: a URL signed before still works, and so does the store.
func (s *suite) testConfigureAgain(t *testing.T) {
	s.needConfig(t)
	key := s.key(t, "before-reconfigure.bin")
	body := []byte("signed before the second Configure")
	s.put(t, key, body, putOpts{})
	before := s.signGet(t, providers.GetRequest{Key: key})
	if err := s.p.Configure(t.Context(), providers.StoreConfig{Store: configStore, Config: s.h.Config}); err != nil {
		t.Fatalf("a second Configure with the same config: %s, want it to succeed (the host calls it again on a restart or a reload)", errText(err))
	}
	if res := s.send(t, before, nil, nil); res.Status != http.StatusOK {
		t.Fatalf("a GET URL signed before the second Configure: status %d, want 200 (the same config must keep the same signing key); body: %s", res.Status, res.Snippet())
	}
	s.mustGet(t, key, body)
	again := s.key(t, "after-reconfigure.bin")
	s.put(t, again, body, putOpts{})
	s.mustGet(t, again, body)
}

// testConfigureReplay restarts the provider (Harness.Restart) and checks
// that the store works on the config the host replayed.
func (s *suite) testConfigureReplay(t *testing.T) {
	if s.h.Restart == nil {
		t.Skip("no Harness.Restart (plugintest.Run sets one that kills the plugin process)")
	}
	s.h.Restart(t)
	key := s.key(t, "after-restart.bin")
	body := []byte("written after a restart, on the replayed config")
	s.put(t, key, body, putOpts{contentType: "text/plain"})
	s.mustGet(t, key, body)
	obj, err := s.p.Head(t.Context(), providers.HeadRequest{Key: key})
	if err != nil || obj.Size != int64(len(body)) {
		t.Fatalf("Head after a restart: size %d, %s; want %d bytes", obj.Size, errText(err), len(body))
	}
}
