package local

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/valetgw/valet/providers"
	"github.com/valetgw/valet/providers/providertest"
)

// With cors_origins configured, the suite's CORS checks run: the rules
// GetCORS reports are what the listener answers by, and PutCORS says where
// to set them instead.
func TestConformanceWithCORSOrigins(t *testing.T) {
	p := NewWithClock(time.Now)
	cfg := testConfig(t)
	cfg["cors_origins"] = []string{"https://app.example"}
	raw := configure(t, p, cfg)
	providertest.Run(t, providertest.Harness{Provider: p, Config: raw, SecretKeys: []string{"secret"}, CORSOrigin: "https://app.example"})
}

func TestCORSFromConfig(t *testing.T) {
	p := NewWithClock(time.Now)
	cfg := testConfig(t)
	configure(t, p, cfg)
	if res, err := p.GetCORS(t.Context(), providers.GetCORSRequest{}); err != nil || res.Rules == nil || len(res.Rules) != 0 {
		t.Fatalf("GetCORS without cors_origins = %#v, %v; want no rules", res.Rules, err)
	}
	p2 := NewWithClock(time.Now)
	cfg = testConfig(t)
	cfg["cors_origins"] = []string{"https://a.example", "https://b.example:8443/"}
	configure(t, p2, cfg)
	res, err := p2.GetCORS(t.Context(), providers.GetCORSRequest{})
	if err != nil || len(res.Rules) != 1 {
		t.Fatalf("GetCORS = %+v, %v; want one rule", res.Rules, err)
	}
	if r := res.Rules[0]; !reflect.DeepEqual(r.AllowedOrigins, []string{"https://a.example", "https://b.example:8443"}) || r.MaxAgeSeconds != preflightMaxAge {
		t.Errorf("rule = %+v; want the configured origins (normalised) and max age %d", r, preflightMaxAge)
	}
	_, err = p2.PutCORS(t.Context(), providers.PutCORSRequest{Rules: res.Rules})
	if !errors.Is(err, providers.ErrUnimplemented) || !strings.Contains(err.Error(), "cors_origins") {
		t.Errorf("PutCORS = %v; want Unimplemented naming cors_origins", err)
	}
}
