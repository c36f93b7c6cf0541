package main

import (
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// globalFlags are shared by every command that reads the configuration.
type globalFlags struct {
	config string
}

func newRootCmd(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:   "valet",
		Short: "Valet: a storage gateway that hands out short-lived signed requests",
		Long: `Valet authenticates a caller, checks the store's policy and asks a provider
plugin to sign a short-lived request, so browsers upload and download bytes
directly to and from object storage. File bytes never pass through Valet.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	// pflag prints every bool flag as "--help[=true|false]"; show bool flags
	// as plain switches instead.
	cobra.AddTemplateFunc("flagUsages", flagUsages)
	tmpl := root.UsageTemplate()
	tmpl = strings.ReplaceAll(tmpl, ".LocalFlags.FlagUsages", "flagUsages .LocalFlags")
	tmpl = strings.ReplaceAll(tmpl, ".InheritedFlags.FlagUsages", "flagUsages .InheritedFlags")
	root.SetUsageTemplate(tmpl)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentFlags().StringVarP(&g.config, "config", "c", "", "config file (YAML); env VALET_* and flags are layered over it")

	root.AddCommand(
		newServeCmd(g),
		newConfigCmd(g),
		newHooksCmd(g),
		newPresignCmd(g),
		newDoctorCmd(g),
		newCORSCmd(g),
		newTokenCmd(g),
		newPluginCmd(),
		newPluginsCmd(g),
		newVersionCmd(),
	)
	return root
}

// groupCmd is a command that only holds subcommands: valet config, hooks
// and plugin.
func groupCmd(use, short string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs}
	cmd.AddCommand(subs...)
	return cmd
}

// flagUsages is fs.FlagUsages with bool flags written as switches
// ("--json", not "--json[=true|false]"). They still accept --json=false.
func flagUsages(fs *pflag.FlagSet) string {
	out := pflag.NewFlagSet(fs.Name(), pflag.ContinueOnError)
	out.SortFlags = fs.SortFlags
	fs.VisitAll(func(f *pflag.Flag) {
		c := *f
		if c.Value.Type() == "bool" {
			c.Value = plainBool{c.Value}
		}
		out.AddFlag(&c)
	})
	return out.FlagUsages()
}

// plainBool hides a bool flag's IsBoolFlag from pflag's usage printer; its
// NoOptDefVal ("true") is kept, so the usage line shows no argument.
type plainBool struct{ pflag.Value }
