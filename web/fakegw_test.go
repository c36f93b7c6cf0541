package web

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeGateway is a scripted stand-in for the gateway's REST API and a storage
// server on a second origin. It exists to test valet.js and the demo page in
// a browser without any provider: retries, aborts, resumes and error
// messages, with failures injected on purpose. The real gateway and every
// real backend are covered by the e2e browser suite.
type fakeGateway struct {
	t        *testing.T
	API      *httptest.Server
	Storage  *httptest.Server
	mu       sync.Mutex
	objects  map[string]fakeObject
	uploads  map[string]*fakeUpload
	next     int
	failures map[string]int // "upload/part" -> remaining 500s to answer
	// apiFailures: "parts" (POST .../parts) or "complete" -> remaining 503s
	// (provider_unavailable, Retry-After: 1) to answer, and how many were.
	apiFailures, apiFailed map[string]int
	// stallFile: the first PUT of part 2 of an upload of this file name is
	// read and never answered, until the client gives up; stalled counts.
	stallFile string
	stalled   int
	// failFile: PUTs of part 2 of an upload of this file name answer 500
	// while failFileLeft > 0.
	failFile     string
	failFileLeft int
	putCount     map[string]int // "upload/part" or key -> PUTs received
	aborted      []string
	// dateCompletes: when each complete of an upload of date.bin came;
	// the first is answered 503 with Retry-After as an HTTP date.
	dateCompletes []time.Time
}

type fakeObject struct {
	data  []byte
	ctype string
	mod   time.Time
}

type fakeUpload struct {
	key, ctype string
	size, part int64
	parts      map[int][]byte
	single     bool
}

const (
	fakeMaxSize   = 100 << 20
	fakeThreshold = 16 << 20
	fakePartSize  = 8 << 20
)

func newFakeGateway(t *testing.T) *fakeGateway {
	f := &fakeGateway{t: t, objects: map[string]fakeObject{}, uploads: map[string]*fakeUpload{},
		failures: map[string]int{}, putCount: map[string]int{}, apiFailures: map[string]int{}, apiFailed: map[string]int{}}
	f.Storage = httptest.NewServer(http.HandlerFunc(f.storage))
	mux := http.NewServeMux()
	mux.Handle("/", Handler())
	mux.HandleFunc("/v1/", f.api)
	f.API = httptest.NewServer(mux)
	t.Cleanup(func() { f.API.Close(); f.Storage.Close() })
	return f
}

func problemJSON(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"type": "about:blank", "title": http.StatusText(status), "status": status, "detail": detail, "code": code})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeGateway) recipe(path string, headers map[string]string) map[string]any {
	return map[string]any{"method": "PUT", "url": f.Storage.URL + path, "headers": headers,
		"expires_at": time.Now().Add(10 * time.Minute).UTC().Format(time.RFC3339)}
}

