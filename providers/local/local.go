package local

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/valetgw/valet/providers"
)

// Version is reported by Info.
const Version = "1"

// Provider is the local store. The zero value is not usable; call New.
type Provider struct {
	now func() time.Time

	mu  sync.Mutex
	cur *instance
}

// instance is one applied configuration: the store on disk, its listener
// and its sweeper.
type instance struct {
	set   *settings
	st    *store
	sign  signer
	base  *url.URL
	srv   *http.Server
	ln    net.Listener
	stop  context.CancelFunc
	swept chan struct{}
}

// New returns an unconfigured local provider using the real clock.
func New() providers.Provider { return NewWithClock(time.Now) }

// NewWithClock returns a local provider that reads time from now, for
// signatures and expiry checks that tests can pin to fixed vectors.
func NewWithClock(now func() time.Time) *Provider { return &Provider{now: now} }

func (p *Provider) Info(context.Context) (providers.Info, error) {
	maxExpiry := defaultMaxExpiry
	p.mu.Lock()
	if p.cur != nil {
		maxExpiry = p.cur.set.maxExpiry
	}
	p.mu.Unlock()
	return providers.Info{
		Name:    "local",
		Version: Version,
		Capabilities: providers.Capabilities{
			SignPut: true, SignGet: true, SignDelete: true,
			BindsContentLength: true, BindsContentType: true,
			BindsChecksums:  []providers.ChecksumAlgorithm{providers.SHA256},
			BindsCreateOnly: true,
			GetOverrides:    true,
			MaxExpiry:       maxExpiry,
			Multipart:       true, MinPartSize: minPartSize, MaxPartSize: maxPartSize, MaxParts: maxParts,
			Reader:                 true,
			SignGets:               true,
			PostPolicy:             true,
			CORS:                   true,
			PartsBindContentLength: true,
			// Complete hashes the parts as it assembles them.
			MultipartChecksums: []providers.ChecksumAlgorithm{providers.SHA256},
			Notes: []string{
				"objects are served by the local plugin's own listener, not the gateway",
				"listing reads the directory tree; meant for development and single-machine stores",
				"checksum_sha256 is verified for every upload: a single PUT with another body is refused, and a multipart complete reports the sha256 of the assembled object",
			},
		},
	}, nil
}

// Configure applies cfg. The same configuration again is a no-op, so the
// host may replay it; a different one replaces the listener.
func (p *Provider) Configure(ctx context.Context, cfg providers.StoreConfig) error {
	set, err := parseConfig(cfg.Config)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur != nil && p.cur.set.fingerprint == set.fingerprint {
		return nil
	}
	// A changed config may keep the same listen address, so the old
	// listener goes first.
	if p.cur != nil {
		p.cur.close()
		p.cur = nil
	}
	inst, err := p.start(set)
	if err != nil {
		return err
	}
	p.cur = inst
	return nil
}

func (p *Provider) start(set *settings) (*instance, error) {
	st, err := openStore(set.root, p.now)
	if err != nil {
		return nil, providers.Errorf(providers.InvalidArgument, "config.root: %v", cause(err))
	}
	// Bodies a crashed predecessor was receiving go before anything is served.
	st.sweepTemps()
	ln, err := net.Listen("tcp", set.listen)
	if err != nil {
		st.close()
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, providers.Errorf(providers.Unavailable, "config.listen: %s is in use", set.listen)
		}
		return nil, providers.Errorf(providers.InvalidArgument, "config.listen: cannot listen on %s: %v", set.listen, cause(err))
	}
	base := set.publicURL
	if base == nil {
		base = &url.URL{Scheme: "http", Host: ln.Addr().String()}
	}
	inst := &instance{set: set, st: st, sign: signer{secret: set.secret, older: set.older, now: p.now}, base: base, ln: ln, swept: make(chan struct{})}
	// No ReadTimeout: a large PUT may rightly take hours. The server cuts a
	// body that goes silent for body_idle_timeout instead (idleBody).
	inst.srv = &http.Server{
		Handler:           &server{st: st, sign: inst.sign, basePath: base.Path, origins: set.origins, bodyIdle: set.bodyIdle},
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	go inst.srv.Serve(ln)
	ctx, cancel := context.WithCancel(context.Background())
	inst.stop = cancel
	go inst.sweeper(ctx)
	return inst, nil
}

