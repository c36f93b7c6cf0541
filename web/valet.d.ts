// Generated from the JSDoc of valet.js by `go test ./web -run TestTypes -update`: edit valet.js, not this file.
/** An error from the gateway (problem+json), from storage, or from the network. */
export class ValetError extends Error {
    /**
     * @param {string} message
     * @param {ErrorInfo} [info]
     */
    constructor(message: string, info?: ErrorInfo);
    /** Stable machine-readable code, e.g. "unauthenticated", "permission_denied", "too_large", "network", "storage". */
    code: string;
    /** HTTP status, 0 for network failures. */
    status: number;
    title: string;
    detail: string;
    type: string;
    /** Seconds to wait before retrying, when the server said so. */
    retryAfter: number | undefined;
}
export class Valet {
    /** @param {ValetOptions} [opts] */
    constructor(opts?: ValetOptions);
    baseUrl: string;
    getToken: () => (string | null | undefined | Promise<string | null | undefined>);
    retries: number;
    stallTimeout: number;
    rememberEvery: number;
    /** Resume keys of the uploads under way in this client. @private @type {Set<string>} */
    private _active;
    /** @type {Storage|null} */
    storage: Storage | null;
    /**
     * Calls the gateway API and returns the decoded JSON body (null for 204).
     * @param {string} method
     * @param {string} path starts with /v1/
     * @param {any} [body]
     * @param {AbortSignal} [signal]
     * @returns {Promise<any>}
     */
    api(method: string, path: string, body?: any, signal?: AbortSignal): Promise<any>;
    /**
     * Lists the stores the gateway serves.
     * @returns {Promise<StoreInfo[]>}
     */
    stores(): Promise<StoreInfo[]>;
    /**
     * Lists objects in a store whose keys start with prefix.
     * @param {string} store
     * @param {string} [prefix]
     * @param {ListOptions} [opts]
     * @returns {Promise<ObjectPage>}
     */
    list(store: string, prefix?: string, opts?: ListOptions): Promise<ObjectPage>;
    /**
     * Returns an object's metadata and a short-lived signed URL to fetch it
     * (usable directly as <video src>; Range requests go to storage).
     * @param {string} store
     * @param {string} key
     * @param {MediaOptions} [opts]
     * @returns {Promise<Media>}
     */
    media(store: string, key: string, opts?: MediaOptions): Promise<Media>;
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
    signGets(store: string, keys: string[], opts?: SignGetsOptions): Promise<SignedGet[]>;
    /**
     * Returns an object's playback link: a gateway URL that needs no credentials until
     * it expires, for <video src>, <audio src>, <img src>, download links and players.
     * @param {string} store
     * @param {string} key
     * @param {{signal?: AbortSignal}} [opts]
     * @returns {Promise<string>}
     */
    playbackURL(store: string, key: string, opts?: {
        signal?: AbortSignal;
    }): Promise<string>;
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
    play(el: HTMLMediaElement, store: string, key: string, opts?: PlayOptions): Promise<Playback>;
    /**
     * Uploads a file (a Blob with a name) directly to storage.
     * @param {File} file
     * @param {UploadOptions} opts
     * @returns {Promise<UploadedObject>} the stored object as the gateway reports it on
     *   completion, with the store's hook's answer as hook. An upload the hook refuses
     *   fails with code hook_rejected (its message as detail); while the hook is
     *   unreachable (503 hook_unavailable) completing is retried, honouring Retry-After.
     */
    upload(file: File, opts: UploadOptions): Promise<UploadedObject>;
    /**
     * Uploads that were started in this browser and can be resumed by
     * uploading the same file (same name, size and modification time) again.
     * @returns {PendingUpload[]}
     */
    pending(): PendingUpload[];
    /**
     * Aborts a remembered upload on the server and forgets it.
     * @param {PendingUpload} p an entry from pending()
     */
    discard(p: PendingUpload): Promise<void>;
    /**
     * @private
     * One upload, step by step: resume the remembered plan or create the
     * upload; then either one PUT and complete, or the parts and complete.
     * @param {Run} run
     * @returns {Promise<UploadedObject>}
     */
    private _upload;
    /**
     * @private
     * Recalls the remembered plan for the file and keeps, as done, only the
     * parts this browser saw succeed that storage still lists whole. A plan
     * asked for another key, type or metadata is aborted and forgotten; one
     * the server no longer knows is forgotten. Null: start a new upload.
     * @param {Run} run its progress is marked resumed when the plan is kept
     * @returns {Promise<Plan|null>}
     */
    private _resumePlan;
    /**
     * @private
     * Creates the upload (POST .../uploads), computing the checksum first when asked to.
     * @param {Run} run
     * @returns {Promise<UploadAnswer>}
     */
    private _createUpload;
    /**
     * @private
     * Sends the whole file with the create answer's request. That request
     * cannot be signed again here, so only transient failures are retried.
     * @param {Run} run
     * @param {SignedRequest} recipe
     */
    private _putSingle;
    /**
     * @private
     * Sends the parts not yet stored and completes the upload, forgetting the
     * plan once it is complete. When the caller aborts, the upload is aborted
     * on the server too and forgotten, unless it was paused (pauseSignal) and
     * is remembered, to be resumed.
     * @param {PartsRun} run
     * @returns {Promise<UploadedObject>}
     */
    private _uploadParts;
    /**
     * @private
     * Sends every part not in plan.done, opts.concurrency at once, and
     * remembers each as it is stored. The first part to fail for good stops
     * the others, and its error is thrown.
     * @param {PartsRun} run
     * @returns {Promise<CompletedPart[]>} every part, for complete
     */
    private _sendParts;
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
    private _sendPart;
    /**
     * @private
     * Lists the parts storage holds (GET .../parts).
     * @param {UploadRef} ref
     * @param {AbortSignal} [signal]
     * @returns {Promise<ListedPart[]>}
     */
    private _listParts;
    /**
     * @private
     * Signs a batch of parts (POST .../parts).
     * @param {UploadRef} ref
     * @param {number[]} partNumbers
     * @param {AbortSignal} [signal]
     * @returns {Promise<PartRecipe[]>}
     */
    private _signParts;
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
    private _completeUpload;
    /**
     * @private
     * Aborts the upload on the server (DELETE .../uploads/{id}) and forgets its
     * plan. The request is best effort, sent without the caller's signal (it
     * may be aborted already); an upload that is gone already is no failure.
     * @param {UploadRef} ref
     * @param {string|null} resumeKey
     */
    private _abortUpload;
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
    private _retry;
    /**
     * @private
     * The localStorage key under which an upload of a file is remembered.
     * @param {string} store
     * @param {string} name
     * @param {number} size
     * @param {number} lastModified
     */
    private _resumeKey;
    /**
     * @private
     * The plan remembered under key, unless it has expired (then it is forgotten).
     * @param {string} key
     * @returns {Plan|null}
     */
    private _recall;
    /**
     * @private
     * @param {string|null} key
     * @param {Plan} plan
     */
    private _remember;
    /** @private @param {string|null} key */
    private _forget;
}
export type ValetOptions = {
    /**
     * Gateway origin, e.g. "https://valet.example.com". Defaults to the page's origin.
     */
    baseUrl?: string | undefined;
    /**
     * Returns the bearer token for each API call.
     */
    getToken?: (() => (string | null | undefined | Promise<string | null | undefined>)) | undefined;
    /**
     * Where resumable uploads are remembered (default: localStorage when available).
     */
    storage?: Storage | null | undefined;
    /**
     * Attempts after the first one (default 4) for each part
     * (signing it and sending it) and for completing the upload. Network errors,
     * 408, 429 and 5xx are retried with backoff, never sooner than a Retry-After.
     */
    retries?: number | undefined;
    /**
     * Milliseconds a request to storage may go without
     * moving a byte before it is abandoned and retried (default 60000; 0 = never).
     */
    stallTimeout?: number | undefined;
    /**
     * Milliseconds between writes of a multipart upload's
     * resume record to storage while parts finish (default 1000), and once more when the
     * parts stop. A reload loses at most the parts of that time, which a resume sends again;
     * writing after every part would rewrite a record that grows with the part count each time.
     */
    rememberEvery?: number | undefined;
};
export type Progress = {
    /**
     * Bytes stored so far, including parts finished before a resume.
     */
    bytes: number;
    /**
     * The file's size.
     */
    total: number;
    /**
     * Bytes per second over the last few seconds.
     */
    rate: number;
    /**
     * True when the upload continued one started earlier.
     */
    resumed?: boolean | undefined;
};
export type UploadOptions = {
    /**
     * The store name.
     */
    store: string;
    onProgress?: ((p: Progress) => void) | undefined;
    /**
     * Aborting also aborts a multipart upload on the server.
     */
    signal?: AbortSignal | undefined;
    /**
     * Aborting it stops the upload as signal does, but a
     * multipart upload stays on the server and remembered, so that uploading the same file
     * again resumes it. Where it cannot be remembered (storage null, or the same file is
     * being uploaded already by this client) it is aborted on the server as by signal.
     */
    pauseSignal?: AbortSignal | undefined;
    /**
     * Parts sent at once (default 4).
     */
    concurrency?: number | undefined;
    metadata?: Record<string, string> | undefined;
    /**
     * Base64 SHA-256 of the file, or true to compute it (reads the whole file into memory). A store that cannot verify it (capabilities.verifies_checksum_sha256 in GET /v1/stores) refuses the upload with 400 checksum_unverifiable.
     */
    checksum?: string | boolean | undefined;
    /**
     * A client-chosen key, where the store allows it.
     */
    key?: string | undefined;
    /**
     * Ask for a multipart upload whatever the size.
     */
    multipart?: boolean | undefined;
    /**
     * Defaults to file.type, then application/octet-stream.
     */
    contentType?: string | undefined;
    /**
     * Resume a remembered upload of the same file (default true).
     */
    resume?: boolean | undefined;
};
/**
 * cursor: the previous page's next_cursor.
 */
