// Command localbench measures the local store's data path against a plain
// Go file server on the same disk, in one run, and the local plugin's peak
// RSS during a large upload. bench/local.sh builds and runs it; figures go
// to docs/benchmarks.md ("Local store").
//
// The plain server is the ceiling a Go program can reach: PUT writes a temp
// file, fsyncs and renames; GET is http.ServeFile. Both servers run as
// their own processes; the client is this process.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/valetgw/valet/plugins/host"
	"github.com/valetgw/valet/providers"
)

func main() {
	valet := flag.String("valet", "", "valet binary (serves the local plugin)")
	dir := flag.String("dir", os.TempDir(), "scratch directory (same disk for both servers)")
	size := flag.Int64("size", 1<<30, "bytes per upload/download")
	rssSize := flag.Int64("rss-size", 4<<30, "bytes uploaded while measuring the plugin's peak RSS")
	rounds := flag.Int("rounds", 2, "rounds per server and direction (best is kept)")
	servePlain := flag.String("serve-plain", "", "internal: run the plain server on ADDR")
	flag.Parse()
	if *servePlain != "" {
		plainServer(*servePlain, *dir)
		return
	}
	if *valet == "" {
		log.Fatal("-valet is required")
	}
	work, err := os.MkdirTemp(*dir, "localbench-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(work)

	// Plain server, as a child process of this binary.
	plainAddr := freeAddr()
	os.Mkdir(filepath.Join(work, "plain"), 0o750)
	plain := exec.Command(os.Args[0], "-serve-plain", plainAddr, "-dir", filepath.Join(work, "plain"))
	plain.Stderr = os.Stderr
	if err := plain.Start(); err != nil {
		log.Fatal(err)
	}
	defer plain.Process.Kill()
	waitListen(plainAddr)

	// The local store as the gateway runs it: `valet plugin serve local`.
	h, err := host.New(host.Options{Executable: *valet, Builtins: []string{"local"},
		Logger: hclog.New(&hclog.LoggerOptions{Output: io.Discard})})
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()
	localAddr := freeAddr()
	cfg, _ := json.Marshal(map[string]any{"root": filepath.Join(work, "local"), "listen": localAddr,
		"secret": "localbench-secret-0123456789"})
	ctx := context.Background()
	p, err := h.Start(ctx, host.Spec{Store: "bench", Plugin: "local", Config: cfg})
	if err != nil {
		log.Fatal(err)
	}

	type result struct{ put, get []float64 }
	var plainRes, localRes result
	for r := range *rounds {
		key := "bench/round" + strconv.Itoa(r) + ".bin"
		// Plain
		d := upload("PUT", "http://"+plainAddr+"/f/"+strconv.Itoa(r), nil, *size)
		plainRes.put = append(plainRes.put, mbps(*size, d))
		d = download("http://" + plainAddr + "/f/" + strconv.Itoa(r))
		plainRes.get = append(plainRes.get, mbps(*size, d))
		os.Remove(filepath.Join(work, "plain", strconv.Itoa(r)))
		// Local, through signed URLs
		put, err := p.SignPut(ctx, providers.PutRequest{Key: key, ContentType: "application/octet-stream", Size: *size, TTL: time.Hour})
		if err != nil {
			log.Fatal(err)
		}
		d = upload(put.Method, put.URL, put.Headers, *size)
		localRes.put = append(localRes.put, mbps(*size, d))
		get, err := p.SignGet(ctx, providers.GetRequest{Key: key, TTL: time.Hour})
		if err != nil {
			log.Fatal(err)
		}
		d = download(get.URL)
		localRes.get = append(localRes.get, mbps(*size, d))
		p.Delete(ctx, providers.DeleteRequest{Key: key})
	}

	// Peak RSS during a large upload.
	key := "bench/rss.bin"
	put, err := p.SignPut(ctx, providers.PutRequest{Key: key, ContentType: "application/octet-stream", Size: *rssSize, TTL: time.Hour})
	if err != nil {
		log.Fatal(err)
	}
	pid := p.Pid()
	before := vmHWM(pid)
	upload(put.Method, put.URL, put.Headers, *rssSize)
	peak := vmHWM(pid)
	p.Delete(ctx, providers.DeleteRequest{Key: key})

	best := func(xs []float64) float64 { sort.Float64s(xs); return xs[len(xs)-1] }
	pp, pg, lp, lg := best(plainRes.put), best(plainRes.get), best(localRes.put), best(localRes.get)
	fmt.Printf("| direction | plain Go server | local store (signed URL, plugin process) | ratio |\n|---|---|---|---|\n")
	fmt.Printf("| PUT %s | %.0f MB/s | %.0f MB/s | %.2f× |\n", human(*size), pp, lp, lp/pp)
	fmt.Printf("| GET %s | %.0f MB/s | %.0f MB/s | %.2f× |\n", human(*size), pg, lg, lg/pg)
	fmt.Printf("\nPlugin peak RSS (VmHWM) during a %s upload: %.1f MiB (%.1f MiB before it). Best of %d rounds; all rounds: plain PUT %s, local PUT %s, plain GET %s, local GET %s MB/s.\n",
		human(*rssSize), float64(peak)/1024, float64(before)/1024, *rounds,
		list(plainRes.put), list(localRes.put), list(plainRes.get), list(localRes.get))
}

func list(xs []float64) string {
	var s []string
	for _, x := range xs {
		s = append(s, fmt.Sprintf("%.0f", x))
	}
	return strings.Join(s, "/")
}

func human(n int64) string {
	if n >= 1<<30 && n%(1<<30) == 0 {
		return fmt.Sprintf("%d GiB", n>>30)
	}
	return fmt.Sprintf("%d MiB", n>>20)
}

func mbps(n int64, d time.Duration) float64 { return float64(n) / 1e6 / d.Seconds() }

// pattern is a 1 MiB block repeated as the upload body, so the client
// spends no time producing bytes.
var pattern = func() []byte {
	b := make([]byte, 1<<20)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}()

type repeatReader struct{ left int64 }

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := copy(p, pattern[:min(int64(len(pattern)), r.left)])
	r.left -= int64(n)
	return n, nil
}

