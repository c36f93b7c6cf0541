package local

import (
	"context"
	"net/http"
	"strings"

	"github.com/valetgw/valet/providers"
)

// The local store's CORS comes from its config (cors_origins): GetCORS
// describes what its listener answers, and PutCORS cannot change it.

// GetCORS implements providers.CORSConfigurer: one rule for the configured
// origins, with the methods, request headers, exposed headers and max age
// the listener's preflight and responses give; no rule when no origin is
// configured.
func (p *Provider) GetCORS(context.Context, providers.GetCORSRequest) (providers.CORSResult, error) {
	inst, err := p.instance()
	if err != nil {
		return providers.CORSResult{}, err
	}
	res := providers.CORSResult{Rules: []providers.CORSRule{}}
	if len(inst.set.origins) == 0 {
		return res, nil
	}
	var expose []string
	for _, h := range strings.Split(exposedHeaders, ",") {
		expose = append(expose, strings.TrimSpace(h))
	}
	res.Rules = append(res.Rules, providers.CORSRule{
		AllowedOrigins: append([]string{}, inst.set.origins...),
		AllowedMethods: []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodPost},
		AllowedHeaders: append([]string{}, allowedRequestHeaders...),
		ExposeHeaders:  expose,
		MaxAgeSeconds:  preflightMaxAge,
	})
	return res, nil
}

// PutCORS implements providers.CORSConfigurer: always Unimplemented, since
// the rules are the store's config.
func (p *Provider) PutCORS(_ context.Context, req providers.PutCORSRequest) (providers.PutCORSResult, error) {
	if err := providers.CheckCORSRules(req.Rules); err != nil {
		return providers.PutCORSResult{}, err
	}
	return providers.PutCORSResult{}, providers.Errorf(providers.Unimplemented,
		"the local store's CORS is its config: set cors in the store's config (stores.NAME.config.cors_origins) and reload")
}

// preflightMaxAge is how long, in seconds, a browser may cache the
// listener's preflight answer.
const preflightMaxAge = 600
