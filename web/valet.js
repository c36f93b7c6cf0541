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
//
// An upload is a short sequence of steps, each one method of Valet:
//   _resumePlan      recall a remembered upload of this file and list its parts (_listParts)
//   _createUpload    or else create one
//   _putSingle       a single upload: one PUT of the whole file
//   _uploadParts     a multipart one: _sendParts sends the parts still to send, a few at
//                    once, each by _sendPart (signed in batches by RecipeBook through
//                    _signParts; sent by send(), which abandons a stalled request)
//   _completeUpload  either kind ends with complete
//   _abortUpload     or with abort, when the caller aborts or the plan is stale
// _upload reads as that sequence; the @typedefs below are the objects the steps pass.

// ---- Options and events ----------------------------------------------------

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
 * @property {number} [rememberEvery] Milliseconds between writes of a multipart upload's
 *   resume record to storage while parts finish (default 1000), and once more when the
 *   parts stop. A reload loses at most the parts of that time, which a resume sends again;
 *   writing after every part would rewrite a record that grows with the part count each time.
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
 * @property {AbortSignal} [pauseSignal] Aborting it stops the upload as signal does, but a
 *   multipart upload stays on the server and remembered, so that uploading the same file
 *   again resumes it. Where it cannot be remembered (storage null, or the same file is
 *   being uploaded already by this client) it is aborted on the server as by signal.
 * @property {number} [concurrency] Parts sent at once (default 4).
 * @property {Record<string,string>} [metadata]
 * @property {string|boolean} [checksum] Base64 SHA-256 of the file, or true to compute it (reads the whole file into memory). A store that cannot verify it (capabilities.verifies_checksum_sha256 in GET /v1/stores) refuses the upload with 400 checksum_unverifiable.
 * @property {string} [key] A client-chosen key, where the store allows it.
 * @property {boolean} [multipart] Ask for a multipart upload whatever the size.
 * @property {string} [contentType] Defaults to file.type, then application/octet-stream.
 * @property {boolean} [resume] Resume a remembered upload of the same file (default true).
 */

/** @typedef {{cursor?: string, limit?: number, signal?: AbortSignal}} ListOptions cursor: the previous page's next_cursor. */
/** @typedef {{disposition?: 'inline'|'attachment', filename?: string, signal?: AbortSignal}} MediaOptions */
/**
 * How play() plays an HLS playlist where the browser has none of its own: Hls is
 * hls.js's default export (https://github.com/video-dev/hls.js, npm hls.js; Valet
 * ships no copy), hlsConfig its options.
 * @typedef {{Hls?: HlsClass, hlsConfig?: Record<string, unknown>, signal?: AbortSignal}} PlayOptions
 */
/**
 * The part of hls.js's class play() uses.
 * @typedef {{new (config?: Record<string, unknown>): HlsPlayer, isSupported(): boolean, Events: {ERROR: string}, ErrorTypes: {NETWORK_ERROR: string}}} HlsClass
 */
/** @typedef {{attachMedia(el: HTMLMediaElement): void, loadSource(url: string): void, on(event: string, cb: (event: string, data: any) => void): void, destroy(): void}} HlsPlayer */
/**
 * What play() started: the media data it played, the hls.js instance (null when
 * the element plays the link itself), and stop(), which detaches it.
 * @typedef {{media: Media, hls: HlsPlayer|null, refreshes: number, stop(): void}} Playback
 */
/** @typedef {{code?: string, status?: number, title?: string, detail?: string, type?: string, retryAfter?: number}} ErrorInfo */

/**
 * Options of signGets.
 * @typedef {Object} SignGetsOptions
 * @property {number|string} [ttl] Every URL's lifetime: seconds, or a duration such as '5m';
 *   clamped to the store's max_ttl. Default: the store's get_ttl.
 * @property {boolean} [checkExists] Look every key up first, so that a missing object is its
 *   item's 404 object_not_found (costs the gateway one storage lookup per key).
 * @property {'inline'|'attachment'} [disposition] For every URL; an attachment is named after
 *   its key's last segment.
 * @property {AbortSignal} [signal]
 */

/**
 * An upload started in this browser that can be resumed by uploading the
 * same file again (see pending()): the upload, its key, and the file's name,
 * size and modification time.
 * @typedef {UploadRef & {key: string, name: string, size: number, lastModified: number}} PendingUpload
 */

// ---- The gateway's wire objects --------------------------------------------

/** An upload on the gateway: what the API calls of an upload address. @typedef {{store: string, upload_id: string}} UploadRef */

/**
 * A stored object, as listing, GET and completing an upload answer it.
 * @typedef {Object} ObjectInfo
 * @property {string} key
 * @property {number} size
 * @property {string} content_type
 * @property {string} [etag]
 * @property {string} [last_modified]
 */

/**
 * An uploaded object, as completing the upload answers it: with hook, the
 * JSON the store's hook answered to upload.complete (for example the
 * application's own id for the file), when it answered any.
 * @typedef {ObjectInfo & {hook?: unknown}} UploadedObject
 */

/**
 * An object with a short-lived signed URL to fetch it (GET .../objects/{key}).
 * playback_url, when present, is a gateway link that needs no credentials until
 * playback_expires_at (<video src>, <img src>, downloads; an HLS playlist's link
 * answers the playlist with signed segments). None is given for a playlist at the
 * store's root.
 * @typedef {ObjectInfo & {url: string, expires_at?: string, playback_url?: string, playback_expires_at?: string}} Media
 */

/**
 * One key's answer in signGets: a signed GET (url, method, headers, expires_at), or error,
 * this key's own refusal (code policy_denied 403, object_not_found 404, invalid_key 400…),
 * never both.
 * @typedef {Object} SignedGet
 * @property {string} key
 * @property {string} [url]
 * @property {string} [method]
 * @property {Record<string,string>} [headers]
 * @property {string} [expires_at]
 * @property {{code: string, status: number, detail?: string}} [error]
 */

