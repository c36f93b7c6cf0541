package s3

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/valetgw/valet/providers"
)

// Head returns the object's metadata, with its full-object checksums when
// the backend stored any (ChecksumMode is enabled for that).
func (p *Provider) Head(ctx context.Context, req providers.HeadRequest) (providers.Object, error) {
	key := req.Key
	st, err := p.configured()
	if err != nil {
		return providers.Object{}, err
	}
	out, err := st.client.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket:       aws.String(st.cfg.Bucket),
		Key:          aws.String(key),
		ChecksumMode: types.ChecksumModeEnabled,
	})
	if err != nil {
		return providers.Object{}, mapError("HeadObject", key, err)
	}
	obj := providers.Object{
		Key:          key,
		Size:         aws.ToInt64(out.ContentLength),
		ContentType:  aws.ToString(out.ContentType),
		ETag:         aws.ToString(out.ETag),
		LastModified: aws.ToTime(out.LastModified),
	}
	obj.Metadata = lowerKeys(out.Metadata)
	// Checksums of multipart objects are checksums of part checksums
	// ("...-N"), not of the content, so only full-object values count.
	if out.ChecksumType != types.ChecksumTypeComposite {
		add := func(alg providers.ChecksumAlgorithm, v *string) {
			if s := aws.ToString(v); s != "" && !strings.Contains(s, "-") {
				if obj.Checksums == nil {
					obj.Checksums = map[providers.ChecksumAlgorithm]string{}
				}
				obj.Checksums[alg] = s
			}
		}
		add(providers.SHA256, out.ChecksumSHA256)
		add(providers.CRC32C, out.ChecksumCRC32C)
	}
	return obj, nil
}

// ReadObject implements providers.Reader with one GetObject: an object
// over MaxBytes is refused from the response's Content-Length, and its
// body closed unread.
func (p *Provider) ReadObject(ctx context.Context, req providers.ReadObjectRequest) (providers.ReadObjectResult, error) {
	if err := providers.CheckReadObject(req); err != nil {
		return providers.ReadObjectResult{}, err
	}
	st, err := p.configured()
	if err != nil {
		return providers.ReadObjectResult{}, err
	}
	out, err := st.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(st.cfg.Bucket), Key: aws.String(req.Key)})
	if err != nil {
		return providers.ReadObjectResult{}, mapError("GetObject", req.Key, err)
	}
	defer out.Body.Close()
	size := int64(-1)
	if out.ContentLength != nil {
		size = *out.ContentLength
	}
	data, err := providers.ReadBounded(req.Key, out.Body, size, req.MaxBytes)
	if err != nil {
		return providers.ReadObjectResult{}, err
	}
	obj := providers.Object{Key: req.Key, Size: int64(len(data)), ContentType: aws.ToString(out.ContentType),
		ETag: aws.ToString(out.ETag), LastModified: aws.ToTime(out.LastModified)}
	obj.Metadata = lowerKeys(out.Metadata)
	return providers.ReadObjectResult{Object: obj, Data: data}, nil
}

// List returns one page of ListObjectsV2; the cursor is S3's continuation
// token.
func (p *Provider) List(ctx context.Context, req providers.ListRequest) (providers.ListPage, error) {
	st, err := p.configured()
	if err != nil {
		return providers.ListPage{}, err
	}
	limit := req.PageSize()
	in := &s3.ListObjectsV2Input{
		Bucket:  aws.String(st.cfg.Bucket),
		MaxKeys: aws.Int32(int32(limit)),
	}
	if req.Prefix != "" {
		in.Prefix = aws.String(req.Prefix)
	}
	if req.Cursor != "" {
		in.ContinuationToken = aws.String(req.Cursor)
	}
	out, err := st.client.ListObjectsV2(ctx, in)
	if err != nil {
		return providers.ListPage{}, mapError("ListObjectsV2", req.Prefix, err)
	}
	page := providers.ListPage{Objects: make([]providers.Object, 0, len(out.Contents))}
	for _, o := range out.Contents {
		page.Objects = append(page.Objects, providers.Object{
			Key:          aws.ToString(o.Key),
			Size:         aws.ToInt64(o.Size),
			ETag:         aws.ToString(o.ETag),
			LastModified: aws.ToTime(o.LastModified),
		})
	}
	if aws.ToBool(out.IsTruncated) {
		page.NextCursor = aws.ToString(out.NextContinuationToken)
	}
	return page, nil
}

// Delete removes an object; a missing object is not an error (S3 itself
// answers 204 for it, some compatible servers 404).
func (p *Provider) Delete(ctx context.Context, req providers.DeleteRequest) (providers.DeleteResult, error) {
	key := req.Key
	st, err := p.configured()
	if err != nil {
		return providers.DeleteResult{}, err
	}
	_, err = st.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(st.cfg.Bucket), Key: aws.String(key)})
	if err = mapError("DeleteObject", key, err); providers.CodeOf(err) == providers.NotFound {
		return providers.DeleteResult{}, nil
	}
	return providers.DeleteResult{}, err
}

// lowerKeys is m with lower-case names, as the contract gives metadata
// (S3 servers differ in the case they return); nil when m is empty.
func lowerKeys(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out
}
