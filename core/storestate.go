package core

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/valetgw/valet/providers"
)

// A store's backend state is learnt from the provider calls requests make
// (no extra probing): each call's outcome is recorded by the metered
// wrapper, which every call passes. /readyz shows it per store, and
// valet_store_backend_up exports it. Readiness itself does not depend on
// it: one storage outage must not take every replica out of rotation.
//
// The store answers 503 at once, without calling the provider, while its
// plugin is not running, and while its circuit is open: after
// circuitTrips unreachable outcomes in a row (Unavailable or a timeout),
// for circuitCooldown; then one trial call goes through, and its outcome
// closes the circuit or opens it again.
const (
	circuitTrips    = 3
	circuitCooldown = 5 * time.Second
)

// Outcome classes of a backend call, as /readyz shows them.
const (
	outcomeNone        = "none"        // no call has reached the backend yet
	outcomeOK          = "ok"          // the backend answered (NotFound and other answers included)
	outcomeUnavailable = "unavailable" // unreachable, or it said it is unavailable
	outcomeTimeout     = "timeout"     // no answer within the deadline
	outcomeCredentials = "credentials" // the backend does not accept the store's credentials
	outcomeDenied      = "denied"      // it knows the credentials but refuses the operation
	outcomeError       = "error"       // any other failure (Internal)
)

// outcomeOf classes a call's error; "" for a call the caller cancelled,
// which says nothing about the backend.
func outcomeOf(err error) string {
	switch {
	case err == nil:
		return outcomeOK
	case errors.Is(err, context.Canceled):
		return ""
	case errors.Is(err, context.DeadlineExceeded):
		return outcomeTimeout
	}
	switch providers.CodeOf(err) {
	case providers.Unavailable:
		return outcomeUnavailable
	case providers.Unauthenticated:
		return outcomeCredentials
	case providers.PermissionDenied:
		return outcomeDenied
	case providers.Internal:
		return outcomeError
	default:
		return outcomeOK
	}
}

// contactOps are the operations that reach the backend whenever they
// succeed. Signing is often local (an S3 presign needs no request), so a
// signing call's success says nothing of the backend; its failure does.
var contactOps = map[string]bool{
	"configure": true, "head": true, "list": true, "delete": true, "read_object": true,
	"create_multipart": true, "complete_multipart": true, "abort_multipart": true, "list_parts": true,
	"get_cors": true, "put_cors": true,
}

// backend is what the gateway knows of one store's backend and plugin.
type backend struct {
	// p is the store's provider as given (not metered): its plugin state.
	p   providers.Provider
	now func() time.Time

	mu          sync.Mutex
	lastContact time.Time
	lastOutcome string
	// down is the backend's state from the last outcome recorded, and
	// since is when it took that value.
	down  bool
	since time.Time
	// fails counts unreachable outcomes in a row; openUntil is when the
	// open circuit lets a trial call through (zero while closed); trial
	// is true while that call is in flight.
	fails     int
	openUntil time.Time
	trial     bool
}

func newBackend(p providers.Provider, now func() time.Time) *backend {
	return &backend{p: p, now: now, lastOutcome: outcomeNone, since: now()}
}

// pluginState is the provider's process state: a plugin host's Plugin
// says so itself (up, restarting, down); a provider that only reports
// Healthy is up or down; any other is up.
func pluginState(p providers.Provider) string {
	switch v := p.(type) {
	case interface{ State() string }:
		return v.State()
	case interface{ Healthy() bool }:
		if v.Healthy() {
			return "up"
		}
		return "down"
	}
	return "up"
}

// admit decides whether a call may go to the provider now. It fails at
// once with Unavailable while the plugin is not running or the circuit is
// open; trial is true for the one call a cooling circuit lets through.
func (b *backend) admit() (trial bool, err error) {
	if st := pluginState(b.p); st != "up" {
		return false, providers.Errorf(providers.Unavailable, "the store's plugin is %s", st)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.openUntil.IsZero():
		return false, nil
	case b.now().Before(b.openUntil) || b.trial:
		return false, providers.Errorf(providers.Unavailable,
			"the store's backend failed %d calls in a row (%s); calls wait for a trial call", b.fails, b.lastOutcome)
	default:
		b.trial = true
		return true, nil
	}
}

