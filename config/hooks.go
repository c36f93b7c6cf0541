package config

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
)

// HooksConfig is a store's webhook: where Valet POSTs its signed events
// (see core/hooks) and which events it sends.
//
// The top-level hooks block is every store's default. Load merges it into
// each store's own block field by field: a store's url, events and timeout
// replace the default's, and its secret, secret_file and secrets replace the
// default's three together. A store opts out of a default hook with
// `events: []`. A Config built by hand (not by Load) sets each store's
// block itself.
type HooksConfig struct {
	// URL receives the events; an absolute http(s) URL. Empty: no hook.
	URL string `koanf:"url"`
	// Secret, SecretFile and Secrets give the signing secrets, each
	// "whsec_" followed by base64 (the Standard Webhooks form); set exactly
	// one. Every delivery is signed with every secret, so a secret is
	// rotated by listing the new one beside the old, updating the receiver,
	// then dropping the old one. SecretFile holds one or more secrets, one
	// per line.
	Secret     string   `koanf:"secret"`
	SecretFile string   `koanf:"secret_file"`
	Secrets    []string `koanf:"secrets"`
	// Events are the event types delivered (see HookEvents); unset means
	// all of them, and an explicit empty list none.
	Events []string `koanf:"events"`
	// Timeout bounds one event's delivery, every attempt included.
	Timeout Duration `koanf:"timeout"`

	// fileSecrets are SecretFile's secrets, read by Load.
	fileSecrets []string
}

// The hook event types a store can subscribe to.
const (
	// EventUploadCreate is sent before an upload is signed; the receiver may
	// refuse it or add metadata.
	EventUploadCreate = "upload.create"
	// EventUploadComplete is sent once an upload has been verified; the
	// receiver may refuse it, and its answer is returned to the client.
	EventUploadComplete = "upload.complete"
	// EventObjectDelete is sent when an object is deleted through the API,
	// before it is removed, so that a refusal keeps it.
	EventObjectDelete = "object.delete"
)

// HookEvents lists every event type, in the order of an upload's life.
var HookEvents = []string{EventUploadCreate, EventUploadComplete, EventObjectDelete}

// Hook delivery bounds: DefaultHookTimeout is hooks.timeout when unset;
// MinHookTimeout and MaxHookTimeout bound what it accepts. The upper bound
// keeps a slow receiver from holding an API request for long.
const (
	DefaultHookTimeout = 5 * time.Second
	MinHookTimeout     = 100 * time.Millisecond
	MaxHookTimeout     = time.Minute
)

// WebhookSecretPrefix starts every hook secret.
const WebhookSecretPrefix = "whsec_"

// Hook secret key sizes, as the Standard Webhooks specification recommends.
const (
	MinWebhookSecretBytes = 24
	MaxWebhookSecretBytes = 64
)

// SigningSecrets returns the secrets every delivery is signed with: Secrets,
// or Secret, or what Load read from SecretFile.
func (h HooksConfig) SigningSecrets() []string {
	switch {
	case len(h.Secrets) > 0:
		return h.Secrets
	case h.Secret != "":
		return []string{h.Secret}
	}
	return h.fileSecrets
}

// hasSecretSource reports whether the block gives its secrets itself.
func (h HooksConfig) hasSecretSource() bool {
	return h.Secret != "" || h.SecretFile != "" || len(h.Secrets) > 0
}

// WebhookSecretKey decodes a "whsec_..." secret into the HMAC key. Its error
// says what is wrong with the secret and never quotes it.
func WebhookSecretKey(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(secret, WebhookSecretPrefix)
	if !ok {
		return nil, fmt.Errorf("must start with %q (the Standard Webhooks form: %s followed by the base64 of %d to %d random bytes)", WebhookSecretPrefix, WebhookSecretPrefix, MinWebhookSecretBytes, MaxWebhookSecretBytes)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("is not %s followed by standard base64 (with padding)", WebhookSecretPrefix)
	}
	if len(key) < MinWebhookSecretBytes || len(key) > MaxWebhookSecretBytes {
		return nil, fmt.Errorf("decodes to %d bytes; want %d to %d", len(key), MinWebhookSecretBytes, MaxWebhookSecretBytes)
	}
	return key, nil
}

// readHookSecrets reads the SecretFile of the top-level hooks block and of
// every store's own block, before they are merged, so an error names the
// block that set the file.
func (c *Config) readHookSecrets() []error {
	var errs []error
	read := func(key string, h *HooksConfig) {
		if h.SecretFile == "" {
			return
		}
		if h.Secret != "" || len(h.Secrets) > 0 {
			errs = append(errs, fmt.Errorf("%s.secret_file: set together with %s.secret or %s.secrets; use one", key, key, key))
			return
		}
		b, err := os.ReadFile(h.SecretFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.secret_file: %w", key, err))
			return
		}
		h.fileSecrets = strings.Fields(string(b))
		if len(h.fileSecrets) == 0 {
			errs = append(errs, fmt.Errorf("%s.secret_file: %s is empty", key, h.SecretFile))
		}
	}
	read("hooks", &c.Hooks)
	for _, name := range c.StoreNames() {
		s := c.Stores[name]
		read("stores."+name+".hooks", &s.Hooks)
		c.Stores[name] = s
	}
	return errs
}

