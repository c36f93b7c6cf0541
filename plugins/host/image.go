package host

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/valetgw/valet/providers"
)

// image is a private, immutable copy of a pinned plugin binary. It is read
// from the plugin's file once, its sha256 is computed over the copy, and the
// copy is what gets executed, so the bytes that matched the pin are the
// bytes that run: replacing or rewriting the file on disk afterwards changes
// nothing. A Plugin keeps its image for its lifetime, so every restart runs
// the same verified bytes; a new Start (or Info) reads the file again and
// checks it against the pin again.
//
// On Linux the copy is a sealed memfd, executed as /proc/self/fd/N (see
// image_linux.go); elsewhere it is a file in a private 0700 directory (see
// image_other.go).
type image struct {
	file string   // the binary it was read from, for messages and argv[0]
	sum  string   // lowercase hex sha256 of the copy
	path string   // what the process is executed as
	f    *os.File // holds the copy open, read only
	dir  string   // a private directory to remove on close, if any
}

// openExecutable opens file for copying into an image, refusing anything
// but an executable regular file.
func openExecutable(file string) (*os.File, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err == nil && (!st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0) {
		err = fmt.Errorf("%s is not an executable regular file", file)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// hashCopy returns the sha256 of f's size bytes, read from offset 0.
func hashCopy(f *os.File, size int64) (string, error) {
	h := sha256.New()
	n, err := io.Copy(h, io.NewSectionReader(f, 0, size))
	if err != nil {
		return "", err
	}
	if n != size {
		return "", io.ErrUnexpectedEOF
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// close releases the copy. Only call it once no launch can still use it.
func (img *image) close() {
	if img == nil {
		return
	}
	_ = img.f.Close()
	if img.dir != "" {
		_ = os.RemoveAll(img.dir)
	}
}

// errScript is returned for a pinned plugin that is a #! script.
var errScript = errors.New("it is a #! script; a pinned plugin must be a compiled executable (the pin could not cover the interpreter, and the sealed copy cannot be handed to one)")

// sealPinned returns, for a plugin name with a pin, a sealed copy of file
// whose sha256 matches that pin, and nil for a plugin without a pin (which
// is executed by path). A copy that does not match is refused with an
// error naming the file, its sha256 and the pin.
func (h *Host) sealPinned(name, file string) (*image, error) {
	want, ok := h.opts.Pins[name]
	if !ok {
		return nil, nil
	}
	img, err := sealImage(file)
	if err != nil {
		return nil, providers.Errorf(providers.FailedPrecondition, "plugin %q: cannot read %s to check its pin: %v", name, file, err)
	}
	if img.sum != want {
		img.close()
		return nil, providers.Errorf(providers.FailedPrecondition, "plugin %q: refusing %s: its sha256 is %s but the pin is %s", name, file, img.sum, want)
	}
	var magic [2]byte
	if n, _ := img.f.ReadAt(magic[:], 0); n == 2 && string(magic[:]) == "#!" {
		img.close()
		return nil, providers.Errorf(providers.FailedPrecondition, "plugin %q: refusing %s: %v", name, file, errScript)
	}
	return img, nil
}
