package wire

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/valetgw/valet/providers"
)

// corsKeeper is a provider with CORSConfigurer that keeps the rules it is
// given.
type corsKeeper struct {
	recorder
	rules []providers.CORSRule
	puts  int
}

func (c *corsKeeper) Info(context.Context) (providers.Info, error) {
	return providers.Info{Name: "cors", Capabilities: providers.Capabilities{SignPut: true, SignGet: true, CORS: true}}, nil
}

func (c *corsKeeper) GetCORS(context.Context, providers.GetCORSRequest) (providers.CORSResult, error) {
	return providers.CORSResult{Rules: c.rules}, nil
}

func (c *corsKeeper) PutCORS(_ context.Context, req providers.PutCORSRequest) (providers.PutCORSResult, error) {
	c.puts++
	c.rules = req.Rules
	return providers.PutCORSResult{}, nil
}

func TestCORSThroughTheTable(t *testing.T) {
	c := &corsKeeper{}
	info, err := Info.ReadResult(serve(t, c, Info.NewRequest(struct{}{})))
	if err != nil || !info.Capabilities.CORS {
		t.Fatalf("Info of a CORSConfigurer = %+v, %v; want CORS announced", info.Capabilities, err)
	}
	rules := []providers.CORSRule{{AllowedOrigins: []string{"https://app.example"}, AllowedMethods: []string{"PUT", "GET"},
		AllowedHeaders: []string{"content-type"}, ExposeHeaders: []string{"ETag"}, MaxAgeSeconds: 600}}
	if _, err := PutCORS.ReadResult(serve(t, c, PutCORS.NewRequest(providers.PutCORSRequest{Rules: rules}))); err != nil {
		t.Fatalf("PutCORS: %v", err)
	}
	got, err := GetCORS.ReadResult(serve(t, c, GetCORS.NewRequest(providers.GetCORSRequest{})))
	if err != nil || !reflect.DeepEqual(got.Rules, rules) {
		t.Fatalf("GetCORS after PutCORS = %+v, %v; want %+v", got.Rules, err, rules)
	}
	// Malformed rules are refused before the provider sees them.
	for _, bad := range []providers.CORSRule{
		{AllowedMethods: []string{"GET"}},
		{AllowedOrigins: []string{"https://a.example"}},
		{AllowedOrigins: []string{"https://a.example, https://b.example"}, AllowedMethods: []string{"GET"}},
		{AllowedOrigins: []string{"https://a.example"}, AllowedMethods: []string{"GET"}, MaxAgeSeconds: -1},
	} {
		_, err := PutCORS.Serve(context.Background(), c, PutCORS.NewRequest(providers.PutCORSRequest{Rules: []providers.CORSRule{bad}}))
		if !errors.Is(err, providers.ErrInvalidArgument) || c.puts != 1 {
			t.Errorf("PutCORS(%+v) = %v (provider calls %d); want InvalidArgument before the provider", bad, err, c.puts)
		}
	}

	// A provider without the capability: not announced, and Unimplemented.
	p := &claimer{}
	info, err = Info.ReadResult(serve(t, &corsClaimer{*p}, Info.NewRequest(struct{}{})))
	if err != nil || info.Capabilities.CORS {
		t.Fatalf("Info of a provider claiming CORS without CORSConfigurer = %+v, %v; want CORS withdrawn", info.Capabilities, err)
	}
	if _, err := GetCORS.Serve(context.Background(), p, GetCORS.NewRequest(providers.GetCORSRequest{})); !errors.Is(err, providers.ErrUnimplemented) {
		t.Errorf("GetCORS: %v, want Unimplemented", err)
	}
	if _, err := PutCORS.Serve(context.Background(), p, PutCORS.NewRequest(providers.PutCORSRequest{})); !errors.Is(err, providers.ErrUnimplemented) {
		t.Errorf("PutCORS: %v, want Unimplemented", err)
	}
}

// corsClaimer claims CORS in Info without implementing it.
type corsClaimer struct{ claimer }

func (c *corsClaimer) Info(ctx context.Context) (providers.Info, error) {
	info, err := c.claimer.Info(ctx)
	info.Capabilities.CORS = true
	return info, err
}
