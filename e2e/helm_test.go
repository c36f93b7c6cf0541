package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/valetgw/valet/internal/testenv"
)

// The chart is proven here without Kubernetes (none can run on this
// machine): helm lint, then helm template, and every rendered object decoded
// strictly into the API types of k8s.io/api (and the Prometheus Operator's
// for the ServiceMonitor), so a misspelt or misplaced field fails as the API
// server would refuse it. The tests then assert the settings that matter.

func chartDir() string { return filepath.Join(testenv.Root(), "deploy", "helm", "valet") }

// chart is one `helm template` rendering, decoded.
type chart struct {
	ServiceAccount *corev1.ServiceAccount
	ConfigMap      *corev1.ConfigMap
	Service        *corev1.Service
	Deployment     *appsv1.Deployment
	HPA            *autoscalingv2.HorizontalPodAutoscaler
	PDB            *policyv1.PodDisruptionBudget
	Ingress        *networkingv1.Ingress
	ServiceMonitor *monitoringv1.ServiceMonitor
	// Raw is helm's whole output.
	Raw string
}

// helmTemplate renders the chart (or dir) as release "valet" in namespace
// "media" with the values files and --set pairs, and returns helm's output
// and error.
func helmTemplate(t *testing.T, dir string, files []string, sets ...string) (string, error) {
	t.Helper()
	args := []string{"template", "valet", dir, "--namespace", "media"}
	for _, f := range files {
		args = append(args, "--values", f)
	}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(testenv.Tool(t, "helm"), args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("helm %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), err
}

// render is helmTemplate that must succeed, decoded strictly.
func render(t *testing.T, files []string, sets ...string) *chart {
	t.Helper()
	out, err := helmTemplate(t, chartDir(), files, sets...)
	if err != nil {
		t.Fatal(err)
	}
	c, err := decodeChart(out)
	if err != nil {
		t.Fatalf("%v\nrendered:\n%s", err, out)
	}
	return c
}

// decodeChart decodes every object of a rendering into its API type, with
// unknown and duplicate fields as errors. Each kind may appear once.
func decodeChart(out string) (*chart, error) {
	c := &chart{Raw: out}
	// The kinds the chart renders: each one's apiVersion and its field of c.
	kinds := map[string]struct {
		apiVersion string
		target     any
	}{
		"ServiceAccount":          {"v1", &c.ServiceAccount},
		"ConfigMap":               {"v1", &c.ConfigMap},
		"Service":                 {"v1", &c.Service},
		"Deployment":              {"apps/v1", &c.Deployment},
		"HorizontalPodAutoscaler": {"autoscaling/v2", &c.HPA},
		"PodDisruptionBudget":     {"policy/v1", &c.PDB},
		"Ingress":                 {"networking.k8s.io/v1", &c.Ingress},
		"ServiceMonitor":          {"monitoring.coreos.com/v1", &c.ServiceMonitor},
	}
	seen := map[string]bool{}
	for i, doc := range splitYAML(out) {
		var tm struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			return nil, fmt.Errorf("object %d: %v", i, err)
		}
		kind, ok := kinds[tm.Kind]
		if !ok {
			return nil, fmt.Errorf("object %d: unexpected kind %q", i, tm.Kind)
		}
		if seen[tm.Kind] {
			return nil, fmt.Errorf("object %d: a second %s", i, tm.Kind)
		}
		seen[tm.Kind] = true
		if tm.APIVersion != kind.apiVersion {
			return nil, fmt.Errorf("%s: apiVersion %q, want %q", tm.Kind, tm.APIVersion, kind.apiVersion)
		}
		// target is a **T field of c: decoding allocates the *T.
		if err := decodeStrict(doc, kind.target); err != nil {
			return nil, fmt.Errorf("%s does not decode strictly into its API type: %v\n%s", tm.Kind, err, doc)
		}
	}
	return c, nil
}

// decodeStrict decodes one YAML object as the API server does: field names
// match case-sensitively (encoding/json alone would take
// readOnlyRootFileSystem for readOnlyRootFilesystem), and an unknown or
// duplicate field is an error.
func decodeStrict(doc string, target any) error {
	j, err := yaml.YAMLToJSONStrict([]byte(doc))
	if err != nil {
		return err
	}
	strict, err := kjson.UnmarshalStrict(j, target, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

// splitYAML splits a multi-document stream, dropping empty documents.
func splitYAML(s string) []string {
	var docs []string
	var cur strings.Builder
	flush := func() {
		if d := cur.String(); strings.TrimSpace(stripComments(d)) != "" {
			docs = append(docs, d)
		}
		cur.Reset()
	}
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if sc.Text() == "---" {
			flush()
			continue
		}
		cur.WriteString(sc.Text() + "\n")
	}
	flush()
	return docs
}

func stripComments(d string) string {
	var b strings.Builder
	for _, l := range strings.Split(d, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// configOf is the gateway config the ConfigMap holds, parsed.
func (c *chart) configOf(t *testing.T) map[string]any {
	t.Helper()
	if c.ConfigMap == nil {
		t.Fatal("no ConfigMap rendered")
	}
	raw, ok := c.ConfigMap.Data["valet.yaml"]
	if !ok {
		t.Fatalf("ConfigMap has no valet.yaml: keys %v", c.ConfigMap.Data)
	}
	return parseYAMLMap(t, raw, "ConfigMap valet.yaml")
}

func parseYAMLMap(t *testing.T, raw, what string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatalf("%s: %v\n%s", what, err, raw)
	}
	return m
}

func (c *chart) container(t *testing.T) corev1.Container {
	t.Helper()
	if c.Deployment == nil {
		t.Fatal("no Deployment rendered")
	}
	cs := c.Deployment.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("%d containers, want 1", len(cs))
	}
	return cs[0]
}

// imageUID reads the valet user's uid and gid from the image's /etc/passwd.
func imageUID(t *testing.T) (int64, int64) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.Root(), "deploy", "image", "passwd"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(l, ":")
		if len(f) == 7 && f[0] == "valet" {
			uid, err1 := strconv.ParseInt(f[2], 10, 64)
			gid, err2 := strconv.ParseInt(f[3], 10, 64)
			if err1 != nil || err2 != nil || uid == 0 {
				t.Fatalf("deploy/image/passwd: bad valet entry %q", l)
			}
			return uid, gid
		}
	}
	t.Fatal("deploy/image/passwd has no valet user")
	return 0, 0
}

