package core

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valetgw/valet/config"
	"github.com/valetgw/valet/core/auth"
	"github.com/valetgw/valet/internal/testenv"
	"github.com/valetgw/valet/providers"
	"github.com/valetgw/valet/providers/memprovider"
)

// countingProvider is the in-memory provider with its signing and lookup
// calls counted, and the GET requests of each SignGets call recorded. An
// item for refuseKey is refused with PermissionDenied, as a backend may
// refuse one key of a batch.
type countingProvider struct {
	*memprovider.Provider
	mu             sync.Mutex
	signGet, heads int
	batches        [][]providers.GetRequest
	refuseKey      string
	shortAnswer    bool
}

func (c *countingProvider) SignGet(ctx context.Context, req providers.GetRequest) (providers.Recipe, error) {
	c.mu.Lock()
	c.signGet++
	c.mu.Unlock()
	return c.Provider.SignGet(ctx, req)
}

func (c *countingProvider) SignGets(ctx context.Context, req providers.SignGetsRequest) (providers.SignGetsResult, error) {
	c.mu.Lock()
	c.batches = append(c.batches, req.Requests)
	c.mu.Unlock()
	res, err := c.Provider.SignGets(ctx, req)
	for i, r := range req.Requests {
		if err == nil && r.Key == c.refuseKey {
			res.Items[i] = providers.SignGetItem{Err: &providers.Error{Code: providers.PermissionDenied, Message: "refused"}}
		}
	}
	if c.shortAnswer && len(res.Items) > 0 {
		res.Items = res.Items[1:]
	}
	return res, err
}

func (c *countingProvider) Head(ctx context.Context, req providers.HeadRequest) (providers.Object, error) {
	c.mu.Lock()
	c.heads++
	c.mu.Unlock()
	return c.Provider.Head(ctx, req)
}

func (c *countingProvider) counts() (signGet, heads, batches int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.signGet, c.heads, len(c.batches)
}

// batchHarness is a harness whose provider counts its calls, with the
// store's limits.max_batch set when maxBatch > 0.
func batchHarness(t *testing.T, maxBatch int) (*harness, *countingProvider) {
	t.Helper()
	h := &harness{t: t, fake: newFake(t), cfg: testConfig(t, ""), logs: &testenv.Buffer{}}
	if maxBatch > 0 {
		sc := h.cfg.Stores["media"]
		sc.Limits.MaxBatch = maxBatch
		h.cfg.Stores["media"] = sc
	}
	cp := &countingProvider{Provider: h.fake}
	return h.start(cp), cp
}

