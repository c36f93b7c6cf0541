package convert

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/valetgw/valet/providers"
)

func TestErrorRoundTrip(t *testing.T) {
	for _, code := range []providers.Code{providers.NotFound, providers.InvalidArgument, providers.PermissionDenied,
		providers.AlreadyExists, providers.FailedPrecondition, providers.Unavailable, providers.Unimplemented, providers.Internal} {
		err, transport := FromStatus(ToStatus(providers.Errorf(code, "config.bucket: %s", "required")))
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
	if err, _ := FromStatus(ToStatus(errors.New("boom"))); providers.CodeOf(err) != providers.Internal {
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