// checkPod asserts what every rendering must hold: the image's user,
// non-root, a read-only root, no capabilities, the probes, the config mount,
// a grace period that covers the drain, and secrets only by reference.
func checkPod(t *testing.T, c *chart) {
	t.Helper()
	uid, gid := imageUID(t)
	pod := c.Deployment.Spec.Template.Spec
	ctr := c.container(t)
	psc, sc := pod.SecurityContext, ctr.SecurityContext
	if psc == nil || sc == nil {
		t.Fatal("pod or container securityContext missing")
	}
	for what, ok := range map[string]bool{
		"pod runAsNonRoot":                   psc.RunAsNonRoot != nil && *psc.RunAsNonRoot,
		"pod runAsUser = image uid":          psc.RunAsUser != nil && *psc.RunAsUser == uid,
		"pod runAsGroup = image gid":         psc.RunAsGroup != nil && *psc.RunAsGroup == gid,
		"pod fsGroup = image gid":            psc.FSGroup != nil && *psc.FSGroup == gid,
		"container runAsNonRoot":             sc.RunAsNonRoot != nil && *sc.RunAsNonRoot,
		"container runAsUser = image uid":    sc.RunAsUser != nil && *sc.RunAsUser == uid,
		"readOnlyRootFilesystem":             sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem,
		"allowPrivilegeEscalation false":     sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation,
		"capabilities drop ALL, add nothing": sc.Capabilities != nil && reflect.DeepEqual(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) && len(sc.Capabilities.Add) == 0,
		"no service account token":           pod.AutomountServiceAccountToken != nil && !*pod.AutomountServiceAccountToken,
	} {
		if !ok {
			t.Errorf("%s: not so; pod %+v container %+v", what, psc, sc)
		}
	}
	// The image's entrypoint (valet serve) runs with the mounted config.
	if len(ctr.Command) != 0 || !reflect.DeepEqual(ctr.Args, []string{"--config", "/etc/valet/valet.yaml"}) {
		t.Errorf("command %q args %q, want the image's entrypoint with --config /etc/valet/valet.yaml", ctr.Command, ctr.Args)
	}
	probe := func(name string, p *corev1.Probe, path string) {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path || p.HTTPGet.Port.String() != "http" {
			t.Errorf("%s probe = %+v, want GET %s on port http", name, p, path)
		}
	}
	probe("readiness", ctr.ReadinessProbe, "/readyz")
	probe("liveness", ctr.LivenessProbe, "/healthz")
	probe("startup", ctr.StartupProbe, "/healthz")

	cfg := c.configOf(t)
	listen, _ := dig(cfg, "server", "listen").(string)
	_, port, _ := strings.Cut(listen, ":")
	if cp := containerPort(ctr, "http"); cp == 0 || strconv.Itoa(int(cp)) != port {
		t.Errorf("container port http = %d, config server.listen = %q", cp, listen)
	}
	// Drain: preStop pause + shutdown_timeout must fit in the grace period.
	shutdown := 30
	if s, ok := dig(cfg, "server", "shutdown_timeout").(string); ok {
		d, err := parseSeconds(s)
		if err != nil {
			t.Fatal(err)
		}
		shutdown = d
	}
	pause := 0
	if ctr.Lifecycle != nil && ctr.Lifecycle.PreStop != nil && ctr.Lifecycle.PreStop.Sleep != nil {
		pause = int(ctr.Lifecycle.PreStop.Sleep.Seconds)
	}
	if g := pod.TerminationGracePeriodSeconds; g == nil || int(*g) <= shutdown+pause {
		t.Errorf("terminationGracePeriodSeconds %v does not exceed preStop %ds + shutdown_timeout %ds", g, pause, shutdown)
	}
	if ctr.Resources.Requests.Cpu().IsZero() || ctr.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources = %+v, want a cpu request and a memory limit", ctr.Resources)
	}

	mounts := map[string]corev1.VolumeMount{}
	for _, m := range ctr.VolumeMounts {
		mounts[m.MountPath] = m
	}
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		vols[v.Name] = v
	}
	if m, ok := mounts["/etc/valet"]; !ok || !m.ReadOnly || vols[m.Name].ConfigMap == nil || vols[m.Name].ConfigMap.Name != c.ConfigMap.Name {
		t.Errorf("/etc/valet is not the ConfigMap %s, read-only: %+v", c.ConfigMap.Name, m)
	}
	for _, p := range []string{"/tmp", "/var/lib/valet"} {
		if _, ok := mounts[p]; !ok {
			t.Errorf("%s is not a volume; the root file system is read-only", p)
		}
	}
	checkNoInlineSecrets(t, c)
}

