package core

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/valetgw/valet/config"
	"github.com/valetgw/valet/core/hooks"
)

// BenchmarkHookComplete measures what a hook adds to complete on the local
// store (in process), beside what that should cost: "no hook" and "hook"
// complete the same single-PUT upload again and again (open the id, HEAD
// the file, verify, and with the hook deliver upload.complete to a loopback
// receiver that answers a small JSON body); "no hook then deliver" does
// complete without a hook and then Deliver alone in each iteration;
// "deliver" is Sender.Deliver alone; "loopback" is one round trip of the
// request a delivery sends (same headers and body) through a plain
// http.Client, "hmac" one signature of it, and "no hook then loopback"
// complete without a hook followed by both, which is the goal's budget
// spent where the hook spends it. "paired" runs four of these in one
// loop, shuffled, and gives the goal's verdict. bench/hooks.sh runs it all
// and writes the Hooks section of docs/benchmarks.md.
func BenchmarkHookComplete(b *testing.B) {
	answer := []byte(`{"media_id":"m1"}`)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(answer)
	}))
	b.Cleanup(rc.Close)
	key := bytes.Repeat([]byte("k"), 32)
	secret := "whsec_" + base64.StdEncoding.EncodeToString(key)

	// Sender.Deliver alone, as complete calls it, against the same receiver.
	hk, err := hooks.New("media", config.HooksConfig{URL: rc.URL, Secret: secret, Events: []string{"upload.complete"}, Timeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	sender := hooks.NewSender(hooks.Options{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), Metrics: hooks.NewMetrics()})
	size := int64(5)
	ev := hooks.Event{Type: hooks.UploadComplete, Data: hooks.Data{
		Key: "users/bench/0b6f5a58-1f3e-4f8e-9d0c-2b8f1f2f8f7e/bench.bin", Size: &size, ContentType: "text/plain",
		ETag: `"5d41402abc4b2a76b9719d911017c592"`, Subject: "bench", UploadID: string(bytes.Repeat([]byte("u"), 400)),
	}}
	deliver := func(b *testing.B) {
		if a, err := sender.Deliver(b.Context(), hk, ev); err != nil || string(a.Body) != string(answer) {
			b.Fatalf("deliver: %s %v", a.Body, err)
		}
	}

	// What the hook's part should cost: one round trip of the very request
	// a delivery sends (its headers and body, recorded from one Deliver),
	// through a plain http.Client with the hook's timeout, as any
	// application would send it, and one signature of it.
	var sent *http.Request
	var sentBody []byte
	rec := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent, sentBody = r, must(io.ReadAll(r.Body))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(answer)
	}))
	recHook, err := hooks.New("media", config.HooksConfig{URL: rec.URL, Secret: secret, Events: []string{"upload.complete"}, Timeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := sender.Deliver(b.Context(), recHook, ev); err != nil {
		b.Fatal(err)
	}
	rec.Close()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	header := sent.Header.Clone()
	header.Del("Accept-Encoding") // the transport adds its own
	roundTrip := func(b *testing.B) {
		req, _ := http.NewRequestWithContext(b.Context(), http.MethodPost, rc.URL, bytes.NewReader(sentBody))
		maps.Copy(req.Header, header)
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	id, ts := sent.Header.Get("Webhook-Id"), sent.Header.Get("Webhook-Timestamp")
	signature := func(*testing.B) {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(id + "." + ts + "."))
		m.Write(sentBody)
		_ = base64.StdEncoding.EncodeToString(m.Sum(nil))
	}

	// The goal's comparison, paired: each iteration completes the upload
	// without a hook ("no hook"), with the hook ("hook"), without a hook
	// followed by Deliver alone ("then deliver") and without a hook
	// followed by the budget's round trip and HMAC ("then loopback"), in
	// an order shuffled afresh every iteration, timing each. All four see
	// the same state of the machine at the same moments, so their
	// differences are not moved by the drift between separate runs on a
	// shared machine, and the shuffle gives each the same mix of
	// predecessors (a fixed rotation does not: a call right after a
	// loopback round trip runs measurably slower). Reported: the median of
	// each one's per-iteration times, the hook's added time (hook − no
	// hook), the budget (then loopback − no hook) and their ratio, and the
	// same ratio for Deliver alone.
	hookCfg := "hooks: { url: \"" + rc.URL + "\", secret: \"" + secret + "\", events: [upload.complete] }\n"
	const noHook, withHook, thenDeliver, thenLoopback = 0, 1, 2, 3
	pairedOps := func(b *testing.B) [4]func() {
		// Each call has a gateway and a store of its own, so that each
		// runs as often and finds its files as warm as the others'.
		completer := func(hooks string) func() {
			h, tok := benchServer(b, benchLocal(b), hooks)
			upload, _ := benchUpload(b, h, tok, "bench.bin", []byte("hello"))
			path := "/v1/stores/media/uploads/" + upload + "/complete"
			return func() { benchCall(b, h, tok, http.MethodPost, path, nil, http.StatusOK) }
		}
		plain, hooked, plain2, plain3 := completer(""), completer(hookCfg), completer(""), completer("")
		return [...]func(){
			noHook:       plain,
			withHook:     hooked,
			thenDeliver:  func() { plain2(); deliver(b) },
			thenLoopback: func() { plain3(); roundTrip(b); signature(b) },
		}
	}
	report := func(b *testing.B, v [4]float64, unit string) {
		added, budget := v[withHook]-v[noHook], v[thenLoopback]-v[noHook]
		b.ReportMetric(v[noHook], "nohook-"+unit)
		b.ReportMetric(v[withHook], "hook-"+unit)
		b.ReportMetric(v[thenLoopback], "budget-"+unit)
		b.ReportMetric(added, "added-"+unit)
		b.ReportMetric(budget, "allowed-"+unit)
		b.ReportMetric(added/budget, "ratio")
		b.ReportMetric((v[thenDeliver]-v[noHook])/budget, "deliver-ratio")
	}
	b.Run("paired", func(b *testing.B) {
		ops := pairedOps(b)
		var times [len(ops)][]time.Duration
		order := []int{noHook, withHook, thenDeliver, thenLoopback}
		rnd := rand.New(rand.NewPCG(1, 2))
		for b.Loop() {
			rnd.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			for _, k := range order {
				start := time.Now()
				ops[k]()
				times[k] = append(times[k], time.Since(start))
			}
		}
		var med [len(ops)]float64
		for k := range times {
			med[k] = float64(median(times[k]))
		}
		report(b, med, "ns")
	})
	// The same four in CPU time (the whole process, the receiver
	// included): the process's CPU clock cannot time one call, so each
	// iteration runs a block of 20 calls of each, in a shuffled order of
	// the four, and reads the clock around each block.
	b.Run("paired cpu", func(b *testing.B) {
		ops := pairedOps(b)
		const block = 20
		var cpu [len(ops)]time.Duration
		order := []int{noHook, withHook, thenDeliver, thenLoopback}
		rnd := rand.New(rand.NewPCG(3, 4))
		n := 0
		for b.Loop() {
			rnd.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			for _, k := range order {
				start := processCPU(b)
				for range block {
					ops[k]()
				}
				cpu[k] += processCPU(b) - start
			}
			n += block
		}
		var per [len(ops)]float64
		for k := range cpu {
			per[k] = float64(cpu[k]) / float64(n)
		}
		report(b, per, "cpu-ns")
	})

	for _, c := range []struct {
		name     string
		hooks    string
		complete bool // each iteration completes the upload first
		then     func(*testing.B)
	}{
		{"no hook", "", true, nil},
		{"hook", hookCfg, true, nil},
		// complete without a hook and then Deliver alone, one after the
		// other in each iteration: the hook's work without the hook's code
		// path in core, to tell that path's cost from the cost of
		// alternating the store's file calls with a loopback round trip.
		{"no hook then deliver", "", true, deliver},
		// The budget where the hook spends it: complete without a hook,
		// then the round trip and the signature. A round trip inside a
		// request costs more than one in a loop doing nothing else (the
		// goroutine parks and resumes after the store's file calls); this
		// row measures it there.
		{"no hook then loopback", "", true, func(b *testing.B) { roundTrip(b); signature(b) }},
		{"deliver", "", false, deliver},
		{"loopback", "", false, roundTrip},
		{"hmac", "", false, signature},
	} {
		b.Run(c.name, func(b *testing.B) {
			complete := func(*testing.B) {}
			if c.complete {
				h, tok := benchServer(b, benchLocal(b), c.hooks)
				upload, _ := benchUpload(b, h, tok, "bench.bin", []byte("hello"))
				path := "/v1/stores/media/uploads/" + upload + "/complete"
				complete = func(b *testing.B) { benchCall(b, h, tok, http.MethodPost, path, nil, http.StatusOK) }
			}
			b.ReportAllocs()
			defer reportCPU(b)()
			for b.Loop() {
				complete(b)
				if c.then != nil {
					c.then(b)
				}
			}
		})
	}
}

// median is the middle of ds (which it sorts).
func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// must is v, or the benchmark's setup panics.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// reportCPU, deferred before a benchmark's loop (defer reportCPU(b)()),
// reports the process's CPU time per iteration (user and system, every
// goroutine: the loopback receiver runs in this process too) as
// cpu-ns/op. Unlike ns/op it does not grow while the goroutines wait for
// a core, which on a shared machine is most of the spread between runs.
func reportCPU(b *testing.B) func() {
	start := processCPU(b)
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(processCPU(b)-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

// processCPU is the process's user and system CPU time so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