export type ListOptions = {
    cursor?: string;
    limit?: number;
    signal?: AbortSignal;
};
export type MediaOptions = {
    disposition?: "inline" | "attachment";
    filename?: string;
    signal?: AbortSignal;
};
/**
 * How play() plays an HLS playlist where the browser has none of its own: Hls is
 * hls.js's default export (https://github.com/video-dev/hls.js, npm hls.js; Valet
 * ships no copy), hlsConfig its options.
 */
export type PlayOptions = {
    Hls?: HlsClass;
    hlsConfig?: Record<string, unknown>;
    signal?: AbortSignal;
};
/**
 * The part of hls.js's class play() uses.
 */
export type HlsClass = {
    new (config?: Record<string, unknown>): HlsPlayer;
    isSupported(): boolean;
    Events: {
        ERROR: string;
    };
    ErrorTypes: {
        NETWORK_ERROR: string;
    };
};
export type HlsPlayer = {
    attachMedia(el: HTMLMediaElement): void;
    loadSource(url: string): void;
    on(event: string, cb: (event: string, data: any) => void): void;
    destroy(): void;
};
/**
 * What play() started: the media data it played, the hls.js instance (null when
 * the element plays the link itself), and stop(), which detaches it.
 */
export type Playback = {
    media: Media;
    hls: HlsPlayer | null;
    refreshes: number;
    stop(): void;
};
export type ErrorInfo = {
    code?: string;
    status?: number;
    title?: string;
    detail?: string;
    type?: string;
    retryAfter?: number;
};
/**
 * Options of signGets.
 */
