package host

import (
	"context"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/valetgw/valet/plugins/internal/convert"
	pb "github.com/valetgw/valet/plugins/proto/v1"
)

// mux implements the provider client over the long-lived Calls stream: one
// message each way per call instead of a new HTTP/2 stream (headers,
// trailers, flow-control bookkeeping). It returns provider errors as
// *providers.Error and transport failures as gRPC statuses, exactly like
// the unary client, so supervision treats both paths alike.
type mux struct {
	pb.ProviderServiceClient // the unary client: used only for Calls itself

	ctx    context.Context // ends every stream when the instance is killed
	cancel context.CancelFunc

	mu   sync.Mutex
	sess *session
}

type session struct {
	stream pb.ProviderService_CallsClient
	sendMu sync.Mutex

	mu      sync.Mutex
	pending map[uint64]chan *pb.CallResponse
	next    uint64
	err     error // set once the stream is broken
}

func newMux(unary pb.ProviderServiceClient) *mux {
	ctx, cancel := context.WithCancel(context.Background())
	return &mux{ProviderServiceClient: unary, ctx: ctx, cancel: cancel}
}

func (m *mux) close() { m.cancel() }

// session returns the live stream, opening a new one if the last broke (a
// broken stream on a live process is rare, but must not be permanent).
func (m *mux) session() (*session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.sess; s != nil {
		s.mu.Lock()
		broken := s.err
		s.mu.Unlock()
		if broken == nil {
			return s, nil
		}
	}
	stream, err := m.ProviderServiceClient.Calls(m.ctx)
	if err != nil {
		return nil, err
	}
	s := &session{stream: stream, pending: make(map[uint64]chan *pb.CallResponse)}
	m.sess = s
	go s.recv()
	return s, nil
}

func (s *session) recv() {
	for {
		resp, err := s.stream.Recv()
		if err != nil {
			s.mu.Lock()
			s.err = err
			for id, ch := range s.pending {
				close(ch)
				delete(s.pending, id)
			}
			s.mu.Unlock()
			return
		}
		s.mu.Lock()
		ch := s.pending[resp.GetId()]
		delete(s.pending, resp.GetId())
		s.mu.Unlock()
		if ch != nil {
			ch <- resp // buffered: never blocks
		}
	}
}

// brokenErr is the transport error for calls on a broken stream.
func (s *session) brokenErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := status.FromError(s.err); ok && st.Code() != codes.OK && st.Code() != codes.Unknown {
		return st.Err()
	}
	return status.Errorf(codes.Unavailable, "plugin call stream closed: %v", s.err)
}

func (m *mux) roundTrip(ctx context.Context, req *pb.CallRequest) (*pb.CallResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, status.FromContextError(err).Err()
	}
	s, err := m.session()
	if err != nil {
		return nil, err
	}
	ch := make(chan *pb.CallResponse, 1)
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return nil, s.brokenErr()
	}
	s.next++
	id := s.next
	s.pending[id] = ch
	s.mu.Unlock()
	req.Id = id
	if dl, ok := ctx.Deadline(); ok {
		req.DeadlineUnixNanos = dl.UnixNano()
	}
	s.sendMu.Lock()
	err = s.stream.Send(req)
	s.sendMu.Unlock()
	if err != nil {
		s.forget(id)
		return nil, s.brokenErr() // Send reports io.EOF; the reason is on the receive side
	}
	select {
	case resp, ok := <-ch:
		if !ok {
			return nil, s.brokenErr()
		}
		if resp.GetError() != nil {
			return nil, convert.FromCallError(resp.GetError())
		}
		return resp, nil
	case <-ctx.Done():
		s.forget(id)
		s.sendMu.Lock()
		_ = s.stream.Send(&pb.CallRequest{Id: id, Cancel: true})
		s.sendMu.Unlock()
		return nil, status.FromContextError(ctx.Err()).Err()
	}
}

func (s *session) forget(id uint64) {
	s.mu.Lock()
	delete(s.pending, id)
	s.mu.Unlock()
}

// result checks that an answer carries the result its call expects.
func result[T any](resp *pb.CallResponse, err error, get func(*pb.CallResponse) *T, method string) (*T, error) {
	if err != nil {
		return nil, err
	}
	if r := get(resp); r != nil {
		return r, nil
	}
	return nil, status.Errorf(codes.Internal, "plugin answered %s with %T", method, resp.GetResult())
}

func (m *mux) Info(ctx context.Context, in *pb.InfoRequest, _ ...grpc.CallOption) (*pb.InfoResponse, error) {
	r, err := m.roundTrip(ctx, &pb.CallRequest{Call: &pb.CallRequest_Info{Info: in}})
	return result(r, err, (*pb.CallResponse).GetInfo, "Info")
}

