// The Node receiver of docs/hooks.md, run by core/hooks' tests.
"use strict";
const http = require("node:http");
const { Webhook } = require("standardwebhooks");

const wh = new Webhook(process.env.VALET_HOOK_SECRET); // "whsec_..."
const media = new Map(); // webhook-id -> our media id; use your database

function reply(res, status, answer) {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(answer === undefined ? "" : JSON.stringify(answer));
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    let event;
    try {
      event = wh.verify(Buffer.concat(chunks).toString("utf8"), req.headers);
    } catch {
      return reply(res, 401, { message: "bad signature" });
    }
    const id = req.headers["webhook-id"];
    switch (event.type) {
      case "upload.create":
        if (!event.data.content_type.startsWith("image/")) {
          return reply(res, 403, { message: "only images, please" });
        }
        return reply(res, 200, { metadata: { owner: event.data.subject } });
      case "upload.complete":
        if (!media.has(id)) {
          media.set(id, "m" + (media.size + 1)); // save event.data here
        }
        return reply(res, 200, { media_id: media.get(id) });
      default: // object.delete, ping
        return reply(res, 204);
    }
  });
});

server.listen(Number(process.env.PORT ?? 3000), "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
