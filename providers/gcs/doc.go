// Package gcs is Valet's Google Cloud Storage provider.
//
// Uploads and downloads use V4 signed URLs against the XML API, signed by
// one of three signers chosen in config: a service-account key, the IAM
// signBlob API through Application Default Credentials (workload identity),
// or an HMAC key. Head, List, Delete and the compose calls of multipart
// uploads go through the JSON API client of cloud.google.com/go/storage.
//
// Multipart uploads are parallel composite uploads: every part is a signed
// PUT of a temporary object under a reserved prefix, and completion composes
// the parts (32 at a time, hierarchically) into the final object. The
// package never reads or writes object bytes itself.
package gcs
