// Package playback seals playback tokens: stateless, encrypted and
// authenticated grants to read one object, or every object under one
// folder (an HLS playlist's), of one store until an expiry. A token stands
// in for the caller's credentials in a URL (<video src>, hls.js fetching
// child playlists), so it carries no credential of its own (never the
// user's JWT) and grants reads only: there is no field that could widen it.
// Any gateway with the secret opens a token another one sealed. Tokens use
// their own key derivation label, so an upload id never opens as a token
// nor a token as an upload id. The package never logs and never puts a
// token's contents in an error.
package playback

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/valetgw/valet/core/internal/seal"
	"github.com/valetgw/valet/core/keys"
)

// prefix versions the token format; a new format gets a new prefix.
const prefix = "p1."

// purpose is the HKDF label; uploadid uses "valet upload id v1".
const purpose = "valet playback token v1"

// Grant is what a token carries. Exactly one of Key and Folder is set.
type Grant struct {
	Store string
	// Key is the one object the token reads.
	Key string
	// Folder, ending in "/", is the prefix every key the token reads
	// starts with: an HLS playlist's folder, so one token serves the
	// master, its variant playlists and their segments.
	Folder string
	// Subject is who the token was made for, for logs.
	Subject string
	// ExpiresAt is when the token stops opening; Seal keeps whole seconds
	// (rounded down).
	ExpiresAt time.Time
}

// ForKey is a grant to read key alone.
func ForKey(store, key, subject string, expires time.Time) Grant {
	return Grant{Store: store, Key: key, Subject: subject, ExpiresAt: expires}
}

// ForFolder is a grant to read every key under folder: keys.Dir of an HLS
// playlist's key.
func ForFolder(store, folder, subject string, expires time.Time) Grant {
	return Grant{Store: store, Folder: folder, Subject: subject, ExpiresAt: expires}
}

// Allows reports whether the grant covers key of store (key passing
// keys.Validate, so "folder/../other" is never under folder).
func (g Grant) Allows(store, key string) bool {
	if store != g.Store || keys.Validate(key) != nil {
		return false
	}
	if g.Folder != "" {
		return strings.HasPrefix(key, g.Folder)
	}
	return key == g.Key
}

// check is what Seal requires of a grant.
func (g Grant) check() error {
	switch {
	case g.Store == "":
		return errors.New("playback: grant without a store")
	case g.ExpiresAt.IsZero():
		return errors.New("playback: grant without an expiry")
	case (g.Key == "") == (g.Folder == ""):
		return errors.New("playback: a grant has exactly one of a key and a folder")
	case g.Key != "":
		if err := keys.Validate(g.Key); err != nil {
			return fmt.Errorf("playback: grant key: %w", err)
		}
	case !strings.HasSuffix(g.Folder, "/"):
		// The store's root ("") is refused above: a token never reads a
		// whole store.
		return fmt.Errorf("playback: grant folder %q does not end in \"/\"", g.Folder)
	default:
		if err := keys.ValidatePrefix(g.Folder); err != nil {
			return fmt.Errorf("playback: grant folder: %w", err)
		}
	}
	return nil
}

// wire is the sealed form: short names and Unix seconds keep URLs short.
type wire struct {
	Store   string `json:"s"`
	Key     string `json:"k,omitempty"`
	Folder  string `json:"f,omitempty"`
	Subject string `json:"u,omitempty"`
	Expires int64  `json:"e"`
}

// Errors from Open. None says more than that, on purpose; a caller may
// answer all three alike.
var (
	// ErrInvalid is a token this secret did not seal, or an altered one.
	ErrInvalid = errors.New("invalid playback token")
	// ErrExpired is a genuine token past its expiry.
	ErrExpired = errors.New("playback token expired")
	// ErrScope is a genuine token used for another store or a key it does
	// not cover.
	ErrScope = errors.New("playback token does not cover this object")
)

// Sealer seals and opens playback tokens.
type Sealer struct {
	box *seal.Box
}

// NewSealer derives the token keys from secrets (each at least 32 bytes):
// the first seals, every one opens, so a secret is rotated by putting the
// new one first and dropping the old one once its tokens have expired.
func NewSealer(secrets ...[]byte) (*Sealer, error) {
	box, err := seal.New(purpose, prefix, secrets...)
	if err != nil {
		return nil, fmt.Errorf("playback: %w", err)
	}
	return &Sealer{box: box}, nil
}

// Seal returns the token for g: URL-safe (base64url after "p1."), usable
// as a path segment or a query value, different on every call.
func (s *Sealer) Seal(g Grant) (string, error) {
	if err := g.check(); err != nil {
		return "", err
	}
	tok, err := s.box.SealJSON(wire{Store: g.Store, Key: g.Key, Folder: g.Folder, Subject: g.Subject, Expires: g.ExpiresAt.Unix()})
	if err != nil {
		return "", fmt.Errorf("playback: %w", err)
	}
	return tok, nil
}

// Open checks token for reading key of store at now and returns its grant.
// It returns ErrInvalid for anything this Sealer's secrets did not seal
// (or that was altered), ErrExpired once now is at or past the expiry, and
// ErrScope when the grant does not cover store and key.
func (s *Sealer) Open(token, store, key string, now time.Time) (Grant, error) {
	var w wire
	if err := s.box.OpenJSON(token, &w); err != nil {
		return Grant{}, ErrInvalid
	}
	g := Grant{Store: w.Store, Key: w.Key, Folder: w.Folder, Subject: w.Subject, ExpiresAt: time.Unix(w.Expires, 0).UTC()}
	if g.check() != nil {
		return Grant{}, ErrInvalid
	}
	if !now.Before(g.ExpiresAt) {
		return Grant{}, ErrExpired
	}
	if !g.Allows(store, key) {
		return Grant{}, ErrScope
	}
	return g, nil
}
