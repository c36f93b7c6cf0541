// Drives Valet's demo page in headless Chromium (playwright-core) for the
// browser end-to-end suite (e2e/browser_test.go). It runs the scenarios named
// in the config, asserting what a person would see, and prints one JSON
// report line ("REPORT {...}") with the facts the Go test checks further
// (download digests, upload ids, request counts).
//
//   node e2e/browser/demo.mjs CONFIG.json
//
// CONFIG: {playwright, gateway, store, token, expired_token, denied_token,
//          files: {small, large, cancel, resume, video, too_large}, download_dir,
//          user_data_dir, screenshot?, scenarios: [...], throttle_bps, suite?}
// With suite "uppy" it runs the Uppy suite of uppy.mjs instead, with the same
// browser and helpers (e2e/uppy_test.go).
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const require = createRequire(cfg.playwright);
const { chromium } = require('playwright-core');

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--autoplay-policy=no-user-gesture-required'];
const STACK = /\n\s+at |\bat \S+\.m?js:\d+|TypeError|ReferenceError|SyntaxError|undefined/;

const report = {};
const log = (...a) => console.error('[browser]', ...a);

function fail(msg) { throw new Error(msg); }

async function sha256File(p) {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(p)) h.update(chunk);
  return h.digest('hex');
}

const gw = new URL(cfg.gateway);
const isStorage = (u) => { try { return new URL(u).origin !== gw.origin; } catch { return false; } };

/** Opens the demo page with a token for the configured store. */
async function openDemo(ctx, token) {
  const page = await ctx.newPage();
  page.on('pageerror', (e) => log('page error:', e.message));
  await page.goto(`${cfg.gateway}/#token=${encodeURIComponent(token)}&store=${encodeURIComponent(cfg.store)}`);
  return page;
}

/** Waits until the page's store list has loaded and selected the store. */
async function waitStore(page) {
  await page.waitForFunction((s) => document.querySelector('#store')?.value === s, cfg.store, { timeout: 30_000 });
}

/** Opens the demo page with a token and waits until the store is selected. */
async function openStore(ctx, token = cfg.token) {
  const page = await openDemo(ctx, token);
  await waitStore(page);
  return page;
}

/**
 * Records, for one page, which signed part URL belongs to which part number
 * (from the gateway's JSON answers) and every PUT sent to storage. Part
 * numbers are resolved when read, because a JSON answer may be parsed after
 * the PUTs it enabled have already started.
 */
function watchParts(page, state) {
  page.on('response', async (resp) => {
    const u = resp.url();
    if (!u.startsWith(cfg.gateway + '/v1/') || resp.request().method() !== 'POST') return;
    try {
      const body = await resp.json();
      const parts = Array.isArray(body) ? body : (body?.parts || []);
      for (const p of parts) if (p.url) state.partOf.set(p.url, p.part_number);
      if (body?.multipart && body.upload_id) state.uploadId = body.upload_id;
    } catch { /* not JSON */ }
  });
  page.on('request', (req) => {
    if (req.method() === 'PUT' && isStorage(req.url())) state.puts.push(req.url());
  });
  page.on('requestfinished', async (req) => {
    if (req.method() !== 'PUT' || !isStorage(req.url())) return;
    const resp = await req.response();
    if (resp && resp.status() < 300) state.finishedUrls.push(req.url());
  });
}

function newPartState() {
  return { partOf: new Map(), puts: [], finishedUrls: [], uploadId: '' };
}

/** Opens the store's page with the upload token, watching its part requests. */
async function openWatched(ctx) {
  const page = await openStore(ctx);
  const state = newPartState();
  watchParts(page, state);
  return { page, state };
}

/**
 * Starts a throttled upload of file that cannot finish before the scenario
 * has acted on it, however slow this driver is: 8 parts, 4 at a time,
 * storage gets 6 part PUTs and the rest wait on the gate.
 */
async function startHeldUpload(ctx, file) {
  const { page, state } = await openWatched(ctx);
  await throttle(page);
  const gate = await holdPuts(page, 6);
  await page.setInputFiles('#file-input', file);
  return { page, state, gate };
}

