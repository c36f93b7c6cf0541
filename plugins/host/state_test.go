package host

import (
	"errors"
	"testing"
)

// State follows what supervision set: up with a running instance,
// restarting without one, down once given up on or closed.
func TestState(t *testing.T) {
	p := &Plugin{changed: make(chan struct{})}
	for _, c := range []struct {
		name string
		set  func()
		want string
	}{
		{"running", func() { p.setUp(&instance{}) }, StateUp},
		{"died, restart under way", func() { p.setDown("process exited") }, StateRestarting},
		{"restarted", func() { p.setUp(&instance{}) }, StateUp},
		{"given up", func() { p.setDown("process exited"); p.unhealthy = errors.New("gave up after 3 restarts") }, StateDown},
		{"reloaded, then closed", func() { p.unhealthy = nil; p.setUp(&instance{}); p.closed = true }, StateDown},
	} {
		c.set()
		if got := p.State(); got != c.want {
			t.Errorf("%s: State() = %q, want %q", c.name, got, c.want)
		}
		if p.Healthy() != (c.want == StateUp) {
			t.Errorf("%s: Healthy() = %v with State() %q", c.name, p.Healthy(), c.want)
		}
	}
}
