// The Uppy suite of the browser driver (e2e/uppy_test.go): demo.mjs loads it
// when the config says suite "uppy". It serves the test page (uppy.html) and
// the pinned npm packages it maps with an import map, then drives Uppy's
// Dashboard with Valet's uploader (the gateway's /uppy.js) as a person
// would: add files, upload, pause, resume, cancel, remove, retry.
//
// CONFIG (besides demo.mjs's playwright, gateway, store, token, expired_token,
// throttle_bps, user_data_dir, scenarios): page_port, and files: {small, large,
// cancel, remove, pause, too_large, refused}.
//
// The companion_* scenarios open the same page with @uppy/aws-s3 in
// companionEndpoint mode instead, at an endpoint the page's own origin
// proxies to the gateway under /valet/ (as an application would),
// authenticated by a session cookie. Their CONFIG: companion: {cookie, small_store}.
import { createServer, request as httpRequest } from 'node:http';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.html': 'text/html', '.svg': 'image/svg+xml' };

// ---- Serving the page and the npm packages --------------------------------

/**
 * The file a bare specifier names, relative to node_modules: the package's
 * "exports" (browser or import conditions first), else its module, main or
 * the path itself.
 */
function resolveSpec(nm, spec) {
  const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
  const sub = '.' + spec.slice(name.length);
  const dir = join(nm, name);
  const pj = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  let target = pj.exports ? pick(exportsEntry(pj.exports, sub)) : null;
  if (!target) target = sub === '.' ? (pj.module || pj.main || 'index.js') : sub;
  let file = join(dir, target);
  if (!existsSync(file) && existsSync(file + '.js')) file += '.js';
  if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.js');
  if (!existsSync(file)) throw new Error(`cannot resolve ${spec} (${file})`);
  return relative(realpathSync(nm), realpathSync(file)).split(sep).join('/');
}

function exportsEntry(exp, sub) {
  if (typeof exp === 'string' || !Object.keys(exp).some((k) => k.startsWith('.'))) return sub === '.' ? exp : null;
  if (exp[sub] !== undefined) return exp[sub];
  for (const [k, v] of Object.entries(exp)) {
    const star = k.indexOf('*');
    if (star >= 0 && sub.startsWith(k.slice(0, star)) && sub.endsWith(k.slice(star + 1))) {
      const mid = sub.slice(star, sub.length - (k.length - star - 1));
      return JSON.parse(JSON.stringify(v).replaceAll('*', mid));
    }
  }
  return null;
}

function pick(e) {
  if (typeof e === 'string') return e;
  if (!e || typeof e !== 'object') return null;
  for (const c of ['browser', 'import', 'module', 'default']) {
    const r = pick(e[c]);
    if (r) return r;
  }
  return null;
}

/** Whether a .js file is CommonJS: its package is not "type": "module", and it sets module.exports and has no export. */
function isCommonJS(file, src) {
  if (extname(file) === '.cjs') return true;
  if (extname(file) !== '.js') return false;
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    const pj = join(dir, 'package.json');
    if (!existsSync(pj)) continue;
    if (JSON.parse(readFileSync(pj, 'utf8')).type === 'module') return false;
    break;
  }
  // Minified ES modules put their export anywhere on a line.
  return /\bmodule\.exports\b|\bexports\.\w+\s*=/.test(src) && !/\bexport\s*(\{|\*|default\b|const\b|let\b|var\b|function\b|class\b|async\b)/.test(src);
}

/**
 * A CommonJS file and everything it requires, as one ES module whose
 * default export is its module.exports. A few of Uppy's dependencies
 * (lodash, classnames, mime-match, namespace-emitter) are CommonJS only.
 */
function commonJSModule(entry) {
  const ids = new Map();
  const defs = [];
  const visit = (file) => {
    if (ids.has(file)) return ids.get(file);
    const id = ids.size;
    ids.set(file, id);
    const src = readFileSync(file, 'utf8');
    const req = createRequire(file);
    const deps = {};
    for (const m of src.matchAll(/\brequire\(\s*['"]([^'"]+)['"]\s*\)/g)) {
      const target = req.resolve(m[1]);
      if (!target.startsWith('/')) throw new Error(`${file} requires the Node built-in ${m[1]}`);
      deps[m[1]] = visit(target);
    }
    defs[id] = `[function (module, exports, require) {\n${src}\n}, ${JSON.stringify(deps)}]`;
    return id;
  };
  visit(entry);
  return `const defs = [${defs.join(',\n')}];
const cache = [];
function load(id) {
  if (cache[id]) return cache[id].exports;
  const module = cache[id] = { exports: {} };
  defs[id][0].call(module.exports, module, module.exports, (s) => load(defs[id][1][s]));
  return module.exports;
}
export default load(0);
`;
}

