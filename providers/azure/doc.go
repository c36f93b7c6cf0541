// Package azure is Valet's Azure Blob Storage provider.
//
// It signs blob-scoped SAS URLs with azblob: a service SAS from the account
// key, or a user delegation SAS from an Azure AD identity
// (azidentity.DefaultAzureCredential), with the delegation key cached and
// renewed before it expires. The SAS version is pinned (SASVersion) so
// signatures do not drift with SDK upgrades.
//
// A SAS binds permissions (read, write, create, delete), the blob, the
// expiry, the protocol and the response overrides rsct/rscd. It cannot bind
// request headers, so Content-Length, Content-Type and Content-MD5 are not
// claimed; the gateway verifies them at complete time. Create-only uploads
// use create permission (sp=c), which Azure refuses to use for an overwrite.
//
// Multipart uploads are block blobs: each part is a Put Block, and complete
// is a Put Block List made by the provider with the account credential.
//
// The package must not import the gateway (core); it talks only to Azure.
package azure
