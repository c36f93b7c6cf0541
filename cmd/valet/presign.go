package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/valetgw/valet/core/keys"
	"github.com/valetgw/valet/providers"
)

// recipeJSON is the printed form of a signed request, the same shape as the
// API's upload slot.
type recipeJSON struct {
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	ExpiresAt time.Time         `json:"expires_at"`
}

func newPresignCmd(g *globalFlags) *cobra.Command {
	var (
		store, method, key, ctype, checksum, disposition string
		size                                             int64
		ttl                                              time.Duration
		asJSON                                           bool
	)
	cmd := &cobra.Command{
		Use:   "presign --store NAME --method GET|PUT|DELETE --key KEY",
		Short: "Sign one GET, PUT or DELETE for a store and key (operator one-offs)",
		Long: `Sign one request through the store's provider plugin, without the HTTP API,
its auth or its policy: this is an operator tool, and whoever can read the
config can do this anyway. The key is used verbatim.

Prints the URL for a GET, and a curl command for a PUT or DELETE (the
headers the storage expects are part of the signature). --json prints the
recipe: method, url, headers, expires_at.

--ttl is clamped as the API clamps a client's ttl: to the store's
limits.max_ttl (default 1h) and to the provider's maximum expiry (7 days
for S3 SigV4). The expiry actually signed is printed on stderr, with a note
when --ttl was clamped.

The command starts the store's plugin for the time it takes to sign. A local
store's plugin needs its listener port, so while a gateway serves the same
config give this one another port, e.g.
VALET_STORES__DEMO__CONFIG__LISTEN=127.0.0.1:0; URLs still point at
public_url, which the running gateway serves.`,
		Example: `  valet presign -c valet.yaml --store media --method GET --key users/alice/cat.jpg --ttl 10m
  valet presign -c valet.yaml --store media --method PUT --key imports/a.bin --size 1048576 --content-type application/octet-stream`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			method = strings.ToUpper(method)
			if store == "" || key == "" {
				return usageError{fmt.Errorf("--store and --key are required")}
			}
			if ttl <= 0 {
				return usageError{fmt.Errorf("--ttl must be positive")}
			}
			if method == "PUT" && !cmd.Flags().Changed("size") {
				return usageError{fmt.Errorf("--size is required for PUT: the exact byte count the signature binds")}
			}
			if method == "PUT" && size < 0 {
				return usageError{fmt.Errorf("--size must not be negative")}
			}
			if err := validKey(key); err != nil {
				return usageError{err}
			}
			cfg, err := loadConfig(g, cmd)
			if err != nil {
				return err
			}
			h, err := newHost(cfg, cmd.ErrOrStderr(), nil)
			if err != nil {
				return err
			}
			defer h.Close()
			ctx := cmd.Context()
			p, err := startStore(ctx, h, cfg, store)
			if err != nil {
				return err
			}
			info, err := p.Info(ctx)
			if err != nil {
				return fmt.Errorf("stores.%s: provider info: %w", store, err)
			}
			asked := ttl
			var by string
			ttl, by = clampTTL(ttl, cfg.Stores[store].Limits.MaxTTL, info.Capabilities.MaxExpiry, store)
			var r providers.Recipe
			switch method {
			case "GET":
				r, err = p.SignGet(ctx, providers.GetRequest{Key: key, TTL: ttl, ResponseContentDisposition: disposition})
			case "PUT":
				req := providers.PutRequest{Key: key, ContentType: ctype, Size: size, TTL: ttl}
				if checksum != "" {
					req.Checksum = &providers.Checksum{Algorithm: providers.SHA256, Value: checksum}
				}
				r, err = p.SignPut(ctx, req)
			case "DELETE":
				r, err = p.SignDelete(ctx, providers.SignDeleteRequest{Key: key, TTL: ttl})
			default:
				return usageError{fmt.Errorf("--method %q: want GET, PUT or DELETE", method)}
			}
			if err != nil {
				return fmt.Errorf("stores.%s: sign %s: %w", store, method, err)
			}
			if by != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "valet: --ttl %s clamped to %s by %s\n", asked, ttl, by)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "valet: expires at %s (in %s)\n", r.ExpiresAt.UTC().Format(time.RFC3339), ttl)
			out := cmd.OutOrStdout()
			if asJSON {
				if r.Headers == nil {
					r.Headers = map[string]string{}
				}
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				enc.SetEscapeHTML(false)
				return enc.Encode(recipeJSON{Method: r.Method, URL: r.URL, Headers: r.Headers, ExpiresAt: r.ExpiresAt.UTC()})
			}
			if r.Method == "GET" && len(r.Headers) == 0 {
				_, err = fmt.Fprintln(out, r.URL)
				return err
			}
			_, err = fmt.Fprintln(out, curlCommand(r))
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&store, "store", "", "store name (stores.NAME in the config)")
	f.StringVar(&method, "method", "GET", "GET, PUT or DELETE")
	f.StringVar(&key, "key", "", "object key, used verbatim")
	f.StringVar(&ctype, "content-type", "application/octet-stream", "PUT: the content type to bind")
	f.Int64Var(&size, "size", 0, "PUT (required): the exact size in bytes")
	f.StringVar(&checksum, "checksum-sha256", "", "PUT: base64 SHA-256 of the content, where the provider binds it")
	f.StringVar(&disposition, "disposition", "", "GET: a Content-Disposition for the response")
	f.DurationVar(&ttl, "ttl", 15*time.Minute, "how long the signature is valid, at most the store's limits.max_ttl and the provider's maximum expiry")
	f.BoolVar(&asJSON, "json", false, "print the recipe as JSON")
	return cmd
}

// clampTTL bounds ttl as the API bounds a client's: by the store's
// limits.max_ttl, then the provider's MaxExpiry (0 = none). by names what
// clamped it, "" when nothing did.
func clampTTL(ttl, maxTTL, maxExpiry time.Duration, store string) (time.Duration, string) {
	by := ""
	if maxTTL > 0 && ttl > maxTTL {
		ttl, by = maxTTL, "stores."+store+".limits.max_ttl"
	}
	if maxExpiry > 0 && ttl > maxExpiry {
		ttl, by = maxExpiry, "the provider's maximum expiry"
	}
	return ttl, by
}

// validKey applies the key rules the gateway enforces everywhere
// (core/keys), naming the flag.
func validKey(key string) error {
	if err := keys.Validate(key); err != nil {
		return fmt.Errorf("--key %q: %w", key, err)
	}
	return nil
}

// curlCommand renders a recipe as a shell command, single-quoted.
func curlCommand(r providers.Recipe) string {
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	var b strings.Builder
	b.WriteString("curl -X " + r.Method)
	keys := make([]string, 0, len(r.Headers))
	for k := range r.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.EqualFold(k, "Content-Length") {
			continue // curl sends the file's length
		}
		b.WriteString(" -H " + q(k+": "+r.Headers[k]))
	}
	if r.Method == "PUT" {
		b.WriteString(" --upload-file FILE")
	}
	b.WriteString(" " + q(r.URL))
	return b.String()
}
