// Plays an HLS package in headless Chromium with hls.js through valet.js's
// play() for the HLS suite (e2e/hls_test.go), and prints one report line
// ("REPORT {...}") with what it saw.
//
//   node e2e/browser/hls.mjs CONFIG.json
//
// CONFIG: {playwright, gateway, page_port, hls_js, valet_js, store, token,
//          master, byterange, duration, token_ttl_s, user_data_dir}
//
// The page is served from page_port, an origin of its own: playlists come
// from the gateway (its CORS), segments from storage (the bucket's CORS).
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const require = createRequire(cfg.playwright);
const { chromium } = require('playwright-core');

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--autoplay-policy=no-user-gesture-required'];
const log = (...a) => console.error('[hls]', ...a);
const fail = (msg) => { throw new Error(msg); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const gw = new URL(cfg.gateway).origin;
const pageOrigin = `http://127.0.0.1:${cfg.page_port}`;
const files = {
  '/': ['text/html', Buffer.from('<!doctype html><meta charset="utf-8"><title>hls</title><body></body>')],
  '/valet.js': ['text/javascript', readFileSync(cfg.valet_js)],
  '/hls.mjs': ['text/javascript', readFileSync(cfg.hls_js)],
};
const server = createServer((req, res) => {
  const f = files[new URL(req.url, pageOrigin).pathname];
  if (!f) { res.writeHead(404).end(); return; }
  res.writeHead(200, { 'Content-Type': f[0], 'Cache-Control': 'no-store' }).end(f[1]);
});
await new Promise((r) => server.listen(cfg.page_port, '127.0.0.1', r));

/** Every response the page received, with where it came from. */
function watch(page) {
  const seen = [];
  page.on('requestfinished', async (req) => {
    const resp = await req.response();
    if (!resp) return;
    const u = new URL(req.url());
    const sizes = await req.sizes().catch(() => ({ responseBodySize: -1 }));
    seen.push({
      at: Date.now(), url: req.url(), origin: u.origin, path: u.pathname, status: resp.status(),
      type: resp.headers()['content-type'] || '', bytes: sizes.responseBodySize, range: req.headers().range || '',
    });
  });
  return seen;
}

/** Opens the page and starts playing key with valet.play() and hls.js. */
async function start(ctx, key, hlsConfig) {
  const page = await ctx.newPage();
  page.on('pageerror', (e) => log('page error:', e.message));
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') log('console:', m.text()); });
  const seen = watch(page);
  await page.goto(pageOrigin + '/');
  await page.evaluate(async ({ gateway, store, token, key, hlsConfig }) => {
    const { Valet } = await import('/valet.js');
    const Hls = (await import('/hls.mjs')).default;
    const v = new Valet({ baseUrl: gateway, getToken: () => token });
    const video = document.createElement('video');
    video.muted = true;
    document.body.append(video);
    window.video = video;
    window.pb = await v.play(video, store, key, { Hls, hlsConfig });
    window.firstExpiry = window.pb.media.playback_expires_at;
    window.levels = [];
    window.pb.hls.on(Hls.Events.LEVEL_SWITCHED, (_e, d) => window.levels.push(d.level));
    await video.play();
  }, { gateway: cfg.gateway, store: cfg.store, token: cfg.token, key, hlsConfig });
  return { page, seen };
}

const now = (page) => page.evaluate(() => ({
  t: window.video.currentTime, refreshes: window.pb.refreshes, level: window.pb.hls?.currentLevel, levels: window.levels,
  error: window.video.error?.message || '',
}));

/** Waits until cond(state) holds, polling every 250 ms, for at most ms. */
async function until(page, what, cond, ms) {
  const end = Date.now() + ms;
  let s;
  while (Date.now() < end) {
    s = await now(page);
    if (cond(s)) return s;
    await sleep(250);
  }
  fail(`timed out waiting for ${what}: ${JSON.stringify(s)}`);
}

const media = (r) => r.origin !== gw && r.origin !== pageOrigin;

async function scenarioPlay(ctx) {
  const t0 = Date.now();
  // A small buffer keeps hls.js fetching segments all along, so it must
  // fetch some after the first signed URLs have expired.
  const { page, seen } = await start(ctx, cfg.master, { maxBufferLength: 4, maxMaxBufferLength: 6, startLevel: 0, capLevelToPlayerSize: false, abrEwmaDefaultEstimate: 100000 });
  await until(page, 'playback of the first rendition', (s) => s.t > 2, 60_000);
  const first = await page.evaluate(() => window.pb.hls.currentLevel);
  // The other rendition (TS <-> fMP4 with EXT-X-MAP).
  await page.evaluate((l) => { window.pb.hls.currentLevel = l; }, first === 0 ? 1 : 0);
  await until(page, 'the switch to the other rendition', (s) => s.levels.includes(0) && s.levels.includes(1), 60_000);
  const afterSwitch = (await now(page)).t;
  await until(page, 'playback after the switch', (s) => s.t > afterSwitch + 2, 60_000);

  // Seek to the last third: the segments come from storage.
  const seekTo = Math.floor(cfg.duration * 2 / 3);
  const seekAt = Date.now();
  await page.evaluate((x) => { window.video.currentTime = x; }, seekTo);
  await until(page, 'playback after the seek', (s) => s.t > seekTo + 2, 60_000);
  const segIndex = (p) => { const m = /seg(\d+)\.(ts|m4s)$/.exec(p); return m ? Number(m[1]) : -1; };
  const lastThird = seen.filter((r) => r.at >= seekAt && media(r) && segIndex(r.path) >= seekTo / 2);
  if (!lastThird.length) fail(`no segment of the last third was fetched from storage after the seek: ${JSON.stringify(seen.filter((r) => r.at >= seekAt).map((r) => r.path))}`);
  if (lastThird.some((r) => r.status !== 200)) fail(`storage refused a segment: ${JSON.stringify(lastThird)}`);

  // Keep playing past the links' expiry (token_ttl_s after the master was
  // signed), with margin; playback must still advance, from storage.
  const expiry = await page.evaluate(() => Date.parse(window.firstExpiry));
  if (!(expiry > t0) || expiry > t0 + (cfg.token_ttl_s + 60) * 1000) fail(`playback_expires_at ${expiry} is not about token_ttl_s after the start`);
  while (Date.now() < expiry + 2000) await sleep(250);
  const atExpiry = await now(page);
  const after = await until(page, 'playback past the links\' expiry', (s) => s.t > atExpiry.t + 4, 90_000);
  const lateSegs = seen.filter((r) => r.at > expiry + 2000 && media(r) && r.status === 200 && segIndex(r.path) >= 0);
  if (!lateSegs.length) fail('no segment was fetched from storage after the links expired');

  // Both renditions, from storage: TS segments, and fMP4 segments with
  // their init section (EXT-X-MAP).
  const got = (re) => seen.filter((r) => media(r) && r.status === 200 && re.test(r.path)).length;
  const renditions = { ts: got(/\/ts\/seg\d+\.ts$/), fmp4: got(/\/fmp4\/seg\d+\.m4s$/), init: got(/\/fmp4\/init\.mp4$/) };
  if (!renditions.ts || !renditions.fmp4 || !renditions.init) fail(`not every rendition was fetched from storage: ${JSON.stringify(renditions)}`);
  const fromGateway = seen.filter((r) => r.origin === gw);
  const bad = fromGateway.filter((r) => !/mpegurl|json/.test(r.type) && r.status !== 302);
  if (bad.length) fail(`the gateway served something other than playlists and API answers: ${JSON.stringify(bad)}`);
  const facts = {
    GatewayBytes: fromGateway.reduce((n, r) => n + Math.max(0, r.bytes), 0),
    StorageBytes: seen.filter(media).reduce((n, r) => n + Math.max(0, r.bytes), 0),
    GatewayTypes: [...new Set(fromGateway.map((r) => r.type))],
    Refreshes: after.refreshes,
    Renditions: renditions,
    Levels: after.levels,
    Seconds: (Date.now() - t0) / 1000,
  };
  if (!facts.StorageBytes) fail('no media bytes came from storage');
  await page.close();
  return facts;
}

async function scenarioByterange(ctx) {
  const { page, seen } = await start(ctx, cfg.byterange, { maxBufferLength: 4, maxMaxBufferLength: 6 });
  await until(page, 'byte-range playback', (s) => s.t > 3, 60_000);
  const ranged = seen.filter((r) => media(r) && r.range && (r.status === 206 || r.status === 200));
  if (!ranged.length) fail(`no Range request to storage: ${JSON.stringify(seen.map((r) => [r.path, r.status, r.range]))}`);
  await page.close();
  return { ranged: ranged.length };
}

const report = {};
const ctx = await chromium.launchPersistentContext(cfg.user_data_dir, {
  executablePath: '/usr/bin/chromium', headless: true, args: FLAGS, viewport: { width: 800, height: 600 },
});
try {
  for (const [name, run] of Object.entries({ play: scenarioPlay, byterange: scenarioByterange })) {
    const t0 = Date.now();
    try {
      report[name] = { ok: true, facts: await run(ctx) };
    } catch (e) {
      report[name] = { ok: false, error: String(e?.message || e).slice(0, 3000) };
    }
    log(name, report[name].ok ? 'ok' : 'FAILED', (Date.now() - t0) / 1000 + 's');
  }
} finally {
  await ctx.close();
  server.close();
}
console.log('REPORT ' + JSON.stringify(report));
