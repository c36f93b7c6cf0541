package wire

import (
	"context"
	"fmt"
	"reflect"

	"google.golang.org/protobuf/proto"

	"github.com/valetgw/valet/plugins/internal/convert"
	pb "github.com/valetgw/valet/plugins/proto/v1"
	"github.com/valetgw/valet/providers"
)

// Methods is the table of provider calls, the one place where the plugin
// protocol's method list is written: plugins.Serve dispatches by it and
// plugins/host calls through it. Adding a call is its request and result
// messages in valet.proto (each a case of CallRequest.call and
// CallResponse.result), their conversions in plugins/internal/convert, an
// entry here, and the method in package providers with its one-line
// forwarder in plugins/host.
var Methods = []Handler{
	Info, Configure, SignPut, SignGet, SignDelete, Head, List, Delete,
	CreateMultipart, SignParts, CompleteMultipart, AbortMultipart, ListParts,
}

var (
	Info = &Method[providers.Provider, struct{}, providers.Info, *pb.InfoRequest, *pb.InfoResponse]{
		Name: "Info", Idempotent: true,
		Call: func(p providers.Provider, ctx context.Context, _ struct{}) (providers.Info, error) {
			info, err := p.Info(ctx)
			// A capability is announced only by a provider that implements it.
			if _, ok := p.(providers.Multipart); !ok {
				info.Capabilities.Multipart = false
			}
			return info, err
		},
		Wrap:   func(m *pb.InfoRequest) *pb.CallRequest { return &pb.CallRequest{Call: &pb.CallRequest_Info{Info: m}} },
		Unwrap: (*pb.CallRequest).GetInfo,
		WrapResult: func(m *pb.InfoResponse) *pb.CallResponse {
			return &pb.CallResponse{Result: &pb.CallResponse_Info{Info: m}}
		},
		UnwrapResult: (*pb.CallResponse).GetInfo,
		InToProto:    func(struct{}) *pb.InfoRequest { return &pb.InfoRequest{} },
		InFromProto:  none[*pb.InfoRequest],
		OutToProto:   convert.InfoToProto,
		OutFromProto: convert.InfoFromProto,
	}
	Configure = &Method[providers.Provider, providers.StoreConfig, struct{}, *pb.ConfigureRequest, *pb.ConfigureResponse]{
		Name: "Configure", Idempotent: true,
		Call: noResult(providers.Provider.Configure),
		Wrap: func(m *pb.ConfigureRequest) *pb.CallRequest {
			return &pb.CallRequest{Call: &pb.CallRequest_Configure{Configure: m}}
		},
		Unwrap: (*pb.CallRequest).GetConfigure,
		WrapResult: func(m *pb.ConfigureResponse) *pb.CallResponse {
			return &pb.CallResponse{Result: &pb.CallResponse_Configure{Configure: m}}
		},
		UnwrapResult: (*pb.CallResponse).GetConfigure,
		InToProto:    convert.ConfigToProto,
		InFromProto:  convert.ConfigFromProto,
		OutToProto:   func(struct{}) *pb.ConfigureResponse { return &pb.ConfigureResponse{} },
		OutFromProto: none[*pb.ConfigureResponse],
	}
	SignPut = &Method[providers.Provider, providers.PutRequest, providers.Recipe, *pb.SignPutRequest, *pb.Recipe]{
		Name: "SignPut", Idempotent: true,
		Call: providers.Provider.SignPut,
		Wrap: func(m *pb.SignPutRequest) *pb.CallRequest {
			return &pb.CallRequest{Call: &pb.CallRequest_SignPut{SignPut: m}}
		},
		Unwrap: (*pb.CallRequest).GetSignPut,
		WrapResult: func(m *pb.Recipe) *pb.CallResponse {
			return &pb.CallResponse{Result: &pb.CallResponse_Recipe{Recipe: m}}
		},
		UnwrapResult: (*pb.CallResponse).GetRecipe,
		InToProto:    convert.PutToProto,
		InFromProto:  convert.PutFromProto,
		OutToProto:   convert.RecipeToProto,
		OutFromProto: convert.RecipeFromProto,
	}
	SignGet = &Method[providers.Provider, providers.GetRequest, providers.Recipe, *pb.SignGetRequest, *pb.Recipe]{
		Name: "SignGet", Idempotent: true,
		Call: providers.Provider.SignGet,
		Wrap: func(m *pb.SignGetRequest) *pb.CallRequest {
			return &pb.CallRequest{Call: &pb.CallRequest_SignGet{SignGet: m}}
		},
		Unwrap: (*pb.CallRequest).GetSignGet,
		WrapResult: func(m *pb.Recipe) *pb.CallResponse {
			return &pb.CallResponse{Result: &pb.CallResponse_Recipe{Recipe: m}}
		},
		UnwrapResult: (*pb.CallResponse).GetRecipe,
		InToProto:    convert.GetToProto,
		InFromProto:  convert.GetFromProto,
		OutToProto:   convert.RecipeToProto,
		OutFromProto: convert.RecipeFromProto,
	}
	SignDelete = &Method[providers.Provider, providers.SignDeleteRequest, providers.Recipe, *pb.SignDeleteRequest, *pb.Recipe]{
		Name: "SignDelete", Idempotent: true,
		Call: providers.Provider.SignDelete,
		Wrap: func(m *pb.SignDeleteRequest) *pb.CallRequest {
			return &pb.CallRequest{Call: &pb.CallRequest_SignDelete{SignDelete: m}}
		},
		Unwrap: (*pb.CallRequest).GetSignDelete,
		WrapResult: func(m *pb.Recipe) *pb.CallResponse {
			return &pb.CallResponse{Result: &pb.CallResponse_Recipe{Recipe: m}}
		},
		UnwrapResult: (*pb.CallResponse).GetRecipe,
		InToProto:    convert.SignDeleteToProto,
		InFromProto:  convert.SignDeleteFromProto,
		OutToProto:   convert.RecipeToProto,
		OutFromProto: convert.RecipeFromProto,
	}
	Head = &Method[providers.Provider, providers.HeadRequest, providers.Object, *pb.HeadRequest, *pb.Object]{
		Name: "Head", Idempotent: true,
		Call:   providers.Provider.Head,
		Wrap:   func(m *pb.HeadRequest) *pb.CallRequest { return &pb.CallRequest{Call: &pb.CallRequest_Head{Head: m}} },
		Unwrap: (*pb.CallRequest).GetHead,
		WrapResult: func(m *pb.Object) *pb.CallResponse {
			return &pb.CallResponse{Result: &pb.CallResponse_Object{Object: m}}
		},
		UnwrapResult: (*pb.CallResponse).GetObject,
		InToProto:    convert.HeadToProto,
		InFromProto:  convert.HeadFromProto,
		OutToProto:   convert.ObjectToProto,
		OutFromProto: convert.ObjectFromProto,
	}
	List = &Method[providers.Provider, providers.ListRequest, providers.ListPage, *pb.ListRequest, *pb.ListResponse]{
		Name: "List", Idempotent: true,
		Call:   providers.Provider.List,
		Wrap:   func(m *pb.ListRequest) *pb.CallRequest { return &pb.CallRequest{Call: &pb.CallRequest_List{List: m}} },
		Unwrap: (*pb.CallRequest).GetList,
		WrapResult: func(m *pb.ListResponse) *pb.CallResponse {
			return &pb.CallResponse{Result: &pb.CallResponse_List{List: m}}
		},
		UnwrapResult: (*pb.CallResponse).GetList,
		InToProto:    convert.ListToProto,
		InFromProto:  convert.ListFromProto,
		OutToProto:   convert.PageToProto,
		OutFromProto: convert.PageFromProto,
	}
	Delete = &Method[providers.Provider, providers.DeleteRequest, providers.DeleteResult, *pb.DeleteRequest, *pb.DeleteResponse]{
		Name: "Delete", Idempotent: true,
		Call: providers.Provider.Delete,
		Wrap: func(m *pb.DeleteRequest) *pb.CallRequest {
			return &pb.CallRequest{Call: &pb.CallRequest_Delete{Delete: m}}
		},
		Unwrap: (*pb.CallRequest).GetDelete,
		WrapResult: func(m *pb.DeleteResponse) *pb.CallResponse {
			return &pb.CallResponse{Result: &pb.CallResponse_Delete{Delete: m}}
		},
		UnwrapResult: (*pb.CallResponse).GetDelete,
		InToProto:    convert.DeleteToProto,
		InFromProto:  convert.DeleteFromProto,
		OutToProto:   func(providers.DeleteResult) *pb.DeleteResponse { return &pb.DeleteResponse{} },
		OutFromProto: func(*pb.DeleteResponse) providers.DeleteResult { return providers.DeleteResult{} },
	}

	// The optional multipart capability, providers.Multipart.

	CreateMultipart = &Method[providers.Multipart, providers.CreateMultipartRequest, providers.MultipartUpload, *pb.CreateMultipartRequest, *pb.CreateMultipartResponse]{
		// Never retried: a retry could leave an orphaned upload behind.
		Name: "CreateMultipart", Idempotent: false,
		Call: providers.Multipart.CreateMultipart,
		Wrap: func(m *pb.CreateMultipartRequest) *pb.CallRequest {
			return &pb.CallRequest{Call: &pb.CallRequest_CreateMultipart{CreateMultipart: m}}
		},
		Unwrap: (*pb.CallRequest).GetCreateMultipart,
		WrapResult: func(m *pb.CreateMultipartResponse) *pb.CallResponse {
			return &pb.CallResponse{Result: &pb.CallResponse_CreateMultipart{CreateMultipart: m}}
		},
		UnwrapResult: (*pb.CallResponse).GetCreateMultipart,
		InToProto:    convert.CreateToProto,
		InFromProto:  convert.CreateFromProto,
		OutToProto:   convert.UploadToProto,
		OutFromProto: convert.UploadFromProto,
	}
	SignParts = &Method[providers.Multipart, providers.SignPartsRequest, providers.SignPartsResult, *pb.SignPartsRequest, *pb.SignPartsResponse]{
		Name: "SignParts", Idempotent: true,
		Call: providers.Multipart.SignParts,
		Wrap: func(m *pb.SignPartsRequest) *pb.CallRequest {
			return &pb.CallRequest{Call: &pb.CallRequest_SignParts{SignParts: m}}
		},
		Unwrap: (*pb.CallRequest).GetSignParts,
		WrapResult: func(m *pb.SignPartsResponse) *pb.CallResponse {
			return &pb.CallResponse{Result: &pb.CallResponse_SignParts{SignParts: m}}
		},
		UnwrapResult: (*pb.CallResponse).GetSignParts,
		InToProto:    convert.SignPartsToProto,
		InFromProto:  convert.SignPartsFromProto,
		OutToProto:   convert.PartRecipesToProto,
		OutFromProto: convert.PartRecipesFromProto,
	}
	CompleteMultipart = &Method[providers.Multipart, providers.CompleteMultipartRequest, providers.Object, *pb.CompleteMultipartRequest, *pb.Object]{
		Name: "CompleteMultipart", Idempotent: true,
		Call: providers.Multipart.CompleteMultipart,
		Wrap: func(m *pb.CompleteMultipartRequest) *pb.CallRequest {
			return &pb.CallRequest{Call: &pb.CallRequest_CompleteMultipart{CompleteMultipart: m}}
		},
		Unwrap: (*pb.CallRequest).GetCompleteMultipart,
		WrapResult: func(m *pb.Object) *pb.CallResponse {
			return &pb.CallResponse{Result: &pb.CallResponse_Object{Object: m}}
		},
		UnwrapResult: (*pb.CallResponse).GetObject,
		InToProto:    convert.CompleteToProto,
		InFromProto:  convert.CompleteFromProto,
		OutToProto:   convert.ObjectToProto,
		OutFromProto: convert.ObjectFromProto,
	}
	AbortMultipart = &Method[providers.Multipart, providers.AbortMultipartRequest, providers.AbortMultipartResult, *pb.MultipartRef, *pb.AbortMultipartResponse]{
		Name: "AbortMultipart", Idempotent: true,
		Call: providers.Multipart.AbortMultipart,
		Wrap: func(m *pb.MultipartRef) *pb.CallRequest {
			return &pb.CallRequest{Call: &pb.CallRequest_AbortMultipart{AbortMultipart: m}}
		},
		Unwrap: (*pb.CallRequest).GetAbortMultipart,
		WrapResult: func(m *pb.AbortMultipartResponse) *pb.CallResponse {
			return &pb.CallResponse{Result: &pb.CallResponse_AbortMultipart{AbortMultipart: m}}
		},
		UnwrapResult: (*pb.CallResponse).GetAbortMultipart,
		InToProto:    convert.AbortToProto,
		InFromProto:  convert.AbortFromProto,
		OutToProto:   func(providers.AbortMultipartResult) *pb.AbortMultipartResponse { return &pb.AbortMultipartResponse{} },
		OutFromProto: func(*pb.AbortMultipartResponse) providers.AbortMultipartResult {
			return providers.AbortMultipartResult{}
		},
	}
	ListParts = &Method[providers.Multipart, providers.ListPartsRequest, providers.ListPartsResult, *pb.MultipartRef, *pb.ListPartsResponse]{
		Name: "ListParts", Idempotent: true,
		Call: providers.Multipart.ListParts,
		Wrap: func(m *pb.MultipartRef) *pb.CallRequest {
			return &pb.CallRequest{Call: &pb.CallRequest_ListParts{ListParts: m}}
		},
		Unwrap: (*pb.CallRequest).GetListParts,
		WrapResult: func(m *pb.ListPartsResponse) *pb.CallResponse {
			return &pb.CallResponse{Result: &pb.CallResponse_ListParts{ListParts: m}}
		},
		UnwrapResult: (*pb.CallResponse).GetListParts,
		InToProto:    convert.ListPartsToProto,
		InFromProto:  convert.ListPartsFromProto,
		OutToProto:   convert.PartsToProto,
		OutFromProto: convert.PartsFromProto,
	}
)

