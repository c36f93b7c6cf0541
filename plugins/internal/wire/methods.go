package wire

// Adding a provider call touches these files, and only these:
//
//  1. plugins/proto/v1/valet.proto: its request message (its own, so that
//     its case is found by type), a case of CallRequest.call, and its result
//     (a new message and case of CallResponse.result, or a shared one such
//     as Recipe or Object); then `make generate`.
//  2. providers/provider.go: the request and result structs, and the method
//     on Provider or, for an optional call, on its capability interface
//     (a small interface found by type assertion, plus its Capabilities
//     flag).
//  3. plugins/internal/convert: the four conversions between those structs
//     and messages.
//  4. This file: one entry (name, idempotence, the Go call, the four
//     conversions) listed in Methods; for a new capability, also the line
//     in Info's entry that withdraws its flag from a provider without it.
//     Where the call travels in the oneofs is found from its message types
//     when the package loads, and TestTableCoversTheProtocol checks it.
//  5. plugins/host/calls.go: the one-line forwarder on *Plugin.
//  6. The providers that implement it (providers/local, s3, gcs, azure,
//     memprovider, plugins/example if it should), core/metrics.go's metered
//     decorator, and their tests, above all the conformance suite in
//     providers/providertest.
//
// The optional capabilities so far, each an interface with its flag:
// providers.Multipart (Capabilities.Multipart), providers.Reader
// (Reader), providers.PostPolicySigner (PostPolicy), and
// providers.GetSigner (SignGets), which every plugin answers through
// providers.SignGets whether or not its provider implements it, and
// providers.CORSConfigurer (CORS).

import (
	"context"
	"fmt"
	"reflect"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/valetgw/valet/plugins/internal/convert"
	pb "github.com/valetgw/valet/plugins/proto/v1"
	"github.com/valetgw/valet/providers"
)