/** One page of GET .../objects. @typedef {{objects: ObjectInfo[], next_cursor?: string}} ObjectPage */

/** A store as GET /v1/stores describes it (provider, limits, capabilities…). @typedef {{name: string, [k: string]: unknown}} StoreInfo */

/**
 * A signed request to storage: what the browser sends the bytes with.
 * @typedef {Object} SignedRequest
 * @property {string} url
 * @property {string} [method] Default PUT.
 * @property {Record<string,string>} [headers] Sent as given, but for those a browser sets itself.
 */

/**
 * The body of POST .../uploads.
 * @typedef {Object} CreateUploadRequest
 * @property {string} filename
 * @property {string} content_type
 * @property {number} size
 * @property {Record<string,string>} [metadata]
 * @property {string} [key]
 * @property {boolean} [multipart]
 * @property {string} [checksum_sha256]
 */

/** How a multipart upload is cut: every part but the last is part_size bytes. @typedef {{part_size: number, part_count: number}} PartLayout */

/**
 * The answer to POST .../uploads: for a single upload, the request to send
 * the whole file with; for a multipart one, its layout and perhaps the first
 * parts' recipes.
 * @typedef {Partial<SignedRequest> & {upload_id: string, key: string, expires_at?: string, multipart?: PartLayout, parts?: PartRecipe[]}} UploadAnswer
 */

/**
 * The signed request for one part (in UploadAnswer.parts and POST .../parts).
 * @typedef {SignedRequest & {part_number: number, expires_at?: string}} PartRecipe
 */

/** A part storage holds (GET .../parts; number is an older name of part_number). @typedef {{part_number?: number, number?: number, size?: number, etag?: string}} ListedPart */

/** A part named in POST .../complete. @typedef {{part_number: number, etag?: string}} CompletedPart */

// ---- What the client keeps -------------------------------------------------

/**
 * A multipart upload under way: the create answer's id, key, expiry and
 * layout; first, the recipes that answer carried (used once, never
 * remembered); done, the parts this browser saw stored (part number -> etag,
 * '' when unknown); intent, what the upload was asked to be (see intentOf).
 * Remembered in storage under the file's resume key.
 * @typedef {Pick<UploadAnswer, 'upload_id'|'key'|'expires_at'> & PartLayout &
 *   {first?: PartRecipe[], done: Record<number,string>, intent?: string}} Plan
 */

/**
 * One call of upload(): what its steps share. opts.signal is aborted by the
 * caller's signal or pauseSignal; cancel is the caller's signal alone.
 * resumeKey: where the plan is remembered (null: not at all).
 * @typedef {{file: File, opts: UploadOptions, cancel?: AbortSignal, resumeKey: string|null, progress: Meter}} Run
 */

/** A multipart upload's run: with its plan, and the upload its calls address. @typedef {Run & {plan: Plan, ref: UploadRef}} PartsRun */

/** A part's recipe as held while sending: expires is a time in ms. @typedef {Required<SignedRequest> & {expires: number}} HeldRecipe */

// ---- Constants -------------------------------------------------------------

const FORBIDDEN_HEADERS = new Set(['content-length', 'host', 'connection', 'expect', 'keep-alive',
  'transfer-encoding', 'upgrade', 'te', 'trailer', 'date', 'origin', 'referer', 'cookie']);
const RESUME_PREFIX = 'valet.upload:';
const RECIPE_BATCH = 8;
/** How long aborting an upload on the server may take before a cancel gives up on it (ms). */
const ABORT_TIMEOUT = 15_000;
/** A recipe closer than this (ms) to its expiry is signed again before use. */
const RECIPE_MARGIN = 30_000;

// ---- Errors ----------------------------------------------------------------

/** An error from the gateway (problem+json), from storage, or from the network. */
export class ValetError extends Error {
  /**
   * @param {string} message
   * @param {ErrorInfo} [info]
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

export class Valet {
  /** @param {ValetOptions} [opts] */
  constructor(opts = {}) {
    const origin = typeof location !== 'undefined' ? location.origin : '';
    this.baseUrl = (opts.baseUrl || origin).replace(/\/+$/, '');
    this.getToken = opts.getToken || (() => null);
    this.retries = opts.retries ?? 4;
    this.stallTimeout = opts.stallTimeout ?? 60_000;
    this.rememberEvery = opts.rememberEvery ?? 1000;
    /** Resume keys of the uploads under way in this client. @private @type {Set<string>} */
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
   * @returns {Promise<any>}
   */
  async api(method, path, body, signal) {
    /** @type {Record<string,string>} */
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
      throw new ValetError('Cannot reach the gateway: ' + (/** @type {any} */ (e)?.message || e), { code: 'network' });
    }
    if (!resp.ok) throw await problem(resp);
    if (resp.status === 204) return null;
    const text = await resp.text();
    try {
      return text ? JSON.parse(text) : null;
    } catch {
      // Not the gateway (a wrong baseUrl served by a page host, a proxy's page).
      throw new ValetError(`The gateway answered ${method} ${path} with something that is not JSON (HTTP ${resp.status}); is baseUrl right?`,
        { code: 'invalid_response', status: resp.status });
    }
  }

  /**
   * Lists the stores the gateway serves.
   * @returns {Promise<StoreInfo[]>}
   */
  async stores() {
    const r = await this.api('GET', '/v1/stores');
    return Array.isArray(r) ? r : (r?.stores || []);
  }

  /**
   * Lists objects in a store whose keys start with prefix.
   * @param {string} store
   * @param {string} [prefix]
   * @param {ListOptions} [opts]
   * @returns {Promise<ObjectPage>}
   */
  async list(store, prefix = '', opts = {}) {
    const qs = query({ prefix, cursor: opts.cursor, limit: opts.limit });
    const r = await this.api('GET', `${storePath(store)}/objects${qs}`, undefined, opts.signal);
    return { objects: r?.objects || r?.items || [], next_cursor: r?.next_cursor || '' };
  }

