package gcs

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/storage"

	"github.com/valetgw/valet/providers"
)

var _ providers.CORSConfigurer = (*Provider)(nil)

// GCS keeps one header list per CORS rule, responseHeader, which serves
// both as the request headers a preflight may ask for and as the response
// headers a page may read. PutCORS writes the union of a rule's
// AllowedHeaders and ExposeHeaders there, and GetCORS reads it back as
// both.

// GetCORS implements providers.CORSConfigurer from the bucket's attributes.
func (p *Provider) GetCORS(ctx context.Context, _ providers.GetCORSRequest) (providers.CORSResult, error) {
	s, err := p.state()
	if err != nil {
		return providers.CORSResult{}, err
	}
	attrs, err := s.bucket.Attrs(ctx)
	if err != nil {
		return providers.CORSResult{}, wrapErr(err, "gcs: bucket "+s.st.Bucket+" attributes")
	}
	res := providers.CORSResult{Rules: make([]providers.CORSRule, 0, len(attrs.CORS))}
	for _, c := range attrs.CORS {
		res.Rules = append(res.Rules, providers.CORSRule{
			AllowedOrigins: c.Origins, AllowedMethods: c.Methods,
			AllowedHeaders: c.ResponseHeaders, ExposeHeaders: c.ResponseHeaders,
			MaxAgeSeconds: int(c.MaxAge / time.Second),
		})
	}
	return res, nil
}

// PutCORS implements providers.CORSConfigurer by updating the bucket's
// CORS attribute (no rules clears it).
func (p *Provider) PutCORS(ctx context.Context, req providers.PutCORSRequest) (providers.PutCORSResult, error) {
	if err := providers.CheckCORSRules(req.Rules); err != nil {
		return providers.PutCORSResult{}, err
	}
	s, err := p.state()
	if err != nil {
		return providers.PutCORSResult{}, err
	}
	cors := make([]storage.CORS, 0, len(req.Rules))
	for _, r := range req.Rules {
		var headers []string
		for _, h := range append(slices.Clone(r.AllowedHeaders), r.ExposeHeaders...) {
			if !slices.ContainsFunc(headers, func(o string) bool { return strings.EqualFold(o, h) }) {
				headers = append(headers, h)
			}
		}
		cors = append(cors, storage.CORS{Origins: r.AllowedOrigins, Methods: r.AllowedMethods,
			ResponseHeaders: headers, MaxAge: time.Duration(r.MaxAgeSeconds) * time.Second})
	}
	if _, err := s.bucket.Update(ctx, storage.BucketAttrsToUpdate{CORS: cors}); err != nil {
		return providers.PutCORSResult{}, wrapErr(err, fmt.Sprintf("gcs: bucket %s: setting CORS", s.st.Bucket))
	}
	return providers.PutCORSResult{}, nil
}