// Methods is the table of provider calls, the one place where the plugin
// protocol's method list is written: plugins.Serve dispatches by it and
// plugins/host calls through it.
var Methods = []Handler{
	Info, Configure, SignPut, SignGet, SignDelete, Head, List, Delete,
	CreateMultipart, SignParts, CompleteMultipart, AbortMultipart, ListParts,
	ReadObject, SignGets, SignPostPolicy, GetCORS, PutCORS,
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
			if _, ok := p.(providers.Reader); !ok {
				info.Capabilities.Reader = false
			}
			if _, ok := p.(providers.PostPolicySigner); !ok {
				info.Capabilities.PostPolicy = false
			}
			if _, ok := p.(providers.CORSConfigurer); !ok {
				info.Capabilities.CORS = false
			}
			// The plugin server answers SignGets for every provider that
			// signs GETs (SignGets below), so the host has one round trip.
			info.Capabilities.SignGets = info.Capabilities.SignGet
			return info, err
		},
		InToProto: convert.InfoRequestToProto, InFromProto: convert.InfoRequestFromProto,
		OutToProto: convert.InfoToProto, OutFromProto: convert.InfoFromProto,
	}
	Configure = &Method[providers.Provider, providers.StoreConfig, struct{}, *pb.ConfigureRequest, *pb.ConfigureResponse]{
		Name: "Configure", Idempotent: true,
		Call: func(p providers.Provider, ctx context.Context, cfg providers.StoreConfig) (struct{}, error) {
			return struct{}{}, p.Configure(ctx, cfg)
		},
		InToProto: convert.ConfigToProto, InFromProto: convert.ConfigFromProto,
		OutToProto: convert.ConfiguredToProto, OutFromProto: convert.ConfiguredFromProto,
	}
	SignPut = &Method[providers.Provider, providers.PutRequest, providers.Recipe, *pb.SignPutRequest, *pb.Recipe]{
		Name: "SignPut", Idempotent: true, Call: providers.Provider.SignPut,
		InToProto: convert.PutToProto, InFromProto: convert.PutFromProto,
		OutToProto: convert.RecipeToProto, OutFromProto: convert.RecipeFromProto,
	}
	SignGet = &Method[providers.Provider, providers.GetRequest, providers.Recipe, *pb.SignGetRequest, *pb.Recipe]{
		Name: "SignGet", Idempotent: true, Call: providers.Provider.SignGet,
		InToProto: convert.GetToProto, InFromProto: convert.GetFromProto,
		OutToProto: convert.RecipeToProto, OutFromProto: convert.RecipeFromProto,
	}
	SignDelete = &Method[providers.Provider, providers.SignDeleteRequest, providers.Recipe, *pb.SignDeleteRequest, *pb.Recipe]{
		Name: "SignDelete", Idempotent: true, Call: providers.Provider.SignDelete,
		InToProto: convert.SignDeleteToProto, InFromProto: convert.SignDeleteFromProto,
		OutToProto: convert.RecipeToProto, OutFromProto: convert.RecipeFromProto,
	}
	Head = &Method[providers.Provider, providers.HeadRequest, providers.Object, *pb.HeadRequest, *pb.Object]{
		Name: "Head", Idempotent: true, Call: providers.Provider.Head,
		InToProto: convert.HeadToProto, InFromProto: convert.HeadFromProto,
		OutToProto: convert.ObjectToProto, OutFromProto: convert.ObjectFromProto,
	}
	List = &Method[providers.Provider, providers.ListRequest, providers.ListPage, *pb.ListRequest, *pb.ListResponse]{
		Name: "List", Idempotent: true, Call: providers.Provider.List,
		InToProto: convert.ListToProto, InFromProto: convert.ListFromProto,
		OutToProto: convert.PageToProto, OutFromProto: convert.PageFromProto,
	}
	Delete = &Method[providers.Provider, providers.DeleteRequest, providers.DeleteResult, *pb.DeleteRequest, *pb.DeleteResponse]{
		Name: "Delete", Idempotent: true, Call: providers.Provider.Delete,
		InToProto: convert.DeleteToProto, InFromProto: convert.DeleteFromProto,
		OutToProto: convert.DeleteResultToProto, OutFromProto: convert.DeleteResultFromProto,
	}

	// The optional multipart capability, providers.Multipart.

	CreateMultipart = &Method[providers.Multipart, providers.CreateMultipartRequest, providers.MultipartUpload, *pb.CreateMultipartRequest, *pb.CreateMultipartResponse]{
		// Never retried: a retry could leave an orphaned upload behind.
		Name: "CreateMultipart", Idempotent: false, Call: providers.Multipart.CreateMultipart,
		InToProto: convert.CreateToProto, InFromProto: convert.CreateFromProto,
		OutToProto: convert.UploadToProto, OutFromProto: convert.UploadFromProto,
	}
	SignParts = &Method[providers.Multipart, providers.SignPartsRequest, providers.SignPartsResult, *pb.SignPartsRequest, *pb.SignPartsResponse]{
		Name: "SignParts", Idempotent: true, Call: providers.Multipart.SignParts,
		InToProto: convert.SignPartsToProto, InFromProto: convert.SignPartsFromProto,
		OutToProto: convert.PartRecipesToProto, OutFromProto: convert.PartRecipesFromProto,
	}
	CompleteMultipart = &Method[providers.Multipart, providers.CompleteMultipartRequest, providers.Object, *pb.CompleteMultipartRequest, *pb.Object]{
		Name: "CompleteMultipart", Idempotent: true, Call: providers.Multipart.CompleteMultipart,
		InToProto: convert.CompleteToProto, InFromProto: convert.CompleteFromProto,
		OutToProto: convert.ObjectToProto, OutFromProto: convert.ObjectFromProto,
	}
	AbortMultipart = &Method[providers.Multipart, providers.AbortMultipartRequest, providers.AbortMultipartResult, *pb.AbortMultipartRequest, *pb.AbortMultipartResponse]{
		Name: "AbortMultipart", Idempotent: true, Call: providers.Multipart.AbortMultipart,
		InToProto: convert.AbortToProto, InFromProto: convert.AbortFromProto,
		OutToProto: convert.AbortResultToProto, OutFromProto: convert.AbortResultFromProto,
	}
	ListParts = &Method[providers.Multipart, providers.ListPartsRequest, providers.ListPartsResult, *pb.ListPartsRequest, *pb.ListPartsResponse]{
		Name: "ListParts", Idempotent: true, Call: providers.Multipart.ListParts,
		InToProto: convert.ListPartsToProto, InFromProto: convert.ListPartsFromProto,
		OutToProto: convert.PartsToProto, OutFromProto: convert.PartsFromProto,
	}
)

