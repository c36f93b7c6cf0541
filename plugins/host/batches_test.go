package host_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-plugin"

	"github.com/valetgw/valet/plugins"
	"github.com/valetgw/valet/plugins/host"
	"github.com/valetgw/valet/plugins/internal/wire"
	pb "github.com/valetgw/valet/plugins/proto/v1"
	"github.com/valetgw/valet/providers"
)

// callsOnly is a plugin built before the Batches stream: it serves Calls
// (the test provider's) and answers Batches with Unimplemented.
type callsOnly struct {
	pb.UnimplementedProviderServiceServer
	srv *plugins.Server
}

func (c callsOnly) Calls(s pb.ProviderService_CallsServer) error { return c.srv.Calls(s) }

func serveCallsOnlyPlugin() {
	srv, err := plugins.NewServer(&testProvider{})
	if err != nil {
		panic(err)
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  wire.Handshake,
		VersionedPlugins: wire.Plugins(callsOnly{srv: srv}),
		GRPCServer:       plugin.DefaultGRPCServer,
	})
}

// Many calls at once, over the Batches stream (a current plugin) and over
// Calls (a plugin built before Batches), each get their own answer; calls
// cancelled in flight among them do not disturb the others.
func TestConcurrentCallsGetTheirOwnAnswers(t *testing.T) {
	for _, name := range []string{"test", "calls-only"} {
		t.Run(name, func(t *testing.T) {
			h := newHost(t, nil)
			p, err := h.Start(context.Background(), host.Spec{Store: "s", Plugin: name, Config: []byte(`{}`)})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			var wg sync.WaitGroup
			for g := range 32 {
				wg.Go(func() {
					for i := range 20 {
						key := fmt.Sprintf("k/%d/%d", g, i)
						ctx := context.Background()
						if i%7 == 3 {
							cctx, cancel := context.WithCancel(ctx)
							cancel() // a call given up before it is sent
							if _, err := p.SignPut(cctx, providers.PutRequest{Key: key, Size: 1}); err == nil {
								t.Errorf("SignPut with a cancelled context succeeded")
							}
							continue
						}
						r, err := p.SignPut(ctx, providers.PutRequest{Key: key, Size: int64(i + 1)})
						if err != nil {
							t.Error(err)
							return
						}
						if want := "http://127.0.0.1:1/o/" + url.PathEscape(key) + "?"; !strings.HasPrefix(r.URL, want) {
							t.Errorf("SignPut(%s) answered %s", key, r.URL)
						}
					}
				})
			}
			wg.Wait()
			if _, pid := whoami(t, p); pid != p.Pid() {
				t.Fatalf("plugin restarted under concurrent calls")
			}
		})
	}
}
