package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/valetgw/valet/config"
	"github.com/valetgw/valet/core/keys"
	"github.com/valetgw/valet/plugins/host"
	"github.com/valetgw/valet/providers"
)

// probePrefix is where doctor writes its probe objects. It is reserved: the
// gateway never chooses a key there from a template, and doctor deletes
// what it writes.
const probePrefix = ".valet-doctor/"

// probeType is the probe's content type: not a CORS-safelisted one, so the
// preflight carries content-type as a browser uploading a file would.
const probeType = "application/octet-stream"

// storeDoctor runs the checks of one store.
type storeDoctor struct {
	cmd     *cobra.Command
	h       *host.Host
	cfg     *config.Config
	name    string
	sc      config.StoreConfig
	timeout time.Duration

	p      *host.Plugin
	info   providers.Info
	client *http.Client
	probe  string
	body   []byte
}

// run returns the store's checks in order; a check that cannot run because
// an earlier one failed is skipped, saying which.
func (d *storeDoctor) run(ctx context.Context) []checkResult {
	var out []checkResult
	skipRest := func(why string, names ...string) []checkResult {
		for _, n := range names {
			out = append(out, checkResult{Check: n, Status: checkSkipped, Found: why})
		}
		return out
	}
	plugin := d.startPlugin(ctx)
	out = append(out, plugin)
	if plugin.Status != checkOK {
		return skipRest("the plugin did not start", "endpoint", "clock", "credentials", "roundtrip", "cors", "cleanup")
	}
	defer d.p.Close()
	d.client = &http.Client{Timeout: d.timeout, Transport: &http.Transport{DisableCompression: true, Proxy: http.ProxyFromEnvironment}}
	d.probe = probePrefix + randomHex(8) + "/probe.bin"
	if err := keys.Validate(d.probe); err != nil {
		panic("doctor: the probe key is invalid: " + err.Error()) // a constant prefix and hex: cannot happen
	}
	d.body = []byte("valet doctor probe " + d.probe + " " + strings.Repeat("0123456789", 3))

	// One signed GET of the absent probe answers three checks: does the
	// public endpoint answer, does storage accept the signature, and what
	// is the storage server's clock.
	// The clock goes before the credentials: a skewed clock makes storage
	// refuse good credentials' signatures.
	get, sent := d.probeGet(ctx)
	endpoint := d.endpointCheck(get, sent)
	clock := d.clockCheck(sent)
	out = append(out, endpoint, clock, d.credentialsCheck(ctx, sent, clock.Status == checkFailed))
	if endpoint.Status != checkOK {
		out = skipRest("the public endpoint does not answer from this host", "roundtrip", "cors")
		return append(out, d.cleanupCheck(ctx, false))
	}
	round, cors, wrote := d.roundTrip(ctx)
	out = append(out, round)
	out = append(out, cors...)
	return append(out, d.cleanupCheck(ctx, wrote))
}

func (d *storeDoctor) ctx(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, d.timeout)
}

// within calls f with q under d's per-call timeout.
func within[Q, R any](ctx context.Context, d *storeDoctor, f func(context.Context, Q) (R, error), q Q) (R, error) {
	cctx, cancel := d.ctx(ctx)
	defer cancel()
	return f(cctx, q)
}

