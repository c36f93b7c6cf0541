package host

import (
	"context"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/valetgw/valet/plugins/internal/convert"
	"github.com/valetgw/valet/plugins/internal/wire"
	pb "github.com/valetgw/valet/plugins/proto/v1"
	"github.com/valetgw/valet/providers"
)

// mux carries calls over the plugin's long-lived Calls stream: one message
// each way per call instead of a new HTTP/2 stream (headers, trailers,
// flow-control bookkeeping). It returns provider errors as *providers.Error
// and transport failures as gRPC statuses, which supervision tells apart.
type mux struct {
	client pb.ProviderServiceClient // opens the stream

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

func newMux(client pb.ProviderServiceClient) *mux {
	ctx, cancel := context.WithCancel(context.Background())
	return &mux{client: client, ctx: ctx, cancel: cancel}
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
	stream, err := m.client.Calls(m.ctx)
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
	st, ok := status.FromError(s.err)
	if ok && st.Code() == codes.Unimplemented {
		// The plugin's answer, not a broken connection: it has no stream.
		return providers.Errorf(providers.Unimplemented, "the plugin does not serve the Calls stream of protocol v%d, the only transport since Valet M2.2; rebuild it against a current github.com/valetgw/valet (%s)", wire.ProtocolVersion, st.Message())
	}
	if ok && st.Code() != codes.OK && st.Code() != codes.Unknown {
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
