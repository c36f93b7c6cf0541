package azure

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"

	"github.com/valetgw/valet/providers"
)

// Multipart uploads map onto block blobs. Azure has no upload object: the
// upload id is a self-contained token holding a random nonce plus the
// content type and metadata to set at commit time, so any replica can
// complete it. Part N is the block whose id is blockID(nonce, N); blocks of
// another upload to the same key have other ids and are never committed by
// this one. But committing (Put Block List) discards every uncommitted
// block of the blob, so completing one upload destroys the parts of any
// other upload to the same key; that one's complete then fails with
// FailedPrecondition. Keys the gateway picks are unique, so only uploads to
// client-chosen keys can meet this (see Info's notes).

// uploadState is what an upload id carries.
type uploadState struct {
	Nonce       string            `json:"n"`
	ContentType string            `json:"t,omitempty"`
	Metadata    map[string]string `json:"m,omitempty"`
}

const nonceLen = 16 // hex characters

func encodeUploadID(u uploadState) (string, error) {
	b, err := json.Marshal(u)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func decodeUploadID(id string) (uploadState, error) {
	var u uploadState
	b, err := base64.RawURLEncoding.DecodeString(id)
	if err == nil {
		err = json.Unmarshal(b, &u)
	}
	if err != nil || len(u.Nonce) != nonceLen {
		return uploadState{}, invalid("upload_id: not an Azure upload id from this provider")
	}
	if _, err := hex.DecodeString(u.Nonce); err != nil {
		return uploadState{}, invalid("upload_id: not an Azure upload id from this provider")
	}
	return u, nil
}

// blockID is the base64 block id of part n of the upload with nonce. Azure
// requires every block id of a blob to have the same length, so the part
// number is zero-padded; 16+1+7 = 24 bytes encode without padding.
func blockID(nonce string, n int) string {
	return base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("%s-%07d", nonce, n)))
}

// partNumber reverses blockID for ids of the given upload; ok is false for
// blocks that belong to something else.
func partNumber(nonce, id string) (int, bool) {
	raw, err := base64.StdEncoding.DecodeString(id)
	if err != nil || len(raw) != nonceLen+8 {
		return 0, false
	}
	s := string(raw)
	if !strings.HasPrefix(s, nonce+"-") {
		return 0, false
	}
	n, err := strconv.Atoi(s[nonceLen+1:])
	if err != nil || n < 1 || n > maxBlocks {
		return 0, false
	}
	return n, true
}

// CreateMultipart starts a block upload. Nothing is sent to Azure until the
// first block arrives.
func (p *Provider) CreateMultipart(ctx context.Context, req providers.CreateMultipartRequest) (providers.MultipartUpload, error) {
	if _, err := p.current(); err != nil {
		return providers.MultipartUpload{}, err
	}
	if req.PartSize < 0 || req.PartSize > maxBlockSize {
		return providers.MultipartUpload{}, invalid("part_size: must be at most %d bytes (4000 MiB)", int64(maxBlockSize))
	}
	if req.Size < 0 {
		return providers.MultipartUpload{}, invalid("size: must not be negative")
	}
	if req.Size > 0 && req.PartSize > 0 && (req.Size+req.PartSize-1)/req.PartSize > maxBlocks {
		return providers.MultipartUpload{}, invalid("part_size: %d bytes makes more than %d blocks for %d bytes", req.PartSize, maxBlocks, req.Size)
	}
	if !validHeaderValue(req.ContentType) {
		return providers.MultipartUpload{}, invalid("content_type: must be printable ASCII")
	}
	meta, err := encodeMetadata(req.Metadata)
	if err != nil {
		return providers.MultipartUpload{}, err
	}
	var n [nonceLen / 2]byte
	if _, err := rand.Read(n[:]); err != nil {
		return providers.MultipartUpload{}, providers.Errorf(providers.Internal, "upload nonce: %v", err)
	}
	id, err := encodeUploadID(uploadState{Nonce: hex.EncodeToString(n[:]), ContentType: req.ContentType, Metadata: meta})
	if err != nil {
		return providers.MultipartUpload{}, providers.Errorf(providers.Internal, "upload id: %v", err)
	}
	return providers.MultipartUpload{UploadID: id}, nil
}

