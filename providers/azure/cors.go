package azure

import (
	"context"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/valetgw/valet/providers"
)

var _ providers.CORSConfigurer = (*Provider)(nil)

// Azure's CORS rules belong to the storage account's Blob service (Get and
// Set Blob Service Properties), not to the container: they apply to every
// container of the account.

// GetCORS implements providers.CORSConfigurer from the Blob service
// properties.
func (p *Provider) GetCORS(ctx context.Context, _ providers.GetCORSRequest) (providers.CORSResult, error) {
	st, err := p.current()
	if err != nil {
		return providers.CORSResult{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	props, err := st.svc.GetProperties(ctx, nil)
	if err != nil {
		return providers.CORSResult{}, mapError(err, "account "+st.account+": Blob service properties")
	}
	res := providers.CORSResult{Rules: make([]providers.CORSRule, 0, len(props.CORS))}
	for _, r := range props.CORS {
		if r == nil {
			continue
		}
		res.Rules = append(res.Rules, providers.CORSRule{
			AllowedOrigins: splitList(r.AllowedOrigins), AllowedMethods: splitList(r.AllowedMethods),
			AllowedHeaders: splitList(r.AllowedHeaders), ExposeHeaders: splitList(r.ExposedHeaders),
			MaxAgeSeconds: int(deref(r.MaxAgeInSeconds)),
		})
	}
	return res, nil
}

// PutCORS implements providers.CORSConfigurer with Set Blob Service
// Properties, which leaves the account's other properties as they are.
// No rules is Unimplemented: the SDK cannot send the empty Cors element
// that clears them.
func (p *Provider) PutCORS(ctx context.Context, req providers.PutCORSRequest) (providers.PutCORSResult, error) {
	if err := providers.CheckCORSRules(req.Rules); err != nil {
		return providers.PutCORSResult{}, err
	}
	st, err := p.current()
	if err != nil {
		return providers.PutCORSResult{}, err
	}
	if len(req.Rules) == 0 {
		return providers.PutCORSResult{}, providers.Errorf(providers.Unimplemented,
			"azure: removing every CORS rule of account %s is not supported here: clear them with `az storage cors clear --services b`", st.account)
	}
	rules := make([]*service.CORSRule, 0, len(req.Rules))
	for _, r := range req.Rules {
		rules = append(rules, &service.CORSRule{
			AllowedOrigins: to.Ptr(strings.Join(r.AllowedOrigins, ",")),
			AllowedMethods: to.Ptr(strings.Join(r.AllowedMethods, ",")),
			// Azure requires both lists; empty strings mean none.
			AllowedHeaders:  to.Ptr(strings.Join(r.AllowedHeaders, ",")),
			ExposedHeaders:  to.Ptr(strings.Join(r.ExposeHeaders, ",")),
			MaxAgeInSeconds: to.Ptr(int32(min(r.MaxAgeSeconds, 1<<31-1))),
		})
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if _, err := st.svc.SetProperties(ctx, &service.SetPropertiesOptions{CORS: rules}); err != nil {
		return providers.PutCORSResult{}, mapError(err, "account "+st.account+": setting Blob service CORS")
	}
	return providers.PutCORSResult{}, nil
}

// splitList splits one of Azure's comma-separated CORS lists.
func splitList(s *string) []string {
	var out []string
	for _, v := range strings.Split(deref(s), ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
