// Package auth decides who a request comes from: a bearer JWT (HS256 with
// a shared secret, or RS256/ES256/EdDSA with keys from a JWKS URL or file),
// a static API key stored as its sha256, or anonymous access where enabled.
//
// Algorithms are pinned per key source: HS256 only with the configured
// secret, asymmetric algorithms only with JWKS keys of the matching type,
// and "none" never. Errors never include the presented credential.
package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/httprc/v3"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// APIKeyPrefix starts every Valet API key, so a bearer value can be told
// apart from a JWT without parsing it.
const APIKeyPrefix = "vk_"

// Principal is an authenticated caller.
type Principal struct {
	Subject string
	// Claims are the token's (or API key's) claims. They are shared between
	// requests (verified tokens are cached), so callers must not modify them.
	Claims map[string]any
	// Method is "jwt", "api_key" or "anonymous".
	Method string
}

// Errors from Authenticate. ErrNoCredentials and ErrInvalidCredentials map
// to 401; ErrUnavailable (JWKS not fetched yet) to 503.
var (
	ErrNoCredentials      = errors.New("no credentials")
	ErrInvalidCredentials = errors.New("invalid credentials")
	ErrUnavailable        = errors.New("signing keys unavailable")
)

// Reasons a credential is refused, for the gateway's log line of a 401
// (Reason). They name what failed, never the credential.
const (
	ReasonMalformed     = "malformed"       // not a JWT, or an unsupported Authorization scheme
	ReasonAlgorithm     = "algorithm"       // an algorithm Valet does not accept (none, HS384, ...), or one with no key configured
	ReasonUnknownKey    = "unknown_key"     // no JWKS key with the token's kid (or of its type)
	ReasonSignature     = "signature"       // the signature does not verify with any configured key
	ReasonExpired       = "expired"         // exp is past (beyond the leeway)
	ReasonNotYetValid   = "not_yet_valid"   // nbf or iat is in the future
	ReasonAudience      = "audience"        // aud is not auth.jwt.audience
	ReasonIssuer        = "issuer"          // iss is not auth.jwt.issuer
	ReasonClaims        = "claims"          // sub or exp missing, or the claims do not parse
	ReasonUnknownAPIKey = "unknown_api_key" // an API key whose sha256 is not configured
	ReasonNone          = "no_credentials"  // nothing presented and anonymous access is off
)

// refused is ErrInvalidCredentials with the reason.
type refused struct{ reason string }

func (e *refused) Error() string        { return "invalid credentials: " + e.reason }
func (e *refused) Is(target error) bool { return target == ErrInvalidCredentials }

func invalid(reason string) error { return &refused{reason: reason} }

// Reason says why Authenticate refused a credential: one of the Reason*
// constants, or "" for an error that is not a refusal (ErrUnavailable).
func Reason(err error) string {
	var r *refused
	switch {
	case errors.As(err, &r):
		return r.reason
	case errors.Is(err, ErrNoCredentials):
		return ReasonNone
	case errors.Is(err, ErrInvalidCredentials):
		return ReasonMalformed
	}
	return ""
}

// Options tunes an Authenticator.
type Options struct {
	// Now is the clock (nil = time.Now).
	Now func() time.Time
	// HTTPClient fetches the JWKS URL (nil = a client with a 10s timeout).
	HTTPClient *http.Client
	// FetchWait bounds how long a request waits for a JWKS fetch
	// (0 = one second).
	FetchWait time.Duration
}

// Authenticator verifies credentials. It is safe for concurrent use.
type Authenticator struct {
	cfg     Config
	now     func() time.Time
	hs256   [][]byte
	apiKeys map[string]APIKey

	jwksFile  jwk.Set
	cache     *jwk.Cache
	cancel    context.CancelFunc
	fetchWait time.Duration

	mu          sync.Mutex
	lastRefresh time.Time

	// verified remembers tokens that passed verification with this
	// Authenticator's configuration (see verifiedCache for the rules).
	verified *verifiedCache
}

