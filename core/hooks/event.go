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
		dst, _ = jsontext.AppendQuote(dst, name)
		dst = append(dst, ':')
		dst, _ = jsontext.AppendQuote(dst, v) // an error only flags replaced invalid UTF-8
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
	// Built in a buffer on the stack (unless the identity is long) and
	// hashed at once: no hash object, no conversions to []byte.
	var stack [640]byte
	b := append(stack[:0], "valet.webhook-id.v1\x00"...)
	b = append(append(b, store...), 0)
	b = append(append(b, t...), 0)
	b = append(b, identity...)
	sum := sha256.Sum256(b)
	return "msg_" + base64.RawURLEncoding.EncodeToString(sum[:18])
}

// identity is ev.Identity, or the one derived from its data.
func (ev Event) identity() string {
	switch {
	case ev.Identity != "":
		return ev.Identity
	case ev.Data.UploadID != "":
		return "upload_id\x00" + ev.Data.UploadID
	case ev.Data.Key != "":
		return "key\x00" + ev.Data.Key + "\x00etag\x00" + ev.Data.ETag
	case ev.Type == Ping:
		return "ping\x00" + rand.Text()
	}
	return ""
}
