package wire

import (
	"context"
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/valetgw/valet/plugins/proto/v1"
	"github.com/valetgw/valet/providers"
)

// Every call valet.proto declares is in the table, once, and every result
// case is some call's: a proto case without an entry fails here.
func TestTableCoversTheProtocol(t *testing.T) {
	call := (&pb.CallRequest{}).ProtoReflect().Descriptor().Oneofs().ByName("call")
	for i := range call.Fields().Len() {
		fd := call.Fields().Get(i)
		req := &pb.CallRequest{}
		req.ProtoReflect().Set(fd, protoreflect.ValueOfMessage(req.ProtoReflect().NewField(fd).Message()))
		if m := Lookup(req); m == nil {
			t.Errorf("CallRequest.%s has no entry in Methods", fd.Name())
		}
	}
	if call.Fields().Len() != len(Methods) {
		t.Errorf("%d calls in valet.proto, %d in Methods", call.Fields().Len(), len(Methods))
	}
	used := map[protoreflect.Name]bool{}
	for _, m := range Methods {
		_, res := m.cases()
		used[res.Name()] = true
	}
	result := (&pb.CallResponse{}).ProtoReflect().Descriptor().Oneofs().ByName("result")
	for i := range result.Fields().Len() {
		if fd := result.Fields().Get(i); !used[fd.Name()] {
			t.Errorf("CallResponse.%s is no call's result", fd.Name())
		}
	}
	if Lookup(&pb.CallRequest{}) != nil {
		t.Error("a request without a call found a method")
	}
}

// A table whose messages do not match the oneofs is refused, naming the
// method, before it is used: this is the check the package runs as it loads.
func TestTableMustMatchTheProtocol(t *testing.T) {
	stray := &Method[providers.Provider, struct{}, struct{}, *pb.Checksum, *pb.Recipe]{Name: "Stray"}
	if _, err := index([]Handler{stray}); err == nil || !strings.Contains(err.Error(), "Stray's request") {
		t.Errorf("a request message in no case of CallRequest.call: %v, want an error naming Stray's request", err)
	}
	lost := &Method[providers.Provider, struct{}, struct{}, *pb.HeadRequest, *pb.Checksum]{Name: "Lost"}
	if _, err := index([]Handler{lost}); err == nil || !strings.Contains(err.Error(), "Lost's result") {
		t.Errorf("a result message in no case of CallResponse.result: %v, want an error naming Lost's result", err)
	}
	twin := &Method[providers.Provider, struct{}, struct{}, *pb.HeadRequest, *pb.Object]{Name: "Twin"}
	if _, err := index([]Handler{Head, twin}); err == nil || !strings.Contains(err.Error(), "Head and Twin") {
		t.Errorf("two methods in one case: %v, want an error naming both", err)
	}
}

// Every call and result crosses the table's oneof cases and the wire
// encoding as the message it was sent as.
func TestEveryCaseRoundTrips(t *testing.T) {
	for _, m := range Methods {
		call, result := m.cases()
		req := &pb.CallRequest{}
		req.ProtoReflect().Set(call, protoreflect.ValueOfMessage(req.ProtoReflect().NewField(call).Message()))
		if got := Lookup(roundTripProto(t, req)); got != m {
			t.Errorf("CallRequest.%s looks up %v, want %s", call.Name(), got, m.MethodName())
		}
		resp := &pb.CallResponse{}
		resp.ProtoReflect().Set(result, protoreflect.ValueOfMessage(resp.ProtoReflect().NewField(result).Message()))
		if got := roundTripProto(t, resp).ProtoReflect().WhichOneof(result.ContainingOneof()); got != result {
			t.Errorf("%s's result case %s came back as %v", m.MethodName(), result.Name(), got)
		}
	}
}

