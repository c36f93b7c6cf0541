package core

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/valetgw/valet/providers"
)

type uploadRequest struct {
	Filename       string            `json:"filename"`
	ContentType    string            `json:"content_type"`
	Size           *int64            `json:"size"`
	ChecksumSHA256 string            `json:"checksum_sha256,omitempty"`
	Metadata       map[string]string `json:"metadata,omitempty"`
	Key            string            `json:"key,omitempty"`
	Multipart      bool              `json:"multipart,omitempty"`
}

type multipartPlan struct {
	PartSize  int64 `json:"part_size"`
	PartCount int   `json:"part_count"`
}

type partRecipe struct {
	PartNumber int               `json:"part_number"`
	Method     string            `json:"method"`
	URL        string            `json:"url"`
	Headers    map[string]string `json:"headers"`
	ExpiresAt  time.Time         `json:"expires_at"`
}

type uploadResponse struct {
	UploadID  string            `json:"upload_id"`
	Key       string            `json:"key"`
	Method    string            `json:"method,omitempty"`
	URL       string            `json:"url,omitempty"`
	Headers   map[string]string `json:"headers,omitempty"`
	Multipart *multipartPlan    `json:"multipart,omitempty"`
	Parts     []partRecipe      `json:"parts,omitempty"`
	ExpiresAt time.Time         `json:"expires_at"`
}

func (s *Server) createUpload(w http.ResponseWriter, r *http.Request, c *call) error {
	var req uploadRequest
	if err := decode(r, &req, false); err != nil {
		return err
	}
	spec := UploadSpec{Filename: req.Filename, ContentType: req.ContentType, Size: -1, ChecksumSHA256: req.ChecksumSHA256,
		Metadata: req.Metadata, Key: req.Key, Multipart: req.Multipart}
	if req.Size != nil {
		spec.Size = *req.Size
	}
	plan, err := c.store.CreateUpload(r.Context(), c.who, spec)
	if err != nil {
		return err
	}
	out := uploadResponse{UploadID: plan.UploadID, Key: plan.Key, ExpiresAt: plan.ExpiresAt.UTC()}
	if plan.Multipart() {
		out.Multipart = &multipartPlan{PartSize: plan.PartSize, PartCount: plan.PartCount}
		out.Parts = partRecipes(plan.Parts)
	} else {
		out.Method, out.URL, out.Headers = plan.Put.Method, plan.Put.URL, nonNil(plan.Put.Headers)
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func partRecipes(parts []providers.PartRecipe) []partRecipe {
	out := make([]partRecipe, len(parts))
	for i, p := range parts {
		out[i] = partRecipe{PartNumber: p.Number, Method: p.Recipe.Method, URL: p.Recipe.URL, Headers: nonNil(p.Recipe.Headers), ExpiresAt: p.Recipe.ExpiresAt.UTC()}
	}
	return out
}

func nonNil(h map[string]string) map[string]string {
	if h == nil {
		return map[string]string{}
	}
	return h
}

func (s *Server) signParts(w http.ResponseWriter, r *http.Request, c *call) error {
	var req struct {
		PartNumbers []int `json:"part_numbers"`
	}
	if err := decode(r, &req, false); err != nil {
		return err
	}
	parts, err := c.store.SignParts(r.Context(), c.who, r.PathValue("upload_id"), req.PartNumbers)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"parts": partRecipes(parts)})
	return nil
}

type partJSON struct {
	PartNumber int    `json:"part_number"`
	Size       int64  `json:"size"`
	ETag       string `json:"etag,omitempty"`
}

func (s *Server) listParts(w http.ResponseWriter, r *http.Request, c *call) error {
	listing, err := c.store.ListParts(r.Context(), c.who, r.PathValue("upload_id"))
	if err != nil {
		return err
	}
	out := make([]partJSON, len(listing.Parts))
	for i, p := range listing.Parts {
		out[i] = partJSON{PartNumber: p.Number, Size: p.Size, ETag: p.ETag}
	}
	writeJSON(w, http.StatusOK, map[string]any{"parts": out, "part_size": listing.PartSize, "part_count": listing.PartCount})
	return nil
}

// completedJSON is the answer to complete: the object, with the store's
// hook's answer to upload.complete when it gave one.
type completedJSON struct {
	objectJSON
	Hook json.RawMessage `json:"hook,omitempty"`
}

func (s *Server) complete(w http.ResponseWriter, r *http.Request, c *call) error {
	var req struct {
		Parts []struct {
			PartNumber int    `json:"part_number"`
			ETag       string `json:"etag,omitempty"`
		} `json:"parts"`
	}
	if err := decode(r, &req, true); err != nil {
		return err
	}
	var parts []providers.CompletedPart
	if len(req.Parts) > 0 {
		parts = make([]providers.CompletedPart, len(req.Parts))
		for i, p := range req.Parts {
			parts[i] = providers.CompletedPart{Number: p.PartNumber, ETag: p.ETag}
		}
	}
	done, err := c.store.Complete(r.Context(), c.who, r.PathValue("upload_id"), parts)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, completedJSON{objectJSON: toObject(done.Object), Hook: done.Hook})
	return nil
}

func (s *Server) abort(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := c.store.Abort(r.Context(), c.who, r.PathValue("upload_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
