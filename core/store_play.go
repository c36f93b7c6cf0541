package core

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/valetgw/valet/core/hls"
	"github.com/valetgw/valet/core/keys"
	"github.com/valetgw/valet/core/playback"
	"github.com/valetgw/valet/providers"
)

// Playback links (docs/streaming.md) are the store's third way to read:
// a sealed token in a gateway URL stands in for the caller's credentials,
// so <video src> and hls.js need no Authorization header.
//
// The read rule is checked once, when the link is made (Object, for the
// caller the media data answer was for), and not again per key under a
// folder token: the token carries no claims to evaluate a rule with, and
// what it grants was decided then. A folder token reads what the
// playlist's folder holds, so an HLS package must sit in a folder the
// read rule gives as a whole (a key template such as
// users/{subject}/{uuid}/{filename} does that); a rule that tells keys of
// one folder apart is not applied to the playlist's siblings.

// PlaybackPath is where playback links are served:
// PlaybackPath/{store}/{token}/{key...}.
const PlaybackPath = "/v1/play"

// playbackToken seals a playback token for o, which the caller's read
// rule has just allowed: for an HLS playlist, the playlist's folder (so
// one token serves the master, its variants and their segments); for
// anything else, the key alone. A playlist at the store's root gets none
// (ok false): a token never reads a whole store.
func (st *Store) playbackToken(subject string, o providers.Object) (tok string, exp time.Time, ok bool, err error) {
	exp = st.now().Add(time.Duration(st.cfg.Limits.PlaybackTTL)).Truncate(time.Second)
	g := playback.ForKey(st.name, o.Key, subject, exp)
	if hls.IsPlaylist(o.Key, o.ContentType) {
		dir := keys.Dir(o.Key)
		if dir == "" {
			return "", exp, false, nil
		}
		g = playback.ForFolder(st.name, dir, subject, exp)
	}
	tok, err = st.player.Seal(g)
	if err != nil {
		return "", exp, false, err
	}
	return tok, exp, true, nil
}

// PlaybackURL is the link for key under token, below base (the gateway's
// public URL).
func PlaybackURL(base, store, token, key string) string {
	var b strings.Builder
	b.Grow(len(base) + len(PlaybackPath) + len(store) + len(token) + len(key) + 8)
	b.WriteString(strings.TrimSuffix(base, "/"))
	b.WriteString(PlaybackPath)
	b.WriteByte('/')
	b.WriteString(url.PathEscape(store))
	b.WriteByte('/')
	b.WriteString(token)
	for _, seg := range strings.Split(key, "/") {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(seg))
	}
	return b.String()
}

// PlaySpec is one request of a playback link.
type PlaySpec struct {
	Token string
	Key   string
	// Base is the gateway's public URL, for the links in a rewritten
	// playlist.
	Base string
}

// Played is a playback link's answer: Redirect, a freshly signed GET of
// the key, or Playlist, the HLS playlist rewritten.
type Played struct {
	Redirect string
	Playlist []byte
	// Subject is who the token was made for, for the request log.
	Subject string
}

// Play answers a playback link. A token that this gateway's secrets did
// not seal, that was altered or that does not cover the key is
// playback_denied; one past its expiry is playback_expired. A key token
// (never a playlist, see playbackToken) answers with a signed GET without
// looking the object up, as a seeking player asks often; under a folder
// token a playlist (by its ".m3u8" suffix, else by a Head's content type)
// is read (at most hls.MaxPlaylistBytes) and rewritten with every media
// URI signed in one batched provider call (per providers.MaxSignGets
// URIs). Every signed URL lasts until the token expires, clamped to the
// provider's MaxExpiry, so a paused player can resume for as long as its
// link would open.
func (st *Store) Play(ctx context.Context, spec PlaySpec) (res Played, err error) {
	defer catalog(&err)
	noteKey(ctx, spec.Key)
	now := st.now()
	g, err := st.player.Open(spec.Token, st.name, spec.Key, now)
	switch {
	case errors.Is(err, playback.ErrExpired):
		return res, apiError("playback_expired", "this playback link has expired; ask for a new playback_url")
	case err != nil:
		return res, apiError("playback_denied", "this playback link does not open this object")
	}
	res.Subject = g.Subject
	ttl := g.ExpiresAt.Sub(now)
	if m := st.info.Capabilities.MaxExpiry; m > 0 && ttl > m {
		ttl = m
	}
	playlist := false
	if g.Folder != "" {
		playlist = hls.IsPlaylist(spec.Key, "")
		if !playlist {
			o, err := st.provider.Head(ctx, providers.HeadRequest{Key: spec.Key})
			if providers.CodeOf(err) == providers.NotFound {
				return res, apiError("object_not_found", "no such object")
			}
			if err != nil {
				return res, err
			}
			playlist = hls.IsPlaylist(spec.Key, o.ContentType)
		}
	}
	if !playlist {
		rec, err := st.provider.SignGet(ctx, providers.GetRequest{Key: spec.Key, TTL: ttl})
		if err != nil {
			return res, err
		}
		res.Redirect = rec.URL
		return res, nil
	}
	if st.reader == nil || !st.info.Capabilities.Reader {
		return res, apiError("unsupported", "this store's provider cannot read a playlist (no Reader capability)")
	}
	obj, err := st.reader.ReadObject(ctx, providers.ReadObjectRequest{Key: spec.Key, MaxBytes: hls.MaxPlaylistBytes})
	switch {
	case providers.CodeOf(err) == providers.NotFound:
		return res, apiError("object_not_found", "no such object")
	case providers.CodeOf(err) == providers.FailedPrecondition:
		return res, apiErrorf("playlist_invalid", "the playlist is larger than %d bytes", hls.MaxPlaylistBytes)
	case err != nil:
		return res, err
	}
	l := &playLinker{st: st, base: spec.Base, token: spec.Token, ttl: ttl}
	out, err := hls.Rewrite(ctx, obj.Data, spec.Key, g.Folder, l)
	var he *hls.Error
	if errors.As(err, &he) {
		return res, apiError("playlist_invalid", he.Error())
	}
	if err != nil {
		return res, err
	}
	res.Playlist = out
	return res, nil
}

// playLinker gives hls.Rewrite its URLs: child playlists under the same
// token, media signed in batches of at most providers.MaxSignGets.
type playLinker struct {
	st    *Store
	base  string
	token string
	ttl   time.Duration
}

func (l *playLinker) PlaylistURL(key string) (string, error) {
	return PlaybackURL(l.base, l.st.name, l.token, key), nil
}

func (l *playLinker) SignMedia(ctx context.Context, ks []string) ([]string, error) {
	urls := make([]string, 0, len(ks))
	for len(ks) > 0 {
		n := min(len(ks), providers.MaxSignGets)
		reqs := make([]providers.GetRequest, n)
		for i, k := range ks[:n] {
			reqs[i] = providers.GetRequest{Key: k, TTL: l.ttl}
		}
		res, err := l.st.signGets(ctx, reqs)
		if err != nil {
			return nil, err
		}
		for _, it := range res.Items {
			if it.Err != nil {
				return nil, it.Err
			}
			urls = append(urls, it.Recipe.URL)
		}
		ks = ks[n:]
	}
	return urls, nil
}
