package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/valetgw/valet/providers"
)

func TestCORSSatisfies(t *testing.T) {
	need := providers.CORSRule{AllowedOrigins: []string{"https://a.example", "https://b.example"}, AllowedMethods: []string{"GET", "PUT"},
		AllowedHeaders: []string{"content-type", "x-amz-meta-*", "x-amz-checksum-sha256"}, ExposeHeaders: []string{"ETag"}, MaxAgeSeconds: 3600}
	both := providers.CORSRule{AllowedOrigins: []string{"https://a.example", "https://b.example"}, AllowedMethods: []string{"PUT", "GET", "HEAD"},
		AllowedHeaders: []string{"Content-Type", "x-amz-meta-*", "x-amz-checksum-sha256"}, ExposeHeaders: []string{"etag"}}
	for _, tc := range []struct {
		name  string
		rules []providers.CORSRule
		want  bool
	}{
		{"none", nil, false},
		{"one rule for both, any case", []providers.CORSRule{both}, true},
		{"any origin, any header", []providers.CORSRule{{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"GET", "PUT"}, AllowedHeaders: []string{"*"}, ExposeHeaders: []string{"ETag"}}}, true},
		{"a wildcard header covers its prefix only", []providers.CORSRule{{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"GET", "PUT"}, AllowedHeaders: []string{"x-amz-*", "content-type"}, ExposeHeaders: []string{"ETag"}}}, true},
		{"one origin missing", []providers.CORSRule{{AllowedOrigins: []string{"https://a.example"}, AllowedMethods: both.AllowedMethods, AllowedHeaders: both.AllowedHeaders, ExposeHeaders: both.ExposeHeaders}}, false},
		{"a header missing", []providers.CORSRule{{AllowedOrigins: both.AllowedOrigins, AllowedMethods: both.AllowedMethods, AllowedHeaders: []string{"content-type"}, ExposeHeaders: both.ExposeHeaders}}, false},
		{"ETag not exposed", []providers.CORSRule{{AllowedOrigins: both.AllowedOrigins, AllowedMethods: both.AllowedMethods, AllowedHeaders: both.AllowedHeaders}}, false},
		{"methods compare exactly", []providers.CORSRule{{AllowedOrigins: both.AllowedOrigins, AllowedMethods: []string{"get", "put"}, AllowedHeaders: both.AllowedHeaders, ExposeHeaders: both.ExposeHeaders}}, false},
	} {
		if got := satisfies(tc.rules, need); got != tc.want {
			t.Errorf("%s: satisfies = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestCORSPlanKeepsOtherOrigins(t *testing.T) {
	other := providers.CORSRule{AllowedOrigins: []string{"https://other.example"}, AllowedMethods: []string{"GET"}}
	stale := providers.CORSRule{AllowedOrigins: []string{"https://a.example"}, AllowedMethods: []string{"GET"}}
	need := providers.CORSRule{AllowedOrigins: []string{"https://a.example"}, AllowedMethods: []string{"GET", "PUT"}}
	plan := planRules([]providers.CORSRule{other, stale}, need)
	if len(plan) != 2 || !sameCORSRule(plan[0], other) || !sameCORSRule(plan[1], need) {
		t.Fatalf("plan = %+v; want the other origin's rule kept and the stale one replaced by the needed one", plan)
	}
	if !sameCORSRule(providers.CORSRule{AllowedOrigins: []string{"b", "a"}, AllowedMethods: []string{"GET"}, AllowedHeaders: []string{"X-A"}},
		providers.CORSRule{AllowedOrigins: []string{"a", "b"}, AllowedMethods: []string{"GET"}, AllowedHeaders: []string{"x-a"}}) {
		t.Error("sameCORSRule is order- and header-case-sensitive")
	}
}

func TestCORSWidenMeta(t *testing.T) {
	names := []string{"content-type", "x-amz-meta-" + corsMetaProbe}
	d := &storeDoctor{info: providers.Info{Name: "s3"}}
	if got, note := d.widenMeta(names); strings.Join(got, ",") != "content-type,x-amz-meta-*" || note != "" {
		t.Errorf("s3: %v, %q; want the metadata header widened to x-amz-meta-*", got, note)
	}
	d.info.Name = "gcs"
	if got, note := d.widenMeta([]string{"content-type", "x-goog-meta-" + corsMetaProbe}); strings.Join(got, ",") != "content-type" || !strings.Contains(note, "x-goog-meta-NAME") {
		t.Errorf("gcs: %v, %q; want the metadata header left out, with a note", got, note)
	}
}

func TestCORSReportText(t *testing.T) {
	need := corsRule{AllowedOrigins: []string{"https://a.example"}, AllowedMethods: []string{"GET", "PUT"}, AllowedHeaders: []string{"content-type"}, ExposeHeaders: []string{"ETag"}, MaxAgeSeconds: 3600}
	rep := &corsReport{Store: "media", Provider: "s3", Origins: need.AllowedOrigins, OriginsFrom: "server.cors_origins", Needed: need,
		Current: []corsRule{}, Plan: []corsRule{need}, Add: []corsRule{need}, Apply: true}
	var b bytes.Buffer
	if err := printCORS(&b, rep, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"store media (s3)", "current: 0 rule(s)", "✘ the current rules do not allow", "dry run: nothing changed; run with --yes", "+ allow origins https://a.example, methods GET, PUT, request headers content-type; expose ETag; max age 3600 s"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	rep.Current, rep.CurrentError, rep.Error = nil, "MinIO has no bucket CORS", "s3 PutBucketCors: NotImplemented (HTTP 501)"
	if err := printCORS(&b, rep, true); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || back["current"] != nil || back["error"] == "" || back["needed"] == nil {
		t.Errorf("JSON report = %s (%v); want current null, the error and the needed rule", b.String(), err)
	}
}
