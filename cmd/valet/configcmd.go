package main

import (
	"github.com/spf13/cobra"
)

func newConfigCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Configuration commands",
		Args:  cobra.NoArgs,
	}
	check := &cobra.Command{
		Use:   "check",
		Short: "Load and validate the configuration, then print it with secrets as ***",
		Long: `Load the configuration exactly as serve would (defaults < --config file <
VALET_* environment < flags), validate it (unknown keys, sizes, durations,
policy rules, key templates, secrets), and print the result as YAML with
every secret replaced by ***. A problem is reported with its key, for
example stores.media.rules.read, and a non-zero exit.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(g, cmd)
			if err != nil {
				return err
			}
			out, err := cfg.Redacted()
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	addServerFlags(check)
	cmd.AddCommand(check)
	return cmd
}