  /**
   * Returns an object's metadata and a short-lived signed URL to fetch it
   * (usable directly as <video src>; Range requests go to storage).
   * @param {string} store
   * @param {string} key
   * @param {MediaOptions} [opts]
   * @returns {Promise<Media>}
   */
  async media(store, key, opts = {}) {
    const qs = query({ disposition: opts.disposition, filename: opts.filename });
    return this.api('GET', `${storePath(store)}/objects/${encKey(key)}${qs}`, undefined, opts.signal);
  }

  /**
   * Signs GET URLs for many keys of a store in one request (POST .../objects/sign), for a page
   * of thumbnails or a list of clips. The answer has one item per key, in order: each key is
   * checked on its own, so a key the store's read rule denies, or a missing one with
   * checkExists, is its item's error while the others are signed. The call itself fails
   * (ValetError) only for what concerns every key: no keys or more than the store's
   * limits.max_batch (default 100; code invalid_batch), a bad ttl or disposition, or the
   * provider failing.
   * @param {string} store
   * @param {string[]} keys
   * @param {SignGetsOptions} [opts]
   * @returns {Promise<SignedGet[]>}
   */
  async signGets(store, keys, opts = {}) {
    /** @type {Record<string, unknown>} */
    const body = { keys };
    if (opts.ttl !== undefined) body.ttl = opts.ttl;
    if (opts.checkExists) body.check_exists = true;
    if (opts.disposition) body.disposition = opts.disposition;
    const r = await this.api('POST', `${storePath(store)}/objects/sign`, body, opts.signal);
    return r?.items || [];
  }

  /**
   * Returns an object's playback link: a gateway URL that needs no credentials until
   * it expires, for <video src>, <audio src>, <img src>, download links and players.
   * @param {string} store
   * @param {string} key
   * @param {{signal?: AbortSignal}} [opts]
   * @returns {Promise<string>}
   */
  async playbackURL(store, key, opts = {}) {
    const m = await this.media(store, key, { signal: opts.signal });
    if (!m?.playback_url) throw new ValetError('This object has no playback link (an HLS playlist at the store root?)', { code: 'no_playback_url' });
    return m.playback_url;
  }

  /**
   * Plays an object in a <video> or <audio> element from its playback link. An HLS
   * playlist plays with opts.Hls (hls.js) where it is supported, else natively
   * where the browser can (iOS Safari). When the link expires (storage or the
   * gateway refuses a request), a new one is asked for and playback resumes where it
   * was, so a player paused past the store's playback_ttl carries on.
   * @param {HTMLMediaElement} el
   * @param {string} store
   * @param {string} key
   * @param {PlayOptions} [opts]
   * @returns {Promise<Playback>}
   */
  async play(el, store, key, opts = {}) {
    let media = await this.media(store, key, { signal: opts.signal });
    if (!media?.playback_url) throw new ValetError('This object has no playback link (an HLS playlist at the store root?)', { code: 'no_playback_url' });
    const isHLS = /\.m3u8$/i.test(key) || /mpegurl/i.test(media.content_type || '');
    const Hls = opts.Hls;
    // hls.js where it runs (MSE), as its authors advise; native HLS otherwise (iOS).
    const useHls = isHLS && !!Hls && Hls.isSupported();
    if (isHLS && !useHls && !el.canPlayType('application/vnd.apple.mpegurl')) {
      throw new ValetError('This browser cannot play HLS: pass hls.js as opts.Hls', { code: 'hls_unsupported' });
    }
    /** @type {Playback} */
    const pb = { media, hls: null, refreshes: 0, stop() {} };
    let refreshing = false;
    let stopped = false;
    let last = 0;
    // A fresh link, resumed where playback was; one refresh at a time, and at
    // most one every 5 s, so a link that keeps failing does not loop.
    const refresh = async () => {
      if (refreshing || stopped || Date.now() - last < 5000) return;
      refreshing = true;
      last = Date.now();
      try {
        const at = el.currentTime;
        const paused = el.paused;
        media = await this.media(store, key, { signal: opts.signal });
        if (stopped || !media?.playback_url) return;
        pb.media = media;
        pb.refreshes++;
        start(media.playback_url, at);
        if (!paused) el.play().catch(() => {});
      } catch { /* the next failed request tries again */ } finally {
        refreshing = false;
      }
    };
    /** @param {string} url @param {number} at */
    const start = (url, at) => {
      if (useHls && Hls) {
        pb.hls?.destroy();
        const hls = new Hls({ ...opts.hlsConfig, startPosition: at > 0 ? at : -1 });
        hls.on(Hls.Events.ERROR, (_e, data) => {
          // Expired links answer 403 (or an opaque status 0 without CORS); hls.js
          // does not retry a 4xx, so ask for a new link instead.
          const code = data?.response?.code;
          if (data?.type === Hls.ErrorTypes.NETWORK_ERROR && (data.fatal || code === 0 || (code >= 400 && code < 500))) refresh();
        });
        hls.attachMedia(el);
        hls.loadSource(url);
        pb.hls = hls;
        return;
      }
      el.src = url;
      if (at > 0) el.currentTime = at;
    };
    const onError = () => { if (!useHls) refresh(); };
    el.addEventListener('error', onError);
    pb.stop = () => {
      stopped = true;
      el.removeEventListener('error', onError);
      pb.hls?.destroy();
      pb.hls = null;
    };
    start(media.playback_url, 0);
    return pb;
  }

