package auth

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// verifiedCache remembers JWTs that passed full verification, so that a
// client sending the same bearer token on every request pays for signature
// checking and claim parsing once rather than per request.
//
// Safety rests on four rules:
//   - the key is the sha256 of the whole raw token, so any change to the
//     header, payload or signature is a different key and a miss;
//   - only successes are stored; a failure is never remembered, so a bad
//     token always goes through full verification;
//   - an entry serves only while the clock is in [verifiedAt, exp): the
//     token's own exp with no leeway (past exp the token is verified again,
//     with the configured leeway, exactly as without a cache), and never for
//     a clock that moved back before the verification (nbf/iat);
//   - the cache belongs to one Authenticator, which is built from one
//     configuration, so a config reload (new secret, issuer, audience, key
//     file) starts empty. For a JWKS URL an entry also records the key set it
//     was verified against and is dropped once the refreshed set differs, so
//     a key the issuer withdraws stops being honoured at the next refresh
//     (at most auth.jwt.jwks_refresh later, see New).
//
// It is bounded (a CLOCK, second-chance, ring of fixed size) and safe for
// concurrent use.
type verifiedCache struct {
	mu    sync.Mutex
	index map[[sha256.Size]byte]int // token hash -> slot
	slots []cacheSlot
	hand  int
}

type cacheSlot struct {
	used       bool
	referenced bool
	key        [sha256.Size]byte
	entry      cacheEntry
}

type cacheEntry struct {
	principal  Principal
	verifiedAt time.Time
	exp        time.Time
	// set is the JWKS (from a URL) the token was verified against; nil for
	// HS256 and for a JWKS file, which cannot change within an Authenticator.
	set jwk.Set
}

// cacheSize bounds the number of remembered tokens; maxCachedToken bounds the
// size of one (larger tokens are verified every time), so the cache's memory
// stays small whatever the issuer puts in its tokens.
const (
	cacheSize      = 4096
	maxCachedToken = 4 << 10
)

func newVerifiedCache(size int) *verifiedCache {
	return &verifiedCache{index: make(map[[sha256.Size]byte]int, size), slots: make([]cacheSlot, size)}
}

// get returns the entry for key when it is still valid at now. An entry
// that is no longer valid is removed.
func (c *verifiedCache) get(key [sha256.Size]byte, now time.Time) (cacheEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i, ok := c.index[key]
	if !ok {
		return cacheEntry{}, false
	}
	s := &c.slots[i]
	if !now.Before(s.entry.exp) || now.Before(s.entry.verifiedAt) {
		c.removeLocked(i)
		return cacheEntry{}, false
	}
	s.referenced = true
	return s.entry, true
}

// remove drops key (used when an entry's key set is stale).
func (c *verifiedCache) remove(key [sha256.Size]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i, ok := c.index[key]; ok {
		c.removeLocked(i)
	}
}

func (c *verifiedCache) removeLocked(i int) {
	delete(c.index, c.slots[i].key)
	c.slots[i] = cacheSlot{}
}

// put stores a verified token, evicting with the CLOCK algorithm when full:
// the hand skips (and clears) recently used slots and takes the first free,
// expired or not recently used one.
func (c *verifiedCache) put(key [sha256.Size]byte, e cacheEntry, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i, ok := c.index[key]; ok {
		c.slots[i].entry, c.slots[i].referenced = e, true
		return
	}
	for {
		s := &c.slots[c.hand]
		i := c.hand
		c.hand = (c.hand + 1) % len(c.slots)
		if s.used && s.referenced && now.Before(s.entry.exp) {
			s.referenced = false
			continue
		}
		if s.used {
			delete(c.index, s.key)
		}
		*s = cacheSlot{used: true, key: key, entry: e}
		c.index[key] = i
		return
	}
}

func (c *verifiedCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.index)
}
