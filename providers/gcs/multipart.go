package gcs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	"golang.org/x/sync/errgroup"
	"google.golang.org/api/iterator"

	"github.com/valetgw/valet/providers"
)

// A multipart upload lives under PartsPrefix + uploadID + "/":
//
//	upload.json     manifest: key, content type, metadata, creation time
//	p00001 ...      parts, one signed PUT each
//	c<call>-<round>-<n>  intermediate composites made by completion (call: a random token per complete)
//
// Nothing there is visible through List, and checkKey keeps clients out.

const (
	manifestName  = "upload.json"
	composeFanIn  = 32 // GCS compose accepts at most 32 sources
	parallelCalls = 8
)

type manifest struct {
	Key         string            `json:"key"`
	ContentType string            `json:"content_type,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	Created     time.Time         `json:"created"`
}

func (s state) uploadDir(id string) string { return s.st.PartsPrefix + id + "/" }

func partName(n int) string { return fmt.Sprintf("p%05d", n) }

func checkUploadID(id string) error {
	if len(id) != 32 {
		return providers.Errorf(providers.InvalidArgument, "upload id: malformed")
	}
	if _, err := hex.DecodeString(id); err != nil {
		return providers.Errorf(providers.InvalidArgument, "upload id: malformed")
	}
	return nil
}

var _ providers.Multipart = (*Provider)(nil)

// CreateMultipart implements providers.Multipart. It writes the manifest
// create-only, so two uploads can never share an id.
func (p *Provider) CreateMultipart(ctx context.Context, req providers.CreateMultipartRequest) (providers.MultipartUpload, error) {
	s, err := p.stateFor(req.Key)
	if err != nil {
		return providers.MultipartUpload{}, err
	}
	if req.ContentType != "" {
		if err := checkHeaderValue("content type", req.ContentType); err != nil {
			return providers.MultipartUpload{}, err
		}
	}
	if err := addMetadata(map[string]string{}, req.Metadata); err != nil {
		return providers.MultipartUpload{}, err
	}
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return providers.MultipartUpload{}, providers.Errorf(providers.Internal, "upload id: %v", err)
	}
	id := hex.EncodeToString(raw[:])
	m := manifest{Key: req.Key, ContentType: req.ContentType, Metadata: req.Metadata, Created: p.now().UTC()}
	body, err := json.Marshal(m)
	if err != nil {
		return providers.MultipartUpload{}, providers.Errorf(providers.Internal, "manifest: %v", err)
	}
	w := s.bucket.Object(s.uploadDir(id) + manifestName).If(storage.Conditions{DoesNotExist: true}).NewWriter(ctx)
	w.ContentType = "application/json"
	w.SendCRC32C = false
	if _, err := w.Write(body); err != nil {
		_ = w.Close()
		return providers.MultipartUpload{}, wrapErr(err, "create multipart")
	}
	if err := w.Close(); err != nil {
		return providers.MultipartUpload{}, wrapErr(err, "create multipart")
	}
	p.maybeSweep(s)
	return providers.MultipartUpload{UploadID: id}, nil
}

// SignParts implements providers.Multipart. A part is a plain signed PUT of
// its temporary object; its size is not bound (GCS cannot), and completion
// reads every part's real size.
func (p *Provider) SignParts(ctx context.Context, req providers.SignPartsRequest) (providers.SignPartsResult, error) {
	s, err := p.stateFor(req.Key)
	if err != nil {
		return providers.SignPartsResult{}, err
	}
	if err := checkUploadID(req.UploadID); err != nil {
		return providers.SignPartsResult{}, err
	}
	out := make([]providers.PartRecipe, 0, len(req.Parts))
	for _, ps := range req.Parts {
		if ps.Number < 1 || ps.Number > maxParts {
			return providers.SignPartsResult{}, providers.Errorf(providers.InvalidArgument, "part number %d is outside 1..%d", ps.Number, maxParts)
		}
		r, err := s.signURL(ctx, http.MethodPut, s.uploadDir(req.UploadID)+partName(ps.Number), req.TTL, nil, nil)
		if err != nil {
			return providers.SignPartsResult{}, err
		}
		out = append(out, providers.PartRecipe{Number: ps.Number, Recipe: r})
	}
	return providers.SignPartsResult{Parts: out}, nil
}

// readManifest loads an upload's manifest and checks it belongs to key.
func (s state) readManifest(ctx context.Context, ref providers.MultipartRef) (manifest, error) {
	var m manifest
	if err := checkUploadID(ref.UploadID); err != nil {
		return m, err
	}
	r, err := s.bucket.Object(s.uploadDir(ref.UploadID) + manifestName).NewReader(ctx)
	if err != nil {
		return m, wrapErr(err, "multipart upload "+ref.UploadID)
	}
	defer r.Close()
	if err := json.NewDecoder(r).Decode(&m); err != nil {
		return m, providers.Errorf(providers.Internal, "multipart upload %s: corrupt manifest: %v", ref.UploadID, err)
	}
	if m.Key != ref.Key {
		return m, providers.Errorf(providers.FailedPrecondition, "multipart upload %s belongs to another key", ref.UploadID)
	}
	return m, nil
}

// uploadedParts lists an upload's parts by number.
func (s state) uploadedParts(ctx context.Context, id string) (map[int]*storage.ObjectAttrs, error) {
	dir := s.uploadDir(id)
	it := s.bucket.Objects(ctx, &storage.Query{Prefix: dir + "p"})
	parts := map[int]*storage.ObjectAttrs{}
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return parts, nil
		}
		if err != nil {
			return nil, wrapErr(err, "list parts")
		}
		n, err := strconv.Atoi(strings.TrimPrefix(a.Name, dir+"p"))
		if err != nil || n < 1 || n > maxParts || a.Name != dir+partName(n) {
			continue
		}
		parts[n] = a
	}
}

// ListParts implements providers.Multipart.
func (p *Provider) ListParts(ctx context.Context, req providers.ListPartsRequest) (providers.ListPartsResult, error) {
	ref := req.Upload
	s, err := p.state()
	if err != nil {
		return providers.ListPartsResult{}, err
	}
	if _, err := s.readManifest(ctx, ref); err != nil {
		return providers.ListPartsResult{}, err
	}
	m, err := s.uploadedParts(ctx, ref.UploadID)
	if err != nil {
		return providers.ListPartsResult{}, err
	}
	out := make([]providers.Part, 0, len(m))
	for n, a := range m {
		out = append(out, providers.Part{Number: n, Size: a.Size, ETag: toObject(a).ETag})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return providers.ListPartsResult{Parts: out}, nil
}

// CompleteMultipart implements providers.Multipart. The listed parts are
// composed 32 at a time into intermediates, round after round, and the
// last compose writes the final object, so it appears atomically. Every
// source is pinned to the generation that was checked. Temporaries are
// deleted afterwards; any left behind are removed by the sweep. A declared
// req.Checksum is ignored: GCS computes no sha256.
func (p *Provider) CompleteMultipart(ctx context.Context, req providers.CompleteMultipartRequest) (providers.Object, error) {
	s, err := p.stateFor(req.Key)
	if err != nil {
		return providers.Object{}, err
	}
	ref := providers.MultipartRef{Key: req.Key, UploadID: req.UploadID}
	m, err := s.readManifest(ctx, ref)
	if err != nil {
		return providers.Object{}, err
	}
	if len(req.Parts) == 0 {
		return providers.Object{}, providers.Errorf(providers.InvalidArgument, "complete: no parts listed")
	}
	if len(req.Parts) > maxParts {
		return providers.Object{}, providers.Errorf(providers.InvalidArgument, "complete: %d parts exceed %d", len(req.Parts), maxParts)
	}
	have, err := s.uploadedParts(ctx, req.UploadID)
	if err != nil {
		return providers.Object{}, err
	}
	seen := map[int]bool{}
	var sources []*storage.ObjectHandle
	for _, cp := range req.Parts {
		if seen[cp.Number] {
			return providers.Object{}, providers.Errorf(providers.InvalidArgument, "complete: part %d listed twice", cp.Number)
		}
		seen[cp.Number] = true
		a, ok := have[cp.Number]
		if !ok {
			return providers.Object{}, providers.Errorf(providers.FailedPrecondition, "complete: part %d was not uploaded", cp.Number)
		}
		if cp.ETag != "" && !etagMatches(cp.ETag, a) {
			return providers.Object{}, providers.Errorf(providers.FailedPrecondition, "complete: part %d does not match its etag", cp.Number)
		}
		sources = append(sources, s.bucket.Object(a.Name).Generation(a.Generation))
	}

	dir := s.uploadDir(req.UploadID)
	// Intermediate objects carry a token of this call, so a retried
	// complete running next to the first never overwrites its sources.
	var tokBytes [4]byte
	_, _ = rand.Read(tokBytes[:])
	callTok := hex.EncodeToString(tokBytes[:])
	for round := 1; len(sources) > composeFanIn; round++ {
		next := make([]*storage.ObjectHandle, (len(sources)+composeFanIn-1)/composeFanIn)
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(parallelCalls)
		for i := range next {
			group := sources[i*composeFanIn : min((i+1)*composeFanIn, len(sources))]
			dst := s.bucket.Object(fmt.Sprintf("%sc%s-%d-%05d", dir, callTok, round, i))
			g.Go(func() error {
				a, err := dst.ComposerFrom(group...).Run(gctx)
				if err != nil {
					return wrapErr(err, "compose")
				}
				next[i] = dst.Generation(a.Generation)
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return providers.Object{}, err
		}
		sources = next
	}
	c := s.bucket.Object(req.Key).ComposerFrom(sources...)
	c.ContentType = m.ContentType
	c.Metadata = m.Metadata
	a, err := c.Run(ctx)
	if err != nil {
		return providers.Object{}, wrapErr(err, "compose "+quoteKey(req.Key))
	}
	// The object exists now; cleaning up is best effort.
	_ = s.deleteUpload(ctx, req.UploadID)
	return toObject(a), nil
}

func etagMatches(etag string, a *storage.ObjectAttrs) bool {
	e := strings.Trim(strings.TrimPrefix(etag, "W/"), `"`)
	return e == a.Etag || e == hex.EncodeToString(a.MD5)
}

