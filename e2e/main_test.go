package e2e

import (
	"os"
	"testing"

	"github.com/valetgw/valet/internal/testenv"
)

// TestMain runs the suite, then checks that no process started by a
// gateway (or any other process the suite launched) outlived it: a gateway
// killed by its test's cleanup must still take its plugins down (they run in
// their own process groups, so only the host's supervision, Pdeathsig and
// the plugins' parent watch can stop them).
func TestMain(m *testing.M) { testenv.Main(m, removeBrowserInputs) }

// removeBrowserInputs deletes the inputs browserInputs generated for this
// test process (about 200 MiB), which outlive every test's own TempDir.
func removeBrowserInputs() {
	if browserFilesDir != "" {
		os.RemoveAll(browserFilesDir)
	}
}
