package core

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
)

// Every code the handlers answer with is in the catalog, every catalogued
// code is used, and /openapi.json lists exactly the catalog.
func TestErrorCatalog(t *testing.T) {
	used := map[string]bool{}
	re := regexp.MustCompile(`apiErrorf?\("([a-z_]+)"`)
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if f == "errors.go" || filepath.Ext(f) != ".go" || len(f) > 8 && f[len(f)-8:] == "_test.go" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = true
		}
	}
	for code := range used {
		if _, ok := errorCodes[code]; !ok {
			t.Errorf("code %q is used but not in the catalog", code)
		}
	}
	for code, c := range errorCodes {
		if !used[code] {
			t.Errorf("catalogued code %q is never used", code)
		}
		if c.status < 400 || c.about == "" {
			t.Errorf("code %q: status %d, sentence %q", code, c.status, c.about)
		}
	}
	var doc struct {
		Components struct {
			Schemas struct {
				Problem struct {
					Properties struct {
						Code struct {
							Enum []string `json:"enum"`
						} `json:"code"`
					} `json:"properties"`
				} `json:"Problem"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	if got := doc.Components.Schemas.Problem.Properties.Code.Enum; !slices.Equal(got, errorCodeNames()) {
		t.Errorf("openapi code enum = %v, want the catalog %v", got, errorCodeNames())
	}
}