// The optional capabilities providers.Reader and providers.PostPolicySigner,
// and SignGets, which every plugin answers (providers.SignGets falls back
// to one SignGet per item, in the plugin process).
var (
	ReadObject = &Method[providers.Reader, providers.ReadObjectRequest, providers.ReadObjectResult, *pb.ReadObjectRequest, *pb.ReadObjectResponse]{
		Name: "ReadObject", Idempotent: true,
		Call: func(r providers.Reader, ctx context.Context, req providers.ReadObjectRequest) (providers.ReadObjectResult, error) {
			// The bytes travel in one message: refuse a bound it cannot carry.
			if err := providers.CheckReadObject(req); err != nil {
				return providers.ReadObjectResult{}, err
			}
			return r.ReadObject(ctx, req)
		},
		InToProto: convert.ReadObjectToProto, InFromProto: convert.ReadObjectFromProto,
		OutToProto: convert.ReadResultToProto, OutFromProto: convert.ReadResultFromProto,
	}
	SignGets = &Method[providers.Provider, providers.SignGetsRequest, providers.SignGetsResult, *pb.SignGetsRequest, *pb.SignGetsResponse]{
		Name: "SignGets", Idempotent: true,
		Call: func(p providers.Provider, ctx context.Context, req providers.SignGetsRequest) (providers.SignGetsResult, error) {
			return providers.SignGets(ctx, p, req) // refuses more than MaxSignGets
		},
		InToProto: convert.SignGetsToProto, InFromProto: convert.SignGetsFromProto,
		OutToProto: convert.SignGetsResultToProto, OutFromProto: convert.SignGetsResultFromProto,
	}
	SignPostPolicy = &Method[providers.PostPolicySigner, providers.PostPolicyRequest, providers.PostPolicy, *pb.SignPostPolicyRequest, *pb.PostPolicy]{
		Name: "SignPostPolicy", Idempotent: true, Call: providers.PostPolicySigner.SignPostPolicy,
		InToProto: convert.PostPolicyToProto, InFromProto: convert.PostPolicyFromProto,
		OutToProto: convert.PolicyToProto, OutFromProto: convert.PolicyFromProto,
	}
)

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
	// Conversions between the Go contract and the messages.
	InToProto    func(In) PIn
	InFromProto  func(PIn) In
	OutToProto   func(Out) POut
	OutFromProto func(POut) Out

	// call and result are the cases of CallRequest.call and
	// CallResponse.result whose messages are PIn and POut, found by index.
	call, result protoreflect.FieldDescriptor
}

// Handler is a Method as the plugin side dispatches it.
type Handler interface {
	// MethodName is the call's name, for logs and errors.
	MethodName() string
	// Serve runs the call on p. The returned error is the provider's.
	Serve(ctx context.Context, p providers.Provider, req *pb.CallRequest) (*pb.CallResponse, error)
	// bind finds the call's oneof cases, or says why it cannot.
	bind() error
	// cases are the oneof cases that bind found.
	cases() (call, result protoreflect.FieldDescriptor)
}

// NewRequest is the CallRequest that carries in.
func (m *Method[P, In, Out, PIn, POut]) NewRequest(in In) *pb.CallRequest {
	req := &pb.CallRequest{}
	req.ProtoReflect().Set(m.call, protoreflect.ValueOfMessage(m.InToProto(in).ProtoReflect()))
	return req
}

// ReadResult reads the call's result from an answer, or fails for an
// answer that carries another kind of result.
func (m *Method[P, In, Out, PIn, POut]) ReadResult(resp *pb.CallResponse) (Out, error) {
	r := resp.ProtoReflect()
	if r.WhichOneof(resultOneof) != m.result {
		var zero Out
		return zero, providers.Errorf(providers.Internal, "plugin answered %s with %T", m.Name, resp.GetResult())
	}
	return m.OutFromProto(r.Get(m.result).Message().Interface().(POut)), nil
}

// MethodName implements Handler.
func (m *Method[P, In, Out, PIn, POut]) MethodName() string { return m.Name }

// Serve implements Handler. req carries this method's call (Lookup).
func (m *Method[P, In, Out, PIn, POut]) Serve(ctx context.Context, p providers.Provider, req *pb.CallRequest) (*pb.CallResponse, error) {
	impl, ok := p.(P)
	if !ok {
		return nil, providers.Errorf(providers.Unimplemented, "%s: this provider does not implement %s", m.Name, reflect.TypeFor[P]())
	}
	in := req.ProtoReflect().Get(m.call).Message().Interface().(PIn)
	out, err := m.Call(impl, ctx, m.InFromProto(in))
	if err != nil {
		return nil, err
	}
	resp := &pb.CallResponse{}
	resp.ProtoReflect().Set(m.result, protoreflect.ValueOfMessage(m.OutToProto(out).ProtoReflect()))
	return resp, nil
}

