package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/valetgw/valet/internal/testenv"
)

// The README's curl walkthrough, run verbatim against examples/local.yaml.
// Only what must differ on a shared test machine is replaced: the ports
// (127.0.0.1:8080/8081) and the paths of the binary and the .dev files.
func TestREADMEWalkthrough(t *testing.T) {
	for _, tool := range []string{"curl", "jq", "openssl", "bash"} {
		testenv.LookPath(t, tool)
	}
	script := ""
	for _, b := range docSection(t, "README.md", "Walkthrough") {
		if b.Lang == "sh" {
			script = b.Body
			break
		}
	}
	if script == "" {
		t.Fatal("README.md has no ```sh block under \"## Walkthrough\"")
	}

	dir := t.TempDir()
	secret := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(randomSecret(t)), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	localAddr := testenv.Addr(testenv.FreePort(t))
	overrides := []string{
		"VALET_AUTH__JWT__HS256_SECRET_FILE=" + secret("hs256.secret"),
		"VALET_TOKENS__SECRET_FILE=" + secret("tokens.secret"),
		"VALET_STORES__DEMO__CONFIG__SECRET_FILE=" + secret("local.secret"),
		"VALET_STORES__DEMO__CONFIG__ROOT=" + filepath.Join(dir, "data"),
		"VALET_STORES__DEMO__CONFIG__LISTEN=" + localAddr,
		"VALET_STORES__DEMO__CONFIG__PUBLIC_URL=http://" + localAddr,
	}
	cfg := filepath.Join(testenv.Root(), "examples", "local.yaml")
	g := startGateway(t, &gatewayEnv{ConfigPath: cfg}, overrides...)

	script = strings.ReplaceAll(script, "http://127.0.0.1:8080", g.URL)
	script = strings.ReplaceAll(script, "bin/valet ", testenv.ValetBinary(t)+" ")
	script = strings.ReplaceAll(script, "examples/local.yaml", cfg)
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o700); err != nil {
		t.Fatal(err)
	}
	out := runDocScript(t, "README walkthrough", work, script, overrides)
	checkDownloaded(t, work, out)
}

// fence is one fenced code block of a Markdown document.
type fence struct{ Lang, Body string }

// docSection returns the fenced code blocks under the heading "## TITLE..."
// of the Markdown file rel (relative to the repository root), in order, up
// to the next "## " heading.
func docSection(t testing.TB, rel, title string) []fence {
	t.Helper()
	md, err := os.ReadFile(filepath.Join(testenv.Root(), rel))
	if err != nil {
		t.Fatal(err)
	}
	var out []fence
	found, in := false, false
	lines := strings.Split(string(md), "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if lang, ok := strings.CutPrefix(line, "```"); ok && lang != "" {
			var body []string
			for i++; i < len(lines) && lines[i] != "```"; i++ {
				body = append(body, lines[i])
			}
			if in {
				out = append(out, fence{Lang: lang, Body: strings.Join(body, "\n") + "\n"})
			}
			continue
		}
		if strings.HasPrefix(line, "## ") {
			in = strings.HasPrefix(line, "## "+title)
			found = found || in
		}
	}
	if !found {
		t.Fatalf("%s has no section \"## %s\"", rel, title)
	}
	return out
}

// docScript is the command that runs a document's shell snippet as a
// reader pasting it would: bash -euo pipefail (a failing command stops it)
// in dir, with env added to the environment and TMPDIR=dir, so that its
// mktemp -d lands there.
func docScript(dir, script string, env []string) *exec.Cmd {
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Env = append(cmd.Env, "TMPDIR="+dir)
	return cmd
}

// runDocScript runs a snippet (docScript) to its end. A failure fails t;
// the output is returned.
func runDocScript(t testing.TB, name, dir, script string, env []string) string {
	t.Helper()
	cmd := docScript(dir, script, env)
	p, err := testenv.Launch(t, testenv.Spec{Name: name, Cmd: cmd})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Wait(2 * time.Minute)
	out := p.Logs()
	if err != nil {
		t.Fatalf("%s failed: %v\n%s\n--- script ---\n%s", name, err, out, script)
	}
	return out
}

// checkDownloaded checks the end of a walkthrough (README or provider
// page): it printed "same bytes", and the one downloaded.txt it left in a
// mktemp -d folder under dir holds the uploaded text.
func checkDownloaded(t testing.TB, dir string, out string) {
	t.Helper()
	if !strings.Contains(out, "same bytes") {
		t.Fatalf("walkthrough did not end with \"same bytes\":\n%s", out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*", "downloaded.txt"))
	if len(files) != 1 {
		t.Fatalf("want one downloaded.txt under %s, found %v", dir, files)
	}
	if got, err := os.ReadFile(files[0]); err != nil || string(got) != "hello, valet\n" {
		t.Fatalf("downloaded.txt = %q, %v", got, err)
	}
}

// The README's statements that code can check: the Go version go.mod
// requires, the TTL clamp, list values through the environment, and the
// one-off commands' port workaround.
func TestREADMEFacts(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(testenv.Root(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	mod, err := os.ReadFile(filepath.Join(testenv.Root(), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	text := string(readme)
	for _, want := range []string{
		"Go " + string(m[1]) + " or newer",
		"clamped to `limits.max_ttl` and to the provider's own maximum",
		"`VALET_STORES__MEDIA__LIMITS__CONTENT_TYPES=image/*,video/*`",
		"VALET_STORES__DEMO__CONFIG__LISTEN=127.0.0.1:0",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("README lacks %q", want)
		}
	}
	if strings.Contains(text, "never longer") {
		t.Error("README still says ttl= is never longer: it is clamped to max_ttl, not to the default TTL")
	}
}