// none converts a message that carries nothing.
func none[M any](M) struct{} { return struct{}{} }

// noResult adapts a contract method that returns only an error.
func noResult[P, In any](f func(P, context.Context, In) error) func(P, context.Context, In) (struct{}, error) {
	return func(p P, ctx context.Context, in In) (struct{}, error) { return struct{}{}, f(p, ctx, in) }
}

// Method is one provider call as it travels on the Calls stream. P is the
// Go interface that has the call: providers.Provider, or an optional
// capability such as providers.Multipart, which a plugin whose provider
// lacks it answers with Unimplemented. In and Out are the call's Go
// request and result, PIn and POut their messages.
type Method[P, In, Out any, PIn, POut proto.Message] struct {
	Name string
	// Idempotent calls that were in flight when the plugin died are
	// retried once on the restarted plugin by the host.
	Idempotent bool
	// Call runs the call on the plugin's provider.
	Call func(P, context.Context, In) (Out, error)
	// Where the messages travel: the call's own case of CallRequest.call,
	// and a case of CallResponse.result, which calls may share.
	Wrap         func(PIn) *pb.CallRequest
	Unwrap       func(*pb.CallRequest) PIn
	WrapResult   func(POut) *pb.CallResponse
	UnwrapResult func(*pb.CallResponse) POut
	// Conversions between the Go contract and the messages.
	InToProto    func(In) PIn
	InFromProto  func(PIn) In
	OutToProto   func(Out) POut
	OutFromProto func(POut) Out
}

