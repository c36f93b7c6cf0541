package providers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"

	"github.com/agnivade/levenshtein"
)

// DecodeConfig decodes a store's config block (StoreConfig.Config) into v,
// a pointer to a struct whose fields have json tags, strictly, as every
// provider must: an unknown key, a value of the wrong type or anything
// after the object is an InvalidArgument error that names the key as
// "config.KEY" (an unknown key close to a known one says which was
// meant). An empty config decodes as {}, leaving v's defaults in place.
// A value of the wrong type wraps the *json.UnmarshalTypeError, for a
// caller that words it its own way (errors.As). A field's UnmarshalJSON
// that returns a *json.UnmarshalTypeError is named the same way.
func DecodeConfig(raw json.RawMessage, v any) error {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return configError(err, v)
	}
	if dec.More() {
		return Errorf(InvalidArgument, "config: trailing data after the JSON object")
	}
	return nil
}

// configError names the key of a decoding error.
func configError(err error, v any) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		// The JSON kind only ("number", not "number 5"): a misplaced
		// secret must not be echoed.
		kind, _, _ := strings.Cut(te.Value, " ")
		return &Error{Code: InvalidArgument, Err: te, Message: fmt.Sprintf("config.%s: want %s, got a JSON %s", te.Field, te.Type, kind)}
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		key := strings.Trim(f, `"`)
		msg := "config." + key + ": unknown key"
		if near := nearestKey(key, jsonKeys(reflect.TypeOf(v))); near != "" {
			msg += " (did you mean " + near + "?)"
		}
		return Errorf(InvalidArgument, "%s", msg)
	}
	return Errorf(InvalidArgument, "config: %v", err)
}

// jsonKeys lists the json names of a struct type's fields.
func jsonKeys(t reflect.Type) []string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case !f.IsExported() || name == "-":
		case name != "":
			keys = append(keys, name)
		default:
			keys = append(keys, f.Name)
		}
	}
	return keys
}

// nearestKey is the known key within a small edit distance of key, or "".
func nearestKey(key string, known []string) string {
	best, bestD := "", max(2, len(key)/4)+1
	for _, k := range known {
		if d := levenshtein.ComputeDistance(strings.ToLower(key), strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// Secret is a secret a store's config gives either inline or as a file,
// such as "secret" and "secret_file": embed or name both in the config
// struct and call Resolve after DecodeConfig.
//
//	type config struct {
//		Secret     string `json:"secret"`
//		SecretFile string `json:"secret_file"`
//	}
//	key, err := providers.Secret{Key: "secret", Value: c.Secret, File: c.SecretFile}.Resolve()
//
// A secret that is rotated also takes a list, Values (config key
// Key + "s"), and is read with ResolveAll.
type Secret struct {
	// Key is the inline key's name in the config ("secret"); the file's
	// is Key + "_file" and the list's Key + "s". Errors name them as
	// config.KEY.
	Key string
	// Value is the inline secret, File the path of a file holding it.
	Value, File string
	// Values is the list form (ResolveAll only): the first signs, the
	// others still verify.
	Values []string
	// Min, when set, is the least length in bytes of every secret.
	Min int
}

// Resolve returns the secret: Value, or File's content without its
// trailing newline. Both given is an InvalidArgument error, as is an
// unreadable or empty file; neither given returns nil, nil (the caller
// decides whether the secret is required). Errors never quote the secret.
func (s Secret) Resolve() ([]byte, error) {
	if s.Value != "" && s.File != "" {
		return nil, Errorf(InvalidArgument, "config.%s_file: given together with config.%s; give one", s.Key, s.Key)
	}
	if s.File == "" {
		if s.Value == "" {
			return nil, nil
		}
		if err := s.checkLen(s.Key, s.Value); err != nil {
			return nil, err
		}
		return []byte(s.Value), nil
	}
	b, err := s.readFile()
	if err != nil {
		return nil, err
	}
	b = bytes.TrimRight(b, "\r\n")
	if len(b) == 0 {
		return nil, Errorf(InvalidArgument, "config.%s_file: %s is empty", s.Key, s.File)
	}
	if err := s.checkLen(s.Key+"_file", string(b)); err != nil {
		return nil, err
	}
	return b, nil
}

// ResolveAll returns the secrets of a rotated secret, the signing one
// first: Value alone, Values, or File's non-empty lines. Giving more than
// one of them is an InvalidArgument error; none returns nil, nil.
func (s Secret) ResolveAll() ([][]byte, error) {
	given := 0
	for _, set := range []bool{s.Value != "", s.File != "", len(s.Values) > 0} {
		if set {
			given++
		}
	}
	switch {
	case given > 1:
		return nil, Errorf(InvalidArgument, "config.%s: give one of %s, %s_file or %ss", s.Key, s.Key, s.Key, s.Key)
	case s.File != "":
		b, err := s.readFile()
		if err != nil {
			return nil, err
		}
		var all [][]byte
		for _, l := range bytes.Split(b, []byte("\n")) {
			if l = bytes.TrimRight(l, "\r"); len(l) > 0 {
				all = append(all, l)
			}
		}
		if len(all) == 0 {
			return nil, Errorf(InvalidArgument, "config.%s_file: %s is empty", s.Key, s.File)
		}
		for _, sec := range all {
			if len(sec) < s.Min {
				return nil, Errorf(InvalidArgument, "config.%s_file: every secret in %s must be at least %d bytes", s.Key, s.File, s.Min)
			}
		}
		return all, nil
	case len(s.Values) > 0:
		all := make([][]byte, len(s.Values))
		for i, v := range s.Values {
			if err := s.checkLen(fmt.Sprintf("%ss[%d]", s.Key, i), v); err != nil {
				return nil, err
			}
			all[i] = []byte(v)
		}
		return all, nil
	case s.Value != "":
		if err := s.checkLen(s.Key, s.Value); err != nil {
			return nil, err
		}
		return [][]byte{[]byte(s.Value)}, nil
	}
	return nil, nil
}

// readFile reads File, naming it but not the secret in an error.
func (s Secret) readFile() ([]byte, error) {
	b, err := os.ReadFile(s.File)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, Errorf(InvalidArgument, "config.%s_file: cannot read %s: %v", s.Key, s.File, err)
	}
	return b, nil
}

// checkLen refuses a secret shorter than Min, naming key.
func (s Secret) checkLen(key, v string) error {
	if len(v) < s.Min {
		return Errorf(InvalidArgument, "config.%s: must be at least %d bytes", key, s.Min)
	}
	return nil
}

// String never shows the secret.
func (s Secret) String() string {
	return fmt.Sprintf("providers.Secret{Key: %q, File: %q}", s.Key, s.File)
}
