// Package wire holds what both ends of the plugin hop must agree on: the
// go-plugin handshake, the plugin set for protocol version 1, the gRPC
// message size limit, and the table of provider calls (Methods) that
// travel on the Calls stream. plugins.Serve uses the server half,
// plugins/host the client half.
package wire

import (
	"context"

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
