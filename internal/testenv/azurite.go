package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
)

// Azurite's well-known development account, published in Azure's docs and
// compiled into every Azurite; it grants nothing outside the emulator.
const (
	AzuriteAccount = "devstoreaccount1"
	AzuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// Azurite is a running Azurite blob service.
type Azurite struct {
	// ServiceURL is the path-style blob service URL,
	// http://127.0.0.1:PORT/devstoreaccount1.
	ServiceURL string
	Port       int
	Process    *Process

	corsMu      sync.Mutex
	corsOrigins []string
}

var (
	sharedAzuriteMu sync.Mutex
	sharedAzurite   *Azurite
)

// StartAzurite starts an in-memory Azurite blob service owned by t (stopped
// in t.Cleanup). It takes about 2 s.
func StartAzurite(t testing.TB) *Azurite {
	t.Helper()
	node := LookPath(t, "node")
	main := NodeModule(t, "azurite/dist/src/blob/main.js")
	port := FreePort(t)
	cmd := exec.Command(node, main,
		"--blobHost", "127.0.0.1", "--blobPort", strconv.Itoa(port),
		"--inMemoryPersistence",
		"--disableTelemetry",    // keeps all traffic on loopback
		"--skipApiVersionCheck", // azblob v1.8.3 sends a newer x-ms-version than Azurite 3.37 knows
	)
	a := &Azurite{Port: port, ServiceURL: "http://" + Addr(port) + "/" + AzuriteAccount}
	// Any HTTP answer (400 for a bare GET) means the listener is up.
	a.Process = Start(t, Spec{Name: "azurite", Cmd: cmd, Ready: HTTPReady("http://" + Addr(port) + "/")})
	return a
}

// SharedAzurite returns one Azurite for the whole test binary, started on
// first use. Tests isolate themselves with fresh containers. It is never
// stopped explicitly: the process dies with the test binary (Pdeathsig).
func SharedAzurite(t testing.TB) *Azurite {
	t.Helper()
	sharedAzuriteMu.Lock()
	defer sharedAzuriteMu.Unlock()
	if sharedAzurite != nil && HTTPReady("http://"+Addr(sharedAzurite.Port)+"/")(sharedAzurite.Process) == nil {
		return sharedAzurite
	}
	// Start under an owner that ignores Cleanup, so the first test's
	// cleanup does not stop the server for the tests after it.
	sharedAzurite = StartAzurite(&processOwner{TB: t})
	return sharedAzurite
}

// processOwner forwards to the first test that asked for a shared server
// but swallows its Cleanup, so the server outlives that test.
type processOwner struct {
	testing.TB
}

func (o *processOwner) Cleanup(func()) {}

// ServiceClient returns an account-key client for a.
func (a *Azurite) ServiceClient(t testing.TB) *service.Client {
	t.Helper()
	cred, err := service.NewSharedKeyCredential(AzuriteAccount, AzuriteKey)
	if err != nil {
		t.Fatalf("azurite credential: %v", err)
	}
	c, err := service.NewClientWithSharedKeyCredential(a.ServiceURL+"/", cred, nil)
	if err != nil {
		t.Fatalf("azurite client: %v", err)
	}
	return c
}

// NewContainer creates a container with a fresh random name and returns
// the name. The container is deleted in t.Cleanup.
func (a *Azurite) NewContainer(t testing.TB) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "valet-" + hex.EncodeToString(b[:])
	svc := a.ServiceClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := svc.CreateContainer(ctx, name, nil); err != nil {
		t.Fatalf("azurite: create container %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = svc.DeleteContainer(ctx, name, nil)
	})
	return name
}

// SetCORS sets the account's blob CORS rules (Set Blob Service Properties)
// so that browsers at origins may PUT, GET, HEAD and DELETE. Azure requires
// x-ms-blob-type (and the other x-ms-* headers) to be allowed for uploads,
// and ETag to be exposed for multipart clients. CORS is account-wide, so
// the rule allows every origin passed to SetCORS on this Azurite so far.
func (a *Azurite) SetCORS(t testing.TB, origins []string) {
	t.Helper()
	a.corsMu.Lock()
	defer a.corsMu.Unlock()
	for _, o := range origins {
		if !slices.Contains(a.corsOrigins, o) {
			a.corsOrigins = append(a.corsOrigins, o)
		}
	}
	if len(a.corsOrigins) == 0 {
		return
	}
	origins = a.corsOrigins
	svc := a.ServiceClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rule := &service.CORSRule{
		AllowedOrigins:  to.Ptr(strings.Join(origins, ",")),
		AllowedMethods:  to.Ptr("GET,HEAD,PUT,DELETE,OPTIONS"),
		AllowedHeaders:  to.Ptr("x-ms-blob-type,x-ms-blob-content-type,content-type,content-md5,x-ms-*,range"),
		ExposedHeaders:  to.Ptr("etag,content-length,content-type,content-range,x-ms-*"),
		MaxAgeInSeconds: to.Ptr(int32(600)),
	}
	if _, err := svc.SetProperties(ctx, &service.SetPropertiesOptions{CORS: []*service.CORSRule{rule}}); err != nil {
		t.Fatalf("azurite: set CORS for %v: %v", origins, err)
	}
}

// String describes a for logs.
func (a *Azurite) String() string { return fmt.Sprintf("azurite at %s", a.ServiceURL) }
