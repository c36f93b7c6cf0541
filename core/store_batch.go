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
	reads := st.readsFor(ctx, who)
	for i, key := range spec.Keys {
		items[i].Key = key
		if err := keys.Validate(key); err != nil {
			items[i].Err = apiError("invalid_key", err.Error())
			continue
		}
		items[i].Err = reads.allow(key)
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

// batchReads evaluates the read rule for many keys of one caller: what
// Store.allow does per key, with the caller's part of the input (subject,
// claims, key_prefix) made once.
type batchReads struct {
	st   *Store
	ctx  context.Context
	eval context.Context
	rule *policy.Program
	in   policy.Input
	// perKey is false for a rule that reads neither key nor prefix: it
	// has one answer for the whole batch, evaluated for the first key.
	perKey    bool
	evaluated bool
	once      *problem.Problem
}

func (st *Store) readsFor(ctx context.Context, who auth.Principal) *batchReads {
	rule := st.rules.For(policy.Read)
	return &batchReads{
		st: st, ctx: ctx, rule: rule,
		// CEL derives a cancelable context from this one for every
		// evaluation; from a request's context, which can be canceled,
		// that registers and unregisters a child each time. The batch
		// evaluates under the request's values without its cancelation,
		// and checks it before each key instead (one evaluation is
		// bounded by the rule's cost limit).
		eval:   context.WithoutCancel(ctx),
		in:     policy.Input{Subject: who.Subject, Claims: who.Claims, KeyPrefix: st.tmpl.Prefix(who.Subject)},
		perKey: rule.Uses("key") || rule.Uses("prefix"),
	}
}

// allow is Store.allow(ctx, who, policy.Read, {key, its prefix}).
func (b *batchReads) allow(key string) *problem.Problem {
	if !b.perKey && b.evaluated {
		return b.once
	}
	eval := b.eval
	if b.ctx.Err() != nil {
		eval = b.ctx // canceled: evaluate as Store.allow would, and fail
	}
	in := b.in
	in.Key, in.Prefix = key, keys.Dir(key)
	var p *problem.Problem
	if err := b.rule.Allow(eval, in); err != nil {
		p = deniedBy(policy.Read)
	}
	b.once, b.evaluated = p, true
	return p
}

// deniedBy is the problem of a request that op's rule does not allow.
func deniedBy(op policy.Op) *problem.Problem {
	return apiErrorf("policy_denied", "the store's %s rule does not allow this", op)
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
