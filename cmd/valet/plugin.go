package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/valetgw/valet/plugins"
	"github.com/valetgw/valet/plugins/host"
	"github.com/valetgw/valet/providers"
)

func newPluginCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plugin",
		Short: "Plugin process commands (used by the gateway)",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "serve NAME",
		Short: "Run a built-in provider as a plugin process",
		Long: `Run a built-in provider as a plugin process. The gateway's plugin host starts
this command itself; it speaks the plugin handshake on stdout and is not
meant to be run by hand.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			newProvider, ok := builtins[args[0]]
			if !ok {
				return usageError{fmt.Errorf("no built-in provider %q (built-in: %v)", args[0], builtinNames())}
			}
			plugins.Serve(newProvider())
			return nil
		},
	})
	return cmd
}

// pluginEntry is one line of `valet plugins`.
type pluginEntry struct {
	Name    string          `json:"name"`
	BuiltIn bool            `json:"builtin"`
	Path    string          `json:"path,omitempty"`
	SHA256  string          `json:"sha256,omitempty"`
	Info    *providers.Info `json:"info,omitempty"`
	Error   string          `json:"error,omitempty"`
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
sha256 to pin them by.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dirs, err := pluginDirs(g, cmd, dirs)
			if err != nil {
				return err
			}
			var list []pluginEntry
			for _, name := range builtinNames() {
				e := pluginEntry{Name: name, BuiltIn: true}
				// Info may be called before Configure, and a built-in's code
				// is this binary's, so there is no need to start a process.
				ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
				info, err := builtins[name]().Info(ctx)
				cancel()
				if err != nil {
					e.Error = err.Error()
				} else {
					e.Info = &info
				}
				list = append(list, e)
			}
			found, err := host.Discover(dirs)
			for _, f := range found {
				e := pluginEntry{Name: f.Name, Path: f.Path, SHA256: f.SHA256}
				if f.Shadowed {
					e.Error = "shadowed by an earlier plugin directory"
				}
				list = append(list, e)
			}
			if err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "valet: warning:", err)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(list)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tKIND\tVERSION\tCAPABILITIES")
			for _, p := range list {
				switch {
				case p.Info != nil:
					fmt.Fprintf(tw, "%s\tbuilt-in\t%s\t%s\n", p.Name, p.Info.Version, capSummary(p.Info.Capabilities))
				case p.BuiltIn:
					fmt.Fprintf(tw, "%s\tbuilt-in\t-\terror: %s\n", p.Name, p.Error)
				default:
					fmt.Fprintf(tw, "%s\t%s\t-\tsha256:%s %s\n", p.Name, p.Path, p.SHA256, p.Error)
				}
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().StringSliceVar(&dirs, "plugin-dir", nil, "directory to search for valet-plugin-NAME binaries (repeatable)")
	return cmd
}

// capSummary is a one-line digest of what a provider signs and binds.
func capSummary(c providers.Capabilities) string {
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
		add(true, "binds-"+string(a))
	}
	add(c.BindsCreateOnly, "create-only")
	add(c.GetOverrides, "get-overrides")
	if c.MaxExpiry > 0 {
		s += " max-expiry=" + c.MaxExpiry.String()
	}
	return s
}