// A call crosses both conversions and the wire encoding with its values.
func TestCallRoundTrip(t *testing.T) {
	p := &recorder{}
	req := SignPut.NewRequest(providers.PutRequest{Key: "a/b", ContentType: "text/plain", Size: 3})
	resp := serve(t, p, req)
	rec, err := SignPut.ReadResult(resp)
	if err != nil || rec.URL != "https://x/a/b" || p.put.ContentType != "text/plain" || p.put.Size != 3 {
		t.Fatalf("SignPut through the table = %+v, %v (provider saw %+v)", rec, err, p.put)
	}
	if _, err := Head.ReadResult(resp); !errors.Is(err, providers.ErrInternal) {
		t.Errorf("reading a recipe as Head's object = %v, want Internal", err)
	}
}

// A provider without an optional capability answers its calls with
// Unimplemented and does not announce it, whatever its Info says.
func TestOptionalCapabilityAbsent(t *testing.T) {
	p := &recorder{}
	_, err := SignParts.Serve(context.Background(), p, SignParts.NewRequest(providers.SignPartsRequest{Key: "k"}))
	if !errors.Is(err, providers.ErrUnimplemented) {
		t.Fatalf("SignParts on a provider without Multipart = %v, want Unimplemented", err)
	}
	info, err := Info.ReadResult(serve(t, p, Info.NewRequest(struct{}{})))
	if err != nil || info.Capabilities.Multipart || !info.Capabilities.SignPut {
		t.Fatalf("Info of a provider without Multipart = %+v, %v; want Multipart not announced", info.Capabilities, err)
	}
}

// serve sends req through its encoding to p and the answer back.
func serve(t *testing.T, p providers.Provider, req *pb.CallRequest) *pb.CallResponse {
	t.Helper()
	req = roundTripProto(t, req)
	m := Lookup(req)
	if m == nil {
		t.Fatalf("no method for %T", req.GetCall())
	}
	resp, err := m.Serve(context.Background(), p, req)
	if err != nil {
		t.Fatalf("%s: %v", m.MethodName(), err)
	}
	return roundTripProto(t, resp)
}

