package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valetgw/valet/internal/testenv"
)

// nodeReceiver starts testdata/receiver.js, which verifies deliveries with
// the published standardwebhooks npm package and knows only secrets, and
// returns its URL.
func nodeReceiver(t *testing.T, secrets ...string) string {
	t.Helper()
	return startNode(t, "receiver.js", "HOOK_SECRETS="+strings.Join(secrets, ","))
}

// startNode runs testdata/script with node, the standardwebhooks package on
// its NODE_PATH and env, waits until it prints "listening http://..." or
// "listening on http://...", and returns that URL.
func startNode(t *testing.T, script string, env ...string) string {
	t.Helper()
	node := testenv.LookPath(t, "node")
	pkg := testenv.NodeModule(t, "standardwebhooks/package.json")
	path, err := filepath.Abs(filepath.Join("testdata", script))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, path)
	cmd.Env = append([]string{"NODE_PATH=" + filepath.Dir(filepath.Dir(pkg))}, env...)
	p, err := testenv.Launch(t, testenv.Spec{Name: "node " + script, Cmd: cmd, Ready: testenv.LogReady("http://")})
	if err != nil {
		t.Fatal(err) // our own script failing is a defect, not a missing tool
	}
	_, rest, _ := strings.Cut(p.Logs(), "http://")
	u, _, _ := strings.Cut(rest, "\n")
	return "http://" + strings.TrimSpace(u)
}

// nodeAnswer is what receiver.js answers a verified delivery.
type nodeAnswer struct {
	Verified bool           `json:"verified"`
	ID       string         `json:"id"`
	Type     string         `json:"type"`
	Data     map[string]any `json:"data"`
}

// Every event type, signed with one secret or two, is verified by the
// Standard Webhooks library; the data it parsed is the data sent, and
// upload.create's metadata comes back.
func TestNodeLibraryVerifies(t *testing.T) {
	u := nodeReceiver(t, secretA)
	s, _ := testSender(t, Options{})
	for _, secrets := range [][]string{{secretA}, {secretB, secretA}} {
		h := mustHook(t, u, 30*time.Second, secrets...)
		for _, ev := range []Event{
			{Type: UploadCreate, Data: Data{Key: "users/alice/1/ünïcode file.png", Size: size(10), ContentType: "image/png", Subject: "alice"}},
			completeEvent,
			{Type: ObjectDelete, Identity: "users/alice/1/cat.png\x00\"abc\"", Data: Data{Key: "users/alice/1/cat.png", Subject: "alice"}},
			{Type: Ping},
		} {
			ans, err := s.Deliver(context.Background(), h, ev)
			if err != nil {
				t.Fatalf("%s with %d secrets: %v", ev.Type, len(secrets), err)
			}
			var got nodeAnswer
			if err := json.Unmarshal(ans.Body, &got); err != nil {
				t.Fatal(err)
			}
			if !got.Verified || got.ID != ans.ID || got.Type != string(ev.Type) || got.Data["store"] != "media" || got.Data["key"] != nilIfEmpty(ev.Data.Key) {
				t.Errorf("%s: the library parsed %+v (id %s)", ev.Type, got, ans.ID)
			}
			if want := ev.Type == UploadCreate; want != (ans.Metadata["verified-by"] == "standardwebhooks") {
				t.Errorf("%s: metadata %v", ev.Type, ans.Metadata)
			}
		}
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// The library rejects a wrong secret, a changed body, a changed id and a
// timestamp older than five minutes, so the signature covers all of them;
// the refusal reaches the caller as a rejection with the library's message.
func TestNodeLibraryRejects(t *testing.T) {
	u := nodeReceiver(t, secretA)
	tamper := func(change func(r *http.Request, body []byte) []byte) string {
		target, _ := url.Parse(u)
		proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			body = change(r, body)
			req, _ := http.NewRequestWithContext(r.Context(), r.Method, target.String(), bytes.NewReader(body))
			req.Header = r.Header.Clone()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			defer resp.Body.Close()
			w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
			w.WriteHeader(resp.StatusCode)
			io.Copy(w, resp.Body)
		}))
		t.Cleanup(proxy.Close)
		return proxy.URL
	}
	sixMinutesAgo := func() time.Time { return time.Now().Add(-6 * time.Minute) }
	for _, tc := range []struct {
		name   string
		url    string
		secret string
		now    func() time.Time
		want   string
	}{
		{"wrong secret", u, secretB, nil, "No matching signature found"},
		{"changed body", tamper(func(_ *http.Request, b []byte) []byte {
			return bytes.Replace(b, []byte(`"size":1234`), []byte(`"size":1235`), 1)
		}), secretA, nil, "No matching signature found"},
		{"changed id", tamper(func(r *http.Request, b []byte) []byte {
			r.Header.Set("webhook-id", r.Header.Get("webhook-id")+"x")
			return b
		}), secretA, nil, "No matching signature found"},
		{"old timestamp", u, secretA, sixMinutesAgo, "Message timestamp too old"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := testSender(t, Options{Now: tc.now})
			_, err := s.Deliver(context.Background(), mustHook(t, tc.url, 30*time.Second, tc.secret), completeEvent)
			var he *Error
			if !errors.As(err, &he) || he.Outcome != Rejected || he.Status != 401 || !strings.Contains(he.Message, tc.want) {
				t.Fatalf("err %v, want a 401 rejection saying %q", err, tc.want)
			}
		})
	}
	// The untampered proxy passes, so the refusals above are the tampering's.
	s, _ := testSender(t, Options{})
	if _, err := s.Deliver(context.Background(), mustHook(t, tamper(func(_ *http.Request, b []byte) []byte { return b }), 30*time.Second, secretA), completeEvent); err != nil {
		t.Errorf("through the proxy, untouched: %v", err)
	}
}

// Rotation: while the old and the new secret are both configured, a
// receiver that knows only the new one accepts, and so does one that still
// knows only the old one.
func TestNodeLibraryRotation(t *testing.T) {
	s, _ := testSender(t, Options{})
	for _, known := range []string{secretB, secretA} {
		h := mustHook(t, nodeReceiver(t, known), 30*time.Second, secretA, secretB)
		if _, err := s.Deliver(context.Background(), h, completeEvent); err != nil {
			t.Errorf("receiver knowing one of the two secrets: %v", err)
		}
	}
	// And once the old one is dropped, a receiver left on it refuses.
	h := mustHook(t, nodeReceiver(t, secretA), 30*time.Second, secretB)
	if _, err := s.Deliver(context.Background(), h, completeEvent); !errors.Is(err, ErrRejected) {
		t.Errorf("receiver on the dropped secret: %v, want a rejection", err)
	}
}
