package config

import (
	"reflect"
	"strings"
	"time"

	yamlv3 "go.yaml.in/yaml/v3"
)

// Redacted is a YAML copy of the config fit to print: every secret,
// including secret-looking keys in provider config, is "***".
func (c *Config) Redacted() ([]byte, error) {
	return yamlv3.Marshal(toMap(reflect.ValueOf(*c), false))
}

// secretFields are Config fields that hold secrets.
var secretFields = map[string]bool{"hs256_secret": true, "secret": true}

// secretWords mark provider config keys whose values are hidden.
var secretWords = []string{"secret", "password", "passwd", "token", "credential", "private", "key", "sas", "signature", "connection_string"}

// LooksSecret reports whether a provider config key probably holds a secret.
// Keys ending in _file name a file, not its content, and are shown.
func LooksSecret(key string) bool {
	k := strings.ToLower(key)
	if strings.HasSuffix(k, "_file") || strings.HasSuffix(k, "_path") {
		return false
	}
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

func toMap(v reflect.Value, free bool) any {
	if v.Type() == durationType {
		return time.Duration(v.Int()).String()
	}
	if v.Type() == sizeType {
		return Size(v.Int()).String()
	}
	switch v.Kind() {
	case reflect.Struct:
		out := map[string]any{}
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("koanf")
			if !f.IsExported() || tag == "" {
				continue
			}
			fv := v.Field(i)
			if secretFields[tag] {
				if fv.String() != "" {
					out[tag] = "***"
				} else {
					out[tag] = ""
				}
				continue
			}
			out[tag] = toMap(fv, tag == "config")
		}
		return out
	case reflect.Map:
		out := map[string]any{}
		iter := v.MapRange()
		for iter.Next() {
			k := iter.Key().String()
			if free && LooksSecret(k) && !iter.Value().IsZero() {
				out[k] = "***"
				continue
			}
			out[k] = toMap(iter.Value(), free)
		}
		return out
	case reflect.Slice:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = toMap(v.Index(i), free)
		}
		return out
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return toMap(v.Elem(), free)
	default:
		return v.Interface()
	}
}
