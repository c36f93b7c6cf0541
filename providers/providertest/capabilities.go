package providertest

import (
	"bytes"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/valetgw/valet/providers"
)

// The optional capabilities beyond Multipart: each test runs only when its
// capability is claimed, and a claim without the interface fails Run.

func (s *suite) testReadObject(t *testing.T) {
	if !s.caps.Reader {
		t.Skip("not claimed: Reader")
	}
	r := s.p.(providers.Reader) // checked by Run
	key := s.key(t, "playlist.m3u8")
	body := []byte("#EXTM3U\n#EXT-X-VERSION:3\n#EXTINF:4.0,\nseg-0.ts\n#EXT-X-ENDLIST\n")
	s.put(t, key, body, putOpts{contentType: "application/vnd.apple.mpegurl"})

	for _, max := range []int64{int64(len(body)), providers.MaxReadBytes} {
		res, err := r.ReadObject(t.Context(), providers.ReadObjectRequest{Key: key, MaxBytes: max})
		if err != nil {
			t.Fatalf("ReadObject(%q, MaxBytes %d): %s", key, max, errText(err))
		}
		if !bytes.Equal(res.Data, body) {
			t.Fatalf("ReadObject(MaxBytes %d): got %q, want %q", max, res.Data, body)
		}
		if res.Object.Key != key || res.Object.Size != int64(len(body)) || mediaType(res.Object.ContentType) != "application/vnd.apple.mpegurl" {
			t.Errorf("ReadObject(MaxBytes %d): Object = key %q size %d type %q, want %q, %d, application/vnd.apple.mpegurl",
				max, res.Object.Key, res.Object.Size, res.Object.ContentType, key, len(body))
		}
	}

	_, err := r.ReadObject(t.Context(), providers.ReadObjectRequest{Key: key, MaxBytes: int64(len(body)) - 1})
	if !errors.Is(err, providers.ErrFailedPrecondition) {
		s.codes.skipIfCause(t, err, providers.FailedPrecondition)
		t.Errorf("ReadObject of a %d-byte object with MaxBytes %d: %v (code %s), want FailedPrecondition",
			len(body), len(body)-1, err, providers.CodeOf(err))
	}
	// A large object is refused too, however much of it the backend sends.
	big := s.key(t, "big.bin")
	s.put(t, big, RandomBytes(1<<20), putOpts{})
	if _, err := r.ReadObject(t.Context(), providers.ReadObjectRequest{Key: big, MaxBytes: 64 << 10}); !errors.Is(err, providers.ErrFailedPrecondition) {
		s.codes.skipIfCause(t, err, providers.FailedPrecondition)
		t.Errorf("ReadObject of a 1 MiB object with MaxBytes 64 KiB: %s, want FailedPrecondition", errText(err))
	}

	empty := s.key(t, "empty.m3u8")
	s.put(t, empty, []byte{}, putOpts{})
	if res, err := r.ReadObject(t.Context(), providers.ReadObjectRequest{Key: empty, MaxBytes: 1}); err != nil || len(res.Data) != 0 || res.Object.Size != 0 {
		t.Errorf("ReadObject of an empty object = %d bytes (size %d), %s; want 0 bytes", len(res.Data), res.Object.Size, errText(err))
	}
	if _, err := r.ReadObject(t.Context(), providers.ReadObjectRequest{Key: s.key(t, "missing"), MaxBytes: 10}); !errors.Is(err, providers.ErrNotFound) {
		s.codes.skipIfCause(t, err, providers.NotFound)
		t.Errorf("ReadObject of a missing key: %s, want NotFound", errText(err))
	}
	for _, max := range []int64{0, -1, providers.MaxReadBytes + 1} {
		if _, err := r.ReadObject(t.Context(), providers.ReadObjectRequest{Key: key, MaxBytes: max}); !errors.Is(err, providers.ErrInvalidArgument) {
			s.codes.skipIfCause(t, err, providers.InvalidArgument)
			t.Errorf("ReadObject with MaxBytes %d: %s, want InvalidArgument", max, errText(err))
		}
	}
}

func (s *suite) testSignGets(t *testing.T) {
	if !s.caps.SignGets {
		t.Skip("not claimed: SignGets")
	}
	gs := s.p.(providers.GetSigner) // checked by Run
	dir := s.key(t, "")
	a, b := dir+"thumb-a.jpg", dir+"thumb-b.jpg"
	bodyA, bodyB := []byte("thumbnail A"), []byte("thumbnail B, another")
	s.put(t, a, bodyA, putOpts{contentType: "image/jpeg"})
	s.put(t, b, bodyB, putOpts{contentType: "image/jpeg"})
	reqs := []providers.GetRequest{
		{Key: a, TTL: ttl},
		{Key: dir + "never-written.jpg", TTL: ttl},
		{Key: b, TTL: ttl},
		{Key: a, TTL: -time.Minute}, // refused by SignGet, most likely
	}
	start := time.Now()
	res, err := gs.SignGets(t.Context(), providers.SignGetsRequest{Requests: reqs})
	if err != nil {
		t.Fatalf("SignGets of %d requests: %s", len(reqs), errText(err))
	}
	if len(res.Items) != len(reqs) {
		t.Fatalf("SignGets: %d items for %d requests", len(res.Items), len(reqs))
	}
	for i, want := range [][]byte{bodyA, nil, bodyB} {
		it := res.Items[i]
		if it.Err != nil {
			t.Fatalf("SignGets item %d (%q): %v", i, reqs[i].Key, it.Err)
		}
		checkRecipe(t, "SignGets", it.Recipe, start, ttl)
		got := s.send(t, it.Recipe, nil, nil)
		switch {
		case want == nil && got.Status != http.StatusNotFound:
			t.Errorf("SignGets item %d: GET of a missing key: status %d, want 404", i, got.Status)
		case want != nil && (got.Status != http.StatusOK || !bytes.Equal(got.Body, want)):
			t.Errorf("SignGets item %d: GET %q: status %d, %d bytes; want 200 and %d bytes", i, reqs[i].Key, got.Status, len(got.Body), len(want))
		}
	}
	// Each item fails exactly as SignGet fails for it, with its own code.
	_, single := s.p.SignGet(t.Context(), reqs[3])
	if got, want := res.Items[3].Err, single; (got == nil) != (want == nil) || got != nil && got.Code != providers.CodeOf(want) {
		t.Errorf("SignGets item with TTL %s: error %v, while SignGet says %v", reqs[3].TTL, got, want)
	}
	if single != nil && res.Items[3].Recipe.URL != "" {
		t.Errorf("SignGets item with an error also has a recipe")
	}

	if res, err := gs.SignGets(t.Context(), providers.SignGetsRequest{}); err != nil || len(res.Items) != 0 {
		t.Errorf("SignGets of no requests = %d items, %s; want none", len(res.Items), errText(err))
	}
	tooMany := make([]providers.GetRequest, providers.MaxSignGets+1)
	for i := range tooMany {
		tooMany[i] = providers.GetRequest{Key: a, TTL: ttl}
	}
	if _, err := gs.SignGets(t.Context(), providers.SignGetsRequest{Requests: tooMany}); !errors.Is(err, providers.ErrInvalidArgument) {
		s.codes.skipIfCause(t, err, providers.InvalidArgument)
		t.Errorf("SignGets of %d requests: %s, want InvalidArgument", len(tooMany), errText(err))
	}
}
