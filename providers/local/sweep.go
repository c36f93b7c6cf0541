package local

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// sweepTemps removes the temp directories of processes that are gone: a
// directory whose lock can be taken has no living owner. It runs when a
// store opens, so a plugin restarted after a crash cleans up its
// predecessor's half-received bodies before serving anything.
func (s *store) sweepTemps() (removed int) {
	tmpRoot := filepath.Join(s.dir, "tmp")
	ents, err := os.ReadDir(tmpRoot)
	if err != nil {
		return 0
	}
	own := filepath.Base(s.tmp)
	for _, e := range ents {
		if !e.IsDir() || e.Name() == own || !validID(e.Name()) {
			continue
		}
		lockPath := filepath.Join(tmpRoot, e.Name()+".lock")
		f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			continue
		}
		if tryLock(f) {
			if os.RemoveAll(filepath.Join(tmpRoot, e.Name())) == nil {
				removed++
			}
			os.Remove(lockPath)
		}
		f.Close()
	}
	return removed
}

// sweep removes what crashes and abandoned clients leave behind: dead
// processes' temp files, multipart uploads untouched for partMaxAge,
// sidecars that were being written, and blobs no sidecar points at.
func (s *store) sweep(partMaxAge time.Duration) {
	s.sweepTemps()
	now := s.now()

	if ents, err := os.ReadDir(s.uploads); err == nil {
		for _, e := range ents {
			dir := filepath.Join(s.uploads, e.Name())
			if validID(e.Name()) && now.Sub(newestMod(dir)) > partMaxAge {
				os.RemoveAll(dir)
			}
		}
	}

	if f, err := s.objects.Open(sidecarTmp); err == nil {
		ents, _ := f.ReadDir(-1)
		f.Close()
		for _, e := range ents {
			if fi, err := e.Info(); err == nil && now.Sub(fi.ModTime()) > sidecarGrace {
				s.objects.Remove(sidecarTmp + "/" + e.Name())
			}
		}
	}

	s.sweepBlobs(now)
}

// sweepBlobs removes blobs older than blobGrace that no sidecar points at.
// A blob is renamed into place a moment before its sidecar, so the grace
// period keeps commits in flight safe. It reads every sidecar, which is fine
// for the stores the local provider is meant for.
func (s *store) sweepBlobs(now time.Time) {
	live := map[string]bool{}
	read := s.sweepRead
	if read == nil {
		read = s.readSidecarPath
	}
	err := s.walk("", "", func(_, rel string) error {
		sc, err := read(rel)
		switch {
		case err == nil:
			live[sc.Blob] = true
		case errors.Is(err, fs.ErrNotExist), errors.Is(err, errNotSidecar):
			// Deleted meanwhile, or not a sidecar: it keeps no blob alive.
		default:
			// A sidecar that could not be read (out of file handles, an
			// I/O error) may point at a live blob: stop, delete nothing.
			return err
		}
		return nil
	}, func(string) bool { return true })
	if err != nil {
		return // never delete on a partial view
	}
	// Completed multipart results point at blobs through sidecars too, so
	// the walk above covers them.
	shards, _ := os.ReadDir(s.blobs)
	for _, sh := range shards {
		dir := filepath.Join(s.blobs, sh.Name())
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if !validID(e.Name()) || live[e.Name()] || !strings.HasPrefix(e.Name(), sh.Name()) {
				continue
			}
			if fi, err := e.Info(); err == nil && now.Sub(fi.ModTime()) > blobGrace {
				os.Remove(filepath.Join(dir, e.Name()))
			}
		}
	}
}

// newestMod is the latest modification time in dir, dir itself included,
// so an upload that is still receiving parts is never swept.
func newestMod(dir string) time.Time {
	var t time.Time
	if fi, err := os.Stat(dir); err == nil {
		t = fi.ModTime()
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && fi.ModTime().After(t) {
			t = fi.ModTime()
		}
	}
	return t
}
