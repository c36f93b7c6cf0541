//go:build unix

package local

import (
	"os"
	"syscall"
)

// flock takes an exclusive lock on f, held until f is closed or the process
// dies. The sweeper uses it to tell a live process's temp files from a dead
// one's.
func flock(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) }

// tryLock takes the lock if nobody holds it.
func tryLock(f *os.File) bool { return flock(f) == nil }
