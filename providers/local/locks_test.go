package local

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/valetgw/valet/providers"
)

// Completing an upload locks the upload, then commits the object under the
// object key's lock. Whatever the two names hash to, that must not deadlock
// (it once did, when upload locks were stripes of the key locks' array):
// the test picks keys whose stripe number equals their upload id's, or
// that of "upload:"+id (the name the upload lock once had in the key locks'
// array, where that collision deadlocked), and completes an upload for each.
func TestCompleteNeverDeadlocksOnItsOwnLocks(t *testing.T) {
	s, err := openStore(t.TempDir(), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	plain, prefixed := 0, 0
	for i := 0; (plain < 2 || prefixed < 2) && i < 100000; i++ {
		key := fmt.Sprintf("k/%d.bin", i)
		id, err := s.createUpload(upload{Key: key, Type: "application/octet-stream"})
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case stripe(id) == stripe(key):
			plain++
		case stripe("upload:"+id) == stripe(key):
			prefixed++
		default:
			if err := s.abort(key, id); err != nil {
				t.Fatal(err)
			}
			continue
		}
		tmp, err := s.tempFile("part-*")
		if err != nil {
			t.Fatal(err)
		}
		tmp.WriteString("part one")
		tmp.Close()
		if _, err := s.putPart(key, id, 1, tmp.Name()); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := s.complete(key, id, []providers.CompletedPart{{Number: 1}})
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("complete of %s (upload %s) is stuck on its own locks", key, id)
		}
		if sc, f, err := s.open(key); err != nil || sc.Size != int64(len("part one")) {
			t.Fatalf("open after complete: %+v %v", sc, err)
		} else {
			f.Close()
		}
	}
	if plain < 2 || prefixed < 2 {
		t.Fatalf("found only %d+%d colliding keys", plain, prefixed)
	}
}

// A sidecar that cannot be read for a passing reason (out of file handles,
// an I/O error) must not make the sweep take its blob for garbage: the
// sweep stops and deletes nothing. An unreferenced old blob still goes.
func TestSweepKeepsBlobsOfUnreadableSidecars(t *testing.T) {
	var skew time.Duration
	s, err := openStore(t.TempDir(), func() time.Time { return time.Now().Add(skew) })
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	tmp, err := s.tempFile("put-*")
	if err != nil {
		t.Fatal(err)
	}
	tmp.WriteString("precious")
	tmp.Close()
	if _, err := s.commit("keep/me.txt", tmp.Name(), sidecar{Size: 8, Type: "text/plain"}, false); err != nil {
		t.Fatal(err)
	}
	sc, err := s.stat("keep/me.txt")
	if err != nil {
		t.Fatal(err)
	}
	orphan := newID()
	if err := os.MkdirAll(filepath.Dir(s.blobPath(orphan)), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.blobPath(orphan), []byte("garbage"), 0o640); err != nil {
		t.Fatal(err)
	}
	skew = time.Hour // both blobs are now past the grace period

	s.sweepRead = func(rel string) (*sidecar, error) {
		return nil, &fs.PathError{Op: "read", Path: rel, Err: syscall.EIO}
	}
	s.sweepBlobs(s.now())
	for _, id := range []string{sc.Blob, orphan} {
		if _, err := os.Stat(s.blobPath(id)); err != nil {
			t.Fatalf("blob %s removed by a sweep that could not read the sidecars: %v", id, err)
		}
	}

	s.sweepRead = nil
	s.sweepBlobs(s.now())
	if _, err := os.Stat(s.blobPath(orphan)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("unreferenced old blob kept: %v", err)
	}
	_, f, err := s.open("keep/me.txt")
	if err != nil {
		t.Fatalf("live object lost: %v", err)
	}
	f.Close()
}

// A part that lands while its upload is being aborted never makes the abort
// fail and is never left behind: many rounds of a part PUT racing an abort
// end with an empty uploads directory.
func TestPartRacingAbortLeavesNothing(t *testing.T) {
	s, err := openStore(t.TempDir(), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	for i := range 300 {
		key := fmt.Sprintf("race/%d", i)
		id, err := s.createUpload(upload{Key: key})
		if err != nil {
			t.Fatal(err)
		}
		var tmps []string
		for n := 1; n <= 4; n++ {
			tmp, err := s.tempFile("part-*")
			if err != nil {
				t.Fatal(err)
			}
			tmp.WriteString("part")
			tmp.Close()
			tmps = append(tmps, tmp.Name())
		}
		done := make(chan struct{})
		for n, tmp := range tmps {
			go func() {
				defer func() { done <- struct{}{} }()
				s.putPart(key, id, n+1, tmp) // may succeed or find the upload gone
			}()
		}
		if err := s.abort(key, id); err != nil {
			t.Fatalf("round %d: abort: %v", i, err)
		}
		for range tmps {
			<-done
		}
	}
	ents, err := os.ReadDir(s.uploads)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Fatalf("%d upload directories left behind, e.g. %s", len(ents), ents[0].Name())
	}
}

// Completing one upload (a long assembly) holds up no other upload, even
// one whose id once shared its lock stripe; the lock table empties after.
func TestUploadLocksAreIndependent(t *testing.T) {
	s, err := openStore(t.TempDir(), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	a := newID()
	b := newID()
	for stripe(b) != stripe(a) {
		b = newID()
	}
	unlockA := s.lockUpload(a)
	got := make(chan struct{})
	go func() {
		s.lockUpload(b)()
		close(got)
	}()
	select {
	case <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("the lock of one upload waits for another's")
	}
	unlockA()
	s.uploadMu.Lock()
	defer s.uploadMu.Unlock()
	if len(s.uploadLocks) != 0 {
		t.Fatalf("lock table keeps %d entries", len(s.uploadLocks))
	}
}
