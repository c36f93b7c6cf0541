package host

import (
	"context"

	"google.golang.org/protobuf/proto"

	"github.com/valetgw/valet/plugins/internal/wire"
	"github.com/valetgw/valet/providers"
)

// A Plugin always offers Multipart: whether the process behind it has it is
// known only over the wire, from Info's Capabilities.Multipart, and a
// plugin without it answers these calls with Unimplemented.
var (
	_ providers.Provider  = (*Plugin)(nil)
	_ providers.Multipart = (*Plugin)(nil)
)

// Each method is one call of the method table (plugins/internal/wire) with
// the supervision rules of call.

// Info implements providers.Provider.
func (p *Plugin) Info(ctx context.Context) (providers.Info, error) {
	return invoke(ctx, p, wire.Info, struct{}{})
}

// Configure implements providers.Provider. On success cfg replaces the
// configuration that is replayed after a restart.
func (p *Plugin) Configure(ctx context.Context, cfg providers.StoreConfig) error {
	_, err := invoke(ctx, p, wire.Configure, cfg)
	if err == nil {
		p.mu.Lock()
		p.spec.Store, p.spec.Config = cfg.Store, cfg.Config
		p.mu.Unlock()
	}
	return err
}

// SignPut implements providers.Provider.
func (p *Plugin) SignPut(ctx context.Context, req providers.PutRequest) (providers.Recipe, error) {
	return invoke(ctx, p, wire.SignPut, req)
}

// SignGet implements providers.Provider.
func (p *Plugin) SignGet(ctx context.Context, req providers.GetRequest) (providers.Recipe, error) {
	return invoke(ctx, p, wire.SignGet, req)
}

// SignDelete implements providers.Provider.
func (p *Plugin) SignDelete(ctx context.Context, req providers.DeleteRequest) (providers.Recipe, error) {
	return invoke(ctx, p, wire.SignDelete, req)
}

// Head implements providers.Provider.
func (p *Plugin) Head(ctx context.Context, key string) (providers.Object, error) {
	return invoke(ctx, p, wire.Head, key)
}

// List implements providers.Provider.
func (p *Plugin) List(ctx context.Context, req providers.ListRequest) (providers.ListPage, error) {
	return invoke(ctx, p, wire.List, req)
}

// Delete implements providers.Provider.
func (p *Plugin) Delete(ctx context.Context, key string) error {
	_, err := invoke(ctx, p, wire.Delete, key)
	return err
}

// CreateMultipart implements providers.Multipart. It is never retried: a
// retry could leave an orphaned upload behind.
func (p *Plugin) CreateMultipart(ctx context.Context, req providers.CreateMultipartRequest) (providers.MultipartUpload, error) {
	return invoke(ctx, p, wire.CreateMultipart, req)
}

// SignParts implements providers.Multipart.
func (p *Plugin) SignParts(ctx context.Context, req providers.SignPartsRequest) ([]providers.PartRecipe, error) {
	return invoke(ctx, p, wire.SignParts, req)
}

// CompleteMultipart implements providers.Multipart.
func (p *Plugin) CompleteMultipart(ctx context.Context, req providers.CompleteMultipartRequest) (providers.Object, error) {
	return invoke(ctx, p, wire.CompleteMultipart, req)
}

// AbortMultipart implements providers.Multipart.
func (p *Plugin) AbortMultipart(ctx context.Context, ref providers.MultipartRef) error {
	_, err := invoke(ctx, p, wire.AbortMultipart, ref)
	return err
}

// ListParts implements providers.Multipart.
func (p *Plugin) ListParts(ctx context.Context, ref providers.MultipartRef) ([]providers.Part, error) {
	return invoke(ctx, p, wire.ListParts, ref)
}

// invoke makes call m on the running plugin, under supervision.
func invoke[P, In, Out any, PIn, POut proto.Message](ctx context.Context, p *Plugin, m *wire.Method[P, In, Out, PIn, POut], in In) (Out, error) {
	return call(ctx, p, m.Name, m.Idempotent, func(ctx context.Context, mx *mux) (Out, error) {
		return roundTrip(ctx, mx, m, in)
	})
}

// roundTrip makes call m once on mx: no supervision, no retry.
func roundTrip[P, In, Out any, PIn, POut proto.Message](ctx context.Context, mx *mux, m *wire.Method[P, In, Out, PIn, POut], in In) (Out, error) {
	resp, err := mx.roundTrip(ctx, m.NewRequest(in))
	if err != nil {
		var zero Out
		return zero, err
	}
	return m.ReadResult(resp)
}
