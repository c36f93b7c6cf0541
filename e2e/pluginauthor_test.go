package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/valetgw/valet/internal/testenv"
)

// TestPluginAuthorGuide follows docs/plugin-authors.md as a new plugin
// author would, from the guide alone: a module of its own outside this
// repository holding the guide's main.go and its one-call test file, set
// up by the guide's build commands (go mod init, the replace recipe for a
// local checkout, go mod tidy, go build), its test passing the conformance
// suite through a real plugin process, then the binary pinned, the
// guide's config checked by `valet config check`, and an upload served
// through the real gateway and read back.
func TestPluginAuthorGuide(t *testing.T) {
	goTool := testenv.LookPath(t, "go")
	testenv.LookPath(t, "bash")
	guide, err := os.ReadFile(filepath.Join(testenv.Root(), "docs", "plugin-authors.md"))
	if err != nil {
		t.Fatal(err)
	}
	var mainGo, testGo string
	for _, b := range testenv.Fenced(string(guide), "go") {
		switch {
		case strings.Contains(b, "\npackage main\n") && strings.Contains(b, "\nfunc main() {"):
			mainGo = b
		case strings.HasPrefix(b, "package main\n") && strings.Contains(b, "plugintest.Run("):
			testGo = b
		}
	}
	if mainGo == "" || testGo == "" {
		t.Fatalf("the guide does not show a whole main.go and a whole test file calling plugintest.Run (found main.go: %v, test: %v)", mainGo != "", testGo != "")
	}
	m := regexp.MustCompile("(?s)## 2\\. Build\n.*?```sh\n(.*?)```").FindSubmatch(guide)
	if m == nil {
		t.Fatal("the guide has no ```sh block under \"## 2. Build\"")
	}
	build := string(m[1])
	if !strings.Contains(build, "-replace=github.com/valetgw/valet=../valet") {
		t.Fatalf("the guide's build commands do not use the replace recipe with ../valet:\n%s", build)
	}

	// The author's workspace: their module, next to a checkout of Valet
	// (this repository, linked), both outside the repository's tree.
	work := t.TempDir()
	if err := os.Symlink(testenv.Root(), filepath.Join(work, "valet")); err != nil {
		t.Fatal(err)
	}
	mod := filepath.Join(work, "mystore")
	if err := os.Mkdir(mod, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, src := range map[string]string{"main.go": mainGo, "mystore_test.go": testGo} {
		if err := os.WriteFile(filepath.Join(mod, name), []byte(src+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off", "PATH="+filepath.Dir(goTool)+string(os.PathListSeparator)+os.Getenv("PATH"))
	run := func(what string, timeout time.Duration, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir, cmd.Env = mod, env
		p, err := testenv.Launch(t, testenv.Spec{Name: what, Cmd: cmd})
		if err != nil {
			t.Fatal(err)
		}
		err = p.Wait(timeout)
		if err != nil {
			t.Fatalf("%s: %v\n%s", what, err, tail(p.Logs(), 6000))
		}
		return p.Logs()
	}
	run("the guide's build commands", 5*time.Minute, "bash", "-euo", "pipefail", "-c", build)
	gomod, err := os.ReadFile(filepath.Join(mod, "go.mod"))
	if err != nil || !bytes.Contains(gomod, []byte("replace github.com/valetgw/valet => ../valet")) {
		t.Fatalf("go.mod after the guide's commands (%v):\n%s", err, gomod)
	}

	// The one-call test: the suite in process and through a plugin process.
	out := run("go test in the author's module", 10*time.Minute, "go", "test", "-count=1", "-v", ".")
	for _, want := range []string{
		"--- PASS: TestConformanceThroughPlugin", "--- PASS: TestConformanceInProcess",
		"--- PASS: TestConformanceThroughPlugin/Configure/ReplayAfterRestart", "--- PASS: TestConformanceThroughPlugin/CORS/Put",
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("go test output lacks %q:\n%s", want, tail(out, 6000))
		}
	}

	// Install and pin the binary the guide built.
	bin, err := os.ReadFile(filepath.Join(mod, "valet-plugin-mystore"))
	if err != nil {
		t.Fatalf("the guide's go build made no valet-plugin-mystore: %v", err)
	}
	pluginDir := filepath.Join(work, "plugins")
	if err := os.Mkdir(pluginDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pluginDir, "valet-plugin-mystore"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(bin)
	pin := hex.EncodeToString(sum[:])

	// The guide's config, with what its text says to fill in: the plugin
	// directory, the pin, the secret files, free ports.
	var cfgBlock string
	for _, b := range testenv.Fenced(string(guide), "yaml") {
		if strings.Contains(b, "provider: mystore") {
			cfgBlock = b
		}
	}
	if cfgBlock == "" {
		t.Fatal("the guide has no yaml config with provider: mystore")
	}
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(cfgBlock), &cfg); err != nil {
		t.Fatalf("the guide's config is not YAML: %v\n%s", err, cfgBlock)
	}
	for _, key := range []string{"server", "auth", "tokens", "plugins", "stores"} {
		if cfg[key] == nil {
			t.Fatalf("the guide's config has no %s block:\n%s", key, cfgBlock)
		}
	}
	secrets := map[string]string{}
	secretDir := filepath.Join(work, "secrets")
	if err := os.Mkdir(secretDir, 0o700); err != nil {
		t.Fatal(err)
	}
	secretFile := func(old string) string {
		p := filepath.Join(secretDir, filepath.Base(old))
		secrets[old] = randomSecret(t)
		return writeFile(t, p, []byte(secrets[old]+"\n"))
	}
	replaced := strings.NewReplacer("/usr/local/lib/valet/plugins", pluginDir, "3f5c...e1", pin, "127.0.0.1:9400", testenv.Addr(testenv.FreePort(t)))
	cfgText := replaced.Replace(cfgBlock)
	for _, f := range regexp.MustCompile(`/run/secrets/[\w.-]+`).FindAllString(cfgText, -1) {
		if _, done := secrets[f]; !done {
			cfgText = strings.ReplaceAll(cfgText, f, secretFile(f))
		}
	}
	cfgPath := writeFile(t, filepath.Join(work, "valet.yaml"), []byte(cfgText))
	if stdout, stderr, code := valet(t, "config", "check", "--config", cfgPath); code != 0 {
		t.Fatalf("valet config check of the guide's config: exit %d\n%s\n%s\nconfig:\n%s", code, stdout, stderr, cfgText)
	}
	if stdout, stderr, code := valet(t, "plugins", "--config", cfgPath); code != 0 || !strings.Contains(stdout, "mystore") {
		t.Fatalf("valet plugins: exit %d\n%s\n%s", code, stdout, stderr)
	}

	// An upload through the real gateway into the author's plugin.
	g := startGateway(t, &gatewayEnv{ConfigPath: cfgPath, HS256: secrets["/run/secrets/valet-jwt"]})
	token := mint(t, secrets["/run/secrets/valet-jwt"], "author", 10*time.Minute, nil)
	body := append([]byte("through a plugin written from the guide\n"), randomBytes(t, 4000)...)
	obj := upload(t, g, g, "media", token, "guide.txt", "text/plain", body)
	r := g.do(t, "GET", "/v1/stores/media/objects/"+escapeKey(obj.Key), token, nil)
	want(t, r, http.StatusOK)
	md := decodeJSON[object](t, r)
	st, got, _ := fetch(t, md.URL, nil)
	if md.Size != int64(len(body)) || st != http.StatusOK || !bytes.Equal(got, body) {
		t.Fatalf("read back: size %d, signed GET status %d with %d bytes; want %d bytes", md.Size, st, len(got), len(body))
	}
}