func (m *Method[P, In, Out, PIn, POut]) cases() (call, result protoreflect.FieldDescriptor) {
	return m.call, m.result
}

func (m *Method[P, In, Out, PIn, POut]) bind() error {
	var in PIn
	var out POut
	var err error
	if m.call, err = caseOf(callOneof, in.ProtoReflect().Descriptor()); err != nil {
		return fmt.Errorf("%s's request: %w", m.Name, err)
	}
	if m.result, err = caseOf(resultOneof, out.ProtoReflect().Descriptor()); err != nil {
		return fmt.Errorf("%s's result: %w", m.Name, err)
	}
	return nil
}

var (
	callOneof   = (&pb.CallRequest{}).ProtoReflect().Descriptor().Oneofs().ByName("call")
	resultOneof = (&pb.CallResponse{}).ProtoReflect().Descriptor().Oneofs().ByName("result")
)

// caseOf is the one case of oneof whose message is msg.
func caseOf(oneof protoreflect.OneofDescriptor, msg protoreflect.MessageDescriptor) (protoreflect.FieldDescriptor, error) {
	var found protoreflect.FieldDescriptor
	for i := range oneof.Fields().Len() {
		fd := oneof.Fields().Get(i)
		if fd.Message() == nil || fd.Message().FullName() != msg.FullName() {
			continue
		}
		if found != nil {
			return nil, fmt.Errorf("%s is the message of both %s and %s", msg.FullName(), found.Name(), fd.Name())
		}
		found = fd
	}
	if found == nil {
		return nil, fmt.Errorf("%s is the message of no case of %s", msg.FullName(), oneof.FullName())
	}
	return found, nil
}

// byCall indexes Methods by their case of CallRequest.call. Building it
// binds every method, so a table that does not match valet.proto stops
// the program as it loads, on both sides of the hop.
var byCall = func() map[protoreflect.FieldNumber]Handler {
	idx, err := index(Methods)
	if err != nil {
		panic("plugins/internal/wire: " + err.Error())
	}
	return idx
}()

func index(methods []Handler) (map[protoreflect.FieldNumber]Handler, error) {
	idx := make(map[protoreflect.FieldNumber]Handler, len(methods))
	for _, m := range methods {
		if err := m.bind(); err != nil {
			return nil, err
		}
		call, _ := m.cases()
		if other := idx[call.Number()]; other != nil {
			return nil, fmt.Errorf("%s and %s travel in the same case %s", other.MethodName(), m.MethodName(), call.Name())
		}
		idx[call.Number()] = m
	}
	return idx, nil
}

// Lookup finds the method a request calls, or nil for a call this plugin
// does not know (one that a newer host sends).
func Lookup(req *pb.CallRequest) Handler {
	fd := req.ProtoReflect().WhichOneof(callOneof)
	if fd == nil {
		return nil
	}
	return byCall[fd.Number()]
}

// The optional capability providers.CORSConfigurer: the bucket's CORS rules.
var (
	GetCORS = &Method[providers.CORSConfigurer, providers.GetCORSRequest, providers.CORSResult, *pb.GetCORSRequest, *pb.CORSResult]{
		Name: "GetCORS", Idempotent: true, Call: providers.CORSConfigurer.GetCORS,
		InToProto: convert.GetCORSToProto, InFromProto: convert.GetCORSFromProto,
		OutToProto: convert.CORSResultToProto, OutFromProto: convert.CORSResultFromProto,
	}
	// PutCORS replaces the rules as a whole, so a retry sets the same.
	PutCORS = &Method[providers.CORSConfigurer, providers.PutCORSRequest, providers.PutCORSResult, *pb.PutCORSRequest, *pb.PutCORSResponse]{
		Name: "PutCORS", Idempotent: true,
		Call: func(c providers.CORSConfigurer, ctx context.Context, req providers.PutCORSRequest) (providers.PutCORSResult, error) {
			if err := providers.CheckCORSRules(req.Rules); err != nil {
				return providers.PutCORSResult{}, err
			}
			return c.PutCORS(ctx, req)
		},
		InToProto: convert.PutCORSToProto, InFromProto: convert.PutCORSFromProto,
		OutToProto: convert.PutCORSResultToProto, OutFromProto: convert.PutCORSResultFromProto,
	}
)
