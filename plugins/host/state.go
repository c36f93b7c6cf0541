package host

// The states State reports. They are plain strings so that the gateway
// can read them through a one-method interface without importing host.
const (
	StateUp         = "up"         // the process runs and answers
	StateRestarting = "restarting" // it died and the supervisor is starting another
	StateDown       = "down"       // given up on (restart budget spent) or closed
)

// State is the plugin's process state: StateUp, StateRestarting or
// StateDown. Healthy is State() == StateUp.
func (p *Plugin) State() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed || p.unhealthy != nil:
		return StateDown
	case p.inst == nil:
		return StateRestarting
	default:
		return StateUp
	}
}
