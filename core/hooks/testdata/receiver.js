// A webhook receiver that verifies every delivery with the published
// standardwebhooks npm package, not with Valet's code. It knows the secrets
// in HOOK_SECRETS (comma-separated, each whsec_...) and accepts a delivery
// that any of them verifies:
//   200 {"verified": true, "id", "type", "data", "metadata"?} (metadata only
//       for upload.create, to be added to the object)
//   401 {"message": "<the library's error>"} otherwise.
// It prints "listening http://127.0.0.1:PORT" once it serves, and one JSON
// line per delivery it received ({"id", "verified", "error"?}).
"use strict";
const http = require("node:http");
const { Webhook } = require("standardwebhooks");

const secrets = (process.env.HOOK_SECRETS || "").split(",").filter(Boolean);
if (secrets.length === 0) {
  console.error("HOOK_SECRETS is empty");
  process.exit(2);
}
const hooks = secrets.map((s) => new Webhook(s));

function verify(body, headers) {
  let lastError;
  for (const wh of hooks) {
    try {
      return { payload: wh.verify(body, headers) };
    } catch (e) {
      lastError = e;
    }
  }
  return { error: lastError };
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8");
    const { payload, error } = verify(body, req.headers);
    const id = req.headers["webhook-id"] || "";
    res.setHeader("Content-Type", "application/json");
    if (error) {
      console.log(JSON.stringify({ id, verified: false, error: String(error.message) }));
      res.writeHead(401);
      res.end(JSON.stringify({ message: "verification failed: " + error.message }));
      return;
    }
    console.log(JSON.stringify({ id, verified: true }));
    const answer = { verified: true, id, type: payload.type, data: payload.data };
    if (payload.type === "upload.create") {
      answer.metadata = { "verified-by": "standardwebhooks" };
    }
    res.writeHead(200);
    res.end(JSON.stringify(answer));
  });
});

server.listen(0, "127.0.0.1", () => {
  console.log("listening http://127.0.0.1:" + server.address().port);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
