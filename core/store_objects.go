package core

import (
	"context"
	"path"
	"strings"
	"time"

	"github.com/valetgw/valet/core/auth"
	"github.com/valetgw/valet/core/hooks"
	"github.com/valetgw/valet/core/keys"
	"github.com/valetgw/valet/core/policy"
	"github.com/valetgw/valet/providers"
)

// GetSpec asks for a signed download of one object.
type GetSpec struct {
	Key string
	// TTL is the URL's lifetime (0 = the store's get_ttl), clamped to
	// max_ttl and the provider's maximum expiry.
	TTL time.Duration
	// Disposition is "", "inline" or "attachment". With a Filename and no
	// Disposition, it is attachment; an attachment without a Filename is
	// named after the key's last segment.
	Disposition string
	Filename    string
	// SkipHead signs without looking the object up first: the storage
	// server answers 404 itself. Redirects do this, since a seeking player
	// asks often.
	SkipHead bool
}

// ObjectLink is a signed download.
type ObjectLink struct {
	// Object is the object as the provider describes it; with SkipHead only
	// its Key is set.
	Object providers.Object
	// Get is the signed GET.
	Get providers.Recipe
	// PlaybackToken, unless SkipHead, opens the object's playback link
	// (PlaybackURL) until PlaybackExpiresAt; empty for an HLS playlist at
	// the store's root (see playbackToken).
	PlaybackToken     string
	PlaybackExpiresAt time.Time
}

// checkKey validates an object key from a client.
func checkKey(ctx context.Context, key string) error {
	noteKey(ctx, key)
	if err := keys.Validate(key); err != nil {
		return apiError("invalid_key", err.Error())
	}
	return nil
}

// Object signs a download of spec.Key, which the read rule must allow.
// Unless SkipHead, a missing object is object_not_found.
func (st *Store) Object(ctx context.Context, who auth.Principal, spec GetSpec) (link ObjectLink, err error) {
	defer catalog(&err)
	key := spec.Key
	if err := checkKey(ctx, key); err != nil {
		return link, err
	}
	disp := spec.Disposition
	if disp != "" && disp != "inline" && disp != "attachment" {
		return link, apiError("invalid_disposition", "disposition must be inline or attachment")
	}
	if err := st.allow(ctx, who, policy.Read, policy.Input{Key: key, Prefix: keys.Dir(key)}); err != nil {
		return link, err
	}
	if !spec.SkipHead {
		link.Object, err = st.provider.Head(ctx, providers.HeadRequest{Key: key})
		if providers.CodeOf(err) == providers.NotFound {
			return link, apiError("object_not_found", "no such object")
		}
		if err != nil {
			return link, err
		}
	}
	link.Object.Key = key
	gr := providers.GetRequest{Key: key, TTL: st.ttl(spec.TTL, st.cfg.Limits.GetTTL)}
	if fn := spec.Filename; disp != "" || fn != "" {
		if disp == "" {
			disp = "attachment"
		}
		if fn == "" && disp == "attachment" {
			fn = path.Base(key)
		}
		gr.ResponseContentDisposition = ContentDisposition(disp, fn)
		if !st.info.Capabilities.GetOverrides {
			return link, apiError("overrides_unsupported", "this store's provider cannot set Content-Disposition on downloads")
		}
	}
	if link.Get, err = st.provider.SignGet(ctx, gr); err != nil {
		return link, err
	}
	if !spec.SkipHead {
		if link.PlaybackToken, link.PlaybackExpiresAt, _, err = st.playbackToken(who.Subject, link.Object); err != nil {
			return link, err
		}
	}
	return link, nil
}

// Delete deletes the object at key, which the delete rule must allow. With
// a hook that wants object.delete, the object is looked up and the hook
// told first: a refusal or an unreachable hook keeps the object, and so
// does an object replaced while the hook was asked (object_changed). A
// missing object is no event: nothing is delivered, and deleting it
// succeeds.
func (st *Store) Delete(ctx context.Context, who auth.Principal, key string) (err error) {
	defer catalog(&err)
	if err := checkKey(ctx, key); err != nil {
		return err
	}
	if err := st.allow(ctx, who, policy.Delete, policy.Input{Key: key, Prefix: keys.Dir(key)}); err != nil {
		return err
	}
	if st.hook.Wants(hooks.ObjectDelete) {
		o, err := st.provider.Head(ctx, providers.HeadRequest{Key: key})
		switch {
		case providers.CodeOf(err) == providers.NotFound:
			return nil
		case err != nil:
			return err
		}
		if o.Key == "" {
			o.Key = key
		}
		if err := st.hookDelete(ctx, who, o); err != nil {
			return err
		}
		// Delete only what the hook approved (see stillThere).
		switch now, err := st.stillThere(ctx, key, o); {
		case err != nil:
			return err
		case now == objectGone:
			return nil
		case now == objectReplaced:
			return apiError("object_changed", "another object replaced the one the hook approved deleting while it was asked; nothing was deleted: retry to ask about the object there now")
		}
	}
	_, err = st.provider.Delete(ctx, providers.DeleteRequest{Key: key})
	return err
}

// ListSpec asks for one page of the objects under a prefix.
type ListSpec struct {
	Prefix string
	// Cursor is the previous page's NextCursor, "" for the first page.
	Cursor string
	// Limit is the page's size: 0 = 100, at most 1000.
	Limit int
}

// List lists one page of the objects under spec.Prefix, which the list
// rule must allow.
func (st *Store) List(ctx context.Context, who auth.Principal, spec ListSpec) (page providers.ListPage, err error) {
	defer catalog(&err)
	prefix := spec.Prefix
	noteKey(ctx, prefix)
	if err := keys.ValidatePrefix(prefix); err != nil {
		return page, apiError("invalid_prefix", err.Error())
	}
	limit := spec.Limit
	switch {
	case limit < 0:
		return page, apiError("invalid_limit", "limit must be a positive integer")
	case limit == 0:
		limit = 100
	}
	limit = min(limit, 1000)
	if err := st.allow(ctx, who, policy.List, policy.Input{Key: prefix, Prefix: prefix}); err != nil {
		return page, err
	}
	return st.provider.List(ctx, providers.ListRequest{Prefix: prefix, Cursor: spec.Cursor, Limit: limit})
}

// ContentDisposition builds an RFC 6266 header value: an ASCII fallback
// filename plus filename* (RFC 8187, UTF-8) when the name is not plain
// ASCII.
func ContentDisposition(disposition, filename string) string {
	if filename == "" {
		return disposition
	}
	filename = keys.SanitizeFilename(filename)
	var ascii strings.Builder
	plain := true
	for _, r := range filename {
		switch {
		case r == '"' || r == '\\':
			ascii.WriteByte('_')
			plain = false
		case r < 0x20 || r > 0x7e:
			ascii.WriteByte('_')
			plain = false
		default:
			ascii.WriteRune(r)
		}
	}
	v := disposition + `; filename="` + ascii.String() + `"`
	if !plain {
		v += "; filename*=UTF-8''" + extValue(filename)
	}
	return v
}

// extValue percent-encodes s as an RFC 8187 value-chars: every byte but
// ALPHA / DIGIT / "!" / "#" / "$" / "&" / "+" / "-" / "." / "^" / "_" /
// "`" / "|" / "~" (attr-char) is written as %XX.
func extValue(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) * 3)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