// The batch answers every key in order with its URL or its own error, in
// one provider call for the signing: a key the read rule denies is its
// item's 403, an invalid key its 400, a missing object with check_exists
// its 404, and a key the provider refuses its own error; the URLs fetch
// the right bytes.
func TestSignGetsPerKey(t *testing.T) {
	h, cp := batchHarness(t, 0)
	tok := h.token("alice", nil)
	now := time.Now()
	want := map[string][]byte{}
	var keys []string
	for i := range 5 {
		k := fmt.Sprintf("users/alice/clips/%d.mp4", i)
		want[k] = []byte(fmt.Sprintf("clip %d", i))
		h.fake.PutObject(k, want[k], "video/mp4", now)
		keys = append(keys, k)
	}
	h.fake.PutObject("users/bob/secret.mp4", []byte("bob's"), "video/mp4", now)
	cp.refuseKey = "users/alice/clips/4.mp4"
	asked := append(append([]string{}, keys...), "users/bob/secret.mp4", "users/alice/missing.mp4", "users/alice/../bob/secret.mp4", keys[0])

	for _, check := range []bool{false, true} {
		t.Run(fmt.Sprintf("check_exists=%v", check), func(t *testing.T) {
			sg0, heads0, b0 := cp.counts()
			r := h.do("POST", "/v1/stores/media/objects/sign", tok, map[string]any{"keys": asked, "ttl": "10m", "check_exists": check})
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			var out struct {
				Items []struct {
					Key, URL, Method string
					ExpiresAt        time.Time `json:"expires_at"`
					Error            *struct {
						Code   string
						Status int
					}
				}
			}
			if err := jsonUnmarshal(r.body, &out); err != nil {
				t.Fatal(err)
			}
			if len(out.Items) != len(asked) {
				t.Fatalf("%d items for %d keys", len(out.Items), len(asked))
			}
			wantErr := map[int]string{4: "provider_denied", 5: "policy_denied", 7: "invalid_key"}
			if check {
				wantErr[6] = "object_not_found"
			}
			for i, it := range out.Items {
				if it.Key != asked[i] {
					t.Errorf("item %d is %q, want %q", i, it.Key, asked[i])
				}
				code, refused := wantErr[i]
				switch {
				case refused && (it.Error == nil || it.Error.Code != code || it.URL != ""):
					t.Errorf("item %d (%s): %+v, want only the error %s", i, it.Key, it, code)
				case refused:
				case it.Error != nil || it.Method != "GET":
					t.Errorf("item %d (%s): %+v, want a signed GET", i, it.Key, it)
				case i == 6: // missing, not checked: the storage server says so
					if status, _ := get(t, it.URL); status != 404 {
						t.Errorf("GET of the missing object: %d", status)
					}
				default:
					if status, body := get(t, it.URL); status != 200 || !bytes.Equal(body, want[it.Key]) {
						t.Errorf("GET %s: %d %q, want %q", it.Key, status, body, want[it.Key])
					}
					if d := time.Until(it.ExpiresAt); d < 9*time.Minute || d > 11*time.Minute {
						t.Errorf("item %d expires in %s, want about 10m", i, d)
					}
				}
			}
			sg, heads, b := cp.counts()
			if b-b0 != 1 || sg != sg0 {
				t.Errorf("%d SignGets calls and %d SignGet calls for one batch, want 1 and 0", b-b0, sg-sg0)
			}
			// Heads only for the keys that passed the rule: the 5 clips,
			// the missing one and the repeated clip.
			wantHeads := 0
			if check {
				wantHeads = 7
			}
			if heads-heads0 != wantHeads {
				t.Errorf("%d Heads, want %d", heads-heads0, wantHeads)
			}
		})
	}
	// Refused keys never reach the provider.
	cp.mu.Lock()
	last := cp.batches[len(cp.batches)-1]
	cp.mu.Unlock()
	for _, gr := range last {
		if strings.Contains(gr.Key, "bob") || strings.Contains(gr.Key, "missing") {
			t.Errorf("the provider was asked to sign %q", gr.Key)
		}
	}
	for _, leak := range []string{"sig="} {
		if strings.Contains(h.logs.String(), leak) {
			t.Errorf("the log holds %q", leak)
		}
	}
}

// What concerns every key fails the batch: no keys, more than max_batch,
// a bad ttl or disposition, and a failed provider call (503 for a
// provider that is down, provider_error for a wrong count of items).
func TestSignGetsWholeBatch(t *testing.T) {
	h, cp := batchHarness(t, 3)
	tok := h.token("alice", nil)
	k := "users/alice/a.mp4"
	for _, tc := range []struct {
		body   map[string]any
		status int
		code   string
	}{
		{map[string]any{"keys": []string{}}, 400, "invalid_batch"},
		{map[string]any{"keys": []string{k, k, k, k}}, 400, "invalid_batch"},
		{map[string]any{"keys": []string{k}, "ttl": "soon"}, 400, "invalid_ttl"},
		{map[string]any{"keys": []string{k}, "ttl": -5}, 400, "invalid_ttl"},
		{map[string]any{"keys": []string{k}, "disposition": "download"}, 400, "invalid_disposition"},
		{map[string]any{"keys": []string{k}, "extra": true}, 400, "invalid_request"},
		{map[string]any{"keys": "a"}, 400, "invalid_request"},
	} {
		r := h.do("POST", "/v1/stores/media/objects/sign", tok, tc.body)
		if r.status != tc.status || r.code() != tc.code {
			t.Errorf("%v: %d %s, want %d %s", tc.body, r.status, r.body, tc.status, tc.code)
		}
	}
	if r := h.do("POST", "/v1/stores/media/objects/sign", "", map[string]any{"keys": []string{k}}); r.status != 401 {
		t.Errorf("without credentials: %d", r.status)
	}
	if _, _, b := cp.counts(); b != 0 {
		t.Errorf("%d provider calls for refused batches", b)
	}
	if r := h.do("POST", "/v1/stores/media/objects/sign", tok, map[string]any{"keys": []string{k, k, k}}); r.status != 200 {
		t.Errorf("max_batch keys: %d %s", r.status, r.body)
	}
	cp.shortAnswer = true
	if r := h.do("POST", "/v1/stores/media/objects/sign", tok, map[string]any{"keys": []string{k, k}}); r.status != 502 || r.code() != "provider_error" {
		t.Errorf("a provider answering too few items: %d %s", r.status, r.body)
	}
	cp.shortAnswer = false
	h.fake.SetDown(true)
	if r := h.do("POST", "/v1/stores/media/objects/sign", tok, map[string]any{"keys": []string{k}}); r.status != 503 || r.code() != "provider_unavailable" {
		t.Errorf("provider down: %d %s", r.status, r.body)
	}
}

