package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/valetgw/valet/plugins"
	"github.com/valetgw/valet/plugins/host"
	"github.com/valetgw/valet/providers"
)

func newPluginCmd() *cobra.Command {
	var debug bool
	serve := &cobra.Command{
		Use:   "serve NAME",
		Short: "Run a built-in provider as a plugin process",
		Long: `Run a built-in provider as a plugin process. The gateway's plugin host starts
this command itself; it speaks the plugin handshake on stdout and is not
meant to be run by hand, except with --debug: then it serves until Ctrl-C
and prints the ` + plugins.ReattachEnv + ` setting that makes a gateway
attach to it (for example to run the provider under a debugger).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			newProvider, ok := builtins[args[0]]
			if !ok {
				return usageError{fmt.Errorf("no built-in provider %q (built-in: %v)", args[0], builtinNames())}
			}
			var opts []plugins.ServeOption
			if debug {
				opts = append(opts, plugins.WithDebug())
			}
			return plugins.Serve(newProvider(), opts...)
		},
	}
	serve.Flags().BoolVar(&debug, "debug", false, "serve without a gateway starting the process, for a gateway to attach to")
	return groupCmd("plugin", "Plugin process commands (used by the gateway)", serve)
}

// pluginEntry is one line of `valet plugins`.
type pluginEntry struct {
	Name    string    `json:"name"`
	BuiltIn bool      `json:"builtin"`
	Path    string    `json:"path,omitempty"`
	SHA256  string    `json:"sha256,omitempty"`
	Info    *infoJSON `json:"info,omitempty"`
	Error   string    `json:"error,omitempty"`
}

// ask fills e.Info with what info answers within d, or e.Error.
func (e *pluginEntry) ask(ctx context.Context, d time.Duration, info func(context.Context) (providers.Info, error)) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	i, err := info(ctx)
	if err != nil {
		e.Error = err.Error()
		return
	}
	e.Info = newInfoJSON(i)
}

// infoJSON is a provider's Info as `valet plugins --json` prints it: the
// snake_case names and units of GET /v1/stores' capabilities, plus what
// that API does not show (sign_*, binds_create_only, post_policy, cors,
// notes).
type infoJSON struct {
	Name         string   `json:"name"`
	Version      string   `json:"version"`
	Capabilities capsJSON `json:"capabilities"`
}

type capsJSON struct {
	SignPut                bool     `json:"sign_put"`
	SignGet                bool     `json:"sign_get"`
	SignDelete             bool     `json:"sign_delete"`
	Multipart              bool     `json:"multipart"`
	MultipartNeedsETags    bool     `json:"multipart_needs_etags"`
	MinPartSize            int64    `json:"min_part_size"`
	MaxPartSize            int64    `json:"max_part_size"`
	MaxParts               int      `json:"max_parts"`
	PartsBindContentLength bool     `json:"parts_bind_content_length"`
	BindsContentLength     bool     `json:"binds_content_length"`
	BindsContentType       bool     `json:"binds_content_type"`
	BindsChecksums         []string `json:"binds_checksums"`
	MultipartChecksums     []string `json:"multipart_checksums"`
	BindsCreateOnly        bool     `json:"binds_create_only"`
	GetOverrides           bool     `json:"get_overrides"`
	PostPolicy             bool     `json:"post_policy"`
	CORS                   bool     `json:"cors"`
	MaxExpirySeconds       int64    `json:"max_expiry_seconds"`
	Notes                  []string `json:"notes"`
}

func newInfoJSON(i providers.Info) *infoJSON {
	c := i.Capabilities
	notes := c.Notes
	if notes == nil {
		notes = []string{}
	}
	return &infoJSON{Name: i.Name, Version: i.Version, Capabilities: capsJSON{
		SignPut: c.SignPut, SignGet: c.SignGet, SignDelete: c.SignDelete,
		Multipart: c.Multipart, MultipartNeedsETags: c.MultipartNeedsETags,
		MinPartSize: c.MinPartSize, MaxPartSize: c.MaxPartSize, MaxParts: c.MaxParts,
		PartsBindContentLength: c.PartsBindContentLength,
		BindsContentLength:     c.BindsContentLength, BindsContentType: c.BindsContentType,
		BindsChecksums: strs(c.BindsChecksums), MultipartChecksums: strs(c.MultipartChecksums), BindsCreateOnly: c.BindsCreateOnly, GetOverrides: c.GetOverrides,
		PostPolicy: c.PostPolicy, CORS: c.CORS, MaxExpirySeconds: int64(c.MaxExpiry / time.Second), Notes: notes,
	}}
}

// strs converts string-typed values (checksum algorithms) to a list that
// encodes as [] when empty, never null.
func strs[S ~string](in []S) []string {
	out := make([]string, 0, len(in))
	for _, v := range in {
		out = append(out, string(v))
	}
	return out
}

func newPluginsCmd(g *globalFlags) *cobra.Command {
	var (
		asJSON bool
		dirs   []string
	)
	cmd := &cobra.Command{
		Use:   "plugins",
		Short: "List built-in and discovered plugins with their capabilities",
		Long: `List the built-in providers, with the Info each reports (version and
capabilities), and the external plugins (valet-plugin-NAME) found in the
plugin directories (--plugin-dir, and plugins.dirs from --config), with the
sha256 to pin them by. Each external plugin is started once, unconfigured,
to ask for its Info; one whose sha256 differs from its pin in plugins.pins
is listed with the error and not started. The exit status is 1 when an
external plugin fails its pin or does not start (a shadowed one is only
listed), so a CI script can check an installed plugin.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dirs, pins, err := pluginDirs(g, cmd, dirs)
			if err != nil {
				return err
			}
			var list []pluginEntry
			for _, name := range builtinNames() {
				e := pluginEntry{Name: name, BuiltIn: true}
				// Info may be called before Configure, and a built-in's code
				// is this binary's, so there is no need to start a process.
				e.ask(cmd.Context(), 10*time.Second, builtins[name]().Info)
				list = append(list, e)
			}
			found, discoverErr := host.Discover(dirs)
			var h *host.Host
			if len(found) > 0 {
				// Plugin output goes to stderr, errors only: the listing is
				// what the user asked for.
				h, err = host.New(host.Options{PluginDirs: dirs, Pins: pins,
					Logger: host.SlogLogger(slog.NewJSONHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelError}))})
				if err != nil {
					return err
				}
				defer h.Close()
			}
			var failed []string
			for _, f := range found {
				e := pluginEntry{Name: f.Name, Path: f.Path, SHA256: f.SHA256}
				switch {
				case f.Shadowed:
					e.Error = "shadowed by an earlier plugin directory"
				case builtins[f.Name] != nil:
					e.Error = "shadowed by the built-in provider of the same name"
				default:
					e.ask(cmd.Context(), 15*time.Second, func(ctx context.Context) (providers.Info, error) { return h.Info(ctx, f.Name) })
					if e.Error != "" {
						failed = append(failed, f.Name)
					}
				}
				list = append(list, e)
			}
			if discoverErr != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "valet: warning:", discoverErr)
			}
			out := cmd.OutOrStdout()
			// The listing is printed in full either way; a plugin that
			// failed its pin or its start fails the command after it.
			failure := func(err error) error {
				if err == nil && len(failed) > 0 {
					err = fmt.Errorf("%d plugin(s) failed their pin or did not start: %s", len(failed), strings.Join(failed, ", "))
				}
				return err
			}
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return failure(enc.Encode(list))
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tKIND\tVERSION\tCAPABILITIES\tSOURCE")
			for _, p := range list {
				kind, source := "built-in", "-"
				if !p.BuiltIn {
					kind, source = "external", p.Path+" sha256:"+p.SHA256
				}
				if p.Info != nil {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Name, kind, p.Info.Version, capSummary(p.Info.Capabilities), source)
				} else {
					fmt.Fprintf(tw, "%s\t%s\t-\terror: %s\t%s\n", p.Name, kind, p.Error, source)
				}
			}
			return failure(tw.Flush())
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().StringSliceVar(&dirs, "plugin-dir", nil, "directory to search for valet-plugin-NAME binaries (repeatable)")
	return cmd
}

// capSummary is a one-line digest of what a provider signs and binds.
func capSummary(c capsJSON) string {
	s := ""
	add := func(ok bool, name string) {
		if ok {
			if s != "" {
				s += ","
			}
			s += name
		}
	}
	add(c.SignPut, "put")
	add(c.SignGet, "get")
	add(c.SignDelete, "delete")
	add(c.Multipart, "multipart")
	add(c.BindsContentLength, "binds-length")
	add(c.BindsContentType, "binds-type")
	for _, a := range c.BindsChecksums {
		add(true, "binds-"+a)
	}
	for _, a := range c.MultipartChecksums {
		add(true, "multipart-"+a)
	}
	add(c.BindsCreateOnly, "create-only")
	add(c.GetOverrides, "get-overrides")
	if c.MaxExpirySeconds > 0 {
		s += " max-expiry=" + (time.Duration(c.MaxExpirySeconds) * time.Second).String()
	}
	return s
}
