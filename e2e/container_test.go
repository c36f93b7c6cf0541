package e2e

import (
	"bytes"
	"crypto/rand"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/valetgw/valet/internal/testenv"
)

// The container image is built with podman (deploy/build-image.sh, as
// `make image` does), inspected, saved and unpacked into a root file system,
// and the gateway is run from that file system as the image's entrypoint
// says. podman run cannot work on this machine (the sandbox refuses the
// runtime's setrlimit), so the test plays the runtime's part: a mount and
// pid namespace with /proc mounted (unshare), the image's user, its
// environment, and chroot into the unpacked layers.

// imageConfig is the part of `podman image inspect` the test checks.
type imageConfig struct {
	User         string
	Entrypoint   []string
	Cmd          []string
	Env          []string
	Volumes      map[string]struct{}
	ExposedPorts map[string]struct{}
	WorkingDir   string
	Labels       map[string]string
}

// builtImage is the image built once for the test, unpacked.
type builtImage struct {
	Version string
	Config  imageConfig
	RootFS  string
	// UID and GID are the image's user, e.g. "65532".
	UID, GID string
}

// podmanCmd runs podman with its storage under dir, so that the test
// touches neither the machine's images nor another test's.
func podmanCmd(podman, dir string, args ...string) *exec.Cmd {
	global := []string{"--root", filepath.Join(dir, "storage"), "--runroot", filepath.Join(dir, "run"),
		"--tmpdir", filepath.Join(dir, "tmp"), "--storage-driver", "vfs", "--events-backend", "none", "--cgroup-manager", "cgroupfs"}
	return exec.Command(podman, append(global, args...)...)
}

func runOut(t *testing.T, cmd *exec.Cmd) []byte {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\nstdout: %s\nstderr: %s", strings.Join(cmd.Args, " "), err, tail(stdout.String(), 4000), tail(stderr.String(), 4000))
	}
	return stdout.Bytes()
}

// buildImage builds, inspects, saves and unpacks the image.
func buildImage(t *testing.T) *builtImage {
	t.Helper()
	podman := testenv.LookPath(t, "podman")
	if os.Geteuid() != 0 {
		testenv.Unavailable(t, "the container test runs the image with chroot and unshare, which need root")
	}
	dir := t.TempDir()
	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		t.Fatal(err)
	}
	version := "e2e-" + hex.EncodeToString(suffix)
	tag := "localhost/valet-e2e:" + version

	build := exec.Command(filepath.Join(testenv.Root(), "deploy", "build-image.sh"))
	build.Dir = testenv.Root()
	global := strings.Join(podmanCmd(podman, dir).Args, " ")
	build.Env = append(os.Environ(), "VERSION="+version, "IMAGE="+tag, "PODMAN="+global, "TMPDIR="+dir)
	if got := strings.TrimSpace(string(runOut(t, build))); got != tag {
		t.Fatalf("build-image.sh printed %q, want the tag %q", got, tag)
	}

	var inspected []struct {
		Config imageConfig
		Os     string
	}
	if err := json.Unmarshal(runOut(t, podmanCmd(podman, dir, "image", "inspect", tag)), &inspected); err != nil || len(inspected) != 1 {
		t.Fatalf("podman image inspect: %v (%d images)", err, len(inspected))
	}
	img := &builtImage{Version: version, Config: inspected[0].Config, RootFS: filepath.Join(dir, "rootfs")}
	uid, gid, ok := strings.Cut(img.Config.User, ":")
	if !ok || uid == "" || gid == "" || uid == "0" || strings.Trim(uid, "0123456789") != "" || strings.Trim(gid, "0123456789") != "" {
		t.Fatalf("image user %q, want a numeric non-root uid:gid", img.Config.User)
	}
	img.UID, img.GID = uid, gid

	archive := filepath.Join(dir, "image.tar")
	runOut(t, podmanCmd(podman, dir, "save", "--format", "docker-archive", "--output", archive, tag))
	unpackImage(t, archive, filepath.Join(dir, "saved"), img.RootFS)
	return img
}

