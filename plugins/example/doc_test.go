package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/valetgw/valet/internal/testenv"
)

// TestAuthorGuideShowsCompiledCode keeps docs/plugin-authors.md honest:
// every Go block in it must be a verbatim part of a file this package
// compiles and runs, one block must be the whole of main.go and one the
// whole of conformance_test.go (e2e TestPluginAuthorGuide builds a plugin
// module of its own from those two).
func TestAuthorGuideShowsCompiledCode(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "plugin-authors.md"))
	if err != nil {
		t.Fatal(err)
	}
	var sources []string
	for _, f := range []string{"main.go", "conformance_test.go"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, string(b))
	}
	blocks := testenv.Fenced(string(doc), "go")
	if len(blocks) < 3 {
		t.Fatalf("found %d Go blocks in the guide, want at least 3", len(blocks))
	}
	whole := make([]bool, len(sources))
	for i, b := range blocks {
		for j, src := range sources {
			if b == strings.TrimRight(src, "\n") {
				whole[j] = true
			}
		}
		found := false
		for _, src := range sources {
			if strings.Contains(src, b) {
				found = true
			}
		}
		if !found {
			first, _, _ := strings.Cut(b, "\n")
			t.Errorf("Go block %d (starting %q) is not verbatim in plugins/example/main.go or conformance_test.go", i+1, first)
		}
	}
	for j, f := range []string{"main.go", "conformance_test.go"} {
		if !whole[j] {
			t.Errorf("the guide does not show plugins/example/%s in full", f)
		}
	}
}
