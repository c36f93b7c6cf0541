package s3

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"strconv"
	"strings"

	"github.com/valetgw/valet/providers"
)

// Config is one store's settings, from stores.NAME.config. Keys are
// snake_case and decoded strictly: an unknown key is an error.
type Config struct {
	// Bucket holds the store's objects. Required.
	Bucket string `json:"bucket"`
	// Region is the bucket's region. Defaults to us-east-1 when an endpoint
	// is given, else to the region of the AWS default configuration.
	Region string `json:"region"`
	// Endpoint is the S3 API endpoint the provider itself calls, for example
	// http://minio.internal:9000. Empty means AWS.
	Endpoint string `json:"endpoint"`
	// PublicEndpoint is the endpoint browsers reach; signed URLs are made
	// for it. Empty means Endpoint.
	PublicEndpoint string `json:"public_endpoint"`
	// PathStyle puts the bucket in the path (host/bucket/key) instead of the
	// host name (bucket.host/key). Default false for s3, true for minio.
	PathStyle *flexBool `json:"path_style"`

	// Static credentials. When none are given the AWS default chain is used
	// (environment, shared config, web identity / IRSA, ECS, EC2 roles).
	AccessKeyID         string `json:"access_key_id"`
	AccessKeyIDFile     string `json:"access_key_id_file"`
	SecretAccessKey     string `json:"secret_access_key"`
	SecretAccessKeyFile string `json:"secret_access_key_file"`
	SessionToken        string `json:"session_token"`
	SessionTokenFile    string `json:"session_token_file"`
}

// flexBool accepts true/false as JSON booleans or strings, since values that
// come from the environment layer of the config arrive as strings.
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	s := strings.Trim(string(data), `"`)
	v, err := strconv.ParseBool(s)
	if err != nil {
		// DecodeConfig names the key of a type error.
		return &json.UnmarshalTypeError{Value: "string", Type: reflect.TypeFor[bool]()}
	}
	*b = flexBool(v)
	return nil
}

// decodeConfig parses raw strictly and fills in defaults for the named
// registration. Errors are InvalidArgument and name the offending key.
func decodeConfig(raw json.RawMessage, minio bool) (Config, error) {
	var c Config
	if err := providers.DecodeConfig(raw, &c); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return c, invalid(te.Field, "expected %s", te.Type)
		}
		return c, err
	}

	if c.Bucket == "" {
		return c, invalid("bucket", "required")
	}
	if err := checkBucket(c.Bucket); err != nil {
		return c, invalid("bucket", "%v", err)
	}
	if minio && c.Endpoint == "" {
		return c, invalid("endpoint", "required for the minio provider (for example http://127.0.0.1:9000)")
	}
	if c.Endpoint != "" {
		if err := checkEndpoint(c.Endpoint); err != nil {
			return c, invalid("endpoint", "%v", err)
		}
	}
	if c.PublicEndpoint != "" {
		if err := checkEndpoint(c.PublicEndpoint); err != nil {
			return c, invalid("public_endpoint", "%v", err)
		}
	}
	ipHost := ipEndpoint(c.PublicEndpoint) || (c.PublicEndpoint == "" && ipEndpoint(c.Endpoint))
	if c.PathStyle == nil {
		// bucket.127.0.0.1 is not a host, so IP endpoints default to path style.
		v := flexBool(minio || ipHost)
		c.PathStyle = &v
	}
	if !bool(*c.PathStyle) && ipHost {
		return c, invalid("path_style", "must be true when the endpoint is an IP address")
	}
	if !bool(*c.PathStyle) && !dnsBucket(c.Bucket) {
		return c, invalid("bucket", "%q cannot be used as a host name; set path_style: true", c.Bucket)
	}
	if c.Region == "" && c.Endpoint != "" {
		c.Region = "us-east-1"
	}

	var err error
	if c.AccessKeyID, err = inlineOrFile(c.AccessKeyID, c.AccessKeyIDFile, "access_key_id"); err != nil {
		return c, err
	}
	if c.SecretAccessKey, err = inlineOrFile(c.SecretAccessKey, c.SecretAccessKeyFile, "secret_access_key"); err != nil {
		return c, err
	}
	if c.SessionToken, err = inlineOrFile(c.SessionToken, c.SessionTokenFile, "session_token"); err != nil {
		return c, err
	}
	switch {
	case c.AccessKeyID != "" && c.SecretAccessKey == "":
		return c, invalid("secret_access_key", "required with access_key_id")
	case c.AccessKeyID == "" && c.SecretAccessKey != "":
		return c, invalid("access_key_id", "required with secret_access_key")
	case c.AccessKeyID == "" && c.SessionToken != "":
		return c, invalid("session_token", "needs access_key_id and secret_access_key")
	}
	return c, nil
}

func invalid(key, format string, args ...any) error {
	return &providers.Error{Code: providers.InvalidArgument, Message: "config." + key + ": " + fmt.Sprintf(format, args...)}
}

// inlineOrFile returns the inline value or the content of the file
// (providers.Secret), and rejects having both so that it is clear which
// one is used.
func inlineOrFile(inline, file, key string) (string, error) {
	if inline != "" && file != "" {
		return "", invalid(key, "set either %s or %s_file, not both", key, key)
	}
	v, err := providers.Secret{Key: key, Value: inline, File: file}.Resolve()
	return string(v), err
}

// checkEndpoint accepts an absolute http(s) URL with a host and an optional
// path prefix, and nothing else that would change how URLs are built.
func checkEndpoint(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("not a URL: %q", s)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: scheme must be http or https", s)
	}
	if u.Host == "" {
		return fmt.Errorf("%q: missing host", s)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q: must not contain credentials, a query or a fragment", s)
	}
	return nil
}

// ipEndpoint reports whether the endpoint's host is an IP address.
func ipEndpoint(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Host != "" && net.ParseIP(u.Hostname()) != nil
}

// checkBucket rejects names that cannot appear in a URL path segment.
// Provider-specific naming rules are left to the backend.
func checkBucket(b string) error {
	if len(b) > 255 {
		return fmt.Errorf("longer than 255 bytes")
	}
	for _, r := range b {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
		default:
			return fmt.Errorf("%q: only letters, digits, '.', '-' and '_' are allowed", b)
		}
	}
	return nil
}

// dnsBucket reports whether b can be the first label of a virtual-hosted
// host name: lower case, 3-63 characters, no dots (dots break TLS wildcard
// certificates) and no leading or trailing hyphen.
func dnsBucket(b string) bool {
	if len(b) < 3 || len(b) > 63 || b[0] == '-' || b[len(b)-1] == '-' {
		return false
	}
	for _, r := range b {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}
