package plugins

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/valetgw/valet/plugins/internal/convert"
	pb "github.com/valetgw/valet/plugins/proto/v1"
	"github.com/valetgw/valet/providers"
)

// Calls serves the multiplexed stream: each request runs in its own
// goroutine with its own deadline, so a slow call never holds up another,
// and answers are sent as they finish.
func (s *Server) Calls(stream pb.ProviderService_CallsServer) error {
	base := stream.Context()
	var (
		sendMu   sync.Mutex
		mu       sync.Mutex
		inflight = map[uint64]context.CancelFunc{}
		wg       sync.WaitGroup
	)
	defer func() {
		mu.Lock()
		for _, cancel := range inflight {
			cancel()
		}
		mu.Unlock()
		wg.Wait()
	}()
	for {
		req, err := stream.Recv()
		if err != nil {
			return nil // the host closed the stream or went away
		}
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
		go func() {
			defer wg.Done()
			resp := s.dispatch(ctx, req)
			mu.Lock()
			delete(inflight, id)
			mu.Unlock()
			cancel()
			sendMu.Lock()
			_ = stream.Send(resp) // fails only when the stream is gone
			sendMu.Unlock()
		}()
	}
}

// dispatch runs one call through the same handlers as the unary rpcs.
func (s *Server) dispatch(ctx context.Context, req *pb.CallRequest) (resp *pb.CallResponse) {
	resp = &pb.CallResponse{Id: req.GetId()}
	defer func() {
		if r := recover(); r != nil {
			method := fmt.Sprintf("%T", req.GetCall())
			s.log.Error("provider panicked", "call", method, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			resp.Result = nil
			resp.Error = convert.ToCallError(providers.Errorf(providers.Internal, "provider panicked in %s", method))
		}
	}()
	var err error
	switch c := req.GetCall().(type) {
	case *pb.CallRequest_Info:
		var r *pb.InfoResponse
		r, err = s.Info(ctx, c.Info)
		resp.Result = &pb.CallResponse_Info{Info: r}
	case *pb.CallRequest_Configure:
		var r *pb.ConfigureResponse
		r, err = s.Configure(ctx, c.Configure)
		resp.Result = &pb.CallResponse_Configure{Configure: r}
	case *pb.CallRequest_SignPut:
		var r *pb.Recipe
		r, err = s.SignPut(ctx, c.SignPut)
		resp.Result = &pb.CallResponse_Recipe{Recipe: r}
	case *pb.CallRequest_SignGet:
		var r *pb.Recipe
		r, err = s.SignGet(ctx, c.SignGet)
		resp.Result = &pb.CallResponse_Recipe{Recipe: r}
	case *pb.CallRequest_SignDelete:
		var r *pb.Recipe
		r, err = s.SignDelete(ctx, c.SignDelete)
		resp.Result = &pb.CallResponse_Recipe{Recipe: r}
	case *pb.CallRequest_Head:
		var r *pb.Object
		r, err = s.Head(ctx, c.Head)
		resp.Result = &pb.CallResponse_Object{Object: r}
	case *pb.CallRequest_List:
		var r *pb.ListResponse
		r, err = s.List(ctx, c.List)
		resp.Result = &pb.CallResponse_List{List: r}
	case *pb.CallRequest_Delete:
		var r *pb.DeleteResponse
		r, err = s.Delete(ctx, c.Delete)
		resp.Result = &pb.CallResponse_Delete{Delete: r}
	case *pb.CallRequest_CreateMultipart:
		var r *pb.CreateMultipartResponse
		r, err = s.CreateMultipart(ctx, c.CreateMultipart)
		resp.Result = &pb.CallResponse_CreateMultipart{CreateMultipart: r}
	case *pb.CallRequest_SignParts:
		var r *pb.SignPartsResponse
		r, err = s.SignParts(ctx, c.SignParts)
		resp.Result = &pb.CallResponse_SignParts{SignParts: r}
	case *pb.CallRequest_CompleteMultipart:
		var r *pb.Object
		r, err = s.CompleteMultipart(ctx, c.CompleteMultipart)
		resp.Result = &pb.CallResponse_Object{Object: r}
	case *pb.CallRequest_AbortMultipart:
		var r *pb.AbortMultipartResponse
		r, err = s.AbortMultipart(ctx, c.AbortMultipart)
		resp.Result = &pb.CallResponse_AbortMultipart{AbortMultipart: r}
	case *pb.CallRequest_ListParts:
		var r *pb.ListPartsResponse
		r, err = s.ListParts(ctx, c.ListParts)
		resp.Result = &pb.CallResponse_ListParts{ListParts: r}
	default:
		err = providers.Errorf(providers.Unimplemented, "unknown call %T (a newer host than this plugin?)", c)
	}
	if err != nil {
		perr, _ := convert.FromStatus(err)
		resp.Result = nil
		resp.Error = convert.ToCallError(perr)
	}
	return resp
}
