package core

import (
	"context"
	"time"

	"github.com/valetgw/valet/config"
	"github.com/valetgw/valet/core/auth"
	"github.com/valetgw/valet/core/hooks"
	"github.com/valetgw/valet/core/keys"
	"github.com/valetgw/valet/core/playback"
	"github.com/valetgw/valet/core/policy"
	"github.com/valetgw/valet/core/uploadid"
	"github.com/valetgw/valet/providers"
)

// Store is one configured store: the portable type every front door calls
// (see the package doc). Its methods take the caller, as authenticated,
// and return plain results or catalog errors (a *problem.Problem, found
// with errors.As); they never see an http.Request. A Store belongs to one
// configuration and is immutable.
type Store struct {
	name     string
	cfg      config.StoreConfig
	provider providers.Provider
	// multipart is provider's multipart capability, nil without one.
	multipart providers.Multipart
	// getSigner is provider's batch GET signing, nil without one.
	getSigner providers.GetSigner
	// reader is provider's small-object read (HLS playlists), nil without
	// one.
	reader providers.Reader
	// player seals and opens playback tokens (store_play.go).
	player *playback.Sealer
	info   providers.Info
	rules  *policy.Rules
	tmpl   *keys.Template
	sealer *uploadid.Sealer
	// hook is the store's webhook, nil without one (see hooks.go).
	hook *hooks.Hook

	// postPolicy is provider's form upload signing, nil without one.
	postPolicy providers.PostPolicySigner
	*env
}

// env is what a Server's stores share across reloads.
type env struct {
	// now is the clock.
	now func() time.Time
	// abortChecks is when an abort looks again for late parts.
	abortChecks []time.Duration
	// hooks delivers the stores' hook events.
	hooks *hooks.Sender
}

// Name is the store's name in the config.
func (st *Store) Name() string { return st.name }

// allow evaluates the store's rule for op.
func (st *Store) allow(ctx context.Context, who auth.Principal, op policy.Op, in policy.Input) error {
	in.Subject, in.Claims, in.KeyPrefix = who.Subject, who.Claims, st.tmpl.Prefix(who.Subject)
	if err := st.rules.For(op).Allow(ctx, in); err != nil {
		return deniedBy(op)
	}
	return nil
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
func (st *Store) ttl(requested, def time.Duration) time.Duration {
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

// StoreInfo is what a caller may know of a store: what its rules let the
// caller do, and the limits and capabilities a client plans uploads by.
type StoreInfo struct {
	Name      string
	Provider  string
	KeyPrefix string
	// Permissions holds, for every operation, false when the rule is false
	// for this caller whatever the request brings, and true otherwise.
	Permissions  map[policy.Op]bool
	Limits       StoreLimits
	Capabilities providers.Capabilities
}

// StoreLimits are a store's limits as requests meet them: the TTLs are
// already clamped to max_ttl and the provider's maximum expiry.
type StoreLimits struct {
	MaxSize            int64
	ContentTypes       []string
	MultipartThreshold int64
	PartSize           int64
	PutTTL             time.Duration
	GetTTL             time.Duration
	MaxTTL             time.Duration
	AllowClientKeys    bool
	// MaxBatch is the most keys one batch signing request may name.
	MaxBatch int
}

// Describe tells the caller what they may do in the store; ok is false
// when they may do nothing there (then the store is not shown to them).
func (st *Store) Describe(ctx context.Context, who auth.Principal) (info StoreInfo, ok bool) {
	prefix := st.tmpl.Prefix(who.Subject)
	// A permission is true unless the rule is false for this caller
	// whatever the request brings (key, prefix, size, content type).
	in := policy.Input{Subject: who.Subject, Claims: who.Claims, KeyPrefix: prefix}
	perms := make(map[policy.Op]bool, len(policy.Ops))
	for _, op := range policy.Ops {
		may := st.rules.For(op).May(ctx, in, policy.RequestVars...)
		perms[op] = may
		ok = ok || may
	}
	if !ok {
		return StoreInfo{}, false
	}
	l := st.cfg.Limits
	return StoreInfo{
		Name: st.name, Provider: st.cfg.Provider, KeyPrefix: prefix, Permissions: perms,
		Limits: StoreLimits{
			MaxSize: int64(l.MaxSize), ContentTypes: l.ContentTypes, MultipartThreshold: int64(l.MultipartThreshold), PartSize: int64(l.PartSize),
			PutTTL: st.ttl(0, l.PutTTL), GetTTL: st.ttl(0, l.GetTTL), MaxTTL: st.ttl(l.MaxTTL, l.MaxTTL), AllowClientKeys: st.cfg.AllowClientKeys,
			MaxBatch: l.MaxBatch,
		},
		Capabilities: st.info.Capabilities,
	}, true
}