// New builds an Authenticator. A JWKS file is read now; a JWKS URL is
// registered with a refreshing cache and fetched in the background, so an
// identity provider that is briefly down does not stop the gateway.
//
// The cache refetches the JWKS every auth.jwt.jwks_refresh (default 15m),
// sooner when the IdP's Cache-Control or Expires headers ask for it, but
// never more often than JWKSMinRefresh: a withdrawn key is not
// trusted for the weeks a header may ask for, and a max-age=0 cannot make
// the gateway hammer the IdP. A failed fetch is retried after
// JWKSMinRefresh, the last good key set staying in use meanwhile.
//
// With a JWKS, New refuses a configuration without an audience and an
// issuer (or their any_audience/any_issuer opt-outs), as Validate does.
func New(cfg Config, opts Options) (*Authenticator, error) {
	if errs := cfg.Check(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	a := &Authenticator{cfg: cfg, now: opts.Now, apiKeys: map[string]APIKey{}, verified: newVerifiedCache(cacheSize), fetchWait: opts.FetchWait}
	if a.now == nil {
		a.now = time.Now
	}
	if a.fetchWait <= 0 {
		a.fetchWait = defaultFetchWait
	}
	a.hs256 = cfg.JWT.hs256Keys()
	for _, k := range cfg.APIKeys {
		a.apiKeys[strings.ToLower(k.SHA256)] = k
	}
	if cfg.JWT.JWKSFile != "" {
		b, err := os.ReadFile(cfg.JWT.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("auth.jwt.jwks_file: %w", err)
		}
		set, err := jwk.Parse(b)
		if err != nil {
			return nil, fmt.Errorf("auth.jwt.jwks_file: %w", err)
		}
		if err := checkPublicSet(set); err != nil {
			return nil, fmt.Errorf("auth.jwt.jwks_file: %w", err)
		}
		a.jwksFile = set
	}
	if cfg.JWT.JWKSURL != "" {
		hc := opts.HTTPClient
		if hc == nil {
			hc = &http.Client{Timeout: 10 * time.Second}
		}
		ctx, cancel := context.WithCancel(context.Background())
		cache, err := jwk.NewCache(ctx, httprc.NewClient())
		if err != nil {
			cancel()
			return nil, fmt.Errorf("auth.jwt.jwks_url: %w", err)
		}
		maxRefresh, minRefresh := refreshBounds(cfg.JWT.JWKSRefresh)
		cl := defaultMaxAge{hc: hc, maxAge: fmt.Sprintf("max-age=%d", int64(maxRefresh/time.Second))}
		if err := cache.Register(ctx, cfg.JWT.JWKSURL, jwk.WithHTTPClient(cl), jwk.WithWaitReady(false),
			jwk.WithMinInterval(minRefresh), jwk.WithMaxInterval(maxRefresh)); err != nil {
			cancel()
			return nil, fmt.Errorf("auth.jwt.jwks_url: %w", err)
		}
		a.cache, a.cancel = cache, cancel
	}
	return a, nil
}

// refreshBounds returns the longest and shortest interval between scheduled
// fetches of a JWKS URL: auth.jwt.jwks_refresh (0 = the default) and
// JWKSMinRefresh, or the longest when that is shorter (only a config
// built without Validate, such as a test's, can ask for that).
func refreshBounds(configured time.Duration) (maxRefresh, minRefresh time.Duration) {
	maxRefresh = configured
	if maxRefresh <= 0 {
		maxRefresh = DefaultJWKSRefresh
	}
	return maxRefresh, min(JWKSMinRefresh, maxRefresh)
}

// defaultMaxAge fetches a JWKS and gives a successful response that carries
// neither a Cache-Control header nor Expires the cache lifetime maxAge (the
// longest refresh interval), which the cache would otherwise replace by its
// shortest. A response with cache headers keeps them, and the cache clamps
// what they say to the refresh bounds; a failed one is left alone, so it is
// retried after the shortest.
type defaultMaxAge struct {
	hc     *http.Client
	maxAge string
}

func (c defaultMaxAge) Do(r *http.Request) (*http.Response, error) {
	res, err := c.hc.Do(r)
	if err == nil && res.StatusCode == http.StatusOK && res.Header.Get("Cache-Control") == "" && res.Header.Get("Expires") == "" {
		if res.Header == nil {
			res.Header = http.Header{}
		}
		res.Header.Set("Cache-Control", c.maxAge)
	}
	return res, err
}

// checkPublicSet refuses symmetric keys in a JWKS: those would let anyone
// holding the document mint tokens.
func checkPublicSet(set jwk.Set) error {
	for i := 0; i < set.Len(); i++ {
		k, _ := set.Key(i)
		if k.KeyType() == jwa.OctetSeq() {
			return errors.New("symmetric (oct) keys are not allowed in a JWKS")
		}
	}
	return nil
}

// Close stops the JWKS refresher.
func (a *Authenticator) Close() {
	if a.cancel != nil {
		a.cancel()
	}
}

// Credential extracts the credential from a request: "Authorization:
// Bearer X" or "X-API-Key: X". It returns "" when there is none.
func Credential(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, v, _ := strings.Cut(h, " ")
		if strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(v)
		}
		return "\x00invalid" // an unsupported scheme is a bad credential, not none
	}
	return strings.TrimSpace(r.Header.Get("X-API-Key"))
}

