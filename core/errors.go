package core

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/valetgw/valet/core/problem"
)

// errorCode is one entry of the API's error catalog: a stable code, the
// status it comes with, and the sentence that explains it.
type errorCode struct {
	status int
	about  string
}

// alsoStatus lists the codes that come with another status for some
// operation; their sentence says when.
var alsoStatus = map[string][]int{
	"hook_rejected": {http.StatusUnprocessableEntity},
}

// errorCodes is the catalog of every code the API answers with. Clients
// switch on the code; the catalog also lists them in /openapi.json.
var errorCodes = map[string]errorCode{
	// Requests.
	"invalid_request":          {http.StatusBadRequest, "The body is not one strict JSON object of the documented shape."},
	"body_too_large":           {http.StatusRequestEntityTooLarge, "The request body exceeds its route's limit: 64 KiB, 1 MiB for a complete (up to 10000 parts), and for batch signing 64 KiB plus 2 KiB per key of the store's limits.max_batch."},
	"body_incomplete":          {http.StatusRequestTimeout, "The request body did not arrive in full in time."},
	"not_found":                {http.StatusNotFound, "No such endpoint, or the provider found nothing."},
	"method_not_allowed":       {http.StatusMethodNotAllowed, "The path exists but not for this method; Allow lists the methods."},
	"invalid_size":             {http.StatusBadRequest, "size is missing, negative, or not possible for a multipart plan."},
	"too_large":                {http.StatusRequestEntityTooLarge, "The declared size exceeds the store's max_size, 1 PiB, or the provider's part limits."},
	"invalid_content_type":     {http.StatusBadRequest, "content_type is not a valid media type."},
	"content_type_not_allowed": {http.StatusUnsupportedMediaType, "The store's limits.content_types do not allow this type."},
	"invalid_checksum":         {http.StatusBadRequest, "checksum_sha256 is not the base64 of a 32-byte digest."},
	"checksum_unverifiable":    {http.StatusBadRequest, "The store cannot verify a declared checksum_sha256 for this upload; omit it."},
	"invalid_metadata":         {http.StatusBadRequest, "Metadata names or values are malformed, or there is too much of it."},
	"invalid_key":              {http.StatusBadRequest, "The key, or the key the template gives, is not valid."},
	"client_keys_not_allowed":  {http.StatusForbidden, "The store picks keys itself; omit key."},
	"invalid_parts":            {http.StatusBadRequest, "The part numbers are out of range, repeated, out of order, or do not cover the plan."},
	"invalid_prefix":           {http.StatusBadRequest, "The listing prefix is not valid."},
	"invalid_limit":            {http.StatusBadRequest, "limit is not a positive integer."},
	"invalid_ttl":              {http.StatusBadRequest, "ttl is not a duration or a number of seconds."},
	"invalid_disposition":      {http.StatusBadRequest, "disposition is neither inline nor attachment."},
	"invalid_redirect":         {http.StatusBadRequest, "redirect is neither true nor false."},
	"invalid_batch":            {http.StatusBadRequest, "keys is empty or lists more keys than the store's limits.max_batch."},

	// Who and what.
	"unauthenticated":  {http.StatusUnauthorized, "No credentials were sent."},
	"invalid_token":    {http.StatusUnauthorized, "The credentials are invalid or expired."},
	"auth_unavailable": {http.StatusServiceUnavailable, "The token signing keys are not available yet; retry."},
	"policy_denied":    {http.StatusForbidden, "The store's rule for this operation does not allow it for this caller."},
	"store_not_found":  {http.StatusNotFound, "No store has this name."},

	// Uploads.
	"upload_not_found":      {http.StatusNotFound, "The upload id is unknown, invalid, or for another store."},
	"upload_expired":        {http.StatusGone, "The upload id has expired; start a new upload."},
	"upload_forbidden":      {http.StatusForbidden, "The upload belongs to another caller."},
	"upload_missing":        {http.StatusConflict, "The provider no longer knows this upload, and its object is not in place."},
	"not_multipart":         {http.StatusConflict, "The upload is a single PUT; it has no parts."},
	"multipart_unsupported": {http.StatusNotImplemented, "The store's provider has no multipart uploads."},
	"parts_missing":         {http.StatusConflict, "A planned part has not been uploaded."},
	"parts_invalid":         {http.StatusConflict, "The parts are missing or do not match what was uploaded."},
	"object_missing":        {http.StatusConflict, "Nothing was uploaded for this upload id."},
	"size_mismatch":         {http.StatusConflict, "The stored object's size differs from the declared one."},
	"content_type_mismatch": {http.StatusConflict, "The stored object's content type differs from the declared one."},
	"checksum_mismatch":     {http.StatusConflict, "The stored object's sha256 differs from the declared one."},
	"checksum_unverified":   {http.StatusConflict, "The provider reported no sha256, so the declared one could not be checked."},

	// Objects.
	"object_not_found":      {http.StatusNotFound, "No such object."},
	"overrides_unsupported": {http.StatusNotImplemented, "The store's provider cannot set Content-Disposition on downloads."},
	"unsupported":           {http.StatusNotImplemented, "The store's provider does not support this."},
	"playback_denied":       {http.StatusForbidden, "The playback link was not made by this gateway, was altered, or is for another store or object."},
	"playback_expired":      {http.StatusForbidden, "The playback link has expired; ask for a new playback_url."},
	"playlist_invalid":      {http.StatusUnprocessableEntity, "The HLS playlist cannot be served signed: malformed, over 4 MiB, or a URI outside its folder, to another host or with a query; detail names the line."},

	// Providers.
	"provider_invalid_argument": {http.StatusBadRequest, "The provider refused the request as invalid."},
	"already_exists":            {http.StatusConflict, "The object already exists."},
	"failed_precondition":       {http.StatusConflict, "The provider refused the request in the object's current state."},
	"provider_unavailable":      {http.StatusServiceUnavailable, "The store's provider is down; retry after Retry-After."},
	"provider_timeout":          {http.StatusGatewayTimeout, "The store's provider did not answer in time; retry."},
	"provider_denied":           {http.StatusBadGateway, "The storage backend refused the gateway's credentials."},
	"provider_error":            {http.StatusBadGateway, "The store's provider failed."},

	// Hooks.
	"hook_rejected":       {http.StatusForbidden, "The application's hook refused this: 403 for a new upload (nothing was signed), 422 for a completed upload (the object was deleted, unless another had replaced it meanwhile, which detail says) or a delete (the object was kept). detail is the hook's message."},
	"hook_unavailable":    {http.StatusServiceUnavailable, "The application's hook did not answer in time, failed or asked to retry; the object is kept as it was. Retry after Retry-After."},
	"object_changed":      {http.StatusConflict, "Another object replaced the one the application's hook approved deleting while it was asked; nothing was deleted. Retry to ask about the object there now."},
	"hook_invalid_answer": {http.StatusBadGateway, "The application's hook answered something Valet cannot use (not JSON, over 16 KiB, bad metadata, a redirect); the object is kept as it was."},

	// Companion-compatible routes.
	"origin_forbidden":        {http.StatusForbidden, "A Companion route was called from an Origin not in server.cors_origins, or cross-site without one."},
	"key_mismatch":            {http.StatusBadRequest, "The key sent with a Companion upload id is not the upload's key."},
	"companion_upload":        {http.StatusConflict, "The upload id was issued by the Companion routes, which sign and complete it; Valet's own upload routes refuse it."},
	"form_upload_unsupported": {http.StatusNotImplemented, "The store cannot sign a form upload (POST policy) for a Companion single upload: its backend has none (Azure), or its key template has no {uuid}."},
}

