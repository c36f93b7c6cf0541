package testenv

import (
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// LeakWait is how long Main lets stray processes take to exit. A gateway's
// plugins run in their own process groups and notice a killed gateway by
// themselves (Pdeathsig, the parent watch), which takes a moment on a
// loaded machine.
const LeakWait = 30 * time.Second

// strayProc is a process seen below a Process when it was stopped.
type strayProc struct {
	pid     int
	start   string // starttime in /proc/pid/stat: a reused pid has another
	cmdline string
	under   string // which Process, in which test
}

// seen is per test binary, like the processes it lists: Main reads it once
// at the end, so that waiting for slow exits costs one wait, not one a test.
var seen struct {
	sync.Mutex
	procs []strayProc
}

// noteDescendants remembers what is running below p just before p is
// stopped. Members of p's group die with the group's SIGKILL; the others
// (processes that left the group) must end by themselves.
func noteDescendants(p *Process) {
	var found []strayProc
	for _, pid := range descendants(p.Pid()) {
		start, ok := procField(pid, 21)
		if !ok {
			continue
		}
		found = append(found, strayProc{pid, start, Cmdline(pid), fmt.Sprintf("%s (%s)", p.Name, p.owner)})
	}
	seen.Lock()
	defer seen.Unlock()
	seen.procs = append(seen.procs, found...)
}

// Leaked waits up to d for every process noted when its parent Process was
// stopped to exit, and describes the ones still running.
func Leaked(d time.Duration) []string {
	deadline := time.Now().Add(d)
	for {
		var left []string
		seen.Lock()
		for _, s := range seen.procs {
			if start, _ := procField(s.pid, 21); start == s.start && Alive(s.pid) {
				left = append(left, fmt.Sprintf("pid %d: %s, started under %s", s.pid, s.cmdline, s.under))
			}
		}
		seen.Unlock()
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Main runs the tests, then fails the run if a process started under a
// stopped Process is still running LeakWait later. Call it from TestMain;
// cleanups run after the tests, before that check.
func Main(m *testing.M, cleanups ...func()) {
	code := m.Run()
	for _, c := range cleanups {
		c()
	}
	if left := Leaked(LeakWait); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d process(es) outlived the process that started them:\n", len(left))
		for _, l := range left {
			fmt.Fprintln(os.Stderr, "  ", l)
		}
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}
