package convert

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/valetgw/valet/plugins/proto/v1"

	"github.com/valetgw/valet/providers"
)

func TestErrorRoundTrip(t *testing.T) {
	for _, code := range []providers.Code{providers.NotFound, providers.InvalidArgument, providers.PermissionDenied,
		providers.AlreadyExists, providers.FailedPrecondition, providers.Unavailable, providers.Unimplemented, providers.Internal} {
		err, transport := FromStatus(FromCallError(wire(t, ToCallError(providers.Errorf(code, "config.bucket: %s", "required")))))
		if transport {
			t.Errorf("%s: provider error classified as transport failure", code)
		}
		if providers.CodeOf(err) != code || !errors.Is(err, &providers.Error{Code: code}) {
			t.Errorf("%s: round trip gave %v", code, err)
		}
		if got := err.(*providers.Error).Message; got != "config.bucket: required" {
			t.Errorf("%s: message %q", code, got)
		}
	}
	// An error without a code is Internal, as the contract says.
	if err, _ := FromStatus(FromCallError(ToCallError(errors.New("boom")))); providers.CodeOf(err) != providers.Internal {
		t.Errorf("plain error became %v", err)
	}
}

func TestTransportErrors(t *testing.T) {
	err, transport := FromStatus(status.Error(codes.Unavailable, "connection refused"))
	if !transport || !errors.Is(err, providers.ErrUnavailable) {
		t.Errorf("broken connection: %v transport=%v", err, transport)
	}
	err, transport = FromStatus(status.Error(codes.DeadlineExceeded, "deadline"))
	if !transport || !errors.Is(err, providers.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("deadline: %v transport=%v", err, transport)
	}
	err, transport = FromStatus(status.Error(codes.NotFound, "no such key"))
	if transport || !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("bare NotFound status: %v transport=%v", err, transport)
	}
}

func TestValuesRoundTrip(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	info := providers.Info{Name: "x", Version: "1", Capabilities: providers.Capabilities{
		SignPut: true, SignGet: true, BindsContentLength: true, BindsChecksums: []providers.ChecksumAlgorithm{providers.SHA256},
		MaxExpiry: time.Hour, Multipart: true, MinPartSize: 5 << 20, MaxPartSize: 5 << 30, MaxParts: 10000, Notes: []string{"n"},
	}}
	if got := InfoFromProto(InfoToProto(info)); !reflect.DeepEqual(got, info) {
		t.Errorf("info: %+v", got)
	}
	put := providers.PutRequest{Key: "k", ContentType: "a/b", Size: 3, Checksum: &providers.Checksum{Algorithm: providers.SHA256, Value: "v"},
		Metadata: map[string]string{"a": "b"}, CreateOnly: true, TTL: time.Minute}
	if got := PutFromProto(PutToProto(put)); !reflect.DeepEqual(got, put) {
		t.Errorf("put: %+v", got)
	}
	rec := providers.Recipe{Method: "PUT", URL: "http://x/y", Headers: map[string]string{"Content-Type": "a/b"}, ExpiresAt: at}
	if got := RecipeFromProto(RecipeToProto(rec)); !reflect.DeepEqual(got, rec) {
		t.Errorf("recipe: %+v", got)
	}
	obj := providers.Object{Key: "k", Size: 9, ContentType: "t", ETag: "e", LastModified: at, Metadata: map[string]string{"m": "1"},
		Checksums: map[providers.ChecksumAlgorithm]string{providers.MD5: "x"}}
	if got := PageFromProto(PageToProto(providers.ListPage{Objects: []providers.Object{obj}, NextCursor: "c"})); !reflect.DeepEqual(got.Objects[0], obj) || got.NextCursor != "c" {
		t.Errorf("page: %+v", got)
	}
	sp := providers.SignPartsRequest{Key: "k", UploadID: "u", Parts: []providers.PartSpec{{Number: 1, Size: 5}, {Number: 2}}, TTL: time.Second}
	if got := SignPartsFromProto(SignPartsToProto(sp)); !reflect.DeepEqual(got, sp) {
		t.Errorf("sign parts: %+v", got)
	}
	cm := providers.CompleteMultipartRequest{Key: "k", UploadID: "u", Parts: []providers.CompletedPart{{Number: 1, ETag: "a"}}}
	if got := CompleteFromProto(CompleteToProto(cm)); !reflect.DeepEqual(got, cm) {
		t.Errorf("complete: %+v", got)
	}
	if got := (providers.Object{}); !reflect.DeepEqual(ObjectFromProto(ObjectToProto(got)), got) {
		t.Errorf("zero object does not round-trip")
	}
}

// wire sends m through its protobuf encoding, as the plugin hop does.
func wire[M proto.Message](t *testing.T, m M) M {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatalf("marshal %T: %v", m, err)
	}
	out := m.ProtoReflect().New().Interface().(M)
	if err := proto.Unmarshal(b, out); err != nil {
		t.Fatalf("unmarshal %T: %v", m, err)
	}
	return out
}

