// Package hooks delivers a store's events to the application's webhook,
// synchronously and signed in the Standard Webhooks format
// (https://www.standardwebhooks.com), so that any of its libraries verifies
// them.
//
// A delivery is one JSON POST {type, timestamp, data} with the headers
// webhook-id, webhook-timestamp and webhook-signature. Valet keeps no queue
// and no state: Deliver tries a few times within the hook's timeout and
// then says why it gave up, and the caller answers its own client, which
// retries. webhook-id is derived from the event's identity (see ID), so
// every delivery of one event, from any replica, carries the same id and
// the receiver can deduplicate.
//
// The package never puts a secret, a signature or a signed URL in a
// payload, an error or a log line. It must not import the HTTP API of core.
package hooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/valetgw/valet/config"
)

// Type is an event type.
type Type string

// The event types. Ping is sent only by `valet hooks test`, whatever the
// hook's events.
const (
	UploadCreate   Type = config.EventUploadCreate
	UploadComplete Type = config.EventUploadComplete
	ObjectDelete   Type = config.EventObjectDelete
	Ping           Type = "ping"
)

// Hook is one store's webhook, compiled from its config: the URL, the
// signing keys (as keyed HMAC states), the events it wants and its timeout. It is
// immutable; a nil *Hook is a store without a hook.
type Hook struct {
	store string
	// target is the URL, parsed once (nil when it does not parse: every
	// delivery is then an InvalidAnswer), and basicAuth the Authorization
	// header its user info asks for, as http.Client would send it.
	target    *url.URL
	basicAuth []string
	// macs holds, per key, HMAC-SHA256 states keyed with it: Reset
	// restores a used one from its saved pads, so a delivery neither
	// allocates one nor hashes the key again.
	macs []*sync.Pool
	// secrets are the strings a receiver's echoed message must not carry
	// on to the client or the log (scrub): each secret's base64 as
	// written, its key in the other base64 spellings and raw, and the URL's password,
	// Authorization value and query values; those under 8 bytes are left
	// out, as they would mask ordinary words.
	secrets []string
	events  []Type
	timeout time.Duration
}

// New compiles a store's (merged) hooks config. It returns nil and no error
// when the config has no URL. Errors name the config key and never quote a
// secret.
func New(store string, c config.HooksConfig) (*Hook, error) {
	if c.URL == "" {
		return nil, nil
	}
	key := "stores." + store + ".hooks"
	secrets := c.SigningSecrets()
	if len(secrets) == 0 {
		return nil, fmt.Errorf("%s: url is set but no secret", key)
	}
	h := &Hook{store: store, timeout: c.Timeout}
	if u, err := url.Parse(c.URL); err == nil {
		u.Host = strings.TrimSuffix(u.Host, ":") // as http.NewRequest does
		h.target = u
		if u.User != nil {
			pass, _ := u.User.Password()
			auth := base64.StdEncoding.EncodeToString([]byte(u.User.Username() + ":" + pass))
			h.basicAuth = []string{"Basic " + auth}
			h.secret(pass, url.PathEscape(pass), auth)
		}
		for _, vs := range u.Query() {
			for _, v := range vs {
				h.secret(v, url.QueryEscape(v))
			}
		}
		for _, kv := range strings.Split(u.RawQuery, "&") { // the values as written
			_, v, _ := strings.Cut(kv, "=")
			h.secret(v)
		}
	}
	for i, s := range secrets {
		k, err := config.WebhookSecretKey(s)
		if err != nil {
			return nil, fmt.Errorf("%s: secret %d %w", key, i+1, err)
		}
		h.secret(strings.TrimPrefix(s, config.WebhookSecretPrefix), base64.StdEncoding.EncodeToString(k),
			base64.RawStdEncoding.EncodeToString(k), base64.URLEncoding.EncodeToString(k), base64.RawURLEncoding.EncodeToString(k), string(k))
		h.macs = append(h.macs, &sync.Pool{New: func() any { return hmac.New(sha256.New, k) }})
	}
	if c.Events == nil {
		c.Events = config.HookEvents
	}
	for _, e := range c.Events {
		if !slices.Contains(config.HookEvents, e) {
			return nil, fmt.Errorf("%s.events: unknown event %q", key, e)
		}
		h.events = append(h.events, Type(e))
	}
	if h.timeout == 0 {
		h.timeout = config.DefaultHookTimeout
	}
	if h.timeout < 0 {
		return nil, fmt.Errorf("%s.timeout: must be positive", key)
	}
	slices.SortStableFunc(h.secrets, func(a, b string) int { return len(b) - len(a) })
	return h, nil
}

// secret adds strings to h.secrets (New then sorts them longest first,
// so that a secret that holds another is masked whole).
func (h *Hook) secret(vs ...string) {
	for _, v := range vs {
		if len(v) >= 8 && !slices.Contains(h.secrets, v) {
			h.secrets = append(h.secrets, v)
		}
	}
}

// Wants reports whether events of type t are delivered: a nil Hook wants
// none, and every Hook wants Ping.
func (h *Hook) Wants(t Type) bool {
	return h != nil && (t == Ping || slices.Contains(h.events, t))
}

// Store is the name of the hook's store.
func (h *Hook) Store() string { return h.store }

// Timeout bounds one delivery, every attempt included.
func (h *Hook) Timeout() time.Duration { return h.timeout }