// secretKey matches the config keys that hold a secret inline (each has a
// *_file form), rotation lists included; see config/config.go,
// config/hooks.go and each provider's config.go.
var secretKey = regexp.MustCompile(`(?i)^(secrets?|.*_secrets?|secret_access_key|access_key_id|session_token|account_key|credentials|private_key|password)$`)

// checkNoInlineSecrets asserts that no secret value is in the rendering: no
// Secret object, no secret-looking environment value, and no inline secret
// in the config.
func checkNoInlineSecrets(t *testing.T, c *chart) {
	t.Helper()
	if regexp.MustCompile(`(?m)^kind: Secret$`).MatchString(c.Raw) {
		t.Error("the chart renders a Secret: secrets must come from existing ones")
	}
	secretish := regexp.MustCompile(`(?i)SECRET|KEY|TOKEN|PASSWORD|CREDENTIAL`)
	for _, e := range c.container(t).Env {
		if e.ValueFrom == nil && secretish.MatchString(e.Name) {
			t.Errorf("env %s has an inline value", e.Name)
		}
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, vv := range x {
				if secretKey.MatchString(k) && vv != nil && vv != "" {
					t.Errorf("config %s.%s holds a secret inline", path, k)
				}
				walk(path+"."+k, vv)
			}
		case []any:
			for i, vv := range x {
				walk(fmt.Sprintf("%s[%d]", path, i), vv)
			}
		}
	}
	walk("config", c.configOf(t))
}

