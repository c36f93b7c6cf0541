package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// startTestServer serves h through newHTTPServer with the given read
// timeout on a loopback port and returns its address.
func startTestServer(t *testing.T, h http.Handler, bodyTimeout time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newHTTPServer(h, slog.New(slog.NewTextHandler(io.Discard, nil)), bodyTimeout)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// readAPIBody reads a body the way the API does: at most 64 KiB.
func readAPIBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	return io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
}

// A body that trickles in (a byte every 250ms, never finishing) is cut
// once the read timeout has passed: the handler's read fails and the
// connection is closed. The bounds are generous so a loaded machine passes.
func TestAPIBodyTrickleIsCut(t *testing.T) {
	readErr := make(chan error, 1)
	addr := startTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := readAPIBody(w, r)
		readErr <- err
		if err != nil {
			http.Error(w, "body not received", http.StatusBadRequest)
		}
	}), time.Second)

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/stores/s/uploads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := conn.Write([]byte("{")); err != nil {
					return
				}
			}
		}
	}()

	start := time.Now()
	select {
	case err := <-readErr:
		if err == nil {
			t.Fatal("the handler read a body that never arrived")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a trickling body held the request for 30s; want it cut after about 1s")
	}
	// The server then closes the connection: the client's read ends (EOF or
	// reset) rather than waiting forever.
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err = io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open %s after a cut body", time.Since(start).Round(time.Second))
	}
}

// The read timeout bounds the request's arrival only. A handler that works
// long after reading its body, or after a request with no body, keeps its
// context and answers, and the connection then serves the next request.
func TestAPIReadTimeoutSparesTheHandler(t *testing.T) {
	const timeout = 2 * time.Second
	addr := startTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := readAPIBody(w, r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		// A slow provider call: it ends well after the deadline that was
		// set when the handler started.
		wait := timeout + time.Second
		if r.URL.Query().Has("fast") {
			wait = 0
		}
		select {
		case <-time.After(wait):
		case <-r.Context().Done():
			http.Error(w, "context cancelled: "+context.Cause(r.Context()).Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "%d", len(b))
	}), timeout)

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var conns atomic.Int32
	tr.DialContext = func(ctx context.Context, network, a string) (net.Conn, error) {
		conns.Add(1)
		return (&net.Dialer{}).DialContext(ctx, network, a)
	}
	body := bytes.Repeat([]byte("x"), 60<<10)
	for i, tc := range []struct {
		method, path string
		body         []byte
	}{{"POST", "/v1/x", body}, {"GET", "/v1/x", nil}, {"POST", "/v1/x?fast", []byte("{}")}} {
		req, _ := http.NewRequest(tc.method, "http://"+addr+tc.path, bytes.NewReader(tc.body))
		if tc.body == nil {
			req.Body, req.ContentLength = http.NoBody, 0
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(got) != fmt.Sprint(len(tc.body)) {
			t.Fatalf("request %d (%s, %d bytes): %d %q", i, tc.method, len(tc.body), res.StatusCode, got)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 3 sequential requests, want 1 (kept alive)", n)
	}
}
