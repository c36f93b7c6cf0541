package hooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/valetgw/valet/config"
	"github.com/valetgw/valet/internal/testenv"
)

func secret(b byte) string {
	return config.WebhookSecretPrefix + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32))
}

var (
	secretA = secret('a')
	secretB = secret('b')
)

// delivery is one request a recorder got.
type delivery struct {
	header http.Header
	body   []byte
	at     time.Time
}

// recorder is an httptest server that records every delivery and answers
// with respond(n, w, r) for the n-th request (from 1).
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	got  []delivery
	resp func(n int, w http.ResponseWriter, r *http.Request)
}

func newRecorder(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request)) *recorder {
	t.Helper()
	rc := &recorder{resp: respond}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, delivery{r.Header.Clone(), body, time.Now()})
		n := len(rc.got)
		rc.mu.Unlock()
		rc.resp(n, w, r)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *recorder) deliveries() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

func answer(status int, body string) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func mustHook(t *testing.T, url string, timeout time.Duration, secrets ...string) *Hook {
	t.Helper()
	h, err := New("media", config.HooksConfig{URL: url, Secrets: secrets, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// testSender logs JSON into the returned buffer.
func testSender(t *testing.T, o Options) (*Sender, *testenv.Buffer) {
	t.Helper()
	logs := &testenv.Buffer{}
	o.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	return NewSender(o), logs
}

func size(n int64) *int64 { return &n }

var completeEvent = Event{Type: UploadComplete, Data: Data{
	Key: "users/alice/1/cat.png", Size: size(1234), ContentType: "image/png", ETag: `"abc"`,
	ChecksumSHA256: "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=", Metadata: map[string]string{"album": "cats"},
	Subject: "alice", UploadID: "u_sealed_token",
}}

// The request is the Standard Webhooks one: headers, the signature with
// every secret over id.timestamp.body, and the {type, timestamp, data} body.
func TestDeliverSignsStandardWebhooks(t *testing.T) {
	rc := newRecorder(t, answer(200, `{"media_id": 42}`))
	now := time.Date(2026, 11, 25, 10, 30, 0, 123456000, time.UTC)
	s, _ := testSender(t, Options{Now: func() time.Time { return now }})
	h := mustHook(t, rc.URL, 10*time.Second, secretA, secretB)

	ans, err := s.Deliver(context.Background(), h, completeEvent)
	if err != nil {
		t.Fatal(err)
	}
	if string(ans.Body) != `{"media_id":42}` || ans.Status != 200 || ans.Attempts != 1 || ans.Metadata != nil {
		t.Errorf("answer %+v", ans)
	}
	got := rc.deliveries()
	if len(got) != 1 {
		t.Fatalf("%d deliveries", len(got))
	}
	d := got[0]
	id, ts := d.header.Get("webhook-id"), d.header.Get("webhook-timestamp")
	if id != ans.ID || id != ID("media", UploadComplete, "upload_id\x00u_sealed_token") || !strings.HasPrefix(id, "msg_") {
		t.Errorf("webhook-id %q, answer id %q", id, ans.ID)
	}
	if ts != "1795602600" {
		t.Errorf("webhook-timestamp %q, want the clock's unix seconds", ts)
	}
	if ct := d.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	sigs := strings.Split(d.header.Get("webhook-signature"), " ")
	if len(sigs) != 2 {
		t.Fatalf("signature %q: want one per secret", d.header.Get("webhook-signature"))
	}
	for i, sec := range []string{secretA, secretB} {
		key, _ := config.WebhookSecretKey(sec)
		m := hmac.New(sha256.New, key)
		m.Write([]byte(id + "." + ts + "."))
		m.Write(d.body)
		if want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)); sigs[i] != want {
			t.Errorf("signature %d = %q, want %q", i, sigs[i], want)
		}
	}
	var p map[string]any
	if err := json.Unmarshal(d.body, &p); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"type": "upload.complete", "timestamp": "2026-11-25T10:30:00.123456Z",
		"data": map[string]any{
			"store": "media", "key": "users/alice/1/cat.png", "size": 1234.0, "content_type": "image/png", "etag": `"abc"`,
			"checksum_sha256": "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=", "metadata": map[string]any{"album": "cats"},
			"subject": "alice", "upload_id": "u_sealed_token",
		},
	}
	if gotJSON, wantJSON := mustJSON(t, p), mustJSON(t, want); gotJSON != wantJSON {
		t.Errorf("body\n got %s\nwant %s", gotJSON, wantJSON)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A receiver that fails twice gets the third attempt, with the same
// webhook-id each time and on the client's retry; another upload has
// another id.
func TestRetriesKeepTheID(t *testing.T) {
	rc := newRecorder(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	reg := NewMetrics()
	s, _ := testSender(t, Options{Metrics: reg})
	h := mustHook(t, rc.URL, 30*time.Second, secretA)
	ans, err := s.Deliver(context.Background(), h, completeEvent)
	if err != nil {
		t.Fatal(err)
	}
	if ans.Attempts != 3 || ans.Body != nil || ans.Status != 204 {
		t.Errorf("answer %+v, want 3 attempts, no body", ans)
	}
	if _, err := s.Deliver(context.Background(), h, completeEvent); err != nil {
		t.Fatal(err)
	}
	other := completeEvent
	other.Data.UploadID = "u_another"
	if _, err := s.Deliver(context.Background(), h, other); err != nil {
		t.Fatal(err)
	}
	got := rc.deliveries()
	if len(got) != 5 {
		t.Fatalf("%d deliveries, want 5", len(got))
	}
	for i, d := range got[:4] {
		if d.header.Get("webhook-id") != ans.ID {
			t.Errorf("delivery %d: webhook-id %q, want %q", i+1, d.header.Get("webhook-id"), ans.ID)
		}
	}
	if got[4].header.Get("webhook-id") == ans.ID {
		t.Error("another upload has the same webhook-id")
	}
	if n := testutil.ToFloat64(reg.deliveries.WithLabelValues("media", "upload.complete", "accepted")); n != 3 {
		t.Errorf("accepted deliveries = %v, want 3", n)
	}
}

func TestRejected(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
		status           int
	}{
		{"message", `{"message": "no cats\nallowed\u0000 here"}`, "no cats allowed here", 403},
		{"no message", `nope`, "the application's hook refused this (422 Unprocessable Entity)", 422},
		{"long message", `{"message": "` + strings.Repeat("é", 400) + `"}`, strings.Repeat("é", 256), 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := newRecorder(t, answer(tc.status, tc.body))
			s, _ := testSender(t, Options{})
			_, err := s.Deliver(context.Background(), mustHook(t, rc.URL, 10*time.Second, secretA), completeEvent)
			var he *Error
			if !errors.As(err, &he) || !errors.Is(err, ErrRejected) || errors.Is(err, ErrUnavailable) {
				t.Fatalf("err %v, want a rejection", err)
			}
			if he.Message != tc.want || he.Status != tc.status || he.Attempts != 1 {
				t.Errorf("error %+v, want message %q", he, tc.want)
			}
			if n := len(rc.deliveries()); n != 1 {
				t.Errorf("a refusal was sent %d times", n)
			}
		})
	}
}

func TestUnavailable(t *testing.T) {
	t.Run("5xx every time", func(t *testing.T) {
		rc := newRecorder(t, answer(500, `{"message":"down"}`))
		s, _ := testSender(t, Options{})
		_, err := s.Deliver(context.Background(), mustHook(t, rc.URL, 30*time.Second, secretA), completeEvent)
		var he *Error
		if !errors.As(err, &he) || !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err %v", err)
		}
		if he.Attempts != MaxAttempts || len(rc.deliveries()) != MaxAttempts || he.RetryAfter != DefaultRetryAfter || he.Status != 500 {
			t.Errorf("error %+v after %d deliveries", he, len(rc.deliveries()))
		}
	})
	t.Run("429 honours Retry-After", func(t *testing.T) {
		rc := newRecorder(t, func(n int, w http.ResponseWriter, r *http.Request) {
			if n == 1 {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			w.WriteHeader(200)
		})
		s, _ := testSender(t, Options{})
		ans, err := s.Deliver(context.Background(), mustHook(t, rc.URL, 30*time.Second, secretA), completeEvent)
		if err != nil || ans.Attempts != 2 {
			t.Fatalf("answer %+v, err %v", ans, err)
		}
		// The wait is a lower bound the code guarantees, whatever the
		// machine's speed; the backoff alone would be under 250ms.
		got := rc.deliveries()
		if gap := got[1].at.Sub(got[0].at); gap < time.Second {
			t.Errorf("second attempt %s after the first: Retry-After: 1 not honoured", gap)
		}
	})
	// 18446744074 s is more than a Duration holds: a long wait too, not
	// one wrapped around to 290 ms.
	for _, after := range []string{"600", "18446744074"} {
		t.Run("Retry-After beyond the timeout: "+after, func(t *testing.T) {
			rc := newRecorder(t, func(n int, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", after)
				w.WriteHeader(http.StatusServiceUnavailable)
			})
			s, _ := testSender(t, Options{})
			_, err := s.Deliver(context.Background(), mustHook(t, rc.URL, 30*time.Second, secretA), completeEvent)
			var he *Error
			if !errors.As(err, &he) || he.Outcome != Unavailable || he.Attempts != 1 || he.RetryAfter != MaxRetryAfter {
				t.Fatalf("err %+v, want one attempt and the capped Retry-After", err)
			}
		})
	}
	t.Run("timeout", func(t *testing.T) {
		release := make(chan struct{})
		t.Cleanup(func() { close(release) })
		rc := newRecorder(t, func(n int, w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		})
		s, logs := testSender(t, Options{})
		_, err := s.Deliver(context.Background(), mustHook(t, rc.URL, time.Second, secretA), completeEvent)
		var he *Error
		if !errors.As(err, &he) || he.Outcome != Unavailable || !strings.Contains(he.Message, "did not answer within its timeout") {
			t.Fatalf("err %v", err)
		}
		if !strings.Contains(logs.String(), `"outcome":"unavailable"`) {
			t.Errorf("log %s", logs)
		}
	})
	t.Run("network", func(t *testing.T) {
		rc := newRecorder(t, answer(200, ""))
		url := rc.URL + "/hook?token=s3cr3t"
		rc.Close()
		s, logs := testSender(t, Options{})
		_, err := s.Deliver(context.Background(), mustHook(t, url, 10*time.Second, secretA), completeEvent)
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err %v", err)
		}
		if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(logs.String(), "s3cr3t") {
			t.Errorf("the URL's token leaked: %v\n%s", err, logs)
		}
	})
}