func (m *mux) Configure(ctx context.Context, in *pb.ConfigureRequest, _ ...grpc.CallOption) (*pb.ConfigureResponse, error) {
	r, err := m.roundTrip(ctx, &pb.CallRequest{Call: &pb.CallRequest_Configure{Configure: in}})
	return result(r, err, (*pb.CallResponse).GetConfigure, "Configure")
}

func (m *mux) SignPut(ctx context.Context, in *pb.SignPutRequest, _ ...grpc.CallOption) (*pb.Recipe, error) {
	r, err := m.roundTrip(ctx, &pb.CallRequest{Call: &pb.CallRequest_SignPut{SignPut: in}})
	return result(r, err, (*pb.CallResponse).GetRecipe, "SignPut")
}

func (m *mux) SignGet(ctx context.Context, in *pb.SignGetRequest, _ ...grpc.CallOption) (*pb.Recipe, error) {
	r, err := m.roundTrip(ctx, &pb.CallRequest{Call: &pb.CallRequest_SignGet{SignGet: in}})
	return result(r, err, (*pb.CallResponse).GetRecipe, "SignGet")
}

func (m *mux) SignDelete(ctx context.Context, in *pb.SignDeleteRequest, _ ...grpc.CallOption) (*pb.Recipe, error) {
	r, err := m.roundTrip(ctx, &pb.CallRequest{Call: &pb.CallRequest_SignDelete{SignDelete: in}})
	return result(r, err, (*pb.CallResponse).GetRecipe, "SignDelete")
}

func (m *mux) Head(ctx context.Context, in *pb.HeadRequest, _ ...grpc.CallOption) (*pb.Object, error) {
	r, err := m.roundTrip(ctx, &pb.CallRequest{Call: &pb.CallRequest_Head{Head: in}})
	return result(r, err, (*pb.CallResponse).GetObject, "Head")
}

func (m *mux) List(ctx context.Context, in *pb.ListRequest, _ ...grpc.CallOption) (*pb.ListResponse, error) {
	r, err := m.roundTrip(ctx, &pb.CallRequest{Call: &pb.CallRequest_List{List: in}})
	return result(r, err, (*pb.CallResponse).GetList, "List")
}

func (m *mux) Delete(ctx context.Context, in *pb.DeleteRequest, _ ...grpc.CallOption) (*pb.DeleteResponse, error) {
	r, err := m.roundTrip(ctx, &pb.CallRequest{Call: &pb.CallRequest_Delete{Delete: in}})
	return result(r, err, (*pb.CallResponse).GetDelete, "Delete")
}

func (m *mux) CreateMultipart(ctx context.Context, in *pb.CreateMultipartRequest, _ ...grpc.CallOption) (*pb.CreateMultipartResponse, error) {
	r, err := m.roundTrip(ctx, &pb.CallRequest{Call: &pb.CallRequest_CreateMultipart{CreateMultipart: in}})
	return result(r, err, (*pb.CallResponse).GetCreateMultipart, "CreateMultipart")
}

func (m *mux) SignParts(ctx context.Context, in *pb.SignPartsRequest, _ ...grpc.CallOption) (*pb.SignPartsResponse, error) {
	r, err := m.roundTrip(ctx, &pb.CallRequest{Call: &pb.CallRequest_SignParts{SignParts: in}})
	return result(r, err, (*pb.CallResponse).GetSignParts, "SignParts")
}

func (m *mux) CompleteMultipart(ctx context.Context, in *pb.CompleteMultipartRequest, _ ...grpc.CallOption) (*pb.Object, error) {
	r, err := m.roundTrip(ctx, &pb.CallRequest{Call: &pb.CallRequest_CompleteMultipart{CompleteMultipart: in}})
	return result(r, err, (*pb.CallResponse).GetObject, "CompleteMultipart")
}

func (m *mux) AbortMultipart(ctx context.Context, in *pb.MultipartRef, _ ...grpc.CallOption) (*pb.AbortMultipartResponse, error) {
	r, err := m.roundTrip(ctx, &pb.CallRequest{Call: &pb.CallRequest_AbortMultipart{AbortMultipart: in}})
	return result(r, err, (*pb.CallResponse).GetAbortMultipart, "AbortMultipart")
}

func (m *mux) ListParts(ctx context.Context, in *pb.MultipartRef, _ ...grpc.CallOption) (*pb.ListPartsResponse, error) {
	r, err := m.roundTrip(ctx, &pb.CallRequest{Call: &pb.CallRequest_ListParts{ListParts: in}})
	return result(r, err, (*pb.CallResponse).GetListParts, "ListParts")
}
