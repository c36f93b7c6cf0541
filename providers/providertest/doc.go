// Package providertest is the conformance suite every provider must pass,
// and the test kit for provider and plugin authors.
//
// Run checks a configured providers.Provider over real HTTP: it signs
// requests through the provider, sends them with a plain http.Client exactly
// as a browser would (the recipe's method, URL and headers, nothing else),
// and asserts what the backend answers. Every binding that Info claims is
// violated on purpose and must be rejected by the backend itself; a
// capability that is not claimed is skipped by name, so the skip shows in
// `go test -v` output.
//
// The same suite runs against a provider in process and through a plugin
// process, so the wire protocol is held to the same assertions:
// plugins/plugintest builds a plugin from its folder, starts it as the
// gateway does, and runs this suite against it in one call (providers may
// not import the plugin host, so that entry lives with the plugins).
//
// The suite's helpers are exported for a provider's own tests: Send and
// SendAs perform a recipe exactly, PostForm sends a POST policy's form as
// a browser does, TamperSignature, TamperQuery, FlipChar and RetargetKey
// break a signed URL on purpose, Redact keeps a signature out of a failure
// message, and SpansKeepOut checks recorded trace spans for secrets.
//
// ErrorCodes runs first: the later checks tell a missing object or a
// refusal by the error's code, so when Head of a missing key is not
// NotFound (an error without a code arrives as Internal) it fails once,
// naming the code, and the checks that depend on it skip, pointing there.
// Every provider error the suite prints carries its code.
//
// With Harness.Config the suite checks Configure: an unknown key is
// InvalidArgument naming it, a secret given both inline and as KEY_file
// (Harness.SecretKeys) is refused, a second call with the same config
// keeps earlier URLs working, and with Harness.Restart the config the host
// replays after a restart gives a working store. With Harness.CORSOrigin
// it sends the preflights a browser sends before a signed PUT and a Range
// GET, and checks that the answers let that origin read ETag and refuse
// another origin.
//
// The optional capabilities are checked when claimed: Multipart,
// ReadObject (Reader), SignGets (GetSigner), PostPolicy
// (PostPolicySigner) and CORSRules (CORSConfigurer: a rule put is read
// back, a preflight from its origin is allowed and one from another origin
// refused, ETag is exposed; the bucket's own rules are kept and put back);
// a claim without its interface fails Run.
//
// The suite creates objects only under Harness.Prefix and deletes them when
// it is done. It never logs a signed URL's query, which holds the signature.
package providertest
