package core

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/valetgw/valet/core/hls"
)

// publicBase is the gateway's URL as clients reach it: server.public_url,
// else the request's own scheme and Host. Without public_url the links in
// an answer (playback_url, a playlist's child links, Companion's location)
// name whatever Host the request named; the answer goes back only to that
// client and is never cached (no-store), so a forged Host misleads only
// the client that forged it. Behind a proxy that rewrites Host, or with a
// shared cache in front, set public_url (docs/security.md).
func publicBase(st *state, r *http.Request) string {
	if u := st.cfg.Server.PublicURL; u != "" {
		return strings.TrimSuffix(u, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// playback serves GET (and HEAD) PlaybackPath/{store}/{token}/{key...}:
// no Authorization, the token is the grant. The request log, metrics and
// traces see the path with the token replaced by "-", since whoever reads
// a log should not be able to replay a link from it.
func (s *Server) playback() http.Handler {
	h := s.instrument("object.play", func(w http.ResponseWriter, r *http.Request, rec *record) {
		st := s.state.Load()
		c := &call{st: st, rec: rec}
		name := r.PathValue("store")
		rec.store = name
		// A playback answer may be a redirect to a signed URL or a
		// playlist full of them: never cached, never sent as a Referer.
		w.Header().Set("Cache-Control", "private, no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		store, err := st.store(name)
		if err != nil {
			s.writeError(w, c, err)
			return
		}
		ctx, cancel := context.WithTimeout(context.WithValue(r.Context(), recordKey{}, rec), time.Duration(st.cfg.Server.ProviderTimeout))
		defer cancel()
		res, err := store.Play(ctx, PlaySpec{Token: r.PathValue("token"), Key: r.PathValue("key"), Base: publicBase(st, r)})
		rec.subject = res.Subject
		if err != nil {
			s.writeError(w, c, err)
			return
		}
		if res.Redirect != "" {
			http.Redirect(w, r, res.Redirect, http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", hls.ContentType)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(res.Playlist)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, withoutToken(r, r.PathValue("store"), r.PathValue("key")))
	})
}

// withoutToken is r with its playback path's token replaced by "-" (and
// no query), for what the request log, metrics and traces see.
func withoutToken(r *http.Request, store, key string) *http.Request {
	u := *r.URL
	u.Path, u.RawPath, u.RawQuery = PlaybackPath+"/"+store+"/-/"+key, "", ""
	r = r.Clone(r.Context())
	r.URL, r.RequestURI = &u, ""
	return r
}