func containerPort(c corev1.Container, name string) int32 {
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	return 0
}

func dig(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

func parseSeconds(s string) (int, error) {
	switch {
	case strings.HasSuffix(s, "m"):
		n, err := strconv.Atoi(strings.TrimSuffix(s, "m"))
		return n * 60, err
	case strings.HasSuffix(s, "s"):
		return strconv.Atoi(strings.TrimSuffix(s, "s"))
	}
	return 0, fmt.Errorf("shutdown_timeout %q: the test reads only s or m", s)
}

// defaultConfig is the config text of the chart's values.yaml.
func defaultConfig(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(chartDir(), "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Config string `json:"config"`
	}
	if err := yaml.Unmarshal(b, &v); err != nil || v.Config == "" {
		t.Fatalf("values.yaml: no config text (%v)", err)
	}
	return v.Config
}

// withConfig writes a values file whose config is text and returns it as
// the files argument of render and helmTemplate. (The config is a string,
// replaced whole, so --set cannot reach into it.)
func withConfig(t *testing.T, text string) []string {
	t.Helper()
	b, err := yaml.Marshal(map[string]string{"config": text})
	if err != nil {
		t.Fatal(err)
	}
	return []string{writeFile(t, filepath.Join(t.TempDir(), "config-values.yaml"), b)}
}

// edit replaces old by new in text once, failing if old is not there.
func edit(t *testing.T, text, old, new string) string {
	t.Helper()
	if !strings.Contains(text, old) {
		t.Fatalf("config has no %q to replace", old)
	}
	return strings.Replace(text, old, new, 1)
}

func TestHelmLint(t *testing.T) {
	out, err := exec.Command(testenv.Tool(t, "helm"), "lint", "--strict", chartDir()).CombinedOutput()
	if err != nil {
		t.Fatalf("helm lint --strict: %v\n%s", err, out)
	}
}

// TestHelmDefaults renders the chart's own values: one pod of the image's
// default config (a local store on the data volume), secrets mounted from
// the Secret "valet".
func TestHelmDefaults(t *testing.T) {
	c := render(t, nil)
	if c.ServiceAccount == nil || c.ConfigMap == nil || c.Service == nil || c.Deployment == nil {
		t.Fatalf("want a ServiceAccount, ConfigMap, Service and Deployment:\n%s", c.Raw)
	}
	if c.HPA != nil || c.PDB != nil || c.Ingress != nil || c.ServiceMonitor != nil {
		t.Errorf("optional objects rendered by default")
	}
	checkPod(t, c)
	if r := c.Deployment.Spec.Replicas; r == nil || *r != 1 {
		t.Errorf("replicas = %v, want 1", r)
	}
	// The chart's default config is the image's.
	img, err := os.ReadFile(filepath.Join(testenv.Root(), "deploy", "image", "valet.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.configOf(t), parseYAMLMap(t, string(img), "deploy/image/valet.yaml"); !reflect.DeepEqual(got, want) {
		t.Errorf("the chart's default config differs from the image's:\nchart: %v\nimage: %v", got, want)
	}
	// The local store's own port is exposed by the pod and the Service.
	ctr := c.container(t)
	if containerPort(ctr, "store-0") != 8081 {
		t.Errorf("container ports %+v: want store-0 8081 (stores.demo.config.listen)", ctr.Ports)
	}
	svcPorts := map[string]int32{}
	for _, p := range c.Service.Spec.Ports {
		svcPorts[p.Name] = p.Port
	}
	if svcPorts["http"] != 8080 || svcPorts["store-0"] != 8081 {
		t.Errorf("service ports %v, want http 8080 and store-0 8081", svcPorts)
	}
	if !reflect.DeepEqual(c.Service.Spec.Selector, c.Deployment.Spec.Template.Labels) {
		t.Errorf("service selector %v does not match the pod labels %v", c.Service.Spec.Selector, c.Deployment.Spec.Template.Labels)
	}
	// Secrets: the Secret "valet" mounted where the config's *_file keys point.
	var secretVol string
	for _, v := range c.Deployment.Spec.Template.Spec.Volumes {
		if v.Secret != nil && v.Secret.SecretName == "valet" {
			secretVol = v.Name
		}
	}
	mounted := false
	for _, m := range ctr.VolumeMounts {
		mounted = mounted || (m.Name == secretVol && m.MountPath == "/run/secrets/valet" && m.ReadOnly)
	}
	if secretVol == "" || !mounted {
		t.Errorf("Secret valet not mounted read-only at /run/secrets/valet")
	}
	cfg := c.configOf(t)
	for _, k := range [][]string{{"auth", "jwt", "hs256_secret_file"}, {"tokens", "secret_file"}, {"stores", "demo", "config", "secret_file"}} {
		if p, _ := dig(cfg, k...).(string); !strings.HasPrefix(p, "/run/secrets/valet/") {
			t.Errorf("config %s = %q, want a file of the mounted Secret", strings.Join(k, "."), p)
		}
	}
	// A config change rolls the pods.
	other := render(t, withConfig(t, edit(t, defaultConfig(t), "enabled: true", "enabled: false")))
	a := c.Deployment.Spec.Template.Annotations["checksum/config"]
	if a == "" || a == other.Deployment.Spec.Template.Annotations["checksum/config"] {
		t.Errorf("checksum/config %q does not follow the config", a)
	}
}

// docBlock returns the fenced yaml block of docs/deploy.md whose first line
// is marker.
func docBlock(t *testing.T, marker string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.Root(), "docs", "deploy.md"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)```yaml\n(" + regexp.QuoteMeta(marker) + "\n.*?)```")
	m := re.FindAllStringSubmatch(string(b), -1)
	if len(m) != 1 {
		t.Fatalf("docs/deploy.md: %d yaml blocks start with %q, want 1", len(m), marker)
	}
	return m[0][1]
}

// TestHelmDocumentedExample renders the scale-out values that
// docs/deploy.md shows and checks the result against the config the doc says
// the gateway then reads, so that the doc cannot drift from the chart.
func TestHelmDocumentedExample(t *testing.T) {
	values := filepath.Join(t.TempDir(), "scale-out.yaml")
	if err := os.WriteFile(values, []byte(docBlock(t, "# scale-out.yaml")), 0o600); err != nil {
		t.Fatal(err)
	}
	c := render(t, []string{values})
	checkPod(t, c)
	if r := c.Deployment.Spec.Replicas; r == nil || *r != 2 {
		t.Fatalf("replicas = %v, want 2", r)
	}
	want := parseYAMLMap(t, docBlock(t, "# /etc/valet/valet.yaml, as rendered from scale-out.yaml"), "the doc's rendered config")
	if got := c.configOf(t); !reflect.DeepEqual(got, want) {
		gotY, _ := yaml.Marshal(got)
		wantY, _ := yaml.Marshal(want)
		t.Errorf("the ConfigMap's config is not the one docs/deploy.md shows:\nrendered:\n%s\ndoc:\n%s", gotY, wantY)
	}
	// The S3 secret comes from an existing Secret through the environment.
	ref := map[string]*corev1.SecretKeySelector{}
	for _, e := range c.container(t).Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			ref[e.Name] = e.ValueFrom.SecretKeyRef
		}
	}
	if s := ref["VALET_STORES__MEDIA__CONFIG__SECRET_ACCESS_KEY"]; s == nil || s.Name == "" || s.Key == "" {
		t.Errorf("the S3 secret key is not a secretKeyRef: env %+v", c.container(t).Env)
	}
	if c.PDB == nil || c.PDB.Spec.MinAvailable == nil || c.PDB.Spec.MinAvailable.IntValue() != 1 {
		t.Errorf("PodDisruptionBudget = %+v, want minAvailable 1", c.PDB)
	}
	if c.Ingress == nil || len(c.Ingress.Spec.Rules) != 1 || len(c.Ingress.Spec.TLS) != 1 {
		t.Fatalf("Ingress = %+v, want one host with TLS", c.Ingress)
	}
	host := c.Ingress.Spec.Rules[0].Host
	if pu, _ := dig(want, "server", "public_url").(string); pu != "https://"+host {
		t.Errorf("server.public_url %q is not the Ingress host %q", pu, host)
	}
	if be := c.Ingress.Spec.Rules[0].HTTP.Paths[0].Backend.Service; be == nil || be.Name != c.Service.Name || be.Port.Name != "http" {
		t.Errorf("Ingress backend %+v, want service %s port http", be, c.Service.Name)
	}
	if c.ServiceMonitor == nil || len(c.ServiceMonitor.Spec.Endpoints) != 1 || c.ServiceMonitor.Spec.Endpoints[0].Port != "http" || c.ServiceMonitor.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("ServiceMonitor = %+v, want /metrics on port http", c.ServiceMonitor)
	}
	if len(c.container(t).Ports) != 1 {
		t.Errorf("ports %+v: an S3-only config exposes only the API", c.container(t).Ports)
	}
}

