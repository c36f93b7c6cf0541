package hooks

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valetgw/valet/internal/testenv"
)

// The receivers of docs/hooks.md. The Go one is below, verbatim in the
// guide; the Node one is testdata/example_receiver.js. Both are run
// against real deliveries here.

// verifyWebhook checks a Standard Webhooks delivery: a signature of
// "id.timestamp.body" made with the secret, and a timestamp within five
// minutes of now.
func verifyWebhook(secret string, h http.Header, body []byte, now time.Time) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	sent, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || id == "" {
		return errors.New("missing webhook headers")
	}
	if d := now.Sub(time.Unix(sent, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return errors.New("timestamp too old or too new")
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.", id, ts)
	mac.Write(body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return errors.New("no matching signature")
}

// event is the part of a delivery this receiver reads.
type event struct {
	Type string `json:"type"`
	Data struct {
		Store       string `json:"store"`
		Key         string `json:"key"`
		Size        int64  `json:"size"`
		ContentType string `json:"content_type"`
		Subject     string `json:"subject"`
		UploadID    string `json:"upload_id"`
	} `json:"data"`
}

// receiver answers Valet's hooks. It records each completed upload once,
// however often Valet delivers it, by its webhook-id.
type receiver struct {
	secret string
	mu     sync.Mutex
	media  map[string]string // webhook-id -> our media id
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil || verifyWebhook(rc.secret, r.Header, body, time.Now()) != nil {
		reply(w, http.StatusUnauthorized, map[string]string{"message": "bad signature"})
		return
	}
	var ev event
	if err := json.Unmarshal(body, &ev); err != nil {
		reply(w, http.StatusBadRequest, map[string]string{"message": "bad payload"})
		return
	}
	switch ev.Type {
	case "upload.create":
		if !strings.HasPrefix(ev.Data.ContentType, "image/") {
			reply(w, http.StatusForbidden, map[string]string{"message": "only images, please"})
			return
		}
		reply(w, http.StatusOK, map[string]any{"metadata": map[string]string{"owner": ev.Data.Subject}})
	case "upload.complete":
		id := r.Header.Get("webhook-id")
		rc.mu.Lock()
		mediaID, seen := rc.media[id]
		if !seen {
			mediaID = fmt.Sprintf("m%d", len(rc.media)+1) // save ev.Data in your database here
			rc.media[id] = mediaID
		}
		rc.mu.Unlock()
		reply(w, http.StatusOK, map[string]string{"media_id": mediaID})
	default: // object.delete, ping
		w.WriteHeader(http.StatusNoContent)
	}
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

var exampleSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("an example secret, 32 bytes long"))

// exerciseReceiver sends the guide's receiver at url the events of one
// upload, twice over for complete, and checks its answers.
func exerciseReceiver(t *testing.T, url string) {
	t.Helper()
	s := NewSender(Options{})
	h := mustHook(t, url, 30*time.Second, exampleSecret)
	ctx := context.Background()
	data := Data{Key: "users/alice/1/cat.png", ContentType: "image/png", Subject: "alice"}

	ans, err := s.Deliver(ctx, h, Event{Type: UploadCreate, Data: data})
	if err != nil || ans.Metadata["owner"] != "alice" {
		t.Fatalf("create: %+v %v", ans, err)
	}
	pdf := data
	pdf.ContentType = "application/pdf"
	if _, err := s.Deliver(ctx, h, Event{Type: UploadCreate, Data: pdf}); !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), "only images, please") {
		t.Errorf("create of a PDF: %v, want the receiver's refusal", err)
	}
	data.UploadID = "u1"
	first, err := s.Deliver(ctx, h, Event{Type: UploadComplete, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Deliver(ctx, h, Event{Type: UploadComplete, Data: data})
	if err != nil || string(again.Body) != string(first.Body) || !strings.Contains(string(first.Body), `"media_id"`) {
		t.Errorf("complete twice: %s then %s (%v); want one media id", first.Body, again.Body, err)
	}
	data.UploadID = "u2"
	other, err := s.Deliver(ctx, h, Event{Type: UploadComplete, Data: data})
	if err != nil || string(other.Body) == string(first.Body) {
		t.Errorf("another upload: %s (%v), want a new media id", other.Body, err)
	}
	if ans, err := s.Deliver(ctx, h, Event{Type: Ping}); err != nil || ans.Status != http.StatusNoContent {
		t.Errorf("ping: %+v %v", ans, err)
	}
	wrong := mustHook(t, url, 30*time.Second, "whsec_"+base64.StdEncoding.EncodeToString([]byte("not the receiver's secret, at all")))
	if _, err := s.Deliver(ctx, wrong, Event{Type: Ping}); !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), "bad signature") {
		t.Errorf("wrong secret: %v, want a refusal", err)
	}
}

func TestGoReceiverOfTheGuide(t *testing.T) {
	srv := httptest.NewServer(&receiver{secret: exampleSecret, media: map[string]string{}})
	defer srv.Close()
	exerciseReceiver(t, srv.URL)
}

func TestNodeReceiverOfTheGuide(t *testing.T) {
	exerciseReceiver(t, startNode(t, "example_receiver.js", "VALET_HOOK_SECRET="+exampleSecret, "PORT=0"))
}

// TestGuideShowsTestedCode keeps docs/hooks.md honest: every Go block is
// verbatim in this file and every JavaScript block in
// testdata/example_receiver.js, and there is at least one of each.
func TestGuideShowsTestedCode(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "hooks.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ lang, file string }{{"go", "example_test.go"}, {"js", filepath.Join("testdata", "example_receiver.js")}} {
		src, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		blocks := testenv.Fenced(string(doc), c.lang)
		if len(blocks) == 0 {
			t.Errorf("docs/hooks.md has no %s block", c.lang)
		}
		for i, b := range blocks {
			if !strings.Contains(string(src), b) {
				first, _, _ := strings.Cut(b, "\n")
				t.Errorf("%s block %d (starting %q) is not verbatim in core/hooks/%s", c.lang, i+1, first, c.file)
			}
		}
	}
}