// startPlugin is the plugin check: the store's plugin starts, accepts its
// config and answers Info.
func (d *storeDoctor) startPlugin(ctx context.Context) checkResult {
	c := checkResult{Check: "plugin"}
	sctx, cancel := context.WithTimeout(ctx, max(d.timeout, 30*time.Second))
	defer cancel()
	p, err := startStore(sctx, d.h, d.cfg, d.name)
	if err != nil {
		c.Status, c.Found = checkFailed, redactedError{err}.Error()
		switch {
		case portInUse(err):
			c.Fix = fmt.Sprintf("give doctor another listen address for this store, e.g. VALET_STORES__%s__CONFIG__LISTEN=127.0.0.1:0, while a gateway holds this one", strings.ToUpper(d.name))
		case providers.CodeOf(err) == providers.Unavailable:
			c.Fix = fmt.Sprintf("the storage service does not answer from this host: start it, or fix %s (and the network between them)", d.apiKey())
		case providers.CodeOf(err) == providers.PermissionDenied, providers.CodeOf(err) == providers.Unauthenticated:
			c.Fix = fmt.Sprintf("storage refuses the store's credentials: check %s", d.credentialKeys())
		case providers.CodeOf(err) == providers.InvalidArgument:
			c.Fix = "correct the named setting of stores." + d.name + ".config"
		default:
			c.Fix = "check stores." + d.name + ".provider and the plugin's own error above"
		}
		return c
	}
	info, err := p.Info(sctx)
	if err != nil {
		_ = p.Close()
		c.Status, c.Found = checkFailed, "Info after Configure: "+redactedError{err}.Error()
		c.Fix = "the plugin started but does not answer Info: see its log lines above"
		return c
	}
	d.p, d.info = p, info
	c.Status = checkOK
	c.Found = fmt.Sprintf("provider %s %s started and accepted stores.%s.config", info.Name, info.Version, d.name)
	return c
}

// sentRequest is one request doctor sent to storage, as far as the checks
// need it: no URL query and no body beyond the storage's error code.
type sentRequest struct {
	what       string // e.g. "signed GET of the probe"
	status     int
	header     http.Header
	code       string // the storage error code, when it sent one
	body       []byte // the response body, for a successful GET only
	err        error  // a transport error: nothing was answered
	start, end time.Time
}

func (s sentRequest) answer() string {
	if s.err != nil {
		return s.what + ": " + s.err.Error()
	}
	a := fmt.Sprintf("%s: %d", s.what, s.status)
	if s.code != "" {
		a += " " + s.code
	}
	return a
}

// send sends method to rawURL with exactly headers, extra on top, and body
// (see providers.Recipe.NewRequest).
func (d *storeDoctor) send(ctx context.Context, what, method, rawURL string, headers map[string]string, body []byte, extra map[string]string) sentRequest {
	s := sentRequest{what: what}
	rctx, cancel := d.ctx(ctx)
	defer cancel()
	req, err := providers.Recipe{Method: method, URL: rawURL, Headers: headers}.NewRequest(rctx, body, extra)
	if err != nil {
		s.err = fmt.Errorf("bad signed URL %s: %v", redactURL(rawURL), urlCause(err))
		return s
	}
	s.start = time.Now()
	res, err := d.client.Do(req)
	s.end = time.Now()
	if err != nil {
		s.err = urlCause(err)
		return s
	}
	defer res.Body.Close()
	s.status, s.header = res.StatusCode, res.Header
	b, rerr := readAtMost(res.Body, 1<<20)
	if res.StatusCode >= 300 {
		s.code = storageErrorCode(b)
	} else if rerr == nil {
		s.body = b
	}
	return s
}

// probeGet signs a GET of the absent probe and sends it.
func (d *storeDoctor) probeGet(ctx context.Context) (providers.Recipe, sentRequest) {
	r, err := within(ctx, d, d.p.SignGet, providers.GetRequest{Key: d.probe, TTL: d.ttl(d.sc.Limits.GetTTL)})
	if err != nil {
		return r, sentRequest{what: "SignGet", err: err}
	}
	return r, d.send(ctx, "signed GET of the absent probe", r.Method, r.URL, r.Headers, nil, nil)
}

// ttl is the store's TTL d, within what the provider allows.
func (d *storeDoctor) ttl(want config.Duration) time.Duration {
	t := time.Duration(want)
	if t <= 0 {
		t = 5 * time.Minute
	}
	if m := d.info.Capabilities.MaxExpiry; m > 0 && t > m {
		t = m
	}
	return t
}

