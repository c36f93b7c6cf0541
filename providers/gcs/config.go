package gcs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/valetgw/valet/providers"
)

// config is a store's provider configuration (stores.NAME.config). It is
// decoded strictly: an unknown key is an error naming that key.
type config struct {
	// Bucket is the bucket every key lives in. Required.
	Bucket string `json:"bucket"`

	// Signer picks how URLs are signed: "key" (service-account key, the
	// default), "iam" (IAM signBlob with Application Default Credentials)
	// or "hmac" (an HMAC key).
	Signer string `json:"signer"`

	// Credentials is a service-account key, inline: the JSON object itself
	// or a string holding it. CredentialsFile is a path to one. With
	// neither, the key signer reads the file named by
	// GOOGLE_APPLICATION_CREDENTIALS. For the hmac signer they are optional
	// and only authenticate the JSON API calls (otherwise ADC does).
	Credentials     json.RawMessage `json:"credentials"`
	CredentialsFile string          `json:"credentials_file"`

	// GoogleAccessID is the service account email the iam signer signs as.
	GoogleAccessID string `json:"google_access_id"`
	// IAMEndpoint overrides the IAM credentials API endpoint (private
	// service connect, or a local stand-in in tests).
	IAMEndpoint string `json:"iam_endpoint"`

	// HMACAccessID and the secret (inline Secret or SecretFile) are the
	// HMAC key of the hmac signer.
	HMACAccessID string `json:"hmac_access_id"`
	Secret       string `json:"secret"`
	SecretFile   string `json:"secret_file"`

	// Endpoint overrides the JSON API endpoint, e.g.
	// http://127.0.0.1:4443/storage/v1/ for fake-gcs-server.
	Endpoint string `json:"endpoint"`
	// WithoutAuthentication makes the JSON API and IAM calls without any
	// credentials. Only for emulators.
	WithoutAuthentication bool `json:"without_authentication"`

	// SigningHost is the host (and port) signed URLs point at; default
	// storage.googleapis.com. SigningScheme is "https" (default) or "http".
	// URLStyle is "path" (default), "virtual_hosted" or "bucket_bound" (the
	// signing host is a CNAME for the bucket).
	SigningHost   string `json:"signing_host"`
	SigningScheme string `json:"signing_scheme"`
	URLStyle      string `json:"url_style"`

	// PartsPrefix is the reserved prefix of multipart temporaries; default
	// ".valet-parts/". Keys under it must not be handed out to clients.
	PartsPrefix string `json:"parts_prefix"`
	// SweepAfter is how long an unfinished multipart upload may go without
	// a new part before the opportunistic sweep removes its temporaries
	// ("0" disables it); default 24h.
	SweepAfter string `json:"sweep_after"`
}

// settings is a validated config with secrets loaded.
type settings struct {
	config
	credsJSON  []byte // service-account key JSON, if any
	hmacSecret string
	style      urlStyle
	sweepAfter time.Duration
}

// serviceAccount is the part of a key file the key signer needs.
type serviceAccount struct {
	Type        string `json:"type"`
	ClientEmail string `json:"client_email"`
	PrivateKey  string `json:"private_key"`
}

