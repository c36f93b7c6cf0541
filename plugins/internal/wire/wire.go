// Package wire holds what both ends of the plugin hop must agree on: the
// go-plugin handshake, the plugin set for protocol version 1, the gRPC
// message size limit, and the table of provider calls (Methods) that
// travel on the Calls stream. plugins.Serve uses the server half,
// plugins/host the client half.
package wire

import (
	"context"
	"runtime"
	"sync"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/valetgw/valet/plugins/proto/v1"
)

// ProtocolVersion is the major version of plugins/proto in use. A breaking
// change adds version 2 next to it in VersionedPlugins.
const ProtocolVersion = 1

// PluginName is the single plugin a Valet plugin process dispenses.
const PluginName = "provider"

// MaxMessageSize bounds every gRPC message in both directions. It is far above
// any real call (a SignParts batch of 10,000 recipes is a few MiB) and keeps a
// misbehaving peer from making the other side allocate without limit.
const MaxMessageSize = 16 << 20

// WindowSize is the HTTP/2 flow-control window of a plugin connection and
// of each of its streams, on both ends. A fixed window turns off gRPC's
// bandwidth estimator, which otherwise sends a PING (and wakes both ends)
// every round trip while calls flow; on a local socket there is no
// bandwidth to estimate.
const WindowSize = 4 << 20

// Handshake is checked by both sides before anything else. The cookie only
// stops a plugin binary from being run by hand by mistake; it is not a
// security measure (AutoMTLS and the sha256 pin are).
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "VALET_PLUGIN_MAGIC_COOKIE",
	MagicCookieValue: "valet-provider-6c1f0e3a9b",
}

// Plugin adapts a ProviderService to go-plugin. Impl is set in the plugin
// process; the host only uses GRPCClient.
type Plugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl pb.ProviderServiceServer
}

// GRPCServer registers the provider service.
func (p *Plugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterProviderServiceServer(s, p.Impl)
	return nil
}

// GRPCClient returns the raw service client; plugins/host opens its Calls
// stream.
func (p *Plugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return pb.NewProviderServiceClient(c), nil
}

// Plugins is the VersionedPlugins map for a server (srv non-nil) or a client.
func Plugins(srv pb.ProviderServiceServer) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{ProtocolVersion: {PluginName: &Plugin{Impl: srv}}}
}

// BatchesHeader is the header the server sends as soon as a Batches stream
// opens, so that the host knows the plugin serves Batches before it sends a
// call on it (a plugin built before Batches answers Unimplemented instead).
const BatchesHeader = "valet-batches"

// A Coalescer sends the items put to it in as few messages as the load
// allows, without ever waiting for company: Put queues its item and wakes
// the Coalescer's writer goroutine, which sends everything queued by the
// time it runs in one message, and again until the queue is empty. A lone
// item goes out as soon as the writer is scheduled (no timer, no fixed
// delay); under load, the items queued while the writer was waiting for a
// core or sending the last batch share one message, one write and one
// wake-up of the peer.
type Coalescer[T any] struct {
	mu    sync.Mutex
	queue []T
	err   error // the send error that stopped the writer
	wake  chan struct{}
	// send sends one batch; it must not keep the slice.
	send func([]T) error
}

// NewCoalescer returns a Coalescer sending with send, whose writer runs
// until ctx ends or send fails.
func NewCoalescer[T any](ctx context.Context, send func([]T) error) *Coalescer[T] {
	c := &Coalescer[T]{send: send, wake: make(chan struct{}, 1)}
	go c.write(ctx)
	return c
}

// Put queues x to be sent. Its error is the send error that stopped the
// writer (the stream is broken) or the end of its context; an item queued
// without error may still be lost when the stream breaks, which the
// stream's receive side tells.
func (c *Coalescer[T]) Put(x T) error {
	c.mu.Lock()
	if err := c.err; err != nil {
		c.mu.Unlock()
		return err
	}
	c.queue = append(c.queue, x)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default: // the writer is already woken
	}
	return nil
}

func (c *Coalescer[T]) write(ctx context.Context) {
	var spare []T // the last batch sent, reused for the next queue
	for {
		select {
		case <-c.wake:
		case <-ctx.Done():
			c.mu.Lock()
			c.err = ctx.Err()
			c.queue = nil
			c.mu.Unlock()
			return
		}
		// Let the goroutines already runnable (callers about to queue an
		// item) run first: with none, this returns at once.
		runtime.Gosched()
		c.mu.Lock()
		batch := c.queue
		c.queue = spare[:0]
		c.mu.Unlock()
		if len(batch) == 0 {
			spare = batch
			continue
		}
		err := c.send(batch)
		clear(batch) // drop the references for the garbage collector
		spare = batch
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.queue = nil
			c.mu.Unlock()
			return
		}
	}
}