func upload(method, url string, hdr map[string]string, size int64) time.Duration {
	req, _ := http.NewRequest(method, url, &repeatReader{left: size})
	req.ContentLength = size
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	start := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		log.Fatalf("%s: status %d", method, res.StatusCode)
	}
	return time.Since(start)
}

func download(url string) time.Duration {
	start := time.Now()
	res, err := http.Get(url)
	if err != nil {
		log.Fatal(err)
	}
	n, _ := io.CopyBuffer(io.Discard, res.Body, make([]byte, 1<<20))
	res.Body.Close()
	if res.StatusCode != 200 || n == 0 {
		log.Fatalf("GET: status %d, %d bytes", res.StatusCode, n)
	}
	return time.Since(start)
}

func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		log.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb
		}
	}
	return 0
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitListen(addr string) {
	for range 100 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	log.Fatalf("%s not listening", addr)
}

// plainServer is the reference: temp file + fsync + rename, http.ServeFile.
func plainServer(addr, dir string) {
	http.HandleFunc("/f/", func(w http.ResponseWriter, r *http.Request) {
		name := filepath.Join(dir, filepath.Base(r.URL.Path))
		switch r.Method {
		case http.MethodPut:
			f, err := os.CreateTemp(dir, ".put-*")
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			if _, err := io.Copy(f, r.Body); err != nil {
				f.Close()
				os.Remove(f.Name())
				http.Error(w, err.Error(), 400)
				return
			}
			if err := f.Sync(); err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			f.Close()
			if err := os.Rename(f.Name(), name); err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
		case http.MethodGet:
			http.ServeFile(w, r, name)
		}
	})
	log.Fatal(http.ListenAndServe(addr, nil))
}