// mergeHooks gives every store the top-level hooks block's settings it does
// not set itself, and the defaults of a store with a URL.
func (c *Config) mergeHooks() {
	g := c.Hooks
	for name, s := range c.Stores {
		h := &s.Hooks
		if h.URL == "" {
			h.URL = g.URL
		}
		if !h.hasSecretSource() {
			h.Secret, h.SecretFile, h.Secrets, h.fileSecrets = g.Secret, g.SecretFile, slices.Clone(g.Secrets), slices.Clone(g.fileSecrets)
		}
		if h.Events == nil {
			h.Events = slices.Clone(g.Events)
		}
		if h.Timeout == 0 {
			h.Timeout = g.Timeout
		}
		if h.URL != "" {
			if h.Events == nil {
				h.Events = slices.Clone(HookEvents)
			}
			if h.Timeout == 0 {
				h.Timeout = DefaultHookTimeout
			}
		}
		c.Stores[name] = s
	}
}

// validateHooks checks the top-level hooks block (key "hooks") and each
// store's merged block. A store's setting equal to the top-level one is the
// inherited one, already checked (and reported) as hooks.*.
func (c *Config) validateHooks() []error {
	errs := checkHooks("hooks", c.Hooks, nil)
	for _, name := range c.StoreNames() {
		h := c.Stores[name].Hooks
		key := "stores." + name + ".hooks"
		errs = append(errs, checkHooks(key, h, &c.Hooks)...)
		if h.URL == "" {
			continue
		}
		if len(h.SigningSecrets()) == 0 {
			errs = append(errs, fmt.Errorf("%s: url is set but no secret: set one of secret, secret_file or secrets (here or in the top-level hooks block)", key))
		}
	}
	return errs
}

// checkHooks checks one block's settings. With inherited set (a store's
// merged block), a setting equal to the inherited one is skipped.
func checkHooks(key string, h HooksConfig, inherited *HooksConfig) []error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", key, field, fmt.Sprintf(format, args...)))
	}
	own := func(same bool) bool { return inherited == nil || !same }

	if u := h.URL; u != "" && own(inherited != nil && u == inherited.URL) {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			add("url", "must be an absolute http(s) URL, got %q", RedactURL(u))
		}
	}

	sameSecrets := inherited != nil && h.Secret == inherited.Secret && h.SecretFile == inherited.SecretFile && slices.Equal(h.Secrets, inherited.Secrets)
	if own(sameSecrets) {
		n := 0
		for _, set := range []bool{h.Secret != "", h.SecretFile != "", len(h.Secrets) > 0} {
			if set {
				n++
			}
		}
		if n > 1 {
			errs = append(errs, fmt.Errorf("%s: secret, secret_file and secrets are set together; use one", key))
		}
		if h.Secret != "" {
			if _, err := WebhookSecretKey(h.Secret); err != nil {
				add("secret", "%v", err)
			}
		}
		for i, s := range h.Secrets {
			if _, err := WebhookSecretKey(s); err != nil {
				add(fmt.Sprintf("secrets[%d]", i), "%v", err)
			}
		}
		for i, s := range h.fileSecrets {
			if _, err := WebhookSecretKey(s); err != nil {
				add("secret_file", "line %d of %s %v", i+1, h.SecretFile, err)
			}
		}
		if dup := duplicate(h.SigningSecrets()); dup >= 0 {
			add("secrets", "secret %d is listed twice", dup+1)
		}
	}

	if h.Events != nil && own(inherited != nil && slices.Equal(h.Events, inherited.Events)) {
		for i, e := range h.Events {
			if !slices.Contains(HookEvents, e) {
				add(fmt.Sprintf("events[%d]", i), "unknown event %q (known: %s)", e, strings.Join(HookEvents, ", "))
			}
		}
		if dup := duplicate(h.Events); dup >= 0 {
			add(fmt.Sprintf("events[%d]", dup), "%q is listed twice", h.Events[dup])
		}
	}

	if t := h.Timeout; t != 0 && own(inherited != nil && t == inherited.Timeout) {
		if t < MinHookTimeout || t > MaxHookTimeout {
			add("timeout", "must be between %s and %s, got %s", MinHookTimeout, MaxHookTimeout, t)
		}
	}
	return errs
}

// duplicate returns the index of the first value seen before, or -1.
func duplicate(values []string) int {
	seen := map[string]bool{}
	for i, v := range values {
		if seen[v] {
			return i
		}
		seen[v] = true
	}
	return -1
}
