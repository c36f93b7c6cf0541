// Generated from the JSDoc of uppy.js by `go test ./web -run TestTypes -update`: edit uppy.js, not this file.
/** @extends {BasePlugin<ValetUploaderSettings, any, any>} */
export default class ValetUploader extends BasePlugin<ValetUploaderSettings, any, any, Record<string, unknown>> {
    static VERSION: string;
    /**
     * @param {import('@uppy/core').Uppy<any, any>} uppy
     * @param {ValetUploaderOptions} opts
     */
    constructor(uppy: import("@uppy/core").Uppy<any, any>, opts: ValetUploaderOptions);
    valet: Valet;
    /** The uploads under way, by Uppy file id. @type {Map<string, FileJob>} */
    jobs: Map<string, FileJob>;
    /** The files waiting for a free slot (opts.limit files at once). @type {Array<() => void>} */
    waiting: Array<() => void>;
    running: number;
    /**
     * Settles once the store's limits are applied as restrictions (or could
     * not be read: the reason was shown with uppy.info).
     * @type {Promise<StoreInfo|null>}
     */
    ready: Promise<StoreInfo | null>;
    /**
     * Uppy's uploader: uploads the files, opts.limit at once.
     * @param {string[]} fileIDs
     */
    upload(fileIDs: string[]): Promise<void>;
    /**
     * The Uppy events the plugin follows while installed.
     * @type {Array<[string, (...args: any[]) => void]>}
     */
    handlers: Array<[string, (...args: any[]) => void]>;
    /** @param {boolean} value */
    setResumable(value: boolean): void;
    /**
     * Reads the store's limits and applies them as Uppy restrictions.
     * @returns {Promise<StoreInfo|null>}
     */
    applyLimits(): Promise<StoreInfo | null>;
    /**
     * Runs fn once fewer than opts.limit files are uploading, with the slot
     * it holds (fn may give it up while its file is paused). A file removed
     * while it waited is skipped.
     * @param {string} id
     * @param {(slot: {held: boolean}) => Promise<void>} fn
     */
    queued(id: string, fn: (slot: {
        held: boolean;
    }) => Promise<void>): Promise<void>;
    /** Takes one of opts.limit upload slots, waiting for one to be released. */
    acquire(): Promise<void>;
    /** Gives a slot to the next file waiting, or back. */
    release(): void;
    /**
     * Uploads one file through valet.js, again after each resume, until it
     * succeeds, fails or is removed. While the file is paused its slot goes
     * to the next file waiting, and it takes one again to resume.
     * @param {string} id
     * @param {{held: boolean}} slot
     */
    uploadFile(id: string, slot: {
        held: boolean;
    }): Promise<void>;
    /**
     * Aborts on the server, and forgets, the upload valet.js remembers for
     * an Uppy file (none when it was never started or could not be kept).
     * @param {any} file
     */
    discardRemembered(file: any): Promise<void>;
    /**
     * The object as complete answered it, with a signed GET URL when asked
     * for and allowed (a store whose read rule refuses the caller has none).
     * @param {ObjectInfo} obj
     * @returns {Promise<ValetUploadBody>}
     */
    successBody(obj: ObjectInfo): Promise<ValetUploadBody>;
    /**
     * The Uppy meta fields sent as metadata (allowedMetaFields), as strings.
     * @param {any} file
     * @returns {Record<string,string>|undefined}
     */
    metadataOf(file: any): Record<string, string> | undefined;
    /** A file removed (or every file cancelled): its upload is aborted on the server. @param {any} file */
    onRemoved(file: any): void;
    /** @param {any} file @param {boolean} isPaused */
    onPause(file: any, isPaused: boolean): void;
    onPauseAll(): void;
    onResumeAll(): void;
}
export type GetToken = import("./valet.js").ValetOptions["getToken"];
export type ObjectInfo = import("./valet.js").ObjectInfo;
export type StoreInfo = import("./valet.js").StoreInfo;
export type ValetUploaderOptions = {
    /**
     * The store to upload to.
     */
    store: string;
    /**
     * Gateway origin, e.g. "https://valet.example.com". Defaults to the page's origin.
     */
    baseUrl?: string | undefined;
    /**
     * Returns the bearer token for each API call.
     */
    getToken?: GetToken;
    /**
     * The plugin's id (default "ValetUploader").
     */
    id?: string | undefined;
    /**
     * Files uploaded at once (default 3).
     */
    limit?: number | undefined;
    /**
     * Parts of one file sent at once (default 4).
     */
    concurrency?: number | undefined;
    /**
     * Attempts after the first for each part and for complete (default 4).
     */
    retries?: number | undefined;
    /**
     * Where multipart uploads are remembered for resuming (default localStorage).
     */
    storage?: Storage | null | undefined;
    /**
     * Uppy meta fields sent as the object's
     * metadata: a list of names, true for all, false for none (default false).
     */
    allowedMetaFields?: boolean | string[] | undefined;
    /**
     * Apply the store's max_size and content_types as Uppy
     * restrictions (default true). A maxFileSize set on Uppy that is smaller is kept, and so
     * are allowedFileTypes set on Uppy.
     */
    storeLimits?: boolean | undefined;
    /**
     * Fetch a signed GET URL for the body of upload-success (default true).
     */
    signedUrl?: boolean | undefined;
};
/**
 * The body of Uppy's upload-success response: the object as complete
 * answered it, and a signed GET URL when signedUrl is on and the caller may
 * read the object.
 */
export type ValetUploadBody = ObjectInfo & {
    url?: string;
    expires_at?: string;
    [k: string]: unknown;
};
/**
 * One file's upload as the plugin runs it: cancel aborts it for good
 * (removed, cancelled); pause stops it and keeps a multipart upload on the
 * server.
 */
export type FileJob = {
    cancel: AbortController;
    pause: AbortController;
    paused: boolean;
    /**
     * resolves the wait of a paused upload
     */
    wake: () => void;
};
/**
 * The options with their defaults filled in.
 */
export type ValetUploaderSettings = ValetUploaderOptions & Required<Pick<ValetUploaderOptions, "limit" | "concurrency" | "allowedMetaFields" | "storeLimits" | "signedUrl">>;
import { BasePlugin } from '@uppy/core';
import { Valet } from './valet.js';
