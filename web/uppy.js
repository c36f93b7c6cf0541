// uppy.js — a Valet uploader for Uppy (https://uppy.io), built on valet.js.
//
// An ES module with no build step and no dependency but Uppy itself, a peer
// (@uppy/core 6): the page maps "@uppy/core" to its copy with an import map
// or a bundler.
//
//   import Uppy from '@uppy/core';
//   import ValetUploader from 'https://valet.example.com/uppy.js';
//   new Uppy().use(ValetUploader, { baseUrl: 'https://valet.example.com', store: 'media', getToken });
//
// It speaks Valet's own API (create the upload, PUT the file or its parts,
// complete), so it works on every backend Valet serves and runs Valet's
// complete, checks and hooks included. Uppy's progress, cancel and remove
// (the upload is aborted on the server), retry (a multipart upload resumes
// with the parts already stored), pause and resume (multipart: the upload
// stays on the server) all work. On success, the response body is the
// object as complete answers it, with a signed GET URL (url) when the
// caller may read it. Errors from Valet reach Uppy as their plain message.
// The store's limits (GET /v1/stores) become Uppy restrictions, so a file
// the store would refuse is refused when it is added.

import { BasePlugin } from '@uppy/core';
import { Valet, ValetError } from './valet.js';

/**
 * @typedef {import('./valet.js').ValetOptions['getToken']} GetToken
 * @typedef {import('./valet.js').ObjectInfo} ObjectInfo
 * @typedef {import('./valet.js').StoreInfo} StoreInfo
 */

/**
 * @typedef {Object} ValetUploaderOptions
 * @property {string} store The store to upload to.
 * @property {string} [baseUrl] Gateway origin, e.g. "https://valet.example.com". Defaults to the page's origin.
 * @property {GetToken} [getToken] Returns the bearer token for each API call.
 * @property {string} [id] The plugin's id (default "ValetUploader").
 * @property {number} [limit] Files uploaded at once (default 3).
 * @property {number} [concurrency] Parts of one file sent at once (default 4).
 * @property {number} [retries] Attempts after the first for each part and for complete (default 4).
 * @property {Storage|null} [storage] Where multipart uploads are remembered for resuming (default localStorage).
 * @property {string[]|boolean} [allowedMetaFields] Uppy meta fields sent as the object's
 *   metadata: a list of names, true for all, false for none (default false).
 * @property {boolean} [storeLimits] Apply the store's max_size and content_types as Uppy
 *   restrictions (default true). A maxFileSize set on Uppy that is smaller is kept, and so
 *   are allowedFileTypes set on Uppy.
 * @property {boolean} [signedUrl] Fetch a signed GET URL for the body of upload-success (default true).
 */

/**
 * The body of Uppy's upload-success response: the object as complete
 * answered it, and a signed GET URL when signedUrl is on and the caller may
 * read the object.
 * @typedef {ObjectInfo & {url?: string, expires_at?: string, [k: string]: unknown}} ValetUploadBody
 */

/**
 * One file's upload as the plugin runs it: cancel aborts it for good
 * (removed, cancelled); pause stops it and keeps a multipart upload on the
 * server.
 * @typedef {Object} FileJob
 * @property {AbortController} cancel
 * @property {AbortController} pause
 * @property {boolean} paused
 * @property {() => void} wake resolves the wait of a paused upload
 */

/**
 * The options with their defaults filled in.
 * @typedef {ValetUploaderOptions & Required<Pick<ValetUploaderOptions, 'limit'|'concurrency'|'allowedMetaFields'|'storeLimits'|'signedUrl'>>} ValetUploaderSettings
 */

/** @type {Required<Pick<ValetUploaderOptions, 'limit'|'concurrency'|'allowedMetaFields'|'storeLimits'|'signedUrl'>>} */
const DEFAULTS = { limit: 3, concurrency: 4, allowedMetaFields: false, storeLimits: true, signedUrl: true };

/** A Blob given to Uppy without a File's name and date gets one File per Blob, so retries resume. */
const asFiles = new WeakMap();

/** @extends {BasePlugin<ValetUploaderSettings, any, any>} */
export default class ValetUploader extends BasePlugin {
  static VERSION = '1.0.0';

  /**
   * @param {import('@uppy/core').Uppy<any, any>} uppy
   * @param {ValetUploaderOptions} opts
   */
  constructor(uppy, opts) {
    super(uppy, { ...DEFAULTS, ...opts });
    this.type = 'uploader';
    this.id = this.opts.id || 'ValetUploader';
    if (!this.opts.store) throw new TypeError('ValetUploader: the store option is required');
    this.valet = new Valet({
      baseUrl: this.opts.baseUrl, getToken: this.opts.getToken, retries: this.opts.retries,
      ...(this.opts.storage !== undefined ? { storage: this.opts.storage } : {}),
    });
    /** The uploads under way, by Uppy file id. @type {Map<string, FileJob>} */
    this.jobs = new Map();
    /** The files waiting for a free slot (opts.limit files at once). @type {Array<() => void>} */
    this.waiting = [];
    this.running = 0;
    /**
     * Settles once the store's limits are applied as restrictions (or could
     * not be read: the reason was shown with uppy.info).
     * @type {Promise<StoreInfo|null>}
     */
    this.ready = Promise.resolve(null);
    this.upload = this.upload.bind(this);
    /**
     * The Uppy events the plugin follows while installed.
     * @type {Array<[string, (...args: any[]) => void]>}
     */
    this.handlers = [
      ['file-removed', (file) => this.onRemoved(file)],
      ['upload-pause', (file, isPaused) => this.onPause(file, isPaused)],
      ['pause-all', () => this.onPauseAll()],
      ['resume-all', () => this.onResumeAll()],
    ];
  }

