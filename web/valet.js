// valet.js — the browser client for the Valet storage gateway.
//
// A dependency-free ES module. It asks the gateway for signed request
// recipes and sends file bytes directly to object storage: the gateway never
// sees them. Uploads above the store's threshold are multipart, with parts
// sent in parallel, retried with backoff, and resumable after a page reload
// (the upload id is kept in localStorage until the upload completes or is
// aborted).
//
// Storage must allow CORS from the page's origin and expose the ETag header
// for multipart uploads on providers that need part ETags.

/**
 * @typedef {Object} ValetOptions
 * @property {string} [baseUrl] Gateway origin, e.g. "https://valet.example.com". Defaults to the page's origin.
 * @property {() => (string|null|undefined|Promise<string|null|undefined>)} [getToken] Returns the bearer token for each API call.
 * @property {Storage|null} [storage] Where resumable uploads are remembered (default: localStorage when available).
 * @property {number} [retries] Attempts after the first one (default 4) for each part
 *   (signing it and sending it) and for completing the upload. Network errors,
 *   408, 429 and 5xx are retried with backoff, never sooner than a Retry-After.
 * @property {number} [stallTimeout] Milliseconds a request to storage may go without
 *   moving a byte before it is abandoned and retried (default 60000; 0 = never).
 */

/**
 * @typedef {Object} Progress
 * @property {number} bytes Bytes stored so far, including parts finished before a resume.
 * @property {number} total The file's size.
 * @property {number} rate Bytes per second over the last few seconds.
 * @property {boolean} [resumed] True when the upload continued one started earlier.
 */

/**
 * @typedef {Object} UploadOptions
 * @property {string} store The store name.
 * @property {(p: Progress) => void} [onProgress]
 * @property {AbortSignal} [signal] Aborting also aborts a multipart upload on the server.
 * @property {number} [concurrency] Parts sent at once (default 4).
 * @property {Record<string,string>} [metadata]
 * @property {string|boolean} [checksum] Base64 SHA-256 of the file, or true to compute it (reads the whole file into memory). A store that cannot verify it (capabilities.verifies_checksum_sha256 in GET /v1/stores) refuses the upload with 400 checksum_unverifiable.
 * @property {string} [key] A client-chosen key, where the store allows it.
 * @property {boolean} [multipart] Ask for a multipart upload whatever the size.
 * @property {string} [contentType] Defaults to file.type, then application/octet-stream.
 * @property {boolean} [resume] Resume a remembered upload of the same file (default true).
 */

/** An error from the gateway (problem+json), from storage, or from the network. */
export class ValetError extends Error {
  /**
   * @param {string} message
   * @param {{code?: string, status?: number, title?: string, detail?: string, type?: string, retryAfter?: number}} [info]
   */
  constructor(message, info = {}) {
    super(message);
    this.name = 'ValetError';
    /** Stable machine-readable code, e.g. "unauthenticated", "permission_denied", "too_large", "network", "storage". */
    this.code = info.code || 'unknown';
    /** HTTP status, 0 for network failures. */
    this.status = info.status || 0;
    this.title = info.title || '';
    this.detail = info.detail || '';
    this.type = info.type || '';
    /** Seconds to wait before retrying, when the server said so. */
    this.retryAfter = info.retryAfter;
  }
}

const FORBIDDEN_HEADERS = new Set(['content-length', 'host', 'connection', 'expect', 'keep-alive',
  'transfer-encoding', 'upgrade', 'te', 'trailer', 'date', 'origin', 'referer', 'cookie']);
const RESUME_PREFIX = 'valet.upload:';
const RECIPE_BATCH = 8;

export class Valet {
  /** @param {ValetOptions} [opts] */
  constructor(opts = {}) {
    const origin = typeof location !== 'undefined' ? location.origin : '';
    this.baseUrl = (opts.baseUrl || origin).replace(/\/+$/, '');
    this.getToken = opts.getToken || (() => null);
    this.retries = opts.retries ?? 4;
    this.stallTimeout = opts.stallTimeout ?? 60_000;
    /** Resume keys of the uploads under way in this client. */
    this._active = new Set();
    /** @type {Storage|null} */
    this.storage = opts.storage !== undefined ? opts.storage
      : (typeof localStorage !== 'undefined' ? localStorage : null);
  }

