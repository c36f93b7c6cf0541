package local

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/valetgw/valet/providers"
)

// Config is a local store's configuration (stores.NAME.config).
type Config struct {
	// Root is the directory that holds the store. It is created if missing
	// and must be writable.
	Root string `json:"root"`
	// Listen is the address of the store's own HTTP listener, for example
	// "127.0.0.1:9100". Port 0 picks a free port.
	Listen string `json:"listen"`
	// PublicURL is the base URL that signed URLs point at, as browsers reach
	// the listener. Empty means "http://" + the listening address.
	PublicURL string `json:"public_url"`
	// Secret (or SecretFile, or Secrets: exactly one) keys the URL
	// signatures. At least 16 bytes; every process serving the same root
	// needs the same one. With Secrets (or a SecretFile of several lines,
	// one secret per line) the first signs and the others still verify, so
	// the secret is rotated by listing the new one first, then dropping the
	// old one once the URLs it signed have expired.
	Secret     string   `json:"secret"`
	SecretFile string   `json:"secret_file"`
	Secrets    []string `json:"secrets"`
	// CORSOrigins are the browser origins allowed to use signed URLs, such as
	// "https://app.example.com", or "*" for any.
	CORSOrigins []string `json:"cors_origins"`
	// PartMaxAge is how long an untouched multipart upload is kept before
	// the sweeper removes its parts. Default 24h.
	// Written as a Go duration string ("90m").
	PartMaxAge string `json:"part_max_age"`
	// MaxExpiry is the longest TTL a signature may have. Default 7 days.
	MaxExpiry string `json:"max_expiry"`
	// BodyIdleTimeout cuts a request body (a PUT or a part) when no byte of
	// it has arrived for this long. Default 60s. It bounds silence, not
	// the whole body: a slow link may take hours over a large file, as long
	// as bytes keep coming. At least 1s.
	BodyIdleTimeout string `json:"body_idle_timeout"`
}

const (
	defaultPartMaxAge = 24 * time.Hour
	defaultMaxExpiry  = 7 * 24 * time.Hour
	defaultBodyIdle   = 60 * time.Second
	minSecret         = 16
)

// settings is a validated Config.
type settings struct {
	root        string
	listen      string
	publicURL   *url.URL // nil: derive from the listener
	secret      []byte
	older       [][]byte // secrets being rotated out: they still verify
	origins     []string
	partMaxAge  time.Duration
	maxExpiry   time.Duration
	bodyIdle    time.Duration
	fingerprint string // identifies the configuration, for idempotent Configure
}

func invalid(key, format string, args ...any) error {
	return providers.Errorf(providers.InvalidArgument, "config.%s: %s", key, fmt.Sprintf(format, args...))
}

// parseConfig decodes and validates raw strictly. It checks everything that
// does not need the listener; the root's writability is checked here too.
func parseConfig(raw json.RawMessage) (*settings, error) {
	var c Config
	if err := providers.DecodeConfig(raw, &c); err != nil {
		return nil, err
	}
	s := &settings{partMaxAge: defaultPartMaxAge, maxExpiry: defaultMaxExpiry, bodyIdle: defaultBodyIdle}

	if c.Root == "" {
		return nil, invalid("root", "required")
	}
	root, err := filepath.Abs(c.Root)
	if err != nil {
		return nil, invalid("root", "%v", err)
	}
	folds, err := checkWritable(root)
	if err != nil {
		return nil, invalid("root", "%s is not a writable directory: %v", root, cause(err))
	}
	if folds {
		return nil, invalid("root", "%s is on a filesystem that ignores the case of names (as macOS and Windows volumes do by default): keys users/ann/… and users/Ann/… would be one folder there, so one caller could list and read another's objects; put the root on a case-sensitive volume", root)
	}
	s.root = root

	if c.Listen == "" {
		return nil, invalid("listen", "required (for example \"127.0.0.1:9100\")")
	}
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return nil, invalid("listen", "%q is not host:port", c.Listen)
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return nil, invalid("listen", "%q has a bad port", c.Listen)
	}
	if host != "" && net.ParseIP(host) == nil && host != "localhost" {
		return nil, invalid("listen", "%q: host must be an IP address or localhost", c.Listen)
	}
	s.listen = c.Listen

	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return nil, invalid("public_url", "%q is not an http(s) base URL", c.PublicURL)
		}
		u.Path = strings.TrimSuffix(u.Path, "/")
		u.RawPath = ""
		s.publicURL = u
	}

	secrets, err := providers.Secret{Key: "secret", Value: c.Secret, File: c.SecretFile, Values: c.Secrets, Min: minSecret}.ResolveAll()
	if err != nil {
		return nil, err
	}
	if len(secrets) == 0 {
		return nil, invalid("secret", "required (or secret_file, or secrets)")
	}
	s.secret, s.older = secrets[0], secrets[1:]

	for i, o := range c.CORSOrigins {
		if o == "*" {
			s.origins = append(s.origins, o)
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return nil, invalid(fmt.Sprintf("cors_origins[%d]", i), "%q is not an origin such as https://app.example.com", o)
		}
		s.origins = append(s.origins, u.Scheme+"://"+u.Host)
	}

	if c.PartMaxAge != "" {
		d, err := time.ParseDuration(c.PartMaxAge)
		if err != nil || d <= 0 {
			return nil, invalid("part_max_age", "want a positive duration such as \"24h\", got %q", c.PartMaxAge)
		}
		s.partMaxAge = d
	}
	if c.MaxExpiry != "" {
		d, err := time.ParseDuration(c.MaxExpiry)
		if err != nil || d < time.Second {
			return nil, invalid("max_expiry", "want a duration of at least 1s such as \"1h\", got %q", c.MaxExpiry)
		}
		s.maxExpiry = d
	}
	if c.BodyIdleTimeout != "" {
		d, err := time.ParseDuration(c.BodyIdleTimeout)
		if err != nil || d < time.Second {
			return nil, invalid("body_idle_timeout", "want a duration of at least 1s such as \"60s\", got %q", c.BodyIdleTimeout)
		}
		s.bodyIdle = d
	}

	// The fingerprint covers the decoded config, secret included, so that a
	// replayed Configure with the same settings is a no-op.
	fp, _ := json.Marshal(c)
	s.fingerprint = string(fp)
	return s, nil
}

// checkWritable creates root if needed, proves a file can be created in
// it, and says whether the filesystem there folds case (see caseFolds).
func checkWritable(root string) (folds bool, err error) {
	if err := os.MkdirAll(root, 0o750); err != nil {
		return false, err
	}
	f, err := os.CreateTemp(root, ".valet-probe-*")
	if err != nil {
		return false, err
	}
	name := f.Name()
	f.Close()
	folds = caseFolds(name)
	return folds, os.Remove(name)
}

// caseFolds reports whether the file at path (whose base name has lower
// case letters) is also found under its name in upper case: the
// filesystem ignores case. Keys differ by case (subjects ann and Ann are
// two callers), so such a root would let one caller's keys name
// another's files.
func caseFolds(path string) bool {
	dir, base := filepath.Split(path)
	upper := strings.ToUpper(base)
	if upper == base {
		return false
	}
	a, err := os.Stat(path)
	if err != nil {
		return false
	}
	b, err := os.Stat(filepath.Join(dir, upper))
	return err == nil && os.SameFile(a, b)
}

// cause strips a *PathError's operation and path, which the message already
// gives in a friendlier form.
func cause(err error) error {
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}
