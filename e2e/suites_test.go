package e2e

import (
	"path/filepath"
	"testing"

	"github.com/valetgw/valet/internal/testenv"
)

// onEveryBackend runs suite once per registered backend, as a subtest
// named after it, and fails when none is registered.
func onEveryBackend(t *testing.T, suite func(t *testing.T, b backend)) {
	t.Helper()
	if len(backends) == 0 {
		t.Fatal("no backends registered")
	}
	for _, b := range backends {
		t.Run(b.Name, func(t *testing.T) { suite(t, b) })
	}
}

// backendNamed is the registered backend called name; the test fails when
// there is none.
func backendNamed(t *testing.T, name string) backend {
	t.Helper()
	for _, b := range backends {
		if b.Name == name {
			return b
		}
	}
	t.Fatalf("no backend %q registered", name)
	return backend{}
}

// browserSuite starts a suite that drives Chromium with the upload inputs
// (browserInputs): it needs the browser driver (so it is skipped in -short
// mode) and the npm packages named (paths below node_modules) besides.
func browserSuite(t *testing.T, packages ...string) (testenv.Demo, map[string]browserFile) {
	t.Helper()
	demo := testenv.DemoDriver(t)
	for _, p := range packages {
		testenv.NodeModule(t, p)
	}
	return demo, browserInputs(t)
}

// uploaded is one of the two files an upload scenario sends, with what the
// browser driver reported of it.
type uploaded[F any] struct {
	name string
	got  F
	want browserFile
}

// smallAndLarge pairs an upload scenario's reports with its two inputs,
// small-8MiB.bin (a single upload) and large-64MiB.bin (multipart), after
// checking that the bytes downloaded of each are the input's.
func smallAndLarge[F interface{ downloaded() digest }](t *testing.T, in map[string]browserFile, small, large F) []uploaded[F] {
	t.Helper()
	var out []uploaded[F]
	for _, c := range []struct {
		got  F
		want browserFile
	}{{small, in["small-8MiB.bin"]}, {large, in["large-64MiB.bin"]}} {
		name := filepath.Base(c.want.Path)
		sameBytes(t, name, c.got.downloaded(), c.want)
		out = append(out, uploaded[F]{name, c.got, c.want})
	}
	return out
}

func (d digest) downloaded() digest { return d }

// uppyProgress is what uppy.mjs reports of a file's progress: where Uppy's
// progress bar ended and the highest upload-progress event.
type uppyProgress struct {
	Percent     int `json:"percent"`
	MaxProgress int `json:"max_progress"`
}

// complete checks that Uppy's progress of file name ended at 100 %.
func (p uppyProgress) complete(t *testing.T, name string) {
	t.Helper()
	if p.Percent != 100 || p.MaxProgress != 100 {
		t.Errorf("%s: Uppy's progress ended at %d%% (events up to %d%%)", name, p.Percent, p.MaxProgress)
	}
}
