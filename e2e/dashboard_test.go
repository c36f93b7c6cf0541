package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/valetgw/valet/internal/testenv"
)

// metricName finds the metric names in a PromQL expression: Valet's own
// and the Go client's runtime and process series.
var metricName = regexp.MustCompile(`\b(?:valet|go|process)_[a-z0-9_]+\b`)

// dashboardExprs returns every PromQL expression of deploy/grafana/valet.json
// (panel targets and query variables).
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(testenv.Root(), "deploy", "grafana", "valet.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Type       string `json:"type"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("deploy/grafana/valet.json: %v", err)
	}
	var exprs []string
	for _, p := range d.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if len(metricName.FindAllString(tg.Expr, -1)) == 0 {
				t.Errorf("panel %q: expression %q names no metric", p.Title, tg.Expr)
			}
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range d.Templating.List {
		if v.Type == "query" {
			exprs = append(exprs, v.Definition)
		}
	}
	return exprs
}

// exported is the set of series names of a scrape with at least one
// sample: for a histogram, its _bucket, _sum and _count series.
func exported(fams map[string]*dto.MetricFamily) map[string]bool {
	names := map[string]bool{}
	for name, f := range fams {
		if len(f.GetMetric()) == 0 {
			continue
		}
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM:
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[name+s] = true
			}
		case dto.MetricType_SUMMARY:
			names[name], names[name+"_sum"], names[name+"_count"] = true, true, true
		default:
			names[name] = true
		}
	}
	return names
}

// TestDashboardMetricsExist runs the real gateway with the admin listener
// and a hook, exercises every series Valet exports (an upload with its
// hook deliveries, a read, a listing, a missing object, a reload applied
// and one rejected), scrapes the admin listener's /metrics, and checks
// that every metric the Grafana dashboard queries is exported, and every
// valet_ metric exported is on the dashboard. The public listener no
// longer serves /metrics.
func TestDashboardMetricsExist(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, "{}")
	}))
	t.Cleanup(hook.Close)
	store := gatewayStores(t, localBackend(t))["media"].(map[string]any)
	store["hooks"] = map[string]any{"url": hook.URL + "/valet-hook", "secret": "whsec_" + randomSecret(t)}
	env := newGatewayEnv(t, map[string]any{"media": store})
	admin := "http://" + testenv.Addr(testenv.FreePort(t))
	g := startGateway(t, env, "VALET_SERVER__ADMIN_LISTEN="+strings.TrimPrefix(admin, "http://"))

	token := mint(t, env.HS256, "dash", time.Hour, nil)
	obj := upload(t, g, g, "media", token, "dash.txt", "text/plain", randomBytes(t, 512))
	want(t, g.do(t, "GET", "/v1/stores/media/objects/"+escapeKey(obj.Key), token, nil), http.StatusOK)
	want(t, g.do(t, "GET", "/v1/stores/media/objects?prefix=users/dash/", token, nil), http.StatusOK)
	want(t, g.do(t, "GET", "/v1/stores/media/objects/users/dash/missing.txt", token, nil), http.StatusNotFound)

	if err := g.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(t, g, "configuration reloaded", 1, "the reload")
	writeFile(t, env.ConfigPath, []byte("server: [not, a, map]\n"))
	if err := g.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(t, g, "reload rejected", 1, "the rejected reload")

	if r := g.do(t, "GET", "/metrics", "", nil); r.Status != http.StatusNotFound {
		t.Errorf("public /metrics with server.admin_listen set: %s, want 404", r)
	}
	res, err := http.Get(admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("admin /metrics: %d %v", res.StatusCode, err)
	}
	if res, err := http.Get(admin + "/debug/pprof/cmdline"); err != nil || res.StatusCode != http.StatusOK {
		t.Errorf("admin pprof: %v %v", res, err)
	} else {
		res.Body.Close()
	}

	have := exported(fams)
	used := map[string]bool{}
	for _, e := range dashboardExprs(t) {
		for _, name := range metricName.FindAllString(e, -1) {
			used[name] = true
			if !have[name] {
				t.Errorf("the dashboard queries %s, which the gateway does not export (in %s)", name, e)
			}
		}
	}
	var unused []string
	for name, f := range fams {
		if !strings.HasPrefix(name, "valet_") {
			continue
		}
		covered := used[name]
		if f.GetType() == dto.MetricType_HISTOGRAM {
			covered = used[name+"_bucket"] || used[name+"_sum"] || used[name+"_count"]
		}
		if !covered {
			unused = append(unused, name)
		}
	}
	slices.Sort(unused)
	if len(unused) > 0 {
		t.Errorf("exported but not on the dashboard: %v", unused)
	}

	// The series exercised hold what happened.
	for _, c := range []struct{ family, labels string }{
		{"valet_provider_calls_total", `code="OK" op="sign_put" provider="local" store="media"`},
		{"valet_provider_calls_total", `code="NotFound" op="head" provider="local" store="media"`},
		{"valet_signed_urls_total", `op="put" store="media"`},
		{"valet_signed_urls_total", `op="get" store="media"`},
		{"valet_plugin_up", `plugin="local" store="media"`},
		{"valet_config_reloads_total", `outcome="applied"`},
		{"valet_config_reloads_total", `outcome="rejected"`},
		{"valet_hook_deliveries_total", `event="upload.complete" outcome="accepted" store="media"`},
	} {
		if v, ok := sample(fams[c.family], c.labels); !ok || v < 1 {
			t.Errorf("%s{%s} = %v (present %v), want at least 1", c.family, c.labels, v, ok)
		}
	}
	if v, ok := sample(fams["valet_plugin_gave_up"], `plugin="local" store="media"`); !ok || v != 0 {
		t.Errorf("valet_plugin_gave_up = %v (present %v), want 0", v, ok)
	}
}

// sample finds the value of the series of f whose labels, sorted and
// written name="value" with spaces between, are labels.
func sample(f *dto.MetricFamily, labels string) (float64, bool) {
	for _, m := range f.GetMetric() {
		var ls []string
		for _, l := range m.GetLabel() {
			ls = append(ls, l.GetName()+`="`+l.GetValue()+`"`)
		}
		slices.Sort(ls)
		if strings.Join(ls, " ") != labels {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		}
	}
	return 0, false
}