  /**
   * Uploads a file (a Blob with a name) directly to storage.
   * @param {File} file
   * @param {UploadOptions} opts
   * @returns {Promise<UploadedObject>} the stored object as the gateway reports it on
   *   completion, with the store's hook's answer as hook. An upload the hook refuses
   *   fails with code hook_rejected (its message as detail); while the hook is
   *   unreachable (503 hook_unavailable) completing is retried, honouring Retry-After.
   */
  async upload(file, opts) {
    if (!opts?.store) throw new ValetError('upload: store is required', { code: 'invalid_argument' });
    if (opts.signal?.aborted) throw abortError();
    const fileKey = this._resumeKey(opts.store, file.name, file.size, file.lastModified);
    // While this client uploads a file, that upload owns its remembered
    // plan; a second upload of the same file meanwhile starts its own and
    // is not remembered.
    const resumeKey = this._active.has(fileKey) ? null : fileKey;
    const signal = eitherSignal(opts.signal, opts.pauseSignal);
    /** @type {Run} */
    const run = {
      file, opts: { ...opts, signal }, cancel: opts.signal, resumeKey, progress: new Meter(file.size, opts.onProgress),
    };
    if (!resumeKey) return this._upload(run);
    this._active.add(fileKey);
    try {
      return await this._upload(run);
    } finally {
      this._active.delete(fileKey);
    }
  }

  /**
   * Uploads that were started in this browser and can be resumed by
   * uploading the same file (same name, size and modification time) again.
   * @returns {PendingUpload[]}
   */
  pending() {
    /** @type {PendingUpload[]} */
    const out = [];
    if (!this.storage) return out;
    for (let i = 0; i < this.storage.length; i++) {
      const k = this.storage.key(i);
      if (!k?.startsWith(RESUME_PREFIX)) continue;
      try {
        const [baseUrl, store, name, size, lastModified] = JSON.parse(k.slice(RESUME_PREFIX.length));
        /** @type {Plan|null} */
        const plan = JSON.parse(this.storage.getItem(k) || 'null');
        if (baseUrl !== this.baseUrl || !plan) continue;
        out.push({ store, name, size, lastModified, upload_id: plan.upload_id, key: plan.key });
      } catch { /* not ours */ }
    }
    return out;
  }

  /**
   * Aborts a remembered upload on the server and forgets it.
   * @param {PendingUpload} p an entry from pending()
   */
  async discard(p) {
    await this._abortUpload(p, this._resumeKey(p.store, p.name, p.size, p.lastModified));
  }

  // ---- The steps of an upload ----------------------------------------------

  /**
   * @private
   * One upload, step by step: resume the remembered plan or create the
   * upload; then either one PUT and complete, or the parts and complete.
   * @param {Run} run
   * @returns {Promise<UploadedObject>}
   */
  async _upload(run) {
    const { opts } = run;
    let plan = await this._resumePlan(run);
    if (!plan) {
      const created = await this._createUpload(run);
      if (!created.multipart) {
        // A single upload's answer is the request to send the file with.
        await this._putSingle(run, /** @type {SignedRequest} */ (created));
        return this._completeUpload(refOf(opts, created), undefined, opts.signal);
      }
      plan = planOf(created, intentOf(run));
      this._remember(run.resumeKey, plan);
    }
    return this._uploadParts({ ...run, plan, ref: refOf(opts, plan) });
  }

  /**
   * @private
   * Recalls the remembered plan for the file and keeps, as done, only the
   * parts this browser saw succeed that storage still lists whole. A plan
   * asked for another key, type or metadata is aborted and forgotten; one
   * the server no longer knows is forgotten. Null: start a new upload.
   * @param {Run} run its progress is marked resumed when the plan is kept
   * @returns {Promise<Plan|null>}
   */
  async _resumePlan(run) {
    const { file, opts, resumeKey, progress } = run;
    const plan = opts.resume === false || !resumeKey ? null : this._recall(resumeKey);
    if (!plan) return null;
    const ref = refOf(opts, plan);
    if (plan.intent !== undefined && plan.intent !== intentOf(run)) {
      await this._abortUpload(ref, resumeKey);
      return null;
    }
    try {
      const listed = await this._listParts(ref, opts.signal);
      plan.done = trustedParts(plan, listed, file.size);
      progress.resumed = true;
      return plan;
    } catch (e) {
      // Keep the remembered upload when the failure is ours (an expired
      // token, the network); start again only when the server no longer
      // knows it (expired, finished, aborted or not this caller's).
      if (isAbort(e) || !uploadGone(e)) throw e;
      this._forget(resumeKey);
      return null;
    }
  }

  /**
   * @private
   * Creates the upload (POST .../uploads), computing the checksum first when asked to.
   * @param {Run} run
   * @returns {Promise<UploadAnswer>}
   */
  async _createUpload(run) {
    const { file, opts } = run;
    /** @type {CreateUploadRequest} */
    const body = { filename: file.name, content_type: contentTypeOf(file, opts), size: file.size };
    if (opts.metadata) body.metadata = opts.metadata;
    if (opts.key) body.key = opts.key;
    if (opts.multipart) body.multipart = true;
    if (opts.checksum) body.checksum_sha256 = opts.checksum === true ? await sha256(file) : opts.checksum;
    // Retried only when the gateway answered that it could not (503, 429,
    // ...): after a lost answer the upload may exist, and another create
    // would make a second one.
    return this._retry(() => this.api('POST', uploadsPath(opts.store), body, opts.signal), opts.signal,
      (e) => transient(e) && e.code !== 'network');
  }

