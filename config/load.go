package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"
	yamlv3 "go.yaml.in/yaml/v3"
)

// EnvPrefix starts every environment variable Load reads.
const EnvPrefix = "VALET_"

// ReservedEnvPrefix starts the variables meant for plugin processes; Load
// ignores them.
const ReservedEnvPrefix = EnvPrefix + "PLUGIN_"

// Options says where Load reads from.
type Options struct {
	// File is the YAML file ("" = none).
	File string
	// Environ is the environment as KEY=VALUE pairs; nil means os.Environ().
	Environ []string
	// Flags are applied last. Only flags the user changed count. A flag
	// named like a config key ("server.listen", or "server-listen" with
	// dashes) sets that key; the short names in FlagAliases work too; any
	// other flag (e.g. --config) is ignored.
	Flags *pflag.FlagSet
}

// FlagAliases maps short flag names to config keys.
var FlagAliases = map[string]string{
	"listen":     "server.listen",
	"public-url": "server.public_url",
	"demo":       "demo.enabled",
	"plugin-dir": "plugins.dirs",
}

// Load reads, merges, decodes and validates the configuration. Every error
// names the offending key, and the environment variable when one set it;
// several problems are reported together.
func Load(opts Options) (*Config, error) {
	if opts.Environ == nil {
		opts.Environ = os.Environ()
	}
	cfg, err := load(opts)
	return cfg, nameEnvSources(err, envSources(opts.Environ))
}

func load(opts Options) (*Config, error) {
	k := koanf.New(".")
	if err := k.Load(confmap.Provider(Defaults(), "."), nil); err != nil {
		return nil, fmt.Errorf("defaults: %w", err)
	}
	if opts.File != "" {
		if err := mergeLayer(k, file.Provider(opts.File), yaml.Parser()); err != nil {
			return nil, fmt.Errorf("config file %s: %w", opts.File, err)
		}
	}
	environ := opts.Environ
	if environ == nil {
		environ = os.Environ()
	}
	err := mergeLayer(k, env.Provider(".", env.Opt{
		Prefix:        EnvPrefix,
		EnvironFunc:   func() []string { return environ },
		TransformFunc: envKey,
	}), nil)
	if err != nil {
		return nil, fmt.Errorf("environment: %w", err)
	}
	if opts.Flags != nil {
		if err := mergeLayer(k, posflag.ProviderWithFlag(opts.Flags, ".", nil, flagKey(opts.Flags)), nil); err != nil {
			return nil, fmt.Errorf("flags: %w", err)
		}
	}

	raw := k.Raw()
	if errs := append(unknownKeys("", raw, reflect.TypeFor[Config]()), unquotedRules(raw)...); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	var cfg Config
	dc := &mapstructure.DecoderConfig{
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			durationHook(),
			mapstructure.StringToSliceHookFunc(","),
			mapstructure.TextUnmarshallerHookFunc(),
		),
		WeaklyTypedInput: true,
		ErrorUnused:      true,
		Result:           &cfg,
		TagName:          "koanf",
	}
	if err := k.UnmarshalWithConf("", &cfg, koanf.UnmarshalConf{DecoderConfig: dc}); err != nil {
		return nil, decodeError(err)
	}
	if k.Exists("hooks.events") && cfg.Hooks.Events == nil {
		cfg.Hooks.Events = []string{} // "events: []" opts out
	}
	for name, sc := range cfg.Stores {
		sc.deleteOnMismatchSet = k.Exists("stores." + name + ".delete_on_mismatch")
		if k.Exists("stores."+name+".hooks.events") && sc.Hooks.Events == nil {
			sc.Hooks.Events = []string{}
		}
		cfg.Stores[name] = sc
	}
	cfg.applyDefaults()
	if err := cfg.resolveSecrets(); err != nil {
		return nil, err
	}
	cfg.mergeHooks()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// mergeLayer loads one layer and merges it over k. A secret given in a
// higher layer replaces its lower-layer counterpart: an inline X overrides
// a lower X_file and an X_file overrides a lower inline X (for example
// VALET_TOKENS__SECRET over tokens.secret_file in the YAML, or a provider's
// secret over its secret_file). Both set in the same layer stays an error,
// reported where the pair is resolved.
func mergeLayer(k *koanf.Koanf, p koanf.Provider, pa koanf.Parser) error {
	l := koanf.New(".")
	if err := l.Load(p, pa); err != nil {
		return err
	}
	for _, key := range l.Keys() {
		if !setValue(l.Get(key)) {
			continue
		}
		others := []string{key + "_file"}
		if base, ok := strings.CutSuffix(key, "_file"); ok {
			others = []string{base}
		}
		if hookSecretKey(key) {
			// A hook's secret, secret_file and secrets are one setting.
			block := key[:strings.LastIndex(key, ".")]
			others = []string{block + ".secret", block + ".secret_file", block + ".secrets"}
		}
		if group, ok := secretGroups[key]; ok {
			others = group
		}
		for _, other := range others {
			if _, isMap := k.Get(other).(map[string]any); other != key && !isMap && !l.Exists(other) && k.Exists(other) {
				k.Delete(other)
			}
		}
	}
	return k.Merge(l)
}

