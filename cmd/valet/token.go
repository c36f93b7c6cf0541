package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/valetgw/valet/core"
)

func newTokenCmd(g *globalFlags) *cobra.Command {
	var (
		subject string
		claims  []string
		ttl     time.Duration
	)
	cmd := &cobra.Command{
		Use:   "token --subject NAME",
		Short: "Mint a development JWT that this config's gateway accepts",
		Long: `Mint an HS256 JWT signed with auth.jwt.hs256_secret, carrying the configured
issuer and audience, and print it. For development and tests: production
tokens come from your identity provider.

--claim k=v adds a claim; a value that parses as JSON (true, 42, ["a","b"],
{"x":1}) is used as such, anything else is a string.`,
		Example: `  valet token -c examples/local.yaml --subject dev
  valet token -c valet.yaml --subject alice --claim role=editor --claim 'groups=["a","b"]' --ttl 1h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if subject == "" {
				return usageError{fmt.Errorf("--subject is required")}
			}
			if ttl <= 0 {
				return usageError{fmt.Errorf("--ttl must be positive")}
			}
			cl, err := parseClaims(claims)
			if err != nil {
				return usageError{err}
			}
			cfg, err := loadConfig(g, cmd)
			if err != nil {
				return err
			}
			if len(cfg.Auth.JWT.HS256Keys()) == 0 {
				return fmt.Errorf("auth.jwt.hs256_secret: not set; `valet token` mints HS256 tokens only")
			}
			tok, err := core.MintDevToken(cfg, subject, cl, ttl)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), tok)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&subject, "subject", "", "the token's subject (sub)")
	f.StringArrayVar(&claims, "claim", nil, "extra claim as key=value (repeatable)")
	f.DurationVar(&ttl, "ttl", time.Hour, "lifetime")
	return cmd
}

// parseClaims turns k=v pairs into claims; values that are valid JSON keep
// their type.
func parseClaims(pairs []string) (map[string]any, error) {
	out := map[string]any{}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--claim %q: want key=value", p)
		}
		var x any
		if err := json.Unmarshal([]byte(v), &x); err == nil {
			out[k] = x
		} else {
			out[k] = v
		}
	}
	return out, nil
}
