// Package testenv starts the processes that tests run beside them: the real
// storage emulators (versitygw, MinIO, fake-gcs-server behind the verifying
// proxy, Azurite), the real valet binary, and the browser driver (node and
// headless Chromium). Every one goes through one launcher, Start or Launch,
// which captures its output for the test to show on failure, waits for it to
// be ready, stops it in t.Cleanup (SIGTERM, then SIGKILL to its process
// group) and remembers what it left running, for Main to report.
//
// A dependency that cannot be found or will not start skips the test with
// the reason, except in CI (CI=true), where it fails: see Unavailable.
// Binaries come from .tools/, installed by e2e/install.sh.
//
// Commands a test runs to completion and reads at once (`valet version`,
// `go build`, ffmpeg, a node script on stdin) stay plain exec.Command calls:
// they cannot outlive the call. This package must not import anything from
// Valet above providers (core, plugins, e2e): the providers' own tests use it.
package testenv
