package core

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/valetgw/valet/providers"
)

type objectJSON struct {
	Key          string            `json:"key"`
	Size         int64             `json:"size"`
	ContentType  string            `json:"content_type"`
	ETag         string            `json:"etag,omitempty"`
	LastModified *time.Time        `json:"last_modified,omitempty"`
	URL          string            `json:"url,omitempty"`
	Headers      map[string]string `json:"headers,omitempty"`
	ExpiresAt    *time.Time        `json:"expires_at,omitempty"`
	// PlaybackURL is the object's playback link, opened without
	// credentials until PlaybackExpiresAt (core/store_play.go).
	PlaybackURL       string     `json:"playback_url,omitempty"`
	PlaybackExpiresAt *time.Time `json:"playback_expires_at,omitempty"`
}

func toObject(o providers.Object) objectJSON {
	j := objectJSON{Key: o.Key, Size: o.Size, ContentType: o.ContentType, ETag: o.ETag}
	if !o.LastModified.IsZero() {
		lm := o.LastModified.UTC()
		j.LastModified = &lm
	}
	return j
}

func (s *Server) getObject(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	spec := GetSpec{Key: r.PathValue("key"), Disposition: q.Get("disposition"), Filename: q.Get("filename")}
	if v := q.Get("ttl"); v != "" {
		var err error
		if spec.TTL, err = parseTTL(v); err != nil {
			return apiError("invalid_ttl", "ttl must be a duration like 5m or a number of seconds")
		}
	}
	redirect := false
	if v := q.Get("redirect"); v != "" {
		var err error
		if redirect, err = strconv.ParseBool(v); err != nil {
			return apiError("invalid_redirect", "redirect must be true or false")
		}
	}
	spec.SkipHead = redirect
	link, err := c.store.Object(r.Context(), c.who, spec)
	if err != nil {
		return err
	}
	if redirect {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		http.Redirect(w, r, link.Get.URL, http.StatusFound)
		return nil
	}
	j := toObject(link.Object)
	exp := link.Get.ExpiresAt.UTC()
	j.URL, j.ExpiresAt = link.Get.URL, &exp
	if len(link.Get.Headers) > 0 {
		j.Headers = link.Get.Headers
	}
	if link.PlaybackToken != "" {
		pexp := link.PlaybackExpiresAt.UTC()
		j.PlaybackURL, j.PlaybackExpiresAt = PlaybackURL(publicBase(c.st, r), c.store.name, link.PlaybackToken, link.Object.Key), &pexp
	}
	writeJSON(w, http.StatusOK, j)
	return nil
}

// maxTTLSeconds bounds a ttl given in seconds: 7 days, the longest any
// provider signs for (a store's max_ttl clamps it further). A larger
// number is taken as this many before it is multiplied, which would wrap
// it into a short or negative duration (a URL already expired).
const maxTTLSeconds = int64(7 * 24 * time.Hour / time.Second)

// parseTTL reads a ttl: a positive number of seconds or Go duration.
func parseTTL(v string) (time.Duration, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0, errors.New("bad ttl")
		}
		return time.Duration(min(n, maxTTLSeconds)) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, errors.New("bad ttl")
	}
	return d, nil
}

func (s *Server) deleteObject(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := c.store.Delete(r.Context(), c.who, r.PathValue("key")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listObjects(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	spec := ListSpec{Prefix: q.Get("prefix"), Cursor: q.Get("cursor")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return apiError("invalid_limit", "limit must be a positive integer")
		}
		spec.Limit = n
	}
	page, err := c.store.List(r.Context(), c.who, spec)
	if err != nil {
		return err
	}
	objs := make([]objectJSON, len(page.Objects))
	for i, o := range page.Objects {
		objs[i] = toObject(o)
	}
	out := map[string]any{"objects": objs}
	if page.NextCursor != "" {
		out["next_cursor"] = page.NextCursor
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
