// sas.mjs signs blob SAS cases with the official Node SDK
// (@azure/storage-blob generateBlobSASQueryParameters), for the Go/Node
// cross-check in e2e/azure_test.go.
//
// Usage: node sas.mjs PATH/TO/node_modules/@azure/storage-blob < cases.json
// cases.json: [{account, key, container, blob, sp, se, spr, sv, rscd, rsct}]
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
  const cred = new StorageSharedKeyCredential(c.account, c.key);
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
  const q = generateBlobSASQueryParameters(values, cred);
  return { sig: q.signature, query: q.toString() };
});
process.stdout.write(JSON.stringify(out));