// record notes the outcome of a call of op that was admitted.
func (b *backend) record(op string, err error, trial bool) {
	outcome := outcomeOf(err)
	b.mu.Lock()
	defer b.mu.Unlock()
	if trial {
		b.trial = false
	}
	if outcome == "" || outcome == outcomeOK && !contactOps[op] {
		return
	}
	now := b.now()
	b.lastContact, b.lastOutcome = now, outcome
	if down := outcome == outcomeUnavailable || outcome == outcomeTimeout || outcome == outcomeCredentials; down != b.down {
		b.down, b.since = down, now
	}
	if outcome == outcomeUnavailable || outcome == outcomeTimeout {
		b.fails++
		if b.fails >= circuitTrips || trial {
			b.openUntil = now.Add(circuitCooldown)
		}
		return
	}
	b.fails, b.openUntil = 0, time.Time{}
}

// storeState is one store's entry in /readyz's "stores".
type storeState struct {
	// Up is the plugin up and the backend not known to be down: the
	// value of valet_store_backend_up.
	Up bool `json:"up"`
	// Plugin is up, restarting or down.
	Plugin string `json:"plugin"`
	// Backend is up or down by the last outcome recorded (up before any).
	Backend string `json:"backend"`
	// Since is when Backend took its value (or the store was loaded).
	Since time.Time `json:"since"`
	// LastContact is when the last outcome was recorded; absent before any.
	LastContact *time.Time `json:"last_contact,omitempty"`
	// LastOutcome is an outcome class (outcomeOK…), "none" before any.
	LastOutcome string `json:"last_outcome"`
	// Circuit is closed, open (calls answer 503 at once) or half_open (the
	// next call is a trial).
	Circuit string `json:"circuit"`
}

func (b *backend) state() storeState {
	plugin := pluginState(b.p)
	b.mu.Lock()
	defer b.mu.Unlock()
	s := storeState{Up: plugin == "up" && !b.down, Plugin: plugin, Backend: "up", Since: b.since.UTC(), LastOutcome: b.lastOutcome, Circuit: "closed"}
	if b.down {
		s.Backend = "down"
	}
	if !b.lastContact.IsZero() {
		t := b.lastContact.UTC()
		s.LastContact = &t
	}
	switch {
	case b.openUntil.IsZero():
	case b.now().Before(b.openUntil):
		s.Circuit = "open"
	default:
		s.Circuit = "half_open"
	}
	return s
}

// backendOf is a store's backend state. Every Store's provider is
// metered (build wraps it), so the fallback is only for a hand-made one.
func backendOf(st *Store) *backend {
	if m, ok := st.provider.(*metered); ok {
		return m.backend
	}
	return newBackend(st.provider, time.Now)
}

// storeStates is every store's state, by name.
func (s *Server) storeStates(st *state) map[string]storeState {
	out := make(map[string]storeState, len(st.stores))
	for name, store := range st.stores {
		out[name] = backendOf(store).state()
	}
	return out
}

var backendUpDesc = prometheus.NewDesc("valet_store_backend_up",
	"1 while the store's plugin runs and its backend's last recorded outcome is not unavailable, a timeout or refused credentials; 0 otherwise.",
	[]string{"store"}, nil)

// storeCollector exports valet_store_backend_up for the stores of the
// configuration being served.
type storeCollector struct{ s *Server }

func (storeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- backendUpDesc }

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.state.Load()
	if st == nil {
		return
	}
	for _, name := range st.cfg.StoreNames() {
		v := 0.0
		if backendOf(st.stores[name]).state().Up {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(backendUpDesc, prometheus.GaugeValue, v, name)
	}
}
