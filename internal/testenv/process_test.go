package testenv

import (
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestMain(m *testing.M) { Main(m) }

// sh is a shell command for Launch; every one of these tests needs sh only.
func sh(script string) *exec.Cmd { return exec.Command("sh", "-c", script) }

func TestLaunchWaitsForTheLogLineAndCapturesOutput(t *testing.T) {
	p, err := Launch(t, Spec{Name: "echo", Cmd: sh("echo starting; sleep 0.2; echo listening >&2; exec sleep 60"), Ready: LogReady("listening")})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Logs(); !strings.Contains(got, "starting") || !strings.Contains(got, "listening") {
		t.Fatalf("logs = %q, want stdout and stderr", got)
	}
	p.Stop()
	select {
	case <-p.Exited():
	default:
		t.Fatal("still running after Stop")
	}
	if Alive(p.Pid()) {
		t.Fatalf("pid %d alive after Stop", p.Pid())
	}
}

func TestLaunchReportsAnExitDuringStartUp(t *testing.T) {
	_, err := Launch(t, Spec{Name: "quitter", Cmd: sh("echo address already in use; exit 3"), Ready: LogReady("never")})
	var se *StartError
	if !errors.As(err, &se) || !se.Exited || !strings.Contains(se.Logs, "address already in use") {
		t.Fatalf("err = %v, want a StartError for an exit, with the output", err)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("err = %v, want exit status 3 underneath", err)
	}
}

func TestLaunchGivesUpAtTheTimeoutAndStopsTheProcess(t *testing.T) {
	cmd := sh("exec sleep 60")
	_, err := Launch(t, Spec{Name: "mute", Cmd: cmd, Ready: LogReady("never"), Timeout: 200 * time.Millisecond})
	var se *StartError
	if !errors.As(err, &se) || se.Exited || se.Timeout != 200*time.Millisecond {
		t.Fatalf("err = %v, want a StartError for the timeout", err)
	}
	if Alive(cmd.Process.Pid) {
		t.Fatal("a process that never became ready is still running")
	}
}

// A process that ignores SIGTERM gets SIGKILL after its grace period, and so
// does the rest of its process group.
func TestStopEscalatesToSIGKILLForTheGroup(t *testing.T) {
	p, err := Launch(t, Spec{Name: "stubborn", Cmd: sh(`trap "" TERM; sleep 60 & echo child $!; wait`), Ready: LogReady("child "), Grace: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	child := pidAfter(t, p.Logs(), "child ")
	start := time.Now()
	p.Stop()
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("stopped after %s, before the grace period", d)
	}
	for _, pid := range []int{p.Pid(), child} {
		if Alive(pid) {
			t.Errorf("pid %d (%s) alive after Stop", pid, Cmdline(pid))
		}
	}
}

// A process that leaves its parent's process group is not stopped with the
// group, so it is reported.
func TestLeakedReportsAProcessThatLeftTheGroup(t *testing.T) {
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("setsid not on PATH")
	}
	p, err := Launch(t, Spec{Name: "parent", Cmd: sh(`setsid sleep 61 >/dev/null 2>&1 & echo child $!; exec sleep 60`), Ready: LogReady("child ")})
	if err != nil {
		t.Fatal(err)
	}
	child := pidAfter(t, p.Logs(), "child ")
	defer syscall.Kill(child, syscall.SIGKILL)
	deadline := time.Now().Add(StartTimeout)
	for g, _ := procField(child, 4); g == strconv.Itoa(p.Pid()); g, _ = procField(child, 4) {
		if time.Now().After(deadline) {
			t.Fatal("setsid never left the group")
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.Stop()
	left := Leaked(0)
	found := false
	for _, l := range left {
		found = found || strings.HasPrefix(l, "pid "+strconv.Itoa(child)+":") && strings.Contains(l, "parent (TestLeaked")
	}
	if !found {
		t.Fatalf("Leaked = %q, want pid %d started under parent", left, child)
	}
	_ = syscall.Kill(child, syscall.SIGKILL)
	if left := Leaked(StartTimeout); len(left) != 0 {
		t.Fatalf("after the kill, Leaked = %q", left)
	}
}

func TestWaitStopsAProcessPastItsTime(t *testing.T) {
	p, err := Launch(t, Spec{Name: "slow", Cmd: sh("exec sleep 60")})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(100 * time.Millisecond); err == nil || !strings.Contains(err.Error(), "still running") {
		t.Fatalf("Wait = %v, want still running", err)
	}
	if Alive(p.Pid()) {
		t.Fatal("still alive after Wait gave up")
	}
	q, err := Launch(t, Spec{Name: "quick", Cmd: sh("exit 0")})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Wait(StartTimeout); err != nil {
		t.Fatalf("Wait = %v for a clean exit", err)
	}
}

func pidAfter(t *testing.T, logs, prefix string) int {
	t.Helper()
	_, rest, _ := strings.Cut(logs, prefix)
	pid, err := strconv.Atoi(strings.Fields(rest + " x")[0])
	if err != nil {
		t.Fatalf("no pid after %q in %q", prefix, logs)
	}
	return pid
}
