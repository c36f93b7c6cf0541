package testenv

import (
	"reflect"
	"testing"
)

func TestFenced(t *testing.T) {
	md := "# Title\n\n```go\npackage a\n\nfunc A() {}\n```\n\ntext\n  ```sh\nls\n  ```\n```go\nB()\n```\n```\nplain\n```\n"
	for lang, want := range map[string][]string{
		"go": {"package a\n\nfunc A() {}", "B()"},
		"sh": {"ls"},
		"js": nil,
	} {
		if got := Fenced(md, lang); !reflect.DeepEqual(got, want) {
			t.Errorf("Fenced(%s) = %q, want %q", lang, got, want)
		}
	}
}
