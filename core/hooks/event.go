package hooks

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// Event is one thing that happened in a store, to deliver.
type Event struct {
	Type Type
	// Identity names this occurrence of the event; webhook-id is derived
	// from it (see ID). Empty: Data's UploadID, or else its Key and ETag
	// (for Ping, a random one). See ID for what to use per event type.
	Identity string
	// Time is when the event happened, the payload's timestamp; zero means
	// when Deliver starts.
	Time time.Time
	// Data is the payload's data. Deliver sets Data.Store.
	Data Data
}

// Data is what an event tells the application about the upload or object.
// It never holds a signed URL, a token or a secret.
type Data struct {
	Store       string `json:"store"`
	Key         string `json:"key,omitempty"`
	Size        *int64 `json:"size,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	ETag        string `json:"etag,omitempty"`
	// ChecksumSHA256 is the base64 sha256 the client declared and the
	// store verified, named as in the API.
	ChecksumSHA256 string            `json:"checksum_sha256,omitempty"`
	Metadata       map[string]string `json:"metadata,omitempty"`
	Subject        string            `json:"subject,omitempty"`
	UploadID       string            `json:"upload_id,omitempty"`
}

// payload is the body of a delivery, as the Standard Webhooks
// specification shapes it. appendPayload writes it.
type payload struct {
	Type      Type   `json:"type"`
	Timestamp string `json:"timestamp"`
	Data      Data   `json:"data"`
}

// appendPayload appends the JSON of p to dst: the members in the order
// and with the omissions of payload's json tags, metadata by sorted key,
// and invalid UTF-8 replaced by U+FFFD, as encoding/json writes it, but
// without reflection (encoding was a fifth of a delivery's own CPU).
func appendPayload(dst []byte, p payload) []byte {
	str := func(dst []byte, name, v string, omitEmpty bool) []byte {
		if omitEmpty && v == "" {
			return dst
		}
		if dst[len(dst)-1] != '{' {
			dst = append(dst, ',')
		}
		dst = appendQuote(append(appendQuote(dst, name), ':'), v)
		return dst
	}
	d := p.Data
	dst = append(dst, '{')
	dst = str(dst, "type", string(p.Type), false)
	dst = str(dst, "timestamp", p.Timestamp, false)
	dst = append(dst, `,"data":{`...)
	dst = str(dst, "store", d.Store, false)
	dst = str(dst, "key", d.Key, true)
	if d.Size != nil {
		dst = strconv.AppendInt(append(dst, `,"size":`...), *d.Size, 10)
	}
	dst = str(dst, "content_type", d.ContentType, true)
	dst = str(dst, "etag", d.ETag, true)
	dst = str(dst, "checksum_sha256", d.ChecksumSHA256, true)
	if len(d.Metadata) > 0 {
		dst = append(dst, `,"metadata":{`...)
		for _, k := range slices.Sorted(maps.Keys(d.Metadata)) {
			dst = str(dst, k, d.Metadata[k], false)
		}
		dst = append(dst, '}')
	}
	dst = str(dst, "subject", d.Subject, true)
	dst = str(dst, "upload_id", d.UploadID, true)
	return append(dst, "}}"...)
}

// payloadSize is about the length of p's JSON, so that appendPayload
// writes it without growing its buffer.
func payloadSize(p payload) int {
	d := p.Data
	n := 192 + len(p.Type) + len(p.Timestamp) + len(d.Store) + len(d.Key) + len(d.ContentType) +
		len(d.ETag) + len(d.ChecksumSHA256) + len(d.Subject) + len(d.UploadID)
	for k, v := range d.Metadata {
		n += 6 + len(k) + len(v)
	}
	return n + n/8 // room for a few escapes
}

// appendQuote appends s as a JSON string, as jsontext.AppendQuote writes
// it: a string of printable ASCII without a quote or a backslash (a key,
// an upload id, an etag, most of a payload) is copied as it is, anything
// else goes to jsontext.AppendQuote, which escapes it and replaces
// invalid UTF-8 with U+FFFD.
func appendQuote(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			dst, _ = jsontext.AppendQuote(dst, s) // an error only flags replaced invalid UTF-8
			return dst
		}
	}
	return append(append(append(dst, '"'), s...), '"')
}

// ID is the webhook-id of an event: "msg_" and the first 144 bits of
//
//	sha256("valet.webhook-id.v1" NUL store NUL type NUL identity)
//
// in unpadded base64url. It depends on nothing but the event, so every
// attempt, every retry of the client's call and every replica send the
// same id for one event, and distinct events get distinct ids. The
// identity to use (Event.Identity, or what Deliver derives when it is
// empty):
//   - upload.create: the key chosen for the upload (Data.Key). With {uuid}
//     in the key template each create call is its own upload and event;
//     without, a repeated create of the same key is the same event.
//   - upload.complete: the upload id (Data.UploadID), which the client
//     sends again on every retry of complete.
//   - object.delete: the key with what identifies the object deleted
//     (its ETag and modification time), so that deleting a later object
//     under the same key is a new event.
func ID(store string, t Type, identity string) string {
	return idOf(store, t, identity, "", "", "")
}

// idOf is ID of the identity a+b+c+d, hashed from a buffer on the stack
// (unless the identity is long) without joining the pieces first: no hash
// object, no conversions to []byte, no string of a long upload id copied.
func idOf(store string, t Type, a, b, c, d string) string {
	var stack [640]byte
	buf := append(stack[:0], "valet.webhook-id.v1\x00"...)
	buf = append(append(buf, store...), 0)
	buf = append(append(buf, t...), 0)
	buf = append(append(append(append(buf, a...), b...), c...), d...)
	sum := sha256.Sum256(buf)
	return "msg_" + base64.RawURLEncoding.EncodeToString(sum[:18])
}

// id is the webhook-id of ev for store: ID of ev.Identity, or of the
// identity derived from its data; "" when it has none.
func (ev Event) id(store string) string {
	switch {
	case ev.Identity != "":
		return idOf(store, ev.Type, ev.Identity, "", "", "")
	case ev.Data.UploadID != "":
		return idOf(store, ev.Type, "upload_id\x00", ev.Data.UploadID, "", "")
	case ev.Data.Key != "":
		return idOf(store, ev.Type, "key\x00", ev.Data.Key, "\x00etag\x00", ev.Data.ETag)
	case ev.Type == Ping:
		return idOf(store, ev.Type, "ping\x00", rand.Text(), "", "")
	}
	return ""
}