/** Polls until cond() holds; after two minutes fails with why(). */
async function pollUntil(page, cond, why) {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > 120_000) fail(why());
    await page.waitForTimeout(50);
  }
}

/** Part numbers of urls (unknown ones are left out). */
function partNumbers(state, urls) {
  return urls.map((u) => state.partOf.get(u)).filter((n) => n !== undefined);
}

function countParts(state, urls) {
  const m = new Map();
  for (const n of partNumbers(state, urls)) m.set(n, (m.get(n) || 0) + 1);
  return m;
}

/** Slows uploads down so a test can act in the middle of one. */
async function throttle(page, down = -1) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false, latency: 0, downloadThroughput: down, uploadThroughput: cfg.throttle_bps,
  });
  return cdp;
}

/**
 * Lets the first `pass` PUTs to storage through and holds the later ones
 * (they stay pending on the page, like requests in flight), so an upload
 * cannot finish before the scenario has acted on it, whatever the
 * machine's speed. open() lets every later PUT through and drops the held
 * ones, which the page has given up by then (a cancel or a reload).
 */
async function holdPuts(page, pass) {
  const held = [];
  let open = false;
  let passed = 0;
  await page.route((u) => isStorage(u.href), (route) => {
    if (route.request().method() !== 'PUT' || open || passed < pass) {
      if (route.request().method() === 'PUT' && !open) passed++;
      return route.continue().catch(() => {});
    }
    held.push(route);
  });
  return {
    held: () => held.length,
    open: async () => {
      open = true;
      for (const r of held.splice(0)) await r.abort().catch(() => {});
    },
  };
}

const item = (page, name) => page.locator(`#uploads li[data-name="${name}"]`).first();

async function progressOf(page, name) {
  return page.evaluate((n) => Number(document.querySelector(`#uploads li[data-name="${n}"] progress`)?.value || 0), name);
}

/** Waits for an upload row to finish and fails with the page's message otherwise. */
async function waitDone(page, name, timeout = 180_000) {
  const row = item(page, name);
  await row.waitFor({ timeout: 30_000 });
  await page.waitForFunction((n) => {
    const s = document.querySelector(`#uploads li[data-name="${n}"]`)?.dataset.state;
    return s === 'done' || s === 'error' || s === 'cancelled';
  }, name, { timeout, polling: 100 });
  const st = await row.getAttribute('data-state');
  if (st !== 'done') fail(`upload of ${name} ended in state ${st}: ${await page.locator('#message').textContent()}`);
  return row.getAttribute('data-key');
}

/** Uploads a file through the file picker, records the progress bar, downloads it back through the page's link. */
async function uploadAndDownload(ctx, file) {
  const name = basename(file);
  const { page, state } = await openWatched(ctx);
  // Record every progress value the bar shows, to prove it climbs to 100.
  await page.evaluate(() => {
    window.__progress = [];
    new MutationObserver(() => {
      for (const p of document.querySelectorAll('#uploads progress')) window.__progress.push(Number(p.value));
    }).observe(document.querySelector('#uploads'), { subtree: true, attributes: true, childList: true, characterData: true });
  });
  await page.setInputFiles('#file-input', file);
  const key = await waitDone(page, name);
  const seen = await page.evaluate(() => window.__progress);
  const pct = await item(page, name).locator('.pct').textContent();
  if (Math.max(...seen, 0) !== 100 || pct !== '100%') fail(`progress for ${name} ended at ${pct} (max ${Math.max(...seen, 0)})`);
  // The file appears in the list with its size.
  const row = page.locator(`#files tr[data-key="${key}"]`);
  await row.waitFor({ timeout: 30_000 });
  const listedSize = Number(await row.getAttribute('data-size'));
  const shownType = await row.locator('td').nth(2).textContent();
  await row.locator('button.open').click();
  const link = page.locator('#download[href]');
  await link.waitFor({ timeout: 30_000 });
  const href = await link.getAttribute('href');
  if (!isStorage(href)) fail(`download link ${href} is not on the storage origin`);
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 120_000 }), link.click()]);
  const saved = join(cfg.download_dir, `${Date.now()}-${name}`);
  await download.saveAs(saved);
  const result = {
    key, listed_size: listedSize, shown_type: shownType, suggested_filename: download.suggestedFilename(),
    sha256: await sha256File(saved), size: statSync(saved).size,
    storage_puts: state.puts.length, parts: state.partOf.size ? Math.max(...state.partOf.values()) : 0,
    puts_per_part: Object.fromEntries(countParts(state, state.puts)),
    upload_id: state.uploadId, progress_samples: seen.length, progress_text: pct,
  };
  await page.close();
  return result;
}

