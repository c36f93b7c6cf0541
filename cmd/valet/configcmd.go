package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/valetgw/valet/config"
	"github.com/valetgw/valet/core"
	"github.com/valetgw/valet/core/auth"
	"github.com/valetgw/valet/plugins/host"
)

func newConfigCmd(g *globalFlags) *cobra.Command {
	check := &cobra.Command{
		Use:   "check",
		Short: "Load and validate the configuration, then print it with secrets as ***",
		Long: `Load the configuration exactly as serve would (defaults < --config file <
VALET_* environment < flags), validate it (unknown keys, sizes, durations,
policy rules, key templates, secrets, the JWKS file, and with a JWKS the
auth.jwt.audience and auth.jwt.issuer it needs unless auth.jwt.any_audience
or auth.jwt.any_issuer is true), check each store's provider (a built-in, or
a plugin found in plugins.dirs) and hand it its config, as serve does, and
print the result as YAML with every secret replaced by ***, including the
user, password, query values and fragment of any URL. A problem is reported
with its key, for example stores.media.rules.read, and a non-zero exit.

A local store's plugin binds its listen address; when a running gateway
holds it, that check is skipped with a note.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(g, cmd)
			if err != nil {
				return redactedError{err}
			}
			if j := cfg.Auth.JWT; j.UsesJWKS() {
				if j.AnyAudience {
					fmt.Fprintln(cmd.ErrOrStderr(), "valet: warning: auth.jwt.any_audience is true: JWKS-signed tokens are accepted whatever their aud, including tokens the identity provider minted for other applications")
				}
				if j.AnyIssuer {
					fmt.Fprintln(cmd.ErrOrStderr(), "valet: warning: auth.jwt.any_issuer is true: JWKS-signed tokens are accepted whatever their iss")
				}
			}
			for _, w := range cfg.Warnings() {
				fmt.Fprintln(cmd.ErrOrStderr(), "valet: warning:", w)
			}
			var errs []error
			// The authenticator as serve builds it, less the JWKS URL, which
			// it fetches in the background and never fails on.
			ac := cfg.Auth
			ac.JWT.JWKSURL = ""
			if _, err := auth.New(core.AuthConfig(ac), auth.Options{}); err != nil {
				errs = append(errs, err)
			}
			bindsAll, perrs := checkProviders(cmd.Context(), cfg, cmd.ErrOrStderr())
			errs = append(errs, perrs...)
			if len(errs) > 0 {
				// A provider's error may quote a URL from its config.
				return redactedError{errors.Join(errs...)}
			}
			out, err := cfg.RedactedFor(bindsAll)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	addServerFlags(check)
	return groupCmd("config", "Configuration commands", check)
}

// redactedError hides the credentials of any URL its error quotes, as the
// printed config does (see config.RedactURL).
type redactedError struct{ err error }

func (e redactedError) Error() string { return config.RedactURLsIn(e.err.Error()) }
func (e redactedError) Unwrap() error { return e.err }

// checkProviders starts every store's plugin and configures it, as serve
// does, then stops them. It returns, per store it could ask, whether the
// provider binds Content-Length and Content-Type (for the effective
// delete_on_mismatch), and one error per store that serve would refuse.
func checkProviders(ctx context.Context, cfg *config.Config, stderr io.Writer) (map[string]bool, []error) {
	known := map[string]bool{}
	for _, n := range builtinNames() {
		known[n] = true
	}
	var external []string
	found, derr := host.Discover(cfg.Plugins.Dirs)
	for _, f := range found {
		if !f.Shadowed {
			known[f.Name] = true
			external = append(external, f.Name)
		}
	}
	if derr != nil {
		fmt.Fprintln(stderr, "valet: warning:", derr)
	}
	var errs []error
	bindsAll := map[string]bool{}
	h, err := newHost(cfg, stderr, nil)
	if err != nil {
		return nil, []error{err}
	}
	defer h.Close()
	for _, name := range sortedKeys(cfg.Stores) {
		sc := cfg.Stores[name]
		if !known[sc.Provider] {
			plugins := "none"
			if len(external) > 0 {
				plugins = strings.Join(external, ", ")
			}
			errs = append(errs, fmt.Errorf("stores.%s.provider: unknown provider %q (built-in: %s; plugins in plugins.dirs: %s)",
				name, sc.Provider, strings.Join(builtinNames(), ", "), plugins))
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		p, err := startStore(sctx, h, cfg, name)
		if err == nil {
			info, ierr := p.Info(sctx)
			if ierr == nil {
				bindsAll[name] = info.Capabilities.BindsContentLength && info.Capabilities.BindsContentType
			}
			_ = p.Close()
		}
		cancel()
		switch {
		case err == nil:
		case portInUse(err):
			// The config was decoded and accepted up to binding the
			// listener, which a running gateway holds.
			fmt.Fprintf(stderr, "valet: note: stores.%s: provider %q accepted its config but not its listen address, which is in use (by a running gateway?)\n", name, sc.Provider)
			if newProvider, ok := builtins[sc.Provider]; ok {
				if info, err := newProvider().Info(ctx); err == nil {
					bindsAll[name] = info.Capabilities.BindsContentLength && info.Capabilities.BindsContentType
				}
			}
		default:
			errs = append(errs, err)
		}
	}
	return bindsAll, errs
}