  /**
   * Calls the gateway API and returns the decoded JSON body (null for 204).
   * @param {string} method
   * @param {string} path starts with /v1/
   * @param {any} [body]
   * @param {AbortSignal} [signal]
   */
  async api(method, path, body, signal) {
    const headers = { Accept: 'application/json' };
    const token = await this.getToken();
    if (token) headers.Authorization = 'Bearer ' + token;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let resp;
    try {
      resp = await fetch(this.baseUrl + path, {
        method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      if (signal?.aborted) throw abortError();
      throw new ValetError('Cannot reach the gateway: ' + (e?.message || e), { code: 'network' });
    }
    if (!resp.ok) throw await problem(resp);
    if (resp.status === 204) return null;
    const text = await resp.text();
    return text ? JSON.parse(text) : null;
  }

  /** Lists the stores the gateway serves. */
  async stores() {
    const r = await this.api('GET', '/v1/stores');
    return Array.isArray(r) ? r : (r?.stores || []);
  }

  /**
   * Lists objects in a store whose keys start with prefix.
   * @param {string} store
   * @param {string} [prefix]
   * @param {{cursor?: string, limit?: number, signal?: AbortSignal}} [opts]
   * @returns {Promise<{objects: Array<{key: string, size: number, content_type: string, etag?: string, last_modified?: string}>, next_cursor?: string}>}
   */
  async list(store, prefix = '', opts = {}) {
    const q = new URLSearchParams();
    if (prefix) q.set('prefix', prefix);
    if (opts.cursor) q.set('cursor', opts.cursor);
    if (opts.limit) q.set('limit', String(opts.limit));
    const qs = q.toString();
    const r = await this.api('GET', `/v1/stores/${enc(store)}/objects${qs ? '?' + qs : ''}`, undefined, opts.signal);
    return { objects: r?.objects || r?.items || [], next_cursor: r?.next_cursor || '' };
  }

  /**
   * Returns an object's metadata and a short-lived signed URL to fetch it
   * (usable directly as <video src>; Range requests go to storage).
   * @param {string} store
   * @param {string} key
   * @param {{disposition?: 'inline'|'attachment', filename?: string, signal?: AbortSignal}} [opts]
   * @returns {Promise<{key: string, size: number, content_type: string, etag?: string, last_modified?: string, url: string, expires_at?: string}>}
   */
  async media(store, key, opts = {}) {
    const q = new URLSearchParams();
    if (opts.disposition) q.set('disposition', opts.disposition);
    if (opts.filename) q.set('filename', opts.filename);
    const qs = q.toString();
    return this.api('GET', `/v1/stores/${enc(store)}/objects/${encKey(key)}${qs ? '?' + qs : ''}`, undefined, opts.signal);
  }

  /**
   * Uploads a file (a Blob with a name) directly to storage.
   * @param {File} file
   * @param {UploadOptions} opts
   * @returns {Promise<any>} the stored object as the gateway reports it on completion
   */
  async upload(file, opts) {
    if (!opts?.store) throw new ValetError('upload: store is required', { code: 'invalid_argument' });
    if (opts.signal?.aborted) throw abortError();
    const fileKey = this._resumeKey(opts.store, file.name, file.size, file.lastModified);
    // While this client uploads a file, that upload owns its remembered
    // plan; a second upload of the same file meanwhile starts its own and
    // is not remembered.
    if (this._active.has(fileKey)) return this._upload(file, opts, null);
    this._active.add(fileKey);
    try {
      return await this._upload(file, opts, fileKey);
    } finally {
      this._active.delete(fileKey);
    }
  }

  async _upload(file, opts, resumeKey) {
    const signal = opts.signal;
    const store = opts.store;
    const base = `/v1/stores/${enc(store)}/uploads`;
    const progress = new Meter(file.size, opts.onProgress);
    // What the upload was asked to be: a remembered plan for the same file
    // but another key, type or metadata is not resumed.
    const intent = JSON.stringify([opts.key || '', opts.contentType || file.type || 'application/octet-stream',
      Object.entries(opts.metadata || {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))]);

    let plan = opts.resume === false || !resumeKey ? null : this._recall(resumeKey);
    if (plan && plan.intent !== undefined && plan.intent !== intent) {
      try { await this.api('DELETE', `${base}/${enc(plan.upload_id)}`); } catch { /* gone already */ }
      this._forget(resumeKey);
      plan = null;
    }
    let done = new Map(); // part number -> etag ('' when unknown)
    if (plan) {
      try {
        const listed = await this.api('GET', `${base}/${enc(plan.upload_id)}/parts`, undefined, signal);
        // Trust only parts this browser saw succeed AND storage still lists
        // whole. A part cut off by the reload may be listed by some backends
        // with its full size but partial content, so it is sent again.
        const confirmed = plan.done || {};
        for (const p of partsOf(listed)) {
          const n = p.part_number ?? p.number;
          if (!(n in confirmed)) continue;
          if (p.size !== undefined && p.size !== partLength(plan, file.size, n)) continue;
          const mine = unquote(confirmed[n]);
          if (mine && p.etag && unquote(p.etag) !== mine) continue;
          done.set(n, p.etag || confirmed[n] || '');
        }
        plan.done = Object.fromEntries(done);
        progress.resumed = true;
      } catch (e) {
        // Keep the remembered upload when the failure is ours (an expired
        // token, the network); start again only when the server no longer
        // knows it (expired, finished, aborted or not this caller's).
        if (isAbort(e) || !(e.status >= 400 && e.status < 500 && e.status !== 401 && e.status !== 429)) throw e;
        this._forget(resumeKey);
        plan = null;
        done = new Map();
      }
    }

    if (!plan) {
      const body = {
        filename: file.name,
        content_type: opts.contentType || file.type || 'application/octet-stream',
        size: file.size,
      };
      if (opts.metadata) body.metadata = opts.metadata;
      if (opts.key) body.key = opts.key;
      if (opts.multipart) body.multipart = true;
      if (opts.checksum) body.checksum_sha256 = opts.checksum === true ? await sha256(file) : opts.checksum;
      const created = await this.api('POST', base, body, signal);
      if (!created.multipart) {
        await this._single(file, created, progress, signal);
        return this._retry(() => this.api('POST', `${base}/${enc(created.upload_id)}/complete`, {}, signal), signal);
      }
      plan = {
        upload_id: created.upload_id, key: created.key, expires_at: created.expires_at,
        part_size: created.multipart.part_size, part_count: created.multipart.part_count,
        first: created.parts || [], done: {}, intent,
      };
      this._remember(resumeKey, plan);
    }

    let finished = false;
    try {
      const onPart = (n, etag) => { plan.done[n] = etag; this._remember(resumeKey, plan); };
      const parts = await this._multipart(file, plan, done, progress, opts, base, onPart);
      const result = await this._retry(() => this.api('POST', `${base}/${enc(plan.upload_id)}/complete`, { parts }, signal), signal);
      finished = true;
      this._forget(resumeKey);
      return result;
    } catch (e) {
      if (isAbort(e) || signal?.aborted) {
        // Abort on the server with a fresh request: the caller's signal is already aborted.
        try { await this.api('DELETE', `${base}/${enc(plan.upload_id)}`); } catch { /* best effort */ }
        this._forget(resumeKey);
        throw abortError();
      }
      throw e;
    } finally {
      if (!finished) progress.stop();
    }
  }

  /**
   * Uploads that were started in this browser and can be resumed by
   * uploading the same file (same name, size and modification time) again.
   * @returns {Array<{store: string, name: string, size: number, lastModified: number, upload_id: string, key: string}>}
   */
  pending() {
    const out = [];
    if (!this.storage) return out;
    for (let i = 0; i < this.storage.length; i++) {
      const k = this.storage.key(i);
      if (!k?.startsWith(RESUME_PREFIX)) continue;
      try {
        const [baseUrl, store, name, size, lastModified] = JSON.parse(k.slice(RESUME_PREFIX.length));
        const plan = JSON.parse(this.storage.getItem(k) || 'null');
        if (baseUrl !== this.baseUrl || !plan) continue;
        out.push({ store, name, size, lastModified, upload_id: plan.upload_id, key: plan.key });
      } catch { /* not ours */ }
    }
    return out;
  }

  /**
   * Aborts a remembered upload on the server and forgets it.
   * @param {{store: string, name: string, size: number, lastModified: number, upload_id: string}} p an entry from pending()
   */
  async discard(p) {
    try { await this.api('DELETE', `/v1/stores/${enc(p.store)}/uploads/${enc(p.upload_id)}`); } catch { /* gone already */ }
    this._forget(this._resumeKey(p.store, p.name, p.size, p.lastModified));
  }

  /** Runs fn, retrying transient failures (network, 408, 429, 5xx) with backoff. */
  async _retry(fn, signal) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (isAbort(e) || signal?.aborted || attempt >= this.retries || !transient(e)) throw e;
        await sleep(backoff(attempt, e), signal);
      }
    }
  }

  async _single(file, recipe, progress, signal) {
    // A single recipe cannot be re-signed here; only transient failures are retried.
    await this._retry(async () => {
      try {
        await send(recipe, file, (loaded) => progress.set(0, loaded), signal, this.stallTimeout);
      } catch (e) {
        progress.set(0, 0);
        throw e;
      }
    }, signal);
    progress.finish(0, file.size);
  }

  async _multipart(file, plan, done, progress, opts, base, onPart) {
    const signal = opts.signal;
    const count = plan.part_count;
    for (const [n] of done) progress.finish(n, partLength(plan, file.size, n));
    /** @type {Map<number, {url: string, method: string, headers: Record<string,string>, expires: number}>} */
    const recipes = new Map();
    for (const r of plan.first || []) recipes.set(r.part_number, recipeOf(r));
    plan.first = [];
    const todo = [];
    for (let n = 1; n <= count; n++) if (!done.has(n)) todo.push(n);

    let inflightBatch = null;
    const recipeFor = async (n) => {
      const r = recipes.get(n);
      if (r && r.expires - Date.now() > 30_000) return r;
      // Sign the next few pending parts together to save round trips.
      while (inflightBatch) await inflightBatch.catch(() => {});
      const again = recipes.get(n);
      if (again && again.expires - Date.now() > 30_000) return again;
      const want = [n, ...todo.filter((m) => m !== n && !recipes.has(m))].slice(0, RECIPE_BATCH);
      inflightBatch = this.api('POST', `${base}/${enc(plan.upload_id)}/parts`, { part_numbers: want }, signal)
        .then((resp) => { for (const p of partsOf(resp)) recipes.set(p.part_number, recipeOf(p)); });
      try { await inflightBatch; } finally { inflightBatch = null; }
      const got = recipes.get(n);
      if (!got) throw new ValetError(`gateway returned no recipe for part ${n}`, { code: 'internal' });
      return got;
    };

    const ctrl = new AbortController();
    const onAbort = () => ctrl.abort();
    signal?.addEventListener('abort', onAbort);
    const runPart = async (n) => {
      const start = (n - 1) * plan.part_size;
      const len = partLength(plan, file.size, n);
      const blob = file.slice(start, start + len);
      for (let attempt = 0; ; attempt++) {
        try {
          // Signing shares the part's attempts: a gateway blip (503, a
          // dropped connection) is retried like a failed PUT.
          const recipe = await recipeFor(n);
          const etag = await send(recipe, blob, (loaded) => progress.set(n, loaded), ctrl.signal, this.stallTimeout);
          progress.finish(n, len);
          done.set(n, etag);
          onPart(n, etag);
          return;
        } catch (e) {
          progress.set(n, 0);
          if (isAbort(e) || ctrl.signal.aborted) throw abortError();
          if (attempt >= this.retries || !(transient(e) || e.status === 403)) throw e;
          // A 403 is most often an expired signature: sign again before retrying.
          if (e.status === 403) recipes.delete(n);
          await sleep(backoff(attempt, e), ctrl.signal);
        }
      }
    };

    const queue = todo.slice();
    let failure = null;
    const worker = async () => {
      while (queue.length && !failure) {
        const n = queue.shift();
        try { await runPart(n); } catch (e) { failure ||= e; ctrl.abort(); }
      }
    };
    try {
      const width = Math.max(1, Math.min(opts.concurrency || 4, queue.length || 1));
      await Promise.all(Array.from({ length: width }, worker));
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    if (signal?.aborted) throw abortError();
    if (failure) throw failure;
    return [...done.keys()].sort((a, b) => a - b).map((n) => {
      const etag = done.get(n);
      return etag ? { part_number: n, etag } : { part_number: n };
    });
  }

  /** The localStorage key under which an upload of a file is remembered. */
  _resumeKey(store, name, size, lastModified) {
    return RESUME_PREFIX + JSON.stringify([this.baseUrl, store, name, size, lastModified]);
  }

  _recall(key) {
    if (!key) return null;
    try {
      const plan = JSON.parse(this.storage?.getItem(key) || 'null');
      if (!plan) return null;
      if (plan.expires_at && Date.parse(plan.expires_at) <= Date.now()) { this._forget(key); return null; }
      return plan;
    } catch { return null; }
  }

  _remember(key, plan) {
    if (!key) return;
    try {
      const { first, ...keep } = plan;
      this.storage?.setItem(key, JSON.stringify(keep));
    } catch { /* storage full or disabled: the upload still works, it just cannot resume */ }
  }

  _forget(key) { if (key) try { this.storage?.removeItem(key); } catch { /* ignore */ } }
}