async function scenarioUpload(ctx) {
  const out = {};
  out.small = await uploadAndDownload(ctx, cfg.files.small);
  out.large = await uploadAndDownload(ctx, cfg.files.large);
  if (out.small.storage_puts !== 1 || out.small.parts !== 0) fail(`8 MiB upload: ${out.small.storage_puts} PUTs, ${out.small.parts} parts; want one single PUT`);
  if (out.large.parts < 2) fail(`64 MiB upload was not multipart (${out.large.parts} parts)`);
  return out;
}

async function scenarioCancel(ctx) {
  const name = basename(cfg.files.cancel);
  // The upload is still unfinished at the cancel.
  const { page, state, gate } = await startHeldUpload(ctx, cfg.files.cancel);
  // Cancel halfway, once at least one part is stored, so the abort has
  // stored parts to discard as well as requests in flight.
  await pollUntil(page, async () => state.finishedUrls.length >= 1 && await progressOf(page, name) >= 40,
    () => 'the upload never got halfway');
  const at = await progressOf(page, name);
  if (at >= 100) fail('upload finished before it could be cancelled');
  const del = page.waitForResponse((r) => r.request().method() === 'DELETE' && r.url().includes('/uploads/'), { timeout: 30_000 });
  await item(page, name).locator('button.cancel').click();
  const delResp = await del;
  await page.waitForFunction((n) => document.querySelector(`#uploads li[data-name="${n}"]`)?.dataset.state === 'cancelled', name, { timeout: 30_000 });
  const msg = await page.locator('#message').isVisible() ? await page.locator('#message').textContent() : '';
  const pending = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('valet.upload:')).length);
  const out = {
    upload_id: state.uploadId, cancelled_at_percent: at, delete_status: delResp.status(),
    parts_finished: state.finishedUrls.length, parts_total: state.partOf.size, message: msg, remembered: pending,
    puts_held: gate.held(),
  };
  await gate.open();
  if (!state.uploadId) fail('no multipart upload id seen');
  if (delResp.status() >= 300) fail(`DELETE upload answered ${delResp.status()}`);
  if (pending) fail('cancelled upload still remembered for resume');
  await page.close();
  return out;
}