// upload returns the configured store and the state of the upload id.
func (p *Provider) upload(id string) (*store, uploadState, error) {
	s, err := p.current()
	if err != nil {
		return nil, uploadState{}, err
	}
	u, err := decodeUploadID(id)
	if err != nil {
		return nil, uploadState{}, err
	}
	return s, u, nil
}

// SignParts returns one Put Block recipe per part. A block's size is not
// bound (Azure checks only the 4000 MiB maximum).
func (p *Provider) SignParts(ctx context.Context, req providers.SignPartsRequest) (providers.SignPartsResult, error) {
	s, u, err := p.upload(req.UploadID)
	if err != nil {
		return providers.SignPartsResult{}, err
	}
	if len(req.Parts) == 0 {
		return providers.SignPartsResult{}, invalid("parts: at least one part is required")
	}
	base := s.blobURL(req.Key)
	out := make([]providers.PartRecipe, 0, len(req.Parts))
	for _, part := range req.Parts {
		if part.Number < 1 || part.Number > maxBlocks {
			return providers.SignPartsResult{}, invalid("parts: part number %d is outside 1..%d", part.Number, maxBlocks)
		}
		if part.Size < 0 || part.Size > maxBlockSize {
			return providers.SignPartsResult{}, invalid("parts: part %d size %d is outside 0..%d", part.Number, part.Size, int64(maxBlockSize))
		}
		q, exp, err := p.sign(ctx, s, req.Key, "w", req.TTL, "", "")
		if err != nil {
			return providers.SignPartsResult{}, err
		}
		op := url.Values{"comp": {"block"}, "blockid": {blockID(u.Nonce, part.Number)}}
		out = append(out, providers.PartRecipe{Number: part.Number, Recipe: providers.Recipe{
			Method:    http.MethodPut,
			URL:       base + "?" + op.Encode() + "&" + q,
			Headers:   map[string]string{},
			ExpiresAt: exp,
		}})
	}
	return providers.SignPartsResult{Parts: out}, nil
}

// CompleteMultipart commits the listed parts, in the listed order, with Put
// Block List, which makes the blob appear atomically. A part that was never
// uploaded gives FailedPrecondition (Azure: InvalidBlockList). A declared
// req.Checksum is ignored: Azure computes no digest of a committed block
// list.
func (p *Provider) CompleteMultipart(ctx context.Context, req providers.CompleteMultipartRequest) (providers.Object, error) {
	s, u, err := p.upload(req.UploadID)
	if err != nil {
		return providers.Object{}, err
	}
	if len(req.Parts) == 0 {
		return providers.Object{}, invalid("parts: at least one part is required")
	}
	if len(req.Parts) > maxBlocks {
		return providers.Object{}, invalid("parts: %d parts is more than Azure's %d blocks", len(req.Parts), maxBlocks)
	}
	seen := make(map[int]bool, len(req.Parts))
	ids := make([]string, 0, len(req.Parts))
	for _, part := range req.Parts {
		if part.Number < 1 || part.Number > maxBlocks {
			return providers.Object{}, invalid("parts: part number %d is outside 1..%d", part.Number, maxBlocks)
		}
		if seen[part.Number] {
			return providers.Object{}, invalid("parts: part %d is listed twice", part.Number)
		}
		seen[part.Number] = true
		ids = append(ids, blockID(u.Nonce, part.Number))
	}
	// An aborted upload must not be completed, although its blocks remain.
	blocks, err := s.uncommitted(ctx, req.Key)
	if err != nil {
		return providers.Object{}, err
	}
	if aborted(blocks, u.Nonce) {
		return providers.Object{}, providers.Errorf(providers.FailedPrecondition, "commit %s: the upload was aborted", req.Key)
	}
	opts := &blockblob.CommitBlockListOptions{}
	if u.ContentType != "" {
		opts.HTTPHeaders = &blob.HTTPHeaders{BlobContentType: &u.ContentType}
	}
	if len(u.Metadata) > 0 {
		opts.Metadata = make(map[string]*string, len(u.Metadata))
		for k, v := range u.Metadata {
			opts.Metadata[k] = &v
		}
	}
	cctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if _, err := s.client.NewBlockBlobClient(req.Key).CommitBlockList(cctx, ids, opts); err != nil {
		e := mapError(err, "commit "+req.Key)
		if providers.CodeOf(e) == providers.FailedPrecondition {
			return providers.Object{}, providers.Errorf(providers.FailedPrecondition, "commit %s: a listed part was not uploaded, or another upload to this key was completed first and discarded it", req.Key)
		}
		return providers.Object{}, e
	}
	return p.Head(ctx, providers.HeadRequest{Key: req.Key})
}

