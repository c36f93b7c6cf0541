// Package plugins is the plugin side of Valet's provider transport.
//
// A provider runs in its own process and talks to the gateway over
// go-plugin's gRPC transport (AutoMTLS, a magic-cookie handshake, protocol
// version 1 of plugins/proto/v1). A third-party plugin's main is one call:
//
//	func main() {
//		if err := plugins.Serve(myprovider.New()); err != nil {
//			log.Fatal(err)
//		}
//	}
//
// Built-in providers use the same call: `valet plugin serve NAME` runs
// plugins.Serve(builtins[NAME]()), so built-ins and external plugins take
// exactly the same path. The gateway side (launching, supervising and
// restarting plugin processes) is plugins/host.
//
// Serve returns errors rather than exiting; the one exception is a plugin
// whose host has disappeared, which exits by itself. Options serve a plugin
// for a debugger (WithDebug) or inside a test's process (WithTest), and
// NewServer returns the gRPC service for a server of one's own.
//
// Serve owns the process's stdout (the go-plugin handshake) and logs hclog
// JSON to stderr, which the host re-emits in its own log. A provider must
// not print to stdout; whatever it prints there is captured and logged by
// the host as a warning.
package plugins
