package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	for _, tc := range []struct {
		path, method string
		status       int
		ctype, body  string
	}{
		{"/", "GET", 200, "text/html", "Valet"},
		// An inline empty icon: browsers do not ask for /favicon.ico (a 404).
		{"/", "GET", 200, "text/html", `<link rel="icon" href="data:,">`},
		{"/index.html", "GET", 200, "text/html", "Valet"},
		{"/valet.js", "GET", 200, "javascript", "export class Valet"},
		{"/uppy.js", "GET", 200, "javascript", "export default class ValetUploader extends BasePlugin"},
		{"/uppy.js", "GET", 200, "javascript", "from './valet.js'"},
		{"/uppy.d.ts", "GET", 200, "text/plain", "export default class ValetUploader"},
		{"/valet.d.ts", "GET", 200, "text/plain", "export class Valet"},
		{"/demo.css", "GET", 200, "text/css", ""},
		{"/web.go", "GET", 404, "", ""},
		{"/nope", "GET", 404, "", ""},
		{"/../web.go", "GET", 404, "", ""},
		{"/", "POST", 405, "", ""},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
			continue
		}
		if tc.ctype != "" && !strings.Contains(resp.Header.Get("Content-Type"), tc.ctype) {
			t.Errorf("%s: content type %q, want %q", tc.path, resp.Header.Get("Content-Type"), tc.ctype)
		}
		if !strings.Contains(string(b), tc.body) {
			t.Errorf("%s: body lacks %q", tc.path, tc.body)
		}
	}
}
