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
//
// Likewise it offers Reader, GetSigner, PostPolicySigner and
// CORSConfigurer, announced by Capabilities.Reader, SignGets, PostPolicy
// and CORS.
var (
	_ providers.Provider         = (*Plugin)(nil)
	_ providers.Multipart        = (*Plugin)(nil)
	_ providers.Reader           = (*Plugin)(nil)
	_ providers.GetSigner        = (*Plugin)(nil)
	_ providers.PostPolicySigner = (*Plugin)(nil)
	_ providers.CORSConfigurer   = (*Plugin)(nil)
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
func (p *Plugin) SignDelete(ctx context.Context, req providers.SignDeleteRequest) (providers.Recipe, error) {
	return invoke(ctx, p, wire.SignDelete, req)
}

// Head implements providers.Provider.
func (p *Plugin) Head(ctx context.Context, req providers.HeadRequest) (providers.Object, error) {
	return invoke(ctx, p, wire.Head, req)
}

// List implements providers.Provider.
func (p *Plugin) List(ctx context.Context, req providers.ListRequest) (providers.ListPage, error) {
	return invoke(ctx, p, wire.List, req)
}

// Delete implements providers.Provider.
func (p *Plugin) Delete(ctx context.Context, req providers.DeleteRequest) (providers.DeleteResult, error) {
	return invoke(ctx, p, wire.Delete, req)
}

// CreateMultipart implements providers.Multipart. It is never retried: a
// retry could leave an orphaned upload behind.
func (p *Plugin) CreateMultipart(ctx context.Context, req providers.CreateMultipartRequest) (providers.MultipartUpload, error) {
	return invoke(ctx, p, wire.CreateMultipart, req)
}

// SignParts implements providers.Multipart.
func (p *Plugin) SignParts(ctx context.Context, req providers.SignPartsRequest) (providers.SignPartsResult, error) {
	return invoke(ctx, p, wire.SignParts, req)
}

// CompleteMultipart implements providers.Multipart.
func (p *Plugin) CompleteMultipart(ctx context.Context, req providers.CompleteMultipartRequest) (providers.Object, error) {
	return invoke(ctx, p, wire.CompleteMultipart, req)
}

// AbortMultipart implements providers.Multipart.
func (p *Plugin) AbortMultipart(ctx context.Context, req providers.AbortMultipartRequest) (providers.AbortMultipartResult, error) {
	return invoke(ctx, p, wire.AbortMultipart, req)
}

// ListParts implements providers.Multipart.
func (p *Plugin) ListParts(ctx context.Context, req providers.ListPartsRequest) (providers.ListPartsResult, error) {
	return invoke(ctx, p, wire.ListParts, req)
}

// ReadObject implements providers.Reader.
func (p *Plugin) ReadObject(ctx context.Context, req providers.ReadObjectRequest) (providers.ReadObjectResult, error) {
	if err := providers.CheckReadObject(req); err != nil {
		return providers.ReadObjectResult{}, err
	}
	return invoke(ctx, p, wire.ReadObject, req)
}

// SignGets implements providers.GetSigner: one round trip for the whole
// batch, at most providers.MaxSignGets requests (a plugin older than the
// call, which does not announce Capabilities.SignGets, gets one SignGet
// per request instead).
func (p *Plugin) SignGets(ctx context.Context, req providers.SignGetsRequest) (providers.SignGetsResult, error) {
	if n := len(req.Requests); n > providers.MaxSignGets {
		return providers.SignGetsResult{}, providers.Errorf(providers.InvalidArgument, "%d requests in one SignGets, more than %d", n, providers.MaxSignGets)
	}
	res, err := invoke(ctx, p, wire.SignGets, req)
	if providers.CodeOf(err) == providers.Unimplemented {
		// A plugin built before SignGets: sign one by one over the hop.
		return providers.SignEach(ctx, p, req), nil
	}
	return res, err
}

// SignPostPolicy implements providers.PostPolicySigner.
func (p *Plugin) SignPostPolicy(ctx context.Context, req providers.PostPolicyRequest) (providers.PostPolicy, error) {
	return invoke(ctx, p, wire.SignPostPolicy, req)
}

// GetCORS implements providers.CORSConfigurer.
func (p *Plugin) GetCORS(ctx context.Context, req providers.GetCORSRequest) (providers.CORSResult, error) {
	return invoke(ctx, p, wire.GetCORS, req)
}

// PutCORS implements providers.CORSConfigurer.
func (p *Plugin) PutCORS(ctx context.Context, req providers.PutCORSRequest) (providers.PutCORSResult, error) {
	return invoke(ctx, p, wire.PutCORS, req)
}

// invoke makes call m on the running plugin, under supervision.
func invoke[P, In, Out any, PIn, POut proto.Message](ctx context.Context, p *Plugin, m *wire.Method[P, In, Out, PIn, POut], in In) (Out, error) {
	return call(ctx, p, m.Name, m.Idempotent, func(ctx context.Context, mx *mux) (Out, error) {
		return roundTrip(ctx, mx, m, in)
	})
}

// roundTrip makes call m once on mx: no supervision, no retry.
func roundTrip[P, In, Out any, PIn, POut proto.Message](ctx context.Context, mx *mux, m *wire.Method[P, In, Out, PIn, POut], in In) (Out, error) {
	req := m.NewRequest(in)
	wire.InjectTrace(ctx, req)
	resp, err := mx.roundTrip(ctx, req)
	if err != nil {
		var zero Out
		return zero, err
	}
	return m.ReadResult(resp)
}