// secretGroups are the gateway's own secrets given three ways (inline, as a
// file, as a list): a higher layer's form replaces a lower layer's others.
var secretGroups = func() map[string][]string {
	m := map[string][]string{}
	for _, g := range [][]string{
		{"tokens.secret", "tokens.secret_file", "tokens.secrets"},
		{"auth.jwt.hs256_secret", "auth.jwt.hs256_secret_file", "auth.jwt.hs256_secrets"},
	} {
		for _, k := range g {
			m[k] = g
		}
	}
	return m
}()

// hookSecretKey reports whether key is one of the secret settings of the
// top-level hooks block or of a store's (hooks.secrets,
// stores.NAME.hooks.secret_file, ...).
func hookSecretKey(key string) bool {
	parts := strings.Split(key, ".")
	isBlock := (len(parts) == 2 && parts[0] == "hooks") || (len(parts) == 4 && parts[0] == "stores" && parts[2] == "hooks")
	if !isBlock {
		return false
	}
	switch parts[len(parts)-1] {
	case "secret", "secret_file", "secrets":
		return true
	}
	return false
}

// setValue reports whether a layer really sets a value: an empty string
// (VALET_TOKENS__SECRET=) does not override anything.
func setValue(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case string:
		return x != ""
	}
	return true
}

// envKey turns VALET_STORES__MEDIA__LIMITS__MAX_SIZE into
// stores.media.limits.max_size. Values under a store's provider config are
// parsed as YAML scalars, so VALET_STORES__M__CONFIG__PATH_STYLE=true is a
// bool; everything else stays a string and is decoded by type.
//
// VALET_PLUGIN_* variables are reserved for plugin processes (for example
// VALET_PLUGIN_LOG_LEVEL) and are not config keys.
func envKey(k, v string) (string, any) {
	if strings.HasPrefix(k, ReservedEnvPrefix) {
		return "", nil
	}
	key := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(k, EnvPrefix), "__", "."))
	parts := strings.Split(key, ".")
	if len(parts) >= 4 && parts[0] == "stores" && parts[2] == "config" {
		var x any
		if err := yamlv3.Unmarshal([]byte(v), &x); err == nil {
			switch x.(type) {
			case bool, int, float64:
				return key, x
			}
		}
	}
	return key, v
}

func flagKey(fs *pflag.FlagSet) func(f *pflag.Flag) (string, any) {
	return func(f *pflag.Flag) (string, any) {
		if !f.Changed {
			return "", nil
		}
		key, ok := FlagAliases[f.Name]
		if !ok {
			key = strings.ReplaceAll(f.Name, "-", "_")
			if !strings.Contains(key, ".") {
				// server_listen style: first "_" separates the section.
				if sec, rest, found := strings.Cut(key, "_"); found && knownKey(sec+"."+rest) {
					key = sec + "." + rest
				}
			}
			if !knownKey(key) {
				return "", nil
			}
		}
		return key, posflag.FlagVal(fs, f)
	}
}

// knownKey reports whether a dotted key names a field of Config (store
// entries accept any store name).
func knownKey(key string) bool {
	t := reflect.TypeFor[Config]()
	parts := strings.Split(key, ".")
	for i := 0; i < len(parts); i++ {
		switch t.Kind() {
		case reflect.Struct:
			f, ok := fieldByTag(t, parts[i])
			if !ok {
				return false
			}
			t = f.Type
		case reflect.Map:
			if t.Elem().Kind() == reflect.Interface {
				return true
			}
			t = t.Elem()
		default:
			return false
		}
	}
	return true
}