// Authenticate verifies a credential as returned by Credential (or taken
// from an access_token query parameter). An empty credential gives the
// anonymous principal where enabled, else ErrNoCredentials. A present but
// bad credential never falls back to anonymous.
func (a *Authenticator) Authenticate(ctx context.Context, cred string) (Principal, error) {
	switch {
	case cred == "":
		if a.cfg.Anonymous.Enabled {
			return Principal{Subject: a.cfg.Anonymous.Subject, Claims: map[string]any{}, Method: "anonymous"}, nil
		}
		return Principal{}, ErrNoCredentials
	case strings.HasPrefix(cred, APIKeyPrefix):
		sum := sha256.Sum256([]byte(cred))
		k, ok := a.apiKeys[hex.EncodeToString(sum[:])]
		if !ok {
			return Principal{}, invalid(ReasonUnknownAPIKey)
		}
		claims := k.Claims
		if claims == nil {
			claims = map[string]any{}
		}
		return Principal{Subject: k.Subject, Claims: claims, Method: "api_key"}, nil
	default:
		return a.verifyJWT(ctx, cred)
	}
}

func (a *Authenticator) verifyJWT(ctx context.Context, token string) (Principal, error) {
	if len(token) > 16<<10 || strings.Count(token, ".") != 2 {
		return Principal{}, invalid(ReasonMalformed)
	}
	cacheable := len(token) <= maxCachedToken
	var sum [sha256.Size]byte
	if cacheable {
		sum = sha256.Sum256([]byte(token))
		if e, ok := a.verified.get(sum, a.now()); ok {
			if e.set == nil {
				return e.principal, nil
			}
			// Verified against a JWKS from a URL: valid only while that
			// exact key set is still the current one.
			if cur, err := a.keySet(ctx, false); err == nil && cur == e.set {
				return e.principal, nil
			}
			a.verified.remove(sum)
		}
	}
	p, exp, set, err := a.verifyJWTFull(ctx, token)
	if err != nil {
		return Principal{}, err
	}
	// A token accepted only thanks to the leeway past its exp is not worth
	// remembering: the cache would refuse to serve it anyway.
	if now := a.now(); cacheable && now.Before(exp) {
		a.verified.put(sum, cacheEntry{principal: p, verifiedAt: now, exp: exp, set: set}, now)
	}
	return p, nil
}

