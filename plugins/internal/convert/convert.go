// Package convert is the one place where plugin wire types (plugins/proto/v1)
// and the Go contract (package providers) meet. The method table in
// plugins/internal/wire uses it for both sides of the hop, so they cannot
// drift apart.
package convert

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/valetgw/valet/plugins/proto/v1"
	"github.com/valetgw/valet/providers"
)

var toGRPC = map[providers.Code]codes.Code{
	providers.NotFound:           codes.NotFound,
	providers.InvalidArgument:    codes.InvalidArgument,
	providers.PermissionDenied:   codes.PermissionDenied,
	providers.Unauthenticated:    codes.Unauthenticated,
	providers.AlreadyExists:      codes.AlreadyExists,
	providers.FailedPrecondition: codes.FailedPrecondition,
	providers.Unavailable:        codes.Unavailable,
	providers.Unimplemented:      codes.Unimplemented,
	providers.Internal:           codes.Internal,
}

var fromGRPC = func() map[codes.Code]providers.Code {
	m := make(map[codes.Code]providers.Code, len(toGRPC))
	for k, v := range toGRPC {
		m[v] = k
	}
	return m
}()

// FromStatus turns an error of the Calls stream, which comes from the
// transport and not from the provider, into a provider error. transport is
// true when the connection broke, the deadline passed, or the call was
// cancelled: such failures are reported as Unavailable and keep the context
// error in the chain, so errors.Is(err, context.DeadlineExceeded) still
// works. A provider error (the stream decodes them from CallError) and a
// plain status with a contract code are the provider's answer.
func FromStatus(err error) (perr error, transport bool) {
	if err == nil {
		return nil, false
	}
	if pe := (*providers.Error)(nil); errors.As(err, &pe) {
		return err, false // already decoded (the Calls stream carries codes directly)
	}
	st, ok := status.FromError(err)
	if !ok {
		return &providers.Error{Code: providers.Unavailable, Message: "plugin call failed: " + err.Error(), Err: err}, true
	}
	var cause error
	switch st.Code() {
	case codes.DeadlineExceeded:
		cause = context.DeadlineExceeded
	case codes.Canceled:
		cause = context.Canceled
	}
	if c, ok := fromGRPC[st.Code()]; ok && c != providers.Unavailable && c != providers.Internal {
		return &providers.Error{Code: c, Message: st.Message()}, false
	}
	return &providers.Error{Code: providers.Unavailable, Message: "plugin unavailable: " + st.Message(), Err: cause}, true
}

// ToCallError turns a provider error into the error of a Calls answer.
func ToCallError(err error) *pb.CallError {
	code := providers.CodeOf(err)
	if _, ok := toGRPC[code]; !ok {
		code = providers.Internal
	}
	msg := err.Error()
	var pe *providers.Error
	if errors.As(err, &pe) {
		msg = pe.Message
	}
	return &pb.CallError{Code: string(code), Message: msg}
}

