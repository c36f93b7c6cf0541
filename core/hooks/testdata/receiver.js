// The application's webhook in Valet's tests: core/hooks' unit tests
// (node_test.go) and the hooks end-to-end test (e2e/hooks_test.go) both run
// this one script. It verifies every delivery with the published
// standardwebhooks npm package, not with Valet's code, knowing only the
// secrets in HOOK_SECRETS (comma-separated whsec_...; a delivery that any of
// them verifies is accepted), and deduplicates by webhook-id as a real
// application would: an id it has accepted is answered again with the same
// answer and not recorded twice.
//
// What it answers depends on the event's key (the tests pick file names):
//   - verification fails: 401 {"message": "verification failed: <the library's error>"}
//   - upload.create of a key with "refuse-create":     403 {"message"}
//   - upload.complete of a key with "refuse-complete": 422 {"message"}
//   - upload.complete of a key with "flaky": 500 for the first two attempts of
//     an id, then the connection is dropped for the third (the receiver is down
//     for the whole first complete), then accepted;
//   - otherwise accepted, 200 {"verified": true, "id", "type", "data"} (what
//     the library parsed) and for upload.create {"metadata": {"verified-by":
//     "standardwebhooks"}}, for upload.complete {"media_id", "upload_id", "key"}.
// GET /state answers {deliveries: [...], accepted: {id: {type, data, answer}}}.
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

const deliveries = [];
const accepted = new Map(); // webhook-id -> {type, data, answer}
const attempts = new Map(); // webhook-id -> deliveries received

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

function answerFor(id, event) {
  const key = String(event.data?.key || "");
  const n = attempts.get(id);
  if (event.type === "upload.create" && key.includes("refuse-create")) {
    return { status: 403, body: { message: "the e2e receiver refuses " + key.split("/").pop() } };
  }
  if (event.type === "upload.complete" && key.includes("refuse-complete")) {
    return { status: 422, body: { message: "the e2e receiver does not want this file" } };
  }
  if (event.type === "upload.complete" && key.includes("flaky") && !accepted.has(id)) {
    if (n <= 2) return { status: 500, body: { message: "flaky" } };
    if (n === 3) return { drop: true };
  }
  if (accepted.has(id)) return { status: 200, body: accepted.get(id).answer, again: true };
  const body = { verified: true, id, type: event.type, data: event.data };
  if (event.type === "upload.create") body.metadata = { "verified-by": "standardwebhooks" };
  else if (event.type === "upload.complete") {
    Object.assign(body, { media_id: "m" + (accepted.size + 1), upload_id: event.data.upload_id, key });
  }
  accepted.set(id, { type: event.type, data: event.data, answer: body });
  return { status: 200, body };
}

const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/state") {
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ deliveries, accepted: Object.fromEntries(accepted) }));
    return;
  }
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8");
    const id = req.headers["webhook-id"] || "";
    const d = {
      id, signature: req.headers["webhook-signature"] || "", timestamp: req.headers["webhook-timestamp"] || "",
    };
    deliveries.push(d);
    const { payload, error } = verify(body, req.headers);
    if (error) {
      console.log(JSON.stringify({ id, verified: false, error: String(error.message) }));
      Object.assign(d, { verified: false, error: String(error.message), status: 401 });
      res.writeHead(401, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ message: "verification failed: " + error.message }));
      return;
    }
    console.log(JSON.stringify({ id, verified: true }));
    attempts.set(id, (attempts.get(id) || 0) + 1);
    const a = answerFor(id, payload);
    Object.assign(d, { verified: true, type: payload.type, data: payload.data, status: a.drop ? 0 : a.status, again: !!a.again });
    if (a.drop) {
      req.socket.destroy();
      return;
    }
    res.writeHead(a.status, { "Content-Type": "application/json" });
    res.end(JSON.stringify(a.body));
  });
});

server.listen(0, "127.0.0.1", () => {
  console.log("listening http://127.0.0.1:" + server.address().port);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
