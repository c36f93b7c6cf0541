package hooks

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
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

// TestAppendQuoteIsJSONText: the ASCII fast path writes what
// jsontext.AppendQuote writes, for every byte alone and for strings that
// mix plain runs with characters that need escaping.
func TestAppendQuoteIsJSONText(t *testing.T) {
	var cases []string
	for c := range 256 {
		cases = append(cases, string([]byte{byte(c)}), "plain"+string([]byte{byte(c)})+"tail")
	}
	cases = append(cases, "", "users/u/0b6f5a58/a b.bin", `"quoted"`, `back\slash`, "ünï", "\u2028", "<a>&", "bad \xff utf-8")
	for _, s := range cases {
		want, _ := jsontext.AppendQuote(nil, s)
		if got := appendQuote(nil, s); string(got) != string(want) {
			t.Errorf("appendQuote(%q) = %s, jsontext writes %s", s, got, want)
		}
	}
}

// TestCompactJSON: an answer is compacted as json.Compact does, one
// without white space is kept as it is, and anything that is not JSON is
// refused either way.
func TestCompactJSON(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{`{"media_id":"m1"}`, `{"media_id":"m1"}`, true},
		{"{ \"media_id\" : \"m 1\",\n\t\"n\": [1, 2] }\r\n", `{"media_id":"m 1","n":[1,2]}`, true},
		{`"a b"`, `"a b"`, true},
		{`null`, `null`, true},
		{`{"a":1`, "", false},
		{`{"a": 1`, "", false},
		{`nope`, "", false},
		{"\xef\xbb\xbf{}", "", false},
	} {
		got, ok := compactJSON([]byte(c.in))
		if ok != c.ok || (ok && string(got) != c.want) {
			t.Errorf("compactJSON(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}