/** Tracks bytes per part so retries and resumes never double count. */
class Meter {
  constructor(total, cb) {
    this.total = total;
    this.cb = cb;
    this.parts = new Map();
    this.samples = [];
    this.resumed = false;
    this.last = 0;
  }
  set(n, loaded) { this.parts.set(n, { loaded, final: false }); this.emit(); }
  finish(n, len) { this.parts.set(n, { loaded: len, final: true }); this.emit(true); }
  stop() { this.cb = null; }
  emit(force) {
    if (!this.cb) return;
    let bytes = 0;
    for (const p of this.parts.values()) bytes += p.loaded;
    bytes = Math.min(bytes, this.total);
    const now = performance.now();
    this.samples.push([now, bytes]);
    while (this.samples.length > 2 && now - this.samples[0][0] > 3000) this.samples.shift();
    if (!force && now - this.last < 50) return; // at most ~20 updates a second
    this.last = now;
    const [t0, b0] = this.samples[0];
    const rate = now > t0 ? Math.max(0, (bytes - b0) * 1000 / (now - t0)) : 0;
    this.cb({ bytes, total: this.total, rate, resumed: this.resumed });
  }
}

/**
 * Sends one signed request with XMLHttpRequest (for upload progress) and
 * resolves with the response's ETag ('' when storage does not expose it).
 */
