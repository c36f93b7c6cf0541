package local

import (
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valetgw/valet/providers"
)

func TestConfigureErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o600)
	short := filepath.Join(dir, "short.secret")
	os.WriteFile(short, []byte("tiny\n"), 0o600)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	for _, tc := range []struct {
		name string
		edit func(c map[string]any)
		code providers.Code
		want string
	}{
		{"missing root", func(c map[string]any) { delete(c, "root") }, providers.InvalidArgument, "config.root: required"},
		{"unwritable root", func(c map[string]any) { c["root"] = filepath.Join(file, "sub") }, providers.InvalidArgument, "config.root:"},
		{"missing secret", func(c map[string]any) { delete(c, "secret") }, providers.InvalidArgument, "config.secret: required"},
		{"short secret", func(c map[string]any) { c["secret"] = "short" }, providers.InvalidArgument, "config.secret:"},
		{"both secrets", func(c map[string]any) { c["secret_file"] = short }, providers.InvalidArgument, "config.secret:"},
		{"short secret file", func(c map[string]any) { delete(c, "secret"); c["secret_file"] = short }, providers.InvalidArgument, "config.secret_file:"},
		{"missing secret file", func(c map[string]any) { delete(c, "secret"); c["secret_file"] = filepath.Join(dir, "nope") }, providers.InvalidArgument, "config.secret_file:"},
		{"missing listen", func(c map[string]any) { delete(c, "listen") }, providers.InvalidArgument, "config.listen: required"},
		{"bad listen", func(c map[string]any) { c["listen"] = "not an address" }, providers.InvalidArgument, "config.listen:"},
		{"bad port", func(c map[string]any) { c["listen"] = "127.0.0.1:99999" }, providers.InvalidArgument, "config.listen:"},
		{"foreign host", func(c map[string]any) { c["listen"] = "192.0.2.1:0" }, providers.InvalidArgument, "config.listen:"},
		{"busy listen", func(c map[string]any) { c["listen"] = busy.Addr().String() }, providers.Unavailable, "config.listen:"},
		{"bad public url", func(c map[string]any) { c["public_url"] = "ftp://x" }, providers.InvalidArgument, "config.public_url:"},
		{"bad origin", func(c map[string]any) { c["cors_origins"] = []string{"http://a.test/path"} }, providers.InvalidArgument, "config.cors_origins[0]:"},
		{"bad part age", func(c map[string]any) { c["part_max_age"] = "soon" }, providers.InvalidArgument, "config.part_max_age:"},
		{"bad max expiry", func(c map[string]any) { c["max_expiry"] = "0s" }, providers.InvalidArgument, "config.max_expiry:"},
		{"bad body idle timeout", func(c map[string]any) { c["body_idle_timeout"] = "10ms" }, providers.InvalidArgument, "config.body_idle_timeout:"},
		{"unknown key", func(c map[string]any) { c["bucket"] = "x" }, providers.InvalidArgument, "config.bucket: unknown key"},
		{"wrong type", func(c map[string]any) { c["cors_origins"] = "http://a.test" }, providers.InvalidArgument, "config.cors_origins:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			tc.edit(cfg)
			raw, _ := json.Marshal(cfg)
			p := New()
			err := p.Configure(t.Context(), providers.StoreConfig{Store: "s", Config: raw})
			if providers.CodeOf(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Configure: %v; want %s containing %q", err, tc.code, tc.want)
			}
			if strings.Contains(err.Error(), "0123456789abcdef") {
				t.Fatalf("error leaks the secret: %v", err)
			}
		})
	}
}

func TestConfigureIdempotent(t *testing.T) {
	p := NewWithClock(time.Now)
	cfg := testConfig(t)
	configure(t, p, cfg)
	first := p.URL()
	raw, _ := json.Marshal(cfg)
	if err := p.Configure(t.Context(), providers.StoreConfig{Config: raw}); err != nil || p.URL() != first {
		t.Fatalf("same config again: %v, URL %s -> %s", err, first, p.URL())
	}
	cfg["max_expiry"] = "1h"
	raw, _ = json.Marshal(cfg)
	if err := p.Configure(t.Context(), providers.StoreConfig{Config: raw}); err != nil {
		t.Fatal(err)
	}
	info, _ := p.Info(t.Context())
	if info.Capabilities.MaxExpiry != time.Hour {
		t.Fatalf("MaxExpiry = %s after reconfigure, want 1h", info.Capabilities.MaxExpiry)
	}
	if _, err := p.SignGet(t.Context(), providers.GetRequest{Key: "k", TTL: 2 * time.Hour}); !errors.Is(err, providers.ErrInvalidArgument) {
		t.Fatalf("TTL over max_expiry: %v", err)
	}
}

