// Package providers is the contract between Valet's gateway and the storage
// backends that sign requests for it.
//
// A Provider signs short-lived requests (request recipes) that a client sends
// directly to object storage, and performs the few metadata operations the
// gateway needs (Head, List, Delete, multipart bookkeeping). Providers never
// see users, policies or tokens: the gateway (package core) has already
// authenticated the caller, applied the store's policy and limits, and chosen
// the key before any method here is called. Drivers therefore do not re-check
// what core checked; they validate only what is specific to their backend.
//
// This package must not import core, plugins or any cloud SDK. Each backend
// lives in its own subpackage; providertest is the conformance suite every
// provider must pass over real HTTP.
package providers
