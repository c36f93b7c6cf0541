//go:build race

package host_test

// The race detector makes the plugin binary (this test binary) several times
// slower to start, so restart-time limits are relaxed under it.
const raceEnabled = true