// Abandoned multipart uploads are swept after part_max_age; live ones stay.
func TestSweepAbandonedUploads(t *testing.T) {
	var skew atomic.Int64 // the sweeper goroutine reads the clock too
	clock := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	p := NewWithClock(clock)
	cfg := testConfig(t)
	cfg["part_max_age"] = "1h"
	configure(t, p, cfg)
	root := cfg["root"].(string)
	up, err := p.CreateMultipart(t.Context(), providers.CreateMultipartRequest{Key: "mp/x", ContentType: "a/b", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	signed, err := p.SignParts(t.Context(), providers.SignPartsRequest{Key: "mp/x", UploadID: up.UploadID, Parts: []providers.PartSpec{{Number: 1, Size: 3}}, TTL: time.Minute})
	rs := signed.Parts
	if err != nil {
		t.Fatal(err)
	}
	if res, b := do(t, "PUT", rs[0].Recipe.URL, nil, []byte("abc")); res.Status != 200 {
		t.Fatalf("part PUT: %d %s", res.Status, b)
	}
	st := p.cur.st
	st.sweep(time.Hour)
	if parts, err := p.ListParts(t.Context(), providers.ListPartsRequest{Upload: providers.MultipartRef{Key: "mp/x", UploadID: up.UploadID}}); err != nil || len(parts.Parts) != 1 {
		t.Fatalf("fresh upload swept: %v %v", parts.Parts, err)
	}
	skew.Store(int64(2 * time.Hour))
	st.sweep(time.Hour)
	if _, err := p.ListParts(t.Context(), providers.ListPartsRequest{Upload: providers.MultipartRef{Key: "mp/x", UploadID: up.UploadID}}); !errors.Is(err, providers.ErrNotFound) {
		t.Fatalf("ListParts after sweep: %v, want NotFound", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "uploads")); len(ents) != 0 {
		t.Fatalf("uploads left after sweep: %v", ents)
	}
}

// An upload whose only activity is a part still streaming in is active:
// the sweep keeps it, however old its last stored part is.
func TestSweepKeepsUploadReceivingAPart(t *testing.T) {
	p := NewWithClock(time.Now)
	cfg := testConfig(t)
	cfg["part_max_age"] = "1h"
	root := cfg["root"].(string)
	// The provider sweeps once when configured, then every 15 minutes. A
	// stale upload planted first shows when that first sweep is over.
	marker := filepath.Join(root, "uploads", newID())
	if err := os.MkdirAll(marker, 0o750); err != nil {
		t.Fatal(err)
	}
	stale := time.Now().Add(-3 * time.Hour)
	os.Chtimes(marker, stale, stale)
	configure(t, p, cfg)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(marker); errors.Is(err, fs.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first sweep never ran")
		}
	}
	up, err := p.CreateMultipart(t.Context(), providers.CreateMultipartRequest{Key: "mp/slow", ContentType: "a/b", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "uploads", up.UploadID)
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(dir, old, old); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(filepath.Join(dir, "upload.json"), old, old); err != nil {
		t.Fatal(err)
	}
	signed, err := p.SignParts(t.Context(), providers.SignPartsRequest{Key: "mp/slow", UploadID: up.UploadID, Parts: []providers.PartSpec{{Number: 1, Size: 128 << 10}}, TTL: time.Minute})
	rs := signed.Parts
	if err != nil {
		t.Fatal(err)
	}
	body, feed := io.Pipe()
	req, _ := http.NewRequest("PUT", rs[0].Recipe.URL, body)
	req.ContentLength = 128 << 10
	type result struct {
		status int
		err    error
	}
	res := make(chan result, 1)
	go func() {
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			res <- result{0, err}
			return
		}
		r.Body.Close()
		res <- result{r.StatusCode, nil}
	}()
	half := make([]byte, 64<<10) // more than the client buffers: it goes out
	feed.Write(half)
	// Sweep once the server streams the body into its temp file.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if m, _ := filepath.Glob(filepath.Join(root, "tmp", "*", "put-*")); len(m) > 0 {
			break
		}
		select {
		case r := <-res:
			t.Fatalf("the part PUT ended before its body was sent: %d %v", r.status, r.err)
		default:
		}
		if time.Now().After(deadline) {
			var tree []string
			filepath.Walk(root, func(p string, _ os.FileInfo, _ error) error { tree = append(tree, p); return nil })
			t.Fatalf("the part body never reached the server: %v", tree)
		}
	}
	p.cur.st.sweep(time.Hour)
	feed.Write(half)
	feed.Close()
	if r := <-res; r.err != nil || r.status != 200 {
		t.Fatalf("part PUT across a sweep: %d %v", r.status, r.err)
	}
	if parts, err := p.ListParts(t.Context(), providers.ListPartsRequest{Upload: providers.MultipartRef{Key: "mp/slow", UploadID: up.UploadID}}); err != nil || len(parts.Parts) != 1 {
		t.Fatalf("after the sweep: %v %v", parts.Parts, err)
	}
}

// A root whose filesystem ignores case (macOS's and Windows' default
// volumes) is refused: users/ann/… and users/Ann/… would be one folder.
// This machine's filesystem keeps case, so folding is simulated with a
// symlink from the upper-case name, which is what such a filesystem
// answers: the same file.
func TestCaseFoldingRootIsDetected(t *testing.T) {
	dir := t.TempDir()
	probe := filepath.Join(dir, ".valet-probe-ab12")
	if err := os.WriteFile(probe, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if caseFolds(probe) {
		t.Fatal("a case-sensitive filesystem was taken as folding case")
	}
	if err := os.Symlink(probe, filepath.Join(dir, ".VALET-PROBE-AB12")); err != nil {
		t.Fatal(err)
	}
	if !caseFolds(probe) {
		t.Error("a name found again in upper case was not taken as folding case")
	}
	// And a real root here is accepted (checkWritable runs on every Configure).
	if folds, err := checkWritable(t.TempDir()); folds || err != nil {
		t.Errorf("checkWritable on this machine = %v, %v", folds, err)
	}
}
