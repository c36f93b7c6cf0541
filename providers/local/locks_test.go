package local

import (
	"fmt"
	"testing"
	"time"

	"github.com/valetgw/valet/providers"
)

// Completing an upload locks the upload, then commits the object under the
// object key's lock. Whatever the two names hash to, that must not deadlock:
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