// sweeper sweeps at start and then every quarter of part_max_age (between
// a second and an hour).
func (in *instance) sweeper(ctx context.Context) {
	defer close(in.swept)
	every := min(max(in.set.partMaxAge/4, time.Second), time.Hour)
	for {
		in.st.sweep(in.set.partMaxAge)
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

func (in *instance) close() {
	in.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if in.srv.Shutdown(ctx) != nil {
		in.srv.Close()
	}
	<-in.swept
	in.st.close()
}

// Close stops the listener and sweeper. The provider can be configured
// again afterwards.
func (p *Provider) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur != nil {
		p.cur.close()
		p.cur = nil
	}
	return nil
}

// URL returns the base URL signed URLs point at, or "" before Configure.
func (p *Provider) URL() string {
	in, err := p.instance()
	if err != nil {
		return ""
	}
	return in.base.String()
}

func (p *Provider) instance() (*instance, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil {
		return nil, providers.Errorf(providers.FailedPrecondition, "local store is not configured")
	}
	return p.cur, nil
}

// signer returns the configured instance after checking what every signed
// URL needs: a key that maps to a safe path and an allowed TTL.
func (p *Provider) signer(key string, ttl time.Duration) (*instance, error) {
	in, err := p.instance()
	if err != nil {
		return nil, err
	}
	if !keyMaps(key) { // keyPath builds the path; only its error is needed
		if _, err := keyPath(key); err != nil {
			return nil, err
		}
	}
	if err := in.checkTTL(ttl); err != nil {
		return nil, err
	}
	return in, nil
}

func (in *instance) checkTTL(ttl time.Duration) error {
	if ttl <= 0 {
		return providers.Errorf(providers.InvalidArgument, "ttl must be positive")
	}
	if ttl > in.set.maxExpiry {
		return providers.Errorf(providers.InvalidArgument, "ttl %s exceeds max_expiry %s", ttl, in.set.maxExpiry)
	}
	return nil
}

// url builds a signed URL for key.
func (in *instance) url(method, key string, ttl time.Duration, q url.Values) providers.Recipe {
	query, exp := in.sign.sign(method, key, ttl, q)
	base := in.base.String()
	u := make([]byte, 0, len(base)+len("/o/?")+2*len(key)+len(query))
	u = appendKeyPath(append(append(u, base...), "/o/"...), key)
	u = append(append(u, '?'), query...)
	return providers.Recipe{
		Method:    method,
		URL:       string(u),
		Headers:   map[string]string{},
		ExpiresAt: exp,
	}
}

// headerSafe reports whether v can travel in an HTTP header unchanged.
func headerSafe(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

func checkType(field, v string) error {
	if !headerSafe(v) || len(v) > 256 {
		return providers.Errorf(providers.InvalidArgument, "%s %q is not a valid header value", field, v)
	}
	return nil
}

// checkMeta allows lower-case token names and header-safe values, 2 KiB in
// all, since they come back as X-Valet-Meta-* headers.
func checkMeta(m map[string]string) error {
	total := 0
	for k, v := range m {
		if k == "" {
			return providers.Errorf(providers.InvalidArgument, "metadata name is empty")
		}
		for i := 0; i < len(k); i++ {
			if c := k[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return providers.Errorf(providers.InvalidArgument, "metadata name %q: use lower-case letters, digits, '-' and '_'", k)
			}
		}
		if !headerSafe(v) {
			return providers.Errorf(providers.InvalidArgument, "metadata %q: value has control characters", k)
		}
		total += len(k) + len(v)
	}
	if total > maxMetaBytes {
		return providers.Errorf(providers.InvalidArgument, "metadata is %d bytes, more than %d", total, maxMetaBytes)
	}
	return nil
}

func (p *Provider) SignPut(_ context.Context, req providers.PutRequest) (providers.Recipe, error) {
	in, err := p.signer(req.Key, req.TTL)
	if err != nil {
		return providers.Recipe{}, err
	}
	if req.Size < 0 || req.Size > maxPartSize {
		return providers.Recipe{}, providers.Errorf(providers.InvalidArgument, "size %d is outside 0..%d for a single PUT", req.Size, int64(maxPartSize))
	}
	if err := checkType("content type", req.ContentType); err != nil {
		return providers.Recipe{}, err
	}
	if err := checkMeta(req.Metadata); err != nil {
		return providers.Recipe{}, err
	}
	q := url.Values{pType: {req.ContentType}, pLength: {strconv.FormatInt(req.Size, 10)}}
	if c := req.Checksum; c != nil {
		if c.Algorithm != providers.SHA256 {
			return providers.Recipe{}, providers.Errorf(providers.Unimplemented, "checksum %s cannot be bound; only sha256", c.Algorithm)
		}
		if raw, err := base64Std(c.Value); err != nil || len(raw) != 32 {
			return providers.Recipe{}, providers.Errorf(providers.InvalidArgument, "sha256 checksum must be the base64 of 32 bytes")
		}
		q.Set(pSHA256, c.Value)
	}
	if req.CreateOnly {
		q.Set(pCreateOnly, "1")
	}
	for k, v := range req.Metadata {
		q.Set(pMetaPrefix+k, v)
	}
	r := in.url(http.MethodPut, req.Key, req.TTL, q)
	if req.ContentType != "" {
		r.Headers["Content-Type"] = req.ContentType
	}
	return r, nil
}

func (p *Provider) SignGet(_ context.Context, req providers.GetRequest) (providers.Recipe, error) {
	in, err := p.signer(req.Key, req.TTL)
	if err != nil {
		return providers.Recipe{}, err
	}
	q := url.Values{}
	if v := req.ResponseContentType; v != "" {
		if err := checkType("response content type", v); err != nil {
			return providers.Recipe{}, err
		}
		q.Set(pRespType, v)
	}
	if v := req.ResponseContentDisposition; v != "" {
		if !headerSafe(v) || len(v) > 1024 {
			return providers.Recipe{}, providers.Errorf(providers.InvalidArgument, "response content disposition is not a valid header value")
		}
		q.Set(pRespDisp, v)
	}
	return in.url(http.MethodGet, req.Key, req.TTL, q), nil
}

func (p *Provider) SignDelete(_ context.Context, req providers.SignDeleteRequest) (providers.Recipe, error) {
	in, err := p.signer(req.Key, req.TTL)
	if err != nil {
		return providers.Recipe{}, err
	}
	return in.url(http.MethodDelete, req.Key, req.TTL, url.Values{}), nil
}

func (p *Provider) Head(_ context.Context, req providers.HeadRequest) (providers.Object, error) {
	in, err := p.instance()
	if err != nil {
		return providers.Object{}, err
	}
	sc, err := in.st.stat(req.Key)
	if err != nil {
		return providers.Object{}, err
	}
	return sc.object(req.Key), nil
}

func (p *Provider) List(_ context.Context, req providers.ListRequest) (providers.ListPage, error) {
	in, err := p.instance()
	if err != nil {
		return providers.ListPage{}, err
	}
	limit := min(max(req.Limit, 1), 1000)
	objs, more, err := in.st.list(req.Prefix, req.Cursor, limit)
	if err != nil {
		return providers.ListPage{}, err
	}
	page := providers.ListPage{Objects: objs}
	if more && len(objs) > 0 {
		page.NextCursor = objs[len(objs)-1].Key
	}
	return page, nil
}

func (p *Provider) Delete(_ context.Context, req providers.DeleteRequest) (providers.DeleteResult, error) {
	in, err := p.instance()
	if err != nil {
		return providers.DeleteResult{}, err
	}
	return providers.DeleteResult{}, in.st.remove(req.Key)
}

func (p *Provider) CreateMultipart(_ context.Context, req providers.CreateMultipartRequest) (providers.MultipartUpload, error) {
	in, err := p.instance()
	if err != nil {
		return providers.MultipartUpload{}, err
	}
	if _, err := keyPath(req.Key); err != nil {
		return providers.MultipartUpload{}, err
	}
	if err := checkType("content type", req.ContentType); err != nil {
		return providers.MultipartUpload{}, err
	}
	if err := checkMeta(req.Metadata); err != nil {
		return providers.MultipartUpload{}, err
	}
	id, err := in.st.createUpload(upload{Key: req.Key, Type: req.ContentType, Meta: req.Metadata})
	if err != nil {
		return providers.MultipartUpload{}, err
	}
	return providers.MultipartUpload{UploadID: id}, nil
}

func (p *Provider) SignParts(_ context.Context, req providers.SignPartsRequest) (providers.SignPartsResult, error) {
	in, err := p.instance()
	if err != nil {
		return providers.SignPartsResult{}, err
	}
	if err := in.checkTTL(req.TTL); err != nil {
		return providers.SignPartsResult{}, err
	}
	if _, done, err := in.st.loadUpload(req.Key, req.UploadID); err != nil {
		return providers.SignPartsResult{}, err
	} else if done != nil {
		return providers.SignPartsResult{}, providers.Errorf(providers.FailedPrecondition, "upload %q is already complete", req.UploadID)
	}
	out := make([]providers.PartRecipe, 0, len(req.Parts))
	for _, ps := range req.Parts {
		if ps.Number < 1 || ps.Number > maxParts {
			return providers.SignPartsResult{}, providers.Errorf(providers.InvalidArgument, "part number %d is outside 1..%d", ps.Number, maxParts)
		}
		if ps.Size < 0 || ps.Size > maxPartSize {
			return providers.SignPartsResult{}, providers.Errorf(providers.InvalidArgument, "part %d size %d is outside 0..%d", ps.Number, ps.Size, int64(maxPartSize))
		}
		q := url.Values{pUpload: {req.UploadID}, pPart: {strconv.Itoa(ps.Number)}}
		if ps.Size > 0 {
			q.Set(pLength, strconv.FormatInt(ps.Size, 10))
		}
		out = append(out, providers.PartRecipe{Number: ps.Number, Recipe: in.url(http.MethodPut, req.Key, req.TTL, q)})
	}
	return providers.SignPartsResult{Parts: out}, nil
}

func (p *Provider) CompleteMultipart(_ context.Context, req providers.CompleteMultipartRequest) (providers.Object, error) {
	in, err := p.instance()
	if err != nil {
		return providers.Object{}, err
	}
	return in.st.completeSum(req.Key, req.UploadID, req.Parts, req.Checksum)
}

func (p *Provider) AbortMultipart(_ context.Context, req providers.AbortMultipartRequest) (providers.AbortMultipartResult, error) {
	in, err := p.instance()
	if err != nil {
		return providers.AbortMultipartResult{}, err
	}
	return providers.AbortMultipartResult{}, in.st.abort(req.Upload.Key, req.Upload.UploadID)
}

func (p *Provider) ListParts(_ context.Context, req providers.ListPartsRequest) (providers.ListPartsResult, error) {
	in, err := p.instance()
	if err != nil {
		return providers.ListPartsResult{}, err
	}
	parts, err := in.st.listParts(req.Upload.Key, req.Upload.UploadID)
	return providers.ListPartsResult{Parts: parts}, err
}

// ReadObject implements providers.Reader: the sidecar's size is checked
// before the blob is opened for reading.
func (p *Provider) ReadObject(_ context.Context, req providers.ReadObjectRequest) (providers.ReadObjectResult, error) {
	if err := providers.CheckReadObject(req); err != nil {
		return providers.ReadObjectResult{}, err
	}
	in, err := p.instance()
	if err != nil {
		return providers.ReadObjectResult{}, err
	}
	if sc, err := in.st.stat(req.Key); err != nil {
		return providers.ReadObjectResult{}, err
	} else if sc.Size > req.MaxBytes {
		return providers.ReadObjectResult{}, providers.TooLarge(req.Key, sc.Size, req.MaxBytes)
	}
	sc, f, err := in.st.open(req.Key)
	if err != nil {
		return providers.ReadObjectResult{}, err
	}
	defer f.Close()
	data, err := providers.ReadBounded(req.Key, f, sc.Size, req.MaxBytes)
	if err != nil {
		return providers.ReadObjectResult{}, err
	}
	return providers.ReadObjectResult{Object: sc.object(req.Key), Data: data}, nil
}

var (
	_ providers.Provider  = (*Provider)(nil)
	_ providers.Multipart = (*Provider)(nil)
	_ providers.Reader    = (*Provider)(nil)
	_ providers.GetSigner = (*Provider)(nil)
)
