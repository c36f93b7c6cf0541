package plugins

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"

	"github.com/valetgw/valet/plugins/internal/convert"
	"github.com/valetgw/valet/plugins/internal/wire"
	pb "github.com/valetgw/valet/plugins/proto/v1"
	"github.com/valetgw/valet/providers"
)

// Server is the plugin end of the wire protocol for one provider: the gRPC
// service that Serve registers in the plugin process. NewServer makes one
// for a gRPC server of your own, for example to serve a provider in process.
type Server struct {
	pb.UnimplementedProviderServiceServer
	p       providers.Provider
	log     hclog.Logger
	started atomic.Bool // the gRPC server was built (Serve got that far)
}

// NewServer returns the Server for p. Of the options, only WithLogger
// applies; the default logs to stderr as Serve does.
func NewServer(p providers.Provider, opts ...ServeOption) (*Server, error) {
	cfg, err := newServeConfig(opts)
	if err != nil {
		return nil, err
	}
	if cfg.mode != "" {
		return nil, fmt.Errorf("plugins.NewServer: %s applies to Serve only", cfg.mode)
	}
	return newServer(p, cfg.log)
}

func newServer(p providers.Provider, log hclog.Logger) (*Server, error) {
	if p == nil {
		return nil, errors.New("plugins: nil provider")
	}
	return &Server{p: p, log: log}, nil
}

// Register adds the provider service to g. Serve's own gRPC server also
// bounds messages to 16 MiB and recovers panics in unary rpcs.
func (s *Server) Register(g *grpc.Server) { pb.RegisterProviderServiceServer(g, s) }

// grpcServer builds the gRPC server go-plugin serves on.
func (s *Server) grpcServer(opts []grpc.ServerOption) *grpc.Server {
	s.started.Store(true)
	opts = append(opts,
		grpc.MaxRecvMsgSize(wire.MaxMessageSize),
		grpc.MaxSendMsgSize(wire.MaxMessageSize),
		grpc.ChainUnaryInterceptor(recoverUnary(s.log)),
	)
	return grpc.NewServer(opts...)
}

// recoverUnary turns a provider panic into an Internal error for that one
// call. The panic value and stack go to the plugin's log only: they may hold
// request data that does not belong in an error returned to the gateway.
func recoverUnary(logger hclog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if r := recover(); r != nil {
				logger.Error("provider panicked", "method", info.FullMethod, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				resp, err = nil, convert.ToStatus(providers.Errorf(providers.Internal, "provider panicked in %s", info.FullMethod))
			}
		}()
		return handler(ctx, req)
	}
}

func (s *Server) Info(ctx context.Context, _ *pb.InfoRequest) (*pb.InfoResponse, error) {
	info, err := s.p.Info(ctx)
	if err != nil {
		return nil, convert.ToStatus(err)
	}
	if _, ok := s.p.(providers.Multipart); !ok {
		info.Capabilities.Multipart = false // the host must not offer what the plugin cannot do
	}
	return convert.InfoToProto(info), nil
}

func (s *Server) Configure(ctx context.Context, r *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	if err := s.p.Configure(ctx, convert.ConfigFromProto(r)); err != nil {
		return nil, convert.ToStatus(err)
	}
	return &pb.ConfigureResponse{}, nil
}

func (s *Server) SignPut(ctx context.Context, r *pb.SignPutRequest) (*pb.Recipe, error) {
	rec, err := s.p.SignPut(ctx, convert.PutFromProto(r))
	if err != nil {
		return nil, convert.ToStatus(err)
	}
	return convert.RecipeToProto(rec), nil
}

func (s *Server) SignGet(ctx context.Context, r *pb.SignGetRequest) (*pb.Recipe, error) {
	rec, err := s.p.SignGet(ctx, convert.GetFromProto(r))
	if err != nil {
		return nil, convert.ToStatus(err)
	}
	return convert.RecipeToProto(rec), nil
}

func (s *Server) SignDelete(ctx context.Context, r *pb.SignDeleteRequest) (*pb.Recipe, error) {
	rec, err := s.p.SignDelete(ctx, convert.DeleteFromProto(r))
	if err != nil {
		return nil, convert.ToStatus(err)
	}
	return convert.RecipeToProto(rec), nil
}

func (s *Server) Head(ctx context.Context, r *pb.HeadRequest) (*pb.Object, error) {
	obj, err := s.p.Head(ctx, r.GetKey())
	if err != nil {
		return nil, convert.ToStatus(err)
	}
	return convert.ObjectToProto(obj), nil
}

func (s *Server) List(ctx context.Context, r *pb.ListRequest) (*pb.ListResponse, error) {
	page, err := s.p.List(ctx, convert.ListFromProto(r))
	if err != nil {
		return nil, convert.ToStatus(err)
	}
	return convert.PageToProto(page), nil
}

func (s *Server) Delete(ctx context.Context, r *pb.DeleteRequest) (*pb.DeleteResponse, error) {
	if err := s.p.Delete(ctx, r.GetKey()); err != nil {
		return nil, convert.ToStatus(err)
	}
	return &pb.DeleteResponse{}, nil
}

func (s *Server) CreateMultipart(ctx context.Context, r *pb.CreateMultipartRequest) (*pb.CreateMultipartResponse, error) {
	mp, err := s.multipart()
	if err != nil {
		return nil, err
	}
	up, err := mp.CreateMultipart(ctx, convert.CreateFromProto(r))
	if err != nil {
		return nil, convert.ToStatus(err)
	}
	return &pb.CreateMultipartResponse{UploadId: up.UploadID}, nil
}

func (s *Server) SignParts(ctx context.Context, r *pb.SignPartsRequest) (*pb.SignPartsResponse, error) {
	mp, err := s.multipart()
	if err != nil {
		return nil, err
	}
	parts, err := mp.SignParts(ctx, convert.SignPartsFromProto(r))
	if err != nil {
		return nil, convert.ToStatus(err)
	}
	return convert.PartRecipesToProto(parts), nil
}

func (s *Server) CompleteMultipart(ctx context.Context, r *pb.CompleteMultipartRequest) (*pb.Object, error) {
	mp, err := s.multipart()
	if err != nil {
		return nil, err
	}
	obj, err := mp.CompleteMultipart(ctx, convert.CompleteFromProto(r))
	if err != nil {
		return nil, convert.ToStatus(err)
	}
	return convert.ObjectToProto(obj), nil
}

func (s *Server) AbortMultipart(ctx context.Context, r *pb.MultipartRef) (*pb.AbortMultipartResponse, error) {
	mp, err := s.multipart()
	if err != nil {
		return nil, err
	}
	if err := mp.AbortMultipart(ctx, convert.RefFromProto(r)); err != nil {
		return nil, convert.ToStatus(err)
	}
	return &pb.AbortMultipartResponse{}, nil
}

func (s *Server) ListParts(ctx context.Context, r *pb.MultipartRef) (*pb.ListPartsResponse, error) {
	mp, err := s.multipart()
	if err != nil {
		return nil, err
	}
	parts, err := mp.ListParts(ctx, convert.RefFromProto(r))
	if err != nil {
		return nil, convert.ToStatus(err)
	}
	return convert.PartsToProto(parts), nil
}

// multipart is the provider's optional Multipart capability, or the
// Unimplemented error a host gets for calling it on a provider without it.
func (s *Server) multipart() (providers.Multipart, error) {
	if mp, ok := s.p.(providers.Multipart); ok {
		return mp, nil
	}
	return nil, convert.ToStatus(providers.Errorf(providers.Unimplemented, "multipart uploads are not supported by this provider"))
}