async function scenarioResume(ctx) {
  const name = basename(cfg.files.resume);
  // The upload cannot finish before the reload.
  const { page, state, gate } = await startHeldUpload(ctx, cfg.files.resume);
  // Reload once a few parts are stored and others are still in flight.
  await pollUntil(page, () => state.finishedUrls.length >= 2,
    () => `no part finished before the reload (${state.puts.length} PUTs sent)`);
  // A finished part is one whose success reached the page (valet.js records
  // it for resuming): storage answered 2xx and the client stored the fact.
  // A part whose answer the reload cut off may be sent again, rightly. The
  // network event can come before the page has stored the fact, so wait for
  // the page's record too.
  await page.waitForFunction(() => Object.keys(localStorage).some((k) => k.startsWith('valet.upload:') &&
    Object.keys(JSON.parse(localStorage.getItem(k)).done || {}).length > 0), null, { timeout: 30_000, polling: 20 });
  const [recorded, pctBefore] = await Promise.all([
    page.evaluate(() => {
      const out = [];
      for (const k of Object.keys(localStorage)) {
        if (k.startsWith('valet.upload:')) out.push(...Object.keys(JSON.parse(localStorage.getItem(k)).done || {}).map(Number));
      }
      return out;
    }),
    progressOf(page, name),
  ]);
  const finishedBefore = state.finishedUrls.slice();
  if (pctBefore >= 100) fail('upload finished before the reload');
  const heldBefore = gate.held();
  await page.reload();
  await gate.open();
  await waitStore(page);
  await throttle(page);
  const pending = await page.locator('#pending-list li').count();
  if (pending < 1) fail('after reload the page does not offer the unfinished upload');
  const putsBefore = state.puts.length;
  await page.setInputFiles('#file-input', cfg.files.resume);
  const key = await waitDone(page, name);
  const stateText = await item(page, name).locator('.state').textContent();
  const seenFinished = new Set(partNumbers(state, finishedBefore));
  if (seenFinished.size !== finishedBefore.length) fail(`could not map finished PUTs to part numbers (${seenFinished.size} of ${finishedBefore.length})`);
  const before = new Set(recorded.filter((n) => seenFinished.has(n)));
  if (before.size === 0) fail(`no finished part was recorded before the reload (network: ${[...seenFinished]}, recorded: ${recorded})`);
  const sent = countParts(state, state.puts);
  const counts = Object.fromEntries([...sent.entries()].sort((a, b) => a[0] - b[0]));
  const resent = [...before].filter((n) => (sent.get(n) || 0) > 1);
  const partCount = Math.max(...state.partOf.values());
  const finished = new Set(partNumbers(state, state.finishedUrls));
  const unseen = [];
  for (let n = 1; n <= partCount; n++) if (!finished.has(n)) unseen.push(n);
  const out = {
    key, upload_id: state.uploadId, finished_before_reload: [...before].sort((a, b) => a - b),
    finished_on_network_before_reload: [...seenFinished].sort((a, b) => a - b),
    puts_per_part: counts, puts_before_reload: putsBefore, puts_after_reload: state.puts.length - putsBefore, part_count: partCount,
    resent_finished: resent, unseen_parts: unseen, progress_before_reload: pctBefore, puts_held_at_reload: heldBefore,
  };
  if (resent.length) fail(`finished parts were sent again after reload: ${resent} (${JSON.stringify(out)})`);
  if (out.puts_after_reload >= partCount) fail(`resume re-sent everything (${out.puts_after_reload} PUTs for ${partCount} parts)`);
  // A part can be stored while the reload discards its response; those show
  // up here as "unseen" and were (rightly) not sent again. The download's
  // digest, checked by the Go test, proves the object is whole.
  // The completed object is whole: download it back and compare.
  const media = await page.evaluate(async ([store, k]) => {
    const { Valet } = await import('/valet.js');
    const v = new Valet({ getToken: () => sessionStorage.getItem('valet.demo.token') });
    return v.media(store, k);
  }, [cfg.store, key]);
  const resp = await page.context().request.get(media.url);
  out.sha256 = createHash('sha256').update(await resp.body()).digest('hex');
  out.state_text = stateText;
  await page.close();
  return out;
}

