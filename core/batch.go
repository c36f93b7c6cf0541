package core

import (
	"bytes"
	"net/http"
	"strconv"
	"time"

	json "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// signRequest is the body of POST /v1/stores/{store}/objects/sign.
type signRequest struct {
	Keys []string `json:"keys"`
	// TTL is a duration ("5m") or a number of seconds, as a string or a
	// number.
	TTL         jsontext.Value `json:"ttl,omitempty"`
	CheckExists bool           `json:"check_exists,omitempty"`
	Disposition string         `json:"disposition,omitempty"`
}

// signedItem is one key's answer: a recipe, or its own problem.
type signedItem struct {
	Key       string            `json:"key"`
	URL       string            `json:"url,omitempty"`
	Method    string            `json:"method,omitempty"`
	Headers   map[string]string `json:"headers,omitempty"`
	ExpiresAt *time.Time        `json:"expires_at,omitempty"`
	Error     *itemError        `json:"error,omitempty"`
}

// itemError is a refused key's problem, without the document's type and
// title.
type itemError struct {
	Code   string `json:"code"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
}

func (s *Server) signObjects(w http.ResponseWriter, r *http.Request, c *call) error {
	var req signRequest
	if err := decode(r, &req, false); err != nil {
		return err
	}
	spec := SignSpec{Keys: req.Keys, CheckExists: req.CheckExists, Disposition: req.Disposition}
	if len(req.TTL) > 0 {
		var err error
		if spec.TTL, err = jsonTTL(req.TTL); err != nil {
			return apiError("invalid_ttl", "ttl must be a duration like 5m or a number of seconds")
		}
	}
	items, err := c.store.SignGets(r.Context(), c.who, spec)
	if err != nil {
		return err
	}
	out := make([]signedItem, len(items))
	for i, it := range items {
		out[i].Key = it.Key
		if it.Err != nil {
			out[i].Error = &itemError{Code: it.Err.Code, Status: it.Err.Status, Detail: it.Err.Detail}
			continue
		}
		exp := it.Get.ExpiresAt.UTC()
		out[i].URL, out[i].Method, out[i].ExpiresAt = it.Get.URL, it.Get.Method, &exp
		if len(it.Get.Headers) > 0 {
			out[i].Headers = it.Get.Headers
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
	return nil
}

// jsonTTL reads a ttl member: a string as the ttl query parameter takes it,
// or a positive whole number of seconds.
func jsonTTL(v jsontext.Value) (time.Duration, error) {
	if bytes.HasPrefix(v, []byte(`"`)) {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return 0, err
		}
		return parseTTL(s)
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil || n <= 0 || n > int64(7*24*time.Hour/time.Second) {
		return 0, strconv.ErrSyntax
	}
	return time.Duration(n) * time.Second, nil
}