// TestHelmOptionalObjects turns on the autoscaler and the ServiceMonitor,
// and the admin listener hook (config.server.admin_listen).
func TestHelmOptionalObjects(t *testing.T) {
	// Several pods need a shared data volume for the default local store.
	shared := []string{"dataVolume.emptyDir=null", "dataVolume.persistentVolumeClaim.claimName=valet-data"}
	c := render(t, nil, append(shared, "autoscaling.enabled=true", "autoscaling.minReplicas=3", "autoscaling.maxReplicas=7",
		"serviceMonitor.enabled=true", "podDisruptionBudget.enabled=true")...)
	checkPod(t, c)
	if c.HPA == nil || *c.HPA.Spec.MinReplicas != 3 || c.HPA.Spec.MaxReplicas != 7 || c.HPA.Spec.ScaleTargetRef.Name != c.Deployment.Name {
		t.Fatalf("HPA = %+v", c.HPA)
	}
	if c.Deployment.Spec.Replicas != nil {
		t.Errorf("replicas set (%d) although the autoscaler owns them", *c.Deployment.Spec.Replicas)
	}
	if c.ServiceMonitor.Spec.Endpoints[0].Port != "http" {
		t.Errorf("ServiceMonitor port %q, want http", c.ServiceMonitor.Spec.Endpoints[0].Port)
	}
	if !reflect.DeepEqual(c.PDB.Spec.Selector.MatchLabels, c.Deployment.Spec.Selector.MatchLabels) {
		t.Errorf("PDB selector %v, want the Deployment's %v", c.PDB.Spec.Selector.MatchLabels, c.Deployment.Spec.Selector.MatchLabels)
	}

	admin := render(t, withConfig(t, edit(t, defaultConfig(t), "server:\n", "server:\n  admin_listen: \":9090\"\n")), "serviceMonitor.enabled=true")
	if containerPort(admin.container(t), "admin") != 9090 || admin.ServiceMonitor.Spec.Endpoints[0].Port != "admin" {
		t.Errorf("with server.admin_listen the pod exposes %+v and the ServiceMonitor scrapes %q, want admin 9090", admin.container(t).Ports, admin.ServiceMonitor.Spec.Endpoints[0].Port)
	}
}

