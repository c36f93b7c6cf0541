// Package s3 is Valet's provider for Amazon S3 and S3-compatible stores
// (MinIO, Cloudflare R2, versitygw, ...). It is registered twice: as "s3",
// and as "minio", which defaults to path-style addressing and requires an
// explicit endpoint.
//
// Every upload and download URL is presigned with SigV4 by aws-sdk-go-v2's
// v4.Signer, called directly rather than through the S3 presign client: it
// binds the same headers (proved by the package tests against the presign
// client and by the conformance suite against real servers) at a fraction of
// the cost. Object operations (Head, List, Delete, multipart) go through the
// SDK's S3 client against the internal endpoint; URLs are signed for the
// public endpoint, which is the one browsers reach.
//
// The package never imports the gateway and never puts credentials,
// signatures or signed URLs into errors.
package s3
