package host_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	"google.golang.org/grpc/health/grpc_health_v1"

	"github.com/valetgw/valet/plugins/host"
	"github.com/valetgw/valet/providers"
)

// The three benchmarks below are read side by side (docs/benchmarks.md,
// "Plugin hop"): the cost of one SignPut in process, the same SignPut
// through a supervised plugin process (mTLS, conversion, supervision), and
// a bare gRPC unary round trip over a unix socket for reference.

var benchPut = providers.PutRequest{
	Key: "users/42/0f8fad5b-d9cb-469f-a165-70867728950e/holiday video.mp4", ContentType: "video/mp4",
	Size: 52_428_800, Metadata: map[string]string{"owner": "42"}, TTL: 15 * time.Minute,
}

func BenchmarkSignPutInProcess(b *testing.B) {
	p := &testProvider{}
	if err := p.Configure(context.Background(), providers.StoreConfig{Store: "bench", Config: []byte(`{}`)}); err != nil {
		b.Fatal(err)
	}
	benchSignPut(b, p)
}

func BenchmarkSignPutThroughPlugin(b *testing.B) {
	benchSignPut(b, startBenchPlugin(b))
}

// startBenchPlugin starts the test plugin, unconfigured, as store "bench".
func startBenchPlugin(b *testing.B) *host.Plugin {
	h := newHost(b, nil)
	p, err := h.Start(context.Background(), host.Spec{Store: "bench", Plugin: "test", Config: []byte(`{}`)})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// benchSignPut times one SignPut after another on p.
func benchSignPut(b *testing.B, p providers.Provider) {
	ctx := context.Background()
	b.ReportAllocs()
	defer reportCPU(b, pidOf(p)...)()
	for b.Loop() {
		if _, err := p.SignPut(ctx, benchPut); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBareGRPCUnixUnary(b *testing.B) {
	sock := filepath.Join(b.TempDir(), "bare.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	srv := bareGRPCServer()
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(srv.Stop)
	benchHealthCheck(b, sock)
}

// bareGRPCServer is a plain gRPC server with only the health service.
func bareGRPCServer() *grpc.Server {
	srv := grpc.NewServer()
	grpc_health_v1.RegisterHealthServer(srv, health.NewServer())
	return srv
}

// startBareServer runs a bare gRPC server in another process (this test
// binary, re-executed) and returns its socket and pid once it listens.
func startBareServer(b *testing.B) (sock string, pid int) {
	sock = filepath.Join(b.TempDir(), "bare.sock")
	cmd := selfCmd(b, "bare-grpc-server", sock)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitFor(b, 10*time.Second, "bare server listening", func() bool {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return sock, cmd.Process.Pid
}

// BenchmarkBareGRPCUnixUnaryCrossProcess is the same bare round trip with
// the server in another process (this test binary, re-executed), which is
// what the plugin hop has to cross: the fair reference for it.
func BenchmarkBareGRPCUnixUnaryCrossProcess(b *testing.B) {
	sock, pid := startBareServer(b)
	benchHealthCheck(b, sock, pid)
}

// BenchmarkBareGRPCUnixUnaryCrossProcessParallel is that bare round trip
// from 32 goroutines at once, beside SignPutThroughPluginParallel.
func BenchmarkBareGRPCUnixUnaryCrossProcessParallel(b *testing.B) {
	sock, pid := startBareServer(b)
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	c := grpc_health_v1.NewHealthClient(conn)
	b.ReportAllocs()
	b.SetParallelism(16)
	defer reportCPU(b, pid)()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Check(context.Background(), &grpc_health_v1.HealthCheckRequest{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// serveBareGRPC runs a plain gRPC health service on a unix socket until
// killed (the cross-process benchmark's server).
func serveBareGRPC(sock string) {
	ln, err := net.Listen("unix", sock)
	if err != nil {
		os.Exit(1)
	}
	_ = bareGRPCServer().Serve(ln)
}

func benchHealthCheck(b *testing.B, sock string, serverPids ...int) {
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	c := grpc_health_v1.NewHealthClient(conn)
	ctx := context.Background()
	req := &grpc_health_v1.HealthCheckRequest{}
	b.ReportAllocs()
	defer reportCPU(b, serverPids...)()
	for b.Loop() {
		if _, err := c.Check(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// pidOf is the plugin's pid, or none for an in-process provider.
func pidOf(p providers.Provider) []int {
	if hp, ok := p.(*host.Plugin); ok {
		return []int{hp.Pid()}
	}
	return nil
}

// reportCPU adds a cpu-ns/op metric: CPU time of this process plus the
// given processes (the plugin, the bare server) per operation. Wall time
// on a shared machine swings with other load; CPU time is the steadier
// measure of what the hop costs.
func reportCPU(b *testing.B, pids ...int) func() {
	start := cpuNanos(pids)
	return func() {
		b.ReportMetric(float64(cpuNanos(pids)-start)/float64(b.N), "cpu-ns/op")
	}
}

func cpuNanos(pids []int) int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	total := ru.Utime.Nano() + ru.Stime.Nano()
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		// Fields 14 and 15 of stat (utime, stime), in clock ticks of 10ms.
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		total += (ut + st) * int64(10*time.Millisecond)
	}
	return total
}

// The parallel variants issue calls from many goroutines at once, as the
// gateway does under load; calls then share wakeups on the connection.
func BenchmarkSignPutThroughPluginParallel(b *testing.B) {
	p := startBenchPlugin(b)
	b.ReportAllocs()
	b.SetParallelism(16) // 32 goroutines on 2 cores, like wrk's 32 connections
	defer reportCPU(b, p.Pid())()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if _, err := p.SignPut(ctx, benchPut); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
