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
		return Errorf(InvalidArgument, "config.%s: want %s, got a JSON %s", te.Field, te.Type, kind)
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
type Secret struct {
	// Key is the inline key's name in the config ("secret"); the file's
	// is Key + "_file". Errors name them as config.KEY.
	Key string
	// Value is the inline secret, File the path of a file holding it.
	Value, File string
}

// Resolve returns the secret: Value, or File's content without its
// trailing newline. Both given is an InvalidArgument error, as is an
// unreadable or empty file; neither given returns nil, nil (the caller
// decides whether the secret is required). Errors never quote the secret.
func (s Secret) Resolve() ([]byte, error) {
	switch {
	case s.Value != "" && s.File != "":
		return nil, Errorf(InvalidArgument, "config.%s_file: given together with config.%s; give one", s.Key, s.Key)
	case s.File != "":
		b, err := os.ReadFile(s.File)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, Errorf(InvalidArgument, "config.%s_file: cannot read %s: %v", s.Key, s.File, err)
		}
		b = bytes.TrimRight(b, "\r\n")
		if len(b) == 0 {
			return nil, Errorf(InvalidArgument, "config.%s_file: %s is empty", s.Key, s.File)
		}
		return b, nil
	case s.Value != "":
		return []byte(s.Value), nil
	}
	return nil, nil
}

// String never shows the secret.
func (s Secret) String() string {
	return fmt.Sprintf("providers.Secret{Key: %q, File: %q}", s.Key, s.File)
}
