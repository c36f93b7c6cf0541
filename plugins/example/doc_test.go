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
// compiles and runs, and one block must be the whole of main.go.
func TestAuthorGuideShowsCompiledCode(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "plugin-authors.md"))
	if err != nil {
		t.Fatal(err)
	}
	var sources []string
	for _, f := range []string{"main.go", "example_test.go"} {
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
	whole := false
	for i, b := range blocks {
		if b == strings.TrimRight(sources[0], "\n") {
			whole = true
		}
		found := false
		for _, src := range sources {
			if strings.Contains(src, b) {
				found = true
			}
		}
		if !found {
			first, _, _ := strings.Cut(b, "\n")
			t.Errorf("Go block %d (starting %q) is not verbatim in plugins/example/main.go or example_test.go", i+1, first)
		}
	}
	if !whole {
		t.Error("the guide does not show plugins/example/main.go in full")
	}
}