// FromCallError turns the error of a Calls answer into a provider error.
func FromCallError(e *pb.CallError) error {
	code := providers.Code(e.GetCode())
	if _, ok := toGRPC[code]; !ok {
		code = providers.Internal
	}
	return &providers.Error{Code: code, Message: e.GetMessage()}
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// InfoRequestToProto converts Info's request, which carries nothing yet.
func InfoRequestToProto(struct{}) *pb.InfoRequest { return &pb.InfoRequest{} }

// InfoRequestFromProto converts Info's request.
func InfoRequestFromProto(*pb.InfoRequest) struct{} { return struct{}{} }

// InfoToProto converts Info.
func InfoToProto(i providers.Info) *pb.InfoResponse {
	c := i.Capabilities
	return &pb.InfoResponse{Name: i.Name, Version: i.Version, Capabilities: &pb.Capabilities{
		SignPut: c.SignPut, SignGet: c.SignGet, SignDelete: c.SignDelete,
		BindsContentLength: c.BindsContentLength, BindsContentType: c.BindsContentType,
		BindsChecksums: algsToProto(c.BindsChecksums), BindsCreateOnly: c.BindsCreateOnly, GetOverrides: c.GetOverrides,
		MaxExpiryNanos: int64(c.MaxExpiry), Multipart: c.Multipart, MultipartNeedsEtags: c.MultipartNeedsETags,
		MinPartSize: c.MinPartSize, MaxPartSize: c.MaxPartSize, MaxParts: int64(c.MaxParts),
		PartsBindContentLength: c.PartsBindContentLength, MultipartChecksums: algsToProto(c.MultipartChecksums),
		Reader: c.Reader, SignGets: c.SignGets, PostPolicy: c.PostPolicy, Cors: c.CORS, Notes: c.Notes,
	}}
}

// InfoFromProto converts Info.
func InfoFromProto(r *pb.InfoResponse) providers.Info {
	c := r.GetCapabilities()
	return providers.Info{Name: r.GetName(), Version: r.GetVersion(), Capabilities: providers.Capabilities{
		SignPut: c.GetSignPut(), SignGet: c.GetSignGet(), SignDelete: c.GetSignDelete(),
		BindsContentLength: c.GetBindsContentLength(), BindsContentType: c.GetBindsContentType(),
		BindsChecksums: algsFromProto(c.GetBindsChecksums()), BindsCreateOnly: c.GetBindsCreateOnly(), GetOverrides: c.GetGetOverrides(),
		MaxExpiry: time.Duration(c.GetMaxExpiryNanos()), Multipart: c.GetMultipart(),
		MultipartNeedsETags: c.GetMultipartNeedsEtags(), MinPartSize: c.GetMinPartSize(),
		MaxPartSize: c.GetMaxPartSize(), MaxParts: int(c.GetMaxParts()),
		PartsBindContentLength: c.GetPartsBindContentLength(), MultipartChecksums: algsFromProto(c.GetMultipartChecksums()),
		Reader: c.GetReader(), SignGets: c.GetSignGets(), PostPolicy: c.GetPostPolicy(), CORS: c.GetCors(), Notes: c.GetNotes(),
	}}
}

// each converts every element of in with f, into a slice of the same
// length (empty, not nil, for none).
func each[A, B any](in []A, f func(A) B) []B {
	out := make([]B, len(in))
	for i, a := range in {
		out[i] = f(a)
	}
	return out
}

func algsToProto(as []providers.ChecksumAlgorithm) []string {
	return each(as, func(a providers.ChecksumAlgorithm) string { return string(a) })
}

// algsFromProto gives nil for none, as an unset Go field is.
func algsFromProto(as []string) []providers.ChecksumAlgorithm {
	var out []providers.ChecksumAlgorithm
	for _, a := range as {
		out = append(out, providers.ChecksumAlgorithm(a))
	}
	return out
}

func checksumToProto(c *providers.Checksum) *pb.Checksum {
	if c == nil {
		return nil
	}
	return &pb.Checksum{Algorithm: string(c.Algorithm), Value: c.Value}
}

func checksumFromProto(c *pb.Checksum) *providers.Checksum {
	if c == nil {
		return nil
	}
	return &providers.Checksum{Algorithm: providers.ChecksumAlgorithm(c.GetAlgorithm()), Value: c.GetValue()}
}

// ConfigToProto converts StoreConfig.
func ConfigToProto(c providers.StoreConfig) *pb.ConfigureRequest {
	return &pb.ConfigureRequest{Store: c.Store, Config: c.Config}
}

// ConfigFromProto converts StoreConfig.
func ConfigFromProto(r *pb.ConfigureRequest) providers.StoreConfig {
	return providers.StoreConfig{Store: r.GetStore(), Config: r.GetConfig()}
}

// ConfiguredToProto converts Configure's result, which carries nothing yet.
func ConfiguredToProto(struct{}) *pb.ConfigureResponse { return &pb.ConfigureResponse{} }

// ConfiguredFromProto converts Configure's result.
func ConfiguredFromProto(*pb.ConfigureResponse) struct{} { return struct{}{} }

// RecipeToProto converts Recipe.
func RecipeToProto(r providers.Recipe) *pb.Recipe {
	return &pb.Recipe{Method: r.Method, Url: r.URL, Headers: r.Headers, ExpiresAtUnixNanos: nanos(r.ExpiresAt)}
}

// RecipeFromProto converts Recipe.
func RecipeFromProto(r *pb.Recipe) providers.Recipe {
	return providers.Recipe{Method: r.GetMethod(), URL: r.GetUrl(), Headers: r.GetHeaders(), ExpiresAt: fromNanos(r.GetExpiresAtUnixNanos())}
}

// PutToProto converts PutRequest.
func PutToProto(r providers.PutRequest) *pb.SignPutRequest {
	return &pb.SignPutRequest{Key: r.Key, ContentType: r.ContentType, Size: r.Size, Metadata: r.Metadata, CreateOnly: r.CreateOnly, TtlNanos: int64(r.TTL), Checksum: checksumToProto(r.Checksum)}
}

// PutFromProto converts PutRequest.
func PutFromProto(r *pb.SignPutRequest) providers.PutRequest {
	return providers.PutRequest{Key: r.GetKey(), ContentType: r.GetContentType(), Size: r.GetSize(), Metadata: r.GetMetadata(), CreateOnly: r.GetCreateOnly(), TTL: time.Duration(r.GetTtlNanos()), Checksum: checksumFromProto(r.GetChecksum())}
}

// GetToProto converts GetRequest.
func GetToProto(r providers.GetRequest) *pb.SignGetRequest {
	return &pb.SignGetRequest{Key: r.Key, TtlNanos: int64(r.TTL), ResponseContentType: r.ResponseContentType, ResponseContentDisposition: r.ResponseContentDisposition}
}

// GetFromProto converts GetRequest.
func GetFromProto(r *pb.SignGetRequest) providers.GetRequest {
	return providers.GetRequest{Key: r.GetKey(), TTL: time.Duration(r.GetTtlNanos()), ResponseContentType: r.GetResponseContentType(), ResponseContentDisposition: r.GetResponseContentDisposition()}
}

// SignDeleteToProto converts SignDeleteRequest.
func SignDeleteToProto(r providers.SignDeleteRequest) *pb.SignDeleteRequest {
	return &pb.SignDeleteRequest{Key: r.Key, TtlNanos: int64(r.TTL)}
}

// SignDeleteFromProto converts SignDeleteRequest.
func SignDeleteFromProto(r *pb.SignDeleteRequest) providers.SignDeleteRequest {
	return providers.SignDeleteRequest{Key: r.GetKey(), TTL: time.Duration(r.GetTtlNanos())}
}

// HeadToProto converts HeadRequest.
func HeadToProto(r providers.HeadRequest) *pb.HeadRequest {
	return &pb.HeadRequest{Key: r.Key}
}

// HeadFromProto converts HeadRequest.
func HeadFromProto(r *pb.HeadRequest) providers.HeadRequest {
	return providers.HeadRequest{Key: r.GetKey()}
}

// DeleteToProto converts DeleteRequest.
func DeleteToProto(r providers.DeleteRequest) *pb.DeleteRequest {
	return &pb.DeleteRequest{Key: r.Key}
}

// DeleteFromProto converts DeleteRequest.
func DeleteFromProto(r *pb.DeleteRequest) providers.DeleteRequest {
	return providers.DeleteRequest{Key: r.GetKey()}
}

// DeleteResultToProto converts DeleteResult.
func DeleteResultToProto(providers.DeleteResult) *pb.DeleteResponse { return &pb.DeleteResponse{} }

// DeleteResultFromProto converts DeleteResult.
func DeleteResultFromProto(*pb.DeleteResponse) providers.DeleteResult {
	return providers.DeleteResult{}
}

// ObjectToProto converts Object.
func ObjectToProto(o providers.Object) *pb.Object {
	var sums map[string]string
	if len(o.Checksums) > 0 {
		sums = make(map[string]string, len(o.Checksums))
		for k, v := range o.Checksums {
			sums[string(k)] = v
		}
	}
	return &pb.Object{Key: o.Key, Size: o.Size, ContentType: o.ContentType, Etag: o.ETag, LastModifiedUnixNanos: nanos(o.LastModified), Metadata: o.Metadata, Checksums: sums}
}

// ObjectFromProto converts Object.
func ObjectFromProto(o *pb.Object) providers.Object {
	var sums map[providers.ChecksumAlgorithm]string
	if len(o.GetChecksums()) > 0 {
		sums = make(map[providers.ChecksumAlgorithm]string, len(o.GetChecksums()))
		for k, v := range o.GetChecksums() {
			sums[providers.ChecksumAlgorithm(k)] = v
		}
	}
	return providers.Object{Key: o.GetKey(), Size: o.GetSize(), ContentType: o.GetContentType(), ETag: o.GetEtag(), LastModified: fromNanos(o.GetLastModifiedUnixNanos()), Metadata: o.GetMetadata(), Checksums: sums}
}

// ListToProto converts ListRequest.
func ListToProto(r providers.ListRequest) *pb.ListRequest {
	return &pb.ListRequest{Prefix: r.Prefix, Cursor: r.Cursor, Limit: int64(r.Limit)}
}

// ListFromProto converts ListRequest.
func ListFromProto(r *pb.ListRequest) providers.ListRequest {
	return providers.ListRequest{Prefix: r.GetPrefix(), Cursor: r.GetCursor(), Limit: int(r.GetLimit())}
}

// PageToProto converts ListPage.
func PageToProto(p providers.ListPage) *pb.ListResponse {
	return &pb.ListResponse{Objects: each(p.Objects, ObjectToProto), NextCursor: p.NextCursor}
}

// PageFromProto converts ListPage.
func PageFromProto(r *pb.ListResponse) providers.ListPage {
	var objs []providers.Object // nil for none, as a provider's empty page
	if len(r.GetObjects()) > 0 {
		objs = each(r.GetObjects(), ObjectFromProto)
	}
	return providers.ListPage{Objects: objs, NextCursor: r.GetNextCursor()}
}

// CreateToProto converts CreateMultipartRequest.
func CreateToProto(r providers.CreateMultipartRequest) *pb.CreateMultipartRequest {
	return &pb.CreateMultipartRequest{Key: r.Key, ContentType: r.ContentType, Size: r.Size, PartSize: r.PartSize, Metadata: r.Metadata, TtlNanos: int64(r.TTL), Checksum: checksumToProto(r.Checksum)}
}

// CreateFromProto converts CreateMultipartRequest.
func CreateFromProto(r *pb.CreateMultipartRequest) providers.CreateMultipartRequest {
	return providers.CreateMultipartRequest{Key: r.GetKey(), ContentType: r.GetContentType(), Size: r.GetSize(), PartSize: r.GetPartSize(), Metadata: r.GetMetadata(), TTL: time.Duration(r.GetTtlNanos()), Checksum: checksumFromProto(r.GetChecksum())}
}

// UploadToProto converts MultipartUpload.
func UploadToProto(u providers.MultipartUpload) *pb.CreateMultipartResponse {
	return &pb.CreateMultipartResponse{UploadId: u.UploadID}
}

// UploadFromProto converts MultipartUpload.
func UploadFromProto(r *pb.CreateMultipartResponse) providers.MultipartUpload {
	return providers.MultipartUpload{UploadID: r.GetUploadId()}
}

// AbortToProto converts AbortMultipartRequest.
func AbortToProto(r providers.AbortMultipartRequest) *pb.AbortMultipartRequest {
	return &pb.AbortMultipartRequest{Key: r.Upload.Key, UploadId: r.Upload.UploadID}
}

// AbortFromProto converts AbortMultipartRequest.
func AbortFromProto(r *pb.AbortMultipartRequest) providers.AbortMultipartRequest {
	return providers.AbortMultipartRequest{Upload: providers.MultipartRef{Key: r.GetKey(), UploadID: r.GetUploadId()}}
}

// AbortResultToProto converts AbortMultipartResult.
func AbortResultToProto(providers.AbortMultipartResult) *pb.AbortMultipartResponse {
	return &pb.AbortMultipartResponse{}
}

// AbortResultFromProto converts AbortMultipartResult.
func AbortResultFromProto(*pb.AbortMultipartResponse) providers.AbortMultipartResult {
	return providers.AbortMultipartResult{}
}

// ListPartsToProto converts ListPartsRequest.
func ListPartsToProto(r providers.ListPartsRequest) *pb.ListPartsRequest {
	return &pb.ListPartsRequest{Key: r.Upload.Key, UploadId: r.Upload.UploadID}
}

// ListPartsFromProto converts ListPartsRequest.
func ListPartsFromProto(r *pb.ListPartsRequest) providers.ListPartsRequest {
	return providers.ListPartsRequest{Upload: providers.MultipartRef{Key: r.GetKey(), UploadID: r.GetUploadId()}}
}

// SignPartsToProto converts SignPartsRequest.
func SignPartsToProto(r providers.SignPartsRequest) *pb.SignPartsRequest {
	parts := each(r.Parts, func(p providers.PartSpec) *pb.PartSpec { return &pb.PartSpec{Number: int64(p.Number), Size: p.Size} })
	return &pb.SignPartsRequest{Key: r.Key, UploadId: r.UploadID, Parts: parts, TtlNanos: int64(r.TTL)}
}

// SignPartsFromProto converts SignPartsRequest.
func SignPartsFromProto(r *pb.SignPartsRequest) providers.SignPartsRequest {
	parts := each(r.GetParts(), func(p *pb.PartSpec) providers.PartSpec {
		return providers.PartSpec{Number: int(p.GetNumber()), Size: p.GetSize()}
	})
	return providers.SignPartsRequest{Key: r.GetKey(), UploadID: r.GetUploadId(), Parts: parts, TTL: time.Duration(r.GetTtlNanos())}
}

// PartRecipesToProto converts SignPartsResult.
func PartRecipesToProto(res providers.SignPartsResult) *pb.SignPartsResponse {
	return &pb.SignPartsResponse{Parts: each(res.Parts, func(r providers.PartRecipe) *pb.PartRecipe {
		return &pb.PartRecipe{Number: int64(r.Number), Recipe: RecipeToProto(r.Recipe)}
	})}
}

// PartRecipesFromProto converts SignPartsResult.
func PartRecipesFromProto(r *pb.SignPartsResponse) providers.SignPartsResult {
	return providers.SignPartsResult{Parts: each(r.GetParts(), func(p *pb.PartRecipe) providers.PartRecipe {
		return providers.PartRecipe{Number: int(p.GetNumber()), Recipe: RecipeFromProto(p.GetRecipe())}
	})}
}

// CompleteToProto converts CompleteMultipartRequest.
func CompleteToProto(r providers.CompleteMultipartRequest) *pb.CompleteMultipartRequest {
	parts := each(r.Parts, func(p providers.CompletedPart) *pb.CompletedPart {
		return &pb.CompletedPart{Number: int64(p.Number), Etag: p.ETag}
	})
	return &pb.CompleteMultipartRequest{Key: r.Key, UploadId: r.UploadID, Parts: parts, Checksum: checksumToProto(r.Checksum)}
}

// CompleteFromProto converts CompleteMultipartRequest.
func CompleteFromProto(r *pb.CompleteMultipartRequest) providers.CompleteMultipartRequest {
	parts := each(r.GetParts(), func(p *pb.CompletedPart) providers.CompletedPart {
		return providers.CompletedPart{Number: int(p.GetNumber()), ETag: p.GetEtag()}
	})
	return providers.CompleteMultipartRequest{Key: r.GetKey(), UploadID: r.GetUploadId(), Parts: parts, Checksum: checksumFromProto(r.GetChecksum())}
}

// PartsToProto converts ListPartsResult.
func PartsToProto(res providers.ListPartsResult) *pb.ListPartsResponse {
	return &pb.ListPartsResponse{Parts: each(res.Parts, func(p providers.Part) *pb.Part {
		return &pb.Part{Number: int64(p.Number), Size: p.Size, Etag: p.ETag}
	})}
}

// PartsFromProto converts ListPartsResult.
func PartsFromProto(r *pb.ListPartsResponse) providers.ListPartsResult {
	return providers.ListPartsResult{Parts: each(r.GetParts(), func(p *pb.Part) providers.Part {
		return providers.Part{Number: int(p.GetNumber()), Size: p.GetSize(), ETag: p.GetEtag()}
	})}
}

// ReadObjectToProto converts ReadObjectRequest.
func ReadObjectToProto(r providers.ReadObjectRequest) *pb.ReadObjectRequest {
	return &pb.ReadObjectRequest{Key: r.Key, MaxBytes: r.MaxBytes}
}

// ReadObjectFromProto converts ReadObjectRequest.
func ReadObjectFromProto(r *pb.ReadObjectRequest) providers.ReadObjectRequest {
	return providers.ReadObjectRequest{Key: r.GetKey(), MaxBytes: r.GetMaxBytes()}
}

// ReadResultToProto converts ReadObjectResult.
func ReadResultToProto(r providers.ReadObjectResult) *pb.ReadObjectResponse {
	return &pb.ReadObjectResponse{Object: ObjectToProto(r.Object), Data: r.Data}
}

// ReadResultFromProto converts ReadObjectResult. Data is never nil, so an
// empty object reads as empty bytes on both sides.
func ReadResultFromProto(r *pb.ReadObjectResponse) providers.ReadObjectResult {
	data := r.GetData()
	if data == nil {
		data = []byte{}
	}
	return providers.ReadObjectResult{Object: ObjectFromProto(r.GetObject()), Data: data}
}

// SignGetsToProto converts SignGetsRequest.
func SignGetsToProto(r providers.SignGetsRequest) *pb.SignGetsRequest {
	return &pb.SignGetsRequest{Requests: each(r.Requests, GetToProto)}
}

// SignGetsFromProto converts SignGetsRequest.
func SignGetsFromProto(r *pb.SignGetsRequest) providers.SignGetsRequest {
	return providers.SignGetsRequest{Requests: each(r.GetRequests(), GetFromProto)}
}

// SignGetsResultToProto converts SignGetsResult; an item's error keeps
// its code and message only.
func SignGetsResultToProto(r providers.SignGetsResult) *pb.SignGetsResponse {
	return &pb.SignGetsResponse{Items: each(r.Items, func(it providers.SignGetItem) *pb.SignGetItem {
		if it.Err != nil {
			return &pb.SignGetItem{Error: ToCallError(it.Err)}
		}
		return &pb.SignGetItem{Recipe: RecipeToProto(it.Recipe)}
	})}
}

// SignGetsResultFromProto converts SignGetsResult.
func SignGetsResultFromProto(r *pb.SignGetsResponse) providers.SignGetsResult {
	return providers.SignGetsResult{Items: each(r.GetItems(), func(it *pb.SignGetItem) providers.SignGetItem {
		if e := it.GetError(); e != nil {
			return providers.SignGetItem{Err: FromCallError(e).(*providers.Error)}
		}
		return providers.SignGetItem{Recipe: RecipeFromProto(it.GetRecipe())}
	})}
}

// PostPolicyToProto converts PostPolicyRequest.
func PostPolicyToProto(r providers.PostPolicyRequest) *pb.SignPostPolicyRequest {
	return &pb.SignPostPolicyRequest{Key: r.Key, ContentType: r.ContentType, MinSize: r.MinSize, MaxSize: r.MaxSize,
		Metadata: r.Metadata, TtlNanos: int64(r.TTL), ExpiresAtUnixNanos: nanos(r.ExpiresAt)}
}

// PostPolicyFromProto converts PostPolicyRequest.
func PostPolicyFromProto(r *pb.SignPostPolicyRequest) providers.PostPolicyRequest {
	return providers.PostPolicyRequest{Key: r.GetKey(), ContentType: r.GetContentType(), MinSize: r.GetMinSize(), MaxSize: r.GetMaxSize(),
		Metadata: r.GetMetadata(), TTL: time.Duration(r.GetTtlNanos()), ExpiresAt: fromNanos(r.GetExpiresAtUnixNanos())}
}

// PolicyToProto converts PostPolicy.
func PolicyToProto(p providers.PostPolicy) *pb.PostPolicy {
	return &pb.PostPolicy{Url: p.URL, Fields: p.Fields, ExpiresAtUnixNanos: nanos(p.ExpiresAt)}
}

// PolicyFromProto converts PostPolicy.
func PolicyFromProto(p *pb.PostPolicy) providers.PostPolicy {
	return providers.PostPolicy{URL: p.GetUrl(), Fields: p.GetFields(), ExpiresAt: fromNanos(p.GetExpiresAtUnixNanos())}
}

// GetCORSToProto converts GetCORSRequest, which carries nothing yet.
func GetCORSToProto(providers.GetCORSRequest) *pb.GetCORSRequest { return &pb.GetCORSRequest{} }

// GetCORSFromProto converts GetCORSRequest.
func GetCORSFromProto(*pb.GetCORSRequest) providers.GetCORSRequest { return providers.GetCORSRequest{} }

// CORSResultToProto converts CORSResult.
func CORSResultToProto(r providers.CORSResult) *pb.CORSResult {
	return &pb.CORSResult{Rules: each(r.Rules, corsRuleToProto)}
}

// CORSResultFromProto converts CORSResult.
func CORSResultFromProto(r *pb.CORSResult) providers.CORSResult {
	return providers.CORSResult{Rules: each(r.GetRules(), corsRuleFromProto)}
}

// PutCORSToProto converts PutCORSRequest.
func PutCORSToProto(r providers.PutCORSRequest) *pb.PutCORSRequest {
	return &pb.PutCORSRequest{Rules: each(r.Rules, corsRuleToProto)}
}

// PutCORSFromProto converts PutCORSRequest.
func PutCORSFromProto(r *pb.PutCORSRequest) providers.PutCORSRequest {
	return providers.PutCORSRequest{Rules: each(r.GetRules(), corsRuleFromProto)}
}

// PutCORSResultToProto converts PutCORSResult, which carries nothing yet.
func PutCORSResultToProto(providers.PutCORSResult) *pb.PutCORSResponse { return &pb.PutCORSResponse{} }

// PutCORSResultFromProto converts PutCORSResult.
func PutCORSResultFromProto(*pb.PutCORSResponse) providers.PutCORSResult {
	return providers.PutCORSResult{}
}

func corsRuleToProto(r providers.CORSRule) *pb.CORSRule {
	return &pb.CORSRule{AllowedOrigins: r.AllowedOrigins, AllowedMethods: r.AllowedMethods, AllowedHeaders: r.AllowedHeaders,
		ExposeHeaders: r.ExposeHeaders, MaxAgeSeconds: int64(r.MaxAgeSeconds)}
}

func corsRuleFromProto(r *pb.CORSRule) providers.CORSRule {
	return providers.CORSRule{AllowedOrigins: r.GetAllowedOrigins(), AllowedMethods: r.GetAllowedMethods(), AllowedHeaders: r.GetAllowedHeaders(),
		ExposeHeaders: r.GetExposeHeaders(), MaxAgeSeconds: int(r.GetMaxAgeSeconds())}
}