// endpointCheck: the host of signed URLs resolves and answers HTTP.
func (d *storeDoctor) endpointCheck(r providers.Recipe, s sentRequest) checkResult {
	c := checkResult{Check: "endpoint", Status: checkFailed}
	fix := fmt.Sprintf("make the endpoint in signed URLs one that this host and browsers can reach: set %s", d.publicKey())
	if s.what == "SignGet" {
		c.Found, c.Fix = "SignGet of the probe: "+redactedError{s.err}.Error(), "see the plugin's error; the provider cannot sign a GET"
		return c
	}
	u, err := url.Parse(r.URL)
	if err != nil || u.Host == "" {
		c.Found, c.Fix = "the provider signed a URL without a host: "+redactURL(r.URL), fix
		return c
	}
	hostport := u.Host
	hostname := u.Hostname()
	rctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	addrs, err := net.DefaultResolver.LookupHost(rctx, hostname)
	cancel()
	if err != nil {
		c.Found, c.Fix = fmt.Sprintf("%s://%s does not resolve from this host: %v", u.Scheme, hostport, err), fix
		return c
	}
	if s.err != nil {
		c.Found, c.Fix = fmt.Sprintf("%s://%s resolves to %s but does not answer: %v", u.Scheme, hostport, strings.Join(addrs, ", "), s.err), fix+", and check that storage listens there"
		return c
	}
	c.Status = checkOK
	c.Found = fmt.Sprintf("%s://%s resolves to %s and answers HTTP (%d for the absent probe) from this host; browsers must reach it too", u.Scheme, hostport, strings.Join(addrs, ", "), s.status)
	return c
}

// credentialsCheck: the provider's own credentials (a HEAD of the absent
// probe through the plugin) and the signing credentials (storage's answer
// to the signed GET) are accepted; and how long they remain valid.
func (d *storeDoctor) credentialsCheck(ctx context.Context, get sentRequest, skewed bool) checkResult {
	c := d.credentials(ctx, get)
	if c.Status == checkFailed && skewed {
		c.Fix = "first synchronise the clocks (see the clock check), which alone makes storage refuse signatures; then, if this still fails, " + c.Fix
	}
	return c
}

func (d *storeDoctor) credentials(ctx context.Context, get sentRequest) checkResult {
	c := checkResult{Check: "credentials", Status: checkFailed}
	_, err := within(ctx, d, d.p.Head, providers.HeadRequest{Key: d.probe})
	var found []string
	switch providers.CodeOf(err) {
	case "", providers.NotFound:
		found = append(found, "HEAD of the absent probe through the provider: accepted")
	case providers.PermissionDenied, providers.Unauthenticated:
		c.Found = "HEAD of the absent probe through the provider: " + redactedError{err}.Error()
		if get.err == nil && get.status != 0 {
			// A HEAD has no body; the signed GET's answer names the cause.
			c.Found += "; " + get.answer()
		}
		c.Fix = fmt.Sprintf("storage refuses the store's credentials: check %s (a key that exists, its matching secret, and read access to the bucket)", d.credentialKeys())
		return c
	case providers.Unavailable:
		c.Found = "HEAD of the absent probe through the provider: " + redactedError{err}.Error()
		c.Fix = fmt.Sprintf("the storage service does not answer from this host: start it, or fix %s", d.apiKey())
		return c
	default:
		c.Found = "HEAD of the absent probe through the provider: " + redactedError{err}.Error()
		c.Fix = "see the provider's error; doctor expected NotFound for a key that does not exist"
		return c
	}
	switch {
	case get.err != nil || get.what == "SignGet":
		found = append(found, "the signing credentials were not tried (see endpoint)")
	case get.status == http.StatusNotFound || get.status < 300:
		found = append(found, fmt.Sprintf("storage accepted the signature (%d for the absent probe)", get.status))
	case get.status == http.StatusForbidden && get.code == "AccessDenied":
		// S3 answers 403 AccessDenied for a missing key to a signer
		// without s3:ListBucket; the round trip tells the rest.
		found = append(found, "signed GET of the absent probe: 403 AccessDenied, as S3 answers without s3:ListBucket (the round trip checks the signature)")
	case get.status == http.StatusBadRequest || get.status == http.StatusUnauthorized || get.status == http.StatusForbidden:
		c.Found = get.answer()
		c.Fix = fmt.Sprintf("storage refuses the signature: check %s (the secret must match the key id), and the clock check", d.credentialKeys())
		return c
	default:
		c.Found = get.answer()
		c.Fix = "storage answered the signed GET with an error: see its code"
		return c
	}
	found = append(found, d.lifetime(ctx))
	c.Status, c.Found = checkOK, strings.Join(found, "; ")
	return c
}