export type SignGetsOptions = {
    /**
     * Every URL's lifetime: seconds, or a duration such as '5m';
     * clamped to the store's max_ttl. Default: the store's get_ttl.
     */
    ttl?: string | number | undefined;
    /**
     * Look every key up first, so that a missing object is its
     * item's 404 object_not_found (costs the gateway one storage lookup per key).
     */
    checkExists?: boolean | undefined;
    /**
     * For every URL; an attachment is named after
     * its key's last segment.
     */
    disposition?: "inline" | "attachment" | undefined;
    signal?: AbortSignal | undefined;
};
/**
 * An upload started in this browser that can be resumed by uploading the
 * same file again (see pending()): the upload, its key, and the file's name,
 * size and modification time.
 */
export type PendingUpload = UploadRef & {
    key: string;
    name: string;
    size: number;
    lastModified: number;
};
/**
 * An upload on the gateway: what the API calls of an upload address.
 */
export type UploadRef = {
    store: string;
    upload_id: string;
};
/**
 * A stored object, as listing, GET and completing an upload answer it.
 */
export type ObjectInfo = {
    key: string;
    size: number;
    content_type: string;
    etag?: string | undefined;
    last_modified?: string | undefined;
};
/**
 * An uploaded object, as completing the upload answers it: with hook, the
 * JSON the store's hook answered to upload.complete (for example the
 * application's own id for the file), when it answered any.
 */
export type UploadedObject = ObjectInfo & {
    hook?: unknown;
};
/**
 * An object with a short-lived signed URL to fetch it (GET .../objects/{key}).
 * playback_url, when present, is a gateway link that needs no credentials until
 * playback_expires_at (<video src>, <img src>, downloads; an HLS playlist's link
 * answers the playlist with signed segments). None is given for a playlist at the
 * store's root.
 */
