package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/valetgw/valet/providers"
)

func TestRunExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"version"}, 0, ""},
		{[]string{"--help"}, 0, ""},
		{[]string{"nope"}, 1, `unknown command "nope"`},
		{[]string{"version", "--bogus"}, 2, "unknown flag: --bogus"},
		{[]string{"plugin", "serve", "nope"}, 2, `no built-in provider "nope"`},
		{[]string{"presign", "--key", "a"}, 2, "--store and --key are required"},
		{[]string{"presign", "--store", "s", "--key", "a//b"}, 2, `"a//b"`},
		{[]string{"presign", "--store", "s", "--key", "a", "--method", "put"}, 2, "--size is required for PUT"},
		{[]string{"config", "check", "--config", "/nonexistent/valet.yaml"}, 1, "/nonexistent/valet.yaml"},
	} {
		var out, errb bytes.Buffer
		code := run(tc.args, strings.NewReader(""), &out, &errb)
		if code != tc.code || !strings.Contains(errb.String(), tc.stderr) {
			t.Errorf("valet %v: exit %d stderr %q; want %d and %q", tc.args, code, errb.String(), tc.code, tc.stderr)
		}
		if tc.code != 0 && !strings.HasPrefix(errb.String(), "valet: ") {
			t.Errorf("valet %v: error not prefixed with \"valet: \": %q", tc.args, errb.String())
		}
	}
}

func TestParseClaims(t *testing.T) {
	got, err := parseClaims([]string{"role=editor", "n=3", "admin=true", `groups=["a","b"]`, "eq=a=b", "empty="})
	if err != nil {
		t.Fatal(err)
	}
	if got["role"] != "editor" || got["n"] != float64(3) || got["admin"] != true || got["eq"] != "a=b" || got["empty"] != "" {
		t.Fatalf("claims = %#v", got)
	}
	if g, ok := got["groups"].([]any); !ok || len(g) != 2 {
		t.Fatalf("groups = %#v", got["groups"])
	}
	for _, bad := range []string{"noequals", "=v"} {
		if _, err := parseClaims([]string{bad}); err == nil {
			t.Errorf("parseClaims(%q) succeeded", bad)
		}
	}
}

func TestCurlCommandQuotes(t *testing.T) {
	got := curlCommand(providers.Recipe{
		Method:  "PUT",
		URL:     "http://h/o/it's?sig=x&v=1",
		Headers: map[string]string{"Content-Type": "text/plain", "Content-Length": "5", "X-B": "a'b"},
	})
	want := `curl -X PUT -H 'Content-Type: text/plain' -H 'X-B: a'\''b' --upload-file FILE 'http://h/o/it'\''s?sig=x&v=1'`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// Help shows bool flags as switches and names the configurable shutdown
// timeout.
func TestHelpText(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"serve", "--help"}, {"plugins", "--help"}, {"config", "check", "--help"}} {
		var out, errb bytes.Buffer
		if code := run(args, strings.NewReader(""), &out, &errb); code != 0 {
			t.Fatalf("valet %v: exit %d %s", args, code, errb.String())
		}
		if strings.Contains(out.String(), "[=true|false]") || !strings.Contains(out.String(), "-h, --help ") {
			t.Errorf("valet %v:\n%s", args, out.String())
		}
	}
	var out bytes.Buffer
	run([]string{"serve", "--help"}, strings.NewReader(""), &out, &out)
	if strings.Contains(out.String(), "(up to 30s)") || !strings.Contains(out.String(), "server.shutdown_timeout") {
		t.Errorf("serve --help:\n%s", out.String())
	}
	// The switches still parse, with or without a value.
	for _, args := range [][]string{{"plugins", "--json"}, {"plugins", "--json=false"}} {
		var out, errb bytes.Buffer
		if code := run(args, strings.NewReader(""), &out, &errb); code != 0 {
			t.Errorf("valet %v: exit %d %s", args, code, errb.String())
		}
	}
}

// `valet plugins --json` speaks the REST API's snake_case, with expiry in
// seconds.
func TestPluginsJSON(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"plugins", "--json"}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("exit %d %s", code, errb.String())
	}
	var list []map[string]any
	if err := json.Unmarshal(out.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	for _, p := range list {
		if p["name"] != "local" {
			continue
		}
		caps := p["info"].(map[string]any)["capabilities"].(map[string]any)
		for _, k := range []string{"multipart", "multipart_needs_etags", "min_part_size", "max_part_size", "max_parts", "binds_content_length", "binds_content_type", "binds_checksums", "get_overrides", "max_expiry_seconds", "cors"} {
			if _, ok := caps[k]; !ok {
				t.Errorf("capabilities lack %q: %v", k, caps)
			}
		}
		if caps["max_expiry_seconds"] != float64(7*24*3600) {
			t.Errorf("max_expiry_seconds = %v", caps["max_expiry_seconds"])
		}
		if strings.Contains(out.String(), "MaxExpiry") || strings.Contains(out.String(), "Capabilities") {
			t.Errorf("Go field names in JSON:\n%s", out.String())
		}
		return
	}
	t.Fatalf("no local provider in %s", out.String())
}
