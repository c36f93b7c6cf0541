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
	return providers.Info{Name: "rec", Capabilities: providers.Capabilities{SignPut: true, Multipart: true}}, nil
}
func (r *recorder) Configure(context.Context, providers.StoreConfig) error { return nil }
func (r *recorder) SignPut(_ context.Context, req providers.PutRequest) (providers.Recipe, error) {
	r.put = req
	return providers.Recipe{Method: "PUT", URL: "https://x/" + req.Key}, nil
}
func (r *recorder) SignGet(context.Context, providers.GetRequest) (providers.Recipe, error) {
	return providers.Recipe{}, nil
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