// TestChecksumFieldsRoundTrip covers the multipart checksum contract in
// both directions and over the wire: Capabilities.MultipartChecksums and
// the declared checksum of CreateMultipart and CompleteMultipart, set and
// unset.
func TestChecksumFieldsRoundTrip(t *testing.T) {
	sum := &providers.Checksum{Algorithm: providers.SHA256, Value: "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}
	for _, algs := range [][]providers.ChecksumAlgorithm{nil, {providers.SHA256}, {providers.SHA256, providers.CRC32C}} {
		info := providers.Info{Name: "x", Capabilities: providers.Capabilities{
			Multipart: true, BindsChecksums: []providers.ChecksumAlgorithm{providers.MD5}, MultipartChecksums: algs,
		}}
		got := InfoFromProto(wire(t, InfoToProto(info)))
		if !reflect.DeepEqual(got, info) {
			t.Errorf("info with MultipartChecksums %v: got %+v", algs, got.Capabilities)
		}
		if got.Capabilities.VerifiesMultipart(providers.SHA256) != info.Capabilities.VerifiesMultipart(providers.SHA256) {
			t.Errorf("VerifiesMultipart(sha256) changed over the wire for %v", algs)
		}
	}
	for _, c := range []*providers.Checksum{nil, sum} {
		cr := providers.CreateMultipartRequest{Key: "k", ContentType: "a/b", Size: 10, PartSize: 5, TTL: time.Minute, Checksum: c}
		if got := CreateFromProto(wire(t, CreateToProto(cr))); !reflect.DeepEqual(got, cr) {
			t.Errorf("create with checksum %v: got %+v", c, got)
		}
		cm := providers.CompleteMultipartRequest{Key: "k", UploadID: "u", Parts: []providers.CompletedPart{{Number: 1, ETag: "a"}}, Checksum: c}
		if got := CompleteFromProto(wire(t, CompleteToProto(cm))); !reflect.DeepEqual(got, cm) {
			t.Errorf("complete with checksum %v: got %+v", c, got)
		}
	}
	// The wire fields are the new, additive ones.
	if n := (&pb.Capabilities{}).ProtoReflect().Descriptor().Fields().ByName("multipart_checksums").Number(); n != 18 {
		t.Errorf("multipart_checksums is field %d, want 18", n)
	}
	if n := (&pb.CreateMultipartRequest{}).ProtoReflect().Descriptor().Fields().ByName("checksum").Number(); n != 7 {
		t.Errorf("CreateMultipartRequest.checksum is field %d, want 7", n)
	}
	if n := (&pb.CompleteMultipartRequest{}).ProtoReflect().Descriptor().Fields().ByName("checksum").Number(); n != 4 {
		t.Errorf("CompleteMultipartRequest.checksum is field %d, want 4", n)
	}
	// The object a complete returns keeps its reported digest.
	obj := providers.Object{Key: "k", Size: 0, Checksums: map[providers.ChecksumAlgorithm]string{providers.SHA256: sum.Value}}
	if got := ObjectFromProto(wire(t, ObjectToProto(obj))); !reflect.DeepEqual(got, obj) {
		t.Errorf("object: %+v", got)
	}
}

func TestNewCallsRoundTrip(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	info := providers.Info{Name: "x", Capabilities: providers.Capabilities{SignGet: true, Reader: true, SignGets: true, PostPolicy: true}}
	if got := InfoFromProto(wire(t, InfoToProto(info))); !reflect.DeepEqual(got, info) {
		t.Errorf("info: %+v", got)
	}
	rd := providers.ReadObjectRequest{Key: "a/b.m3u8", MaxBytes: 4 << 20}
	if got := ReadObjectFromProto(wire(t, ReadObjectToProto(rd))); got != rd {
		t.Errorf("read request: %+v", got)
	}
	res := providers.ReadObjectResult{Object: providers.Object{Key: "k", Size: 2, ContentType: "t", LastModified: at}, Data: []byte("ab")}
	if got := ReadResultFromProto(wire(t, ReadResultToProto(res))); !reflect.DeepEqual(got, res) {
		t.Errorf("read result: %+v", got)
	}
	empty := ReadResultFromProto(wire(t, ReadResultToProto(providers.ReadObjectResult{Data: []byte{}})))
	if empty.Data == nil || len(empty.Data) != 0 {
		t.Errorf("an empty object's data came back as %#v, want empty, not nil", empty.Data)
	}
	gets := providers.SignGetsRequest{Requests: []providers.GetRequest{{Key: "a", TTL: time.Minute, ResponseContentDisposition: "inline"}, {Key: "b", TTL: time.Hour}}}
	if got := SignGetsFromProto(wire(t, SignGetsToProto(gets))); !reflect.DeepEqual(got, gets) {
		t.Errorf("sign gets: %+v", got)
	}
	items := providers.SignGetsResult{Items: []providers.SignGetItem{
		{Recipe: providers.Recipe{Method: "GET", URL: "http://x/a", Headers: map[string]string{"h": "v"}, ExpiresAt: at}},
		{Err: &providers.Error{Code: providers.PermissionDenied, Message: "no"}},
	}}
	if got := SignGetsResultFromProto(wire(t, SignGetsResultToProto(items))); !reflect.DeepEqual(got, items) {
		t.Errorf("sign gets result: %+v", got)
	}
	pp := providers.PostPolicyRequest{Key: "k", ContentType: "image/png", MinSize: 1, MaxSize: 9, Metadata: map[string]string{"a": "b"}, TTL: time.Minute, ExpiresAt: at}
	if got := PostPolicyFromProto(wire(t, PostPolicyToProto(pp))); !reflect.DeepEqual(got, pp) {
		t.Errorf("post policy request: %+v", got)
	}
	pol := providers.PostPolicy{URL: "http://x/", Fields: map[string]string{"policy": "p"}, ExpiresAt: at}
	if got := PolicyFromProto(wire(t, PolicyToProto(pol))); !reflect.DeepEqual(got, pol) {
		t.Errorf("policy: %+v", got)
	}
}
