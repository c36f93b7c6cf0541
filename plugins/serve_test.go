package plugins_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/valetgw/valet/plugins"
	"github.com/valetgw/valet/providers/memprovider"
)

// Serve reports what keeps it from serving instead of exiting.
func TestServeReturnsErrors(t *testing.T) {
	t.Setenv("VALET_PLUGIN_MAGIC_COOKIE", "")
	// Any provider will do: the shared test double.
	mem := memprovider.New()
	defer mem.Close()
	if err := plugins.Serve(mem); !errors.Is(err, plugins.ErrNoHost) {
		t.Errorf("Serve run by hand = %v, want ErrNoHost", err)
	}
	if err := plugins.Serve(nil); err == nil {
		t.Error("Serve(nil) = nil")
	}
	ctx := context.Background()
	attached := func(plugins.Reattach) {}
	for name, opts := range map[string][]plugins.ServeOption{
		"nil logger":        {plugins.WithLogger(nil)},
		"nil option":        {nil},
		"debug and test":    {plugins.WithDebug(), plugins.WithTest(ctx, attached)},
		"test twice":        {plugins.WithTest(ctx, attached), plugins.WithTest(ctx, attached)},
		"test without func": {plugins.WithTest(ctx, nil)},
	} {
		if err := plugins.Serve(mem, opts...); err == nil || errors.Is(err, plugins.ErrNoHost) {
			t.Errorf("%s: Serve = %v, want an option error", name, err)
		}
	}
	if _, err := plugins.NewServer(mem, plugins.WithDebug()); err == nil || !strings.Contains(err.Error(), "WithDebug") {
		t.Errorf("NewServer(WithDebug) = %v, want an error naming the option", err)
	}
	if _, err := plugins.NewServer(mem, plugins.WithLogger(hclog.NewNullLogger())); err != nil {
		t.Errorf("NewServer(WithLogger) = %v", err)
	}
}

func TestParseReattach(t *testing.T) {
	r := plugins.Reattach{Network: "unix", Addr: "/tmp/plugin1", Pid: 42}
	env := r.Env("mystore")
	v, ok := strings.CutPrefix(env, plugins.ReattachEnv+"='")
	if !ok {
		t.Fatalf("Env = %q", env)
	}
	got, err := plugins.ParseReattach(strings.TrimSuffix(v, "'"))
	if err != nil || len(got) != 1 || got["mystore"] != r {
		t.Fatalf("ParseReattach(Env) = %+v, %v", got, err)
	}
	if m, err := plugins.ParseReattach(" "); m != nil || err != nil {
		t.Errorf("empty value = %v, %v", m, err)
	}
	for _, bad := range []string{`[]`, `{"x":{"network":"udp","addr":"a","pid":1}}`, `{"x":{"network":"unix","addr":"","pid":1}}`, `{"x":{"network":"tcp","addr":"h:1"}}`} {
		if _, err := plugins.ParseReattach(bad); err == nil || !strings.Contains(err.Error(), plugins.ReattachEnv) {
			t.Errorf("ParseReattach(%s) = %v, want an error naming %s", bad, err, plugins.ReattachEnv)
		}
	}
}