func TestInvalidAnswer(t *testing.T) {
	target := newRecorder(t, answer(200, "{}"))
	for _, tc := range []struct {
		name    string
		respond func(int, http.ResponseWriter, *http.Request)
		want    string
	}{
		{"not JSON", func(_ int, w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "OK") }, "not JSON"},
		{"too large", answer(200, `{"x":"`+strings.Repeat("x", MaxAnswerBytes)+`"}`), "exceeds 16 KiB"},
		{"redirect", func(_ int, w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, target.URL, http.StatusFound) }, "redirect (302)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := newRecorder(t, tc.respond)
			s, _ := testSender(t, Options{})
			_, err := s.Deliver(context.Background(), mustHook(t, rc.URL, 10*time.Second, secretA), completeEvent)
			if !errors.Is(err, ErrInvalidAnswer) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want an invalid answer mentioning %q", err, tc.want)
			}
			if n := len(rc.deliveries()); n != 1 {
				t.Errorf("sent %d times, want once", n)
			}
		})
	}
	if n := len(target.deliveries()); n != 0 {
		t.Errorf("the redirect was followed %d times", n)
	}
	// Exactly 16 KiB is fine.
	rc := newRecorder(t, answer(200, `{"x":"`+strings.Repeat("x", MaxAnswerBytes-8)+`"}`))
	s, _ := testSender(t, Options{})
	if ans, err := s.Deliver(context.Background(), mustHook(t, rc.URL, 10*time.Second, secretA), completeEvent); err != nil || len(ans.Body) != MaxAnswerBytes {
		t.Errorf("a 16 KiB answer: %d bytes, %v", len(ans.Body), err)
	}
}

