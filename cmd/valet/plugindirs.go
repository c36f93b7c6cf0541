package main

import (
	"slices"

	"github.com/spf13/cobra"
)

// pluginDirs returns the directories `valet plugins` searches.
func pluginDirs(_ *globalFlags, _ *cobra.Command, flagDirs []string) ([]string, error) {
	return flagDirs, nil
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