function send(recipe, body, onProgress, signal, stallMs) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    const xhr = new XMLHttpRequest();
    // A request that moves no byte for stallMs (a half-open connection,
    // storage that never answers) is abandoned as a network error, so the
    // caller's retry takes over instead of the upload hanging for good.
    let stalled = false;
    let timer = 0;
    const alive = () => {
      clearTimeout(timer);
      if (stallMs > 0) timer = setTimeout(() => { stalled = true; xhr.abort(); }, stallMs);
    };
    xhr.open(recipe.method || 'PUT', recipe.url);
    for (const [k, v] of Object.entries(recipe.headers || {})) {
      if (!FORBIDDEN_HEADERS.has(k.toLowerCase())) xhr.setRequestHeader(k, v);
    }
    const onAbort = () => xhr.abort();
    signal?.addEventListener('abort', onAbort);
    const cleanup = () => { clearTimeout(timer); signal?.removeEventListener('abort', onAbort); };
    xhr.upload.onprogress = (ev) => { alive(); onProgress(ev.loaded); };
    xhr.onprogress = alive;
    xhr.onreadystatechange = alive;
    xhr.onload = () => {
      cleanup();
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve((xhr.getResponseHeader('ETag') || '').trim());
        return;
      }
      reject(storageError(xhr.status, xhr.responseText));
    };
    xhr.onerror = () => { cleanup(); reject(new ValetError('Network error while sending to storage (blocked by CORS or connection lost)', { code: 'network' })); };
    xhr.ontimeout = () => { cleanup(); reject(new ValetError('Storage did not answer in time', { code: 'network' })); };
    xhr.onabort = () => {
      cleanup();
      reject(stalled && !signal?.aborted
        ? new ValetError(`Storage stopped answering (nothing moved for ${Math.round(stallMs / 1000)} s)`, { code: 'network' })
        : abortError());
    };
    alive();
    xhr.send(body);
  });
}