// upload.create's answer may add metadata, under the API's rules; other
// events' metadata members are just part of the body.
func TestCreateMetadata(t *testing.T) {
	create := Event{Type: UploadCreate, Data: Data{Key: "users/alice/2/a.png", Size: size(1), ContentType: "image/png", Subject: "alice"}}
	for _, tc := range []struct {
		name, body string
		want       map[string]string
		invalid    string
	}{
		{"metadata", `{"metadata": {"app-id": "42", "owner": "alice"}}`, map[string]string{"app-id": "42", "owner": "alice"}, ""},
		{"none", `{"ok": true}`, nil, ""},
		{"null", `{"metadata": null}`, nil, ""},
		{"not a JSON object", `[1, 2]`, nil, ""},
		{"bad key", `{"metadata": {"App_Id": "42"}}`, nil, "lower-case"},
		{"not strings", `{"metadata": {"n": 42}}`, nil, "not an object of strings"},
		{"too many", `{"metadata": {` + manyEntries(17) + `}}`, nil, "at most 16"},
		{"too long", `{"metadata": {"a": "` + strings.Repeat("v", 2048) + `"}}`, nil, "exceeds 2 KiB"},
		{"control character", `{"metadata": {"a": "x\ny"}}`, nil, "printable ASCII"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := newRecorder(t, answer(200, tc.body))
			s, _ := testSender(t, Options{})
			ans, err := s.Deliver(context.Background(), mustHook(t, rc.URL, 10*time.Second, secretA), create)
			if tc.invalid != "" {
				if !errors.Is(err, ErrInvalidAnswer) || !strings.Contains(err.Error(), tc.invalid) {
					t.Fatalf("err %v, want an invalid answer about %q", err, tc.invalid)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !mapsEqual(ans.Metadata, tc.want) {
				t.Errorf("metadata %v, want %v", ans.Metadata, tc.want)
			}
		})
	}
	rc := newRecorder(t, answer(200, `{"metadata": {"App_Id": 1}}`))
	s, _ := testSender(t, Options{})
	ans, err := s.Deliver(context.Background(), mustHook(t, rc.URL, 10*time.Second, secretA), completeEvent)
	if err != nil || ans.Metadata != nil || string(ans.Body) != `{"metadata":{"App_Id":1}}` {
		t.Errorf("complete: %+v, %v", ans, err)
	}
	// The create event's id comes from its key.
	if got := rc.deliveries(); len(got) != 1 {
		t.Fatal(len(got))
	}
	if ID("media", UploadCreate, "key\x00users/alice/2/a.png\x00etag\x00") == ID("media", UploadCreate, "key\x00users/alice/3/a.png\x00etag\x00") {
		t.Error("two keys share an id")
	}
}

func manyEntries(n int) string {
	var parts []string
	for i := range n {
		parts = append(parts, `"k`+string(rune('a'+i))+`": "v"`)
	}
	return strings.Join(parts, ",")
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) || (a == nil) != (b == nil) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// No hook, or an event it does not want: nothing is sent. Ping always is.
func TestWants(t *testing.T) {
	rc := newRecorder(t, answer(200, `{"pong": true}`))
	s, _ := testSender(t, Options{})
	if ans, err := s.Deliver(context.Background(), nil, completeEvent); err != nil || ans.ID != "" {
		t.Errorf("nil hook: %+v %v", ans, err)
	}
	h, err := New("media", config.HooksConfig{URL: rc.URL, Secret: secretA, Events: []string{"upload.create"}})
	if err != nil {
		t.Fatal(err)
	}
	if ans, err := s.Deliver(context.Background(), h, completeEvent); err != nil || ans.ID != "" {
		t.Errorf("unwanted event: %+v %v", ans, err)
	}
	if n := len(rc.deliveries()); n != 0 {
		t.Fatalf("%d deliveries of unwanted events", n)
	}
	a1, err := s.Deliver(context.Background(), h, Event{Type: Ping})
	if err != nil || string(a1.Body) != `{"pong":true}` {
		t.Fatalf("ping: %+v %v", a1, err)
	}
	a2, _ := s.Deliver(context.Background(), h, Event{Type: Ping})
	if a1.ID == a2.ID {
		t.Error("two pings share an id")
	}
	if h, err := New("media", config.HooksConfig{}); h != nil || err != nil {
		t.Errorf("no URL: %v %v", h, err)
	}
	if !h.Wants(UploadCreate) || h.Wants(ObjectDelete) || (*Hook)(nil).Wants(Ping) {
		t.Error("Wants")
	}
	// Without events, all of them.
	all, err := New("media", config.HooksConfig{URL: rc.URL, Secret: secretA})
	if err != nil || !all.Wants(UploadCreate) || !all.Wants(UploadComplete) || !all.Wants(ObjectDelete) || all.Timeout() != config.DefaultHookTimeout {
		t.Errorf("defaults: %v %v", all, err)
	}
}

// Neither an error nor a log line holds a secret, a key, a signature or the
// URL's credentials, whatever the outcome.
func TestNoSecretsInErrorsOrLogs(t *testing.T) {
	var sigs []string
	var mu sync.Mutex
	rc := newRecorder(t, func(n int, w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		sigs = append(sigs, strings.Split(r.Header.Get("webhook-signature"), " ")...)
		mu.Unlock()
		// Echo the signature and the secret, as a careless receiver might.
		w.WriteHeader([]int{500, 403, 200}[(n-1)%3])
		json.NewEncoder(w).Encode(map[string]string{"message": "bad " + r.Header.Get("webhook-signature") + " for " + secretB})
	})
	s, logs := testSender(t, Options{})
	h := mustHook(t, strings.Replace(rc.URL, "http://", "http://user:pa55word@", 1)+"/h?token=t0ken", 30*time.Second, secretA, secretB)
	var errs []string
	for range 3 {
		if _, err := s.Deliver(context.Background(), h, completeEvent); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if _, err := New("media", config.HooksConfig{URL: rc.URL, Secrets: []string{secretA, "whsec_" + strings.TrimPrefix(secretB, "whsec_")[:10]}}); err != nil {
		errs = append(errs, err.Error())
	}
	text := strings.Join(errs, "\n") + logs.String()
	keyA, _ := config.WebhookSecretKey(secretA)
	for _, leak := range append([]string{secretA, secretB, strings.TrimPrefix(secretA, "whsec_"), string(keyA), "pa55word", "t0ken"}, sigs...) {
		if strings.Contains(text, strings.TrimPrefix(leak, "v1,")) {
			t.Errorf("%q leaked:\n%s", leak, text)
		}
	}
	if !strings.Contains(text, "bad v1,*** v1,*** for whsec_***") {
		t.Errorf("the refusal's message is not there, scrubbed:\n%s", text)
	}
	if len(sigs) == 0 || len(errs) < 2 {
		t.Fatalf("%d signatures, %d errors: the test saw nothing", len(sigs), len(errs))
	}
}

// A refusal's message reaches the client and the log; a receiver that
// echoes what it was sent (its URL's password, Authorization and query,
// or the secret as the operator wrote it, in any base64 spelling that
// decodes to the key) must not carry them there.
func TestRefusalEchoingCredentialsIsScrubbed(t *testing.T) {
	// "YQ==" and "YR==" both decode to "a": a lax spelling of secretA.
	key := bytes.Repeat([]byte{'a'}, 31)
	canon := base64.StdEncoding.EncodeToString(key)
	lax := canon[:len(canon)-3] + "R=="
	if k, err := config.WebhookSecretKey("whsec_" + lax); err != nil || !bytes.Equal(k, key) || lax == canon {
		t.Fatalf("the lax spelling %q does not decode to the key: %v", lax, err)
	}
	rc := newRecorder(t, func(n int, w http.ResponseWriter, r *http.Request) {
		answer(401, `{"message":"denied `+r.Header.Get("Authorization")+` pass=pa55w0rd-x token=`+r.URL.Query().Get("token")+
			` raw=`+r.URL.RawQuery+` secret=whsec_`+lax+` key=`+string(key)+`"}`)(n, w, r)
	})
	logs := &testenv.Buffer{}
	s := NewSender(Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	h := mustHook(t, strings.Replace(rc.URL, "http://", "http://user:pa55w0rd-x@", 1)+"/h?token=s3cret+t0ken/value", 10*time.Second, "whsec_"+lax)
	_, err := s.Deliver(context.Background(), h, completeEvent)
	var he *Error
	if !errors.As(err, &he) || he.Outcome != Rejected || !strings.HasPrefix(he.Message, "denied Basic *** pass=*** token=*** raw=token=*** secret=whsec_*** key=***") {
		t.Fatalf("refusal %+v, want the message with every credential masked", err)
	}
	text := he.Message + "\n" + logs.String()
	for _, leak := range []string{"pa55w0rd-x", base64.StdEncoding.EncodeToString([]byte("user:pa55w0rd-x")), "s3cret t0ken/value", "s3cret+t0ken", lax, canon, string(key)} {
		if strings.Contains(text, leak) {
			t.Errorf("%q leaked:\n%s", leak, text)
		}
	}
}

// A Retry-After of more seconds than a Duration holds is a long wait, not
// one that wraps around to a short one (Deliver's: TestUnavailable).
func TestRetryAfterHuge(t *testing.T) {
	for _, v := range []string{"86401", "9223372037", "18446744074", "99999999999999999999"} {
		if got := retryAfter(v); got != 24*time.Hour && (v != "99999999999999999999" || got != 0) {
			t.Errorf("retryAfter(%q) = %v, want 24h", v, got)
		}
	}
}

func TestCleanMessage(t *testing.T) {
	for in, want := range map[string]string{
		"  plain  ":          "plain",
		"a\r\nb\tc":          "a b c",
		"bidi\u202eoverride": "bidi override",
		"bad\xffutf8":        "bad\uFFFDutf8",
	} {
		if got := cleanMessage(in); got != want {
			t.Errorf("cleanMessage(%q) = %q, want %q", in, got, want)
		}
	}
}

// A hook URL's user info is sent as Basic authorization (as http.Client
// sends it) and never in the request line; an accepted delivery logs at
// debug level, a refusal at info.
func TestDeliverURLUserInfoAndLogLevels(t *testing.T) {
	rc := newRecorder(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if r.URL.User != nil || strings.Contains(r.RequestURI, "pa55word") {
			t.Errorf("user info in the request line: %s", r.RequestURI)
		}
		answer([]int{200, 403}[(n-1)%2], `{}`)(n, w, r)
	})
	logs := &testenv.Buffer{}
	s := NewSender(Options{Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	h := mustHook(t, strings.Replace(rc.URL, "http://", "http://user:pa55word@", 1)+"/h", 10*time.Second, secretA)
	if _, err := s.Deliver(context.Background(), h, completeEvent); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Deliver(context.Background(), h, completeEvent); !errors.Is(err, ErrRejected) {
		t.Fatalf("second delivery: %v, want a refusal", err)
	}
	for _, d := range rc.deliveries() {
		if got, want := d.header.Get("Authorization"), "Basic "+base64.StdEncoding.EncodeToString([]byte("user:pa55word")); got != want {
			t.Errorf("Authorization %q, want %q", got, want)
		}
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"level":"DEBUG"`) || !strings.Contains(lines[0], `"outcome":"accepted"`) ||
		!strings.Contains(lines[1], `"level":"INFO"`) || !strings.Contains(lines[1], `"outcome":"rejected"`) {
		t.Errorf("log lines:\n%s", logs)
	}
}
