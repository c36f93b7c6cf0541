package hooks

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestAppendPayloadMatchesEncodingJSON: the hand-written encoder writes what
// encoding/json writes for payload (same members, order and omissions; the
// same bytes where no character needs HTML escaping), and valid JSON for
// any input, invalid UTF-8 included.
func TestAppendPayloadMatchesEncodingJSON(t *testing.T) {
	size, zero := int64(5), int64(0)
	for _, p := range []payload{
		{Type: Ping, Timestamp: "2026-12-02T03:04:05.123456789Z", Data: Data{Store: "media"}},
		{Type: UploadComplete, Timestamp: "2026-12-02T03:04:05Z", Data: Data{
			Store: "media", Key: "users/u/a b\"c\\d\n\te.bin", Size: &size, ContentType: "video/mp4",
			ETag: `"5d41402abc4b2a76b9719d911017c592"`, ChecksumSHA256: "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=",
			Metadata: map[string]string{"z": "last", "a": "first", "m": "ünïcødé \u0001"}, Subject: "alice", UploadID: "u.1",
		}},
		{Type: UploadCreate, Timestamp: "t", Data: Data{Store: "s", Size: &zero, Metadata: map[string]string{}}},
		{Type: ObjectDelete, Timestamp: "t", Data: Data{Store: "s", Key: "k", Subject: "\x00\x1f\x7f"}},
	} {
		want, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		got := appendPayload(nil, p)
		if string(got) != string(want) {
			t.Errorf("appendPayload:\n got %s\nwant %s", got, want)
		}
	}

	// Characters encoding/json escapes for HTML and invalid UTF-8: the JSON
	// differs in spelling only.
	p := payload{Type: UploadComplete, Timestamp: "t", Data: Data{Store: "s", Key: "<a>&\u2028", ContentType: "bad \xff utf-8",
		Metadata: map[string]string{"\xfe": "\xc3"}}}
	want, _ := json.Marshal(p)
	var a, b any
	if err := json.Unmarshal(appendPayload(nil, p), &a); err != nil {
		t.Fatalf("appendPayload wrote invalid JSON: %v: %s", err, appendPayload(nil, p))
	}
	if err := json.Unmarshal(want, &b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("appendPayload decodes to %v, encoding/json's to %v", a, b)
	}
}
