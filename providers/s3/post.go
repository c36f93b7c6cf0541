package s3

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/valetgw/valet/providers"
)

// SignPostPolicy implements providers.PostPolicySigner with
// aws-sdk-go-v2's PresignPostObject: a SigV4 POST policy whose conditions
// bind the key, the exact Content-Type, content-length-range MinSize to
// MaxSize and every x-amz-meta-* field. S3 (and versitygw, MinIO) answer
// 400 EntityTooLarge/EntityTooSmall for a file outside the range and 403
// for a field that breaks a condition, a changed policy or signature, or
// an expired policy. The form posts to the bucket's public URL.
func (p *Provider) SignPostPolicy(ctx context.Context, req providers.PostPolicyRequest) (providers.PostPolicy, error) {
	st, err := p.configured()
	if err != nil {
		return providers.PostPolicy{}, err
	}
	if err := checkPostPolicy(req); err != nil {
		return providers.PostPolicy{}, err
	}
	meta := http.Header{}
	if err := metadataHeaders(meta, req.Metadata); err != nil {
		return providers.PostPolicy{}, err
	}
	now := p.now()
	var expires time.Duration
	if req.ExpiresAt.IsZero() {
		secs, _, err := st.expiry(ctx, now, req.TTL)
		if err != nil {
			return providers.PostPolicy{}, err
		}
		expires = time.Duration(secs) * time.Second
	} else {
		// An explicit expiry may be past: S3 then refuses the form.
		if expires = req.ExpiresAt.Sub(now).Truncate(time.Second); expires > maxExpiry {
			return providers.PostPolicy{}, providers.Errorf(providers.InvalidArgument, "expiry %s is more than the SigV4 maximum of %s away", req.ExpiresAt.Format(time.RFC3339), maxExpiry)
		}
		if expires == 0 {
			expires = -time.Second // 0 would mean the SDK's default of 15 minutes
		}
	}
	fields := map[string]string{"Content-Type": req.ContentType}
	conds := []any{
		[]any{"content-length-range", req.MinSize, req.MaxSize},
		map[string]string{"Content-Type": req.ContentType},
	}
	for name, v := range meta {
		fields[name] = v[0]
		conds = append(conds, map[string]string{name: v[0]})
	}
	out, err := s3.NewPresignClient(st.client).PresignPostObject(ctx,
		&s3.PutObjectInput{Bucket: aws.String(st.cfg.Bucket), Key: aws.String(req.Key)},
		func(o *s3.PresignPostOptions) { o.Expires, o.Conditions = expires, conds })
	if err != nil {
		return providers.PostPolicy{}, mapError("PresignPostObject", req.Key, err)
	}
	for k, v := range out.Values {
		fields[k] = v
	}
	return providers.PostPolicy{
		// The policy's signature does not cover the host, so the form goes
		// to the public endpoint like every signed URL.
		URL:       st.scheme + ":" + st.opaque,
		Fields:    fields,
		ExpiresAt: now.Add(expires).Truncate(time.Second),
	}, nil
}

// checkPostPolicy validates what every POST policy needs.
func checkPostPolicy(req providers.PostPolicyRequest) error {
	switch {
	case strings.Contains(req.Key, "${"):
		// S3 fills ${filename} in a form's key field from the file's name:
		// the signed key would no longer be the one stored.
		return providers.Errorf(providers.InvalidArgument, "key %q: a POST policy's key may not hold \"${\"", req.Key)
	case req.MaxSize <= 0 || req.MinSize < 0 || req.MinSize > req.MaxSize:
		return providers.Errorf(providers.InvalidArgument, "size range %d..%d: want 0 <= min <= max and max > 0", req.MinSize, req.MaxSize)
	case req.MaxSize > maxPutSize:
		return providers.Errorf(providers.InvalidArgument, "max size %d is more than the %d a single S3 upload takes", req.MaxSize, int64(maxPutSize))
	case req.ContentType == "" || !validHeaderValue(req.ContentType):
		return providers.Errorf(providers.InvalidArgument, "content type %q: a POST policy binds a non-empty, valid content type", req.ContentType)
	}
	return nil
}

var _ providers.PostPolicySigner = (*Provider)(nil)
