//go:build linux

package host

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// seals make a memfd immutable: no write, no resize, and no way to lift
// the seals again.
const seals = unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE | unix.F_SEAL_SEAL

// sealImage copies file into a sealed memfd and hashes the memfd.
//
// Holding a descriptor of the original file would not be enough: an
// in-place write to the same inode changes what that descriptor reads and
// what an exec of it runs. The sealed memfd cannot change at all, whoever
// holds it. The process is executed as /proc/self/fd/N: the child resolves
// that path to the memfd after fork and before exec closes the descriptor
// (it is close-on-exec, so no plugin inherits it). The descriptor stays open
// in the host until the image is closed, so restarts reuse it.
func sealImage(file string) (*image, error) {
	src, err := openExecutable(file)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	name := filepath.Base(file)
	if len(name) > 200 {
		name = name[:200]
	}
	// MFD_EXEC says outright that this memfd is meant to be executed (a
	// kernel with vm.memfd_noexec=1 would otherwise make it non-executable);
	// kernels before 6.3 do not know the flag and refuse it with EINVAL.
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_EXEC)
	if errors.Is(err, unix.EINVAL) {
		fd, err = unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if errors.Is(err, unix.EACCES) {
		return nil, fmt.Errorf("cannot create an executable memfd (is vm.memfd_noexec set to 2?): %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	// rw is the only writable descriptor there ever is; it is closed once
	// the copy is sealed.
	rw := os.NewFile(uintptr(fd), "memfd:"+name)
	defer rw.Close()
	if _, err := io.Copy(rw, src); err != nil {
		return nil, fmt.Errorf("copying %s: %w", file, err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		return nil, fmt.Errorf("sealing the copy of %s: %w", file, err)
	}
	// A read-only descriptor of the same memfd is the one kept and
	// executed; opening it needs /proc, as executing it does.
	ro, err := os.Open(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil {
		return nil, fmt.Errorf("reopening the sealed copy through /proc (is /proc mounted?): %w", err)
	}
	keep := false
	defer func() {
		if !keep {
			ro.Close()
		}
	}()
	if ro.Fd() <= 2 {
		// The host runs with a standard descriptor closed: in the child the
		// copy would be replaced by stdin, stdout or stderr before exec.
		hi, err := unix.FcntlInt(ro.Fd(), unix.F_DUPFD_CLOEXEC, 3)
		if err != nil {
			return nil, fmt.Errorf("moving the sealed copy's descriptor: %w", err)
		}
		ro.Close()
		ro = os.NewFile(uintptr(hi), "memfd:"+name)
	}
	got, err := unix.FcntlInt(ro.Fd(), unix.F_GET_SEALS, 0)
	if err != nil || got&seals != seals {
		return nil, fmt.Errorf("the copy of %s is not sealed (seals %#x): %v", file, got, err)
	}
	sst, err := ro.Stat()
	if err != nil {
		return nil, err
	}
	sum, err := hashCopy(ro, sst.Size())
	if err != nil {
		return nil, fmt.Errorf("hashing the sealed copy of %s: %w", file, err)
	}
	keep = true
	return &image{file: file, sum: sum, path: fmt.Sprintf("/proc/self/fd/%d", ro.Fd()), f: ro}, nil
}
