package testenv

import (
	"fmt"
	"io"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// StartTimeout bounds a process's start-up unless its Spec says otherwise.
// It is generous because CI runs several emulators, the gateway and builds
// at once on two loaded cores.
const StartTimeout = 60 * time.Second

// StopGrace is how long a stopped process has between its StopSignal and
// SIGKILL unless its Spec says otherwise.
const StopGrace = 10 * time.Second

// outputDrain is how long Wait reads output after the process has exited.
const outputDrain = 5 * time.Second

// logCap bounds what a Process keeps of its output (the first bytes: a
// start-up failure is explained at the top).
const logCap = 4 << 20

// Spec describes one process to launch.
type Spec struct {
	// Name labels messages and the output logged on failure, e.g. "minio"
	// or "gateway http://127.0.0.1:PORT".
	Name string
	// Cmd is built but not started. The launcher sets its Stderr, its Stdout
	// (unless Stdout below is set) and its SysProcAttr.
	Cmd *exec.Cmd
	// Ready returns nil once the process serves. Nil: started is ready.
	Ready Probe
	// Timeout bounds the wait for Ready; zero is StartTimeout.
	Timeout time.Duration
	// StopSignal goes to the process group when the process is stopped;
	// zero is SIGTERM. SIGKILL skips the grace period, for a test that must
	// show what survives a killed process.
	StopSignal syscall.Signal
	// Grace is how long the process has between StopSignal and SIGKILL;
	// zero is StopGrace.
	Grace time.Duration
	// Stdout, when set, receives the standard output instead of the log,
	// for a driver that reports on stdout and logs on stderr.
	Stdout io.Writer
}

// Process is a process started by Launch or Start.
type Process struct {
	Name string
	// Cmd is the running command. Cmd.ProcessState is set once Exited is
	// closed.
	Cmd *exec.Cmd

	owner      string // the test that launched it, for leak reports
	stopSignal syscall.Signal
	grace      time.Duration
	log        *Buffer
	exited     chan struct{}
	waitErr    error
	stopOnce   sync.Once
}

// StartError says why a process did not become ready; Logs is its output.
type StartError struct {
	Name string
	// Exited is true when the process ended during start-up.
	Exited bool
	// Err is the error starting it, its exit status, or the last probe's error.
	Err error
	// Timeout is the readiness deadline that passed, if one did.
	Timeout time.Duration
	Logs    string
}

func (e *StartError) Error() string {
	switch {
	case e.Exited:
		return fmt.Sprintf("%s exited during start-up (%v):\n%s", e.Name, e.Err, e.Logs)
	case e.Timeout > 0:
		return fmt.Sprintf("%s not ready after %s: %v\n%s", e.Name, e.Timeout, e.Err, e.Logs)
	}
	return fmt.Sprintf("%s: start: %v", e.Name, e.Err)
}

func (e *StartError) Unwrap() error { return e.Err }

// Launch starts s.Cmd in its own process group (killed with the test binary
// through Pdeathsig), with stdout and stderr captured, and waits for s.Ready.
// t.Cleanup stops it and, if the test failed, logs its output. A process
// that does not become ready is stopped at once and reported as a
// *StartError, so the caller can decide (retry, skip or fail).
func Launch(t testing.TB, s Spec) (*Process, error) {
	t.Helper()
	p := &Process{Name: s.Name, Cmd: s.Cmd, owner: t.Name(), stopSignal: s.StopSignal, log: &Buffer{Limit: logCap}, exited: make(chan struct{})}
	if p.stopSignal == 0 {
		p.stopSignal = syscall.SIGTERM
	}
	if p.grace = s.Grace; p.grace == 0 {
		p.grace = StopGrace
	}
	s.Cmd.Stdout, s.Cmd.Stderr = p.log, p.log
	if s.Stdout != nil {
		s.Cmd.Stdout = s.Stdout
	}
	s.Cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// A process that left the group may hold the output pipes open; Exited
	// must not wait for it.
	s.Cmd.WaitDelay = outputDrain
	if err := s.Cmd.Start(); err != nil {
		return nil, &StartError{Name: s.Name, Err: err}
	}
	go func() { p.waitErr = s.Cmd.Wait(); close(p.exited) }()
	ready := false
	t.Cleanup(func() {
		p.Stop()
		if ready && t.Failed() {
			t.Logf("%s output:\n%s", p.Name, tail(p.Logs(), 8000))
		}
	})

	timeout := s.Timeout
	if timeout == 0 {
		timeout = StartTimeout
	}
	if err := p.await(s.Ready, timeout); err != nil {
		p.Stop() // its output is in err
		return nil, err
	}
	ready = true
	return p, nil
}

// Start is Launch for a dependency (an emulator, a tool): one that does not
// become ready calls Unavailable with its output.
func Start(t testing.TB, s Spec) *Process {
	t.Helper()
	p, err := Launch(t, s)
	if err != nil {
		Unavailable(t, "%v", err)
	}
	return p
}

func (p *Process) await(ready Probe, timeout time.Duration) error {
	if ready == nil {
		return nil
	}
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-p.exited:
			return &StartError{Name: p.Name, Exited: true, Err: p.exitErr(), Logs: p.Logs()}
		default:
		}
		err := ready(p)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return &StartError{Name: p.Name, Err: err, Timeout: timeout, Logs: p.Logs()}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// exitErr is cmd.Wait's error, or the state for a clean exit.
func (p *Process) exitErr() error {
	if p.waitErr != nil {
		return p.waitErr
	}
	return fmt.Errorf("%v", p.Cmd.ProcessState)
}

// Pid is the process id, which is also its process group id.
func (p *Process) Pid() int { return p.Cmd.Process.Pid }

// Logs returns what the process printed so far (the first 4 MiB).
func (p *Process) Logs() string { return p.log.String() }

// Exited is closed once the process has exited and its output is read.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Wait waits up to timeout for the process to exit and returns cmd.Wait's
// error (an *exec.ExitError for a non-zero exit). A process still running
// then is stopped, and Wait says so.
func (p *Process) Wait(timeout time.Duration) error {
	select {
	case <-p.exited:
		return p.waitErr
	case <-time.After(timeout):
		p.Stop()
		return fmt.Errorf("%s still running after %s (stopped)", p.Name, timeout)
	}
}

// Stop ends the process as cleanup does: its StopSignal to the process
// group, its grace period to exit, then SIGKILL to the group. What it had
// started outside its group is remembered, and Main reports whatever of it
// is still running at the end. Calls after the first do nothing.
func (p *Process) Stop() {
	p.stopOnce.Do(func() {
		pid := p.Pid()
		select {
		case <-p.exited:
			// Pids are reused (pid_max may be 32768): once the process is
			// reaped, pid names ours only while members of our group are
			// left (they keep the number taken) and no process has it.
			if stat(pid) != nil || !groupAlive(pid) {
				return
			}
		default:
			noteDescendants(p)
		}
		_ = syscall.Kill(-pid, p.stopSignal)
		if p.stopSignal != syscall.SIGKILL {
			select {
			case <-p.exited:
			case <-time.After(p.grace):
			}
		}
		// Also after a clean exit: nothing of the group may stay behind.
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		deadline := time.Now().Add(5 * time.Second)
		select {
		case <-p.exited:
		case <-time.After(time.Until(deadline)):
		}
		// SIGKILL takes effect asynchronously; wait for the group to be gone.
		for groupAlive(pid) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
