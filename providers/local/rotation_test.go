package local

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valetgw/valet/providers"
)

// The URL secret is rotated without breaking URLs already handed out: with
// secrets [new, old] a URL signed under the old secret still works and new
// URLs are signed with the new one; once the old one is dropped its URLs are
// refused. A secret_file of several lines is the same list.
func TestSecretRotation(t *testing.T) {
	const oldSecret, newSecret = "old-url-secret-0123456789", "new-url-secret-0123456789"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	root := t.TempDir()
	p := NewWithClock(time.Now)
	t.Cleanup(func() { p.Close() })
	conf := func(secret map[string]any) {
		t.Helper()
		cfg := map[string]any{"root": root, "listen": addr}
		for k, v := range secret {
			cfg[k] = v
		}
		raw, _ := json.Marshal(cfg)
		if err := p.Configure(t.Context(), providers.StoreConfig{Store: "test", Config: raw}); err != nil {
			t.Fatalf("Configure %v: %v", secret, err)
		}
	}
	fetch := func(u string) int {
		t.Helper()
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	data := []byte("signed before the rotation")
	conf(map[string]any{"secret": oldSecret})
	put, err := p.SignPut(t.Context(), providers.PutRequest{Key: "a.txt", ContentType: "text/plain", Size: int64(len(data)), TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(put.Method, put.URL, bytes.NewReader(data))
	for k, v := range put.Headers {
		req.Header.Set(k, v)
	}
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode/100 != 2 {
		t.Fatalf("PUT: %v %v", res, err)
	}
	oldGet, err := p.SignGet(t.Context(), providers.GetRequest{Key: "a.txt", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if st := fetch(oldGet.URL); st != 200 {
		t.Fatalf("GET before rotation: %d", st)
	}

	file := filepath.Join(t.TempDir(), "secrets")
	os.WriteFile(file, []byte(newSecret+"\n"+oldSecret+"\n"), 0o600)
	for _, rotated := range []map[string]any{{"secrets": []string{newSecret, oldSecret}}, {"secret_file": file}} {
		conf(rotated)
		if st := fetch(oldGet.URL); st != 200 {
			t.Fatalf("%v: URL signed with the old secret: %d", rotated, st)
		}
		fresh, err := p.SignGet(t.Context(), providers.GetRequest{Key: "a.txt", TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if st := fetch(fresh.URL); st != 200 {
			t.Fatalf("%v: URL signed after rotation: %d", rotated, st)
		}
		// Signed with the new secret: a store knowing only the new one
		// accepts it (checked below), one knowing only the old one does not.
		signedNew := fresh
		defer func() {
			if st := fetch(signedNew.URL); st != 200 {
				t.Errorf("%v: URL signed with the new secret refused by a store with only it: %d", rotated, st)
			}
		}()
	}
	conf(map[string]any{"secrets": []string{newSecret}})
	if st := fetch(oldGet.URL); st != 403 {
		t.Fatalf("URL signed with a dropped secret: %d, want 403", st)
	}
}

func TestSecretForms(t *testing.T) {
	for _, tc := range []struct {
		cfg  map[string]any
		want string
	}{
		{map[string]any{"secret": "0123456789abcdef", "secrets": []string{"0123456789abcdef"}}, "one of secret, secret_file or secrets"},
		{map[string]any{"secrets": []string{"0123456789abcdef", "short"}}, "config.secrets[1]: must be at least 16 bytes"},
		{map[string]any{}, "config.secret: required"},
	} {
		tc.cfg["root"], tc.cfg["listen"] = t.TempDir(), "127.0.0.1:0"
		raw, _ := json.Marshal(tc.cfg)
		_, err := parseConfig(raw)
		if err == nil || !strings.Contains(err.Error(), tc.want) || providers.CodeOf(err) != providers.InvalidArgument {
			t.Errorf("%v: %v, want InvalidArgument %q", tc.cfg, err, tc.want)
		}
	}
}
