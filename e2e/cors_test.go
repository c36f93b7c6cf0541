package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/valetgw/valet/internal/testenv"
)

// corsReport is what `valet cors show|apply --json` prints.
type corsReport struct {
	Store        string     `json:"store"`
	Provider     string     `json:"provider"`
	Origins      []string   `json:"origins"`
	Needed       corsRule   `json:"needed"`
	Current      []corsRule `json:"current"`
	CurrentError string     `json:"current_error"`
	Satisfied    bool       `json:"satisfied"`
	Add          []corsRule `json:"add"`
	Remove       []corsRule `json:"remove"`
	Apply        bool       `json:"apply"`
	Applied      bool       `json:"applied"`
	Error        string     `json:"error"`
}

type corsRule struct {
	AllowedOrigins []string `json:"allowed_origins"`
	AllowedMethods []string `json:"allowed_methods"`
	AllowedHeaders []string `json:"allowed_headers"`
	ExposeHeaders  []string `json:"expose_headers"`
	MaxAgeSeconds  int      `json:"max_age_seconds"`
}

// valetRun runs the real binary with args and returns its stdout, stderr
// and exit status.
func valetRun(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testenv.ValetBinary(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return stdout.String(), stderr.String(), 0
	case errors.As(err, &ee):
		return stdout.String(), stderr.String(), ee.ExitCode()
	}
	t.Fatalf("valet %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	return "", "", 0
}

// valetCORS runs `valet cors VERB STORE --json` (and extra flags) and
// decodes its report.
func valetCORS(t *testing.T, config, verb, store string, extra ...string) (corsReport, int, string) {
	t.Helper()
	args := append([]string{"cors", verb, "--config", config, store, "--json", "--timeout", "60s"}, extra...)
	stdout, stderr, exit := valetRun(t, args...)
	var rep corsReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("valet %s printed no report (%v):\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout, tail(stderr, 2000))
	}
	return rep, exit, stderr
}

// doctorOn runs `valet doctor --json` for one store of config.
func doctorOn(t *testing.T, config, store string) doctorRun {
	t.Helper()
	stdout, stderr, exit := valetRun(t, "doctor", "--config", config, store, "--json", "--timeout", "60s")
	r := doctorRun{stdout: stdout, stderr: stderr, exit: exit}
	if err := json.Unmarshal([]byte(stdout), &r.report); err != nil || len(r.report.Stores) != 1 {
		t.Fatalf("valet doctor --json printed no report of one store (%v):\n%s\nstderr:\n%s", err, stdout, tail(stderr, 2000))
	}
	return r
}

// TestCORSApply starts from a bucket without CORS on each backend that has
// bucket CORS: doctor names the missing rules, `valet cors apply` without
// --yes changes nothing, with --yes it sets the rule, doctor is then all
// ✔ and the demo page in Chromium uploads (a single PUT and a multipart
// upload) and downloads through the bucket it configured. On MinIO apply
// says it cannot and what to set instead.
func TestCORSApply(t *testing.T) {
	demo := testenv.DemoDriver(t)
	inputs := browserInputs(t)
	cases := []struct {
		name, provider string
		setup          func(t *testing.T) map[string]any
	}{
		{"s3-versitygw", "s3", func(t *testing.T) map[string]any {
			srv := testenv.Versitygw(t)
			return s3StoreConfig(t, srv, srv.CreateBucket(t, "cors"))
		}},
		{"gcs", "gcs", func(t *testing.T) map[string]any {
			// The proxy answers CORS like a bucket whose rules allow
			// another origin only, until rules are set on the bucket.
			return startGCS(t, []string{"http://elsewhere.example"}).config(t, "key")
		}},
		{"azure", "azure", func(t *testing.T) map[string]any {
			// An Azurite of its own: CORS is account-wide, and a new one
			// has none.
			az := testenv.StartAzurite(t)
			return azureStoreConfig(t, az, az.NewContainer(t))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			port := testenv.FreePort(t)
			origins := []string{"http://" + testenv.Addr(port)}
			b := backend{Name: c.name, Provider: c.provider, Setup: func(t *testing.T, _ []string) map[string]any { return c.setup(t) }}
			env, g := startDemoGateway(t, port, origins, map[string]any{"media": browserStore(t, b, origins, nil)})

			before := doctorOn(t, env.ConfigPath, "media")
			before.fault(t, "cors", "")

			show, exit, _ := valetCORS(t, env.ConfigPath, "show", "media")
			if exit != 0 || show.Satisfied || show.Current == nil || !reflect.DeepEqual(show.Needed.AllowedOrigins, origins) {
				t.Fatalf("cors show on a bucket without CORS: exit %d, %+v", exit, show)
			}
			for _, m := range []string{"GET", "HEAD", "PUT"} {
				if !hasFold(show.Needed.AllowedMethods, m) {
					t.Errorf("needed methods %v lack %s", show.Needed.AllowedMethods, m)
				}
			}
			// content-type: the browser sends the file's type when the
			// recipe has none; range: players.
			if !hasFold(show.Needed.ExposeHeaders, "ETag") || !hasFold(show.Needed.AllowedHeaders, "content-type") || !hasFold(show.Needed.AllowedHeaders, "range") {
				t.Errorf("needed rule %+v: want ETag exposed, content-type and range allowed", show.Needed)
			}
			// Azure checks Content-MD5 without binding it: an upload that
			// declares an MD5 sends it, so its preflight asks for it.
			if c.provider == "azure" && !hasFold(show.Needed.AllowedHeaders, "content-md5") {
				t.Errorf("needed rule %+v: want content-md5 allowed (Azure recipes carry a declared MD5)", show.Needed)
			}
			t.Logf("needed: %+v", show.Needed)

			dry, exit, _ := valetCORS(t, env.ConfigPath, "apply", "media")
			if exit != 0 || dry.Applied || len(dry.Add) != 1 || !reflect.DeepEqual(dry.Add[0], show.Needed) {
				t.Fatalf("cors apply without --yes: exit %d, %+v; want the needed rule to add and nothing applied", exit, dry)
			}
			again, _, _ := valetCORS(t, env.ConfigPath, "show", "media")
			if !reflect.DeepEqual(again.Current, show.Current) || again.Satisfied {
				t.Fatalf("the rules changed without --yes: %+v, then %+v", show.Current, again.Current)
			}

			applied, exit, stderr := valetCORS(t, env.ConfigPath, "apply", "media", "--yes")
			if exit != 0 || !applied.Applied || !applied.Satisfied || applied.Error != "" {
				t.Fatalf("cors apply --yes: exit %d, %+v\n%s", exit, applied, tail(stderr, 2000))
			}
			if again, _, _ := valetCORS(t, env.ConfigPath, "apply", "media"); !again.Satisfied || len(again.Add) != 0 {
				t.Errorf("a second apply after --yes: %+v; want nothing to change", again)
			}

			doctorOn(t, env.ConfigPath, "media").healthy(t)

			// The demo page, served by the gateway, uploads straight to the
			// bucket it configured.
			token := mint(t, env.HS256, "alice", time.Hour, nil)
			dir := t.TempDir()
			cfg := map[string]any{
				"playwright": demo.Playwright, "gateway": g.URL, "store": "media", "token": token,
				"expired_token": mint(t, env.HS256, "alice", -10*time.Minute, nil),
				"denied_token":  mint(t, env.HS256, "bob", time.Hour, map[string]any{"role": "viewer"}),
				"files":         map[string]string{"small": inputs["small-8MiB.bin"].Path, "large": inputs["large-64MiB.bin"].Path},
				"download_dir":  filepath.Join(dir, "downloads"), "user_data_dir": filepath.Join(dir, "chromium"),
				"throttle_bps": 12 * mib, "scenarios": []string{"upload"},
			}
			var rep browserReport
			demo.Run(t, dir, cfg, 8*time.Minute, &rep)
			rep.scenario(t, "upload", func(t *testing.T, raw json.RawMessage) {
				var f struct {
					Small, Large struct {
						digest
						Parts int `json:"parts"`
					}
				}
				mustJSON(t, raw, &f)
				sameBytes(t, "small-8MiB.bin", f.Small.digest, inputs["small-8MiB.bin"])
				sameBytes(t, "large-64MiB.bin", f.Large.digest, inputs["large-64MiB.bin"])
				if f.Large.Parts != 8 {
					t.Errorf("64 MiB: %d parts, want 8", f.Large.Parts)
				}
			})
		})
	}

	t.Run("minio", func(t *testing.T) {
		srv := testenv.MinIO(t)
		env := newGatewayEnv(t, map[string]any{"media": map[string]any{
			"provider": "minio", "config": s3StoreConfig(t, srv, srv.CreateBucket(t, "cors")),
			"key_template": "users/{subject}/{uuid}/{filename}",
			"rules":        map[string]any{"upload": "true", "read": `key.startsWith(key_prefix)`},
		}})
		show, exit, _ := valetCORS(t, env.ConfigPath, "show", "media")
		if exit != 0 || show.Current != nil || !strings.Contains(show.CurrentError, "MINIO_API_CORS_ALLOW_ORIGIN") {
			t.Fatalf("cors show on MinIO: exit %d, %+v; want the current rules unknown, saying what to set", exit, show)
		}
		dry, exit, _ := valetCORS(t, env.ConfigPath, "apply", "media")
		if exit != 0 || dry.Applied || dry.Error != "" {
			t.Fatalf("cors apply without --yes on MinIO: exit %d, %+v; want a dry run", exit, dry)
		}
		rep, exit, _ := valetCORS(t, env.ConfigPath, "apply", "media", "--yes")
		if exit == 0 || rep.Applied || !strings.Contains(rep.Error, "501") || !strings.Contains(rep.Error, "MINIO_API_CORS_ALLOW_ORIGIN") ||
			!strings.Contains(rep.Error, testOrigin) {
			t.Fatalf("cors apply --yes on MinIO: exit %d, %+v; want a non-zero exit naming the 501, MINIO_API_CORS_ALLOW_ORIGIN and the rule for %s", exit, rep, testOrigin)
		}
		// The text form says the same to a person.
		stdout, _, exit := valetRun(t, "cors", "apply", "--config", env.ConfigPath, "media", "--yes")
		if exit == 0 || !strings.Contains(stdout, "not applied") || !strings.Contains(stdout, "MINIO_API_CORS_ALLOW_ORIGIN") {
			t.Fatalf("cors apply --yes on MinIO (text): exit %d\n%s", exit, stdout)
		}
	})
}

func hasFold(list []string, v string) bool {
	for _, l := range list {
		if strings.EqualFold(l, v) {
			return true
		}
	}
	return false
}
