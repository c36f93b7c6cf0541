package core

import (
	"bytes"
	stdjson "encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

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
	writeSigned(w, items)
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
	if err != nil || n <= 0 || n > maxTTLSeconds {
		return 0, strconv.ErrSyntax
	}
	return time.Duration(n) * time.Second, nil
}

// writeSigned writes the answer {"items": [...]}: for each item its key,
// then url, method, headers (when any) and expires_at, or error (code,
// status, detail). It writes with a jsontext.Encoder token by token, the
// bytes encoding/json wrote from a []signedItem by reflection (HTML and
// JS escaping, invalid UTF-8 as \ufffd, RFC 3339 times with nanoseconds,
// headers sorted, a final newline; TestWriteSignedIsEncodingJSON).
func writeSigned(w http.ResponseWriter, items []SignedGet) {
	buf := answerBufs.Get().(*bytes.Buffer)
	defer putAnswerBuf(buf)
	enc := answerEncoders.Get().(*jsontext.Encoder)
	defer answerEncoders.Put(enc)
	enc.Reset(buf, answerOpts...)
	var tb []byte // a time's text
	tok := func(t jsontext.Token) { _ = enc.WriteToken(t) }
	str := func(name, v string) {
		tok(jsontext.String(name))
		if utf8.ValidString(v) {
			tok(jsontext.String(v))
			return
		}
		// encoding/json writes invalid UTF-8 as an escaped \ufffd.
		raw, _ := stdjson.Marshal(v)
		_ = enc.WriteValue(raw)
	}
	tok(jsontext.BeginObject)
	tok(jsontext.String("items"))
	tok(jsontext.BeginArray)
	for _, it := range items {
		tok(jsontext.BeginObject)
		str("key", it.Key)
		if p := it.Err; p != nil {
			tok(jsontext.String("error"))
			tok(jsontext.BeginObject)
			str("code", p.Code)
			tok(jsontext.String("status"))
			tok(jsontext.Int(int64(p.Status)))
			if p.Detail != "" {
				str("detail", p.Detail)
			}
			tok(jsontext.EndObject)
			tok(jsontext.EndObject)
			continue
		}
		if it.Get.URL != "" {
			str("url", it.Get.URL)
		}
		if it.Get.Method != "" {
			str("method", it.Get.Method)
		}
		if len(it.Get.Headers) > 0 {
			tok(jsontext.String("headers"))
			tok(jsontext.BeginObject)
			for _, k := range slices.Sorted(maps.Keys(it.Get.Headers)) {
				str(k, it.Get.Headers[k])
			}
			tok(jsontext.EndObject)
		}
		tb = it.Get.ExpiresAt.UTC().AppendFormat(tb[:0], time.RFC3339Nano)
		str("expires_at", string(tb))
		tok(jsontext.EndObject)
	}
	tok(jsontext.EndArray)
	tok(jsontext.EndObject)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	// The whole answer is known: with its length, net/http writes it as
	// it is rather than in chunks.
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

// answerOpts make jsontext write what encoding/json writes; the answer's
// member names are unique by construction, so they are not checked.
var answerOpts = []jsontext.Options{
	jsontext.EscapeForHTML(true), jsontext.EscapeForJS(true),
	jsontext.AllowDuplicateNames(true), jsontext.PreserveRawStrings(true),
}

var (
	answerBufs     = sync.Pool{New: func() any { return new(bytes.Buffer) }}
	answerEncoders = sync.Pool{New: func() any { return jsontext.NewEncoder(io.Discard) }}
)

// putAnswerBuf returns buf to the pool unless it grew large.
func putAnswerBuf(buf *bytes.Buffer) {
	if buf.Cap() > 1<<20 {
		return
	}
	buf.Reset()
	answerBufs.Put(buf)
}
