//go:build !linux

package host

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// sealImage copies file into a private directory (mode 0700, readable by
// this user only), hashes the copy, and executes the copy. Without memfd
// seals this protects against anyone who can replace or rewrite the
// plugin's file, but not against a process running as the gateway's own
// user, which could rewrite the copy.
func sealImage(file string) (*image, error) {
	src, err := openExecutable(file)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	dir, err := os.MkdirTemp("", "valet-plugin-")
	if err != nil {
		return nil, fmt.Errorf("private directory for the copy of %s: %w", file, err)
	}
	keep := false
	defer func() {
		if !keep {
			_ = os.RemoveAll(dir)
		}
	}()
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, err
	}
	dst := filepath.Join(dir, filepath.Base(file))
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o700)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(out, src); err != nil {
		out.Close()
		return nil, fmt.Errorf("copying %s: %w", file, err)
	}
	if err := out.Close(); err != nil {
		return nil, err
	}
	if err := os.Chmod(dst, 0o500); err != nil {
		return nil, err
	}
	ro, err := os.Open(dst)
	if err != nil {
		return nil, err
	}
	sst, err := ro.Stat()
	if err == nil {
		var sum string
		if sum, err = hashCopy(ro, sst.Size()); err == nil {
			keep = true
			return &image{file: file, sum: sum, path: dst, f: ro, dir: dir}, nil
		}
	}
	ro.Close()
	return nil, fmt.Errorf("hashing the copy of %s: %w", file, err)
}
