package e2e

import (
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// TestMain runs the suite, then checks that no plugin process started by a
// gateway in this run outlived it: a gateway killed by its test's cleanup
// must still take its plugins down (they run in their own process groups,
// so only the host's supervision, Pdeathsig and the plugins' parent watch
// can stop them).
func TestMain(m *testing.M) {
	code := m.Run()
	if left := orphans(30 * time.Second); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d plugin process(es) outlived their gateway:\n", len(left))
		for _, l := range left {
			fmt.Fprintln(os.Stderr, "  ", l)
		}
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// pluginProc is a plugin process seen as a gateway's child.
type pluginProc struct {
	pid     int
	cmdline string
}

var (
	pluginMu   sync.Mutex
	pluginSeen []pluginProc
)

// notePlugins records the gateway's child processes before it is stopped.
func notePlugins(gatewayPid int) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	want := fmt.Sprint(gatewayPid)
	pluginMu.Lock()
	defer pluginMu.Unlock()
	for _, e := range ents {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		if ppid, _ := procField(pid, 3); ppid == want {
			pluginSeen = append(pluginSeen, pluginProc{pid, cmdline(pid)})
		}
	}
}

// orphans waits up to d for every recorded plugin to exit and returns the
// ones still running (same pid and command line, so a reused pid does not
// count).
func orphans(d time.Duration) []string {
	deadline := time.Now().Add(d)
	for {
		var left []string
		pluginMu.Lock()
		for _, p := range pluginSeen {
			if alive(p.pid) && cmdline(p.pid) == p.cmdline {
				left = append(left, fmt.Sprintf("pid %d: %s", p.pid, p.cmdline))
			}
		}
		pluginMu.Unlock()
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(100 * time.Millisecond)
	}
}
