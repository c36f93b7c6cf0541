package main

import (
	"io"
	"sync"
	"time"
)

// logFlushDelay bounds how long a log line may sit in memory before it is
// written: short enough that an operator tailing the log (or a test reading
// it right after a request) sees it at once, long enough that under load one
// write carries hundreds of lines instead of one syscall per request.
const logFlushDelay = 10 * time.Millisecond

// logFlushSize is the buffered amount at which the writer flushes at once,
// in the writing goroutine, instead of waiting for the delay.
const logFlushSize = 32 << 10

// logWriter buffers the gateway's log output and writes it in batches.
// Every Write is one whole line (slog and hclog write a line per call), and
// lines reach the underlying writer whole and in order. Lines are written at
// most logFlushDelay after they arrive, at once when logFlushSize is
// buffered, and all of them by Close. Write never fails: a log that cannot
// be written cannot report it either, which is how slog treats it too.
type logWriter struct {
	w     io.Writer
	delay time.Duration
	kick  chan struct{} // a line arrived in an empty buffer
	stop  chan struct{} // closed by Close
	wmu   sync.Mutex    // serialises writes to w, held across a swap and its write
	mu    sync.Mutex    // guards buf, spare, closed
	buf   []byte
	spare []byte
	// closed: Close ran; later writes (a plugin's last words) go straight
	// through.
	closed bool
	once   sync.Once
	done   chan struct{} // closed when the flusher has exited
}

func newLogWriter(w io.Writer, delay time.Duration) *logWriter {
	l := &logWriter{
		w:     w,
		delay: delay,
		kick:  make(chan struct{}, 1),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
		buf:   make([]byte, 0, logFlushSize),
		spare: make([]byte, 0, logFlushSize),
	}
	go l.flusher()
	return l
}

func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		l.wmu.Lock()
		_, _ = l.w.Write(p)
		l.wmu.Unlock()
		return len(p), nil
	}
	wasEmpty := len(l.buf) == 0
	l.buf = append(l.buf, p...)
	full := len(l.buf) >= logFlushSize
	l.mu.Unlock()
	if full {
		l.flush()
	} else if wasEmpty {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// flush writes everything buffered so far.
func (l *logWriter) flush() {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.Lock()
	out := l.buf
	l.buf, l.spare = l.spare[:0], nil
	l.mu.Unlock()
	if len(out) > 0 {
		_, _ = l.w.Write(out)
	}
	l.mu.Lock()
	if cap(out) <= 4*logFlushSize { // keep a burst's huge buffer from living on
		l.spare = out[:0]
	}
	l.mu.Unlock()
}

func (l *logWriter) flusher() {
	defer close(l.done)
	t := time.NewTimer(l.delay)
	t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-l.kick:
		}
		t.Reset(l.delay)
		select {
		case <-l.stop:
			t.Stop()
			return
		case <-t.C:
		}
		l.flush()
	}
}

// Close writes every buffered line and stops the background flusher; later
// writes go straight to the underlying writer. It is safe to call more than
// once.
func (l *logWriter) Close() error {
	l.once.Do(func() {
		close(l.stop)
		<-l.done
		l.wmu.Lock()
		l.mu.Lock()
		out := l.buf
		l.buf, l.closed = nil, true
		l.mu.Unlock()
		if len(out) > 0 {
			_, _ = l.w.Write(out)
		}
		l.wmu.Unlock()
	})
	return nil
}