function storageError(status, text) {
  // S3-style XML and Azure both carry <Code>...</Code>; show the code, never the body.
  const m = /<Code>([^<]{1,64})<\/Code>/.exec(text || '');
  const code = m ? m[1] : '';
  return new ValetError(`Storage rejected the upload (HTTP ${status}${code ? ' ' + code : ''})`, { code: 'storage', status, title: code });
}

/** @param {Response} resp */
async function problem(resp) {
  let p = {};
  try {
    const text = await resp.text();
    p = text ? JSON.parse(text) : {};
  } catch { p = {}; }
  if (typeof p !== 'object' || p === null) p = {};
  const ra = Number(resp.headers.get('Retry-After'));
  const title = typeof p.title === 'string' ? p.title : (resp.statusText || `HTTP ${resp.status}`);
  const detail = typeof p.detail === 'string' ? p.detail : '';
  return new ValetError(detail || title, {
    code: typeof p.code === 'string' ? p.code : defaultCode(resp.status),
    status: resp.status, title, detail, type: typeof p.type === 'string' ? p.type : '',
    retryAfter: Number.isFinite(ra) && ra > 0 ? ra : undefined,
  });
}

function defaultCode(status) {
  return ({ 400: 'invalid_argument', 401: 'unauthenticated', 403: 'permission_denied', 404: 'not_found',
    409: 'conflict', 413: 'too_large', 415: 'unsupported_media_type', 429: 'rate_limited', 503: 'unavailable' })[status] || 'unknown';
}

