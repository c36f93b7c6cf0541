// Package local is Valet's embedded object store: objects on a local disk,
// served by the provider's own HTTP listener through HMAC-signed URLs.
//
// It is what `make run` uses, and what tests use when no cloud is at hand,
// so it keeps the same contract as the cloud providers and binds everything
// it signs: exact length, content type, SHA-256 and create-only. The gateway
// never sees the bytes; this package's listener receives and serves them,
// streaming to and from disk so memory stays flat whatever the file size.
//
// Writes are atomic (temp file, fsync, rename of a small metadata file), so
// a cut, rejected or crashed upload never leaves a visible partial object.
// Keys map to paths under the root through an escaping scheme and an
// os.Root, so no key reaches outside the store (see keypath.go).
package local
