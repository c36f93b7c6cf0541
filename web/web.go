// Package web holds Valet's browser client (valet.js, a dependency-free ES
// module), its Uppy uploader (uppy.js, whose one dependency is Uppy, a peer)
// and the demo page, embedded into the binary. It serves static
// files only: it never sees tokens, file bytes or storage credentials.
package web

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// FS holds the embedded browser files: index.html, demo.js, demo.css,
// valet.js, uppy.js and their declarations (valet.d.ts, uppy.d.ts,
// generated from the JSDoc; see types_test.go).
//
//go:embed index.html demo.js demo.css valet.js valet.d.ts uppy.js uppy.d.ts
var FS embed.FS

// Handler serves the demo page at "/" and the clients at "/valet.js" and
// "/uppy.js" (which imports ./valet.js). Any
// other path is 404, so the handler can be mounted at the root of a mux that
// routes /v1/ elsewhere. Responses are not cached across versions: the page
// and client are small and must match the server they came from.
func Handler() http.Handler {
	files := http.FileServer(http.FS(FS))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		if name == "" {
			name = "index.html"
		}
		if _, err := fs.Stat(FS, name); err != nil || strings.HasSuffix(name, ".go") {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if name == "index.html" {
			// The dev token travels in the URL fragment, which browsers never
			// send; no-referrer keeps the page URL out of storage requests too.
			r2 := r.Clone(r.Context())
			r2.URL.Path = "/"
			files.ServeHTTP(w, r2)
			return
		}
		if strings.HasSuffix(name, ".ts") {
			h.Set("Content-Type", "text/plain; charset=utf-8")
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + name
		files.ServeHTTP(w, r2)
	})
}