function transient(e) {
  return e.code === 'network' || e.status === 408 || e.status === 429 || e.status >= 500;
}

function partsOf(r) {
  if (Array.isArray(r)) return r;
  return r?.parts || [];
}

function recipeOf(p) {
  return {
    method: p.method || 'PUT', url: p.url, headers: p.headers || {},
    expires: p.expires_at ? Date.parse(p.expires_at) : Date.now() + 5 * 60_000,
  };
}

function partLength(plan, size, n) {
  const start = (n - 1) * plan.part_size;
  return Math.max(0, Math.min(plan.part_size, size - start));
}

/** Exponential backoff with jitter; a server's Retry-After (seconds) is a floor, up to 30 s. */
function backoff(attempt, err) {
  const base = Math.min(8000, 500 * 2 ** attempt);
  const wait = base / 2 + Math.random() * base / 2;
  const after = Number(err?.retryAfter);
  return after > 0 ? Math.max(wait, Math.min(after, 30) * 1000) : wait;
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = () => { clearTimeout(t); reject(abortError()); };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function abortError() { return new DOMException('Upload aborted', 'AbortError'); }
function isAbort(e) { return e?.name === 'AbortError'; }
function unquote(etag) { return String(etag || '').replace(/^W\//, '').replace(/"/g, ''); }
function enc(s) { return encodeURIComponent(s); }
function encKey(key) { return key.split('/').map(encodeURIComponent).join('/'); }

async function sha256(file) {
  const digest = await crypto.subtle.digest('SHA-256', await file.arrayBuffer());
  let bin = '';
  for (const b of new Uint8Array(digest)) bin += String.fromCharCode(b);
  return btoa(bin);
}
