package host_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/valetgw/valet/plugins"
	"github.com/valetgw/valet/plugins/host"
	"github.com/valetgw/valet/providers"
)

// A plugin process's hclog JSON lines and the host's own events arrive in a
// slog JSON log (the gateway's) with its keys: time, level and msg, the
// plugin and store, the plugin's attributes under fields, its level mapped,
// one timestamp, and no secret.
func TestPluginLinesInGatewaySchema(t *testing.T) {
	t.Setenv(plugins.LogLevelEnv, "trace")
	const secret = "s3cr3t-must-not-be-logged"
	logs := &capturedLog{}
	gateway := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := newHost(t, func(o *host.Options) { o.Logger = host.SlogLogger(gateway.Handler()) })
	gateway.Info("gateway line", "store", "s")
	p, err := h.Start(context.Background(), host.Spec{Store: "s", Plugin: "test", Config: config(t, testConfig{Secret: secret})})
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().Add(-time.Second)
	if _, err := p.Head(context.Background(), providers.HeadRequest{Key: "log"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the plugin's warn line", func() bool { return len(logs.lines("msg", "provider warn line")) > 0 })
	_ = p.Close()

	all := logs.lines("", "")
	if len(all) < 4 {
		t.Fatalf("want the gateway's, the host's and the plugin's lines, got:\n%s", logs.text())
	}
	for _, e := range all {
		for _, k := range []string{"time", "level", "msg"} {
			if _, ok := e[k]; !ok {
				t.Errorf("line without %q: %v", k, e)
			}
		}
		for _, k := range []string{"@timestamp", "timestamp", "@level", "@message", "@module"} {
			if _, ok := e[k]; ok {
				t.Errorf("line with hclog's %q: %v", k, e)
			}
			if f, ok := e["fields"].(map[string]any); ok && f[k] != nil {
				t.Errorf("plugin fields with hclog's %q: %v", k, e)
			}
		}
		if e["msg"] != "gateway line" && (e["plugin"] != "test" || e["store"] != "s") {
			t.Errorf("host line without plugin test and store s: %v", e)
		}
	}
	if strings.Contains(logs.text(), secret) {
		t.Errorf("the store's secret is in the log:\n%s", logs.text())
	}

	warn := logs.lines("msg", "provider warn line")
	if len(warn) != 1 {
		t.Fatalf("want one warn line, got %v", warn)
	}
	w := warn[0]
	if w["level"] != "WARN" {
		t.Errorf("warn line at level %v", w["level"])
	}
	fields, _ := w["fields"].(map[string]any)
	if len(fields) != 2 || fields["bucket"] != "b" || fields["attempt"] != float64(2) {
		t.Errorf("warn line's fields = %v, want bucket b and attempt 2", w["fields"])
	}
	// The record's time is the plugin's (hclog's millisecond precision).
	at, err := time.Parse(time.RFC3339Nano, w["time"].(string))
	if err != nil || at.Before(before) || at.After(time.Now()) {
		t.Errorf("warn line's time %v (%v), want the moment the plugin logged it", w["time"], err)
	}
	if d := logs.lines("msg", "provider debug line"); len(d) != 1 || d[0]["level"] != "DEBUG" {
		t.Errorf("debug line = %v, want one at DEBUG", d)
	}
	// The gateway logs at debug: the plugin's trace line is dropped.
	if tr := logs.lines("msg", "provider trace line"); len(tr) != 0 {
		t.Errorf("trace line logged by a debug gateway: %v", tr)
	}
	// A host event (go-plugin's, at debug) has its attributes at the top.
	if started := logs.lines("msg", "starting plugin"); len(started) == 0 || started[0]["path"] == nil {
		t.Errorf("host event 'starting plugin' = %v, want one with its path", started)
	}
}

// SlogLogger words hclog's arguments as hclog would: durations and errors
// as text, a non-string key printed, a missing last value named, a Format
// applied; With adds attributes, the first Named names the plugin and later
// ones do not rename it, and the level is the handler's.
func TestSlogLoggerArguments(t *testing.T) {
	logs := &capturedLog{}
	l := host.SlogLogger(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if l.GetLevel() != hclog.Info || l.IsDebug() || !l.IsInfo() {
		t.Errorf("level %v (debug %v, info %v), want the handler's info", l.GetLevel(), l.IsDebug(), l.IsInfo())
	}
	p := l.Named("s3").With("store", "media").Named("valet")
	p.Debug("dropped")
	p.Warn("args", "took", 1500*time.Millisecond, "err", errors.New("boom"), 7, "seven",
		"f", hclog.Fmt("%d parts", 3), "empty", hclog.Format{}, "last")
	p.StandardLogger(nil).Print("from the standard logger")
	got := logs.lines("", "")
	if len(got) != 2 {
		t.Fatalf("want 2 lines, got:\n%s", logs.text())
	}
	w := got[0]
	want := map[string]any{"level": "WARN", "msg": "args", "plugin": "s3", "store": "media", "took": "1.5s", "err": "boom",
		"7": "seven", "f": "3 parts", "EXTRA_VALUE_AT_END": "last"}
	for k, v := range want {
		if w[k] != v {
			t.Errorf("%s = %v, want %v (line %v)", k, w[k], v, w)
		}
	}
	if e, ok := w["empty"].([]any); !ok || len(e) != 0 {
		t.Errorf("empty Format = %#v, want []", w["empty"])
	}
	if s := got[1]; s["msg"] != "from the standard logger" || s["level"] != "INFO" || s["plugin"] != "s3" {
		t.Errorf("standard logger line = %v", s)
	}
}
