package providertest

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/valetgw/valet/providers"
)

// The CORSConfigurer checks, run when Capabilities.CORS is claimed: rules
// put are read back, and the backend answers by them, a preflight from the
// rule's origin allowed and one from another origin refused, ETag exposed
// on a real response. The rules the bucket had are kept while the test
// runs (its rule is added to them) and put back after it.

// corsApplyWait bounds how long the suite waits for a backend to answer by
// rules just put (real Azure takes up to 30 s; emulators none).
const corsApplyWait = 2 * time.Minute

func (s *suite) testCORSRules(t *testing.T) {
	if !s.caps.CORS {
		t.Skip("not claimed: CORS")
	}
	cc, ok := s.p.(providers.CORSConfigurer)
	if !ok {
		t.Fatalf("provider claims CORS but does not implement providers.CORSConfigurer")
	}
	key := s.key(t, "cors-rules.txt")
	s.cleanup(t, key)
	body := []byte("uploaded under rules the provider put")
	put := s.signPut(t, key, body, putOpts{contentType: "text/plain", metadata: map[string]string{"purpose": "cors-rules"}})
	headers := requestHeaders(put)
	origin := "https://cors-" + randomID() + ".providertest.example"
	rule := providers.CORSRule{
		AllowedOrigins: []string{origin},
		AllowedMethods: []string{http.MethodGet, http.MethodHead, http.MethodPut},
		AllowedHeaders: headers,
		ExposeHeaders:  []string{"ETag"},
		MaxAgeSeconds:  600,
	}

	before, err := cc.GetCORS(t.Context(), providers.GetCORSRequest{})
	if errors.Is(err, providers.ErrUnimplemented) {
		// A backend that cannot tell its rules cannot take them either.
		_, perr := cc.PutCORS(t.Context(), providers.PutCORSRequest{Rules: []providers.CORSRule{rule}})
		if !errors.Is(perr, providers.ErrUnimplemented) || providers.AsError(perr).Message == "" {
			t.Fatalf("GetCORS is Unimplemented (%v) but PutCORS answered %v; want Unimplemented saying what to set instead", err, perr)
		}
		t.Logf("GetCORS and PutCORS Unimplemented: %v", perr)
		return
	}
	if err != nil {
		t.Fatalf("GetCORS: %s", errText(err))
	}
	if _, err := cc.PutCORS(t.Context(), providers.PutCORSRequest{Rules: []providers.CORSRule{{AllowedMethods: []string{"GET"}}}}); !errors.Is(err, providers.ErrInvalidArgument) {
		t.Errorf("PutCORS of a rule without an origin: %v (code %s), want InvalidArgument", err, providers.CodeOf(err))
	}

	_, err = cc.PutCORS(t.Context(), providers.PutCORSRequest{Rules: append(slices.Clone(before.Rules), rule)})
	switch {
	case errors.Is(err, providers.ErrUnimplemented):
		// The rules are set elsewhere (the store's config): what GetCORS
		// says must be what the backend does.
		if providers.AsError(err).Message == "" {
			t.Errorf("PutCORS is Unimplemented without saying what to set instead")
		}
		after, gerr := cc.GetCORS(t.Context(), providers.GetCORSRequest{})
		if gerr != nil || !slices.EqualFunc(after.Rules, before.Rules, sameRule) {
			t.Fatalf("after an Unimplemented PutCORS, GetCORS = %+v, %v; want the rules unchanged, %+v", after.Rules, gerr, before.Rules)
		}
		origin = ""
		for _, r := range before.Rules {
			if i := slices.IndexFunc(r.AllowedOrigins, func(o string) bool { return o != "*" }); i >= 0 && slices.Contains(r.AllowedMethods, http.MethodPut) {
				origin = r.AllowedOrigins[i]
				break
			}
		}
		if origin == "" {
			t.Skipf("PutCORS is Unimplemented (%v) and GetCORS names no origin allowed to PUT: nothing to check against the backend", err)
		}
	case err != nil:
		t.Fatalf("PutCORS: %s", errText(err))
	default:
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if _, err := cc.PutCORS(ctx, providers.PutCORSRequest{Rules: before.Rules}); err != nil {
				t.Logf("cleanup: putting the bucket's %d CORS rule(s) back: %v", len(before.Rules), err)
			}
		})
		got, err := cc.GetCORS(t.Context(), providers.GetCORSRequest{})
		if err != nil {
			t.Fatalf("GetCORS after PutCORS: %s", errText(err))
		}
		if !slices.ContainsFunc(got.Rules, func(r providers.CORSRule) bool { return covers(r, rule) }) {
			t.Fatalf("GetCORS after PutCORS = %+v; no rule allows what was put, %+v", got.Rules, rule)
		}
		for _, r := range before.Rules {
			if !slices.ContainsFunc(got.Rules, func(g providers.CORSRule) bool { return covers(g, r) }) {
				t.Errorf("GetCORS after PutCORS lost the rule %+v that was put again", r)
			}
		}
	}

	// The backend answers by the rules: a browser's preflight, then the
	// request itself, from the allowed origin.
	deadline := time.Now().Add(corsApplyWait)
	for {
		res := s.preflight(t, put.URL, origin, put.Method, headers)
		if ok2xx(res.StatusCode) && res.Header.Get("Access-Control-Allow-Origin") != "" {
			checkPreflightAnswer(t, res, origin, put.Method, headers)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("preflight of the signed PUT from %s with headers %v: status %d, Access-Control-Allow-Origin %q, %v after the rule was put; want it allowed",
				origin, headers, res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"), corsApplyWait)
		}
		time.Sleep(time.Second)
	}
	if !slices.ContainsFunc(before.Rules, func(r providers.CORSRule) bool { return slices.Contains(r.AllowedOrigins, "*") }) {
		other := "https://other-" + randomID() + ".providertest.example"
		res := s.preflight(t, put.URL, other, put.Method, headers)
		if got := res.Header.Get("Access-Control-Allow-Origin"); ok2xx(res.StatusCode) && (got == other || got == "*") {
			t.Errorf("preflight from %s, which no rule allows: status %d, Access-Control-Allow-Origin %q; want it refused", other, res.StatusCode, got)
		}
	}
	res := s.send(t, put, body, map[string]string{"Origin": origin})
	if !ok2xx(res.Status) {
		t.Fatalf("signed PUT with Origin %s: status %d, want 2xx; body: %s", origin, res.Status, res.Snippet())
	}
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != origin && got != "*" {
		t.Errorf("signed PUT from %s: Access-Control-Allow-Origin = %q: the browser would hide the answer", origin, got)
	}
	if got := strings.Join(res.Header.Values("Access-Control-Expose-Headers"), ","); !listHas(got, "ETag") {
		t.Errorf("signed PUT from %s: Access-Control-Expose-Headers = %q, want ETag among them", origin, got)
	}
}