export type Media = ObjectInfo & {
    url: string;
    expires_at?: string;
    playback_url?: string;
    playback_expires_at?: string;
};
/**
 * One key's answer in signGets: a signed GET (url, method, headers, expires_at), or error,
 * this key's own refusal (code policy_denied 403, object_not_found 404, invalid_key 400…),
 * never both.
 */
export type SignedGet = {
    key: string;
    url?: string | undefined;
    method?: string | undefined;
    headers?: Record<string, string> | undefined;
    expires_at?: string | undefined;
    error?: {
        code: string;
        status: number;
        detail?: string;
    } | undefined;
};
/**
 * One page of GET .../objects.
 */
export type ObjectPage = {
    objects: ObjectInfo[];
    next_cursor?: string;
};
/**
 * A store as GET /v1/stores describes it (provider, limits, capabilities…).
 */
export type StoreInfo = {
    name: string;
    [k: string]: unknown;
};
/**
 * A signed request to storage: what the browser sends the bytes with.
 */
export type SignedRequest = {
    url: string;
    /**
     * Default PUT.
     */
    method?: string | undefined;
    /**
     * Sent as given, but for those a browser sets itself.
     */
    headers?: Record<string, string> | undefined;
};
/**
 * The body of POST .../uploads.
 */
export type CreateUploadRequest = {
    filename: string;
    content_type: string;
    size: number;
    metadata?: Record<string, string> | undefined;
    key?: string | undefined;
    multipart?: boolean | undefined;
    checksum_sha256?: string | undefined;
};
/**
 * How a multipart upload is cut: every part but the last is part_size bytes.
 */
export type PartLayout = {
    part_size: number;
    part_count: number;
};
/**
 * The answer to POST .../uploads: for a single upload, the request to send
 * the whole file with; for a multipart one, its layout and perhaps the first
 * parts' recipes.
 */
export type UploadAnswer = Partial<SignedRequest> & {
    upload_id: string;
    key: string;
    expires_at?: string;
    multipart?: PartLayout;
    parts?: PartRecipe[];
};
/**
 * The signed request for one part (in UploadAnswer.parts and POST .../parts).
 */
export type PartRecipe = SignedRequest & {
    part_number: number;
    expires_at?: string;
};
/**
 * A part storage holds (GET .../parts; number is an older name of part_number).
 */
export type ListedPart = {
    part_number?: number;
    number?: number;
    size?: number;
    etag?: string;
};
/**
 * A part named in POST .../complete.
 */
export type CompletedPart = {
    part_number: number;
    etag?: string;
};
/**
 * A multipart upload under way: the create answer's id, key, expiry and
 * layout; first, the recipes that answer carried (used once, never
 * remembered); done, the parts this browser saw stored (part number -> etag,
 * '' when unknown); intent, what the upload was asked to be (see intentOf).
 * Remembered in storage under the file's resume key.
 */
export type Plan = Pick<UploadAnswer, "upload_id" | "key" | "expires_at"> & PartLayout & {
    first?: PartRecipe[];
    done: Record<number, string>;
    intent?: string;
};
/**
 * One call of upload(): what its steps share. opts.signal is aborted by the
 * caller's signal or pauseSignal; cancel is the caller's signal alone.
 * resumeKey: where the plan is remembered (null: not at all).
 */
export type Run = {
    file: File;
    opts: UploadOptions;
    cancel?: AbortSignal;
    resumeKey: string | null;
    progress: Meter;
};
/**
 * A multipart upload's run: with its plan, and the upload its calls address.
 */
export type PartsRun = Run & {
    plan: Plan;
    ref: UploadRef;
};
/**
 * A part's recipe as held while sending: expires is a time in ms.
 */
export type HeldRecipe = Required<SignedRequest> & {
    expires: number;
};
/** Tracks bytes per part so retries and resumes never double count. */
declare class Meter {
    /**
     * @param {number} total
     * @param {((p: Progress) => void)|undefined} cb
     */
    constructor(total: number, cb: ((p: Progress) => void) | undefined);
    total: number;
    cb: ((p: Progress) => void) | undefined;
    /** @type {Map<number, {loaded: number, final: boolean}>} */
    parts: Map<number, {
        loaded: number;
        final: boolean;
    }>;
    /** @type {Array<[number, number]>} */
    samples: Array<[number, number]>;
    resumed: boolean;
    last: number;
    /** @param {number} n @param {number} loaded */
    set(n: number, loaded: number): void;
    /** @param {number} n @param {number} len */
    finish(n: number, len: number): void;
    stop(): void;
    /** @param {boolean} [force] */
    emit(force?: boolean): void;
}
export {};
