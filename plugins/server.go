package plugins

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

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
	// tracer starts a span per call; nil traces nothing.
	tracer trace.Tracer
	// store is the store name of the last successful Configure, for spans.
	store atomic.Pointer[string]
}

// NewServer returns the Server for p. Of the options, only WithLogger and
// WithTracerProvider apply; the default logs to stderr as Serve does and
// traces nothing.
func NewServer(p providers.Provider, opts ...ServeOption) (*Server, error) {
	cfg, err := newServeConfig(opts)
	if err != nil {
		return nil, err
	}
	if cfg.mode != "" {
		return nil, fmt.Errorf("plugins.NewServer: %s applies to Serve only", cfg.mode)
	}
	return newServer(p, cfg.log, cfg.tp)
}

// tracerName is the instrumentation scope of the plugin side's spans.
const tracerName = "github.com/valetgw/valet/plugins"

func newServer(p providers.Provider, log hclog.Logger, tp trace.TracerProvider) (*Server, error) {
	if p == nil {
		return nil, errors.New("plugins: nil provider")
	}
	s := &Server{p: p, log: log}
	if tp != nil {
		s.tracer = tp.Tracer(tracerName)
	}
	return s, nil
}

// Register adds the provider service to g. A panic in the provider is
// recovered per call there as under Serve; Serve's own gRPC server also
// bounds messages to 16 MiB in both directions.
func (s *Server) Register(g *grpc.Server) { pb.RegisterProviderServiceServer(g, s) }

// grpcServer builds the gRPC server go-plugin serves on.
func (s *Server) grpcServer(opts []grpc.ServerOption) *grpc.Server {
	s.started.Store(true)
	opts = append(opts,
		grpc.MaxRecvMsgSize(wire.MaxMessageSize),
		grpc.MaxSendMsgSize(wire.MaxMessageSize),
		grpc.InitialWindowSize(wire.WindowSize),
		grpc.InitialConnWindowSize(wire.WindowSize),
	)
	return grpc.NewServer(opts...)
}

// Calls serves the multiplexed stream of one call per message: each request
// runs in its own goroutine with its own deadline, so a slow call never
// holds up another, and answers are sent as they finish.
func (s *Server) Calls(stream pb.ProviderService_CallsServer) error {
	var sendMu sync.Mutex
	return s.serveCalls(stream.Context(), func() ([]*pb.CallRequest, error) {
		req, err := stream.Recv()
		if err != nil {
			return nil, err
		}
		return []*pb.CallRequest{req}, nil
	}, func(resp *pb.CallResponse) {
		sendMu.Lock()
		_ = stream.Send(resp) // fails only when the stream is gone
		sendMu.Unlock()
	})
}

// Batches serves Calls with coalesced frames: a message may carry many
// calls, each run as under Calls, and answers finishing while another
// message is being sent go out together in the next (wire.Coalescer). It
// first sends the header wire.BatchesHeader, which tells the host that this
// plugin serves Batches.
func (s *Server) Batches(stream pb.ProviderService_BatchesServer) error {
	if err := stream.SendHeader(metadata.Pairs(wire.BatchesHeader, "1")); err != nil {
		return err
	}
	c := wire.NewCoalescer(stream.Context(), func(resps []*pb.CallResponse) error {
		return stream.Send(&pb.ResponseBatch{Responses: resps})
	})
	return s.serveCalls(stream.Context(), func() ([]*pb.CallRequest, error) {
		b, err := stream.Recv()
		if err != nil {
			return nil, err
		}
		return b.GetCalls(), nil
	}, func(resp *pb.CallResponse) {
		_ = c.Put(resp) // fails only when the stream is gone
	})
}

