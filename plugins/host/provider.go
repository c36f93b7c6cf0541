package host

import (
	"context"

	"github.com/valetgw/valet/plugins/internal/convert"
	pb "github.com/valetgw/valet/plugins/proto/v1"
	"github.com/valetgw/valet/providers"
)

// A Plugin always offers Multipart: whether the process behind it has it is
// known only over the wire, from Info's Capabilities.Multipart, and a
// plugin without it answers these calls with Unimplemented.
var (
	_ providers.Provider  = (*Plugin)(nil)
	_ providers.Multipart = (*Plugin)(nil)
)

// Info implements providers.Provider.
func (p *Plugin) Info(ctx context.Context) (providers.Info, error) {
	return call(ctx, p, "Info", true, func(ctx context.Context, c pb.ProviderServiceClient) (providers.Info, error) {
		r, err := c.Info(ctx, &pb.InfoRequest{})
		if err != nil {
			return providers.Info{}, err
		}
		return convert.InfoFromProto(r), nil
	})
}

// Configure implements providers.Provider. On success cfg replaces the
// configuration that is replayed after a restart.
func (p *Plugin) Configure(ctx context.Context, cfg providers.StoreConfig) error {
	_, err := call(ctx, p, "Configure", true, func(ctx context.Context, c pb.ProviderServiceClient) (struct{}, error) {
		_, err := c.Configure(ctx, convert.ConfigToProto(cfg))
		return struct{}{}, err
	})
	if err == nil {
		p.mu.Lock()
		p.spec.Store, p.spec.Config = cfg.Store, cfg.Config
		p.mu.Unlock()
	}
	return err
}

// SignPut implements providers.Provider.
func (p *Plugin) SignPut(ctx context.Context, req providers.PutRequest) (providers.Recipe, error) {
	return call(ctx, p, "SignPut", true, func(ctx context.Context, c pb.ProviderServiceClient) (providers.Recipe, error) {
		r, err := c.SignPut(ctx, convert.PutToProto(req))
		if err != nil {
			return providers.Recipe{}, err
		}
		return convert.RecipeFromProto(r), nil
	})
}

// SignGet implements providers.Provider.
func (p *Plugin) SignGet(ctx context.Context, req providers.GetRequest) (providers.Recipe, error) {
	return call(ctx, p, "SignGet", true, func(ctx context.Context, c pb.ProviderServiceClient) (providers.Recipe, error) {
		r, err := c.SignGet(ctx, convert.GetToProto(req))
		if err != nil {
			return providers.Recipe{}, err
		}
		return convert.RecipeFromProto(r), nil
	})
}

// SignDelete implements providers.Provider.
func (p *Plugin) SignDelete(ctx context.Context, req providers.DeleteRequest) (providers.Recipe, error) {
	return call(ctx, p, "SignDelete", true, func(ctx context.Context, c pb.ProviderServiceClient) (providers.Recipe, error) {
		r, err := c.SignDelete(ctx, convert.DeleteToProto(req))
		if err != nil {
			return providers.Recipe{}, err
		}
		return convert.RecipeFromProto(r), nil
	})
}

// Head implements providers.Provider.
func (p *Plugin) Head(ctx context.Context, key string) (providers.Object, error) {
	return call(ctx, p, "Head", true, func(ctx context.Context, c pb.ProviderServiceClient) (providers.Object, error) {
		r, err := c.Head(ctx, &pb.HeadRequest{Key: key})
		if err != nil {
			return providers.Object{}, err
		}
		return convert.ObjectFromProto(r), nil
	})
}

// List implements providers.Provider.
func (p *Plugin) List(ctx context.Context, req providers.ListRequest) (providers.ListPage, error) {
	return call(ctx, p, "List", true, func(ctx context.Context, c pb.ProviderServiceClient) (providers.ListPage, error) {
		r, err := c.List(ctx, convert.ListToProto(req))
		if err != nil {
			return providers.ListPage{}, err
		}
		return convert.PageFromProto(r), nil
	})
}

// Delete implements providers.Provider.
func (p *Plugin) Delete(ctx context.Context, key string) error {
	_, err := call(ctx, p, "Delete", true, func(ctx context.Context, c pb.ProviderServiceClient) (struct{}, error) {
		_, err := c.Delete(ctx, &pb.DeleteRequest{Key: key})
		return struct{}{}, err
	})
	return err
}

// CreateMultipart implements providers.Multipart. It is never retried: a
// retry could leave an orphaned upload behind.
func (p *Plugin) CreateMultipart(ctx context.Context, req providers.CreateMultipartRequest) (providers.MultipartUpload, error) {
	return call(ctx, p, "CreateMultipart", false, func(ctx context.Context, c pb.ProviderServiceClient) (providers.MultipartUpload, error) {
		r, err := c.CreateMultipart(ctx, convert.CreateToProto(req))
		if err != nil {
			return providers.MultipartUpload{}, err
		}
		return providers.MultipartUpload{UploadID: r.GetUploadId()}, nil
	})
}

// SignParts implements providers.Multipart.
func (p *Plugin) SignParts(ctx context.Context, req providers.SignPartsRequest) ([]providers.PartRecipe, error) {
	return call(ctx, p, "SignParts", true, func(ctx context.Context, c pb.ProviderServiceClient) ([]providers.PartRecipe, error) {
		r, err := c.SignParts(ctx, convert.SignPartsToProto(req))
		if err != nil {
			return nil, err
		}
		return convert.PartRecipesFromProto(r), nil
	})
}

// CompleteMultipart implements providers.Multipart.
func (p *Plugin) CompleteMultipart(ctx context.Context, req providers.CompleteMultipartRequest) (providers.Object, error) {
	return call(ctx, p, "CompleteMultipart", true, func(ctx context.Context, c pb.ProviderServiceClient) (providers.Object, error) {
		r, err := c.CompleteMultipart(ctx, convert.CompleteToProto(req))
		if err != nil {
			return providers.Object{}, err
		}
		return convert.ObjectFromProto(r), nil
	})
}

// AbortMultipart implements providers.Multipart.
func (p *Plugin) AbortMultipart(ctx context.Context, ref providers.MultipartRef) error {
	_, err := call(ctx, p, "AbortMultipart", true, func(ctx context.Context, c pb.ProviderServiceClient) (struct{}, error) {
		_, err := c.AbortMultipart(ctx, convert.RefToProto(ref))
		return struct{}{}, err
	})
	return err
}

// ListParts implements providers.Multipart.
func (p *Plugin) ListParts(ctx context.Context, ref providers.MultipartRef) ([]providers.Part, error) {
	return call(ctx, p, "ListParts", true, func(ctx context.Context, c pb.ProviderServiceClient) ([]providers.Part, error) {
		r, err := c.ListParts(ctx, convert.RefToProto(ref))
		if err != nil {
			return nil, err
		}
		return convert.PartsFromProto(r), nil
	})
}