func roundTripProto[M proto.Message](t *testing.T, m M) M {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	out := m.ProtoReflect().New().Interface().(M)
	if err := proto.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// recorder claims Multipart in Info without implementing it.
type recorder struct{ put providers.PutRequest }

func (r *recorder) Info(context.Context) (providers.Info, error) {
	return providers.Info{Name: "rec", Capabilities: providers.Capabilities{SignPut: true, SignGet: true, Multipart: true}}, nil
}
func (r *recorder) Configure(context.Context, providers.StoreConfig) error { return nil }
func (r *recorder) SignPut(_ context.Context, req providers.PutRequest) (providers.Recipe, error) {
	r.put = req
	return providers.Recipe{Method: "PUT", URL: "https://x/" + req.Key}, nil
}
func (r *recorder) SignGet(_ context.Context, req providers.GetRequest) (providers.Recipe, error) {
	if req.Key == "missing" {
		return providers.Recipe{}, providers.Errorf(providers.NotFound, "no key %s", req.Key)
	}
	return providers.Recipe{Method: "GET", URL: "https://x/" + req.Key}, nil
}
func (r *recorder) SignDelete(context.Context, providers.SignDeleteRequest) (providers.Recipe, error) {
	return providers.Recipe{}, nil
}
func (r *recorder) Head(context.Context, providers.HeadRequest) (providers.Object, error) {
	return providers.Object{}, nil
}
func (r *recorder) List(context.Context, providers.ListRequest) (providers.ListPage, error) {
	return providers.ListPage{}, nil
}
func (r *recorder) Delete(context.Context, providers.DeleteRequest) (providers.DeleteResult, error) {
	return providers.DeleteResult{}, nil
}

// SignGets is answered for every provider: one SignGet per item in the
// plugin process when the provider has no GetSigner, each item with its own
// error code, and a batch over providers.MaxSignGets is refused whole.
func TestSignGetsForEveryProvider(t *testing.T) {
	p := &recorder{}
	info, err := Info.ReadResult(serve(t, p, Info.NewRequest(struct{}{})))
	if err != nil || info.Capabilities.SignGets != info.Capabilities.SignGet {
		t.Fatalf("Info: SignGets = %v with SignGet %v, %v; want SignGets announced wherever SignGet is", info.Capabilities.SignGets, info.Capabilities.SignGet, err)
	}
	req := providers.SignGetsRequest{Requests: []providers.GetRequest{{Key: "a"}, {Key: "missing"}, {Key: "b"}}}
	res, err := SignGets.ReadResult(serve(t, p, SignGets.NewRequest(req)))
	if err != nil || len(res.Items) != 3 {
		t.Fatalf("SignGets = %+v, %v", res, err)
	}
	if res.Items[0].Err != nil || res.Items[0].Recipe.URL != "https://x/a" || res.Items[2].Recipe.URL != "https://x/b" {
		t.Errorf("SignGets items 0 and 2 = %+v, %+v; want their recipes", res.Items[0], res.Items[2])
	}
	if e := res.Items[1].Err; e == nil || e.Code != providers.NotFound || e.Message != "no key missing" || res.Items[1].Recipe.URL != "" {
		t.Errorf("SignGets item 1 = %+v (err %v); want NotFound %q and no recipe", res.Items[1], e, "no key missing")
	}
	tooMany := providers.SignGetsRequest{Requests: make([]providers.GetRequest, providers.MaxSignGets+1)}
	if _, err := SignGets.Serve(context.Background(), p, SignGets.NewRequest(tooMany)); !errors.Is(err, providers.ErrInvalidArgument) {
		t.Errorf("SignGets of %d: %v, want InvalidArgument", len(tooMany.Requests), err)
	}
}

// ReadObject and SignPostPolicy are optional: withdrawn from Info and
// answered Unimplemented by a provider without them, and ReadObject's bound
// is checked before the provider is called.
func TestNewCapabilitiesAbsent(t *testing.T) {
	p := &claimer{}
	info, err := Info.ReadResult(serve(t, p, Info.NewRequest(struct{}{})))
	if err != nil || info.Capabilities.Reader || info.Capabilities.PostPolicy {
		t.Fatalf("Info of a provider without Reader or PostPolicySigner = %+v, %v", info.Capabilities, err)
	}
	if _, err := ReadObject.Serve(context.Background(), p, ReadObject.NewRequest(providers.ReadObjectRequest{Key: "k", MaxBytes: 1})); !errors.Is(err, providers.ErrUnimplemented) {
		t.Errorf("ReadObject: %v, want Unimplemented", err)
	}
	if _, err := SignPostPolicy.Serve(context.Background(), p, SignPostPolicy.NewRequest(providers.PostPolicyRequest{Key: "k"})); !errors.Is(err, providers.ErrUnimplemented) {
		t.Errorf("SignPostPolicy: %v, want Unimplemented", err)
	}
	r := &reader{}
	for _, max := range []int64{0, providers.MaxReadBytes + 1} {
		if _, err := ReadObject.Serve(context.Background(), r, ReadObject.NewRequest(providers.ReadObjectRequest{Key: "k", MaxBytes: max})); !errors.Is(err, providers.ErrInvalidArgument) || r.called {
			t.Errorf("ReadObject with MaxBytes %d: %v (provider called: %v), want InvalidArgument before the provider", max, err, r.called)
		}
	}
	got, err := ReadObject.ReadResult(serve(t, r, ReadObject.NewRequest(providers.ReadObjectRequest{Key: "k", MaxBytes: 10})))
	if err != nil || string(got.Data) != "bytes" || got.Object.Size != 5 || got.Object.Key != "k" {
		t.Errorf("ReadObject through the table = %+v, %v", got, err)
	}
}

// claimer claims every capability in Info and implements none.
type claimer struct{ recorder }

func (c *claimer) Info(context.Context) (providers.Info, error) {
	return providers.Info{Name: "claimer", Capabilities: providers.Capabilities{SignPut: true, SignGet: true, Reader: true, PostPolicy: true, Multipart: true}}, nil
}

type reader struct {
	recorder
	called bool
}

func (r *reader) ReadObject(_ context.Context, req providers.ReadObjectRequest) (providers.ReadObjectResult, error) {
	r.called = true
	return providers.ReadObjectResult{Object: providers.Object{Key: req.Key, Size: 5}, Data: []byte("bytes")}, nil
}
