package core

import (
	"strings"
	"testing"

	"github.com/valetgw/valet/config"
	"github.com/valetgw/valet/core/hooks"
)

// A store's merged hooks config compiles into its hook; a store without a
// URL has none, and a secret that does not decode is an error naming the
// store's key (config's Validate catches it first for a loaded config).
func TestCompileStoreHook(t *testing.T) {
	secret := "whsec_" + strings.Repeat("QUFB", 8) // 24 bytes of "A"
	cs, err := compileStore("media", config.StoreConfig{KeyTemplate: config.DefaultKeyTemplate,
		Hooks: config.HooksConfig{URL: "http://127.0.0.1:9/hook", Secret: secret, Events: []string{"upload.complete"}}})
	if err != nil {
		t.Fatal(err)
	}
	if cs.hook == nil || cs.hook.Store() != "media" || !cs.hook.Wants(hooks.UploadComplete) || cs.hook.Wants(hooks.UploadCreate) {
		t.Errorf("hook %+v", cs.hook)
	}
	cs, err = compileStore("media", config.StoreConfig{KeyTemplate: config.DefaultKeyTemplate})
	if err != nil || cs.hook != nil {
		t.Errorf("no hooks config: hook %v, err %v", cs.hook, err)
	}
	_, err = compileStore("media", config.StoreConfig{KeyTemplate: config.DefaultKeyTemplate,
		Hooks: config.HooksConfig{URL: "http://127.0.0.1:9/hook", Secret: "whsec_short"}})
	if err == nil || !strings.Contains(err.Error(), "stores.media.hooks: secret 1 ") || strings.Contains(err.Error(), "whsec_short") {
		t.Errorf("bad secret: %v", err)
	}
}

// Check loads a config with hooks (a default and a store's own) and
// accepts it; a bad hook setting fails it with its key.
func TestCheckHooks(t *testing.T) {
	secret := "whsec_" + strings.Repeat("QUFB", 8)
	if err := checkBody(t, `{ provider: local, hooks: { url: "https://app.example/hook", secret: "`+secret+`", events: [upload.create] } }`); err != nil {
		t.Errorf("good hook: %v", err)
	}
	if err := checkBody(t, `{ provider: local, hooks: { url: "https://app.example/hook", secret: "`+secret+`", events: [upload.created] } }`); err == nil || !strings.Contains(err.Error(), `stores.media.hooks.events[0]: unknown event "upload.created"`) {
		t.Errorf("bad event: %v", err)
	}
}
