package wire

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Every item put from many goroutines is sent exactly once, each
// goroutine's items in the order it put them, and send never runs twice at
// once.
func TestCoalescerSendsEveryItemOnce(t *testing.T) {
	const goroutines, each = 32, 200
	var (
		mu      sync.Mutex
		got     []int
		busy    atomic.Bool
		batches atomic.Int64
		all     sync.WaitGroup
	)
	all.Add(goroutines * each)
	c := NewCoalescer(t.Context(), func(items []int) error {
		if !busy.CompareAndSwap(false, true) {
			t.Error("send called concurrently")
		}
		defer busy.Store(false)
		batches.Add(1)
		mu.Lock()
		got = append(got, items...)
		mu.Unlock()
		all.Add(-len(items))
		return nil
	})
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				if err := c.Put(g*each + i); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	all.Wait()
	if len(got) != goroutines*each {
		t.Fatalf("sent %d items, want %d", len(got), goroutines*each)
	}
	last := make([]int, goroutines)
	for g := range last {
		last[g] = -1
	}
	for _, v := range got {
		g, i := v/each, v%each
		if i != last[g]+1 {
			t.Fatalf("goroutine %d: item %d sent after item %d", g, i, last[g])
		}
		last[g] = i
	}
	t.Logf("%d items in %d batches", len(got), batches.Load())
}

// A lone item is sent without another Put to push it out.
func TestCoalescerSendsALoneItem(t *testing.T) {
	sent := make(chan []string, 1)
	c := NewCoalescer(t.Context(), func(items []string) error {
		sent <- append([]string(nil), items...)
		return nil
	})
	if err := c.Put("only"); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-sent:
		if len(got) != 1 || got[0] != "only" {
			t.Fatalf("sent %q", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a lone item was never sent")
	}
}

// After a failed send, and after the context ends, Put returns the error.
func TestCoalescerStops(t *testing.T) {
	boom := errors.New("stream gone")
	failed := make(chan struct{})
	c := NewCoalescer(t.Context(), func([]int) error { close(failed); return boom })
	if err := c.Put(1); err != nil {
		t.Fatal(err)
	}
	<-failed
	waitPutErr(t, c, boom)

	ctx, cancel := context.WithCancel(t.Context())
	c = NewCoalescer(ctx, func([]int) error { return nil })
	cancel()
	waitPutErr(t, c, context.Canceled)
}

// waitPutErr puts until Put returns want (the writer stops asynchronously).
func waitPutErr(t *testing.T, c *Coalescer[int], want error) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if err := c.Put(0); err != nil {
			if !errors.Is(err, want) {
				t.Fatalf("Put: %v, want %v", err, want)
			}
			return
		}
	}
	t.Fatalf("Put never returned %v", want)
}
