package core

import (
	"context"
	"path"
	"sync"
	"time"

	"github.com/valetgw/valet/core/auth"
	"github.com/valetgw/valet/core/keys"
	"github.com/valetgw/valet/core/policy"
	"github.com/valetgw/valet/core/problem"
	"github.com/valetgw/valet/providers"
)

// SignSpec asks for signed downloads of many keys at once.
type SignSpec struct {
	// Keys are the objects, 1..limits.max_batch of them, answered in this
	// order (a key named twice is signed twice).
	Keys []string
	// TTL is every URL's lifetime (0 = the store's get_ttl), clamped as
	// Object clamps it.
	TTL time.Duration
	// CheckExists looks every allowed key up first (one Head each), so a
	// missing object is its item's object_not_found instead of the storage
	// server's 404 later.
	CheckExists bool
	// Disposition is "", "inline" or "attachment" for every key; an
	// attachment is named after its key's last segment.
	Disposition string
}

// SignedGet is one key's answer: Get, or Err (a catalog problem) when
// this key alone was refused.
type SignedGet struct {
	Key string
	Get providers.Recipe
	Err *problem.Problem
}

// headWorkers bounds the Heads that CheckExists runs at once.
const headWorkers = 8

// SignGets signs a GET of every key of spec that the read rule allows,
// in one provider call (SignGets of the provider's GetSigner; one SignGet
// per key only for an in-process provider without one). Each key is
// checked on its own: an invalid key, a key the rule denies, a missing
// object (with CheckExists) or a key the provider refuses is its item's
// error, not the batch's. The batch fails as a whole only for what
// concerns every key: no keys or more than max_batch, a bad disposition,
// overrides the provider cannot sign, or a failed provider call.
func (st *Store) SignGets(ctx context.Context, who auth.Principal, spec SignSpec) (items []SignedGet, err error) {
	defer catalog(&err)
	limit := st.cfg.Limits.MaxBatch
	if n := len(spec.Keys); n == 0 || n > limit {
		return nil, apiErrorf("invalid_batch", "keys must list 1 to %d keys, got %d", limit, n)
	}
	disp := spec.Disposition
	switch disp {
	case "", "inline", "attachment":
	default:
		return nil, apiError("invalid_disposition", "disposition must be inline or attachment")
	}
	if disp != "" && !st.info.Capabilities.GetOverrides {
		return nil, apiError("overrides_unsupported", "this store's provider cannot set Content-Disposition on downloads")
	}
	items = make([]SignedGet, len(spec.Keys))
	// A read rule that reads neither key nor prefix has one answer for
	// the whole batch: it is evaluated once, for the first valid key.
	perKey := st.rules.For(policy.Read).Uses("key") || st.rules.For(policy.Read).Uses("prefix")
	var once *problem.Problem
	evaluated := false
	for i, key := range spec.Keys {
		items[i].Key = key
		if err := keys.Validate(key); err != nil {
			items[i].Err = apiError("invalid_key", err.Error())
			continue
		}
		if !perKey && evaluated {
			items[i].Err = once
			continue
		}
		if err := st.allow(ctx, who, policy.Read, policy.Input{Key: key, Prefix: keys.Dir(key)}); err != nil {
			items[i].Err = asProblem(err)
		}
		once, evaluated = items[i].Err, true
	}
	if spec.CheckExists {
		st.headEach(ctx, items)
	}
	ttl := st.ttl(spec.TTL, st.cfg.Limits.GetTTL)
	var reqs []providers.GetRequest
	var at []int // reqs[j] signs items[at[j]]
	for i, it := range items {
		if it.Err != nil {
			continue
		}
		gr := providers.GetRequest{Key: it.Key, TTL: ttl}
		switch disp {
		case "inline":
			gr.ResponseContentDisposition = ContentDisposition(disp, "")
		case "attachment":
			gr.ResponseContentDisposition = ContentDisposition(disp, path.Base(it.Key))
		}
		reqs = append(reqs, gr)
		at = append(at, i)
	}
	if len(reqs) == 0 {
		return items, nil
	}
	res, err := st.signGets(ctx, reqs)
	if err != nil {
		return nil, err
	}
	for j, r := range res.Items {
		it := &items[at[j]]
		if r.Err != nil {
			it.Err = providerProblem(r.Err)
			continue
		}
		it.Get = r.Recipe
	}
	return items, nil
}

// signGets asks the provider for reqs in one call and checks that it
// answered one item per request.
func (st *Store) signGets(ctx context.Context, reqs []providers.GetRequest) (providers.SignGetsResult, error) {
	req := providers.SignGetsRequest{Requests: reqs}
	var res providers.SignGetsResult
	if st.getSigner != nil {
		var err error
		if res, err = st.getSigner.SignGets(ctx, req); err != nil {
			return res, err
		}
	} else {
		res = providers.SignEach(ctx, st.provider, req)
	}
	if len(res.Items) != len(reqs) {
		return res, providers.Errorf(providers.Internal, "SignGets answered %d items for %d requests", len(res.Items), len(reqs))
	}
	return res, nil
}

// headEach looks up every item still without an error, headWorkers at a
// time: a missing object becomes object_not_found, another failure its
// catalog problem.
func (st *Store) headEach(ctx context.Context, items []SignedGet) {
	sem := make(chan struct{}, headWorkers)
	var wg sync.WaitGroup
	for i := range items {
		if items[i].Err != nil {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(it *SignedGet) {
			defer func() { <-sem; wg.Done() }()
			_, err := st.provider.Head(ctx, providers.HeadRequest{Key: it.Key})
			switch {
			case providers.CodeOf(err) == providers.NotFound:
				it.Err = apiError("object_not_found", "no such object")
			case err != nil:
				it.Err = providerProblem(err)
			}
		}(&items[i])
	}
	wg.Wait()
}

// asProblem is err's catalog problem (a Store's errors carry one).
func asProblem(err error) *problem.Problem {
	if p, ok := err.(*problem.Problem); ok {
		return p
	}
	return providerProblem(err)
}