  /**
   * @private
   * Sends the whole file with the create answer's request. That request
   * cannot be signed again here, so only transient failures are retried.
   * @param {Run} run
   * @param {SignedRequest} recipe
   */
  async _putSingle({ file, opts: { signal }, progress }, recipe) {
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

  /**
   * @private
   * Sends the parts not yet stored and completes the upload, forgetting the
   * plan once it is complete. When the caller aborts, the upload is aborted
   * on the server too and forgotten, unless it was paused (pauseSignal) and
   * is remembered, to be resumed.
   * @param {PartsRun} run
   * @returns {Promise<UploadedObject>}
   */
  async _uploadParts(run) {
    const { opts, cancel, resumeKey, ref } = run;
    let finished = false;
    try {
      const parts = await this._sendParts(run);
      const result = await this._completeUpload(ref, parts, opts.signal);
      finished = true;
      this._forget(resumeKey);
      return result;
    } catch (e) {
      if (isAbort(e) || opts.signal?.aborted) {
        // Paused only when the plan is remembered (no storage, or storage
        // full, would leave an upload nobody can resume): else aborted.
        const paused = !!resumeKey && !!opts.pauseSignal?.aborted && !cancel?.aborted && !!this._recall(resumeKey);
        if (!paused) await this._abortUpload(ref, resumeKey);
        throw abortError();
      }
      // Refused by the application's hook: the object is deleted and the
      // upload over, so nothing is left to resume.
      if (/** @type {any} */ (e)?.code === 'hook_rejected') this._forget(resumeKey);
      throw e;
    } finally {
      if (!finished) run.progress.stop();
    }
  }

  /**
   * @private
   * Sends every part not in plan.done, opts.concurrency at once, and
   * remembers each as it is stored. The first part to fail for good stops
   * the others, and its error is thrown.
   * @param {PartsRun} run
   * @returns {Promise<CompletedPart[]>} every part, for complete
   */
  async _sendParts(run) {
    const { file, opts: { signal, concurrency }, progress, plan, ref } = run;
    for (const n of partNumbers(plan.done)) progress.finish(n, partRange(plan, file.size, n).len);
    /** @type {number[]} */
    const todo = [];
    for (let n = 1; n <= plan.part_count; n++) if (!(n in plan.done)) todo.push(n);
    const recipes = new RecipeBook((want) => this._signParts(ref, want, signal), plan.first || [], todo);
    plan.first = [];

    const ctrl = new AbortController();
    const unlink = whenAborted(signal, () => ctrl.abort());
    let failure;
    let saved = 0; // when the record was last written
    const remember = (/** @type {boolean} */ now) => {
      if (!now && Date.now() - saved < this.rememberEvery) return;
      saved = Date.now();
      this._remember(run.resumeKey, plan);
    };
    try {
      failure = await inParallel(todo, concurrency || 4, ctrl, async (n) => {
        plan.done[n] = await this._sendPart(run, n, recipes, ctrl.signal);
        remember(false);
      });
    } finally {
      unlink();
      // Every part stored so far, for a pause or a failure to resume from.
      remember(true);
    }
    if (signal?.aborted) throw abortError();
    if (failure) throw failure;
    return completedParts(plan.done);
  }

  /**
   * @private
   * Sends part n: signs it when it has no fresh recipe, PUTs it (abandoned
   * after stallTimeout without progress), and retries transient failures
   * and 403s (most often an expired signature: signed again first). Signing
   * shares the part's attempts: a gateway blip (503, a dropped connection)
   * is retried like a failed PUT.
   * @param {PartsRun} run
   * @param {number} n
   * @param {RecipeBook} recipes
   * @param {AbortSignal} signal aborted when the upload is aborted or another part failed
   * @returns {Promise<string>} the part's ETag ('' when storage does not expose it)
   */
  async _sendPart({ file, progress, plan }, n, recipes, signal) {
    const { start, len } = partRange(plan, file.size, n);
    const blob = file.slice(start, start + len);
    const etag = await this._retry(async () => {
      try {
        const recipe = await recipes.get(n);
        return await send(recipe, blob, (loaded) => progress.set(n, loaded), signal, this.stallTimeout);
      } catch (/** @type {any} */ e) {
        progress.set(n, 0);
        if (isAbort(e) || signal.aborted) throw abortError();
        if (expiredRecipe(e)) recipes.drop(n);
        throw e;
      }
    }, signal, (e) => transient(e) || expiredRecipe(e));
    progress.finish(n, len);
    return etag;
  }

  /**
   * @private
   * Lists the parts storage holds (GET .../parts).
   * @param {UploadRef} ref
   * @param {AbortSignal} [signal]
   * @returns {Promise<ListedPart[]>}
   */
  async _listParts(ref, signal) {
    return partsOf(await this._retry(() => this.api('GET', uploadPath(ref, '/parts'), undefined, signal), signal));
  }

  /**
   * @private
   * Signs a batch of parts (POST .../parts).
   * @param {UploadRef} ref
   * @param {number[]} partNumbers
   * @param {AbortSignal} [signal]
   * @returns {Promise<PartRecipe[]>}
   */
  async _signParts(ref, partNumbers, signal) {
    return partsOf(await this.api('POST', uploadPath(ref, '/parts'), { part_numbers: partNumbers }, signal));
  }

  /**
   * @private
   * Completes the upload (POST .../complete), retrying transient failures
   * (an unreachable hook among them): completing again after a lost answer
   * returns the object, and tells the hook again with the same webhook-id.
   * @param {UploadRef} ref
   * @param {CompletedPart[]|undefined} parts every part of a multipart upload; undefined for a single one
   * @param {AbortSignal} [signal]
   * @returns {Promise<UploadedObject>}
   */
  async _completeUpload(ref, parts, signal) {
    const body = parts ? { parts } : {};
    return this._retry(() => this.api('POST', uploadPath(ref, '/complete'), body, signal), signal);
  }

  /**
   * @private
   * Aborts the upload on the server (DELETE .../uploads/{id}) and forgets its
   * plan. The request is best effort, sent without the caller's signal (it
   * may be aborted already); an upload that is gone already is no failure.
   * @param {UploadRef} ref
   * @param {string|null} resumeKey
   */
  async _abortUpload(ref, resumeKey) {
    // Bounded, so that a gateway that never answers cannot hold a cancel.
    try { await this.api('DELETE', uploadPath(ref), undefined, AbortSignal.timeout(ABORT_TIMEOUT)); } catch { /* gone already, or best effort */ }
    this._forget(resumeKey);
  }

  /**
   * @private
   * Runs fn, retrying with backoff the failures retryable says are worth
   * it (by default the transient ones: network, 408, 429, 5xx), up to
   * this.retries times. An abort is never retried.
   * @template T
   * @param {() => Promise<T>} fn
   * @param {AbortSignal} [signal]
   * @param {(e: any) => boolean} [retryable]
   * @returns {Promise<T>}
   */
  async _retry(fn, signal, retryable = transient) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (isAbort(e) || signal?.aborted || attempt >= this.retries || !retryable(e)) throw e;
        await sleep(backoff(attempt, e), signal);
      }
    }
  }

  // ---- Remembered uploads --------------------------------------------------

  /**
   * @private
   * The localStorage key under which an upload of a file is remembered.
   * @param {string} store
   * @param {string} name
   * @param {number} size
   * @param {number} lastModified
   */
  _resumeKey(store, name, size, lastModified) {
    return RESUME_PREFIX + JSON.stringify([this.baseUrl, store, name, size, lastModified]);
  }

  /**
   * @private
   * The plan remembered under key, unless it has expired (then it is forgotten).
   * @param {string} key
   * @returns {Plan|null}
   */
  _recall(key) {
    if (!key) return null;
    try {
      const plan = JSON.parse(this.storage?.getItem(key) || 'null');
      if (!plan) return null;
      if (plan.expires_at && Date.parse(plan.expires_at) <= Date.now()) { this._forget(key); return null; }
      return plan;
    } catch { return null; }
  }

  /**
   * @private
   * @param {string|null} key
   * @param {Plan} plan
   */
  _remember(key, plan) {
    if (!key) return;
    try {
      const { first, ...keep } = plan;
      this.storage?.setItem(key, JSON.stringify(keep));
    } catch { /* storage full or disabled: the upload still works, it just cannot resume */ }
  }

  /** @private @param {string|null} key */
  _forget(key) { if (key) try { this.storage?.removeItem(key); } catch { /* ignore */ } }
}

