package testenv

import (
	"bytes"
	"sync"
)

// Buffer collects what is written to it and is safe to read while other
// goroutines write. With Limit > 0 it keeps the first Limit bytes (and
// still accepts the rest). The zero value is ready to use.
type Buffer struct {
	Limit int

	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.writes++
	if b.Limit == 0 || b.buf.Len() < b.Limit {
		b.buf.Write(p)
	}
	return len(p), nil
}

// String is what the buffer has kept.
func (b *Buffer) String() string {
	s, _ := b.Snapshot()
	return s
}

// Snapshot is what the buffer has kept and how many Write calls it has
// had, read together.
func (b *Buffer) Snapshot() (string, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String(), b.writes
}
