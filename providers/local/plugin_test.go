package local_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/valetgw/valet/internal/testenv"
	"github.com/valetgw/valet/plugins/host"
	"github.com/valetgw/valet/providers"
	"github.com/valetgw/valet/providers/local"
	"github.com/valetgw/valet/providers/providertest"
)

// startPlugin runs the local provider as `valet plugin serve local`, the way
// the gateway does, and returns it with its store root.
func startPlugin(t *testing.T) (*host.Plugin, string) {
	p, root, _ := startPluginConfig(t)
	return p, root
}

// startPluginConfig is startPlugin that also returns the store config.
func startPluginConfig(t *testing.T) (*host.Plugin, string, json.RawMessage) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the valet binary")
	}
	h, err := host.New(host.Options{
		Executable: testenv.ValetBinary(t),
		Builtins:   []string{"local"},
		Logger:     hclog.New(&hclog.LoggerOptions{Output: io.Discard}),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	root := t.TempDir()
	addr := testenv.Addr(testenv.FreePort(t))
	cfg, _ := json.Marshal(map[string]any{
		"root": root, "listen": addr, "public_url": "http://" + addr,
		"secret": "plugin-test-secret-0123456789",
	})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	p, err := h.Start(ctx, host.Spec{Store: "media", Plugin: "local", Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	return p, root, cfg
}

// The same conformance suite, through a real plugin process: every
// assertion now also covers the wire protocol.
func TestConformanceThroughPlugin(t *testing.T) {
	p, _, cfg := startPluginConfig(t)
	// A capability lost on the wire would turn a check into a skip, so the
	// plugin must claim exactly what the provider claims in process.
	got, err := p.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want, _ := local.New().Info(t.Context())
	if !reflect.DeepEqual(got.Capabilities, want.Capabilities) {
		t.Fatalf("capabilities through the plugin:\n%+v\nin process:\n%+v", got.Capabilities, want.Capabilities)
	}
	providertest.Run(t, providertest.Harness{Provider: p, Config: cfg, SecretKeys: []string{"secret"}})
}

// SIGKILL the plugin in the middle of a large upload. After the host has
// restarted it (replaying the configuration, which sweeps), there is no
// partial object and no temp file left.
func TestKillDuringUpload(t *testing.T) {
	p, root := startPlugin(t)
	const size = 512 << 20
	key := "big/upload.bin"
	r, err := p.SignPut(t.Context(), providers.PutRequest{Key: key, ContentType: "application/octet-stream", Size: size, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(r.Method, r.URL, pr)
	req.ContentLength = size
	for k, v := range r.Headers {
		req.Header.Set(k, v)
	}
	done := make(chan error, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
			err = fmt.Errorf("upload finished with status %d", res.StatusCode)
		}
		done <- err
	}()
	chunk := make([]byte, 1<<20)
	for range 32 {
		if _, err := pw.Write(chunk); err != nil {
			t.Fatalf("upload failed before the kill: %v", err)
		}
	}
	// The partial body is on disk, in the plugin's temp directory.
	deadline := time.Now().Add(30 * time.Second)
	for tempBytes(root) < 16<<20 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := tempBytes(root); n < 16<<20 {
		t.Fatalf("only %d bytes in temp before the kill; the test would prove nothing", n)
	}
	oldPid := p.Pid()
	if err := syscall.Kill(oldPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	pw.CloseWithError(errors.New("plugin killed"))
	if err := <-done; err == nil {
		t.Fatal("the upload succeeded although the plugin was killed")
	}

	deadline = time.Now().Add(60 * time.Second)
	for !(p.Healthy() && p.Pid() != oldPid && p.Pid() != 0) {
		if time.Now().After(deadline) {
			t.Fatal("plugin did not come back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := p.Head(t.Context(), providers.HeadRequest{Key: key}); !errors.Is(err, providers.ErrNotFound) {
		t.Fatalf("Head after the crash: %v, want NotFound", err)
	}
	g, err := p.SignGet(t.Context(), providers.GetRequest{Key: key, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.Get(g.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Fatalf("GET after the crash: %d, want 404", res.StatusCode)
	}
	if n := tempBytes(root); n != 0 {
		t.Fatalf("%d bytes of temp files left after restart", n)
	}
	tmpDirs, _ := os.ReadDir(filepath.Join(root, "tmp"))
	var names []string
	for _, d := range tmpDirs {
		names = append(names, d.Name())
	}
	if len(names) != 2 { // the new process's directory and its lock
		t.Fatalf("tmp/ holds %v, want only the new process's directory and lock", names)
	}
	if n := local.CountFiles(t, filepath.Join(root, "blobs")) + local.CountFiles(t, filepath.Join(root, "objects")); n != 0 {
		t.Fatalf("%d files in blobs/ and objects/ after a killed upload", n)
	}
	// And the store works again.
	put, _ := p.SignPut(t.Context(), providers.PutRequest{Key: key, ContentType: "text/plain", Size: 2, TTL: time.Minute})
	preq, _ := http.NewRequest("PUT", put.URL, strings.NewReader("ok"))
	preq.Header.Set("Content-Type", "text/plain")
	if res, err := http.DefaultClient.Do(preq); err != nil || res.StatusCode != 200 {
		t.Fatalf("PUT after restart: %v %v", res, err)
	}
}

func tempBytes(root string) int64 {
	var n int64
	filepath.WalkDir(filepath.Join(root, "tmp"), func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(d.Name(), ".lock") {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