/**
 * The signed recipes of one multipart upload's parts. A part without a
 * fresh recipe is signed together with the next parts that have none, up to
 * RECIPE_BATCH in one call, one batch at a time.
 */
class RecipeBook {
  /**
   * @param {(partNumbers: number[]) => Promise<PartRecipe[]>} sign signs a batch of parts
   * @param {PartRecipe[]} first recipes the create answer carried
   * @param {number[]} todo the parts to send, in order
   */
  constructor(sign, first, todo) {
    /** @type {Map<number, HeldRecipe>} */
    this.held = new Map();
    /** The batch being signed. @type {Promise<void>|null} */
    this.batch = null;
    this.sign = sign;
    this.todo = todo;
    this.add(first);
  }

  /** @param {PartRecipe[]} recipes */
  add(recipes) { for (const p of recipes) this.held.set(p.part_number, recipeOf(p)); }

  /** Forgets part n's recipe, so that it is signed again. @param {number} n */
  drop(n) { this.held.delete(n); }

  /** Whether part n has a recipe that is not about to expire. @param {number} n */
  fresh(n) {
    const r = this.held.get(n);
    return !!r && r.expires - Date.now() > RECIPE_MARGIN;
  }

  /**
   * Part n's recipe. Without a fresh one, it waits for the batches being
   * signed, and signs a batch for n when they did not bring one.
   * @param {number} n
   * @returns {Promise<HeldRecipe>}
   */
  async get(n) {
    if (!this.fresh(n)) {
      while (this.batch) await this.batch.catch(() => {});
      if (!this.fresh(n)) await this.signBatch(n);
    }
    const got = this.held.get(n);
    if (!got) throw new ValetError(`gateway returned no recipe for part ${n}`, { code: 'internal' });
    return got;
  }

  /**
   * Signs part n with the next parts to send that have no recipe, up to
   * RECIPE_BATCH in one call. this.batch is set at once, so that no other
   * batch starts until this one has settled.
   * @param {number} n
   */
  async signBatch(n) {
    const want = [n, ...this.todo.filter((m) => m !== n && !this.held.has(m))].slice(0, RECIPE_BATCH);
    this.batch = this.sign(want).then((recipes) => this.add(recipes));
    try { await this.batch; } finally { this.batch = null; }
  }
}