// The TTL is clamped like Object's, as a string or a number of seconds,
// and a disposition reaches every request; the Store method serves a
// caller without HTTP, and a provider without GetSigner is asked once
// per key.
func TestSignGetsTTLAndDisposition(t *testing.T) {
	h, cp := batchHarness(t, 0)
	st, err := h.srv.state.Load().store("media")
	if err != nil {
		t.Fatal(err)
	}
	alice := auth.Principal{Subject: "alice", Claims: map[string]any{}}
	ks := []string{"users/alice/x/clip one.mp4", "users/alice/y.mp4"}
	items, err := st.SignGets(t.Context(), alice, SignSpec{Keys: ks, TTL: 10 * time.Hour, Disposition: "attachment"})
	if err != nil || len(items) != 2 || items[0].Err != nil || items[1].Err != nil {
		t.Fatalf("SignGets: %+v, %v", items, err)
	}
	cp.mu.Lock()
	reqs := cp.batches[0]
	cp.mu.Unlock()
	if reqs[0].TTL != time.Hour || reqs[1].TTL != time.Hour {
		t.Errorf("TTLs %s, %s: want max_ttl 1h", reqs[0].TTL, reqs[1].TTL)
	}
	if got, want := reqs[0].ResponseContentDisposition, ContentDisposition("attachment", "clip one.mp4"); got != want {
		t.Errorf("disposition %q, want %q", got, want)
	}
	r := h.do("POST", "/v1/stores/media/objects/sign", h.token("alice", nil), map[string]any{"keys": ks[:1], "ttl": 90, "disposition": "inline"})
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	cp.mu.Lock()
	reqs = cp.batches[1]
	cp.mu.Unlock()
	if reqs[0].TTL != 90*time.Second || reqs[0].ResponseContentDisposition != "inline" {
		t.Errorf("request %+v, want 90s inline", reqs[0])
	}
	_, err = st.SignGets(t.Context(), alice, SignSpec{Keys: ks, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}

	// The same batch through a provider without GetSigner: one SignGet
	// per allowed key, the same answers.
	st.getSigner = nil
	sg0, _, _ := cp.counts()
	items, err = st.SignGets(t.Context(), alice, SignSpec{Keys: append(ks, "users/bob/z.mp4")})
	if err != nil || items[0].Err != nil || items[2].Err == nil || items[2].Err.Code != "policy_denied" {
		t.Fatalf("without GetSigner: %+v, %v", items, err)
	}
	if sg, _, _ := cp.counts(); sg-sg0 != 2 {
		t.Errorf("%d SignGet calls for 2 allowed keys", sg-sg0)
	}
}

// limits.max_batch can never exceed what one provider call carries.
func TestMaxBatchLimitIsTheProviders(t *testing.T) {
	if config.MaxBatchLimit != providers.MaxSignGets {
		t.Errorf("config.MaxBatchLimit %d, providers.MaxSignGets %d", config.MaxBatchLimit, providers.MaxSignGets)
	}
}
