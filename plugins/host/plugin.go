package host

import (
	"context"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/valetgw/valet/providers"
)

// Plugin is one supervised plugin process serving one store. It implements
// providers.Provider and providers.Multipart; every method is one call to
// the process, a message each way on its Calls stream.
//
// When the process has died, a call fails at once with a
// providers.Unavailable error. A call that was in flight when the process
// died also gets Unavailable, except the idempotent ones (all but
// CreateMultipart), which wait for the restart (within the caller's
// deadline and Options.RetryWait) and are retried once.
type Plugin struct {
	h   *Host
	t   target
	log hclog.Logger

	kick   chan uint64 // a caller saw generation N's connection fail
	stop   chan struct{}
	ctx    context.Context // cancelled by Close, so a restart in progress stops
	cancel context.CancelFunc
	done   chan struct{} // closed when the supervisor returns

	mu        sync.Mutex
	spec      Spec
	inst      *instance     // nil while down
	changed   chan struct{} // closed and replaced on every state change
	gen       uint64
	downWhy   string
	unhealthy error
	closed    bool
}

// Healthy reports whether the plugin process is up and has not exhausted
// its restart budget. It is false while a restart is under way.
func (p *Plugin) Healthy() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inst != nil && p.unhealthy == nil && !p.closed
}

// GaveUp returns why the plugin was marked unhealthy after exhausting its
// restart budget, or nil. Such a plugin is never restarted again; the
// gateway starts a fresh one on the next configuration reload.
func (p *Plugin) GaveUp() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.unhealthy
}

// Pid is the current plugin process id, or 0 while it is down.
func (p *Plugin) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.inst == nil {
		return 0
	}
	return p.inst.pid
}

// Close stops this plugin's process and its supervision. Calls afterwards
// fail with Unavailable.
func (p *Plugin) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.done
		return nil
	}
	p.closed = true
	p.notifyLocked()
	p.mu.Unlock()
	p.cancel()
	close(p.stop)
	<-p.done
	p.mu.Lock()
	in := p.inst
	p.inst = nil
	p.mu.Unlock()
	if in != nil {
		in.kill(true)
	}
	// The supervisor has returned, so no launch can use the copy any more.
	p.t.close()
	p.h.forget(p)
	return nil
}

func (p *Plugin) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *Plugin) setUp(in *instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inst = in
	p.downWhy = ""
	p.notifyLocked()
}

func (p *Plugin) setDown(why string) *instance {
	p.mu.Lock()
	defer p.mu.Unlock()
	in := p.inst
	p.inst = nil
	p.downWhy = why
	p.notifyLocked()
	return in
}

// current returns the running instance or an Unavailable error saying why
// there is none. It never waits.
func (p *Plugin) current() (*instance, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed:
		return nil, providers.Errorf(providers.Unavailable, "store %q: plugin %s is stopped", p.spec.Store, p.spec.Plugin)
	case p.unhealthy != nil:
		return nil, providers.Errorf(providers.Unavailable, "store %q: plugin %s is unhealthy: %v", p.spec.Store, p.spec.Plugin, p.unhealthy)
	case p.inst == nil:
		return nil, providers.Errorf(providers.Unavailable, "store %q: plugin %s is restarting (%s)", p.spec.Store, p.spec.Plugin, p.downWhy)
	}
	return p.inst, nil
}
