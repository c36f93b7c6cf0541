package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
	buildOut  []byte
)

// ValetBinary builds ./cmd/valet once per test process and returns its path.
// Built-in plugins run as re-executions of this same binary.
func ValetBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "valet-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "valet")
		cmd := exec.Command("go", "build", "-o", buildPath, "./cmd/valet")
		cmd.Dir = Root()
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build ./cmd/valet: %v\n%s", buildErr, buildOut)
	}
	return buildPath
}