// lifetime says how long the credentials remain valid, where the provider
// says: a provider with temporary credentials clamps Info's MaxExpiry to
// their remaining lifetime after Configure.
func (d *storeDoctor) lifetime(ctx context.Context) string {
	configured := d.info.Capabilities.MaxExpiry
	temporary := false
	for _, n := range d.info.Capabilities.Notes {
		if strings.Contains(strings.ToLower(n), "temporary credentials") {
			temporary = true
		}
	}
	if newProvider, ok := builtins[d.sc.Provider]; ok && !temporary {
		cctx, cancel := d.ctx(ctx)
		bare, err := newProvider().Info(cctx)
		cancel()
		if err == nil && configured > 0 && configured < bare.Capabilities.MaxExpiry {
			temporary = true
		}
	}
	if temporary && configured > 0 {
		return fmt.Sprintf("temporary credentials: valid for about %s more, and signed URLs are clamped to that", configured.Round(time.Second))
	}
	return "credential lifetime unknown (static keys, or the provider does not report it)"
}

// clockCheck compares storage's Date with this host's clock.
func (d *storeDoctor) clockCheck(get sentRequest) checkResult {
	c := checkResult{Check: "clock"}
	if get.err != nil || get.status == 0 {
		c.Status, c.Found = checkSkipped, "storage did not answer the signed GET"
		return c
	}
	date, err := http.ParseTime(get.header.Get("Date"))
	if err != nil {
		c.Status, c.Found = checkSkipped, "storage's answer carries no Date header"
		return c
	}
	skew := clockSkew(date, get.start, get.end)
	limit, why := d.skewLimit()
	c.Found = fmt.Sprintf("storage's clock is %s this host's; signatures start failing at %s (%s)", describeSkew(skew), limit, why)
	if skew.Abs() >= limit {
		c.Status = checkFailed
		c.Fix = "synchronise the clocks of this host and the storage server with NTP (for example chrony or systemd-timesyncd)"
		return c
	}
	c.Status = checkOK
	return c
}

// clockSkew is how far the server's clock (its Date, which has a
// resolution of one second) is ahead of ours, taking the middle of the
// request and of the server's second.
func clockSkew(date, start, end time.Time) time.Duration {
	mid := start.Add(end.Sub(start) / 2)
	return date.Add(500 * time.Millisecond).Sub(mid).Round(time.Second)
}

func describeSkew(skew time.Duration) string {
	switch {
	case skew == 0:
		return "within a second of"
	case skew > 0:
		return skew.String() + " ahead of"
	default:
		return (-skew).String() + " behind"
	}
}