// Handler is a Method as the plugin side dispatches it.
type Handler interface {
	// MethodName is the call's name, for logs and errors.
	MethodName() string
	// Serve runs the call on p. The returned error is the provider's.
	Serve(ctx context.Context, p providers.Provider, req *pb.CallRequest) (*pb.CallResponse, error)
	// call and result are the Go types of the call's oneof cases.
	cases() (call, result reflect.Type)
}

// NewRequest is the CallRequest that carries in.
func (m *Method[P, In, Out, PIn, POut]) NewRequest(in In) *pb.CallRequest {
	return m.Wrap(m.InToProto(in))
}

// ReadResult reads the call's result from an answer, or fails for an
// answer that carries another kind of result.
func (m *Method[P, In, Out, PIn, POut]) ReadResult(resp *pb.CallResponse) (Out, error) {
	r := m.UnwrapResult(resp)
	if !r.ProtoReflect().IsValid() {
		var zero Out
		return zero, providers.Errorf(providers.Internal, "plugin answered %s with %T", m.Name, resp.GetResult())
	}
	return m.OutFromProto(r), nil
}

// MethodName implements Handler.
func (m *Method[P, In, Out, PIn, POut]) MethodName() string { return m.Name }

// Serve implements Handler.
func (m *Method[P, In, Out, PIn, POut]) Serve(ctx context.Context, p providers.Provider, req *pb.CallRequest) (*pb.CallResponse, error) {
	impl, ok := p.(P)
	if !ok {
		return nil, providers.Errorf(providers.Unimplemented, "%s: this provider does not implement %s", m.Name, reflect.TypeFor[P]())
	}
	out, err := m.Call(impl, ctx, m.InFromProto(m.Unwrap(req)))
	if err != nil {
		return nil, err
	}
	return m.WrapResult(m.OutToProto(out)), nil
}

func (m *Method[P, In, Out, PIn, POut]) cases() (call, result reflect.Type) {
	var in PIn
	var out POut
	return reflect.TypeOf(m.Wrap(in).GetCall()), reflect.TypeOf(m.WrapResult(out).GetResult())
}

// byCall indexes Methods by the Go type of their CallRequest.call case.
var byCall = func() map[reflect.Type]Handler {
	idx := make(map[reflect.Type]Handler, len(Methods))
	for _, m := range Methods {
		t, _ := m.cases()
		if other := idx[t]; other != nil {
			panic(fmt.Sprintf("plugins/internal/wire: %s and %s travel in the same case %s", other.MethodName(), m.MethodName(), t))
		}
		idx[t] = m
	}
	return idx
}()

// Lookup finds the method a request calls, or nil for a call this plugin
// does not know (one that a newer host sends).
func Lookup(req *pb.CallRequest) Handler {
	return byCall[reflect.TypeOf(req.GetCall())]
}
