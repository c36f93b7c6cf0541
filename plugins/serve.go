package plugins

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/valetgw/valet/plugins/internal/convert"
	"github.com/valetgw/valet/plugins/internal/wire"
	pb "github.com/valetgw/valet/plugins/proto/v1"
	"github.com/valetgw/valet/providers"
)

// LogLevelEnv names the environment variable that sets a plugin's log level
// (trace, debug, info, warn, error); the default is info. The host passes it
// through its environment allowlist.
const LogLevelEnv = "VALET_PLUGIN_LOG_LEVEL"

// ParentPIDEnv names the variable through which the host tells a plugin
// its own pid, so that a plugin whose host died while it was still starting
// notices too (its parent pid at startup would already be init's).
const ParentPIDEnv = "VALET_PLUGIN_PARENT_PID"

// parentPoll is how often a plugin checks that the process that started it
// is still alive.
const parentPoll = 200 * time.Millisecond

// Serve runs p as a Valet provider plugin and returns when the host shuts
// the plugin down. It is the whole of a plugin's main function.
//
// Serve must be started by plugins/host (or `valet`): run by hand it prints
// a short explanation and exits with status 1. A panic inside any provider
// method is recovered, logged with its stack, and answered with an Internal
// error; the plugin keeps serving. When the host process disappears without
// stopping the plugin (SIGKILL, crash), the plugin notices within a fraction
// of a second and exits by itself.
func Serve(p providers.Provider) {
	logger := hclog.New(&hclog.LoggerOptions{
		Name:       "provider",
		Level:      hclog.LevelFromString(os.Getenv(LogLevelEnv)),
		Output:     os.Stderr,
		JSONFormat: true,
	})
	if logger.GetLevel() == hclog.NoLevel {
		logger.SetLevel(hclog.Info)
	}
	if p == nil {
		logger.Error("plugins.Serve called with a nil provider")
		os.Exit(1)
	}
	ppid := os.Getppid()
	if v, err := strconv.Atoi(os.Getenv(ParentPIDEnv)); err == nil && v > 0 {
		ppid = v
	}
	go watchParent(logger, ppid)

	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  wire.Handshake,
		VersionedPlugins: wire.Plugins(&server{p: p, log: logger}),
		Logger:           logger,
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			opts = append(opts,
				grpc.MaxRecvMsgSize(wire.MaxMessageSize),
				grpc.MaxSendMsgSize(wire.MaxMessageSize),
				grpc.ChainUnaryInterceptor(recoverUnary(logger)),
			)
			return grpc.NewServer(opts...)
		},
	})
}

// watchParent exits the process once its parent is gone. go-plugin closes
// nothing on the plugin side when the host dies (stdin is the host's own
// stdin, not a pipe), so without this an orphaned plugin would live on,
// holding its listener and credentials. A changed parent pid means we were
// re-parented to init or a subreaper.
func watchParent(logger hclog.Logger, ppid int) {
	t := time.NewTicker(parentPoll)
	defer t.Stop()
	for ; ; <-t.C {
		if os.Getppid() != ppid {
			logger.Warn("host process is gone; plugin exiting", "host_pid", ppid)
			os.Exit(2)
		}
	}
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

// server exposes a providers.Provider as the v1 gRPC service.
type server struct {
	pb.UnimplementedProviderServiceServer
	p   providers.Provider
	log hclog.Logger
}

func (s *server) Info(ctx context.Context, _ *pb.InfoRequest) (*pb.InfoResponse, error) {
	info, err := s.p.Info(ctx)
	if err != nil {
		return nil, convert.ToStatus(err)
	}
	if _, ok := s.p.(providers.Multipart); !ok {
		info.Capabilities.Multipart = false // the host must not offer what the plugin cannot do
	}
	return convert.InfoToProto(info), nil
}

func (s *server) Configure(ctx context.Context, r *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	if err := s.p.Configure(ctx, convert.ConfigFromProto(r)); err != nil {
		return nil, convert.ToStatus(err)
	}
	return &pb.ConfigureResponse{}, nil
}

func (s *server) SignPut(ctx context.Context, r *pb.SignPutRequest) (*pb.Recipe, error) {
	rec, err := s.p.SignPut(ctx, convert.PutFromProto(r))
	if err != nil {
		return nil, convert.ToStatus(err)
	}
	return convert.RecipeToProto(rec), nil
}

func (s *server) SignGet(ctx context.Context, r *pb.SignGetRequest) (*pb.Recipe, error) {
	rec, err := s.p.SignGet(ctx, convert.GetFromProto(r))
	if err != nil {
		return nil, convert.ToStatus(err)
	}
	return convert.RecipeToProto(rec), nil
}

func (s *server) SignDelete(ctx context.Context, r *pb.SignDeleteRequest) (*pb.Recipe, error) {
	rec, err := s.p.SignDelete(ctx, convert.DeleteFromProto(r))
	if err != nil {
		return nil, convert.ToStatus(err)
	}
	return convert.RecipeToProto(rec), nil
}

func (s *server) Head(ctx context.Context, r *pb.HeadRequest) (*pb.Object, error) {
	obj, err := s.p.Head(ctx, r.GetKey())
	if err != nil {
		return nil, convert.ToStatus(err)
	}
	return convert.ObjectToProto(obj), nil
}

func (s *server) List(ctx context.Context, r *pb.ListRequest) (*pb.ListResponse, error) {
	page, err := s.p.List(ctx, convert.ListFromProto(r))
	if err != nil {
		return nil, convert.ToStatus(err)
	}
	return convert.PageToProto(page), nil
}

func (s *server) Delete(ctx context.Context, r *pb.DeleteRequest) (*pb.DeleteResponse, error) {
	if err := s.p.Delete(ctx, r.GetKey()); err != nil {
		return nil, convert.ToStatus(err)
	}
	return &pb.DeleteResponse{}, nil
}

func (s *server) CreateMultipart(ctx context.Context, r *pb.CreateMultipartRequest) (*pb.CreateMultipartResponse, error) {
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

func (s *server) SignParts(ctx context.Context, r *pb.SignPartsRequest) (*pb.SignPartsResponse, error) {
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

func (s *server) CompleteMultipart(ctx context.Context, r *pb.CompleteMultipartRequest) (*pb.Object, error) {
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

func (s *server) AbortMultipart(ctx context.Context, r *pb.MultipartRef) (*pb.AbortMultipartResponse, error) {
	mp, err := s.multipart()
	if err != nil {
		return nil, err
	}
	if err := mp.AbortMultipart(ctx, convert.RefFromProto(r)); err != nil {
		return nil, convert.ToStatus(err)
	}
	return &pb.AbortMultipartResponse{}, nil
}

func (s *server) ListParts(ctx context.Context, r *pb.MultipartRef) (*pb.ListPartsResponse, error) {
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
func (s *server) multipart() (providers.Multipart, error) {
	if mp, ok := s.p.(providers.Multipart); ok {
		return mp, nil
	}
	return nil, convert.ToStatus(providers.Errorf(providers.Unimplemented, "multipart uploads are not supported by this provider"))
}