async function scenarioVideo(ctx) {
  const name = basename(cfg.files.video);
  const page = await openStore(ctx);
  const ranges = [];
  page.on('response', async (resp) => {
    const req = resp.request();
    if (!isStorage(req.url()) || req.method() !== 'GET') return;
    const headers = await req.allHeaders().catch(() => req.headers());
    ranges.push({ range: headers['range'] || '', status: resp.status(), at: Date.now() });
  });
  await page.setInputFiles('#file-input', cfg.files.video);
  const key = await waitDone(page, name);
  // Stream at 400 kB/s (about half the clip's bitrate) so the player has
  // not buffered the seek target when the seek happens, as over a real
  // network: the bytes at 85% take about 19 s to arrive, while starting
  // to play needs the first second or so (a few seconds at this rate).
  await throttle(page, 400_000);
  await page.locator(`#files tr[data-key="${key}"] button.open`).click();
  const video = page.locator('#viewer-media video');
  await video.waitFor({ timeout: 30_000 });
  const played = await video.evaluate((v) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`video did not play: readyState ${v.readyState}, error ${v.error?.code}`)), 60_000);
    v.muted = true;
    v.addEventListener('playing', () => { clearTimeout(timer); resolve(true); }, { once: true });
    v.play().catch((e) => { clearTimeout(timer); reject(new Error('play() failed: ' + e.message)); });
  }));
  await page.waitForFunction(() => document.querySelector('#viewer-media video').currentTime > 0.5, null, { timeout: 30_000 });
  const t1 = await video.evaluate((v) => v.currentTime);
  const beforeSeek = ranges.length;
  const seekTo = await video.evaluate((v) => new Promise((resolve, reject) => {
    const target = v.duration * 0.85;
    const timer = setTimeout(() => reject(new Error('seek did not finish')), 30_000);
    v.addEventListener('seeked', () => { clearTimeout(timer); resolve(v.currentTime); }, { once: true });
    v.currentTime = target;
  }));
  await page.waitForFunction((t) => document.querySelector('#viewer-media video').currentTime > t + 0.2, seekTo, { timeout: 30_000 });
  const afterSeek = ranges.slice(beforeSeek);
  const out = { key, played, current_time_before_seek: t1, seek_to: seekTo, ranges_before_seek: ranges.slice(0, beforeSeek), ranges_after_seek: afterSeek };
  const offset = (r) => Number(/bytes=(\d+)-/.exec(r.range)?.[1] || 0);
  if (!afterSeek.some((r) => r.status === 206 && offset(r) > 0)) fail(`the seek caused no Range request answered 206: before ${JSON.stringify(out.ranges_before_seek)}, after ${JSON.stringify(afterSeek)}`);
  await page.close();
  return out;
}

/** Takes the README screenshot: two uploads done, the clip open in the viewer. */
async function scenarioScreenshot(ctx) {
  const page = await openStore(ctx);
  await page.setInputFiles('#file-input', [cfg.files.small, cfg.files.video]);
  await waitDone(page, basename(cfg.files.small));
  const key = await waitDone(page, basename(cfg.files.video));
  await page.locator(`#files tr[data-key="${key}"] button.open`).click();
  const video = page.locator('#viewer-media video');
  await video.waitFor({ timeout: 30_000 });
  await video.evaluate((v) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`seek for the screenshot did not finish: readyState ${v.readyState}, error ${v.error?.code}`)), 30_000);
    v.addEventListener('seeked', () => { clearTimeout(timer); resolve(); }, { once: true });
    v.currentTime = 4;
  }));
  await page.locator('#download[href]').waitFor();
  // Wait for the frame at the new position, so no buffering spinner shows.
  await page.waitForFunction(() => document.querySelector('#viewer-media video').readyState >= 3, null, { timeout: 15_000 }).catch(() => {});
  await page.waitForTimeout(300);
  await page.screenshot({ path: cfg.screenshot, fullPage: true });
  await page.close();
  return { path: cfg.screenshot };
}

/** Checks that a message is shown, says what happened, and has no stack trace. */
async function messageOf(page, want) {
  const m = page.locator('#message');
  await m.waitFor({ state: 'visible', timeout: 30_000 });
  await page.waitForFunction((re) => new RegExp(re, 'i').test(document.querySelector('#message').textContent), want.source, { timeout: 30_000 });
  const text = await m.textContent();
  const body = await page.evaluate(() => document.body.innerText);
  if (STACK.test(text) || STACK.test(body)) fail(`page shows a stack trace or internal error: ${text}`);
  return text;
}

async function scenarioErrors(ctx) {
  const out = {};
  {
    const page = await openDemo(ctx, cfg.expired_token);
    out.expired = await messageOf(page, /expired/);
    await page.close();
  }
  {
    const page = await openStore(ctx, cfg.denied_token);
    await page.setInputFiles('#file-input', cfg.files.small);
    out.denied = await messageOf(page, /not allowed|policy/);
    await page.close();
  }
  {
    const page = await openStore(ctx);
    await page.setInputFiles('#file-input', cfg.files.too_large);
    out.too_large = await messageOf(page, /too large/);
    await page.close();
  }
  return out;
}

