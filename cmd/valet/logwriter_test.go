package main

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valetgw/valet/internal/testenv"
)

func TestLogWriterFlushesAfterDelay(t *testing.T) {
	var out testenv.Buffer
	l := newLogWriter(&out, 20*time.Millisecond)
	defer l.Close()
	_, _ = l.Write([]byte("one\n"))
	_, _ = l.Write([]byte("two\n"))
	if s, _ := out.Snapshot(); s != "" {
		t.Fatalf("written before the delay: %q", s)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		s, n := out.Snapshot()
		if s == "one\ntwo\n" {
			if n != 1 {
				t.Errorf("%d writes for two lines within the delay, want 1", n)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not flushed after 2s: %q", s)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// A later line is flushed on its own too.
	_, _ = l.Write([]byte("three\n"))
	for deadline = time.Now().Add(2 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if s, _ := out.Snapshot(); s == "one\ntwo\nthree\n" {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("third line not flushed: %q", s)
		}
	}
}

func TestLogWriterCloseFlushesInOrder(t *testing.T) {
	var out testenv.Buffer
	l := newLogWriter(&out, time.Hour) // only size and Close flush
	var wg sync.WaitGroup
	const writers, lines = 8, 2000
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range lines {
				_, _ = fmt.Fprintf(l, "w%d line %06d %s\n", w, i, strings.Repeat("x", 40))
			}
		}()
	}
	wg.Wait()
	if _, n := out.Snapshot(); n == 0 {
		t.Errorf("nothing written although far more than %d bytes were buffered", logFlushSize)
	}
	_ = l.Close()
	_ = l.Close() // idempotent
	_, _ = l.Write([]byte("after close\n"))
	s, _ := out.Snapshot()
	got := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if len(got) != writers*lines+1 || got[len(got)-1] != "after close" {
		t.Fatalf("%d lines, last %q; want %d and %q", len(got), got[len(got)-1], writers*lines+1, "after close")
	}
	next := make([]int, writers)
	for _, line := range got[:len(got)-1] {
		var w, i int
		if _, err := fmt.Sscanf(line, "w%d line %d", &w, &i); err != nil || len(line) != len("w0 line 000000 ")+40 {
			t.Fatalf("torn or foreign line %q", line)
		}
		if i != next[w] {
			t.Fatalf("writer %d: line %d after %d, want in order", w, i, next[w]-1)
		}
		next[w]++
	}
}
