package core

import (
	"net/http"
	"time"

	"github.com/valetgw/valet/config"
	"github.com/valetgw/valet/core/keys"
	"github.com/valetgw/valet/core/policy"
	"github.com/valetgw/valet/providers"
)

// allow evaluates the store's rule for op.
func (c *call) allow(r *http.Request, op policy.Op, in policy.Input) error {
	in.Subject, in.Claims, in.KeyPrefix = c.who.Subject, c.who.Claims, c.store.tmpl.Prefix(c.who.Subject)
	if err := c.store.rules.For(op).Allow(r.Context(), in); err != nil {
		return apiErrorf("policy_denied", "the store's %s rule does not allow this", op)
	}
	return nil
}

// store is one configured store with its compiled pieces.
type store struct {
	name     string
	cfg      config.StoreConfig
	provider providers.Provider
	// multipart is provider's multipart capability, nil without one.
	multipart providers.Multipart
	info      providers.Info
	rules     *policy.Rules
	tmpl      *keys.Template
}

// healthy reports a provider's health: one that implements Healthy (such
// as a plugin host's Plugin) says so itself; any other is assumed healthy.
func healthy(p providers.Provider) bool {
	if h, ok := p.(interface{ Healthy() bool }); ok {
		return h.Healthy()
	}
	return true
}

// ttl clamps a requested TTL (0 = the store's default for the operation)
// to the store's max_ttl and the provider's MaxExpiry.
func (st *store) ttl(requested, def time.Duration) time.Duration {
	t := requested
	if t <= 0 {
		t = def
	}
	if t > st.cfg.Limits.MaxTTL {
		t = st.cfg.Limits.MaxTTL
	}
	if m := st.info.Capabilities.MaxExpiry; m > 0 && t > m {
		t = m
	}
	return t
}