/** Runs fn(cfg.store) in a fresh page of the demo on cfg.store, closes it, and returns what fn did. */
async function inStorePage(ctx, fn) {
  const page = await openStore(ctx);
  const out = await page.evaluate(fn, cfg.store);
  await page.close();
  return out;
}

/**
 * A part request that storage never answers is abandoned after the client's
 * stall timeout and sent again (the fake gateway stalls the first PUT of
 * part 2 of "stall.bin"); the upload still completes.
 */
async function scenarioStall(ctx) {
  const out = await inStorePage(ctx, async (store) => {
    const { Valet } = await import('/valet.js');
    const v = new Valet({ getToken: () => sessionStorage.getItem('valet.demo.token'), stallTimeout: 5000, storage: null });
    const data = new Uint8Array(20 << 20);
    for (let i = 0; i < data.length; i += 4096) data[i] = i >> 12;
    const t0 = performance.now();
    const obj = await v.upload(new File([data], 'stall.bin', { type: 'application/octet-stream' }), { store });
    return { key: obj.key, size: obj.size, seconds: (performance.now() - t0) / 1000 };
  });
  if (out.size !== 20 << 20) fail(`stalled upload stored ${out.size} bytes`);
  return out;
}

/**
 * A remembered upload is resumed only for the same destination: an upload
 * of the same file that failed (the fake gateway fails part 2 of
 * "intent.bin" once) is not resumed by an upload with other metadata,
 * which aborts it and starts its own.
 */
async function scenarioIntent(ctx) {
  const out = await inStorePage(ctx, async (store) => {
    const { Valet } = await import('/valet.js');
    const mem = new Map();
    const storage = {
      get length() { return mem.size; }, key: (i) => [...mem.keys()][i] ?? null,
      getItem: (k) => mem.get(k) ?? null, setItem: (k, v) => mem.set(k, String(v)), removeItem: (k) => mem.delete(k),
    };
    const getToken = () => sessionStorage.getItem('valet.demo.token');
    const file = new File([new Uint8Array(20 << 20)], 'intent.bin', { type: 'application/octet-stream', lastModified: 1 });
    let firstError = '';
    try {
      await new Valet({ getToken, storage, retries: 0 }).upload(file, { store, metadata: { version: '1' } });
    } catch (e) { firstError = String(e?.message || e); }
    const v = new Valet({ getToken, storage });
    const remembered = v.pending().map((p) => p.upload_id);
    const rememberedKeys = v.pending().map((p) => p.key);
    const obj = await v.upload(file, { store, metadata: { version: '2' } });
    return { first_error: firstError, remembered, remembered_keys: rememberedKeys, key: obj.key, size: obj.size, pending_after: v.pending().length };
  });
  if (!out.first_error) fail('the first upload of intent.bin did not fail');
  if (out.remembered.length !== 1) fail(`failed upload not remembered: ${JSON.stringify(out)}`);
  if (out.remembered_keys.includes(out.key)) fail(`the upload with other metadata resumed the remembered one: ${JSON.stringify(out)}`);
  if (out.size !== 20 << 20 || out.pending_after !== 0) fail(`second upload: ${JSON.stringify(out)}`);
  return out;
}

/**
 * valet.js against gateway answers a page meets less often: an answer that
 * is not JSON (a wrong baseUrl) is a ValetError; an upload paused where it
 * cannot be remembered (storage: null) is aborted on the server, not left
 * open; and a Retry-After given as an HTTP date (the fake gateway answers
 * the first complete of date.bin so) is waited for.
 */
