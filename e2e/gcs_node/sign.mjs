// sign.mjs signs GCS V4 URLs with the official Node SDK
// (@google-cloud/storage File#getSignedUrl), for the Go/Node cross-check in
// e2e/gcs_test.go.
//
// Usage: node sign.mjs PATH/TO/node_modules/@google-cloud/storage < cases.json
// cases.json: [{bucket, object, action: read|write|delete, accessibleAt (ISO),
//   expiresSeconds, host?, contentType?, contentMd5?, extensionHeaders?,
//   responseDisposition?, responseType?, key: {client_email, private_key}
//   | hmac: {access_id, secret}}]
// Output: JSON array of signed URLs, one per case, in order.
//
// The Node SDK only signs GOOG4-RSA-SHA256. For an "hmac" case the SDK still
// builds the canonical request (X-Goog-Algorithm overridden through its
// queryParams, which it signs), and this script derives the GOOG4 HMAC key
// and signs the string-to-sign with node:crypto, following
// https://cloud.google.com/storage/docs/authentication/signatures.
import { createRequire } from "node:module";
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";

const pkg = process.argv[2];
if (!pkg) {
  console.error("usage: node sign.mjs PATH/TO/@google-cloud/storage < cases.json");
  process.exit(2);
}
const require = createRequire(import.meta.url);
const { Storage } = require(pkg);

const hmac = (key, data) => createHmac("sha256", key).update(data).digest();

const cases = JSON.parse(readFileSync(0, "utf8"));
const out = [];
for (const c of cases) {
  let storage;
  const queryParams = {};
  if (c.hmac) {
    storage = new Storage({ projectId: "valet-test", credentials: { client_email: "unused@x", private_key: "unused" } });
    queryParams["X-Goog-Algorithm"] = "GOOG4-HMAC-SHA256";
    storage.authClient.getCredentials = async () => ({ client_email: c.hmac.access_id });
    storage.authClient.sign = async (blob) => {
      const lines = blob.split("\n");
      if (lines[0] !== "GOOG4-RSA-SHA256") throw new Error("unexpected string-to-sign");
      lines[0] = "GOOG4-HMAC-SHA256";
      const [date, region, service, term] = lines[2].split("/");
      let k = hmac("GOOG4" + c.hmac.secret, date);
      for (const part of [region, service, term]) k = hmac(k, part);
      return hmac(k, lines.join("\n")).toString("base64");
    };
  } else {
    storage = new Storage({ projectId: "valet-test", credentials: c.key });
  }
  const file = storage.bucket(c.bucket).file(c.object);
  const accessibleAt = new Date(c.accessibleAt);
  const cfg = {
    version: "v4",
    action: c.action,
    accessibleAt,
    expires: accessibleAt.valueOf() + c.expiresSeconds * 1000,
    queryParams,
  };
  if (c.host) cfg.host = c.host;
  if (c.contentType) cfg.contentType = c.contentType;
  if (c.contentMd5) cfg.contentMd5 = c.contentMd5;
  if (c.extensionHeaders) cfg.extensionHeaders = c.extensionHeaders;
  if (c.responseDisposition) cfg.responseDisposition = c.responseDisposition;
  if (c.responseType) cfg.responseType = c.responseType;
  const [u] = await file.getSignedUrl(cfg);
  out.push(u);
}
process.stdout.write(JSON.stringify(out));