// skewLimit is the clock difference at which the store's signatures start
// to fail. S3 refuses a signature more than 15 minutes off its clock
// (RequestTimeTooSkewed), and doctor holds GCS to the same. Everywhere, a
// storage clock ahead by the store's shortest TTL sees fresh URLs expired.
func (d *storeDoctor) skewLimit() (time.Duration, string) {
	l := d.sc.Limits
	shortest := min(time.Duration(l.PutTTL), time.Duration(l.GetTTL), time.Duration(l.DeleteTTL))
	if shortest <= 0 {
		shortest = 5 * time.Minute
	}
	switch d.sc.Provider {
	case "s3", "minio", "gcs":
		if shortest < 15*time.Minute {
			return shortest, fmt.Sprintf("the store's shortest TTL: a storage clock that far ahead sees fresh URLs expired; %s also refuses 15m off", d.sc.Provider)
		}
		return 15 * time.Minute, d.sc.Provider + " refuses signatures more than 15m off"
	}
	return shortest, "the store's shortest TTL: a URL signed here arrives expired"
}

// roundTrip PUTs the probe as a browser would, HEADs it, reads it with a
// signed GET and a Range GET, runs the CORS checks while it exists, and
// deletes it. wrote reports whether the probe may exist.
func (d *storeDoctor) roundTrip(ctx context.Context) (checkResult, []checkResult, bool) {
	c := checkResult{Check: "roundtrip", Status: checkFailed}
	caps := d.info.Capabilities
	origins, originNote := d.origins()
	firstOrigin := ""
	if len(origins) > 0 {
		firstOrigin = origins[0]
	}
	req := providers.PutRequest{Key: d.probe, ContentType: probeType, Size: int64(len(d.body)),
		CreateOnly: caps.BindsCreateOnly, TTL: d.ttl(d.sc.Limits.PutTTL)}
	if caps.Binds(providers.SHA256) {
		sum := sha256.Sum256(d.body)
		req.Checksum = &providers.Checksum{Algorithm: providers.SHA256, Value: base64.StdEncoding.EncodeToString(sum[:])}
	}
	var steps []string
	fail := func(fix string, cors []checkResult, wrote bool) (checkResult, []checkResult, bool) {
		c.Found, c.Fix = strings.Join(steps, ", "), fix
		return c, cors, wrote
	}
	put, err := within(ctx, d, d.p.SignPut, req)
	if err != nil {
		steps = append(steps, "SignPut: "+redactedError{err}.Error())
		return fail("see the provider's error", d.corsChecks(ctx, origins, originNote, nil, nil, sentRequest{}), false)
	}
	if caps.SignPut == false {
		steps = append(steps, "the provider does not sign PUTs")
	}
	var extra map[string]string
	if firstOrigin != "" {
		extra = map[string]string{"Origin": firstOrigin}
	}
	putRes := d.send(ctx, "PUT", put.Method, put.URL, put.Headers, d.body, extra)
	steps = append(steps, putRes.answer())
	if putRes.err != nil || putRes.status >= 300 {
		return fail(d.requestFix(putRes), d.corsChecks(ctx, origins, originNote, &put, nil, sentRequest{}), putRes.err != nil)
	}

	obj, err := within(ctx, d, d.p.Head, providers.HeadRequest{Key: d.probe})
	if err != nil {
		steps = append(steps, "HEAD through the provider: "+redactedError{err}.Error())
		return fail("storage accepted the PUT but the provider cannot see the object: check that the provider and the signed URLs address the same bucket", nil, true)
	}
	steps = append(steps, fmt.Sprintf("HEAD: %d B %s", obj.Size, obj.ContentType))
	if obj.Size != int64(len(d.body)) {
		return fail(fmt.Sprintf("storage kept %d bytes of a %d-byte PUT: check proxies between this host and storage", obj.Size, len(d.body)), nil, true)
	}

	get, err := within(ctx, d, d.p.SignGet, providers.GetRequest{Key: d.probe, TTL: d.ttl(d.sc.Limits.GetTTL)})
	if err != nil {
		steps = append(steps, "SignGet: "+redactedError{err}.Error())
		return fail("see the provider's error", nil, true)
	}
	getRes := d.send(ctx, "GET", get.Method, get.URL, get.Headers, nil, nil)
	steps = append(steps, getRes.answer()+fmt.Sprintf(" %d B", len(getRes.body)))
	if getRes.err != nil || getRes.status != http.StatusOK || !bytes.Equal(getRes.body, d.body) {
		fix := d.requestFix(getRes)
		if getRes.status == http.StatusOK {
			fix = "storage answered other bytes than were PUT: check proxies or caches between this host and storage"
		}
		return fail(fix, nil, true)
	}
	const from, to = 8, 23
	rangeRes := d.send(ctx, "Range GET", get.Method, get.URL, get.Headers, nil, map[string]string{"Range": fmt.Sprintf("bytes=%d-%d", from, to)})
	steps = append(steps, rangeRes.answer()+fmt.Sprintf(" %d B", len(rangeRes.body)))
	if rangeRes.err != nil || rangeRes.status != http.StatusPartialContent || !bytes.Equal(rangeRes.body, d.body[from:to+1]) {
		fix := d.requestFix(rangeRes)
		if rangeRes.err == nil && rangeRes.status < 300 {
			fix = "storage ignores Range requests: video seeking and resumable downloads will not work; check proxies between browsers and storage"
		}
		return fail(fix, nil, true)
	}

	cors := d.corsChecks(ctx, origins, originNote, &put, &get, putRes)

	if caps.SignDelete {
		del, err := within(ctx, d, d.p.SignDelete, providers.SignDeleteRequest{Key: d.probe, TTL: d.ttl(d.sc.Limits.DeleteTTL)})
		if err != nil {
			steps = append(steps, "SignDelete: "+redactedError{err}.Error())
			return fail("see the provider's error", cors, true)
		}
		delRes := d.send(ctx, "DELETE", del.Method, del.URL, del.Headers, nil, nil)
		steps = append(steps, delRes.answer())
		if delRes.err != nil || delRes.status >= 300 {
			return fail(d.requestFix(delRes), cors, true)
		}
	} else {
		_, err := within(ctx, d, d.p.Delete, providers.DeleteRequest{Key: d.probe})
		if err != nil {
			steps = append(steps, "DELETE through the provider: "+redactedError{err}.Error())
			return fail("the store's credentials may lack delete permission", cors, true)
		}
		steps = append(steps, "DELETE through the provider (it signs no DELETE): done")
	}
	c.Status, c.Found = checkOK, strings.Join(steps, ", ")
	return c, cors, true
}