// verifyJWTFull verifies a token's signature and claims. Besides the
// principal it returns the token's expiry and, for a key from a JWKS URL,
// the key set that verified it (what the cache needs to bound an entry).
func (a *Authenticator) verifyJWTFull(ctx context.Context, token string) (Principal, time.Time, jwk.Set, error) {
	fail := func(err error) (Principal, time.Time, jwk.Set, error) { return Principal{}, time.Time{}, nil, err }
	msg, err := jws.ParseString(token)
	if err != nil || len(msg.Signatures()) != 1 {
		return fail(invalid(ReasonMalformed))
	}
	hdr := msg.Signatures()[0].ProtectedHeaders()
	alg, ok := hdr.Algorithm()
	if !ok {
		return fail(invalid(ReasonMalformed))
	}
	kid, _ := hdr.KeyID()

	var keys []any
	var keySet jwk.Set
	switch alg {
	case jwa.HS256():
		if len(a.hs256) == 0 {
			return fail(invalid(ReasonAlgorithm))
		}
		for _, k := range a.hs256 {
			keys = append(keys, k)
		}
	case jwa.RS256(), jwa.ES256(), jwa.EdDSA():
		k, set, err := a.publicKey(ctx, alg, kid)
		if err != nil {
			return fail(err)
		}
		keys = []any{k}
		if a.jwksFile == nil {
			keySet = set
		}
	default: // none, HS384, PS256, ...: not accepted from any source
		return fail(invalid(ReasonAlgorithm))
	}

	opts := []jwt.ParseOption{
		jwt.WithValidate(true),
		jwt.WithClock(jwt.ClockFunc(a.now)),
		jwt.WithAcceptableSkew(a.cfg.JWT.Leeway),
		jwt.WithRequiredClaim("exp"),
		jwt.WithRequiredClaim("sub"),
	}
	if a.cfg.JWT.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(a.cfg.JWT.Issuer))
	}
	if a.cfg.JWT.Audience != "" {
		opts = append(opts, jwt.WithAudience(a.cfg.JWT.Audience))
	}
	// Every HS256 key of a rotation is tried, the signing one first; the
	// claims are checked with the key whose signature verifies.
	var tok jwt.Token
	for _, key := range keys {
		if _, err = jws.Verify([]byte(token), jws.WithKey(alg, key)); err != nil {
			continue
		}
		tok, err = jwt.ParseString(token, append(opts, jwt.WithKey(alg, key))...)
		break
	}
	switch {
	case tok == nil && err == nil:
		return fail(invalid(ReasonSignature))
	case err != nil:
		return fail(invalid(claimReason(err)))
	}
	sub, _ := tok.Subject()
	if sub == "" {
		return fail(invalid(ReasonClaims))
	}
	claims := map[string]any{}
	if err := json.Unmarshal(msg.Payload(), &claims); err != nil {
		return fail(invalid(ReasonClaims))
	}
	exp, ok := tok.Expiration()
	if !ok {
		return fail(invalid(ReasonClaims))
	}
	return Principal{Subject: sub, Claims: claims, Method: "jwt"}, exp, keySet, nil
}

// claimReason classifies an error of jwt.ParseString (after the signature
// verified, or jws.Verify's own).
func claimReason(err error) string {
	switch {
	case errors.Is(err, jwt.TokenExpiredError()):
		return ReasonExpired
	case errors.Is(err, jwt.TokenNotYetValidError()), errors.Is(err, jwt.InvalidIssuedAtError()):
		return ReasonNotYetValid
	case errors.Is(err, jwt.InvalidAudienceError()):
		return ReasonAudience
	case errors.Is(err, jwt.InvalidIssuerError()):
		return ReasonIssuer
	case errors.Is(err, jwt.MissingRequiredClaimError()), errors.Is(err, jwt.ValidateError()):
		return ReasonClaims
	case errors.Is(err, jws.VerificationError()), errors.Is(err, jws.VerifyError()):
		return ReasonSignature
	}
	return ReasonClaims
}

// publicKey finds the JWKS key for kid and checks that its type fits alg,
// so an RSA key can never verify an HMAC token or the reverse.
func (a *Authenticator) publicKey(ctx context.Context, alg jwa.SignatureAlgorithm, kid string) (jwk.Key, jwk.Set, error) {
	set, err := a.keySet(ctx, false)
	if err != nil {
		return nil, nil, err
	}
	k, ok := findKey(set, kid)
	if !ok && a.cache != nil {
		// An unknown kid may mean the issuer rotated keys: refresh, at most
		// once every forcedRefreshEvery so bad tokens cannot hammer the
		// issuer.
		if set, err = a.keySet(ctx, true); err == nil {
			k, ok = findKey(set, kid)
		}
	}
	if !ok {
		return nil, nil, invalid(ReasonUnknownKey)
	}
	if ka, ok := k.Algorithm(); ok && ka.String() != alg.String() {
		return nil, nil, invalid(ReasonUnknownKey)
	}
	switch alg {
	case jwa.RS256():
		ok = k.KeyType() == jwa.RSA()
	case jwa.ES256():
		crv, _ := ecCurve(k)
		ok = k.KeyType() == jwa.EC() && crv == jwa.P256()
	case jwa.EdDSA():
		crv, _ := ecCurve(k)
		ok = k.KeyType() == jwa.OKP() && crv == jwa.Ed25519()
	}
	if !ok {
		return nil, nil, invalid(ReasonUnknownKey)
	}
	return k, set, nil
}

func ecCurve(k jwk.Key) (jwa.EllipticCurveAlgorithm, bool) {
	var crv jwa.EllipticCurveAlgorithm
	if err := k.Get("crv", &crv); err != nil {
		return crv, false
	}
	return crv, true
}

