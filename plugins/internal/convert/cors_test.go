package convert

import (
	"reflect"
	"testing"

	"github.com/valetgw/valet/providers"
)

func TestCORSRoundTrip(t *testing.T) {
	info := providers.Info{Name: "x", Capabilities: providers.Capabilities{SignGet: true, CORS: true}}
	if got := InfoFromProto(wire(t, InfoToProto(info))); !reflect.DeepEqual(got, info) {
		t.Errorf("info: %+v", got)
	}
	rules := []providers.CORSRule{
		{AllowedOrigins: []string{"https://app.example", "https://b.example"}, AllowedMethods: []string{"GET", "PUT"},
			AllowedHeaders: []string{"content-type", "x-amz-checksum-sha256"}, ExposeHeaders: []string{"ETag"}, MaxAgeSeconds: 3600},
		{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"GET"}}, // no headers: nil both ways
	}
	if got := PutCORSFromProto(wire(t, PutCORSToProto(providers.PutCORSRequest{Rules: rules}))); !reflect.DeepEqual(got.Rules, rules) {
		t.Errorf("put cors: %+v", got)
	}
	if got := CORSResultFromProto(wire(t, CORSResultToProto(providers.CORSResult{Rules: rules}))); !reflect.DeepEqual(got.Rules, rules) {
		t.Errorf("cors result: %+v", got)
	}
	if got := CORSResultFromProto(wire(t, CORSResultToProto(providers.CORSResult{}))); got.Rules == nil || len(got.Rules) != 0 {
		t.Errorf("no rules: %#v, want an empty, non-nil Rules", got.Rules)
	}
}