// apiError returns the problem for a catalogued code. An unknown code is a
// programming error, which the catalog test catches.
func apiError(code, detail string) *problem.Problem {
	c, ok := errorCodes[code]
	if !ok {
		c.status = http.StatusInternalServerError
	}
	return problem.New(c.status, code, detail)
}

// withStatus gives p another of its code's catalogued statuses (also);
// any other status is a programming error and leaves p as it was.
func withStatus(p *problem.Problem, status int) *problem.Problem {
	if slices.Contains(alsoStatus[p.Code], status) {
		return problem.New(status, p.Code, p.Detail)
	}
	return p
}

// apiErrorf is apiError with a formatted detail.
func apiErrorf(code, format string, args ...any) *problem.Problem {
	return apiError(code, fmt.Sprintf(format, args...))
}

// served is openapi.json with the catalog written into the Problem
// schema: the code property's enum, and a description listing each code
// with its status and sentence.
var served = sync.OnceValue(func() []byte {
	var doc map[string]any
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		return openAPIDoc
	}
	code, ok := dig(doc, "components", "schemas", "Problem", "properties", "code").(map[string]any)
	if !ok {
		return openAPIDoc
	}
	names := errorCodeNames()
	var b strings.Builder
	b.WriteString("Stable machine-readable error code. Each code comes with the status given here (a few with one of two, as their sentence says):\n")
	for _, n := range names {
		c := errorCodes[n]
		statuses := strconv.Itoa(c.status)
		for _, st := range alsoStatus[n] {
			statuses += ", " + strconv.Itoa(st)
		}
		fmt.Fprintf(&b, "\n- `%s` (%s): %s", n, statuses, c.about)
	}
	code["enum"] = names
	code["description"] = b.String()
	out, err := json.MarshalIndent(doc, "", " ")
	if err != nil {
		return openAPIDoc
	}
	return append(out, '\n')
})

func dig(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// errorCodeNames lists the catalog, sorted.
func errorCodeNames() []string {
	names := make([]string, 0, len(errorCodes))
	for n := range errorCodes {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
