package testenv

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Children returns the pids whose parent is pid (from /proc).
func Children(pid int) []int {
	var out []int
	for _, p := range pids() {
		if ppid, _ := procField(p, 3); ppid == strconv.Itoa(pid) {
			out = append(out, p)
		}
	}
	return out
}

// Alive reports whether pid is still running (a zombie has exited).
func Alive(pid int) bool {
	st, ok := procField(pid, 2)
	return ok && st != "Z" && st != "X"
}

// Cmdline returns a process's command line, for messages.
func Cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

// descendants returns every process below pid (children, their children...)
// and every other member of its process group.
func descendants(pid int) []int {
	parent := map[int]int{}
	var group []int
	for _, p := range pids() {
		f := stat(p)
		if len(f) < 3 {
			continue
		}
		parent[p], _ = strconv.Atoi(f[1])
		if f[2] == strconv.Itoa(pid) && p != pid {
			group = append(group, p)
		}
	}
	var out []int
	for p := range parent {
		// Bounded: pids read at different moments could form a loop.
		for a, depth := parent[p], 0; a > 1 && depth < 64; a, depth = parent[a], depth+1 {
			if a == pid {
				out = append(out, p)
				break
			}
		}
	}
	for _, p := range group {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// groupAlive reports whether a live process is in process group pgid.
func groupAlive(pgid int) bool {
	want := strconv.Itoa(pgid)
	for _, p := range pids() {
		if f := stat(p); len(f) > 2 && f[2] == want && f[0] != "Z" && f[0] != "X" {
			return true
		}
	}
	return false
}

func pids() []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		if p, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// procField returns field i of /proc/pid/stat (see stat).
func procField(pid, i int) (string, bool) {
	f := stat(pid)
	if i < 2 || i-2 >= len(f) {
		return "", false
	}
	return f[i-2], true
}

// stat returns the fields of /proc/pid/stat from field 2 on (0-based, as
// in proc(5): 2 state, 3 ppid, 4 pgrp, 21 starttime), after the
// parenthesised command name, which may contain spaces. Nil if pid is gone.
func stat(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	s := string(b)
	j := strings.LastIndexByte(s, ')')
	if j < 0 {
		return nil
	}
	return strings.Fields(s[j+1:])
}
