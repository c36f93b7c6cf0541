package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/valetgw/valet/providers"
)

// readyStore is GET /readyz's status code and its entry for store.
func (h *harness) readyStore(store string) (int, storeState) {
	h.t.Helper()
	r := h.do("GET", "/readyz", "", nil)
	var body struct {
		Stores map[string]storeState `json:"stores"`
	}
	if err := jsonUnmarshal(r.body, &body); err != nil {
		h.t.Fatalf("readyz: %d %s: %v", r.status, r.body, err)
	}
	s, ok := body.Stores[store]
	if !ok {
		h.t.Fatalf("readyz lacks stores.%s: %s", store, r.body)
	}
	return r.status, s
}

// backendUp is valet_store_backend_up{store} as /metrics serves it.
func (h *harness) backendUp(store string) string {
	h.t.Helper()
	body := string(h.do("GET", "/metrics", "", nil).body)
	prefix := fmt.Sprintf("valet_store_backend_up{store=%q} ", store)
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			return v
		}
	}
	h.t.Fatalf("/metrics lacks %s", prefix)
	return ""
}

// A backend that fails as unavailable shows in /readyz (still 200: the
// replica can serve) and in the gauge; after three failures in a row the
// store answers 503 with Retry-After without calling the provider, until
// the cooldown has passed and a trial call finds the backend back.
func TestStoreDownShowsAndAnswersAtOnce(t *testing.T) {
	h := newHarness(t, "")
	tok := h.token("alice", nil)
	list := func() resp { return h.do("GET", "/v1/stores/media/objects?prefix=users/alice/", tok, nil) }
	calls := func() float64 {
		return testutil.ToFloat64(h.srv.metrics.calls.WithLabelValues("media", "fake", "list", "Unavailable"))
	}

	status, s := h.readyStore("media")
	if status != 200 || !s.Up || s.Plugin != "up" || s.Backend != "up" || s.LastOutcome != "none" || s.LastContact != nil || s.Circuit != "closed" {
		t.Fatalf("fresh store: %d %+v", status, s)
	}
	if v := h.backendUp("media"); v != "1" {
		t.Errorf("valet_store_backend_up before any call = %s, want 1", v)
	}
	if r := list(); r.status != 200 {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	if _, s := h.readyStore("media"); s.LastOutcome != "ok" || s.LastContact == nil {
		t.Fatalf("after a list: %+v", s)
	}

	h.fake.SetDown(true)
	for i := range circuitTrips {
		if r := list(); r.status != 503 || r.code() != "provider_unavailable" {
			t.Fatalf("list %d with the backend down: %d %s", i, r.status, r.body)
		}
	}
	if got := calls(); got != circuitTrips {
		t.Fatalf("provider list calls answered Unavailable = %v, want %d", got, circuitTrips)
	}
	status, s = h.readyStore("media")
	if status != 200 || s.Up || s.Plugin != "up" || s.Backend != "down" || s.LastOutcome != "unavailable" || s.Circuit != "open" || s.LastContact == nil {
		t.Fatalf("backend down: readyz %d %+v, want 200 with the store down and its circuit open", status, s)
	}
	if v := h.backendUp("media"); v != "0" {
		t.Errorf("valet_store_backend_up with the backend down = %s, want 0", v)
	}

	// Open: answered at once, the provider not called, even once it is back.
	r := list()
	if r.status != 503 || r.code() != "provider_unavailable" || r.header.Get("Retry-After") != "5" {
		t.Fatalf("open circuit: %d %v %s", r.status, r.header, r.body)
	}
	h.fake.SetDown(false)
	if r := list(); r.status != 503 {
		t.Fatalf("open circuit, backend back: %d %s", r.status, r.body)
	}
	if got := calls(); got != circuitTrips {
		t.Errorf("the open circuit called the provider: %v Unavailable list calls, want %d", got, circuitTrips)
	}
	if strings.Contains(h.logs.String(), tokSecret) {
		t.Error("the log carries the token secret")
	}

	h.skew.Add(int64(circuitCooldown + time.Second))
	if _, s := h.readyStore("media"); s.Circuit != "half_open" {
		t.Fatalf("after the cooldown: %+v, want half_open", s)
	}
	if r := list(); r.status != 200 {
		t.Fatalf("trial call with the backend back: %d %s", r.status, r.body)
	}
	status, s = h.readyStore("media")
	if status != 200 || !s.Up || s.Backend != "up" || s.LastOutcome != "ok" || s.Circuit != "closed" {
		t.Fatalf("recovered: %d %+v", status, s)
	}
	if v := h.backendUp("media"); v != "1" {
		t.Errorf("valet_store_backend_up after recovery = %s, want 1", v)
	}
}

// A store whose plugin is not running answers 503 at once without a
// provider call, and /readyz is 503 naming it (the replica cannot serve it).
func TestStorePluginDownAnswersAtOnce(t *testing.T) {
	h := newHarness(t, "")
	tok := h.token("alice", nil)
	create := func() resp {
		return h.do("POST", "/v1/stores/media/uploads", tok, map[string]any{"size": 1, "content_type": "text/plain"})
	}
	h.fake.SetUnhealthy(true)
	r := create()
	if r.status != 503 || r.code() != "provider_unavailable" || r.header.Get("Retry-After") == "" {
		t.Fatalf("plugin down: %d %v %s", r.status, r.header, r.body)
	}
	for _, code := range []string{"OK", "Unavailable"} {
		if got := testutil.ToFloat64(h.srv.metrics.calls.WithLabelValues("media", "fake", "sign_put", code)); got != 0 {
			t.Errorf("sign_put %s calls with the plugin down = %v, want 0 (answered without calling)", code, got)
		}
	}
	status, s := h.readyStore("media")
	if status != 503 || s.Up || s.Plugin != "down" {
		t.Fatalf("readyz with the plugin down: %d %+v", status, s)
	}
	if v := h.backendUp("media"); v != "0" {
		t.Errorf("valet_store_backend_up with the plugin down = %s, want 0", v)
	}
	h.fake.SetUnhealthy(false)
	if r := create(); r.status != 201 {
		t.Fatalf("plugin back: %d %s", r.status, r.body)
	}
	if status, s := h.readyStore("media"); status != 200 || !s.Up {
		t.Fatalf("readyz with the plugin back: %d %+v", status, s)
	}
}

// stateful reports a plugin state, as plugins/host's Plugin does.
type stateful struct {
	providers.Provider
	state string
}

func (s *stateful) State() string { return s.state }

// The circuit lets one trial call through after the cooldown; a signing
// success (often local) proves nothing and leaves it half open, a backend
// answer closes it, a failure reopens it at once. Refused credentials mark
// the backend down without opening the circuit; a cancelled call changes
// nothing; a restarting plugin refuses calls at once.
func TestCircuit(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p := &stateful{Provider: newFake(t), state: "up"}
	b := newBackend(p, func() time.Time { return now })
	unavailable := providers.Errorf(providers.Unavailable, "dial tcp 127.0.0.1:1: connection refused")
	admit := func(want bool) bool {
		t.Helper()
		trial, err := b.admit()
		if (err == nil) != want {
			t.Fatalf("admit = %v, want admitted %v (state %+v)", err, want, b.state())
		}
		if err != nil && providers.CodeOf(err) != providers.Unavailable {
			t.Fatalf("a refused call's code = %s, want Unavailable", providers.CodeOf(err))
		}
		return trial
	}

	for range circuitTrips - 1 {
		admit(true)
		b.record("list", unavailable, false)
	}
	admit(true) // not yet: two in a row
	b.record("head", nil, false)
	if s := b.state(); s.Backend != "up" || s.Circuit != "closed" || s.LastContact == nil || !s.LastContact.Equal(now) {
		t.Fatalf("a success resets the count: %+v", s)
	}
	for range circuitTrips {
		b.record("list", unavailable, false)
	}
	admit(false)
	now = now.Add(circuitCooldown)
	trial := admit(true)
	if !trial {
		t.Fatal("the first call after the cooldown is not the trial")
	}
	admit(false) // one trial at a time
	b.record("sign_put", nil, trial)
	if s := b.state(); s.Circuit != "half_open" || s.Backend != "down" {
		t.Fatalf("a signing success closed the circuit: %+v", s)
	}
	trial = admit(true)
	b.record("list", unavailable, trial)
	if s := b.state(); s.Circuit != "open" {
		t.Fatalf("a failed trial: %+v, want open again", s)
	}
	admit(false)
	now = now.Add(circuitCooldown)
	trial = admit(true)
	b.record("head", providers.Errorf(providers.NotFound, "no such key"), trial)
	if s := b.state(); s.Circuit != "closed" || s.Backend != "up" || !s.Up || s.LastOutcome != "ok" || !s.Since.Equal(now) {
		t.Fatalf("a trial answered NotFound: %+v, want closed and up since now", s)
	}
	if admit(true) {
		t.Error("a closed circuit's call is marked as a trial")
	}

	b.record("list", providers.Errorf(providers.Unauthenticated, "InvalidAccessKeyId"), false)
	if s := b.state(); s.Backend != "down" || s.Up || s.LastOutcome != "credentials" || s.Circuit != "closed" {
		t.Fatalf("refused credentials: %+v, want down with the circuit closed", s)
	}
	admit(true)
	before := b.state()
	now = now.Add(time.Minute)
	b.record("list", fmt.Errorf("plugin call: %w", context.Canceled), false)
	b.record("sign_get", nil, false)
	if s := b.state(); !s.LastContact.Equal(*before.LastContact) || s.LastOutcome != before.LastOutcome || s.Backend != before.Backend {
		t.Fatalf("a cancelled call or a signing success changed the state: %+v, was %+v", s, before)
	}

	p.state = "restarting"
	trial, err := b.admit()
	if err == nil || trial || !strings.Contains(err.Error(), "restarting") {
		t.Fatalf("restarting plugin: admit = %v %v", trial, err)
	}
	if s := b.state(); s.Plugin != "restarting" || s.Up {
		t.Fatalf("restarting plugin: %+v", s)
	}
}

func TestOutcomeOf(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, "ok"},
		{providers.Errorf(providers.NotFound, "x"), "ok"},
		{providers.Errorf(providers.InvalidArgument, "x"), "ok"},
		{providers.Errorf(providers.AlreadyExists, "x"), "ok"},
		{providers.Errorf(providers.FailedPrecondition, "x"), "ok"},
		{providers.Errorf(providers.Unimplemented, "x"), "ok"},
		{providers.Errorf(providers.Unavailable, "x"), "unavailable"},
		{providers.Errorf(providers.Unauthenticated, "x"), "credentials"},
		{providers.Errorf(providers.PermissionDenied, "x"), "denied"},
		{providers.Errorf(providers.Internal, "x"), "error"},
		{errors.New("plain"), "error"},
		{&providers.Error{Code: providers.Unavailable, Err: context.DeadlineExceeded}, "timeout"},
		{fmt.Errorf("call: %w", context.DeadlineExceeded), "timeout"},
		{&providers.Error{Code: providers.Unavailable, Err: context.Canceled}, ""},
	} {
		if got := outcomeOf(c.err); got != c.want {
			t.Errorf("outcomeOf(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