// requestFix is the fix for a signed request storage refused or did not
// answer.
func (d *storeDoctor) requestFix(s sentRequest) string {
	switch {
	case s.err != nil:
		return fmt.Sprintf("storage did not answer from this host: check %s and that storage is up", d.publicKey())
	case s.status == http.StatusForbidden || s.status == http.StatusUnauthorized || s.status == http.StatusBadRequest:
		return fmt.Sprintf("storage refused a request signed with the store's credentials: check %s, the clock check, and that no proxy rewrites the Host or signed headers", d.credentialKeys())
	default:
		return "storage answered with an error: see its status and code"
	}
}

// cleanupCheck makes sure the probe is gone: when it may have been
// written, it is deleted again through the provider and, should that
// fail, with a signed DELETE; then it must be absent, through the provider
// or, when the provider cannot tell, to a signed GET.
func (d *storeDoctor) cleanupCheck(ctx context.Context, wrote bool) checkResult {
	c := checkResult{Check: "cleanup", Status: checkFailed}
	var tried []string
	if wrote {
		_, err := within(ctx, d, d.p.Delete, providers.DeleteRequest{Key: d.probe})
		if err != nil {
			tried = append(tried, "DELETE through the provider: "+redactedError{err}.Error())
			if d.info.Capabilities.SignDelete {
				del, err := within(ctx, d, d.p.SignDelete, providers.SignDeleteRequest{Key: d.probe, TTL: d.ttl(d.sc.Limits.DeleteTTL)})
				if err == nil {
					tried = append(tried, d.send(ctx, "signed DELETE", del.Method, del.URL, del.Headers, nil, nil).answer())
				}
			}
		}
	}
	_, err := within(ctx, d, d.p.Head, providers.HeadRequest{Key: d.probe})
	gone := providers.CodeOf(err) == providers.NotFound
	how := "HEAD through the provider: NotFound"
	if err != nil && !gone {
		tried = append(tried, "HEAD through the provider: "+redactedError{err}.Error())
		_, s := d.probeGet(ctx)
		gone, how = s.err == nil && s.status == http.StatusNotFound, "a signed GET: 404"
		if !gone {
			tried = append(tried, s.answer())
		}
	}
	switch {
	case gone && !wrote:
		c.Status, c.Found = checkOK, fmt.Sprintf("nothing was written; %s is absent (%s)", d.probe, how)
	case gone:
		c.Status, c.Found = checkOK, fmt.Sprintf("no probe left behind (%s is absent: %s)", d.probe, how)
	case err == nil:
		c.Found = fmt.Sprintf("the probe %s is still there after a delete (%s)", d.probe, strings.Join(tried, "; "))
		c.Fix = "delete it by hand, and check that the store's credentials may delete and that storage honours deletes"
	case !wrote:
		c.Status, c.Found = checkOK, "nothing was written ("+strings.Join(tried, "; ")+")"
	default:
		c.Found = fmt.Sprintf("cannot tell whether the probe %s is gone: %s", d.probe, strings.Join(tried, "; "))
		c.Fix = "look for it under " + probePrefix + " in the bucket and delete it by hand"
	}
	return c
}