/** Tracks bytes per part so retries and resumes never double count. */
class Meter {
  /**
   * @param {number} total
   * @param {((p: Progress) => void)|undefined} cb
   */
  constructor(total, cb) {
    this.total = total;
    this.cb = cb;
    /** @type {Map<number, {loaded: number, final: boolean}>} */
    this.parts = new Map();
    /** @type {Array<[number, number]>} */
    this.samples = [];
    this.resumed = false;
    this.last = 0;
  }
  /** @param {number} n @param {number} loaded */
  set(n, loaded) { this.parts.set(n, { loaded, final: false }); this.emit(); }
  /** @param {number} n @param {number} len */
  finish(n, len) { this.parts.set(n, { loaded: len, final: true }); this.emit(true); }
  stop() { this.cb = undefined; }
  /** @param {boolean} [force] */
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
 * A request that moves no byte for stallMs (a half-open connection, storage
 * that never answers) is abandoned as a network error, so the caller's
 * retry takes over instead of the upload hanging for good.
 * @param {SignedRequest} recipe
 * @param {Blob} body
 * @param {(loaded: number) => void} onProgress
 * @param {AbortSignal|undefined} signal
 * @param {number} stallMs 0: never abandoned
 * @returns {Promise<string>}
 */
function send(recipe, body, onProgress, signal, stallMs) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    const xhr = new XMLHttpRequest();
    let stalled = false;
    /** @type {ReturnType<typeof setTimeout>|undefined} */
    let timer;
    const alive = () => {
      clearTimeout(timer);
      if (stallMs > 0) timer = setTimeout(() => { stalled = true; xhr.abort(); }, stallMs);
    };
    xhr.open(recipe.method || 'PUT', recipe.url);
    for (const [k, v] of Object.entries(recipe.headers || {})) {
      if (!FORBIDDEN_HEADERS.has(k.toLowerCase())) xhr.setRequestHeader(k, v);
    }
    const unlink = whenAborted(signal, () => xhr.abort());
    const cleanup = () => { clearTimeout(timer); unlink(); };
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

/**
 * Runs fn on each item, width at once, in order. The first failure stops
 * the others from starting and aborts ctrl; it is returned (null: none).
 * @param {number[]} items
 * @param {number} width
 * @param {AbortController} ctrl
 * @param {(item: number) => Promise<void>} fn
 * @returns {Promise<any>}
 */
async function inParallel(items, width, ctrl, fn) {
  const queue = items.slice();
  /** @type {any} */
  let failure = null;
  const worker = async () => {
    while (queue.length && !failure) {
      const item = /** @type {number} */ (queue.shift());
      try { await fn(item); } catch (e) { failure ||= e; ctrl.abort(); }
    }
  };
  const n = Math.max(1, Math.min(width, queue.length || 1));
  await Promise.all(Array.from({ length: n }, worker));
  return failure;
}

// ---- Plans and parts -------------------------------------------------------

/**
 * What an upload is asked to be: a remembered plan for the same file but
 * another key, type or metadata is not resumed.
 * @param {Run} run
 */
function intentOf({ file, opts }) {
  return JSON.stringify([opts.key || '', contentTypeOf(file, opts),
    Object.entries(opts.metadata || {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))]);
}

/** @param {File} file @param {UploadOptions} opts */
function contentTypeOf(file, opts) { return opts.contentType || file.type || 'application/octet-stream'; }

/**
 * The plan of a multipart upload just created.
 * @param {UploadAnswer} created an answer with multipart set
 * @param {string} intent
 * @returns {Plan}
 */
function planOf(created, intent) {
  const mp = /** @type {PartLayout} */ (created.multipart);
  return {
    upload_id: created.upload_id, key: created.key, expires_at: created.expires_at,
    part_size: mp.part_size, part_count: mp.part_count,
    first: created.parts || [], done: {}, intent,
  };
}

/**
 * The parts of a remembered plan not to send again: only those this
 * browser saw succeed AND storage still lists whole. A part cut off by a
 * reload may be listed by some backends with its full size but partial
 * content, so it is sent again.
 * @param {Plan} plan
 * @param {ListedPart[]} listed
 * @param {number} size the file's size
 * @returns {Record<number,string>} part number -> etag ('' when unknown)
 */
function trustedParts(plan, listed, size) {
  const confirmed = plan.done || {};
  /** @type {Record<number,string>} */
  const done = {};
  for (const p of listed) {
    const n = /** @type {number} */ (p.part_number ?? p.number);
    if (!(n in confirmed)) continue;
    if (p.size !== undefined && p.size !== partRange(plan, size, n).len) continue;
    const mine = unquote(confirmed[n]);
    if (mine && p.etag && unquote(p.etag) !== mine) continue;
    done[n] = p.etag || confirmed[n] || '';
  }
  return done;
}

/** @param {Record<number,string>} done @returns {number[]} its part numbers, ascending */
function partNumbers(done) { return Object.keys(done).map(Number).sort((a, b) => a - b); }

/**
 * The parts list of POST .../complete.
 * @param {Record<number,string>} done
 * @returns {CompletedPart[]}
 */
function completedParts(done) {
  return partNumbers(done).map((n) => (done[n] ? { part_number: n, etag: done[n] } : { part_number: n }));
}

/**
 * Where part n lies in the file.
 * @param {PartLayout} layout
 * @param {number} size the file's size
 * @param {number} n
 */
function partRange(layout, size, n) {
  const start = (n - 1) * layout.part_size;
  return { start, len: Math.max(0, Math.min(layout.part_size, size - start)) };
}

/**
 * A part's recipe as held, with defaults filled in (a recipe without an
 * expiry is taken to last five minutes).
 * @param {PartRecipe} p
 * @returns {HeldRecipe}
 */
function recipeOf(p) {
  return {
    method: p.method || 'PUT', url: p.url, headers: p.headers || {},
    expires: p.expires_at ? Date.parse(p.expires_at) : Date.now() + 5 * 60_000,
  };
}

/**
 * The parts of an answer that is either a list or {parts: [...]}.
 * @param {any} r
 * @returns {any[]}
 */
function partsOf(r) {
  if (Array.isArray(r)) return r;
  return r?.parts || [];
}

// ---- Errors and retries ----------------------------------------------------

/**
 * @param {number} status
 * @param {string} text the response body, of which only an XML <Code> is shown
 */
function storageError(status, text) {
  // S3-style XML and Azure both carry <Code>...</Code>; show the code, never the body.
  const m = /<Code>([^<]{1,64})<\/Code>/.exec(text || '');
  const code = m ? m[1] : '';
  return new ValetError(`Storage rejected the upload (HTTP ${status}${code ? ' ' + code : ''})`, { code: 'storage', status, title: code });
}

/** @param {Response} resp */
async function problem(resp) {
  /** @type {any} */
  let p = {};
  try {
    const text = await resp.text();
    p = text ? JSON.parse(text) : {};
  } catch { p = {}; }
  if (typeof p !== 'object' || p === null) p = {};
  const ra = retryAfterSeconds(resp.headers.get('Retry-After'));
  const title = typeof p.title === 'string' ? p.title : (resp.statusText || `HTTP ${resp.status}`);
  const detail = typeof p.detail === 'string' ? p.detail : '';
  return new ValetError(detail || title, {
    code: typeof p.code === 'string' ? p.code : defaultCode(resp.status),
    status: resp.status, title, detail, type: typeof p.type === 'string' ? p.type : '',
    retryAfter: Number.isFinite(ra) && ra > 0 ? ra : undefined,
  });
}

/**
 * A Retry-After header in seconds: a number of seconds, or an HTTP date
 * (as proxies and load balancers send it); NaN when absent or unreadable.
 * @param {string|null} v
 */
function retryAfterSeconds(v) {
  if (!v) return NaN;
  if (/^\s*\d+\s*$/.test(v)) return Number(v);
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.max(0, (t - Date.now()) / 1000) : NaN;
}

/** @param {number} status */
function defaultCode(status) {
  /** @type {Record<number,string>} */
  const codes = { 400: 'invalid_argument', 401: 'unauthenticated', 403: 'permission_denied', 404: 'not_found',
    409: 'conflict', 413: 'too_large', 415: 'unsupported_media_type', 429: 'rate_limited', 503: 'unavailable' };
  return codes[status] || 'unknown';
}

/**
 * Worth retrying: network errors, 408, 429 and 5xx, but for a hook's
 * answer the gateway could not use (502 hook_invalid_answer), which the
 * same hook would give again.
 * @param {any} e
 */
function transient(e) {
  if (e.code === 'hook_invalid_answer') return false;
  return e.code === 'network' || e.status === 408 || e.status === 429 || e.status >= 500;
}

/**
 * A storage answer that may mean the signed URL expired (or the clocks
 * disagree), which a freshly signed one mends: 403 (S3, Azure, the local
 * store), or GCS's 400 ExpiredToken.
 * @param {any} e
 */
function expiredRecipe(e) {
  return e.code === 'storage' && (e.status === 403 || (e.status === 400 && e.title === 'ExpiredToken'));
}

/**
 * The server no longer knows the upload (expired, finished, aborted or not
 * this caller's): a 4xx other than 401 (our token), 408 (a slow request)
 * and 429 (our pace).
 * @param {any} e
 */
function uploadGone(e) {
  return e.status >= 400 && e.status < 500 && e.status !== 401 && e.status !== 408 && e.status !== 429;
}

/**
 * Exponential backoff with jitter; a server's Retry-After (seconds) is a floor, up to
 * 60 s (the longest the gateway passes on from a hook).
 * @param {number} attempt
 * @param {any} err
 */
function backoff(attempt, err) {
  const base = Math.min(8000, 500 * 2 ** attempt);
  const wait = base / 2 + Math.random() * base / 2;
  const after = Number(err?.retryAfter);
  return after > 0 ? Math.max(wait, Math.min(after, 60) * 1000) : wait;
}

/**
 * @param {number} ms
 * @param {AbortSignal} [signal]
 * @returns {Promise<void>}
 */
function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = () => { clearTimeout(t); reject(abortError()); };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Calls onAbort when signal aborts, until the function returned is called.
 * @param {AbortSignal|undefined} signal
 * @param {() => void} onAbort
 * @returns {() => void}
 */
function whenAborted(signal, onAbort) {
  signal?.addEventListener('abort', onAbort);
  return () => signal?.removeEventListener('abort', onAbort);
}

/**
 * A signal aborted when either of a and b is (a or b itself when the other is unset).
 * @param {AbortSignal} [a]
 * @param {AbortSignal} [b]
 * @returns {AbortSignal|undefined}
 */
function eitherSignal(a, b) {
  if (!a || !b) return a || b;
  const ctrl = new AbortController();
  const abort = () => ctrl.abort();
  if (a.aborted || b.aborted) abort();
  a.addEventListener('abort', abort, { once: true });
  b.addEventListener('abort', abort, { once: true });
  return ctrl.signal;
}

function abortError() { return new DOMException('Upload aborted', 'AbortError'); }
/** @param {any} e */
function isAbort(e) { return e?.name === 'AbortError'; }

// ---- Small helpers ---------------------------------------------------------

/** @param {string|undefined} etag */
function unquote(etag) { return String(etag || '').replace(/^W\//, '').replace(/"/g, ''); }
/** @param {string} s */
function enc(s) { return encodeURIComponent(s); }
/** @param {string} key */
function encKey(key) { return key.split('/').map(encodeURIComponent).join('/'); }
/** @param {string} store */
function storePath(store) { return `/v1/stores/${enc(store)}`; }

/** @param {string} store */
function uploadsPath(store) { return `${storePath(store)}/uploads`; }

/**
 * .../uploads/{id}, followed by tail.
 * @param {UploadRef} ref
 * @param {string} [tail]
 */
function uploadPath(ref, tail = '') { return `${uploadsPath(ref.store)}/${enc(ref.upload_id)}${tail}`; }

/**
 * The upload of opts.store that an answer or plan names.
 * @param {UploadOptions} opts
 * @param {{upload_id: string}} upload
 * @returns {UploadRef}
 */
function refOf(opts, upload) { return { store: opts.store, upload_id: upload.upload_id }; }

/**
 * A query string ('' or "?a=1&b=2") of the params that are set, in order.
 * @param {Record<string, string|number|undefined>} params
 */
function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, String(v));
  const qs = q.toString();
  return qs ? '?' + qs : '';
}

/** @param {Blob} file @returns {Promise<string>} its SHA-256, base64 */
async function sha256(file) {
  const digest = await crypto.subtle.digest('SHA-256', await file.arrayBuffer());
  let bin = '';
  for (const b of new Uint8Array(digest)) bin += String.fromCharCode(b);
  return btoa(bin);
}