func fieldByTag(t reflect.Type, tag string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.IsExported() && f.Tag.Get("koanf") == tag {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

var (
	sizeType     = reflect.TypeFor[Size]()
	durationType = reflect.TypeFor[Duration]()
)

// unknownKeys walks the merged map alongside the Config type and reports
// every key that has no field, as "path.key: unknown key".
func unknownKeys(path string, v any, t reflect.Type) []error {
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	if t == sizeType || t == durationType {
		return nil
	}
	var errs []error
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return nil // a type error, reported by the decoder
		}
		names := make([]string, 0, len(m))
		for k := range m {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			f, ok := fieldByTag(t, k)
			if !ok {
				errs = append(errs, fmt.Errorf("%s: unknown key%s", join(k), suggestKey(k, t)))
				continue
			}
			errs = append(errs, unknownKeys(join(k), m[k], f.Type)...)
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok || t.Elem().Kind() != reflect.Struct {
			return nil
		}
		for k, sub := range m {
			errs = append(errs, unknownKeys(join(k), sub, t.Elem())...)
		}
	case reflect.Slice:
		s, ok := v.([]any)
		if !ok || t.Elem().Kind() != reflect.Struct {
			return nil
		}
		for i, sub := range s {
			errs = append(errs, unknownKeys(fmt.Sprintf("%s[%d]", path, i), sub, t.Elem())...)
		}
	}
	return errs
}

var decodeLine = regexp.MustCompile(`^'([^']*)' (.*)$`)

// decodeError rewrites the decoder's "'stores[media].limits.max_size' msg"
// lines into Valet's "stores.media.limits.max_size: msg".
func decodeError(err error) error {
	var errs []error
	for _, line := range strings.Split(err.Error(), "\n") {
		line = strings.TrimSpace(line)
		if m := decodeLine.FindStringSubmatch(line); m != nil {
			key := strings.NewReplacer("[", ".", "]", "").Replace(m[1])
			errs = append(errs, fmt.Errorf("%s: %s", key, strings.TrimPrefix(m[2], "time: ")))
		}
	}
	if len(errs) == 0 {
		return fmt.Errorf("config: %w", err)
	}
	return errors.Join(errs...)
}

func (c *Config) applyDefaults() {
	for name, s := range c.Stores {
		if s.KeyTemplate == "" {
			s.KeyTemplate = DefaultKeyTemplate
		}
		l, d := &s.Limits, storeDefaults
		for _, x := range []struct{ v, def *Duration }{{&l.PutTTL, &d.PutTTL}, {&l.GetTTL, &d.GetTTL}, {&l.DeleteTTL, &d.DeleteTTL}, {&l.MaxTTL, &d.MaxTTL}, {&l.UploadTTL, &d.UploadTTL}, {&l.PlaybackTTL, &d.PlaybackTTL}} {
			if *x.v == 0 {
				*x.v = *x.def
			}
		}
		if l.MultipartThreshold == 0 {
			l.MultipartThreshold = d.MultipartThreshold
		}
		if l.PartSize == 0 {
			l.PartSize = d.PartSize
		}
		if l.MaxBatch == 0 {
			l.MaxBatch = d.MaxBatch
		}
		c.Stores[name] = s
	}
}

// resolveSecrets reads *_file secrets. A secret given in two forms (inline
// or by environment, as a file, as a list) is an error, so it is clear
// which one wins. A file holds one secret per line; one line fills the
// single form, several the list.
func (c *Config) resolveSecrets() error {
	var errs []error
	for _, s := range []struct {
		key, fileKey, listKey string
		val, file             *string
		list                  *[]string
	}{
		{"auth.jwt.hs256_secret", "auth.jwt.hs256_secret_file", "auth.jwt.hs256_secrets", &c.Auth.JWT.HS256Secret, &c.Auth.JWT.HS256SecretFile, &c.Auth.JWT.HS256Secrets},
		{"tokens.secret", "tokens.secret_file", "tokens.secrets", &c.Tokens.Secret, &c.Tokens.SecretFile, &c.Tokens.Secrets},
	} {
		if *s.file == "" {
			continue
		}
		if *s.val != "" || len(*s.list) > 0 {
			errs = append(errs, fmt.Errorf("%s: set together with %s or %s; use one", s.fileKey, s.key, s.listKey))
			continue
		}
		b, err := os.ReadFile(*s.file)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.fileKey, err))
			continue
		}
		var lines []string
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				lines = append(lines, l)
			}
		}
		switch len(lines) {
		case 0:
			errs = append(errs, fmt.Errorf("%s: %s is empty", s.fileKey, *s.file))
		case 1:
			*s.val = lines[0]
		default:
			*s.list = lines
		}
	}
	errs = append(errs, c.readHookSecrets()...)
	return errors.Join(errs...)
}

// StoreNames returns the store names in sorted order.
func (c *Config) StoreNames() []string {
	names := make([]string, 0, len(c.Stores))
	for n := range c.Stores {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
