package main

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPreflightHeadersAreWhatABrowserAsks(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers map[string]string
		want    []string
	}{
		{"s3 single PUT", map[string]string{"Content-Type": "image/png", "Content-Length": "12", "If-None-Match": "*", "x-amz-checksum-sha256": "abc="},
			[]string{"content-type", "if-none-match", "x-amz-checksum-sha256"}},
		{"azure single PUT", map[string]string{"x-ms-blob-type": "BlockBlob", "x-ms-blob-content-type": "video/mp4"},
			[]string{"x-ms-blob-content-type", "x-ms-blob-type"}},
		{"safelisted content type", map[string]string{"Content-Type": "text/plain; charset=utf-8", "Host": "x"}, nil},
		{"form content type", map[string]string{"content-type": "multipart/form-data; boundary=x"}, nil},
		{"bad content type needs a preflight", map[string]string{"Content-Type": "text/plain;;"}, []string{"content-type"}},
		{"nothing", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := preflightHeaders(tc.headers); !slices.Equal(got, tc.want) {
				t.Fatalf("preflightHeaders(%v) = %q, want %q", tc.headers, got, tc.want)
			}
		})
	}
}

func TestPreflightProblem(t *testing.T) {
	const origin = "https://app.example"
	answer := func(status int, kv ...string) sentRequest {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return sentRequest{status: status, header: h}
	}
	asked := []string{"content-type", "x-amz-checksum-sha256"}
	for _, tc := range []struct {
		name string
		s    sentRequest
		want string // "" = allowed; else a part of the problem
	}{
		{"allowed", answer(200, "Access-Control-Allow-Origin", origin, "Access-Control-Allow-Methods", "GET, PUT",
			"Access-Control-Allow-Headers", "Content-Type, X-Amz-Checksum-Sha256"), ""},
		{"wildcards", answer(204, "Access-Control-Allow-Origin", "*", "Access-Control-Allow-Methods", "*", "Access-Control-Allow-Headers", "*"), ""},
		{"refused", sentRequest{status: 403, code: "AccessForbidden", header: http.Header{}}, "403 AccessForbidden"},
		{"other origin", answer(200, "Access-Control-Allow-Origin", "https://other.example"), `"https://other.example"`},
		{"no origin", answer(200), "no Access-Control-Allow-Origin"},
		{"method missing", answer(200, "Access-Control-Allow-Origin", origin, "Access-Control-Allow-Methods", "GET, put",
			"Access-Control-Allow-Headers", "*"), "does not list PUT"},
		{"header missing", answer(200, "Access-Control-Allow-Origin", origin, "Access-Control-Allow-Methods", "PUT",
			"Access-Control-Allow-Headers", "content-type"), "lacks x-amz-checksum-sha256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := preflightProblem(tc.s, origin, http.MethodPut, asked)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Fatalf("preflightProblem = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestExposesETag(t *testing.T) {
	for v, want := range map[string]bool{"ETag, Content-Length": true, "content-length,etag": true, "*": true, "Content-Length": false, "": false} {
		h := http.Header{}
		if v != "" {
			h.Set("Access-Control-Expose-Headers", v)
		}
		if got := exposesETag(h); got != want {
			t.Errorf("exposesETag(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestClockSkew(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 200e6, time.UTC)
	end := start.Add(600 * time.Millisecond)
	for _, tc := range []struct {
		date time.Time
		want time.Duration
	}{
		{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), 0},
		{time.Date(2026, 1, 2, 4, 4, 5, 0, time.UTC), time.Hour},
		{time.Date(2026, 1, 2, 2, 44, 5, 0, time.UTC), -20 * time.Minute},
	} {
		if got := clockSkew(tc.date, start, end); got != tc.want {
			t.Errorf("clockSkew(%s) = %s, want %s", tc.date.Format(time.TimeOnly), got, tc.want)
		}
	}
	if got := describeSkew(-90 * time.Second); got != "1m30s behind" {
		t.Errorf("describeSkew = %q", got)
	}
}

func TestStorageErrorCodeKeepsOnlyTheCode(t *testing.T) {
	for body, want := range map[string]string{
		`<?xml version="1.0"?><Error><Code>SignatureDoesNotMatch</Code><StringToSign>AWS4-HMAC-SHA256 secret-ish</StringToSign><SignatureProvided>abc</SignatureProvided></Error>`: "SignatureDoesNotMatch",
		`{"code":"CORSOriginNotAllowed","message":"origin x"}`:  "CORSOriginNotAllowed",
		`{"error":{"code":403,"status":"PERMISSION_DENIED"}}`:   "PERMISSION_DENIED",
		`<Error><Code>not a code: it has spaces</Code></Error>`: "",
		`plain text`: "",
		``:           "",
	} {
		if got := storageErrorCode([]byte(body)); got != want {
			t.Errorf("storageErrorCode(%.40q) = %q, want %q", body, got, want)
		}
	}
}

func TestRedactURLDropsTheSignature(t *testing.T) {
	got := redactURL("https://user:pw@s3.example.com/bucket/a%20b?X-Amz-Signature=deadbeef&X-Amz-Credential=AKIA#frag")
	if got != "https://s3.example.com/bucket/a%20b" {
		t.Fatalf("redactURL = %q", got)
	}
}

func TestDoctorReportText(t *testing.T) {
	rep := &doctorReport{
		Config: checkResult{Check: "config", Status: checkOK, Found: "valet.yaml: valid"},
		Stores: []storeReport{{Store: "media", Provider: "s3", Checks: []checkResult{
			{Check: "plugin", Status: checkOK, Found: "started"},
			{Check: "clock", Status: checkFailed, Found: "an hour\nahead", Fix: "use NTP"},
			{Check: "cors", Status: checkSkipped, Found: "no origin"},
		}}},
	}
	var b strings.Builder
	if err := writeDoctorText(&b, rep); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"✔ config", "store media (s3)", "✔ plugin", "✘ clock", "an hour ahead", "fix: use NTP", "- cors", "skipped: no origin", "1 check(s) failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
	if rep.failures() != 1 {
		t.Errorf("failures = %d, want 1", rep.failures())
	}
}

// A single PUT whose recipe sets no Content-Type (Azure's) still goes out
// with the File body's type, so doctor preflights content-type as a
// browser would.
func TestPreflightAddsTheBodyType(t *testing.T) {
	azure := map[string]string{"x-ms-blob-type": "BlockBlob", "x-ms-blob-content-type": "video/mp4"}
	if got, want := preflightHeaders(withBodyType(azure)), []string{"content-type", "x-ms-blob-content-type", "x-ms-blob-type"}; !slices.Equal(got, want) {
		t.Fatalf("azure PUT preflight %q, want %q", got, want)
	}
	if len(azure) != 2 {
		t.Fatalf("withBodyType changed the recipe's headers: %v", azure)
	}
	s3 := map[string]string{"Content-Type": "text/plain"}
	if got := preflightHeaders(withBodyType(s3)); got != nil {
		t.Fatalf("a recipe's own safelisted Content-Type is kept: %q", got)
	}
}