// AbortMultipart implements providers.Multipart.
func (p *Provider) AbortMultipart(ctx context.Context, req providers.AbortMultipartRequest) (providers.AbortMultipartResult, error) {
	ref := req.Upload
	s, err := p.state()
	if err != nil {
		return providers.AbortMultipartResult{}, err
	}
	if err := checkUploadID(ref.UploadID); err != nil {
		return providers.AbortMultipartResult{}, err
	}
	if _, err := s.readManifest(ctx, ref); err != nil {
		if providers.CodeOf(err) == providers.NotFound {
			// Unknown or finished: remove stray parts all the same.
			return providers.AbortMultipartResult{}, s.deleteUpload(ctx, ref.UploadID)
		}
		return providers.AbortMultipartResult{}, err
	}
	return providers.AbortMultipartResult{}, s.deleteUpload(ctx, ref.UploadID)
}

// deleteUpload removes every object of an upload, manifest last, so a
// half-finished cleanup is still found by the sweep.
func (s state) deleteUpload(ctx context.Context, id string) error {
	dir := s.uploadDir(id)
	it := s.bucket.Objects(ctx, &storage.Query{Prefix: dir})
	var names []string
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return wrapErr(err, "list upload "+id)
		}
		if a.Name != dir+manifestName {
			names = append(names, a.Name)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallelCalls * 2)
	for _, n := range names {
		g.Go(func() error { return s.deleteQuiet(gctx, n) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return s.deleteQuiet(ctx, dir+manifestName)
}

func (s state) deleteQuiet(ctx context.Context, name string) error {
	if err := s.bucket.Object(name).Delete(ctx); err != nil && !errors.Is(err, storage.ErrObjectNotExist) {
		return wrapErr(err, "delete temporary")
	}
	return nil
}

// Sweep deletes the temporaries of every multipart upload idle for longer
// than olderThan (its manifest and newest part both older; an upload still
// receiving parts is kept, however long ago it started) and returns how
// many uploads it removed. Operators should also set
// a bucket lifecycle rule on the parts prefix (see docs/providers/gcs.md).
func (p *Provider) Sweep(ctx context.Context, olderThan time.Duration) (int, error) {
	s, err := p.state()
	if err != nil {
		return 0, err
	}
	cutoff := p.now().Add(-olderThan)
	newest := map[string]time.Time{} // upload id -> its newest object
	it := s.bucket.Objects(ctx, &storage.Query{Prefix: s.st.PartsPrefix})
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return 0, wrapErr(err, "sweep")
		}
		id, _, ok := strings.Cut(strings.TrimPrefix(a.Name, s.st.PartsPrefix), "/")
		if !ok || checkUploadID(id) != nil {
			continue
		}
		if a.Updated.After(newest[id]) {
			newest[id] = a.Updated
		}
	}
	n := 0
	for id, t := range newest {
		if t.Before(cutoff) {
			if err := s.deleteUpload(ctx, id); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// maybeSweep runs Sweep in the background at most once an hour, so a
// store that never completes its uploads does not grow without bound.
func (p *Provider) maybeSweep(s state) {
	if s.st.sweepAfter <= 0 {
		return
	}
	p.sweepMu.Lock()
	defer p.sweepMu.Unlock()
	if now := p.now(); now.Sub(p.lastSweep) >= time.Hour {
		p.lastSweep = now
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			_, _ = p.Sweep(ctx, s.st.sweepAfter)
		}()
	}
}
