package main

import (
	"slices"

	"github.com/spf13/cobra"
)

// pluginDirs returns the directories `valet plugins` searches and the pins
// it checks: with a config, plugins.dirs (which --plugin-dir overrides) and
// plugins.pins, else --plugin-dir and no pins.
func pluginDirs(g *globalFlags, cmd *cobra.Command, flagDirs []string) ([]string, map[string]string, error) {
	if g.config == "" {
		return flagDirs, nil, nil
	}
	cfg, err := loadConfig(g, cmd)
	if err != nil {
		return nil, nil, err
	}
	return cfg.Plugins.Dirs, cfg.Plugins.Pins, nil
}

func builtinNames() []string { return sortedKeys(builtins) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
