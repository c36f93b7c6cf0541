package host

import (
	"context"
	"io"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/valetgw/valet/plugins/internal/convert"
	"github.com/valetgw/valet/plugins/internal/wire"
	pb "github.com/valetgw/valet/plugins/proto/v1"
	"github.com/valetgw/valet/providers"
)

// mux carries calls over the plugin's long-lived stream: one message each
// way per call instead of a new HTTP/2 stream (headers, trailers,
// flow-control bookkeeping), and under load fewer still: on the Batches
// stream, calls in flight at once travel together in one CallBatch and their
// answers in one ResponseBatch (wire.Coalescer; a lone call is sent at once).
// A plugin built before Batches is spoken to over Calls, one message per
// call. It returns provider errors as *providers.Error and transport
// failures as gRPC statuses, which supervision tells apart.
type mux struct {
	client pb.ProviderServiceClient // opens the stream

	ctx    context.Context // ends every stream when the instance is killed
	cancel context.CancelFunc

	mu   sync.Mutex
	sess *session
	// callsOnly is set once the plugin answered Batches with Unimplemented.
	callsOnly bool
}

type session struct {
	// send sends one call (or cancel); recv receives the next answers.
	send func(*pb.CallRequest) error
	recv func() ([]*pb.CallResponse, error)

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
func (m *mux) session(ctx context.Context) (*session, error) {
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
	s := &session{pending: make(map[uint64]chan *pb.CallResponse)}
	if !m.callsOnly {
		ok, err := m.openBatches(ctx, s)
		if err != nil {
			return nil, err
		}
		m.callsOnly = !ok
	}
	if m.callsOnly {
		stream, err := m.client.Calls(m.ctx)
		if err != nil {
			return nil, err
		}
		var sendMu sync.Mutex
		s.send = func(req *pb.CallRequest) error {
			sendMu.Lock()
			defer sendMu.Unlock()
			return stream.Send(req)
		}
		s.recv = func() ([]*pb.CallResponse, error) {
			resp, err := stream.Recv()
			if err != nil {
				return nil, err
			}
			return []*pb.CallResponse{resp}, nil
		}
	}
	m.sess = s
	go s.receive()
	return s, nil
}

// openBatches opens a Batches stream for s and waits, within ctx, for the
// plugin's header that says it serves it: false without error when the
// plugin answers Unimplemented (built before Batches).
func (m *mux) openBatches(ctx context.Context, s *session) (bool, error) {
	sctx, cancel := context.WithCancel(m.ctx)
	stream, err := m.client.Batches(sctx)
	if err != nil {
		cancel()
		return false, err
	}
	header := make(chan metadata.MD, 1)
	go func() {
		md, _ := stream.Header() // nil when the stream ended: Recv says why
		header <- md
	}()
	var md metadata.MD
	select {
	case md = <-header:
	case <-ctx.Done():
		cancel()
		return false, status.FromContextError(ctx.Err()).Err()
	}
	if len(md.Get(wire.BatchesHeader)) == 0 {
		_, err := stream.Recv()
		cancel()
		if status.Code(err) == codes.Unimplemented {
			return false, nil
		}
		if err == nil || err == io.EOF {
			err = status.Error(codes.Unavailable, "the plugin ended the Batches stream without its header")
		}
		return false, err
	}
	c := wire.NewCoalescer(sctx, func(calls []*pb.CallRequest) error {
		return stream.Send(&pb.CallBatch{Calls: calls})
	})
	s.send = c.Put
	s.recv = func() ([]*pb.CallResponse, error) {
		b, err := stream.Recv()
		if err != nil {
			cancel()
			return nil, err
		}
		return b.GetResponses(), nil
	}
	return true, nil
}

// receive hands each answer to its caller until the stream breaks, then
// fails every call still pending.
func (s *session) receive() {
	for {
		resps, err := s.recv()
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
		for _, resp := range resps {
			s.mu.Lock()
			ch := s.pending[resp.GetId()]
			delete(s.pending, resp.GetId())
			s.mu.Unlock()
			if ch != nil {
				ch <- resp // buffered: never blocks
			}
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
	s, err := m.session(ctx)
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
	if err = s.send(req); err != nil {
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
		_ = s.send(&pb.CallRequest{Id: id, Cancel: true})
		return nil, status.FromContextError(ctx.Err()).Err()
	}
}

func (s *session) forget(id uint64) {
	s.mu.Lock()
	delete(s.pending, id)
	s.mu.Unlock()
}