func findKey(set jwk.Set, kid string) (jwk.Key, bool) {
	if set == nil {
		return nil, false
	}
	if kid != "" {
		return set.LookupKeyID(kid)
	}
	if set.Len() == 1 {
		return set.Key(0)
	}
	return nil, false
}

func (a *Authenticator) keySet(ctx context.Context, refresh bool) (jwk.Set, error) {
	if a.jwksFile != nil {
		return a.jwksFile, nil
	}
	if a.cache == nil {
		return nil, invalid(ReasonAlgorithm) // no JWKS configured for this algorithm
	}
	u := a.cfg.JWT.JWKSURL
	if refresh && a.refreshDue() {
		if set, err := a.refresh(ctx, u); err == nil {
			return set, nil
		}
	}
	// Ready blocks until the first fetch succeeds, so bound the wait.
	rctx, cancel := context.WithTimeout(ctx, a.fetchWait)
	ready := a.cache.Ready(rctx, u)
	cancel()
	if !ready {
		// The first fetch failed (or is slow): retry now, rate limited,
		// rather than wait for the cache's next scheduled refresh.
		if a.refreshDue() {
			if set, err := a.refresh(ctx, u); err == nil {
				return set, nil
			}
		}
		return nil, ErrUnavailable
	}
	set, err := a.cache.Lookup(ctx, u)
	if err != nil {
		return nil, ErrUnavailable
	}
	return checkedSet(set)
}

func (a *Authenticator) refresh(ctx context.Context, u string) (jwk.Set, error) {
	rctx, cancel := context.WithTimeout(ctx, a.fetchWait)
	defer cancel()
	set, err := a.cache.Refresh(rctx, u)
	if err != nil {
		return nil, err
	}
	return checkedSet(set)
}

// refreshDue allows one forced JWKS fetch every forcedRefreshEvery, so
// that tokens with unknown kids cannot make the gateway hammer the issuer.
// The scheduled refreshes of the cache are not counted.
func (a *Authenticator) refreshDue() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	if !a.lastRefresh.IsZero() && now.Sub(a.lastRefresh) < forcedRefreshEvery && !now.Before(a.lastRefresh) {
		return false
	}
	a.lastRefresh = now
	return true
}

const (
	// forcedRefreshEvery rate-limits the JWKS fetches that requests force
	// (an unknown kid, or no key set yet).
	forcedRefreshEvery = 30 * time.Second
	// defaultFetchWait bounds how long a request waits for a JWKS fetch.
	defaultFetchWait = time.Second
)

func checkedSet(set jwk.Set) (jwk.Set, error) {
	if err := checkPublicSet(set); err != nil {
		return nil, invalid(ReasonUnknownKey)
	}
	return set, nil
}

// MintHS256 signs a JWT with HS256. It is for development and tests
// (`valet token`); production tokens come from an identity provider.
func MintHS256(secret []byte, subject string, claims map[string]any, ttl time.Duration, issuer, audience string, now time.Time) (string, error) {
	if len(secret) == 0 {
		return "", errors.New("no HS256 secret configured (auth.jwt.hs256_secret)")
	}
	if subject == "" {
		return "", errors.New("subject is required")
	}
	if ttl <= 0 {
		return "", errors.New("ttl must be positive")
	}
	b := jwt.NewBuilder().Subject(subject).IssuedAt(now).NotBefore(now).Expiration(now.Add(ttl))
	if issuer != "" {
		b = b.Issuer(issuer)
	}
	if audience != "" {
		b = b.Audience([]string{audience})
	}
	for k, v := range claims {
		switch k {
		case "sub", "exp", "nbf", "iat", "iss", "aud":
			return "", fmt.Errorf("claim %q is set by the minter", k)
		}
		b = b.Claim(k, v)
	}
	tok, err := b.Build()
	if err != nil {
		return "", err
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.HS256(), secret))
	if err != nil {
		return "", err
	}
	return string(signed), nil
}

// MintDevToken mints an HS256 token that an Authenticator for cfg accepts:
// signed with its HS256 secret and carrying its issuer and audience.
func MintDevToken(cfg Config, subject string, claims map[string]any, ttl time.Duration) (string, error) {
	j := cfg.JWT
	var key []byte
	if keys := j.hs256Keys(); len(keys) > 0 {
		key = keys[0]
	}
	return MintHS256(key, subject, claims, ttl, j.Issuer, j.Audience, time.Now())
}
