package s3

import (
	"context"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/valetgw/valet/providers"
)

// CreateMultipart starts an upload with the object's content type and
// metadata. When the total and part sizes are given it checks them against
// S3's limits first, so a plan that cannot complete fails now.
func (p *Provider) CreateMultipart(ctx context.Context, req providers.CreateMultipartRequest) (providers.MultipartUpload, error) {
	st, err := p.configured()
	if err != nil {
		return providers.MultipartUpload{}, err
	}
	if req.Size < 0 || req.PartSize < 0 {
		return providers.MultipartUpload{}, providers.Errorf(providers.InvalidArgument, "negative size")
	}
	if req.PartSize > 0 {
		if req.PartSize > maxPartSize {
			return providers.MultipartUpload{}, providers.Errorf(providers.InvalidArgument, "part size %d exceeds S3's maximum of %d", req.PartSize, int64(maxPartSize))
		}
		if req.PartSize < minPartSize && req.Size > req.PartSize {
			return providers.MultipartUpload{}, providers.Errorf(providers.InvalidArgument, "part size %d is below S3's minimum of %d", req.PartSize, minPartSize)
		}
		if req.Size > 0 && (req.Size+req.PartSize-1)/req.PartSize > maxParts {
			return providers.MultipartUpload{}, providers.Errorf(providers.InvalidArgument, "%d bytes in parts of %d need more than %d parts", req.Size, req.PartSize, maxParts)
		}
	}
	in := &s3.CreateMultipartUploadInput{Bucket: aws.String(st.cfg.Bucket), Key: aws.String(req.Key)}
	if req.ContentType != "" {
		if !validHeaderValue(req.ContentType) {
			return providers.MultipartUpload{}, providers.Errorf(providers.InvalidArgument, "content type %q is not a valid header value", req.ContentType)
		}
		in.ContentType = aws.String(req.ContentType)
	}
	if len(req.Metadata) > 0 {
		// Same rules as for a single PUT.
		if err := metadataHeaders(make(map[string][]string), req.Metadata); err != nil {
			return providers.MultipartUpload{}, err
		}
		in.Metadata = lowerKeys(req.Metadata)
	}
	out, err := st.client.CreateMultipartUpload(ctx, in)
	if err != nil {
		return providers.MultipartUpload{}, mapError("CreateMultipartUpload", req.Key, err)
	}
	return providers.MultipartUpload{UploadID: aws.ToString(out.UploadId)}, nil
}

// CompleteMultipart assembles the parts (each needs the ETag its PUT
// returned) and returns the object as a HEAD sees it. A declared
// req.Checksum is ignored: S3 has no full-object sha256 of a multipart
// object, and Head never reports the composite value it has instead.
func (p *Provider) CompleteMultipart(ctx context.Context, req providers.CompleteMultipartRequest) (providers.Object, error) {
	st, err := p.configuredFor(req.UploadID)
	if err != nil {
		return providers.Object{}, err
	}
	if len(req.Parts) == 0 || len(req.Parts) > maxParts {
		return providers.Object{}, providers.Errorf(providers.InvalidArgument, "between 1 and %d parts are needed, got %d", maxParts, len(req.Parts))
	}
	parts := make([]types.CompletedPart, len(req.Parts))
	for i, part := range req.Parts {
		if part.Number < 1 || part.Number > maxParts {
			return providers.Object{}, providers.Errorf(providers.InvalidArgument, "part number %d out of range 1..%d", part.Number, maxParts)
		}
		if part.ETag == "" {
			return providers.Object{}, providers.Errorf(providers.InvalidArgument, "part %d: ETag is required", part.Number)
		}
		if i > 0 && part.Number <= req.Parts[i-1].Number {
			return providers.Object{}, providers.Errorf(providers.FailedPrecondition, "parts must be listed in ascending order without repeats (part %d after %d)", part.Number, req.Parts[i-1].Number)
		}
		parts[i] = types.CompletedPart{PartNumber: aws.Int32(int32(part.Number)), ETag: aws.String(part.ETag)}
	}
	_, err = st.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(st.cfg.Bucket),
		Key:             aws.String(req.Key),
		UploadId:        aws.String(req.UploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return providers.Object{}, mapError("CompleteMultipartUpload", req.Key, err)
	}
	return p.Head(ctx, providers.HeadRequest{Key: req.Key})
}

// AbortMultipart discards the upload and its parts; an unknown upload is
// not an error.
func (p *Provider) AbortMultipart(ctx context.Context, req providers.AbortMultipartRequest) (providers.AbortMultipartResult, error) {
	ref := req.Upload
	st, err := p.configuredFor(ref.UploadID)
	if err != nil {
		return providers.AbortMultipartResult{}, err
	}
	_, err = st.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(st.cfg.Bucket), Key: aws.String(ref.Key), UploadId: aws.String(ref.UploadID),
	})
	if err = mapError("AbortMultipartUpload", ref.Key, err); providers.CodeOf(err) == providers.NotFound {
		return providers.AbortMultipartResult{}, nil
	}
	return providers.AbortMultipartResult{}, err
}

// ListParts returns every uploaded part, following S3's pagination.
func (p *Provider) ListParts(ctx context.Context, req providers.ListPartsRequest) (providers.ListPartsResult, error) {
	ref := req.Upload
	st, err := p.configuredFor(ref.UploadID)
	if err != nil {
		return providers.ListPartsResult{}, err
	}
	var parts []providers.Part
	in := &s3.ListPartsInput{Bucket: aws.String(st.cfg.Bucket), Key: aws.String(ref.Key), UploadId: aws.String(ref.UploadID)}
	for range maxParts { // bounded: a page holds at least one part
		out, err := st.client.ListParts(ctx, in)
		if err != nil {
			return providers.ListPartsResult{}, mapError("ListParts", ref.Key, err)
		}
		for _, part := range out.Parts {
			parts = append(parts, providers.Part{
				Number: int(aws.ToInt32(part.PartNumber)),
				Size:   aws.ToInt64(part.Size),
				ETag:   aws.ToString(part.ETag),
			})
		}
		if !aws.ToBool(out.IsTruncated) || aws.ToString(out.NextPartNumberMarker) == "" || len(out.Parts) == 0 {
			break
		}
		in.PartNumberMarker = out.NextPartNumberMarker
	}
	slices.SortFunc(parts, func(a, b providers.Part) int { return a.Number - b.Number })
	return providers.ListPartsResult{Parts: parts}, nil
}
