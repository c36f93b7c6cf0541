package memprovider

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/valetgw/valet/providers"
)

var _ providers.CORSConfigurer = (*Provider)(nil)

// GetCORS implements providers.CORSConfigurer: the rules last put.
func (p *Provider) GetCORS(ctx context.Context, _ providers.GetCORSRequest) (providers.CORSResult, error) {
	if err := p.fault(ctx, "GetCORS"); err != nil {
		return providers.CORSResult{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return providers.CORSResult{Rules: cloneRules(p.cors)}, nil
}

// PutCORS implements providers.CORSConfigurer: its listener answers
// preflights and sets CORS headers by these rules from then on.
func (p *Provider) PutCORS(ctx context.Context, req providers.PutCORSRequest) (providers.PutCORSResult, error) {
	if err := p.fault(ctx, "PutCORS"); err != nil {
		return providers.PutCORSResult{}, err
	}
	if err := providers.CheckCORSRules(req.Rules); err != nil {
		return providers.PutCORSResult{}, err
	}
	p.set(func() { p.cors = cloneRules(req.Rules) })
	return providers.PutCORSResult{}, nil
}

func cloneRules(rules []providers.CORSRule) []providers.CORSRule {
	out := make([]providers.CORSRule, 0, len(rules))
	for _, r := range rules {
		out = append(out, providers.CORSRule{AllowedOrigins: slices.Clone(r.AllowedOrigins), AllowedMethods: slices.Clone(r.AllowedMethods),
			AllowedHeaders: slices.Clone(r.AllowedHeaders), ExposeHeaders: slices.Clone(r.ExposeHeaders), MaxAgeSeconds: r.MaxAgeSeconds})
	}
	return out
}

// serveCORS applies the rules to a request from a page, like S3: a
// preflight is answered here (true) by the first rule that allows its
// origin, method and headers, or refused with 403; another request from an
// allowed origin gets Access-Control-Allow-Origin and the exposed headers.
func (p *Provider) serveCORS(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	if origin == "" && !preflight {
		return false
	}
	method := r.Method
	if preflight {
		method = r.Header.Get("Access-Control-Request-Method")
	}
	var asked []string
	for _, v := range r.Header.Values("Access-Control-Request-Headers") {
		for _, h := range strings.Split(v, ",") {
			if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
				asked = append(asked, h)
			}
		}
	}
	p.mu.Lock()
	rules := p.cors
	p.mu.Unlock()
	for _, rule := range rules {
		if !matches(rule.AllowedOrigins, origin, false) || !matches(rule.AllowedMethods, method, false) {
			continue
		}
		if preflight && slices.ContainsFunc(asked, func(h string) bool { return !matches(rule.AllowedHeaders, h, true) }) {
			continue
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
		if preflight {
			h.Set("Access-Control-Allow-Methods", strings.Join(rule.AllowedMethods, ", "))
			if len(asked) > 0 {
				h.Set("Access-Control-Allow-Headers", strings.Join(asked, ", "))
			}
			if rule.MaxAgeSeconds > 0 {
				h.Set("Access-Control-Max-Age", strconv.Itoa(rule.MaxAgeSeconds))
			}
			w.WriteHeader(http.StatusOK)
			return true
		}
		if len(rule.ExposeHeaders) > 0 {
			h.Set("Access-Control-Expose-Headers", strings.Join(rule.ExposeHeaders, ", "))
		}
		return false
	}
	if preflight {
		http.Error(w, "CORS preflight refused", http.StatusForbidden)
		return true
	}
	return false
}

func matches(list []string, v string, fold bool) bool {
	return slices.ContainsFunc(list, func(a string) bool { return a == "*" || a == v || fold && strings.EqualFold(a, v) })
}
