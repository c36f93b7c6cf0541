package core

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"

	json "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/valetgw/valet/core/problem"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = stdjson.NewEncoder(w).Encode(v)
}

// decode reads a JSON body strictly: member names match exactly (no
// case folding), unknown or duplicate members and trailing data are
// errors, and the text must be valid UTF-8. An empty body leaves v
// untouched when optional.
func decode(r *http.Request, v any, optional bool) error {
	body, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return bodyTooLarge(mbe.Limit)
	case err != nil:
		return apiError("body_incomplete", "the request body did not arrive in full")
	}
	return decodeBytes(body, v, optional)
}

func decodeBytes(body []byte, v any, optional bool) error {
	if len(bytes.TrimSpace(body)) == 0 {
		if optional {
			return nil
		}
		return invalidBody("empty body")
	}
	// One value, an object, and nothing after it, decoded in one pass.
	dec := decoders.Get().(*jsontext.Decoder)
	dec.Reset(bytes.NewReader(body))
	defer putDecoder(dec, len(body))
	if k := dec.PeekKind(); k != '{' && k != 0 { // 0: a syntax error, reported below
		return invalidBody("the body must be a JSON object")
	}
	if err := json.UnmarshalDecode(dec, v, json.RejectUnknownMembers(true)); err != nil {
		return invalidBody(jsonError(err))
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return invalidBody("trailing data after the JSON object at byte " + strconv.FormatInt(dec.InputOffset(), 10))
	}
	return nil
}

// decoders holds jsontext Decoders for reuse: a fresh one allocates its
// read buffer and, for the first string it unmarshals, a 4 KiB string
// cache, which was a third of the bytes an upload-slot request allocated.
var decoders = sync.Pool{New: func() any { return jsontext.NewDecoder(noInput) }}

// noInput is what a pooled Decoder points at between uses; it is never
// read (every use starts with Reset).
var noInput = bytes.NewReader(nil)

// putDecoder returns dec to the pool unless the body it read was large, so
// that the pool does not keep big buffers alive.
func putDecoder(dec *jsontext.Decoder, n int) {
	if n > 64<<10 {
		return
	}
	dec.Reset(noInput)
	decoders.Put(dec)
}

// bodyTooLarge is the problem of a body over its route's limit of n bytes.
func bodyTooLarge(n int64) *problem.Problem {
	if n%(1<<20) == 0 {
		return apiErrorf("body_too_large", "request body exceeds %d MiB", n>>20)
	}
	if n%(1<<10) == 0 {
		return apiErrorf("body_too_large", "request body exceeds %d KiB", n>>10)
	}
	return apiErrorf("body_too_large", "request body exceeds %d bytes", n)
}

func invalidBody(why string) error {
	return apiError("invalid_request", "invalid JSON body: "+why)
}

// jsonError keeps decoder messages short and free of echoed values: only
// the top-level member is named (never a metadata key), quoted and cut to
// 64 bytes.
func jsonError(err error) string {
	var se *json.SemanticError
	var syn *jsontext.SyntacticError
	switch {
	case errors.Is(err, json.ErrUnknownName) && errors.As(err, &se):
		return "unknown field " + memberName(se.JSONPointer)
	case errors.Is(err, jsontext.ErrDuplicateName) && errors.As(err, &syn):
		return "duplicate field " + memberName(syn.JSONPointer)
	case errors.As(err, &se):
		field := memberName(se.JSONPointer)
		if se.GoType != nil && !strings.Contains(strings.TrimPrefix(string(se.JSONPointer), "/"), "/") {
			return "field " + field + " must be " + jsonKind(se.GoType)
		}
		return "field " + field + " is invalid"
	case errors.As(err, &syn):
		if strings.Contains(syn.Err.Error(), "UTF-8") {
			return "invalid UTF-8 at byte " + strconv.FormatInt(syn.ByteOffset, 10)
		}
		return "syntax error at byte " + strconv.FormatInt(syn.ByteOffset, 10)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "unexpected end of the body"
	}
	return "malformed"
}

// memberName names the top-level member a JSON pointer starts with.
func memberName(p jsontext.Pointer) string {
	name := ""
	for tok := range p.Tokens() {
		name = tok
		break
	}
	if len(name) > 64 {
		name = strings.ToValidUTF8(name[:64], "") + "…" // a cut rune is dropped
	}
	return strconv.QuoteToASCII(name)
}

func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return t.String()
}
