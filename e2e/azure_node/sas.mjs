// sas.mjs signs blob SAS cases with the official Node SDK
// (@azure/storage-blob generateBlobSASQueryParameters), for the Go/Node
// cross-checks in providers/azure/sas_node_test.go.
//
// Usage: node sas.mjs PATH/TO/node_modules/@azure/storage-blob < cases.json
// cases.json: [{account, key, container, blob, sp, se, spr, sv, rscd, rsct, udk}]
// key is the account key (service SAS); udk, when present, is a user
// delegation key {oid, tid, start, expiry, service, version, value} and the
// case is signed as a user delegation SAS instead.
// Output: JSON array of {sig, query}, one per case, in order.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";

const pkg = process.argv[2];
if (!pkg) {
  console.error("usage: node sas.mjs PATH/TO/@azure/storage-blob < cases.json");
  process.exit(2);
}
const require = createRequire(import.meta.url);
const {
  BlobSASPermissions,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
} = require(pkg);

const cases = JSON.parse(readFileSync(0, "utf8"));
const out = cases.map((c) => {
  const values = {
    containerName: c.container,
    blobName: c.blob,
    permissions: BlobSASPermissions.parse(c.sp),
    expiresOn: new Date(c.se),
    protocol: c.spr,
    version: c.sv,
  };
  if (c.rscd) values.contentDisposition = c.rscd;
  if (c.rsct) values.contentType = c.rsct;
  const q = c.udk
    ? generateBlobSASQueryParameters(
        values,
        {
          signedObjectId: c.udk.oid,
          signedTenantId: c.udk.tid,
          signedStartsOn: new Date(c.udk.start),
          signedExpiresOn: new Date(c.udk.expiry),
          signedService: c.udk.service,
          signedVersion: c.udk.version,
          value: c.udk.value,
        },
        c.account,
      )
    : generateBlobSASQueryParameters(values, new StorageSharedKeyCredential(c.account, c.key));
  return { sig: q.signature, query: q.toString() };
});
process.stdout.write(JSON.stringify(out));
