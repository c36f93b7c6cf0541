package main

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/valetgw/valet/providers"
)

// browserSetsItself are the headers valet.js never sets on a storage
// request (its FORBIDDEN_HEADERS): the browser writes them itself, and they
// never appear in a preflight's Access-Control-Request-Headers.
var browserSetsItself = []string{"content-length", "host", "connection", "expect", "keep-alive",
	"transfer-encoding", "upgrade", "te", "trailer", "date", "origin", "referer", "cookie"}

// preflightHeaders is the Access-Control-Request-Headers a browser sends
// before valet.js sends a recipe with headers: the names it sets, less the
// CORS-safelisted ones, lower-case and sorted (the Fetch standard's
// "CORS-unsafe request-header names").
func preflightHeaders(headers map[string]string) []string {
	var out []string
	for k, v := range headers {
		name := strings.ToLower(k)
		if slices.Contains(browserSetsItself, name) || safelisted(name, v) || slices.Contains(out, name) {
			continue
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// withBodyType is the headers of a single PUT as a browser sends it: a
// recipe that sets no Content-Type (Azure's) still goes out with the File
// body's own type, which the browser then asks the preflight to allow.
func withBodyType(headers map[string]string) map[string]string {
	for k := range headers {
		if strings.EqualFold(k, "content-type") {
			return headers
		}
	}
	out := make(map[string]string, len(headers)+1)
	for k, v := range headers {
		out[k] = v
	}
	out["Content-Type"] = probeType
	return out
}

// safelisted reports whether a request header needs no preflight
// (Fetch's CORS-safelisted request-headers, for the names a recipe can
// carry).
func safelisted(name, value string) bool {
	switch name {
	case "accept", "accept-language", "content-language":
		return true
	case "content-type":
		mt, _, err := mime.ParseMediaType(value)
		return err == nil && (mt == "application/x-www-form-urlencoded" || mt == "multipart/form-data" || mt == "text/plain")
	}
	return false
}

// headerList splits a comma-separated CORS response header, lower-cased.
func headerList(h http.Header, name string) []string {
	var out []string
	for _, v := range h.Values(name) {
		for _, item := range strings.Split(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, strings.ToLower(item))
			}
		}
	}
	return out
}

// allowsOrigin reports whether a CORS response lets origin read it.
func allowsOrigin(h http.Header, origin string) bool {
	v := strings.TrimSpace(h.Get("Access-Control-Allow-Origin"))
	return v == "*" || v == origin
}

// preflightProblem is why a browser would refuse the preflight answer s
// for origin, method and the request headers asked, or "" when it would
// go on with the request.
func preflightProblem(s sentRequest, origin, method string, asked []string) string {
	switch {
	case s.err != nil:
		return "no answer: " + s.err.Error()
	case s.status < 200 || s.status > 299:
		a := fmt.Sprintf("refused (%d", s.status)
		if s.code != "" {
			a += " " + s.code
		}
		return a + "): no CORS rule matches"
	case !allowsOrigin(s.header, origin):
		if v := s.header.Get("Access-Control-Allow-Origin"); v != "" {
			return fmt.Sprintf("Access-Control-Allow-Origin is %q, not the page's origin", v)
		}
		return "no Access-Control-Allow-Origin"
	}
	// Methods compare case-sensitively; the safelisted ones need no entry.
	if method != http.MethodGet && method != http.MethodHead {
		ok := false
		for _, v := range s.header.Values("Access-Control-Allow-Methods") {
			for _, m := range strings.Split(v, ",") {
				if m = strings.TrimSpace(m); m == method || m == "*" {
					ok = true
				}
			}
		}
		if !ok {
			return "Access-Control-Allow-Methods does not list " + method
		}
	}
	allowed := headerList(s.header, "Access-Control-Allow-Headers")
	var missing []string
	for _, a := range asked {
		if !slices.Contains(allowed, a) && !(slices.Contains(allowed, "*") && a != "authorization") {
			missing = append(missing, a)
		}
	}
	if len(missing) > 0 {
		return "Access-Control-Allow-Headers lacks " + strings.Join(missing, ", ")
	}
	return ""
}

// exposesETag reports whether a page may read the ETag of the response.
func exposesETag(h http.Header) bool {
	l := headerList(h, "Access-Control-Expose-Headers")
	return slices.Contains(l, "etag") || slices.Contains(l, "*")
}

// corsChecks is one check per origin: the preflight of the signed PUT (and
// of a part, for a provider with multipart) with the headers valet.js
// sends, and on real responses the allowed origin and ETag exposed. put
// is nil when nothing could be signed; get is nil when the round trip
// stopped before the probe could be read; putRes is the round trip's PUT,
// sent with the first origin.
func (d *storeDoctor) corsChecks(ctx context.Context, origins []string, from string, put, get *providers.Recipe, putRes sentRequest) []checkResult {
	if len(origins) == 0 {
		return []checkResult{{Check: "cors", Status: checkSkipped, Found: "no browser origin to test: server.cors_origins and server.public_url are empty"}}
	}
	if put == nil {
		var out []checkResult
		for _, o := range origins {
			out = append(out, checkResult{Check: "cors " + o, Status: checkSkipped, Found: "no PUT could be signed"})
		}
		return out
	}
	putHeaders := preflightHeaders(withBodyType(put.Headers))
	part, partHeaders, partNote := d.partRecipe(ctx)
	var out []checkResult
	for i, o := range origins {
		c := checkResult{Check: "cors " + o, Status: checkFailed}
		var found, problems []string
		try := func(what string, r providers.Recipe, asked []string) {
			// As a browser sends it: no Access-Control-Request-Headers
			// when no header needs permission.
			ask := map[string]string{"Origin": o, "Access-Control-Request-Method": r.Method}
			if len(asked) > 0 {
				ask["Access-Control-Request-Headers"] = strings.Join(asked, ",")
			}
			pre := d.send(ctx, "preflight", http.MethodOptions, r.URL, nil, nil, ask)
			desc := fmt.Sprintf("preflight of %s %s (headers: %s)", what, r.Method, orNone(asked))
			if p := preflightProblem(pre, o, r.Method, asked); p != "" {
				problems = append(problems, desc+": "+p)
				return
			}
			found = append(found, desc+": allowed")
		}
		try("a single", *put, putHeaders)
		if part != nil {
			try("a part", *part, partHeaders)
		} else if partNote != "" {
			found = append(found, partNote)
		}
		readable := func(what string, s sentRequest) {
			switch {
			case s.err != nil || s.status >= 300:
				problems = append(problems, what+" not checked: "+s.answer())
			case !allowsOrigin(s.header, o):
				problems = append(problems, what+": the response does not allow this origin (Access-Control-Allow-Origin)")
			case !exposesETag(s.header):
				problems = append(problems, what+": ETag is not exposed (Access-Control-Expose-Headers)")
			default:
				found = append(found, what+": origin allowed, ETag exposed")
			}
		}
		if i == 0 && putRes.status != 0 {
			readable("PUT", putRes)
		}
		if get != nil {
			readable("GET", d.send(ctx, "GET", get.Method, get.URL, get.Headers, nil, map[string]string{"Origin": o}))
		} else {
			found = append(found, "real responses not checked: the round trip stopped first")
		}
		if i == 0 {
			found = append(found, "origins from "+from)
		}
		if len(problems) == 0 {
			c.Status, c.Found = checkOK, strings.Join(found, "; ")
		} else {
			c.Found = strings.Join(append(problems, found...), "; ")
			c.Fix = d.corsFix(o, putHeaders, partHeaders)
		}
		out = append(out, c)
	}
	return out
}

// partRecipe signs part 1 of a multipart upload of the probe, for its
// preflight, and aborts the upload again. It returns nil and a note when
// the provider has no multipart.
func (d *storeDoctor) partRecipe(ctx context.Context) (*providers.Recipe, []string, string) {
	caps := d.info.Capabilities
	if !caps.Multipart {
		return nil, nil, "no multipart: only single PUTs to check"
	}
	partSize := max(caps.MinPartSize, 5<<20)
	cctx, cancel := d.ctx(ctx)
	defer cancel()
	mu, err := d.p.CreateMultipart(cctx, providers.CreateMultipartRequest{Key: d.probe, ContentType: probeType,
		Size: 2 * partSize, PartSize: partSize, TTL: d.ttl(d.sc.Limits.UploadTTL)})
	if err != nil {
		return nil, nil, "part preflight not checked: CreateMultipart: " + redactedError{err}.Error()
	}
	defer func() {
		actx, cancel := d.ctx(context.WithoutCancel(ctx))
		defer cancel()
		_, _ = d.p.AbortMultipart(actx, providers.AbortMultipartRequest{Upload: providers.MultipartRef{Key: d.probe, UploadID: mu.UploadID}})
	}()
	res, err := d.p.SignParts(cctx, providers.SignPartsRequest{Key: d.probe, UploadID: mu.UploadID,
		Parts: []providers.PartSpec{{Number: 1, Size: partSize}}, TTL: d.ttl(d.sc.Limits.PutTTL)})
	if err != nil || len(res.Parts) != 1 {
		if err == nil {
			err = fmt.Errorf("%d recipes for one part", len(res.Parts))
		}
		return nil, nil, "part preflight not checked: SignParts: " + redactedError{err}.Error()
	}
	r := res.Parts[0].Recipe
	if r.Method == "" {
		r.Method = http.MethodPut // as valet.js defaults it
	}
	return &r, preflightHeaders(r.Headers), ""
}

// corsFix is the one-sentence fix for a CORS failure, in the provider's
// terms.
func (d *storeDoctor) corsFix(origin string, put, part []string) string {
	headers := slices.Clone(put)
	for _, h := range part {
		if !slices.Contains(headers, h) {
			headers = append(headers, h)
		}
	}
	slices.Sort(headers)
	rule := fmt.Sprintf("allow origin %s, methods PUT, GET, HEAD and DELETE, request headers %s, and expose ETag", origin, orNone(headers))
	switch d.sc.Provider {
	case "s3":
		return "add a bucket CORS rule (PutBucketCors) that " + rule
	case "minio":
		return "MinIO has no bucket CORS (PutBucketCors is 501): set the server's MINIO_API_CORS_ALLOW_ORIGIN, or the proxy in front of it, to " + rule
	case "gcs":
		return "set the bucket's CORS (gcloud storage buckets update --cors-file) to " + rule
	case "azure":
		return "set the storage account's Blob service CORS rules (Set Blob Service Properties) to " + rule
	case "local":
		return "add " + origin + " to stores." + d.name + ".config.cors_origins"
	}
	return "configure the bucket's CORS to " + rule
}

func orNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}

// readAtMost reads up to n bytes of r.
func readAtMost(r io.Reader, n int64) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r, n))
}

// storageErrorCode is the error code in a storage error body (S3, GCS XML
// and Azure: <Error><Code>; the local store and JSON APIs: "code"), or "".
// Only the code is kept: bodies can echo the string to sign.
func storageErrorCode(body []byte) string {
	var x struct {
		Code string `xml:"Code"`
	}
	var code string
	if xml.Unmarshal(body, &x) == nil && x.Code != "" {
		code = x.Code
	} else {
		var j struct {
			Code  any `json:"code"`
			Error struct {
				Status string `json:"status"`
			} `json:"error"`
		}
		if json.Unmarshal(body, &j) == nil {
			if s, ok := j.Code.(string); ok {
				code = s
			} else {
				code = j.Error.Status
			}
		}
	}
	if len(code) > 64 || strings.IndexFunc(code, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-')
	}) >= 0 {
		return ""
	}
	return code
}