// abortedSuffix replaces the part number in the id of the tombstone block
// that AbortMultipart stages; it has the same width as "%07d".
const abortedSuffix = "aborted"

func tombstoneID(nonce string) string {
	return base64.StdEncoding.EncodeToString([]byte(nonce + "-" + abortedSuffix))
}

// AbortMultipart ends an upload. Azure has no call that drops uncommitted
// blocks short of committing or deleting the blob (which would publish or
// destroy whatever is at the key), so the blocks stay until Azure drops
// them after 7 days. Abort stages a one-byte tombstone block instead: from
// then on ListParts reports no parts and CompleteMultipart refuses the
// upload. The tombstone is dropped with the other blocks.
func (p *Provider) AbortMultipart(ctx context.Context, req providers.AbortMultipartRequest) (providers.AbortMultipartResult, error) {
	ref := req.Upload
	s, u, err := p.upload(ref.UploadID)
	if err != nil {
		return providers.AbortMultipartResult{}, err
	}
	cctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	_, err = s.client.NewBlockBlobClient(ref.Key).StageBlock(cctx, tombstoneID(u.Nonce), streaming.NopCloser(bytes.NewReader([]byte{0})), nil)
	return providers.AbortMultipartResult{}, mapError(err, "abort "+ref.Key)
}

// uncommitted returns the blob's uncommitted blocks; a blob with none (or
// no blob) gives an empty list.
func (s *store) uncommitted(ctx context.Context, key string) ([]*blockblob.Block, error) {
	cctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	r, err := s.client.NewBlockBlobClient(key).GetBlockList(cctx, blockblob.BlockListTypeUncommitted, nil)
	if err != nil {
		e := mapError(err, "block list "+key)
		if providers.CodeOf(e) == providers.NotFound {
			return nil, nil
		}
		return nil, e
	}
	return r.UncommittedBlocks, nil
}

func aborted(blocks []*blockblob.Block, nonce string) bool {
	t := tombstoneID(nonce)
	for _, b := range blocks {
		if b != nil && b.Name != nil && *b.Name == t {
			return true
		}
	}
	return false
}

// ListParts returns the upload's uncommitted blocks (Get Block List), by
// part number. ETag is empty: Azure blocks have none.
func (p *Provider) ListParts(ctx context.Context, req providers.ListPartsRequest) (providers.ListPartsResult, error) {
	ref := req.Upload
	s, u, err := p.upload(ref.UploadID)
	if err != nil {
		return providers.ListPartsResult{}, err
	}
	blocks, err := s.uncommitted(ctx, ref.Key)
	if err != nil {
		return providers.ListPartsResult{}, err
	}
	parts := []providers.Part{}
	if aborted(blocks, u.Nonce) {
		return providers.ListPartsResult{Parts: parts}, nil
	}
	for _, b := range blocks {
		if b == nil || b.Name == nil {
			continue
		}
		n, ok := partNumber(u.Nonce, *b.Name)
		if !ok {
			continue
		}
		part := providers.Part{Number: n}
		if b.Size != nil {
			part.Size = *b.Size
		}
		parts = append(parts, part)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].Number < parts[j].Number })
	return providers.ListPartsResult{Parts: parts}, nil
}