// serveCalls runs the calls that recv returns until it fails (the host
// closed the stream or went away) and answers each with send.
func (s *Server) serveCalls(base context.Context, recv func() ([]*pb.CallRequest, error), send func(*pb.CallResponse)) error {
	var (
		mu       sync.Mutex
		inflight = map[uint64]context.CancelFunc{}
		wg       sync.WaitGroup
		pool     = newWorkers()
	)
	defer func() {
		mu.Lock()
		for _, cancel := range inflight {
			cancel()
		}
		mu.Unlock()
		wg.Wait()
		pool.close()
	}()
	for {
		reqs, err := recv()
		if err != nil {
			return nil // the host closed the stream or went away
		}
		for _, req := range reqs {
			id := req.GetId()
			if req.GetCancel() {
				mu.Lock()
				if cancel := inflight[id]; cancel != nil {
					cancel()
				}
				mu.Unlock()
				continue
			}
			var (
				ctx    context.Context
				cancel context.CancelFunc
			)
			if d := req.GetDeadlineUnixNanos(); d != 0 {
				ctx, cancel = context.WithDeadline(base, time.Unix(0, d))
			} else {
				ctx, cancel = context.WithCancel(base)
			}
			mu.Lock()
			inflight[id] = cancel
			mu.Unlock()
			wg.Add(1)
			pool.run(func() {
				defer wg.Done()
				resp := s.dispatch(ctx, req)
				mu.Lock()
				delete(inflight, id)
				mu.Unlock()
				cancel()
				send(resp)
			})
		}
	}
}

// maxIdleWorkers is how many of a stream's workers may wait for the next
// call; one finishing when that many already wait ends.
const maxIdleWorkers = 64

// workers runs a stream's calls on goroutines that stay for the next call.
// A call goes to a waiting worker when there is one and to a new goroutine
// when there is none, so a call never waits for another to finish. A
// worker keeps the stack a call grew, where a fresh goroutine per call
// would grow it again every time (under load, about a seventh of the
// plugin's CPU went to growing and copying stacks).
type workers struct {
	jobs chan func() // unbuffered: a send succeeds only into a waiting worker
	done chan struct{}
	idle atomic.Int32
}

func newWorkers() *workers {
	return &workers{jobs: make(chan func()), done: make(chan struct{})}
}

// run starts job on a waiting worker or a new one.
func (w *workers) run(job func()) {
	select {
	case w.jobs <- job:
	default:
		go w.work(job)
	}
}

// work runs job, then the jobs run hands it, until close or until enough
// others wait.
func (w *workers) work(job func()) {
	for {
		job()
		if w.idle.Add(1) > maxIdleWorkers {
			w.idle.Add(-1)
			return
		}
		select {
		case job = <-w.jobs:
			w.idle.Add(-1)
		case <-w.done:
			return
		}
	}
}

// close ends the waiting workers; call it once no job is running.
func (w *workers) close() { close(w.done) }

// dispatch runs one call, found in the method table, in the caller's trace
// context and, when tracing, its own span: plugin.<Method>, with the
// method, the store and the outcome code (never a key, URL or secret).
func (s *Server) dispatch(ctx context.Context, req *pb.CallRequest) *pb.CallResponse {
	m := wire.Lookup(req)
	ctx = wire.ExtractTrace(ctx, req)
	if s.tracer == nil || m == nil {
		return s.call(ctx, m, req)
	}
	store := ""
	if p := s.store.Load(); p != nil {
		store = *p
	}
	ctx, span := s.tracer.Start(ctx, "plugin."+m.MethodName(), trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("valet.plugin.method", m.MethodName()), attribute.String("valet.store", store)))
	defer span.End()
	resp := s.call(ctx, m, req)
	outcome := "OK"
	if e := resp.GetError(); e != nil {
		outcome = e.GetCode()
		span.SetStatus(codes.Error, outcome)
	}
	span.SetAttributes(attribute.String("valet.outcome", outcome))
	return resp
}

// call runs one call and answers it. A panic is the provider's bug: it is
// logged with its stack (which may hold request data, so it goes to the
// plugin's log only) and answered with an Internal error, and the plugin
// keeps serving.
func (s *Server) call(ctx context.Context, m wire.Handler, req *pb.CallRequest) (resp *pb.CallResponse) {
	defer func() {
		if r := recover(); r != nil {
			method := fmt.Sprintf("%T", req.GetCall())
			if m != nil {
				method = m.MethodName()
			}
			s.log.Error("provider panicked", "call", method, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			resp = &pb.CallResponse{Id: req.GetId(), Error: convert.ToCallError(providers.Errorf(providers.Internal, "provider panicked in %s", method))}
		}
	}()
	var err error
	if m == nil {
		err = providers.Errorf(providers.Unimplemented, "unknown call %T (a newer host than this plugin?)", req.GetCall())
	} else if resp, err = m.Serve(ctx, s.p, req); err == nil {
		resp.Id = req.GetId()
		if c := req.GetConfigure(); c != nil {
			store := c.GetStore()
			s.store.Store(&store)
		}
		return resp
	}
	return &pb.CallResponse{Id: req.GetId(), Error: convert.ToCallError(err)}
}