// TestHelmRefuses checks the values the chart will not render, and that its
// error names the key without repeating a secret value.
func TestHelmRefuses(t *testing.T) {
	const value = "sup3r-s3cret-value-0123456789abcdef"
	def := defaultConfig(t)
	cases := []struct {
		name   string
		config string // "" keeps the default
		sets   []string
		want   string
	}{
		{"inline tokens secret", "tokens:\n  secret: " + value + "\n", nil, "config.tokens.secret:"},
		{"inline hs256 secret", "auth:\n  jwt:\n    hs256_secret: " + value + "\n", nil, "config.auth.jwt.hs256_secret:"},
		{"inline store secret", edit(t, def, "secret_file: /run/secrets/valet/local-store", "secret: "+value), nil, "config.stores.demo.config.secret:"},
		{"inline s3 key", "stores:\n  media:\n    provider: s3\n    config:\n      secret_access_key: " + value + "\n", nil, "VALET_STORES__MEDIA__CONFIG__SECRET_ACCESS_KEY"},
		// Every secret key at any depth, rotation lists and hooks included.
		{"inline tokens secrets", "tokens:\n  secrets: [" + value + "]\n", nil, "config.tokens.secrets: secrets never go in values; use tokens.secret_file"},
		{"inline hs256 secrets", "auth:\n  jwt:\n    hs256_secrets:\n      - " + value + "\n", nil, "config.auth.jwt.hs256_secrets: secrets never go in values; use auth.jwt.hs256_secret_file"},
		{"inline hooks secret", "hooks:\n  url: https://hooks.test/\n  secret: whsec_" + value + "\n", nil, "config.hooks.secret: secrets never go in values; use hooks.secret_file with secretMounts, or VALET_HOOKS__SECRET with secretEnv"},
		{"inline hooks secrets", "hooks:\n  url: https://hooks.test/\n  secrets: [whsec_" + value + "]\n", nil, "config.hooks.secrets:"},
		{"inline store hooks secret", edit(t, def, "    key_template:", "    hooks:\n      secret: whsec_"+value+"\n    key_template:"), nil, "config.stores.demo.hooks.secret: secrets never go in values; use stores.demo.hooks.secret_file with secretMounts, or VALET_STORES__DEMO__HOOKS__SECRET with secretEnv"},
		{"inline store hooks secrets", edit(t, def, "    key_template:", "    hooks:\n      secrets: [whsec_"+value+"]\n    key_template:"), nil, "config.stores.demo.hooks.secrets:"},
		{"inline local secrets", edit(t, def, "secret_file: /run/secrets/valet/local-store", "secrets: ["+value+"]"), nil, "config.stores.demo.config.secrets:"},
		{"inline s3 session token", "stores:\n  media:\n    provider: s3\n    config:\n      session_token: " + value + "\n", nil, "config.stores.media.config.session_token: secrets never go in values; use stores.media.config.session_token_file with secretMounts, or VALET_STORES__MEDIA__CONFIG__SESSION_TOKEN with secretEnv"},
		{"inline azure key", "stores:\n  media:\n    provider: azure\n    config:\n      account_key: " + value + "\n", nil, "config.stores.media.config.account_key:"},
		{"inline gcs credentials object", "stores:\n  media:\n    provider: gcs\n    config:\n      credentials:\n        private_key: " + value + "\n", nil, "config.stores.media.config.credentials"},
		{"inline plugin store secret", "stores:\n  media:\n    provider: example\n    config:\n      nested:\n        api_secret: " + value + "\n", nil, "config.stores.media.config.nested.api_secret:"},
		// The chart does not know every plugin's schema: any key of that name, even in a list.
		{"inline secret in a list", "plugins:\n  dir: /plugins\n  extra:\n    - name: x\n      client_secret: " + value + "\n", nil, "config.plugins.extra[0].client_secret: secrets never go in values"},
		{"inline secret of another case", "tokens:\n  Secret: " + value + "\n", nil, "config.tokens.Secret:"},
		{"config not a map", "- just\n- a list\n", nil, "config: not a YAML map"},
		{"grace shorter than the drain", "", []string{"terminationGracePeriodSeconds=30"}, "terminationGracePeriodSeconds (30) must be longer"},
		{"grace shorter than a longer drain", edit(t, def, "server:\n", "server:\n  shutdown_timeout: 1m\n"), nil, "server.shutdown_timeout (1m)"},
		{"two pods on one emptyDir local store", "", []string{"replicaCount=2"}, "needs a shared dataVolume"},
		{"listen without a port", edit(t, def, `listen: ":8080"`, `listen: "localhost"`), nil, "config.server.listen:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var files []string
			if tc.config != "" {
				files = withConfig(t, tc.config)
			}
			out, err := helmTemplate(t, chartDir(), files, tc.sets...)
			if err == nil {
				t.Fatalf("rendered, want an error containing %q:\n%s", tc.want, out)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), value) {
				t.Fatalf("the error repeats the secret value: %v", err)
			}
		})
	}
}

