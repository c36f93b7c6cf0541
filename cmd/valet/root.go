package main

import (
	"io"

	"github.com/spf13/cobra"
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
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentFlags().StringVarP(&g.config, "config", "c", "", "config file (YAML); env VALET_* and flags are layered over it")

	root.AddCommand(
		newServeCmd(g),
		newConfigCmd(g),
		newPresignCmd(g),
		newTokenCmd(g),
		newPluginCmd(),
		newPluginsCmd(g),
		newVersionCmd(),
	)
	return root
}
