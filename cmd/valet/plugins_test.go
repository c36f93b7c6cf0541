package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/valetgw/valet/plugins/plugintest"
)

// `valet plugins` prints the whole listing, then exits 1 when an external
// plugin fails its pin or does not start, so a CI script notices.
func TestPluginsExitStatus(t *testing.T) {
	bin, sum := plugintest.Build(t, "../../plugins/example")
	dir := filepath.Dir(bin)
	listing := func(t *testing.T, args ...string) (int, string, string) {
		t.Helper()
		var out, errb bytes.Buffer
		code := run(append([]string{"plugins"}, args...), strings.NewReader(""), &out, &errb)
		return code, out.String(), errb.String()
	}
	config := func(t *testing.T, pin string) string {
		t.Helper()
		file := filepath.Join(t.TempDir(), "valet.yaml")
		yaml := "auth: {anonymous: {enabled: true, subject: ci}}\n" +
			"tokens: {secret: " + strings.Repeat("t", 32) + "}\n" +
			"plugins: {dirs: [" + dir + "], pins: {example: \"" + pin + "\"}}\n" +
			"stores: {demo: {provider: example}}\n"
		if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		return file
	}

	t.Run("pinned", func(t *testing.T) {
		code, out, errb := listing(t, "--config", config(t, sum))
		if code != 0 || !strings.Contains(out, "example") || !strings.Contains(out, "1.0.0") {
			t.Fatalf("exit %d; stdout:\n%s\nstderr:\n%s\nwant 0 and the example listed with its version", code, out, errb)
		}
	})
	t.Run("wrong pin", func(t *testing.T) {
		code, out, errb := listing(t, "--config", config(t, strings.Repeat("0", 64)))
		if code != 1 || !strings.Contains(out, "refusing") || !strings.Contains(errb, "failed their pin or did not start: example") {
			t.Fatalf("exit %d; stdout:\n%s\nstderr:\n%s\nwant 1, the pin error listed and the plugin named", code, out, errb)
		}
	})
	t.Run("does not start", func(t *testing.T) {
		// A compiled binary that exits at once, without the handshake.
		broken := filepath.Join(t.TempDir(), "valet-plugin-broken")
		data, err := os.ReadFile("/bin/true")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(broken, data, 0o755); err != nil {
			t.Fatal(err)
		}
		code, out, errb := listing(t, "--plugin-dir", filepath.Dir(broken), "--json")
		if code != 1 || !strings.Contains(out, `"name": "broken"`) || !strings.Contains(errb, "did not start: broken") {
			t.Fatalf("exit %d; stdout:\n%s\nstderr:\n%s\nwant 1 with the listing printed", code, out, errb)
		}
	})
}
