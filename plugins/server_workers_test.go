package plugins

import (
	"sync"
	"testing"
	"time"
)

// TestWorkersNeverQueue: calls that wait for each other all run at once, so
// no call waits for a worker, and workers that already served a call serve
// the next.
func TestWorkersNeverQueue(t *testing.T) {
	w := newWorkers()
	defer w.close()
	for round := range 3 {
		const n = 100
		var started, finished sync.WaitGroup
		started.Add(n)
		finished.Add(n)
		release := make(chan struct{})
		for range n {
			w.run(func() {
				defer finished.Done()
				started.Done()
				<-release
			})
		}
		all := make(chan struct{})
		go func() { started.Wait(); close(all) }()
		select {
		case <-all:
		case <-time.After(time.Minute):
			t.Fatalf("round %d: not every call started while the others were running", round)
		}
		close(release)
		finished.Wait()
		if idle := w.idle.Load(); idle > maxIdleWorkers {
			t.Fatalf("round %d: %d idle workers, at most %d may wait", round, idle, maxIdleWorkers)
		}
	}
}
