package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/valetgw/valet/internal/testenv"
)

var testHookSecret = "whsec_" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("k"), 32))

// hookConfig writes a config with one local store, "media", whose hooks
// block is hooks (YAML flow), and returns its path.
func hookConfig(t *testing.T, hooks string) string {
	t.Helper()
	dir := t.TempDir()
	a1, a2 := testenv.Addr(testenv.FreePort(t)), testenv.Addr(testenv.FreePort(t))
	body := fmt.Sprintf(`auth: { jwt: { hs256_secret: %q } }
tokens: { secret: %q }
stores:
  media:
    provider: local
    config: { root: %q, listen: %q, public_url: "http://%s", secret: %q }
    hooks: %s
  plain:
    provider: local
    config: { root: %q, listen: %q, public_url: "http://%s", secret: %q }
    hooks: { events: [] }
`, strings.Repeat("h", 32), strings.Repeat("t", 32),
		filepath.Join(dir, "media"), a1, a1, strings.Repeat("l", 32), hooks,
		filepath.Join(dir, "plain"), a2, a2, strings.Repeat("p", 32))
	p := filepath.Join(dir, "valet.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func runValet(args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

func TestHooksTestPing(t *testing.T) {
	var mu sync.Mutex
	var got []http.Header
	status, answer := 200, `{"pong": true, "app": "demo"}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Header.Clone())
		mu.Unlock()
		if !strings.Contains(string(body), `"type":"ping"`) || !strings.Contains(string(body), `"store":"media"`) {
			http.Error(w, `{"message":"not a ping"}`, 400)
			return
		}
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	defer srv.Close()
	cfg := hookConfig(t, fmt.Sprintf(`{ url: "%s/hook?token=t0ken", secret: %q, events: [upload.complete] }`, srv.URL, testHookSecret))

	out, errs, code := runValet("hooks", "test", "media", "--config", cfg)
	if code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
	for _, want := range []string{"POST " + srv.URL + "/hook?token=***", "webhook-id: msg_", "accepted: HTTP 200 after 1 attempt", `"pong": true`} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	mu.Lock()
	if len(got) != 1 || got[0].Get("webhook-signature") == "" || !strings.Contains(out, got[0].Get("webhook-id")) {
		t.Errorf("deliveries %v", got)
	}
	sig := got[0].Get("webhook-signature")
	mu.Unlock()
	for _, leak := range []string{testHookSecret, strings.TrimPrefix(testHookSecret, "whsec_"), "t0ken", strings.TrimPrefix(sig, "v1,")} {
		if strings.Contains(out+errs, leak) {
			t.Errorf("printed %q:\n%s%s", leak, out, errs)
		}
	}

	status, answer = 403, `{"message": "pings are not welcome"}`
	out, errs, code = runValet("hooks", "test", "media", "--config", cfg)
	if code != 1 || !strings.Contains(out, "rejected: HTTP 403") || !strings.Contains(out, "pings are not welcome") || !strings.Contains(errs, "did not accept the ping (rejected)") {
		t.Errorf("refused ping: exit %d\nstdout %s\nstderr %s", code, out, errs)
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"hooks", "test", "plain", "--config", cfg}, 1, "stores.plain has no hook"},
		{[]string{"hooks", "test", "nope", "--config", cfg}, 1, `no store "nope" (stores: media, plain)`},
		{[]string{"hooks", "test", "--config", cfg}, 2, "hooks test takes one store name"},
	} {
		if _, errs, code := runValet(tc.args...); code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("valet %v: exit %d, stderr %q; want %d and %q", tc.args, code, errs, tc.code, tc.want)
		}
	}
}

// A hook nobody answers: the ping is unavailable, and says so.
func TestHooksTestUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(502) }))
	defer srv.Close()
	cfg := hookConfig(t, fmt.Sprintf(`{ url: %q, secret: %q, timeout: 20s }`, srv.URL, testHookSecret))
	out, errs, code := runValet("hooks", "test", "media", "--config", cfg)
	if code != 1 || !strings.Contains(out, "unavailable: HTTP 502 after 3 attempts") || !strings.Contains(out, "retry after 2s") {
		t.Errorf("exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
}

// config check refuses a bad hook setting, naming its key and never the
// secret, before it starts any plugin.
func TestConfigCheckRefusesBadHooks(t *testing.T) {
	short := "whsec_" + base64.StdEncoding.EncodeToString([]byte("short-secret"))
	for _, tc := range []struct{ hooks, want string }{
		{`{ url: "ftp://x.example/h", secret: "` + testHookSecret + `" }`, "stores.media.hooks.url: must be an absolute http(s) URL"},
		{`{ url: "https://x.example/h", secret: "` + short + `" }`, "stores.media.hooks.secret: decodes to 12 bytes; want 24 to 64"},
		{`{ url: "https://x.example/h", secret: "` + testHookSecret + `", events: [upload.done] }`, `stores.media.hooks.events[0]: unknown event "upload.done"`},
		{`{ url: "https://x.example/h" }`, "stores.media.hooks: url is set but no secret"},
		{`{ url: "https://x.example/h", secret: "` + testHookSecret + `", timeout: 0.5s, retries: 3 }`, "stores.media.hooks.retries: unknown key"},
	} {
		_, errs, code := runValet("config", "check", "--config", hookConfig(t, tc.hooks))
		if code != 1 || !strings.Contains(errs, tc.want) {
			t.Errorf("hooks %s: exit %d, stderr %q; want 1 and %q", tc.hooks, code, errs, tc.want)
		}
		for _, leak := range []string{testHookSecret, short, strings.TrimPrefix(short, "whsec_")} {
			if strings.Contains(errs, leak) {
				t.Errorf("stderr quotes a secret: %s", errs)
			}
		}
	}
}

// The real binary's config check (which starts the stores' plugins) passes
// a config with hooks, and prints them with the secrets hidden.
func TestConfigCheckPassesHooks(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the valet binary")
	}
	bin := testenv.ValetBinary(t)
	cfg := hookConfig(t, `{ url: "https://app.example/valet-hook?token=t0ken", secrets: ["`+testHookSecret+`", "whsec_`+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("o"), 24))+`"], events: [upload.create, upload.complete], timeout: 3s }`)
	cmd := exec.Command(bin, "config", "check", "--config", cfg)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("config check: %v\nstdout %s\nstderr %s", err, out.String(), errb.String())
	}
	s := out.String()
	for _, want := range []string{"url: https://app.example/valet-hook?token=***", "- '***'", "timeout: 3s", "- upload.create"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	for _, leak := range []string{testHookSecret, strings.TrimPrefix(testHookSecret, "whsec_"), "t0ken"} {
		if strings.Contains(s+errb.String(), leak) {
			t.Errorf("config check printed %q:\n%s", leak, s)
		}
	}
}
