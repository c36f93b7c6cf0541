//go:build !unix

package local

import "os"

// Without flock, a temp directory cannot be proven abandoned, so the
// sweeper leaves other processes' temp directories alone.
func flock(*os.File) error { return nil }

func tryLock(*os.File) bool { return false }