// TestHelmStrictDecoding shows that the decoding above catches a misspelt
// field, a field in the wrong case and a duplicate one.
func TestHelmStrictDecoding(t *testing.T) {
	c := render(t, nil)
	for _, tc := range []struct{ name, old, new, want string }{
		{"misspelt", "readOnlyRootFilesystem:", "readOnlyRootFilesytem:", "readOnlyRootFilesytem"},
		{"wrong case", "readOnlyRootFilesystem:", "readOnlyRootFileSystem:", "readOnlyRootFileSystem"},
		{"misplaced", "      terminationGracePeriodSeconds:", "      terminationGraceSeconds:", "terminationGraceSeconds"},
		{"duplicate", "          imagePullPolicy: IfNotPresent\n", "          imagePullPolicy: IfNotPresent\n          imagePullPolicy: Always\n", "imagePullPolicy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := strings.Replace(c.Raw, tc.old, tc.new, 1)
			if bad == c.Raw {
				t.Fatalf("rendering has no %q", tc.old)
			}
			if _, err := decodeChart(bad); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("decoded without an error naming %q (err %v)", tc.want, err)
			}
		})
	}
}

// TestHelmNotes renders NOTES.txt (helm template leaves it out, so a copy of
// the chart includes it in a ConfigMap) and checks it tells how to get a
// token and reach the demo.
func TestHelmNotes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "valet")
	if out, err := exec.Command("cp", "-r", chartDir(), dir).CombinedOutput(); err != nil {
		t.Fatalf("copy chart: %v %s", err, out)
	}
	probe := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: notes}\ndata:\n  notes: {{ include \"valet/templates/NOTES.txt\" . | quote }}\n"
	if err := os.WriteFile(filepath.Join(dir, "templates", "zz-notes.yaml"), []byte(probe), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := helmTemplate(t, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var notes string
	for _, doc := range splitYAML(out) {
		var cm corev1.ConfigMap
		if yaml.Unmarshal([]byte(doc), &cm) == nil && cm.Name == "notes" {
			notes = cm.Data["notes"]
		}
	}
	for _, want := range []string{
		"kubectl -n media create secret generic valet",
		"kubectl -n media exec deploy/valet -- /valet token --config /etc/valet/valet.yaml --subject dev",
		"kubectl -n media port-forward svc/valet 8080:8080 8081:8081",
		"http://localhost:8080/#token=$TOKEN",
	} {
		if !strings.Contains(notes, want) {
			t.Errorf("NOTES.txt lacks %q:\n%s", want, notes)
		}
	}
}