// origins are the browser origins to test CORS for: server.cors_origins,
// or the gateway's own origin when that is empty or "*".
func (d *storeDoctor) origins() ([]string, string) {
	var out []string
	for _, o := range d.cfg.Server.CORSOrigins {
		if o != "*" && !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	if len(out) > 0 {
		return out, "server.cors_origins"
	}
	if u, err := url.Parse(d.cfg.Server.PublicURL); err == nil && u.Scheme != "" && u.Host != "" {
		return []string{u.Scheme + "://" + u.Host}, "server.public_url's origin (server.cors_origins lists none)"
	}
	return nil, ""
}

// apiKey names the setting of the storage API endpoint the provider calls.
func (d *storeDoctor) apiKey() string {
	k := "stores." + d.name + ".config."
	switch d.sc.Provider {
	case "s3", "minio", "gcs", "azure":
		return k + "endpoint"
	case "local":
		return k + "listen"
	}
	return "the store's endpoint setting in stores." + d.name + ".config"
}

// publicKey names the setting of the endpoint signed URLs point at.
func (d *storeDoctor) publicKey() string {
	k := "stores." + d.name + ".config."
	switch d.sc.Provider {
	case "s3", "minio":
		return k + "public_endpoint (or endpoint when browsers use the same one)"
	case "gcs":
		return k + "signing_host and signing_scheme"
	case "azure":
		return k + "endpoint"
	case "local":
		return k + "public_url (it must lead to " + k + "listen)"
	}
	return "the public endpoint setting in stores." + d.name + ".config"
}

// credentialKeys names the store's credential settings.
func (d *storeDoctor) credentialKeys() string {
	k := "stores." + d.name + ".config."
	switch d.sc.Provider {
	case "s3", "minio":
		return k + "access_key_id and " + k + "secret_access_key (or their _file forms)"
	case "gcs":
		return k + "credentials_file (signer key), hmac_access_id and secret_file (signer hmac), or the IAM signBlob permission (signer iam)"
	case "azure":
		return k + "account_name and " + k + "account_key"
	case "local":
		return k + "secret (the running local store's must be the same)"
	}
	return "the credentials in stores." + d.name + ".config"
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// redactURL is a URL without its query and fragment, where signatures and
// tokens live.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}

// urlCause drops the signed URL that *url.Error repeats.
func urlCause(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err
	}
	return err
}
