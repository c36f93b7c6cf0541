package local

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valetgw/valet/providers"
)

// startRawPut sends the request line and headers of the signed PUT r, for
// a body of size bytes, over a raw TCP connection, and returns it.
func startRawPut(t *testing.T, p *Provider, r providers.Recipe, size int) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(p.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var hdr strings.Builder
	fmt.Fprintf(&hdr, "PUT %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n", r.URL[len(p.URL()):], size)
	for k, v := range r.Headers {
		fmt.Fprintf(&hdr, "%s: %s\r\n", k, v)
	}
	hdr.WriteString("Connection: close\r\n\r\n")
	if _, err := io.WriteString(conn, hdr.String()); err != nil {
		t.Fatal(err)
	}
	return conn
}

// trickle writes one byte of body to conn at once and then one every gap,
// n bytes in all, until stop closes or a write fails.
func trickle(conn net.Conn, n int, gap time.Duration, stop <-chan struct{}) {
	for i := 0; i < n; i++ {
		if i > 0 {
			select {
			case <-stop:
				return
			case <-time.After(gap):
			}
		}
		if _, err := conn.Write([]byte{'a' + byte(i%26)}); err != nil {
			return
		}
	}
}

// A body that goes silent for longer than body_idle_timeout is cut: the
// connection closes (after a 400, when the client still gets to read it)
// and nothing is stored. The client sends a byte every 3s against a 1s
// limit and the test allows 30s, so a loaded machine still passes.
func TestBodyIdleTimeoutCutsSilentBody(t *testing.T) {
	p, root := newLocal(t, func(c map[string]any) { c["body_idle_timeout"] = "1s" })
	r, err := p.SignPut(t.Context(), providers.PutRequest{Key: "slow/cut.bin", ContentType: "a/b", Size: 100, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	conn := startRawPut(t, p, r, 100)
	stop := make(chan struct{})
	defer close(stop)
	go trickle(conn, 100, 3*time.Second, stop)

	start := time.Now()
	conn.SetReadDeadline(start.Add(30 * time.Second))
	got, err := io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("a body silent for 3s at a time was not cut in %s (body_idle_timeout 1s); read %q", time.Since(start).Round(time.Second), got)
	}
	if len(got) > 0 && !strings.HasPrefix(string(got), "HTTP/1.1 400 ") {
		t.Fatalf("answer to a cut body: %q, want a 400", got)
	}
	if _, err := p.Head(t.Context(), providers.HeadRequest{Key: "slow/cut.bin"}); !errors.Is(err, providers.ErrNotFound) {
		t.Fatalf("Head after a cut body: %v, want NotFound", err)
	}
	for deadline := time.Now().Add(30 * time.Second); countTemps(t, root) != 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d temp files left after a cut body", countTemps(t, root))
		}
	}
}

// The limit is on silence, not on the whole body: a client sending a byte
// every 200ms against a 3s limit takes 5s over its 25 bytes, longer than
// the limit, and its PUT succeeds.
func TestBodyIdleTimeoutSparesSteadyTrickle(t *testing.T) {
	p, _ := newLocal(t, func(c map[string]any) { c["body_idle_timeout"] = "3s" })
	const n = 25
	r, err := p.SignPut(t.Context(), providers.PutRequest{Key: "slow/steady.bin", ContentType: "a/b", Size: n, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	conn := startRawPut(t, p, r, n)
	stop := make(chan struct{})
	defer close(stop)
	start := time.Now()
	go trickle(conn, n, 200*time.Millisecond, stop)

	conn.SetReadDeadline(time.Now().Add(2 * time.Minute))
	status, err := readLine(conn)
	if err != nil || !strings.HasPrefix(status, "HTTP/1.1 200 ") {
		rest, _ := io.ReadAll(conn)
		t.Fatalf("steady trickle after %s: status %q %v %s", time.Since(start).Round(time.Millisecond), status, err, rest)
	}
	if took := time.Since(start); took < 3*time.Second {
		t.Fatalf("the body took only %s, not longer than the limit; the test proves nothing", took)
	}
	g, _ := p.SignGet(t.Context(), providers.GetRequest{Key: "slow/steady.bin", TTL: time.Hour})
	if res, b := do(t, "GET", g.URL, nil, nil); res.Status != 200 || string(b) != "abcdefghijklmnopqrstuvwxy" {
		t.Fatalf("GET after a steady trickle: %d %q", res.Status, b)
	}
}
