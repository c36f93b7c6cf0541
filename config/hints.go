package config

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/agnivade/levenshtein"
	"github.com/go-viper/mapstructure/v2"
)

// Errors that say what to do: the hints Load adds to what the decoder and
// Validate report, and the warnings `valet config check` prints.

// suggestKey returns " (did you mean NAME?)" for the field of struct type t
// whose key is within a small edit distance of key, or "".
func suggestKey(key string, t reflect.Type) string {
	if t.Kind() != reflect.Struct {
		return ""
	}
	best, bestD := "", max(2, len(key)/4)+1
	for i := range t.NumField() {
		name := t.Field(i).Tag.Get("koanf")
		if name == "" || !t.Field(i).IsExported() {
			continue
		}
		if d := levenshtein.ComputeDistance(key, name); d < bestD {
			best, bestD = name, d
		}
	}
	if best == "" {
		return ""
	}
	return " (did you mean " + best + "?)"
}

// durationHint is appended to an error about a duration.
const durationHint = `valid units are ns, us, ms, s, m and h, as in "90s", "15m" or "1h30m"`

// durationHook decodes a duration from a string like
// mapstructure.StringToTimeDurationHookFunc, but its error quotes the value
// (mapstructure's drops it) and says which units are valid.
func durationHook() mapstructure.DecodeHookFuncType {
	return func(_, to reflect.Type, data any) (any, error) {
		s, ok := data.(string)
		if !ok || to != durationType {
			return data, nil
		}
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			why := strings.TrimPrefix(err.Error(), "time: ")
			why, _, _ = strings.Cut(why, " in duration") // the value comes next
			return nil, fmt.Errorf("invalid duration %q (%s): %s", s, why, durationHint)
		}
		return d, nil
	}
}

// envSources maps each config key an environment variable sets to the
// variable's name.
func envSources(environ []string) map[string]string {
	m := map[string]string{}
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) || value == "" {
			continue
		}
		if key, _ := envKey(name, value); key != "" {
			m[key] = name
		}
	}
	return m
}

// nameEnvSources rewrites each "KEY: message" in err whose KEY, or a key
// it is under, was set by an environment variable as
// "KEY: message (from VARIABLE)", so the reader knows where to look.
func nameEnvSources(err error, sources map[string]string) error {
	if err == nil || len(sources) == 0 {
		return err
	}
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	changed := false
	out := make([]error, len(list))
	for i, e := range list {
		out[i] = e
		key, _, ok := strings.Cut(e.Error(), ": ")
		if !ok {
			continue
		}
		if v := envSource(key, sources); v != "" {
			out[i] = fmt.Errorf("%w (from %s)", e, v)
			changed = true
		}
	}
	if !changed {
		return err
	}
	return errors.Join(out...)
}

// envSource is the variable that set key, or a key below it (a list's
// items: server.cors_origins[1]), or "".
func envSource(key string, sources map[string]string) string {
	if v, ok := sources[key]; ok {
		return v
	}
	if base, _, ok := strings.Cut(key, "["); ok {
		return sources[base]
	}
	return ""
}

// unquotedRules finds rules that YAML read as a boolean or a number
// (upload: true), which the decoder would silently turn into "1".
func unquotedRules(raw map[string]any) []error {
	stores, _ := raw["stores"].(map[string]any)
	var errs []error
	names := make([]string, 0, len(stores))
	for n := range stores {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		sc, _ := stores[name].(map[string]any)
		rules, _ := sc["rules"].(map[string]any)
		ops := make([]string, 0, len(rules))
		for op := range rules {
			ops = append(ops, op)
		}
		sort.Strings(ops)
		for _, op := range ops {
			switch v := rules[op].(type) {
			case bool, int, int64, float64:
				errs = append(errs, fmt.Errorf("stores.%s.rules.%s: %v is a YAML %T, not a rule: quote it (%s: \"%v\"), since a rule is an expression written as a string", name, op, v, v, op, v))
			}
		}
	}
	return errs
}

// Warnings are what a config may mean but probably does not: each is a
// line for `valet config check` and the gateway's log. An empty rule, for
// one, denies every request of its kind.
func (c *Config) Warnings() []string {
	var out []string
	for _, name := range c.StoreNames() {
		r := c.Stores[name].Rules
		var empty []string
		for _, x := range []struct{ op, rule string }{{"upload", r.Upload}, {"read", r.Read}, {"delete", r.Delete}, {"list", r.List}} {
			if strings.TrimSpace(x.rule) == "" {
				empty = append(empty, x.op)
			}
		}
		switch len(empty) {
		case 0:
		case 1:
			out = append(out, fmt.Sprintf("stores.%s.rules.%s is empty: every %s request will be denied (a rule such as \"true\" allows any authenticated caller)", name, empty[0], empty[0]))
		default:
			ops := strings.Join(empty[:len(empty)-1], ", ") + " and " + empty[len(empty)-1]
			out = append(out, fmt.Sprintf("stores.%s.rules: %s are empty: every %s request will be denied (a rule such as \"true\" allows any authenticated caller)", name, ops, ops))
		}
	}
	return out
}

// RestartOnly lists the settings that changed from old to cfg but that a
// reload does not apply, each as a line saying so: the listeners are bound
// once, at start.
func RestartOnly(old, cfg *Config) []string {
	var out []string
	for _, x := range []struct{ key, was, now string }{
		{"server.listen", old.Server.Listen, cfg.Server.Listen},
		{"server.admin_listen", old.Server.AdminListen, cfg.Server.AdminListen},
	} {
		if x.was != x.now {
			out = append(out, fmt.Sprintf("%s changed from %q to %q but was not applied: it takes effect when the gateway restarts, and until then it still listens on %q", x.key, x.was, x.now, x.was))
		}
	}
	return out
}