  install() {
    this.setResumable(true);
    this.uppy.addUploader(this.upload);
    for (const [event, fn] of this.handlers) this.uppy.on(/** @type {any} */ (event), fn);
    this.ready = this.opts.storeLimits ? this.applyLimits() : Promise.resolve(null);
  }

  uninstall() {
    this.setResumable(false);
    this.uppy.removeUploader(this.upload);
    for (const [event, fn] of this.handlers) this.uppy.off(/** @type {any} */ (event), fn);
    for (const job of this.jobs.values()) stop(job);
  }

  /** @param {boolean} value */
  setResumable(value) {
    const { capabilities } = this.uppy.getState();
    this.uppy.setState({ capabilities: { ...capabilities, resumableUploads: value } });
  }

  /**
   * Reads the store's limits and applies them as Uppy restrictions.
   * @returns {Promise<StoreInfo|null>}
   */
  async applyLimits() {
    let store;
    try {
      store = (await this.valet.stores()).find((s) => s.name === this.opts.store);
      if (!store) throw new ValetError(`The store "${this.opts.store}" is not offered to this user`, { code: 'not_found' });
    } catch (e) {
      const err = /** @type {Error} */ (e);
      this.uppy.log(`[ValetUploader] cannot read the store's limits: ${err.message}`, 'warning');
      this.uppy.info({ message: 'Cannot read the upload limits', details: err.message }, 'error', 10_000);
      return null;
    }
    const limits = /** @type {{max_size?: number, content_types?: string[]}} */ (store.limits || {});
    const r = this.uppy.opts.restrictions || {};
    /** @type {Record<string, unknown>} */
    const update = {};
    if (limits.max_size && limits.max_size > 0 && !(r.maxFileSize && r.maxFileSize <= limits.max_size)) {
      update.maxFileSize = limits.max_size;
    }
    if (!r.allowedFileTypes && limits.content_types?.length) update.allowedFileTypes = limits.content_types.slice();
    if (Object.keys(update).length) this.uppy.setOptions({ restrictions: update });
    return store;
  }

  /**
   * Uppy's uploader: uploads the files, opts.limit at once.
   * @param {string[]} fileIDs
   */
  async upload(fileIDs) {
    if (!fileIDs.length) return;
    await this.ready;
    // A file added before the store's limits arrived is checked against them now.
    const files = this.uppy.getFilesByIds(fileIDs).filter((/** @type {any} */ f) => {
      if (f.error || f.progress.uploadComplete) return false;
      const refused = this.uppy.validateSingleFile(f);
      if (refused) this.uppy.emit('upload-error', f, new Error(refused));
      return !refused;
    });
    this.uppy.emit('upload-start', files.filter((/** @type {any} */ f) => !f.progress?.uploadStarted || !f.isRestored));
    await Promise.allSettled(files.map((/** @type {any} */ f) => this.queued(f.id, (slot) => this.uploadFile(f.id, slot))));
  }

  /**
   * Runs fn once fewer than opts.limit files are uploading, with the slot
   * it holds (fn may give it up while its file is paused). A file removed
   * while it waited is skipped.
   * @param {string} id
   * @param {(slot: {held: boolean}) => Promise<void>} fn
   */
  async queued(id, fn) {
    await this.acquire();
    const slot = { held: true };
    try {
      if (this.uppy.getFile(id)) await fn(slot);
    } finally {
      if (slot.held) this.release();
    }
  }

  /** Takes one of opts.limit upload slots, waiting for one to be released. */
  async acquire() {
    if (this.running < this.opts.limit) {
      this.running++;
      return;
    }
    // release hands its slot over: running stays as it is.
    await new Promise((resolve) => this.waiting.push(() => resolve(undefined)));
  }

  /** Gives a slot to the next file waiting, or back. */
  release() {
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }

