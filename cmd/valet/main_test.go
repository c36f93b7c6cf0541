package main

import (
	"bytes"
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
