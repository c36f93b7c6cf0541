package core

import (
	"errors"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/valetgw/valet/core/keys"
	"github.com/valetgw/valet/core/policy"
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
}

func toObject(o providers.Object) objectJSON {
	j := objectJSON{Key: o.Key, Size: o.Size, ContentType: o.ContentType, ETag: o.ETag}
	if !o.LastModified.IsZero() {
		lm := o.LastModified.UTC()
		j.LastModified = &lm
	}
	return j
}

func (s *Server) objectKey(r *http.Request, c *call) (string, error) {
	key := r.PathValue("key")
	c.rec.key = key
	if err := keys.Validate(key); err != nil {
		return "", apiError("invalid_key", err.Error())
	}
	return key, nil
}

func (s *Server) getObject(w http.ResponseWriter, r *http.Request, c *call) error {
	key, err := s.objectKey(r, c)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	var ttl time.Duration
	if v := q.Get("ttl"); v != "" {
		if ttl, err = parseTTL(v); err != nil {
			return apiError("invalid_ttl", "ttl must be a duration like 5m or a number of seconds")
		}
	}
	disp := q.Get("disposition")
	if disp != "" && disp != "inline" && disp != "attachment" {
		return apiError("invalid_disposition", "disposition must be inline or attachment")
	}
	redirect := false
	if v := q.Get("redirect"); v != "" {
		if redirect, err = strconv.ParseBool(v); err != nil {
			return apiError("invalid_redirect", "redirect must be true or false")
		}
	}
	if err := c.allow(r, policy.Read, policy.Input{Key: key, Prefix: keys.Dir(key)}); err != nil {
		return err
	}
	st := c.store
	var obj providers.Object
	if !redirect {
		// Redirects skip the HEAD: a seeking player asks often, and the
		// storage server answers 404 itself.
		obj, err = st.provider.Head(r.Context(), providers.HeadRequest{Key: key})
		if providers.CodeOf(err) == providers.NotFound {
			return apiError("object_not_found", "no such object")
		}
		if err != nil {
			return err
		}
	}
	gr := providers.GetRequest{Key: key, TTL: st.ttl(ttl, st.cfg.Limits.GetTTL)}
	if fn := q.Get("filename"); disp != "" || fn != "" {
		if disp == "" {
			disp = "attachment"
		}
		if fn == "" && disp == "attachment" {
			fn = path.Base(key)
		}
		gr.ResponseContentDisposition = ContentDisposition(disp, fn)
		if !st.info.Capabilities.GetOverrides {
			return apiError("overrides_unsupported", "this store's provider cannot set Content-Disposition on downloads")
		}
	}
	rc, err := st.provider.SignGet(r.Context(), gr)
	if err != nil {
		return err
	}
	if redirect {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		http.Redirect(w, r, rc.URL, http.StatusFound)
		return nil
	}
	j := toObject(obj)
	j.Key = key
	exp := rc.ExpiresAt.UTC()
	j.URL, j.ExpiresAt = rc.URL, &exp
	if len(rc.Headers) > 0 {
		j.Headers = rc.Headers
	}
	writeJSON(w, http.StatusOK, j)
	return nil
}

func parseTTL(v string) (time.Duration, error) {
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, errors.New("bad ttl")
	}
	return d, nil
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

func (s *Server) deleteObject(w http.ResponseWriter, r *http.Request, c *call) error {
	key, err := s.objectKey(r, c)
	if err != nil {
		return err
	}
	if err := c.allow(r, policy.Delete, policy.Input{Key: key, Prefix: keys.Dir(key)}); err != nil {
		return err
	}
	if _, err := c.store.provider.Delete(r.Context(), providers.DeleteRequest{Key: key}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listObjects(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	prefix := q.Get("prefix")
	c.rec.key = prefix
	if err := keys.ValidatePrefix(prefix); err != nil {
		return apiError("invalid_prefix", err.Error())
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return apiError("invalid_limit", "limit must be a positive integer")
		}
		limit = min(n, 1000)
	}
	if err := c.allow(r, policy.List, policy.Input{Key: prefix, Prefix: prefix}); err != nil {
		return err
	}
	page, err := c.store.provider.List(r.Context(), providers.ListRequest{Prefix: prefix, Cursor: q.Get("cursor"), Limit: limit})
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