// unpackImage extracts a docker-archive and its layers, in order, into
// rootfs, keeping owners and modes (tar as root).
func unpackImage(t *testing.T, archive, saved, rootfs string) {
	t.Helper()
	for _, d := range []string{saved, rootfs} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	runOut(t, exec.Command("tar", "-xf", archive, "-C", saved))
	b, err := os.ReadFile(filepath.Join(saved, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var manifest []struct{ Layers []string }
	if err := json.Unmarshal(b, &manifest); err != nil || len(manifest) != 1 || len(manifest[0].Layers) == 0 {
		t.Fatalf("manifest.json: %v: %s", err, b)
	}
	for _, l := range manifest[0].Layers {
		runOut(t, exec.Command("tar", "--same-owner", "--same-permissions", "-xf", filepath.Join(saved, l), "-C", rootfs))
	}
}

func TestContainerImage(t *testing.T) {
	img := buildImage(t)
	c := img.Config

	t.Run("config", func(t *testing.T) {
		if c.User != "65532:65532" {
			t.Errorf("user %q, want 65532:65532 (deploy/image/passwd, the chart's runAsUser)", c.User)
		}
		if !reflect.DeepEqual(c.Entrypoint, []string{"/valet", "serve"}) || !reflect.DeepEqual(c.Cmd, []string{"--config", "/etc/valet/valet.yaml"}) {
			t.Errorf("entrypoint %q cmd %q, want [/valet serve] [--config /etc/valet/valet.yaml]", c.Entrypoint, c.Cmd)
		}
		if _, ok := c.Volumes["/var/lib/valet"]; !ok || len(c.Volumes) != 1 {
			t.Errorf("volumes %v, want /var/lib/valet", c.Volumes)
		}
		for _, p := range []string{"8080/tcp", "8081/tcp"} {
			if _, ok := c.ExposedPorts[p]; !ok {
				t.Errorf("exposed ports %v lack %s", c.ExposedPorts, p)
			}
		}
		for k, want := range map[string]string{
			"org.opencontainers.image.version": img.Version,
			"org.opencontainers.image.title":   "valet",
			"org.opencontainers.image.source":  "https://github.com/valetgw/valet",
		} {
			if got := c.Labels[k]; got != want {
				t.Errorf("label %s = %q, want %q", k, got, want)
			}
		}
		// The commit built: HEAD then (commits may land since).
		rev := c.Labels["org.opencontainers.image.revision"]
		if len(rev) != 40 || strings.Trim(rev, "0123456789abcdef") != "" {
			t.Errorf("revision label %q, want a commit id", rev)
		} else if out, err := exec.Command("git", "-C", testenv.Root(), "merge-base", "--is-ancestor", rev, "HEAD").CombinedOutput(); err != nil {
			t.Errorf("revision label %s is not a commit of this branch: %v %s", rev, err, out)
		}
		if _, err := time.Parse(time.RFC3339, c.Labels["org.opencontainers.image.created"]); err != nil {
			t.Errorf("created label: %v", err)
		}
	})

	t.Run("filesystem", func(t *testing.T) {
		checkMode := func(rel string, mode os.FileMode, uid uint32) {
			t.Helper()
			st, err := os.Lstat(filepath.Join(img.RootFS, rel))
			if err != nil {
				t.Errorf("%s: %v", rel, err)
				return
			}
			sys := st.Sys().(*syscall.Stat_t)
			if st.Mode() != mode || sys.Uid != uid {
				t.Errorf("%s: mode %v owner %d, want %v owner %d", rel, st.Mode(), sys.Uid, mode, uid)
			}
		}
		checkMode("valet", 0o755, 0)
		checkMode("etc/valet/valet.yaml", 0o644, 0)
		checkMode("tmp", os.ModeDir|os.ModeSticky|0o777, 0)
		checkMode("var/lib/valet", os.ModeDir|0o750, 65532)
		same := func(inImage, want string) {
			t.Helper()
			a, err1 := os.ReadFile(filepath.Join(img.RootFS, inImage))
			b, err2 := os.ReadFile(want)
			if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
				t.Errorf("/%s is not %s (%v, %v)", inImage, want, err1, err2)
			}
		}
		same("etc/ssl/certs/ca-certificates.crt", "/etc/ssl/certs/ca-certificates.crt")
		same("etc/valet/valet.yaml", filepath.Join(testenv.Root(), "deploy", "image", "valet.yaml"))
		same("etc/passwd", filepath.Join(testenv.Root(), "deploy", "image", "passwd"))
		// Static: no program interpreter, so no libc is needed.
		f, err := elf.Open(filepath.Join(img.RootFS, "valet"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Error("/valet is dynamically linked")
			}
		}
		out := runOut(t, exec.Command("chroot", "--userspec="+c.User, img.RootFS, "/valet", "version"))
		if !strings.Contains(string(out), img.Version) {
			t.Errorf("valet version = %q, want %s (the build's -X main.version)", out, img.Version)
		}
	})

	// Secrets, as a Secret volume mounts them at /run/secrets/valet: files
	// readable by the image's group (defaultMode 0440, fsGroup).
	hs256 := randomSecret(t)
	secrets := filepath.Join(img.RootFS, "run", "secrets", "valet")
	if err := os.MkdirAll(secrets, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]string{"jwt-hs256": hs256, "tokens": randomSecret(t), "local-store": randomSecret(t)} {
		p := filepath.Join(secrets, name)
		if err := os.WriteFile(p, []byte(v+"\n"), 0o440); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, 0, 65532); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("local store on the volume", func(t *testing.T) {
		// The image's own default config; only the ports move (the host's
		// network is shared), through VALET_ variables.
		store := testenv.FreePort(t)
		g := runImage(t, img, nil, func(port int) []string {
			return []string{
				"VALET_SERVER__LISTEN=" + testenv.Addr(port), "VALET_SERVER__PUBLIC_URL=http://" + testenv.Addr(port),
				"VALET_STORES__DEMO__CONFIG__LISTEN=" + testenv.Addr(store), "VALET_STORES__DEMO__CONFIG__PUBLIC_URL=http://" + testenv.Addr(store),
			}
		})
		// A token the way NOTES.txt says: `valet token` inside the image.
		tok := strings.TrimSpace(string(runOut(t, exec.Command("chroot", "--userspec="+c.User, img.RootFS,
			"/valet", "token", "--config", "/etc/valet/valet.yaml", "--subject", "alice"))))
		body := uploadAndDownload(t, g, "demo", tok)
		// The bytes are on the volume, written by the image's user.
		var found []string
		root := filepath.Join(img.RootFS, "var", "lib", "valet", "demo")
		err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			b, err := os.ReadFile(p)
			if err == nil && bytes.Equal(b, body) {
				st, _ := os.Stat(p)
				found = append(found, fmt.Sprintf("%s uid %d", p, st.Sys().(*syscall.Stat_t).Uid))
			}
			return err
		})
		if err != nil || len(found) != 1 || !strings.HasSuffix(found[0], " uid "+img.UID) {
			t.Fatalf("the object on the volume: %v (%v), want one file owned by uid %s", found, err, img.UID)
		}
	})

	t.Run("s3-versitygw", func(t *testing.T) {
		srv := testenv.Versitygw(t)
		bucket := srv.CreateBucket(t, "image")
		// A config of one's own, where a ConfigMap would mount it; the S3
		// secret comes through the environment, as the chart's secretEnv.
		cfg := fmt.Sprintf(`server:
  listen: ":8080"
  public_url: "http://localhost:8080"
auth:
  jwt:
    hs256_secret_file: /run/secrets/valet/jwt-hs256
tokens:
  secret_file: /run/secrets/valet/tokens
stores:
  media:
    provider: s3
    config:
      bucket: %s
      region: %s
      endpoint: %s
      path_style: true
      access_key_id: %s
    limits:
      max_size: 1MiB
    rules:
      upload: "true"
      read: 'key.startsWith(key_prefix)'
`, bucket, srv.Region, srv.Endpoint, srv.AccessKey)
		if err := os.WriteFile(filepath.Join(img.RootFS, "etc", "valet", "s3.yaml"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		g := runImage(t, img, []string{"--config", "/etc/valet/s3.yaml"}, func(port int) []string {
			return []string{
				"VALET_SERVER__LISTEN=" + testenv.Addr(port), "VALET_SERVER__PUBLIC_URL=http://" + testenv.Addr(port),
				"VALET_STORES__MEDIA__CONFIG__SECRET_ACCESS_KEY=" + srv.SecretKey,
			}
		})
		uploadAndDownload(t, g, "media", mint(t, hs256, "alice", 10*time.Minute, nil))
	})
}

// runImage starts the image's entrypoint from its root file system, with
// args replacing its CMD when given, and env(port) added to its environment
// for a gateway on port. It waits for /readyz like the chart's readiness
// probe, retrying on another port if a free one was taken meanwhile.
func runImage(t *testing.T, img *builtImage, args []string, env func(port int) []string) *gateway {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(img.RootFS, "proc"), 0o555); err != nil {
		t.Fatal(err)
	}
	if args == nil {
		args = img.Config.Cmd
	}
	unshare, chroot := testenv.LookPath(t, "unshare"), testenv.LookPath(t, "chroot")
	for attempt := 1; ; attempt++ {
		port := testenv.FreePort(t)
		argv := []string{"--mount", "--pid", "--fork", "--mount-proc=" + filepath.Join(img.RootFS, "proc"),
			chroot, "--userspec=" + img.Config.User, img.RootFS}
		argv = append(append(argv, img.Config.Entrypoint...), args...)
		cmd := exec.Command(unshare, argv...)
		cmd.Env = append(append([]string{}, img.Config.Env...), env(port)...)
		url := "http://" + testenv.Addr(port)
		p, err := testenv.Launch(t, testenv.Spec{Name: "image gateway " + url, Cmd: cmd, Ready: testenv.HTTPStatus(url+"/readyz", http.StatusOK)})
		if err == nil {
			return &gateway{Process: p, URL: url}
		}
		if !portTaken(err) || attempt == 3 {
			t.Fatalf("the image's entrypoint did not become ready: %v", err)
		}
	}
}

// uploadAndDownload runs the seed flows through g: create an upload, PUT to
// the signed URL, complete, read the media data and GET the bytes back. It
// returns the bytes.
func uploadAndDownload(t *testing.T, g *gateway, store, token string) []byte {
	t.Helper()
	body := append([]byte("through the container image\n"), randomBytes(t, 3000)...)
	obj := upload(t, g, g, store, token, "image test.txt", "text/plain", body)
	r := g.do(t, "GET", "/v1/stores/"+store+"/objects/"+escapeKey(obj.Key), token, nil)
	want(t, r, http.StatusOK)
	md := decodeJSON[object](t, r)
	if md.Size != int64(len(body)) || md.URL == "" {
		t.Fatalf("media data = %s", r.Body)
	}
	st, got, _ := fetch(t, md.URL, nil)
	if st != http.StatusOK || !bytes.Equal(got, body) {
		t.Fatalf("signed GET: status %d, %d bytes, want 200 and the %d bytes uploaded", st, len(got), len(body))
	}
	return body
}
