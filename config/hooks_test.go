package config

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/valetgw/valet/internal/testenv"
)

// whsec returns a valid hook secret whose key is n copies of b.
func whsec(b byte, n int) string {
	return WebhookSecretPrefix + base64.StdEncoding.EncodeToString([]byte(strings.Repeat(string(b), n)))
}

var (
	hookOld = whsec('o', 32)
	hookNew = whsec('n', 32)
)

// hooksBase is base with three more stores, for the merge of the
// top-level hooks block.
const hooksBase = base + `
  docs:
    provider: local
    hooks: { url: "https://docs.example/hook", events: [upload.complete], timeout: 2s }
  quiet:
    provider: local
    hooks: { events: [] }
  own:
    provider: local
    hooks: { secrets: ["` + "OWN" + `"] }
`

func TestHooksMergeDefaults(t *testing.T) {
	sf := write(t, "hook.secret", hookNew+"\n"+hookOld+"\n")
	body := strings.Replace(hooksBase, `"OWN"`, `"`+hookOld+`"`, 1) +
		"hooks: { url: \"https://app.example/valet?token=abc\", secret_file: \"" + sf + "\" }\n"
	cfg, err := Load(Options{File: write(t, "v.yaml", body), Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		store, url string
		secrets    []string
		events     []string
		timeout    time.Duration
	}{
		// Everything from the top-level block, with the defaults.
		{"media", "https://app.example/valet?token=abc", []string{hookNew, hookOld}, HookEvents, DefaultHookTimeout},
		// Its own URL, events and timeout; the default's secrets.
		{"docs", "https://docs.example/hook", []string{hookNew, hookOld}, []string{EventUploadComplete}, 2 * time.Second},
		// Opted out.
		{"quiet", "https://app.example/valet?token=abc", []string{hookNew, hookOld}, []string{}, DefaultHookTimeout},
		// Its own secrets replace the default's.
		{"own", "https://app.example/valet?token=abc", []string{hookOld}, HookEvents, DefaultHookTimeout},
	} {
		h := cfg.Stores[tc.store].Hooks
		if h.URL != tc.url || !slices.Equal(h.SigningSecrets(), tc.secrets) || !slices.Equal(h.Events, tc.events) || h.Timeout != tc.timeout {
			t.Errorf("%s: url %q, %d secrets, events %q, timeout %s; want %q, %d, %q, %s", tc.store,
				h.URL, len(h.SigningSecrets()), h.Events, h.Timeout, tc.url, len(tc.secrets), tc.events, tc.timeout)
		}
		if tc.events != nil && h.Events == nil {
			t.Errorf("%s: events is nil, want an explicit list", tc.store)
		}
	}
	// Validating again (as the server does) finds nothing new.
	if err := cfg.Validate(); err != nil {
		t.Errorf("second Validate: %v", err)
	}
}

// Without a top-level block, a store with no hooks block has none, and one
// with a URL gets the defaults.
func TestHooksOff(t *testing.T) {
	body := base + "    hooks: { url: \"http://127.0.0.1:9/h\", secret: \"" + hookNew + "\" }\n  plain: { provider: local }\n"
	cfg, err := Load(Options{File: write(t, "v.yaml", body), Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if h := cfg.Stores["plain"].Hooks; h.URL != "" || h.Events != nil || h.Timeout != 0 || len(h.SigningSecrets()) != 0 {
		t.Errorf("plain: %+v, want no hook", h)
	}
	if h := cfg.Stores["media"].Hooks; !slices.Equal(h.SigningSecrets(), []string{hookNew}) || !slices.Equal(h.Events, HookEvents) || h.Timeout != DefaultHookTimeout {
		t.Errorf("media: %+v", h)
	}
}

// A hook secret from a higher layer replaces the lower layer's, whichever
// of secret, secret_file and secrets each one uses (rotation by
// environment over a YAML secret file).
func TestHookSecretLayers(t *testing.T) {
	sf := write(t, "hook.secret", hookOld+"\n")
	body := base + "hooks: { url: \"https://app.example/h\", secret_file: \"" + sf + "\" }\n"
	cfg, err := Load(Options{File: write(t, "v.yaml", body), Environ: []string{"VALET_HOOKS__SECRETS=" + hookNew + "," + hookOld}})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Stores["media"].Hooks.SigningSecrets(); !slices.Equal(got, []string{hookNew, hookOld}) {
		t.Errorf("media signs with %d secrets %v, want the environment's two", len(got), got)
	}
	if cfg.Hooks.SecretFile != "" {
		t.Errorf("secret_file %q kept beside the environment's secrets", cfg.Hooks.SecretFile)
	}
	// A store's own secret in the environment, over the top-level block.
	cfg, err = Load(Options{File: write(t, "v.yaml", body), Environ: []string{"VALET_STORES__MEDIA__HOOKS__SECRET=" + hookNew}})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Stores["media"].Hooks.SigningSecrets(); !slices.Equal(got, []string{hookNew}) {
		t.Errorf("media signs with %v, want its own secret", got)
	}
}

func TestHookErrors(t *testing.T) {
	secret := whsec('s', 32)
	short := whsec('s', 8)
	tests := []struct {
		name, hooks string
		want        []string
	}{
		{"relative url", `{ url: "/hook", secret: "` + secret + `" }`, []string{`hooks.url: must be an absolute http(s) URL, got "/hook"`}},
		{"ftp url", `{ url: "ftp://x.example/h", secret: "` + secret + `" }`, []string{`hooks.url: must be an absolute http(s) URL`}},
		{"url credentials redacted", `{ url: "ftp://u:pw@x.example/h?sig=zz", secret: "` + secret + `" }`, []string{`"ftp://***:***@x.example/h?sig=***"`}},
		{"unknown event", `{ url: "https://x.example/h", secret: "` + secret + `", events: [upload.create, upload.done] }`, []string{`hooks.events[1]: unknown event "upload.done" (known: upload.create, upload.complete, object.delete)`}},
		{"ping is not configurable", `{ url: "https://x.example/h", secret: "` + secret + `", events: [ping] }`, []string{`hooks.events[0]: unknown event "ping"`}},
		{"event twice", `{ url: "https://x.example/h", secret: "` + secret + `", events: [object.delete, object.delete] }`, []string{`hooks.events[1]: "object.delete" is listed twice`}},
		{"timeout too long", `{ url: "https://x.example/h", secret: "` + secret + `", timeout: 5m }`, []string{`hooks.timeout: must be between 100ms and 1m0s, got 5m0s`}},
		{"timeout negative", `{ url: "https://x.example/h", secret: "` + secret + `", timeout: -1s }`, []string{`hooks.timeout: must be between`}},
		{"timeout tiny", `{ url: "https://x.example/h", secret: "` + secret + `", timeout: 1ms }`, []string{`hooks.timeout: must be between`}},
		{"two secret sources", `{ url: "https://x.example/h", secret: "` + secret + `", secrets: ["` + secret + `"] }`, []string{`hooks: secret, secret_file and secrets are set together; use one`}},
		{"secret and file", `{ url: "https://x.example/h", secret: "` + secret + `", secret_file: /nonexistent }`, []string{`hooks.secret_file: set together with hooks.secret or hooks.secrets; use one`}},
		{"missing file", `{ url: "https://x.example/h", secret_file: /nonexistent/hook }`, []string{`hooks.secret_file: open /nonexistent/hook`}},
		{"no prefix", `{ url: "https://x.example/h", secret: "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0" }`, []string{`hooks.secret: must start with "whsec_"`}},
		{"not base64", `{ url: "https://x.example/h", secrets: ["` + secret + `", "whsec_not!base64"] }`, []string{`hooks.secrets[1]: is not whsec_ followed by standard base64`}},
		{"too short", `{ url: "https://x.example/h", secret: "` + short + `" }`, []string{`hooks.secret: decodes to 8 bytes; want 24 to 64`}},
		{"secret twice", `{ url: "https://x.example/h", secrets: ["` + secret + `", "` + secret + `"] }`, []string{`hooks.secrets: secret 2 is listed twice`}},
		{"url without secret", `{ url: "https://x.example/h" }`, []string{`stores.media.hooks: url is set but no secret`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(Options{File: write(t, "v.yaml", base+"hooks: "+tt.hooks+"\n"), Environ: []string{}})
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			testenv.ErrorMentions(t, err, tt.want, nil)
			for _, s := range []string{secret, short, "c2VjcmV0c2VjcmV0", "not!base64", ":pw@", "zz"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q quotes a secret (%q)", err, s)
				}
			}
		})
	}
}

// A bad top-level setting is reported once, under hooks, not again for
// every store that inherits it; a store's own bad setting under its key.
func TestHookErrorsOnce(t *testing.T) {
	body := hooksBase + "hooks: { url: \"nope\", secret: \"whsec_x\", events: [bogus], timeout: 2h }\n"
	_, err := Load(Options{File: write(t, "v.yaml", body), Environ: []string{}})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, w := range []string{"hooks.url:", "hooks.secret:", "hooks.events[0]:", "hooks.timeout:", `stores.own.hooks.secrets[0]: must start with "whsec_"`, "stores.docs.hooks.timeout"} {
		if w == "stores.docs.hooks.timeout" {
			if strings.Contains(msg, w) {
				t.Errorf("docs' own valid timeout reported: %q", msg)
			}
			continue
		}
		if !strings.Contains(msg, w) {
			t.Errorf("error %q lacks %q", msg, w)
		}
	}
	for _, inherited := range []string{"stores.media.hooks.url", "stores.media.hooks.secret", "stores.media.hooks.events", "stores.media.hooks.timeout", "stores.quiet.hooks.url"} {
		if strings.Contains(msg, inherited) {
			t.Errorf("inherited setting reported again as %s: %q", inherited, msg)
		}
	}
	if n := strings.Count(msg, "hooks.url: must be"); n != 1 {
		t.Errorf("the bad url is reported %d times: %q", n, msg)
	}
}

func TestRedactedHidesHookSecrets(t *testing.T) {
	body := base + "    hooks: { url: \"https://app.example/h?token=tok123\", secrets: [\"" + hookNew + "\", \"" + hookOld + "\"] }\n" +
		"hooks: { secret: \"" + hookOld + "\" }\n"
	cfg, err := Load(Options{File: write(t, "v.yaml", body), Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	s := redacted(t, cfg)
	noLeaks(t, s, hookNew, hookOld, "tok123", strings.TrimPrefix(hookNew, WebhookSecretPrefix))
	for _, want := range []string{"- '***'\n", "secret: '***'", "url: https://app.example/h?token=***", "upload.complete", "timeout: 5s"} {
		if !strings.Contains(s, want) {
			t.Errorf("Redacted lacks %q:\n%s", want, s)
		}
	}
	if n := strings.Count(s, "- '***'"); n != 2 {
		t.Errorf("Redacted shows %d hidden secrets in the list, want 2:\n%s", n, s)
	}
}

func TestWebhookSecretKey(t *testing.T) {
	key, err := WebhookSecretKey(whsec('k', 24))
	if err != nil || string(key) != strings.Repeat("k", 24) {
		t.Fatalf("key %q, err %v", key, err)
	}
	// The example secret of the Standard Webhooks specification.
	if _, err := WebhookSecretKey("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"); err != nil {
		t.Errorf("spec example: %v", err)
	}
	for _, bad := range []string{"", "whsec_", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", whsec('k', 23), whsec('k', 65), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS"} {
		if _, err := WebhookSecretKey(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// `valet config check` leaves the unset top-level events list (a store
// then gets all three) out: printed as `[]` or `null`, pasted into a
// store's hooks block, it would read back as empty and turn its hook off.
func TestRedactedKeepsUnsetEventsUnset(t *testing.T) {
	cfg, err := Load(Options{File: write(t, "valet.yaml", base+`    hooks: { url: "http://127.0.0.1:3000/h", secret: "`+whsec('a', 32)+`" }
`), Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	out := redacted(t, cfg)
	if strings.Contains(out, "events: []") || cfg.Hooks.Events != nil {
		t.Errorf("the unset top-level events (%v) are printed as []:\n%s", cfg.Hooks.Events, out)
	}
	if i := strings.Index(out, "\nhooks:\n"); i < 0 || strings.Contains(out[i:i+60], "events") {
		t.Errorf("the unset top-level events are printed:\n%s", out)
	}
}