/**
 * Forwards a request under /valet/ to the gateway as it came (method,
 * headers with the cookie and Origin, body), the way an application's
 * reverse proxy puts Valet on its own origin.
 */
function proxy(gateway, req, res) {
  const target = new URL(req.url.slice('/valet'.length), gateway);
  const headers = { ...req.headers, host: target.host };
  const up = httpRequest(target, { method: req.method, headers }, (r) => {
    res.writeHead(r.statusCode, r.headers);
    r.pipe(res);
  });
  up.on('error', (e) => { res.writeHead(502, { 'Content-Type': 'text/plain' }); res.end(String(e.message)); });
  req.pipe(up);
}

/**
 * Serves uppy.html at "/", /npm/SPEC
 * as a redirect to the file it names, /node_modules/ files, and the gateway
 * under /valet/.
 */
function pageServer(nm, port, gateway) {
  const here = dirname(fileURLToPath(import.meta.url));
  const page = readFileSync(join(here, 'uppy.html'));
  const root = realpathSync(nm);
  const server = createServer((req, res) => {
    if (req.url.startsWith('/valet/')) return proxy(gateway, req, res);
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    try {
      if (path === '/') {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
        return res.end(page);
      }
      if (path.startsWith('/npm/')) {
        res.writeHead(302, { Location: '/node_modules/' + resolveSpec(nm, path.slice(5)) });
        return res.end();
      }
      if (path.startsWith('/node_modules/')) {
        const file = realpathSync(join(root, path.slice('/node_modules/'.length)));
        if (!file.startsWith(root + sep)) throw new Error('outside node_modules');
        let body = readFileSync(file);
        if (isCommonJS(file, body.toString('utf8'))) body = Buffer.from(commonJSModule(file));
        res.writeHead(200, { 'Content-Type': TYPES[extname(file)] || 'application/octet-stream' });
        return res.end(body);
      }
      res.writeHead(404);
      res.end();
    } catch (e) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end(String(e?.message || e));
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

// ---- The scenarios ---------------------------------------------------------

/**
 * @param {object} h the shared helpers of demo.mjs: cfg, log, fail, STACK,
 *   throttle(page), holdPuts(page, pass), isStorage(url)
 */
export async function uppySuite(h) {
  const { cfg, log, fail } = h;
  const nm = dirname(dirname(cfg.playwright));
  const server = await pageServer(nm, cfg.page_port, cfg.gateway);
  const origin = `http://127.0.0.1:${cfg.page_port}`;
  const toStorage = (u) => h.isStorage(u) && !u.startsWith(origin);

  /** Opens the page with a token, and waits until the store's limits are Uppy restrictions. */
  async function openUppy(ctx, token = cfg.token, extra = {}) {
    const page = await ctx.newPage();
    page.on('pageerror', (e) => log('page error:', e.message));
    page.on('console', (m) => { if (m.type() === 'error') log('console:', m.text()); });
    page.on('response', (r) => { if (r.status() >= 400) log('HTTP', r.status(), r.url()); });
    const net = { puts: [], finished: [], deletes: [], creates: [], listParts: 0, uploadId: '' };
    page.on('request', (req) => {
      if (req.method() === 'PUT' && toStorage(req.url())) net.puts.push(req.url());
      if (req.method() === 'DELETE' && req.url().includes('/uploads/')) net.deletes.push(req.url());
      if (req.method() === 'POST' && /\/uploads$/.test(req.url())) net.creates.push(req.url());
      if (req.method() === 'GET' && /\/uploads\/[^/]+\/parts$/.test(req.url())) net.listParts++;
    });
    page.on('requestfinished', async (req) => {
      if (req.method() !== 'PUT' || !toStorage(req.url())) return;
      const resp = await req.response();
      if (resp && resp.status() < 300) net.finished.push(req.url());
    });
    page.on('response', async (resp) => {
      if (resp.request().method() !== 'POST' || !/\/uploads$/.test(resp.url())) return;
      try {
        const body = await resp.json();
        if (body?.multipart && body.upload_id) net.uploadId = body.upload_id;
      } catch { /* not JSON */ }
    });
    const hash = new URLSearchParams({ gateway: cfg.gateway, store: cfg.store, token, ...extra });
    await page.goto(`${origin}/#${hash}`);
    await page.waitForFunction(() => window.uppy?.opts?.restrictions?.maxFileSize > 0, null, { timeout: 30_000 });
    // What the test watches (the page itself has no such code).
    await page.evaluate(() => {
      window.__seen = { progress: {}, success: {}, errors: {}, restricted: {} };
      window.uppy.on('upload-progress', (f, p) => {
        const pct = p.bytesTotal ? Math.round(100 * p.bytesUploaded / p.bytesTotal) : 0;
        window.__seen.progress[f.name] = Math.max(window.__seen.progress[f.name] || 0, pct);
      });
      window.uppy.on('upload-success', (f, r) => { window.__seen.success[f.name] = { body: r.body, uploadURL: r.uploadURL }; });
      window.uppy.on('upload-error', (f, e) => { window.__seen.errors[f.name] = String(e?.message || e); });
      window.uppy.on('restriction-failed', (f, e) => { window.__seen.restricted[f?.name] = String(e?.message || e); });
    });
    return { page, net };
  }

  const addFiles = (page, files) => page.locator('.uppy-Dashboard-input').first().setInputFiles(files);
  const clickUpload = (page) => page.locator('.uppy-StatusBar-actionBtn--upload').click();
  const fileId = (page, name) => page.evaluate((n) => window.uppy.getFiles().find((f) => f.name === n)?.id, name);
  const item = async (page, name) => page.locator(`[id="uppy_${await fileId(page, name)}"]`);
  const percent = (page, name) => page.evaluate((n) => window.uppy.getFiles().find((f) => f.name === n)?.progress.percentage ?? 0, name);

  /** Waits for Uppy's upload-success for a file (or fails with its upload-error). */
  async function waitSuccess(page, name, timeout = 180_000) {
    await page.waitForFunction((n) => window.__seen.success[n] || window.__seen.errors[n], name, { timeout, polling: 100 });
    const seen = await page.evaluate((n) => ({ ok: window.__seen.success[n], err: window.__seen.errors[n] }), name);
    if (!seen.ok) fail(`upload of ${name} failed: ${seen.err}`);
    return seen.ok;
  }

  /** Fetches the signed GET URL of an upload-success body and digests what storage serves. */
  async function download(page, body) {
    if (!body?.url || !toStorage(body.url)) fail(`upload-success body has no signed storage URL: ${JSON.stringify(body)}`);
    const resp = await page.context().request.get(body.url, { timeout: 120_000 });
    if (resp.status() !== 200) fail(`GET of the signed URL answered ${resp.status()}`);
    const bytes = await resp.body();
    return { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
  }

  /** Waits until n parts of this page's uploads are stored and the file's progress is at least pct. */
  async function waitParts(page, net, name, n, pct) {
    const start = Date.now();
    while (net.finished.length < n || await percent(page, name) < pct) {
      if (Date.now() - start > 120_000) fail(`${name}: ${net.finished.length} parts stored, ${await percent(page, name)}% after 2 minutes`);
      await page.waitForTimeout(50);
    }
  }

  /**
   * Uploads cfg.files.small and cfg.files.large on page and waits until the
   * Dashboard says the batch is complete. Each file's entry (small, large)
   * is what detail(success) gives, with its final and highest progress.
   */
  async function uploadSmallAndLarge(page, detail) {
    await addFiles(page, [cfg.files.small, cfg.files.large]);
    await clickUpload(page);
    const out = {};
    for (const [k, file] of [['small', cfg.files.small], ['large', cfg.files.large]]) {
      const name = basename(file);
      const ok = await waitSuccess(page, name);
      out[k] = {
        ...(await detail(ok)),
        percent: await percent(page, name), max_progress: await page.evaluate((n) => window.__seen.progress[n], name),
      };
    }
    await page.locator('.uppy-StatusBar.is-complete').waitFor({ timeout: 30_000 });
    return out;
  }

  async function upload(ctx) {
    const { page, net } = await openUppy(ctx);
    const out = await uploadSmallAndLarge(page, async (ok) => ({
      ...(await download(page, ok.body)), key: ok.body.key, listed_size: ok.body.size, upload_url: ok.uploadURL === ok.body.url,
    }));
    out.status_bar = (await page.locator('.uppy-StatusBar').innerText()).trim();
    out.puts = net.puts.length;
    out.creates = net.creates.length;
    await page.close();
    return out;
  }

  /** Starts a 64 MiB upload slowed down, with the last part PUTs held, and waits until it is under way. */
  async function startHeld(ctx, file) {
    const { page, net } = await openUppy(ctx);
    await h.throttle(page);
    // 8 parts, 4 at a time: 6 reach storage, the others wait, so the upload
    // is unfinished when the scenario acts, whatever this machine's speed.
    const gate = await h.holdPuts(page, 6);
    await addFiles(page, [file]);
    await clickUpload(page);
    await waitParts(page, net, basename(file), 1, 30);
    return { page, net, gate };
  }

  /** Cancels an upload under way from the status bar (cancel-all). */
  async function cancel(ctx) {
    const name = basename(cfg.files.cancel);
    const { page, net, gate } = await startHeld(ctx, cfg.files.cancel);
    const at = await percent(page, name);
    const del = page.waitForResponse((r) => r.request().method() === 'DELETE' && r.url().includes('/uploads/'), { timeout: 30_000 });
    await page.locator('.uppy-StatusBar-actionCircleBtn[title="Cancel"]').click();
    const status = (await del).status();
    await page.waitForFunction(() => window.uppy.getFiles().length === 0, null, { timeout: 30_000 });
    await gate.open();
    const out = { upload_id: net.uploadId, cancelled_at_percent: at, delete_status: status, parts_finished: net.finished.length };
    if (!net.uploadId) fail('no multipart upload id seen');
    if (status >= 300) fail(`DELETE of the upload answered ${status}`);
    await page.close();
    return out;
  }

  /** Removes a file under way (its remove button), then adds it again and uploads it whole. */
  async function remove(ctx) {
    const name = basename(cfg.files.remove);
    const { page, net, gate } = await startHeld(ctx, cfg.files.remove);
    const removedId = net.uploadId;
    const del = page.waitForResponse((r) => r.request().method() === 'DELETE' && r.url().includes('/uploads/'), { timeout: 30_000 });
    await (await item(page, name)).locator('.uppy-Dashboard-Item-action--remove').click();
    const status = (await del).status();
    await page.waitForFunction(() => window.uppy.getFiles().length === 0, null, { timeout: 30_000 });
    await gate.open();
    if (!removedId) fail('no multipart upload id seen');
    if (status >= 300) fail(`DELETE of the upload answered ${status}`);
    // Added again, it uploads as a new upload.
    await addFiles(page, [cfg.files.remove]);
    await clickUpload(page);
    const ok = await waitSuccess(page, name);
    const out = { removed_upload_id: removedId, delete_status: status, second_upload_id: net.uploadId, ...(await download(page, ok.body)) };
    if (out.second_upload_id === removedId) fail('the file added again reused the removed upload');
    await page.close();
    return out;
  }

  /**
   * The session expires during an upload: complete is refused with
   * Valet's message, which Uppy shows; with a fresh token, Uppy's retry
   * resumes the upload without sending its parts again.
   */
  async function retry(ctx) {
    const name = basename(cfg.files.large);
    const { page, net, gate } = await startHeld(ctx, cfg.files.large);
    await page.evaluate((t) => sessionStorage.setItem('token', t), cfg.expired_token);
    await gate.open();
    await page.waitForFunction((n) => window.__seen.errors[n], name, { timeout: 180_000 });
    const error = await page.evaluate((n) => window.__seen.errors[n], name);
    const row = await item(page, name);
    await row.locator('.uppy-Dashboard-Item-progressIndicator[title="Retry upload"]').waitFor({ timeout: 30_000 });
    // Uppy's Dashboard says "Failed to upload NAME" and shows the reason
    // behind its "?" (the informer's and the file's error details).
    const shown = await page.evaluate(() => [...document.querySelectorAll('#uppy [aria-label]')].map((e) => e.getAttribute('aria-label')).join(' | '));
    if (h.STACK.test(error)) fail(`the error Uppy got is not a plain message: ${error}`);
    const putsBefore = net.puts.length;
    const deletes = net.deletes.length;
    const listBefore = net.listParts;
    await page.evaluate(([t, n]) => { sessionStorage.setItem('token', t); delete window.__seen.errors[n]; }, [cfg.token, name]);
    await row.locator('.uppy-Dashboard-Item-progressIndicator').click();
    const ok = await waitSuccess(page, name);
    const out = {
      error, shown: shown.slice(0, 300), shown_error: /expired/i.test(shown), upload_id: net.uploadId, puts_before_retry: putsBefore,
      puts_after_retry: net.puts.length - putsBefore, listed_parts_on_retry: net.listParts - listBefore,
      deletes, percent: await percent(page, name), ...(await download(page, ok.body)),
    };
    if (!/expired/i.test(error)) fail(`Uppy got "${error}", not Valet's message that the token expired`);
    if (!out.shown_error) fail(`the Dashboard does not show the message: ${shown.slice(0, 500)}`);
    if (deletes) fail('the failed upload was aborted on the server, so retry could not resume it');
    await page.close();
    return out;
  }

  /** Starts a held upload of cfg.files.pause and pauses it (the file's button); the held parts then go. */
  async function startPaused(ctx) {
    const name = basename(cfg.files.pause);
    const { page, net, gate } = await startHeld(ctx, cfg.files.pause);
    const row = await item(page, name);
    await row.locator('.uppy-Dashboard-Item-progressIndicator[title="Pause upload"]').click();
    await page.waitForFunction((n) => window.uppy.getFiles().find((f) => f.name === n)?.isPaused, name, { timeout: 10_000 });
    await gate.open();
    return { name, page, net, row };
  }

  /** Pauses a multipart upload (the file's button), checks nothing moves, resumes it to the end. */
  async function pause(ctx) {
    const { name, page, net, row } = await startPaused(ctx);
    const finishedAtPause = net.finished.length;
    const putsAtPause = net.puts.length;
    const pctAtPause = await percent(page, name);
    // While paused, no part is sent (3 s: nothing is expected to happen, so
    // a slow machine cannot make this pass wrongly).
    await page.waitForTimeout(3000);
    const putsWhilePaused = net.puts.length - putsAtPause;
    await row.locator('.uppy-Dashboard-Item-progressIndicator[title="Resume upload"]').click();
    const ok = await waitSuccess(page, name);
    const out = {
      upload_id: net.uploadId, percent_at_pause: pctAtPause, parts_finished_at_pause: finishedAtPause,
      puts_while_paused: putsWhilePaused, puts_total: net.puts.length, list_parts_on_resume: net.listParts,
      deletes: net.deletes.length, percent: await percent(page, name), ...(await download(page, ok.body)),
    };
    if (putsWhilePaused) fail(`${putsWhilePaused} part PUTs were sent while paused`);
    if (net.deletes.length) fail('pausing aborted the upload on the server');
    if (net.listParts < 1) fail('resuming did not ask Valet which parts are stored');
    await page.close();
    return out;
  }

  /**
   * Removes a paused file: valet.js had returned from the paused upload,
   * keeping its plan to resume, so the plugin aborts the upload on the
   * server and the plan is forgotten.
   */
  async function remove_paused(ctx) {
    const { page, net, row } = await startPaused(ctx);
    // Pausing aborts the part requests in flight, and valet.js returns.
    await page.waitForTimeout(2000);
    const remembered = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('valet.upload:')).length);
    const del = page.waitForResponse((r) => r.request().method() === 'DELETE' && r.url().includes('/uploads/'), { timeout: 30_000 });
    await row.locator('.uppy-Dashboard-Item-action--remove').click();
    const status = (await del).status();
    await page.waitForFunction(() => window.uppy.getFiles().length === 0, null, { timeout: 30_000 });
    const left = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('valet.upload:')).length);
    const out = { removed_upload_id: net.uploadId, remembered_while_paused: remembered, delete_status: status, remembered_after: left };
    if (!net.uploadId) fail('no multipart upload id seen');
    if (remembered !== 1) fail(`${remembered} plans remembered while paused, want 1`);
    if (status >= 300) fail(`DELETE of the upload answered ${status}`);
    if (left !== 0) fail('the plan of the removed file is still remembered');
    await page.close();
    return out;
  }

  /**
   * With limit 1, a paused file gives its slot to the next file, which
   * starts while the first is paused; resumed, the first takes a slot
   * again, and both finish.
   */
  async function paused_frees_slot(ctx) {
    const { page, net } = await openUppy(ctx, cfg.token, { limit: '1' });
    await h.throttle(page);
    const gate = await h.holdPuts(page, 6);
    const first = basename(cfg.files.pause), second = basename(cfg.files.small);
    await addFiles(page, [cfg.files.pause, cfg.files.small]);
    await clickUpload(page);
    await waitParts(page, net, first, 1, 30);
    const createsBefore = net.creates.length;
    const row = await item(page, first);
    await row.locator('.uppy-Dashboard-Item-progressIndicator[title="Pause upload"]').click();
    await page.waitForFunction((n) => window.uppy.getFiles().find((f) => f.name === n)?.isPaused, first, { timeout: 10_000 });
    await gate.open();
    await waitSuccess(page, second);
    const createsWhilePaused = net.creates.length - createsBefore;
    await row.locator('.uppy-Dashboard-Item-progressIndicator[title="Resume upload"]').click();
    await waitSuccess(page, first);
    const out = { creates_before_pause: createsBefore, creates_while_paused: createsWhilePaused, percent: await percent(page, first) };
    if (createsBefore !== 1) fail(`${createsBefore} uploads created before the pause with limit 1, want 1`);
    if (createsWhilePaused !== 1) fail(`the second file did not start while the first was paused: ${JSON.stringify(out)}`);
    await page.close();
    return out;
  }

  /** Files over the store's max_size or of a type it refuses are refused by Uppy when added. */
  async function restrictions(ctx) {
    const { page, net } = await openUppy(ctx);
    const limits = await page.evaluate(() => window.uppy.opts.restrictions);
    const out = { limits, refused: {} };
    for (const [k, file] of [['too_large', cfg.files.too_large], ['refused_type', cfg.files.refused]]) {
      const name = basename(file);
      await addFiles(page, [file]).catch(() => {});
      await page.waitForFunction((n) => window.__seen.restricted[n], name, { timeout: 15_000 });
      // The person sees why: Uppy's informer shows the message.
      await page.locator('.uppy-Informer p').first().waitFor({ timeout: 15_000 });
      out.refused[k] = await page.evaluate((n) => window.__seen.restricted[n], name);
      const files = await page.evaluate(() => window.uppy.getFiles().length);
      if (files) fail(`${name} was added (${files} files)`);
    }
    if (!/exceeds maximum allowed size/i.test(out.refused.too_large)) fail(`too large: ${out.refused.too_large}`);
    if (!/can only upload.*application\/octet-stream/i.test(out.refused.refused_type)) fail(`refused type: ${out.refused.refused_type}`);
    out.creates = net.creates.length;
    if (net.creates.length) fail('an upload was created for a refused file');
    await page.close();
    return out;
  }

  // ---- @uppy/aws-s3 in companionEndpoint mode ------------------------------

  /**
   * Opens the Companion page for a store (multipart: always, never or by
   * size), with the session cookie an application's login would have set
   * for its origin, and watches its requests.
   */
  async function openCompanion(ctx, store, multipart = 'auto') {
    await ctx.addCookies([{ name: cfg.companion.cookie, value: cfg.token, url: origin, httpOnly: true, sameSite: 'Strict' }]);
    const page = await ctx.newPage();
    page.on('pageerror', (e) => log('page error:', e.message));
    page.on('console', (m) => { if (m.type() === 'error') log('console:', m.text()); });
    const net = { posts: [], puts: [], companion: [], authorization: 0, cookieless: 0 };
    page.on('request', async (req) => {
      const u = req.url();
      if (toStorage(u) && req.method() === 'POST') net.posts.push(u);
      if (toStorage(u) && req.method() === 'PUT') net.puts.push(u);
      if (u.startsWith(`${origin}/valet/`)) {
        const hs = await req.allHeaders();
        if (hs.authorization) net.authorization++;
        if (!(hs.cookie || '').includes(`${cfg.companion.cookie}=`)) net.cookieless++;
      }
    });
    page.on('response', (r) => {
      const u = r.url();
      if (u.startsWith(`${origin}/valet/`)) net.companion.push({ method: r.request().method(), path: new URL(u).pathname.replace(/\/multipart\/[^/]+/, '/multipart/ID'), status: r.status() });
      else if (toStorage(u) && r.request().method() === 'POST') net.postStatus = r.status();
      if (r.status() >= 400) log('HTTP', r.status(), u.replace(/\?.*/, ''));
    });
    const hash = new URLSearchParams({ endpoint: `${origin}/valet/companion/${store}`, multipart });
    await page.goto(`${origin}/#${hash}`);
    // window.uppy is the page's <div id="uppy"> until the module sets it.
    await page.waitForFunction(() => typeof window.uppy?.on === 'function', null, { timeout: 30_000 });
    await page.evaluate(() => {
      window.__seen = { progress: {}, success: {}, errors: {} };
      window.uppy.on('upload-progress', (f, p) => {
        const pct = p.bytesTotal ? Math.round(100 * p.bytesUploaded / p.bytesTotal) : 0;
        window.__seen.progress[f.name] = Math.max(window.__seen.progress[f.name] || 0, pct);
      });
      window.uppy.on('upload-success', (f, r) => { window.__seen.success[f.name] = { body: r.body, uploadURL: r.uploadURL }; });
      window.uppy.on('upload-error', (f, e) => { window.__seen.errors[f.name] = String(e?.message || e); });
    });
    return { page, net };
  }

  /** Digests an object as the gateway's signed GET serves it (the test's own request, with the token). */
  async function downloadKey(ctx, store, key) {
    const r = await ctx.request.get(`${cfg.gateway}/v1/stores/${store}/objects/${key.split('/').map(encodeURIComponent).join('/')}?redirect=false`, { headers: { Authorization: `Bearer ${cfg.token}` } });
    if (r.status() !== 200) fail(`GET object ${key}: ${r.status()} ${await r.text()}`);
    const { url } = await r.json();
    const resp = await ctx.request.get(url, { timeout: 120_000 });
    if (resp.status() !== 200) fail(`GET of the signed URL of ${key} answered ${resp.status()}`);
    const bytes = await resp.body();
    return { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
  }

  /** An 8 MiB single upload (a POST policy) and a 64 MiB multipart upload. */
  async function companion_upload(ctx) {
    const { page, net } = await openCompanion(ctx, cfg.store);
    const out = await uploadSmallAndLarge(page, async (ok) => ({
      ...(await downloadKey(ctx, cfg.store, ok.body.key)), key: ok.body.key, location: String(ok.uploadURL || '').replace(/\?.*/, ''),
    }));
    Object.assign(out, { form_posts: net.posts.length, post_status: net.postStatus, part_puts: net.puts.length, companion: net.companion, authorization_headers: net.authorization, cookieless: net.cookieless });
    await page.close();
    return out;
  }

  /** Uploads one file on a fresh page and waits for Uppy's upload-error. */
  async function refusedUpload(ctx, store, multipart, file) {
    const { page, net } = await openCompanion(ctx, store, multipart);
    const name = basename(file);
    await addFiles(page, [file]);
    await clickUpload(page);
    await page.waitForFunction((n) => window.__seen.success[n] || window.__seen.errors[n], name, { timeout: 180_000, polling: 100 });
    const seen = await page.evaluate((n) => ({ ok: !!window.__seen.success[n], err: window.__seen.errors[n] }), name);
    if (seen.ok) fail(`${name} (${multipart}) was uploaded to ${store}`);
    await page.close();
    return { error: seen.err, companion: net.companion, form_posts: net.posts.length, post_status: net.postStatus, part_puts: net.puts.length };
  }

  /**
   * Refusals in the small store (max_size 4 MiB, application/octet-stream):
   * 8 MiB as a form POST (the storage server refuses it), 8 MiB as
   * multipart (the gateway refuses it at complete), and a video/mp4 (the
   * gateway refuses to sign it).
   */
  async function companion_refused(ctx) {
    const store = cfg.companion.small_store;
    return {
      form_too_large: await refusedUpload(ctx, store, 'never', cfg.files.small),
      multipart_too_large: await refusedUpload(ctx, store, 'always', cfg.files.small),
      refused_type: await refusedUpload(ctx, store, 'auto', cfg.files.refused),
    };
  }

  return {
    scenarios: { upload, cancel, remove, remove_paused, paused_frees_slot, retry, pause, restrictions, companion_upload, companion_refused },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