  /**
   * Uploads one file through valet.js, again after each resume, until it
   * succeeds, fails or is removed. While the file is paused its slot goes
   * to the next file waiting, and it takes one again to resume.
   * @param {string} id
   * @param {{held: boolean}} slot
   */
  async uploadFile(id, slot) {
    /** @type {FileJob} */
    const job = { cancel: new AbortController(), pause: new AbortController(), paused: false, wake: () => {} };
    this.jobs.set(id, job);
    /** @type {any} */
    let last;
    try {
      for (;;) {
        const file = this.uppy.getFile(id);
        if (!file || job.cancel.signal.aborted) {
          // Removed or cancelled while paused: valet.js had returned, keeping
          // the plan to resume, so the upload is aborted on the server here.
          if (job.paused && last) await this.discardRemembered(last);
          return;
        }
        last = file;
        if (file.isPaused) job.paused = true;
        if (job.paused) {
          if (slot.held) {
            this.release();
            slot.held = false;
          }
          await new Promise((resolve) => { job.wake = () => resolve(undefined); });
          if (!job.paused && !job.cancel.signal.aborted && this.uppy.getFile(id)) {
            await this.acquire();
            slot.held = true;
          }
          continue;
        }
        job.pause = new AbortController();
        try {
          const obj = await this.valet.upload(fileOf(file), {
            store: this.opts.store, signal: job.cancel.signal, pauseSignal: job.pause.signal,
            contentType: file.type || undefined, concurrency: this.opts.concurrency,
            metadata: this.metadataOf(file),
            onProgress: (p) => {
              const f = this.uppy.getFile(id);
              if (!f || job.cancel.signal.aborted || job.pause.signal.aborted) return;
              this.uppy.emit('upload-progress', f, {
                uploadStarted: f.progress.uploadStarted ?? Date.now(), bytesUploaded: p.bytes, bytesTotal: p.total,
              });
            },
          });
          const body = await this.successBody(obj);
          const f = this.uppy.getFile(id);
          if (!f || job.cancel.signal.aborted) return;
          this.uppy.emit('upload-success', f, { status: 200, body, uploadURL: body.url });
          return;
        } catch (e) {
          if (job.cancel.signal.aborted || !this.uppy.getFile(id)) return;
          if (job.pause.signal.aborted) continue; // paused: wait for the resume
          const err = e instanceof Error ? e : new Error(String(e));
          this.uppy.emit('upload-error', this.uppy.getFile(id), err);
          return;
        }
      }
    } finally {
      if (this.jobs.get(id) === job) this.jobs.delete(id);
    }
  }

  /**
   * Aborts on the server, and forgets, the upload valet.js remembers for
   * an Uppy file (none when it was never started or could not be kept).
   * @param {any} file
   */
  async discardRemembered(file) {
    const f = fileOf(file);
    const p = this.valet.pending().find((u) => u.store === this.opts.store && u.name === f.name && u.size === f.size && u.lastModified === f.lastModified);
    if (p) await this.valet.discard(p);
  }

  /**
   * The object as complete answered it, with a signed GET URL when asked
   * for and allowed (a store whose read rule refuses the caller has none).
   * @param {ObjectInfo} obj
   * @returns {Promise<ValetUploadBody>}
   */
  async successBody(obj) {
    if (!this.opts.signedUrl || /** @type {any} */ (obj).url) return { ...obj };
    try {
      const media = await this.valet.media(this.opts.store, obj.key);
      return { ...obj, url: media.url, expires_at: media.expires_at };
    } catch (e) {
      this.uppy.log(`[ValetUploader] no signed URL for ${obj.key}: ${/** @type {Error} */ (e).message}`, 'warning');
      return { ...obj };
    }
  }

  /**
   * The Uppy meta fields sent as metadata (allowedMetaFields), as strings.
   * @param {any} file
   * @returns {Record<string,string>|undefined}
   */
  metadataOf(file) {
    const allowed = this.opts.allowedMetaFields;
    if (!allowed) return undefined;
    const names = allowed === true ? Object.keys(file.meta || {}) : allowed;
    /** @type {Record<string,string>} */
    const out = {};
    for (const k of names) {
      const v = file.meta?.[k];
      if (v !== undefined && v !== null && typeof v !== 'object') out[k] = String(v);
    }
    return Object.keys(out).length ? out : undefined;
  }

  /** A file removed (or every file cancelled): its upload is aborted on the server. @param {any} file */
  onRemoved(file) {
    const job = file && this.jobs.get(file.id);
    if (job) stop(job);
  }

  /** @param {any} file @param {boolean} isPaused */
  onPause(file, isPaused) {
    const job = file && this.jobs.get(file.id);
    if (job) setPaused(job, isPaused);
  }

  onPauseAll() { for (const job of this.jobs.values()) setPaused(job, true); }

  onResumeAll() { for (const job of this.jobs.values()) setPaused(job, false); }
}

export { ValetUploader };

/** @param {FileJob} job */
function stop(job) {
  job.cancel.abort();
  job.wake();
}

/** @param {FileJob} job @param {boolean} paused */
function setPaused(job, paused) {
  job.paused = paused;
  if (paused) job.pause.abort();
  else job.wake();
}

/**
 * The File valet.js uploads for an Uppy file: its own data when that is a
 * File of the same name, else one File per Blob (kept, so a retry of the
 * same Blob resumes its upload).
 * @param {any} file an Uppy file
 * @returns {File}
 */
function fileOf(file) {
  const data = file.data;
  if (typeof File !== 'undefined' && data instanceof File && data.name === file.name) return data;
  let f = asFiles.get(data);
  if (!f || f.name !== file.name) {
    f = new File([data], file.name, { type: file.type || data.type || '', lastModified: data.lastModified ?? Date.now() });
    asFiles.set(data, f);
  }
  return f;
}
