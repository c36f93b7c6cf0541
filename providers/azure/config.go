package azure

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"regexp"
	"strings"

	"github.com/valetgw/valet/providers"
)

// Credential modes.
const (
	// CredentialAccountKey signs service SAS with the storage account's
	// shared key.
	CredentialAccountKey = "account_key"
	// CredentialAzureAD obtains a user delegation key through
	// azidentity.DefaultAzureCredential (managed identity, workload
	// identity, environment, Azure CLI) and signs user delegation SAS.
	CredentialAzureAD = "azure_ad"
)

// Config is one store's settings (stores.NAME.config), decoded strictly.
type Config struct {
	// AccountName is the storage account, e.g. "mystorage".
	AccountName string `json:"account_name"`
	// AccountKey is the base64 shared key; AccountKeyFile names a file
	// holding it. Exactly one is required in account_key mode.
	AccountKey     string `json:"account_key"`
	AccountKeyFile string `json:"account_key_file"`
	// Endpoint is the blob service URL. Default:
	// https://ACCOUNT.blob.core.windows.net. For Azurite it is path-style:
	// http://127.0.0.1:10000/devstoreaccount1.
	Endpoint  string `json:"endpoint"`
	Container string `json:"container"`
	// HTTPSOnly signs spr=https (default true). An http endpoint needs
	// false, which signs spr=https,http.
	HTTPSOnly *bool `json:"https_only"`
	// Credential is account_key (default) or azure_ad.
	Credential string `json:"credential"`
	// TenantID optionally pins the Entra tenant for azure_ad.
	TenantID string `json:"tenant_id"`
}

// settings is a validated Config.
type settings struct {
	account    string
	key        []byte // decoded shared key; nil in azure_ad mode
	keyB64     string
	serviceURL string // no trailing slash
	container  string
	httpsOnly  bool
	credential string
	tenantID   string
}

// Container names: 3-63 chars, lower-case letters, digits and single
// hyphens, starting and ending with a letter or digit.
var containerName = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9]|-[a-z0-9]){2,62}$`)

// Account names: 3-24 lower-case letters and digits (devstoreaccount1 fits).
var accountName = regexp.MustCompile(`^[a-z0-9]{3,24}$`)

func invalid(format string, args ...any) error {
	return providers.Errorf(providers.InvalidArgument, format, args...)
}

// parseConfig decodes and validates raw. Errors name the offending key and
// never echo a secret.
func parseConfig(raw json.RawMessage) (settings, error) {
	var c Config
	if err := providers.DecodeConfig(raw, &c); err != nil {
		return settings{}, err
	}

	s := settings{
		account:    c.AccountName,
		container:  c.Container,
		httpsOnly:  c.HTTPSOnly == nil || *c.HTTPSOnly,
		credential: c.Credential,
		tenantID:   c.TenantID,
	}
	if s.credential == "" {
		s.credential = CredentialAccountKey
	}
	switch {
	case s.account == "":
		return settings{}, invalid("config.account_name: required")
	case !accountName.MatchString(s.account):
		return settings{}, invalid("config.account_name: %q is not a storage account name (3-24 lower-case letters and digits)", s.account)
	case s.container == "":
		return settings{}, invalid("config.container: required")
	case !containerName.MatchString(s.container):
		return settings{}, invalid("config.container: %q is not a container name (3-63 lower-case letters, digits, single hyphens)", s.container)
	}

	switch s.credential {
	case CredentialAccountKey:
		if c.TenantID != "" {
			return settings{}, invalid("config.tenant_id: only used with credential: azure_ad")
		}
		if c.AccountKey != "" && c.AccountKeyFile != "" {
			return settings{}, invalid("config.account_key_file: give account_key or account_key_file, not both")
		}
		key, err := providers.Secret{Key: "account_key", Value: c.AccountKey, File: c.AccountKeyFile}.Resolve()
		if err != nil {
			return settings{}, err
		}
		if key == nil {
			return settings{}, invalid("config.account_key: required with credential: account_key (or account_key_file)")
		}
		dk, err := base64.StdEncoding.DecodeString(string(key))
		if err != nil || len(dk) == 0 {
			return settings{}, invalid("config.account_key: not a base64 storage account key")
		}
		s.key, s.keyB64 = dk, string(key)
	case CredentialAzureAD:
		if c.AccountKey != "" || c.AccountKeyFile != "" {
			return settings{}, invalid("config.account_key: not used with credential: azure_ad; remove it")
		}
	default:
		return settings{}, invalid("config.credential: %q is not one of account_key, azure_ad", c.Credential)
	}

	ep := c.Endpoint
	if ep == "" {
		ep = "https://" + s.account + ".blob.core.windows.net"
	}
	u, err := url.Parse(ep)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return settings{}, invalid("config.endpoint: %q is not an http(s) service URL like https://ACCOUNT.blob.core.windows.net", ep)
	}
	if u.Scheme == "http" && s.httpsOnly {
		// An spr=https SAS sent over http is refused (AuthorizationProtocolMismatch).
		return settings{}, invalid("config.https_only: the endpoint %s is http, so signed URLs would be refused; use https or set https_only: false (emulators only)", ep)
	}
	if s.credential == CredentialAzureAD {
		// The SDK derives the account of a user delegation key from the
		// first DNS label of the host, so path-style endpoints cannot work.
		if first, _, _ := strings.Cut(u.Hostname(), "."); first != s.account {
			return settings{}, invalid("config.endpoint: credential azure_ad needs a host-style endpoint whose host starts with %q (https://%s.blob.core.windows.net)", s.account, s.account)
		}
		if u.Scheme != "https" {
			return settings{}, invalid("config.endpoint: credential azure_ad needs https (bearer tokens are never sent over http)")
		}
	}
	s.serviceURL = strings.TrimRight(u.String(), "/")
	return s, nil
}
