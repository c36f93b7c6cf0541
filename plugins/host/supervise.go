package host

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/valetgw/valet/plugins/internal/convert"
	"github.com/valetgw/valet/plugins/internal/wire"
	"github.com/valetgw/valet/providers"
)

// exitPoll is how often the supervisor checks whether the process exited;
// go-plugin offers no channel for it.
const exitPoll = 20 * time.Millisecond

// launch starts a process, connects, and replays Configure.
func (p *Plugin) launch(ctx context.Context) (*instance, error) {
	ctx, cancel := context.WithTimeout(ctx, p.h.opts.StartTimeout)
	defer cancel()
	p.mu.Lock()
	spec := p.spec
	p.gen++
	gen := p.gen
	p.mu.Unlock()

	client, svc, gc, err := p.h.dial(p.t, p.log)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*instance, error) {
		killClient(client)
		return nil, err
	}
	in := &instance{gen: gen, attached: p.t.attach != nil, client: client, conn: gc.Conn, mux: newMux(svc)}
	if rc := client.ReattachConfig(); rc != nil {
		in.pid = rc.Pid
	}
	if _, err := roundTrip(ctx, in.mux, wire.Configure, providers.StoreConfig{Store: spec.Store, Config: spec.Config}); err != nil {
		in.mux.close()
		perr, _ := convert.FromStatus(err)
		return fail(perr)
	}
	p.log.Debug("plugin running", "pid", in.pid, "generation", gen)
	return in, nil
}

// ping is one health check with a bound, unlike go-plugin's own Ping.
func (p *Plugin) ping(in *instance) error {
	ctx, cancel := context.WithTimeout(context.Background(), p.h.opts.HealthTimeout)
	defer cancel()
	_, err := grpc_health_v1.NewHealthClient(in.conn).Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: plugin.GRPCServiceName})
	return err
}

// supervise watches the running instance and restarts it when it dies. It
// is the only goroutine that restarts, so concurrent callers that all see
// the plugin fail cause one restart, not many.
func (p *Plugin) supervise() {
	defer close(p.done)
	exitTick := time.NewTicker(exitPoll)
	defer exitTick.Stop()
	health := time.NewTicker(p.h.opts.HealthInterval)
	defer health.Stop()
	var restarts []time.Time
	pingFails := 0
	for {
		p.mu.Lock()
		in := p.inst
		p.mu.Unlock()
		var why string
		select {
		case <-p.stop:
			return
		case <-exitTick.C:
			if in.client.Exited() {
				why = "process exited"
			}
		case <-health.C:
			if in.attached {
				continue // it may be stopped in a debugger; exits are still seen
			}
			// Two misses in a row, so one slow answer on a loaded machine
			// does not cost the calls in flight a restart.
			if err := p.ping(in); err == nil {
				pingFails = 0
			} else if pingFails++; pingFails >= 2 {
				why = "health check failed twice: " + status.Convert(err).Message()
			}
		case g := <-p.kick:
			if g != in.gen {
				continue
			}
			if in.client.Exited() {
				why = "process exited"
			} else if err := p.ping(in); err != nil {
				why = "connection lost: " + status.Convert(err).Message()
			}
		}
		if why == "" {
			continue
		}
		pingFails = 0
		p.setDown(why)
		p.log.Warn("plugin down, restarting", "pid", in.pid, "reason", why)
		in.kill(false)

		for {
			now := time.Now()
			restarts = dropBefore(restarts, now.Add(-p.h.opts.RestartWindow))
			if len(restarts) >= p.h.opts.RestartBudget {
				err := fmt.Errorf("gave up after %d restarts in %s (last: %s)", len(restarts), p.h.opts.RestartWindow, why)
				p.mu.Lock()
				p.unhealthy = err
				p.notifyLocked()
				p.mu.Unlock()
				p.log.Error("plugin unhealthy; not restarting it again", "error", err)
				<-p.stop
				return
			}
			// 100ms before the first restart in the window, doubling after.
			backoff := min(firstBackoff<<len(restarts), maxBackoff)
			restarts = append(restarts, now)
			select {
			case <-p.stop:
				return
			case <-time.After(backoff):
			}
			began := time.Now()
			next, err := p.launch(p.ctx)
			if err == nil {
				p.setUp(next)
				p.log.Info("plugin restarted", "pid", next.pid, "backoff", backoff, "launch", time.Since(began).Round(time.Millisecond))
				break
			}
			why = "restart failed: " + err.Error()
			p.log.Warn("plugin restart failed", "error", err)
		}
	}
}

func dropBefore(ts []time.Time, cutoff time.Time) []time.Time {
	i := 0
	for i < len(ts) && ts[i].Before(cutoff) {
		i++
	}
	return ts[i:]
}

// waitNewer waits for an instance newer than gen, within ctx and RetryWait.
func (p *Plugin) waitNewer(ctx context.Context, gen uint64) (*instance, error) {
	timer := time.NewTimer(p.h.opts.RetryWait)
	defer timer.Stop()
	for {
		p.mu.Lock()
		in, ch, dead := p.inst, p.changed, p.closed || p.unhealthy != nil
		p.mu.Unlock()
		if in != nil && in.gen > gen {
			return in, nil
		}
		if dead {
			return nil, errors.New("plugin will not be restarted")
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timer.C:
			return nil, errors.New("restart took too long")
		}
	}
}

// call runs one call with the supervision rules above.
func call[T any](ctx context.Context, p *Plugin, method string, idempotent bool, fn func(context.Context, *mux) (T, error)) (T, error) {
	var zero T
	in, err := p.current()
	if err != nil {
		return zero, err
	}
	v, err := fn(ctx, in.mux)
	if err == nil {
		return v, nil
	}
	perr, transport := convert.FromStatus(err)
	if !transport {
		return zero, perr
	}
	if ctx.Err() != nil || status.Code(err) != codes.Unavailable {
		// The caller's deadline or cancellation, not the plugin's death.
		return zero, p.wrap(method, perr)
	}
	select {
	case p.kick <- in.gen:
	default: // a kick is already pending; the supervisor will look.
	}
	if !idempotent {
		return zero, p.wrap(method, perr)
	}
	next, werr := p.waitNewer(ctx, in.gen)
	if werr != nil {
		return zero, p.wrap(method, &providers.Error{Code: providers.Unavailable, Message: "plugin lost during the call and not back in time: " + werr.Error(), Err: werr})
	}
	v, err = fn(ctx, next.mux)
	if err != nil {
		perr, transport = convert.FromStatus(err)
		if transport {
			return zero, p.wrap(method, perr)
		}
		return zero, perr
	}
	return v, nil
}

// wrap names the store and method on a transport failure, keeping its code.
func (p *Plugin) wrap(method string, err error) error {
	var pe *providers.Error
	if errors.As(err, &pe) {
		p.mu.Lock()
		store, name := p.spec.Store, p.spec.Plugin
		p.mu.Unlock()
		return &providers.Error{Code: pe.Code, Message: fmt.Sprintf("store %q: plugin %s: %s: %s", store, name, method, pe.Message), Err: pe.Err}
	}
	return err
}

// Restarts is how many times the process was launched again after its first start (failed attempts included).
func (p *Plugin) Restarts() uint64 { p.mu.Lock(); defer p.mu.Unlock(); return max(p.gen, 1) - 1 }