func (f *fakeGateway) api(w http.ResponseWriter, r *http.Request) {
	subject := ""
	switch r.Header.Get("Authorization") {
	case "Bearer good":
		subject = "alice"
	case "Bearer viewer":
		subject = "bob"
	case "Bearer expired":
		problemJSON(w, 401, "token_expired", "the bearer token has expired")
		return
	case "Bearer html":
		// What a page host answers a client pointed at it by mistake.
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<!doctype html><p>not the gateway</p>")
		return
	default:
		problemJSON(w, 401, "unauthenticated", "missing or invalid bearer token")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p := strings.TrimPrefix(r.URL.Path, "/v1/")
	switch {
	case p == "stores" && r.Method == "GET":
		writeJSON(w, 200, map[string]any{"stores": []map[string]any{{"name": "media", "provider": "fake", "key_template": "users/{subject}/{uuid}/{filename}"}}})
	case p == "stores/media/uploads" && r.Method == "POST":
		var in struct {
			Filename    string `json:"filename"`
			ContentType string `json:"content_type"`
			Size        int64  `json:"size"`
			Multipart   bool   `json:"multipart"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			problemJSON(w, 400, "invalid_argument", err.Error())
			return
		}
		if subject == "bob" {
			problemJSON(w, 403, "permission_denied", "the store's upload rule denies this request")
			return
		}
		if f.apiFailures["create"] > 0 {
			f.apiFailures["create"]--
			f.apiFailed["create"]++
			w.Header().Set("Retry-After", "1")
			problemJSON(w, 503, "provider_unavailable", "the store's provider is restarting; try again")
			return
		}
		if in.Size > fakeMaxSize {
			problemJSON(w, 413, "too_large", fmt.Sprintf("size %d exceeds the store's max_size of 100 MiB", in.Size))
			return
		}
		f.next++
		id := "up" + strconv.Itoa(f.next)
		u := &fakeUpload{key: fmt.Sprintf("users/%s/%d/%s", subject, f.next, in.Filename), ctype: in.ContentType, size: in.Size, part: fakePartSize, parts: map[int][]byte{}}
		f.uploads[id] = u
		exp := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		if in.Size <= fakeThreshold && !in.Multipart {
			u.single = true
			rec := f.recipe("/p/"+id+"/0", map[string]string{"Content-Type": in.ContentType})
			rec["upload_id"], rec["key"] = id, u.key
			writeJSON(w, 201, rec)
			return
		}
		count := int((in.Size + fakePartSize - 1) / fakePartSize)
		var first []map[string]any
		for n := 1; n <= count && n <= 2; n++ {
			first = append(first, f.partRecipe(id, n))
		}
		writeJSON(w, 201, map[string]any{"upload_id": id, "key": u.key, "expires_at": exp,
			"multipart": map[string]any{"part_size": fakePartSize, "part_count": count}, "parts": first})
	case strings.HasPrefix(p, "stores/media/uploads/"):
		rest := strings.Split(strings.TrimPrefix(p, "stores/media/uploads/"), "/")
		u := f.uploads[rest[0]]
		if u == nil {
			problemJSON(w, 404, "not_found", "no such upload")
			return
		}
		id := rest[0]
		if len(rest) == 2 && rest[1] == "complete" && r.Method == "POST" && strings.HasSuffix(u.key, "/date.bin") {
			f.dateCompletes = append(f.dateCompletes, time.Now())
			if len(f.dateCompletes) == 1 {
				// As a proxy may send it: an HTTP date, 3 s ahead.
				w.Header().Set("Retry-After", time.Now().Add(3*time.Second).UTC().Format(http.TimeFormat))
				problemJSON(w, 503, "hook_unavailable", "the application's hook is unavailable; retry after Retry-After")
				return
			}
		}
		if len(rest) == 2 && r.Method == "POST" && f.apiFailures[rest[1]] > 0 {
			f.apiFailures[rest[1]]--
			f.apiFailed[rest[1]]++
			w.Header().Set("Retry-After", "1")
			problemJSON(w, 503, "provider_unavailable", "the store's provider is restarting; try again")
			return
		}
		switch {
		case len(rest) == 1 && r.Method == "DELETE":
			delete(f.uploads, id)
			f.aborted = append(f.aborted, id)
			w.WriteHeader(204)
		case len(rest) == 2 && rest[1] == "parts" && r.Method == "POST":
			var in struct {
				PartNumbers []int `json:"part_numbers"`
			}
			_ = json.NewDecoder(r.Body).Decode(&in)
			var out []map[string]any
			for _, n := range in.PartNumbers {
				out = append(out, f.partRecipe(id, n))
			}
			writeJSON(w, 200, map[string]any{"parts": out})
		case len(rest) == 2 && rest[1] == "parts" && r.Method == "GET":
			var out []map[string]any
			for n, b := range u.parts {
				out = append(out, map[string]any{"part_number": n, "size": len(b), "etag": etag(b)})
			}
			sort.Slice(out, func(i, j int) bool { return out[i]["part_number"].(int) < out[j]["part_number"].(int) })
			writeJSON(w, 200, map[string]any{"parts": out})
		case len(rest) == 2 && rest[1] == "complete" && r.Method == "POST":
			var in struct {
				Parts []struct {
					PartNumber int    `json:"part_number"`
					ETag       string `json:"etag"`
				} `json:"parts"`
			}
			_ = json.NewDecoder(r.Body).Decode(&in)
			var data []byte
			if u.single {
				data = u.parts[0]
			} else {
				for i, p := range in.Parts {
					b, ok := u.parts[p.PartNumber]
					if !ok || p.PartNumber != i+1 || p.ETag != etag(b) {
						problemJSON(w, 409, "failed_precondition", fmt.Sprintf("part %d missing or etag mismatch", p.PartNumber))
						return
					}
					data = append(data, b...)
				}
			}
			if int64(len(data)) != u.size {
				problemJSON(w, 409, "failed_precondition", fmt.Sprintf("stored %d bytes, declared %d", len(data), u.size))
				return
			}
			f.objects[u.key] = fakeObject{data: data, ctype: u.ctype, mod: time.Now()}
			delete(f.uploads, id)
			writeJSON(w, 200, f.objectJSON(u.key))
		default:
			problemJSON(w, 405, "method_not_allowed", "")
		}
	case p == "stores/media/objects" && r.Method == "GET":
		var out []map[string]any
		for k := range f.objects {
			if strings.HasPrefix(k, r.URL.Query().Get("prefix")) {
				out = append(out, f.objectJSON(k))
			}
		}
		writeJSON(w, 200, map[string]any{"objects": out})
	case strings.HasPrefix(p, "stores/media/objects/") && r.Method == "GET":
		key := strings.TrimPrefix(p, "stores/media/objects/")
		if _, ok := f.objects[key]; !ok {
			problemJSON(w, 404, "not_found", "no such object")
			return
		}
		o := f.objectJSON(key)
		o["url"] = f.Storage.URL + "/o/" + key
		if r.URL.Query().Get("disposition") == "attachment" {
			o["url"] = o["url"].(string) + "?dl=" + r.URL.Query().Get("filename")
		}
		writeJSON(w, 200, o)
	default:
		problemJSON(w, 404, "not_found", "no route")
	}
}

func (f *fakeGateway) partRecipe(id string, n int) map[string]any {
	rec := f.recipe(fmt.Sprintf("/p/%s/%d", id, n), nil)
	rec["part_number"] = n
	return rec
}

func (f *fakeGateway) objectJSON(key string) map[string]any {
	o := f.objects[key]
	return map[string]any{"key": key, "size": len(o.data), "content_type": o.ctype, "etag": etag(o.data), "last_modified": o.mod.UTC().Format(time.RFC3339)}
}

func etag(b []byte) string {
	s := md5.Sum(b)
	return `"` + hex.EncodeToString(s[:]) + `"`
}

// storage is the second origin: signed PUTs of single objects and parts, and
// GETs with Range, behind CORS that exposes ETag as real buckets must.
func (f *fakeGateway) storage(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
	h.Set("Access-Control-Allow-Methods", "GET, PUT, HEAD")
	h.Set("Access-Control-Allow-Headers", "Content-Type, Range")
	h.Set("Access-Control-Expose-Headers", "ETag, Content-Range, Accept-Ranges, Content-Length")
	if r.Method == "OPTIONS" {
		w.WriteHeader(204)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/p/") && r.Method == "PUT" {
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/p/"), "/")
		n, _ := strconv.Atoi(parts[1])
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return // client went away: nothing is stored
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		id := parts[0]
		f.putCount[id+"/"+parts[1]]++
		if u := f.uploads[id]; u != nil && f.failFile != "" && strings.HasSuffix(u.key, "/"+f.failFile) && n == 2 && f.failFileLeft > 0 {
			f.failFileLeft--
			http.Error(w, "<Error><Code>InternalError</Code></Error>", 500)
			return
		}
		if u := f.uploads[id]; u != nil && f.stallFile != "" && strings.HasSuffix(u.key, "/"+f.stallFile) && n == 2 && f.putCount[id+"/2"] == 1 {
			f.stalled++
			f.mu.Unlock()
			select { // never answer; the client must give up
			case <-r.Context().Done():
			case <-time.After(time.Minute):
			}
			f.mu.Lock()
			return
		}
		if f.failures[id+"/"+parts[1]] > 0 || f.failures["*/"+parts[1]] > 0 {
			f.failures[id+"/"+parts[1]]--
			f.failures["*/"+parts[1]] = 0
			http.Error(w, "<Error><Code>InternalError</Code></Error>", 500)
			return
		}
		u := f.uploads[id]
		if u == nil {
			http.Error(w, "<Error><Code>NoSuchUpload</Code></Error>", 404)
			return
		}
		if u.single && r.Header.Get("Content-Type") != u.ctype {
			http.Error(w, "<Error><Code>SignatureDoesNotMatch</Code></Error>", 403)
			return
		}
		u.parts[n] = body
		h.Set("ETag", etag(body))
		w.WriteHeader(200)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/o/") && (r.Method == "GET" || r.Method == "HEAD") {
		key := strings.TrimPrefix(r.URL.Path, "/o/")
		f.mu.Lock()
		o, ok := f.objects[key]
		f.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		h.Set("Content-Type", o.ctype)
		if dl := r.URL.Query().Get("dl"); dl != "" {
			h.Set("Content-Disposition", `attachment; filename="`+dl+`"`)
		}
		http.ServeContent(w, r, "", o.mod, bytes.NewReader(o.data))
		return
	}
	http.Error(w, "bad request", 400)
}
