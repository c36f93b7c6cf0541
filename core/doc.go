// Package core is the Valet gateway: the REST API that authenticates a
// caller, applies a store's policy and limits, chooses the object key and
// asks the store's provider for a signed request. File bytes never pass
// through it. It knows providers only through providers.Provider.
//
// It is built in three layers, each calling only the one below:
//
//   - Handlers (routes.go, middleware.go, uploads.go, objects.go,
//     stores.go) speak HTTP: they authenticate, find the store, decode the
//     path, query and JSON body, call one Store method and encode its
//     answer. Wire types live beside them.
//   - Store (store.go, store_uploads.go, store_objects.go) is one
//     configured store, independent of net/http. Its methods are the
//     gateway's operations, taking the caller and plain request structs.
//     They validate keys, apply the store's rules, limits and TTL clamps,
//     plan parts, seal and open upload ids, check a completed object, and
//     return plain results or errors of the catalog (errors.go). Every
//     front door (the REST handlers, and later ones such as hooks,
//     Companion-compatible routes or playback) calls these methods.
//   - The metered provider (metrics.go) decorates the store's
//     providers.Provider and counts its failures; it changes no answer.
package core
