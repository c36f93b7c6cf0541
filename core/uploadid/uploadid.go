// Package uploadid seals upload ids: stateless, authenticated and encrypted
// (XChaCha20-Poly1305, by core/internal/seal) records of an upload in
// progress. Any gateway that shares the secret can open an id another one
// issued, so uploads survive load balancing and restarts without a
// database. The package never logs and never returns an id's contents in
// an error.
package uploadid

import (
	"errors"
	"fmt"
	"time"

	"github.com/valetgw/valet/core/internal/seal"
)

// prefix versions the id format; a new format gets a new prefix.
const prefix = "u1."

// Upload is what an upload id carries.
type Upload struct {
	Store       string `json:"st"`
	Key         string `json:"k"`
	Subject     string `json:"sub"`
	Size        int64  `json:"sz"`
	ContentType string `json:"ct"`
	// ChecksumSHA256 is the base64 sha256 the client declared, if any.
	ChecksumSHA256 string `json:"cs,omitempty"`
	// ProviderUploadID is the provider's multipart upload id ("" for a
	// single PUT).
	ProviderUploadID string `json:"pu,omitempty"`
	PartSize         int64  `json:"ps,omitempty"`
	PartCount        int    `json:"pc,omitempty"`
	// Guarded is true when other uploads can also write Key (a
	// client-chosen key, or a template without {uuid}): complete then
	// deletes a mismatching object it did not assemble itself only if it
	// is not the one Prior describes and the caller may delete the key.
	Guarded bool `json:"g,omitempty"`
	// Prior identifies the object found at Key when a guarded single PUT
	// was created ("" when there was none, "?" when it could not be told).
	Prior     string    `json:"pr,omitempty"`
	ExpiresAt time.Time `json:"exp"`
}

// Multipart reports whether the upload is a multipart upload.
func (u Upload) Multipart() bool { return u.ProviderUploadID != "" }

// Errors from Open. Neither says more than that, on purpose.
var (
	ErrInvalid = errors.New("invalid upload id")
	ErrExpired = errors.New("upload id expired")
)

// Sealer seals and opens upload ids.
type Sealer struct {
	box *seal.Box
}

// NewSealer derives the sealing keys from secrets (each at least 32
// bytes): the first seals, every one opens, so tokens.secret is rotated by
// putting the new secret first and dropping the old one once the ids it
// sealed have expired.
func NewSealer(secrets ...[]byte) (*Sealer, error) {
	box, err := seal.New("valet upload id v1", prefix, secrets...)
	if err != nil {
		return nil, fmt.Errorf("uploadid: %w", err)
	}
	return &Sealer{box: box}, nil
}

// Seal returns the upload id for u.
func (s *Sealer) Seal(u Upload) (string, error) {
	id, err := s.box.SealJSON(&u) // a pointer: no copy of u to box
	if err != nil {
		return "", fmt.Errorf("uploadid: %w", err)
	}
	return id, nil
}

// Open checks and decrypts an id. It returns ErrInvalid for anything that
// was not sealed by this secret (or was altered) and ErrExpired once now is
// past the id's expiry.
func (s *Sealer) Open(id string, now time.Time) (Upload, error) {
	var u Upload
	if err := s.box.OpenJSON(id, &u); err != nil {
		return Upload{}, ErrInvalid
	}
	if !now.Before(u.ExpiresAt) {
		return Upload{}, ErrExpired
	}
	return u, nil
}
