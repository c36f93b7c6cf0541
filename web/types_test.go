package web

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/valetgw/valet/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite valet.d.ts and uppy.d.ts from the JSDoc of valet.js and uppy.js")

// typed are the modules whose declarations are generated from their JSDoc.
var typed = []string{"valet", "uppy"}

// TestTypes keeps the types in one place: valet.js and uppy.js hold them as
// JSDoc, and valet.d.ts and uppy.d.ts are what the pinned TypeScript
// compiler declares from it (tsc --allowJs --checkJs --strict
// --declaration). The JSDoc must type-check, and a checked-in .d.ts that
// differs from the generated one fails; rewrite both with
//
//	go test ./web -run TestTypes -update
func TestTypes(t *testing.T) {
	node := testenv.LookPath(t, "node")
	tsc := testenv.NodeModule(t, "typescript/bin/tsc")
	uppyCore := filepath.Dir(testenv.NodeModule(t, "@uppy/core/lib/index.d.ts"))
	// The sources are compiled in a folder of their own: beside the
	// checked-in .d.ts files, tsc would read those instead of the JSDoc
	// when uppy.js imports ./valet.js.
	src, out := t.TempDir(), t.TempDir()
	files := []string{}
	for _, name := range typed {
		b, err := os.ReadFile(name + ".js")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, name+".js"), b, 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, name+".js")
	}
	cfg := map[string]any{
		"compilerOptions": map[string]any{
			"allowJs": true, "checkJs": true, "strict": true,
			"declaration": true, "emitDeclarationOnly": true, "outDir": out,
			"target": "es2022", "module": "esnext", "moduleResolution": "bundler",
			"lib":   []string{"es2022", "dom", "dom.iterable"},
			"types": []string{}, "skipLibCheck": true,
			"paths": map[string][]string{
				"@uppy/core":   {filepath.Join(uppyCore, "index.d.ts")},
				"@uppy/core/*": {filepath.Join(uppyCore, "*")},
			},
		},
		"files": files,
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "tsconfig.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if msg, err := exec.Command(node, tsc, "-p", filepath.Join(src, "tsconfig.json")).CombinedOutput(); err != nil {
		t.Fatalf("tsc: %v\n%s", err, msg)
	}
	for _, name := range typed {
		gen, err := os.ReadFile(filepath.Join(out, name+".d.ts"))
		if err != nil {
			t.Fatal(err)
		}
		want := append([]byte("// Generated from the JSDoc of "+name+".js by `go test ./web -run TestTypes -update`: edit "+name+".js, not this file.\n"), gen...)
		path := name + ".d.ts"
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		have, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(have, want) {
			t.Errorf("web/%s is not what %s.js declares; run go test ./web -run TestTypes -update (first difference at line %d)", path, name, firstDiffLine(have, want))
		}
	}
}

func firstDiffLine(a, b []byte) int {
	la, lb := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	for i := range min(len(la), len(lb)) {
		if !bytes.Equal(la[i], lb[i]) {
			return i + 1
		}
	}
	return min(len(la), len(lb)) + 1
}
