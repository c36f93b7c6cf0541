package core

import (
	"net/http"
	"time"

	"github.com/valetgw/valet/providers"
)

type storeJSON struct {
	Name         string          `json:"name"`
	Provider     string          `json:"provider"`
	KeyPrefix    string          `json:"key_prefix"`
	Permissions  map[string]bool `json:"permissions"`
	Limits       limitsJSON      `json:"limits"`
	Capabilities capsJSON        `json:"capabilities"`
}

type limitsJSON struct {
	MaxSize            int64    `json:"max_size"`
	ContentTypes       []string `json:"content_types"`
	MultipartThreshold int64    `json:"multipart_threshold"`
	PartSize           int64    `json:"part_size"`
	PutTTLSeconds      int64    `json:"put_ttl_seconds"`
	GetTTLSeconds      int64    `json:"get_ttl_seconds"`
	MaxTTLSeconds      int64    `json:"max_ttl_seconds"`
	AllowClientKeys    bool     `json:"allow_client_keys"`
	MaxBatch           int      `json:"max_batch"`
}

type capsJSON struct {
	Multipart           bool     `json:"multipart"`
	MultipartNeedsETags bool     `json:"multipart_needs_etags"`
	MinPartSize         int64    `json:"min_part_size"`
	MaxPartSize         int64    `json:"max_part_size"`
	MaxParts            int      `json:"max_parts"`
	BindsContentLength  bool     `json:"binds_content_length"`
	BindsContentType    bool     `json:"binds_content_type"`
	BindsChecksums      []string `json:"binds_checksums"`
	GetOverrides        bool     `json:"get_overrides"`
	MaxExpirySeconds    int64    `json:"max_expiry_seconds"`
	// VerifiesChecksumSHA256 says where a declared checksum_sha256 is
	// verified: on a single upload, on a multipart upload. An upload that
	// declares one where it cannot be verified is refused (400
	// checksum_unverifiable).
	VerifiesChecksumSHA256 checksumSupport `json:"verifies_checksum_sha256"`
}

type checksumSupport struct {
	Single    bool `json:"single"`
	Multipart bool `json:"multipart"`
}

func (s *Server) listStores(w http.ResponseWriter, r *http.Request, c *call) error {
	out := []storeJSON{}
	for _, name := range c.st.cfg.StoreNames() {
		info, ok := c.st.stores[name].Describe(r.Context(), c.who)
		if !ok {
			continue
		}
		perms := make(map[string]bool, len(info.Permissions))
		for op, may := range info.Permissions {
			perms[string(op)] = may
		}
		l, cp := info.Limits, info.Capabilities
		sums := []string{}
		for _, a := range cp.BindsChecksums {
			sums = append(sums, string(a))
		}
		cts := l.ContentTypes
		if cts == nil {
			cts = []string{}
		}
		out = append(out, storeJSON{
			Name: info.Name, Provider: info.Provider, KeyPrefix: info.KeyPrefix, Permissions: perms,
			Limits: limitsJSON{
				MaxSize: l.MaxSize, ContentTypes: cts, MultipartThreshold: l.MultipartThreshold, PartSize: l.PartSize,
				PutTTLSeconds: int64(l.PutTTL / time.Second), GetTTLSeconds: int64(l.GetTTL / time.Second),
				MaxTTLSeconds: int64(l.MaxTTL / time.Second), AllowClientKeys: l.AllowClientKeys, MaxBatch: l.MaxBatch,
			},
			Capabilities: capsJSON{
				Multipart: cp.Multipart, MultipartNeedsETags: cp.MultipartNeedsETags, MinPartSize: cp.MinPartSize, MaxPartSize: cp.MaxPartSize,
				MaxParts: cp.MaxParts, BindsContentLength: cp.BindsContentLength, BindsContentType: cp.BindsContentType,
				BindsChecksums: sums, GetOverrides: cp.GetOverrides, MaxExpirySeconds: int64(cp.MaxExpiry / time.Second),
				VerifiesChecksumSHA256: checksumSupport{Single: cp.Binds(providers.SHA256), Multipart: cp.VerifiesMultipart(providers.SHA256)},
			},
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"stores": out})
	return nil
}
