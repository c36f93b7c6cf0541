package testenv

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// A Probe returns nil once p is ready to serve. The launcher calls it every
// 50 ms until it succeeds, the process exits or the Spec's Timeout passes.
type Probe func(p *Process) error

// HTTPReady succeeds when url answers with any status below 500 (a bare GET
// often gets 400 or 403: the listener is up all the same).
func HTTPReady(url string) Probe {
	return httpProbe(url, func(status int) bool { return status < 500 })
}

// HTTPStatus succeeds when url answers exactly status, e.g. /readyz 200.
func HTTPStatus(url string, status int) Probe {
	return httpProbe(url, func(got int) bool { return got == status })
}

func httpProbe(url string, ok func(int) bool) Probe {
	c := &http.Client{Timeout: time.Second}
	return func(*Process) error {
		resp, err := c.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if !ok(resp.StatusCode) {
			return fmt.Errorf("%s: status %d", url, resp.StatusCode)
		}
		return nil
	}
}

// TCPReady succeeds when addr (host:port) accepts a connection.
func TCPReady(addr string) Probe {
	return func(*Process) error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// LogReady succeeds once the process has printed s.
func LogReady(s string) Probe {
	return func(p *Process) error {
		if !strings.Contains(p.Logs(), s) {
			return fmt.Errorf("%q not printed yet", s)
		}
		return nil
	}
}
