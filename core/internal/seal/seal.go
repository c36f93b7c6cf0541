// Package seal turns small records into stateless tokens: encrypted and
// authenticated (XChaCha20-Poly1305) under a key derived with HKDF-SHA256
// from a shared secret and a purpose label, so any gateway with the secret
// opens what another sealed, and a token sealed for one purpose never opens
// for another. It is shared by core/uploadid and core/playback. The package
// never logs and its errors never carry a token's contents.
package seal

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"
)

// MinSecretBytes is the shortest secret New accepts.
const MinSecretBytes = 32

// MaxTokenLen bounds the work Open does on hostile input.
const MaxTokenLen = 8 << 10

// ErrInvalid is the one error of Open: the token was not sealed by this
// Box (another secret, another purpose or prefix) or was altered.
var ErrInvalid = errors.New("invalid token")

// Box seals with its first key and opens with any of them.
type Box struct {
	prefix string
	ad     []byte
	aeads  []cipher.AEAD
}

// New derives one key per secret for purpose (the HKDF info label, which
// must differ between token kinds). Tokens start with prefix, which versions
// the format and is also authenticated. The first secret seals; every
// secret opens, so a secret can be rotated by putting the new one first.
func New(purpose, prefix string, secrets ...[]byte) (*Box, error) {
	if purpose == "" || prefix == "" {
		return nil, errors.New("purpose and prefix are required")
	}
	if len(secrets) == 0 {
		return nil, errors.New("no secret")
	}
	b := &Box{prefix: prefix, ad: []byte(prefix)}
	for i, s := range secrets {
		if len(s) < MinSecretBytes {
			return nil, fmt.Errorf("secret %d: must be at least %d bytes", i+1, MinSecretBytes)
		}
		key, err := hkdf.Key(sha256.New, s, nil, purpose, chacha20poly1305.KeySize)
		if err != nil {
			return nil, fmt.Errorf("derive key: %w", err)
		}
		aead, err := chacha20poly1305.NewX(key)
		if err != nil {
			return nil, err
		}
		b.aeads = append(b.aeads, aead)
	}
	return b, nil
}

// Seal returns prefix + base64url(nonce || ciphertext), URL-safe and
// different on every call (random nonce).
func (b *Box) Seal(plain []byte) (string, error) {
	a := b.aeads[0]
	nonce := make([]byte, a.NonceSize(), a.NonceSize()+len(plain)+a.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	sealed := a.Seal(nonce, nonce, plain, b.ad)
	out := make([]byte, 0, len(b.prefix)+base64.RawURLEncoding.EncodedLen(len(sealed)))
	out = append(out, b.prefix...)
	return string(base64.RawURLEncoding.AppendEncode(out, sealed)), nil
}

// Open returns the plaintext of a token Seal made with any of the Box's
// secrets, or ErrInvalid.
func (b *Box) Open(token string) ([]byte, error) {
	if len(token) > MaxTokenLen || !strings.HasPrefix(token, b.prefix) {
		return nil, ErrInvalid
	}
	// Strict: a token differing only in the unused bits of its last
	// character would otherwise open as the original.
	raw, err := base64.RawURLEncoding.Strict().DecodeString(token[len(b.prefix):])
	if err != nil {
		return nil, ErrInvalid
	}
	for _, a := range b.aeads {
		n := a.NonceSize()
		if len(raw) < n+a.Overhead() {
			return nil, ErrInvalid
		}
		if plain, err := a.Open(nil, raw[:n], raw[n:], b.ad); err == nil {
			return plain, nil
		}
	}
	return nil, ErrInvalid
}

// SealJSON seals the JSON encoding of v.
func (b *Box) SealJSON(v any) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return b.Seal(plain)
}

// OpenJSON opens token into v (a pointer), or returns ErrInvalid, also
// when the plaintext does not decode into v.
func (b *Box) OpenJSON(token string, v any) error {
	plain, err := b.Open(token)
	if err != nil || json.Unmarshal(plain, v) != nil {
		return ErrInvalid
	}
	return nil
}
