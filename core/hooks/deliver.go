package hooks

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Retry schedule within one delivery: at most MaxAttempts requests, the
// n-th retry after about RetryBackoff·2ⁿ⁻¹ (or the receiver's Retry-After),
// and only while the hook's timeout leaves at least minAttemptTime for the
// next request.
const (
	MaxAttempts    = 3
	RetryBackoff   = 250 * time.Millisecond
	minAttemptTime = 100 * time.Millisecond
)

// UserAgent is sent with every delivery.
const UserAgent = "Valet-Hooks/1"

// Header values shared by every request (the transport only reads them).
var (
	contentTypeJSON = []string{"application/json"}
	userAgent       = []string{UserAgent}
)

// Options are a Sender's dependencies.
type Options struct {
	// Transport sends the requests (nil: a transport of its own). Each
	// attempt is one RoundTrip: redirects are never followed.
	Transport http.RoundTripper
	// Now is the clock of webhook-timestamp and the payload's timestamp
	// (nil: time.Now).
	Now func() time.Time
	// Logger receives one line per delivery (nil: discard): an accepted
	// delivery at debug level, a refusal at info, any other outcome at
	// warn.
	Logger *slog.Logger
	// Metrics counts deliveries (nil: none).
	Metrics *Metrics
}

// Sender delivers events to hooks. One Sender serves every store and
// config; it holds no state about deliveries.
type Sender struct {
	rt      http.RoundTripper
	now     func() time.Time
	log     *slog.Logger
	metrics *Metrics
}

// NewSender returns a Sender.
func NewSender(o Options) *Sender {
	s := &Sender{rt: o.Transport, now: o.Now, log: o.Logger, metrics: o.Metrics}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.rt == nil {
		s.rt = &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: 10 * time.Second,
			ForceAttemptHTTP2:   true,
		}
	}
	return s
}