async function scenarioClient(ctx) {
  const out = await inStorePage(ctx, async (store) => {
    const { Valet, ValetError } = await import('/valet.js');
    const getToken = () => sessionStorage.getItem('valet.demo.token');
    const res = {};
    try {
      await new Valet({ getToken: () => 'html' }).stores();
      res.html = 'no error';
    } catch (e) { res.html = e instanceof ValetError ? e.code : `not a ValetError: ${e?.name}`; }

    // Watch which upload is created (the aborted upload throws, so the
    // caller never sees its id).
    const created = [];
    const realFetch = window.fetch;
    window.fetch = async (u, init) => {
      const r = await realFetch(u, init);
      if (init?.method === 'POST' && String(u).endsWith('/uploads') && r.ok) created.push((await r.clone().json()).upload_id);
      return r;
    };
    const pause = new AbortController();
    const file = new File([new Uint8Array(20 << 20)], 'pause.bin', { type: 'application/octet-stream' });
    try {
      await new Valet({ getToken, storage: null }).upload(file, { store, pauseSignal: pause.signal, onProgress: (p) => { if (p.bytes > 0) pause.abort(); } });
      res.paused = 'finished';
    } catch (e) { res.paused = e?.name; }
    window.fetch = realFetch;
    res.pause_upload = created[0] || '';

    const t0 = performance.now();
    const obj = await new Valet({ getToken, storage: null }).upload(new File([new Uint8Array(1000)], 'date.bin', { type: 'application/octet-stream' }), { store });
    res.date_seconds = (performance.now() - t0) / 1000;
    res.date_size = obj.size;

    // The resume record is written when the upload is created, then at
    // most once per rememberEvery while parts finish, and once when they
    // stop: 3 writes for the 13 parts of 100 MiB here, not one per part.
    const writes = [];
    const mem = new Map();
    const storage = {
      get length() { return mem.size; }, key: (i) => [...mem.keys()][i] ?? null, getItem: (k) => mem.get(k) ?? null,
      setItem: (k, v) => { writes.push(Object.keys(JSON.parse(v).done || {}).length); mem.set(k, String(v)); }, removeItem: (k) => mem.delete(k),
    };
    const many = await new Valet({ getToken, storage, rememberEvery: 3_600_000 }).upload(new File([new Uint8Array(100 << 20)], 'many.bin', { type: 'application/octet-stream' }), { store });
    res.many_size = many.size;
    res.record_writes = writes;
    res.record_left = mem.size;
    return res;
  });
  if (out.html !== 'invalid_response') fail(`a gateway answer that is not JSON: ${out.html}, want a ValetError invalid_response`);
  if (out.paused !== 'AbortError' || !out.pause_upload) fail(`the paused upload: ${JSON.stringify(out)}`);
  if (out.date_size !== 1000) fail(`date.bin: ${JSON.stringify(out)}`);
  if (out.many_size !== 100 << 20 || out.record_left !== 0 || out.record_writes.join() !== '0,1,13') fail(`resume record writes (parts done at each): ${JSON.stringify(out.record_writes)}, want 0,1,13; ${JSON.stringify(out)}`);
  return out;
}

const suite = cfg.suite === 'uppy'
  ? await (await import('./uppy.mjs')).uppySuite({ cfg, log, fail, STACK, throttle, holdPuts, isStorage })
  : { scenarios: { client: scenarioClient, intent: scenarioIntent, stall: scenarioStall, upload: scenarioUpload, cancel: scenarioCancel, resume: scenarioResume, video: scenarioVideo, errors: scenarioErrors, screenshot: scenarioScreenshot } };
const { scenarios } = suite;

const ctx = await chromium.launchPersistentContext(cfg.user_data_dir, {
  executablePath: '/usr/bin/chromium', headless: true, args: FLAGS, acceptDownloads: true,
  viewport: { width: 1100, height: 900 },
});
try {
  for (const name of cfg.scenarios) {
    const t0 = Date.now();
    try {
      report[name] = { ok: true, facts: await scenarios[name](ctx) };
    } catch (e) {
      report[name] = { ok: false, error: String(e?.message || e).slice(0, 2000) };
    }
    report[name].seconds = (Date.now() - t0) / 1000;
    log(name, report[name].ok ? 'ok' : 'FAILED', report[name].seconds + 's');
  }
} finally {
  await ctx.close();
  await suite.close?.();
}
console.log('REPORT ' + JSON.stringify(report));
