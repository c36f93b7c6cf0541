package core

import (
	"net/http"
	"time"

	"github.com/valetgw/valet/core/policy"
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
		st := c.st.stores[name]
		prefix := st.tmpl.Prefix(c.who.Subject)
		// A permission is true unless the rule is false for this caller
		// whatever the request brings (key, prefix, size, content type).
		in := policy.Input{Subject: c.who.Subject, Claims: c.who.Claims, KeyPrefix: prefix}
		perms := map[string]bool{}
		any := false
		for _, op := range policy.Ops {
			ok := st.rules.For(op).May(r.Context(), in, policy.RequestVars...)
			perms[string(op)] = ok
			any = any || ok
		}
		if !any {
			continue
		}
		l, cp := st.cfg.Limits, st.info.Capabilities
		sums := []string{}
		for _, a := range cp.BindsChecksums {
			sums = append(sums, string(a))
		}
		cts := l.ContentTypes
		if cts == nil {
			cts = []string{}
		}
		out = append(out, storeJSON{
			Name: name, Provider: st.cfg.Provider, KeyPrefix: prefix, Permissions: perms,
			Limits: limitsJSON{
				MaxSize: int64(l.MaxSize), ContentTypes: cts, MultipartThreshold: int64(l.MultipartThreshold), PartSize: int64(l.PartSize),
				PutTTLSeconds: int64(st.ttl(0, l.PutTTL) / time.Second), GetTTLSeconds: int64(st.ttl(0, l.GetTTL) / time.Second),
				MaxTTLSeconds: int64(st.ttl(l.MaxTTL, l.MaxTTL) / time.Second), AllowClientKeys: st.cfg.AllowClientKeys,
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