// checkPreflightAnswer asserts that an allowed preflight answer lets the
// request through: the origin, the method (or none listed, for a simple
// one) and every request header.
func checkPreflightAnswer(t *testing.T, res *http.Response, origin, method string, headers []string) {
	t.Helper()
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != origin && got != "*" {
		t.Errorf("preflight from %s: Access-Control-Allow-Origin = %q", origin, got)
	}
	if got := strings.Join(res.Header.Values("Access-Control-Allow-Methods"), ","); !listHas(got, method) {
		t.Errorf("preflight from %s: Access-Control-Allow-Methods = %q, does not allow %s", origin, got, method)
	}
	allowed := strings.Join(res.Header.Values("Access-Control-Allow-Headers"), ",")
	for _, h := range headers {
		if !listHas(allowed, h) {
			t.Errorf("preflight from %s: Access-Control-Allow-Headers = %q, does not allow %s", origin, allowed, h)
		}
	}
}

// covers reports whether rule g allows at least what w does: its origins,
// methods, request headers and exposed headers (header names in any case;
// a backend may keep one list for both, as GCS does), and w's max age.
func covers(g, w providers.CORSRule) bool {
	has := func(list []string, fold bool) func(string) bool {
		return func(v string) bool {
			return slices.ContainsFunc(list, func(a string) bool { return a == v || fold && strings.EqualFold(a, v) })
		}
	}
	all := func(want, list []string, fold bool) bool {
		for _, v := range want {
			if !has(list, fold)(v) {
				return false
			}
		}
		return true
	}
	return all(w.AllowedOrigins, g.AllowedOrigins, false) && all(w.AllowedMethods, g.AllowedMethods, false) &&
		all(w.AllowedHeaders, g.AllowedHeaders, true) && all(w.ExposeHeaders, g.ExposeHeaders, true) &&
		g.MaxAgeSeconds == w.MaxAgeSeconds
}

func sameRule(a, b providers.CORSRule) bool { return covers(a, b) && covers(b, a) }
