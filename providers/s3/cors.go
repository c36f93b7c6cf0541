package s3

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/valetgw/valet/providers"
)

var _ providers.CORSConfigurer = (*Provider)(nil)

// minioCORS is what a MinIO store's operator sets instead of bucket CORS,
// which MinIO does not implement (PutBucketCors answers 501).
const minioCORS = "MinIO has no bucket CORS (its S3 API answers 501 NotImplemented): set the server's MINIO_API_CORS_ALLOW_ORIGIN to the page origins (MinIO then allows any method and request header and exposes ETag), or answer CORS in the proxy in front of it"

// GetCORS implements providers.CORSConfigurer with GetBucketCors. A bucket
// without a CORS configuration has no rules, except on MinIO, where that
// answer means its server-wide CORS applies: Unimplemented, saying so.
func (p *Provider) GetCORS(ctx context.Context, _ providers.GetCORSRequest) (providers.CORSResult, error) {
	st, err := p.configured()
	if err != nil {
		return providers.CORSResult{}, err
	}
	out, err := st.client.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: aws.String(st.cfg.Bucket)})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "NoSuchCORSConfiguration" {
			if p.minio {
				// MinIO keeps no bucket CORS to report: its server-wide
				// setting (any origin by default) is what applies.
				return providers.CORSResult{}, &providers.Error{Code: providers.Unimplemented, Message: "s3 GetBucketCors: " + minioCORS}
			}
			return providers.CORSResult{Rules: []providers.CORSRule{}}, nil
		}
		return providers.CORSResult{}, p.corsError("GetBucketCors", err)
	}
	res := providers.CORSResult{Rules: make([]providers.CORSRule, 0, len(out.CORSRules))}
	for _, r := range out.CORSRules {
		res.Rules = append(res.Rules, providers.CORSRule{
			AllowedOrigins: r.AllowedOrigins, AllowedMethods: r.AllowedMethods,
			AllowedHeaders: r.AllowedHeaders, ExposeHeaders: r.ExposeHeaders,
			MaxAgeSeconds: int(aws.ToInt32(r.MaxAgeSeconds)),
		})
	}
	return res, nil
}

// PutCORS implements providers.CORSConfigurer with PutBucketCors, or
// DeleteBucketCors for no rules (S3 refuses an empty configuration).
func (p *Provider) PutCORS(ctx context.Context, req providers.PutCORSRequest) (providers.PutCORSResult, error) {
	if err := providers.CheckCORSRules(req.Rules); err != nil {
		return providers.PutCORSResult{}, err
	}
	st, err := p.configured()
	if err != nil {
		return providers.PutCORSResult{}, err
	}
	bucket := aws.String(st.cfg.Bucket)
	if len(req.Rules) == 0 {
		_, err = st.client.DeleteBucketCors(ctx, &s3.DeleteBucketCorsInput{Bucket: bucket})
		return providers.PutCORSResult{}, p.corsError("DeleteBucketCors", err)
	}
	rules := make([]types.CORSRule, 0, len(req.Rules))
	for _, r := range req.Rules {
		rule := types.CORSRule{AllowedOrigins: r.AllowedOrigins, AllowedMethods: r.AllowedMethods,
			AllowedHeaders: r.AllowedHeaders, ExposeHeaders: r.ExposeHeaders}
		if r.MaxAgeSeconds > 0 {
			rule.MaxAgeSeconds = aws.Int32(int32(min(r.MaxAgeSeconds, 1<<31-1)))
		}
		rules = append(rules, rule)
	}
	_, err = st.client.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: bucket, CORSConfiguration: &types.CORSConfiguration{CORSRules: rules}})
	return providers.PutCORSResult{}, p.corsError("PutBucketCors", err)
}

// corsError maps a bucket CORS call's error; a server without bucket CORS
// (MinIO's 501) says what to set instead.
func (p *Provider) corsError(op string, err error) error {
	err = mapError(op, "", err)
	if providers.CodeOf(err) != providers.Unimplemented {
		return err
	}
	msg := providers.AsError(err).Message + ": this S3 server has no bucket CORS; answer CORS where it is served (its own setting, or the proxy in front of it)"
	if p.minio {
		msg = providers.AsError(err).Message + ": " + minioCORS
	}
	return &providers.Error{Code: providers.Unimplemented, Message: msg}
}