// Deliver sends ev to h and returns the receiver's answer. A nil h, or an
// event h does not want, is not sent: the Answer is empty and the error
// nil. Any other failure is an *Error (errors.Is it ErrRejected,
// ErrUnavailable or ErrInvalidAnswer); Deliver retries what may succeed
// later (timeouts, network errors, 5xx, 408, 429) a few times within
// h.Timeout(), honouring Retry-After, and never a refusal or an invalid
// answer. ctx bounds it too.
func (s *Sender) Deliver(ctx context.Context, h *Hook, ev Event) (Answer, error) {
	if !h.Wants(ev.Type) {
		return Answer{}, nil
	}
	started := time.Now()
	id := ev.id(h.store)
	if id == "" {
		return Answer{}, fmt.Errorf("hooks: a %s event needs an identity, an upload id or a key", ev.Type)
	}
	when := ev.Time
	if when.IsZero() {
		when = s.now()
	}
	ev.Data.Store = h.store
	p := payload{Type: ev.Type, Timestamp: when.UTC().Format(time.RFC3339Nano), Data: ev.Data}
	body := appendPayload(make([]byte, 0, payloadSize(p)), p)

	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	var res result
	attempts := 0
	for {
		attempts++
		res = s.attempt(ctx, h, ev.Type, id, body)
		if res.outcome != Unavailable || attempts == MaxAttempts {
			break
		}
		wait := res.retryAfter
		if wait <= 0 {
			d := RetryBackoff << (attempts - 1)
			wait = d/2 + rand.N(d/2+1) // jittered, so replicas do not retry in step
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline)-wait < minAttemptTime {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		if ctx.Err() != nil {
			break
		}
	}

	elapsed := time.Since(started)
	s.metrics.record(h.store, ev.Type, res.outcome, elapsed)
	level := slog.LevelWarn
	switch res.outcome {
	case Accepted:
		level = slog.LevelDebug
	case Rejected:
		level = slog.LevelInfo
	}
	if s.log.Enabled(ctx, level) {
		// A fixed array: the attributes stay on the stack.
		var buf [8]slog.Attr
		attrs := append(buf[:0],
			slog.String("event", string(ev.Type)),
			slog.String("store", h.store),
			slog.String("id", id),
			slog.String("outcome", string(res.outcome)),
			slog.Int("status", res.status),
			slog.Int("attempts", attempts),
			slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
		)
		if res.outcome != Accepted {
			attrs = append(attrs, slog.String("error", res.message))
		}
		s.log.LogAttrs(ctx, level, "hook delivery", attrs...)
	}

	if res.outcome != Accepted {
		e := &Error{Outcome: res.outcome, ID: id, Status: res.status, Message: res.message, Attempts: attempts}
		if res.outcome == Unavailable {
			e.RetryAfter = DefaultRetryAfter
			if res.retryAfter > 0 {
				e.RetryAfter = min(res.retryAfter, MaxRetryAfter)
			}
		}
		return Answer{ID: id, Attempts: attempts}, e
	}
	return Answer{ID: id, Status: res.status, Body: res.body, Metadata: res.metadata, Attempts: attempts}, nil
}

// result is one attempt's outcome.
type result struct {
	outcome    Outcome
	status     int
	message    string
	retryAfter time.Duration
	body       json.RawMessage
	metadata   map[string]string
}

// attempt makes one signed request, timestamped now.
func (s *Sender) attempt(ctx context.Context, h *Hook, t Type, id string, body []byte) result {
	if h.target == nil {
		return result{outcome: InvalidAnswer, message: "the hook URL cannot be requested"}
	}
	ts := strconv.FormatInt(s.now().Unix(), 10)
	sig := sign(h, id, ts, body)
	// Canonical keys set directly: Header.Set would canonicalize (and
	// allocate) each name on every request.
	header := http.Header{
		"Content-Type":      contentTypeJSON,
		"User-Agent":        userAgent,
		"Webhook-Id":        {id},
		"Webhook-Timestamp": {ts},
		"Webhook-Signature": {sig},
	}
	if h.basicAuth != nil {
		header["Authorization"] = h.basicAuth
	}
	// What http.NewRequest and http.Client would build, without parsing the
	// URL again or cloning the headers for redirects, which are not followed.
	req := (&http.Request{
		Method:        http.MethodPost,
		URL:           h.target,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        header,
		Body:          io.NopCloser(bytes.NewReader(body)),
		GetBody:       func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil },
		ContentLength: int64(len(body)),
		Host:          h.target.Host,
	}).WithContext(ctx)

	resp, err := s.rt.RoundTrip(req)
	if err != nil {
		return result{outcome: Unavailable, message: transportError(ctx, err)}
	}
	defer resp.Body.Close()
	// One byte more than allowed tells a body that is too long.
	answer, rerr := io.ReadAll(io.LimitReader(resp.Body, MaxAnswerBytes+1))
	if rerr == nil && len(answer) > MaxAnswerBytes {
		// The body did not end within the limit: drain some more so that
		// the connection can be reused.
		_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	}
	st := resp.StatusCode
	switch {
	case st >= 200 && st < 300:
		if rerr != nil {
			return result{outcome: Unavailable, status: st, message: "reading the answer: " + transportError(ctx, rerr)}
		}
		return accepted(t, st, answer)
	case st >= 300 && st < 400:
		return result{outcome: InvalidAnswer, status: st, message: fmt.Sprintf("the hook answered a redirect (%d), which is not followed: set hooks.url to the final URL", st)}
	case st == http.StatusRequestTimeout || st == http.StatusTooManyRequests || st >= 500:
		return result{outcome: Unavailable, status: st, message: fmt.Sprintf("the hook answered %d", st), retryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	case st >= 400:
		msg := ""
		var m struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(answer, &m) == nil {
			msg = cleanMessage(scrub(m.Message, h, sig))
		}
		if msg == "" {
			msg = fmt.Sprintf("the application's hook refused this (%d %s)", st, http.StatusText(st))
		}
		return result{outcome: Rejected, status: st, message: msg}
	}
	return result{outcome: InvalidAnswer, status: st, message: fmt.Sprintf("the hook answered status %d", st)}
}

// accepted checks a 2xx answer's body: empty, or JSON of at most
// MaxAnswerBytes; for upload.create, its metadata.
func accepted(t Type, status int, answer []byte) result {
	if len(answer) > MaxAnswerBytes {
		return result{outcome: InvalidAnswer, status: status, message: fmt.Sprintf("the hook's answer exceeds %d KiB", MaxAnswerBytes>>10)}
	}
	if len(bytes.TrimSpace(answer)) == 0 {
		return result{outcome: Accepted, status: status}
	}
	body, ok := compactJSON(answer)
	if !ok {
		return result{outcome: InvalidAnswer, status: status, message: fmt.Sprintf("the hook answered %d with a body that is not JSON; answer JSON or nothing", status)}
	}
	r := result{outcome: Accepted, status: status, body: body}
	if t == UploadCreate {
		var m struct {
			Metadata json.RawMessage `json:"metadata"`
		}
		if json.Unmarshal(answer, &m) == nil && len(m.Metadata) > 0 && string(m.Metadata) != "null" {
			var md map[string]string
			if err := json.Unmarshal(m.Metadata, &md); err != nil {
				return result{outcome: InvalidAnswer, status: status, message: "the hook's metadata is not an object of strings"}
			}
			if err := CheckMetadata(md); err != nil {
				return result{outcome: InvalidAnswer, status: status, message: "the hook's metadata: " + err.Error()}
			}
			r.metadata = md
		}
	}
	return r
}

// compactJSON is answer without insignificant white space, and whether it
// is JSON. An answer with no white space byte at all is already compact
// and is only checked (most receivers answer so), which spares a copy.
func compactJSON(answer []byte) (json.RawMessage, bool) {
	if bytes.IndexAny(answer, " \t\r\n") < 0 {
		return answer, json.Valid(answer)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, answer); err != nil {
		return nil, false
	}
	return compact.Bytes(), true
}

// sign is the webhook-signature header: "v1," and the base64 HMAC-SHA256 of
// "id.timestamp.body" with each of h's keys, space-separated.
func sign(h *Hook, id, ts string, body []byte) string {
	const sigLen = len("v1,") + 44 // base64 of 32 bytes, padded
	var stack [2 * (sigLen + 1)]byte
	out := stack[:0]
	var sum [sha256.Size]byte
	for i, pool := range h.macs {
		m := pool.Get().(hash.Hash)
		m.Reset()
		m.Write([]byte(id))
		m.Write([]byte{'.'})
		m.Write([]byte(ts))
		m.Write([]byte{'.'})
		m.Write(body)
		if i > 0 {
			out = append(out, ' ')
		}
		out = base64.StdEncoding.AppendEncode(append(out, "v1,"...), m.Sum(sum[:0]))
		pool.Put(m)
	}
	return string(out)
}

// scrub hides, in a receiver's message that goes to the client and the
// log, the signatures and the hook's secrets (see Hook.secrets) a careless
// receiver may have echoed.
func scrub(msg string, h *Hook, sig string) string {
	for _, v := range strings.Fields(sig) {
		msg = strings.ReplaceAll(msg, strings.TrimPrefix(v, "v1,"), "***")
	}
	for _, s := range h.secrets {
		msg = strings.ReplaceAll(msg, s, "***")
	}
	return msg
}

// maxRetryAfterSeconds bounds a Retry-After in seconds: a day, far above
// any hook timeout and MaxRetryAfter.
const maxRetryAfterSeconds = 24 * 60 * 60

// retryAfter parses a Retry-After header (seconds or an HTTP date); 0 when
// absent or unreadable.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		// Capped before it is multiplied, so that no number of seconds
		// wraps around to a short (or negative) wait.
		return time.Duration(min(n, maxRetryAfterSeconds)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// transportError describes a failed request without its URL, which may
// carry credentials.
func transportError(ctx context.Context, err error) string {
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded {
		return "the hook did not answer within its timeout"
	}
	if errors.Is(err, context.Canceled) {
		return "the request was cancelled"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}
