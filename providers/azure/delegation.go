package azure

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
)

// Delegation key timing. Azure accepts keys valid for at most 7 days; a
// user delegation SAS must expire no later than its key.
const (
	// delegationKeyLifetime is how long each requested key is valid.
	delegationKeyLifetime = 48 * time.Hour
	// delegationRenewBefore renews a key once less than this is left, so a
	// key in the cache always covers a SAS of up to maxExpiryAD.
	delegationRenewBefore = maxExpiryAD + 10*time.Minute
	// delegationBackdate starts a key slightly in the past to absorb clock
	// skew between this host and Azure.
	delegationBackdate = 5 * time.Minute
)

// delegationKey is a user delegation key and the window it is valid in.
type delegationKey struct {
	cred   *service.UserDelegationCredential
	start  time.Time
	expiry time.Time
}

// keyFetcher obtains a user delegation key valid from start to expiry.
type keyFetcher func(ctx context.Context, start, expiry time.Time) (*service.UserDelegationCredential, error)

// delegationCache holds the current user delegation key and renews it before
// it expires. One fetch runs at a time; concurrent callers wait for it.
type delegationCache struct {
	fetch keyFetcher
	now   func() time.Time

	mu  sync.Mutex
	cur *delegationKey
}

func newDelegationCache(fetch keyFetcher, now func() time.Time) *delegationCache {
	return &delegationCache{fetch: fetch, now: now}
}

// keyFor returns a key that is valid until at least sasExpiry. It renews the
// cached key when less than delegationRenewBefore remains or when the key
// could not cover sasExpiry. When renewal fails, a cached key that still
// covers sasExpiry is used; otherwise the fetch error is returned. It never
// returns a key that expires before sasExpiry.
func (c *delegationCache) keyFor(ctx context.Context, sasExpiry time.Time) (*delegationKey, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if k := c.cur; k != nil && !k.expiry.Before(sasExpiry) && k.expiry.Sub(now) >= delegationRenewBefore {
		return k, nil
	}
	start := now.Add(-delegationBackdate).UTC().Truncate(time.Second)
	expiry := now.Add(delegationKeyLifetime).UTC().Truncate(time.Second)
	cred, err := c.fetch(ctx, start, expiry)
	if err == nil && cred == nil {
		err = fmt.Errorf("no user delegation key returned")
	}
	if err != nil {
		if k := c.cur; k != nil && !k.expiry.Before(sasExpiry) {
			return k, nil
		}
		return nil, err
	}
	k := &delegationKey{cred: cred, start: start, expiry: expiry}
	c.cur = k
	if k.expiry.Before(sasExpiry) {
		return nil, fmt.Errorf("a SAS expiring at %s would outlive the longest user delegation key (%s)", sasExpiry.Format(time.RFC3339), delegationKeyLifetime)
	}
	return k, nil
}