var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$`)

func invalid(format string, args ...any) error {
	return providers.Errorf(providers.InvalidArgument, "config."+format, args...)
}

// parseConfig decodes and validates raw, reading credential files.
func parseConfig(raw json.RawMessage) (*settings, error) {
	var c config
	if err := providers.DecodeConfig(raw, &c); err != nil {
		return nil, err
	}
	s := &settings{config: c}

	if c.Bucket == "" {
		return nil, invalid("bucket: required")
	}
	if !bucketName.MatchString(c.Bucket) || strings.Contains(c.Bucket, "..") {
		return nil, invalid("bucket: %q is not a valid bucket name", c.Bucket)
	}

	switch c.SigningScheme {
	case "", "https", "http":
	default:
		return nil, invalid("signing_scheme: want https or http, got %q", c.SigningScheme)
	}
	if strings.Contains(c.SigningHost, "/") {
		return nil, invalid("signing_host: want a host[:port] without scheme or path, got %q", c.SigningHost)
	}
	switch c.URLStyle {
	case "", "path":
		s.style = stylePath
	case "virtual_hosted":
		s.style = styleVirtualHosted
	case "bucket_bound":
		if c.SigningHost == "" {
			return nil, invalid("signing_host: required with url_style bucket_bound")
		}
		s.style = styleBucketBound
	default:
		return nil, invalid("url_style: want path, virtual_hosted or bucket_bound, got %q", c.URLStyle)
	}
	if c.Endpoint != "" && !strings.HasPrefix(c.Endpoint, "http://") && !strings.HasPrefix(c.Endpoint, "https://") {
		return nil, invalid("endpoint: want an http(s) URL, got %q", c.Endpoint)
	}
	if c.PartsPrefix == "" {
		s.PartsPrefix = ".valet-parts/"
	} else if !strings.HasSuffix(c.PartsPrefix, "/") || strings.HasPrefix(c.PartsPrefix, "/") {
		return nil, invalid("parts_prefix: must end with / and not start with it, got %q", c.PartsPrefix)
	}
	s.sweepAfter = 24 * time.Hour
	if c.SweepAfter != "" {
		d, err := time.ParseDuration(c.SweepAfter)
		if err != nil || d < 0 {
			return nil, invalid("sweep_after: want a duration such as 24h, got %q", c.SweepAfter)
		}
		s.sweepAfter = d
	}

	creds, err := loadCredentials(c)
	if err != nil {
		return nil, err
	}
	s.credsJSON = creds

	switch c.Signer {
	case "", "key":
		s.Signer = "key"
		if s.credsJSON == nil {
			p := os.Getenv("GOOGLE_APPLICATION_CREDENTIALS")
			if p == "" {
				return nil, invalid("credentials: the key signer needs credentials, credentials_file or GOOGLE_APPLICATION_CREDENTIALS")
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, invalid("credentials: reading GOOGLE_APPLICATION_CREDENTIALS: %v", err)
			}
			s.credsJSON = b
		}
		if _, err := parseServiceAccount(s.credsJSON); err != nil {
			return nil, err
		}
		if c.GoogleAccessID != "" || c.HMACAccessID != "" || c.Secret != "" || c.SecretFile != "" {
			return nil, invalid("signer: google_access_id, hmac_access_id and secret do not apply to the key signer")
		}
	case "iam":
		if c.GoogleAccessID == "" {
			return nil, invalid("google_access_id: required with signer iam (the service account email to sign as)")
		}
		if !strings.Contains(c.GoogleAccessID, "@") {
			return nil, invalid("google_access_id: want a service account email, got %q", c.GoogleAccessID)
		}
		if c.HMACAccessID != "" || c.Secret != "" || c.SecretFile != "" {
			return nil, invalid("signer: hmac_access_id and secret do not apply to the iam signer")
		}
	case "hmac":
		if c.HMACAccessID == "" {
			return nil, invalid("hmac_access_id: required with signer hmac")
		}
		if c.Secret != "" && c.SecretFile != "" {
			return nil, invalid("secret: give secret or secret_file, not both")
		}
		secret, err := providers.Secret{Key: "secret", Value: c.Secret, File: c.SecretFile}.Resolve()
		if err != nil {
			return nil, err
		}
		s.hmacSecret = string(secret)
		if s.hmacSecret == "" {
			return nil, invalid("secret: required with signer hmac (or secret_file)")
		}
		if c.GoogleAccessID != "" {
			return nil, invalid("google_access_id: does not apply to the hmac signer")
		}
	default:
		return nil, invalid("signer: want key, iam or hmac, got %q", c.Signer)
	}
	return s, nil
}

// loadCredentials returns the inline or file service-account JSON, or nil.
func loadCredentials(c config) ([]byte, error) {
	inline := bytes.TrimSpace(c.Credentials)
	if len(inline) > 0 && !bytes.Equal(inline, []byte("null")) {
		if c.CredentialsFile != "" {
			return nil, invalid("credentials: give credentials or credentials_file, not both")
		}
		if inline[0] == '"' {
			var s string
			if err := json.Unmarshal(inline, &s); err != nil {
				return nil, invalid("credentials: %v", err)
			}
			return []byte(s), nil
		}
		if inline[0] != '{' {
			return nil, invalid("credentials: want a service-account key JSON object or string")
		}
		return inline, nil
	}
	if c.CredentialsFile != "" {
		b, err := os.ReadFile(c.CredentialsFile)
		if err != nil {
			return nil, invalid("credentials_file: %v", err)
		}
		return b, nil
	}
	return nil, nil
}

// parseServiceAccount checks that b is a service-account key with an email
// and a private key. Errors never quote the key.
func parseServiceAccount(b []byte) (serviceAccount, error) {
	var sa serviceAccount
	if err := json.Unmarshal(b, &sa); err != nil {
		return sa, invalid("credentials: not a JSON service-account key: %s", jsonErrorKind(err))
	}
	if sa.Type != "" && sa.Type != "service_account" {
		return sa, invalid("credentials: type %q cannot sign URLs; use a service_account key, or signer iam", sa.Type)
	}
	if sa.ClientEmail == "" {
		return sa, invalid("credentials: client_email missing")
	}
	if sa.PrivateKey == "" {
		return sa, invalid("credentials: private_key missing")
	}
	return sa, nil
}

// jsonErrorKind describes a JSON error without echoing input bytes.
func jsonErrorKind(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at offset %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %s has the wrong type", te.Field)
	}
	return "invalid JSON"
}
