// Types for valet.js, the Valet browser client.

export interface ValetOptions {
  /** Gateway origin; defaults to the page's origin. */
  baseUrl?: string;
  /** Returns the bearer token for each API call. */
  getToken?: () => string | null | undefined | Promise<string | null | undefined>;
  /** Where resumable uploads are remembered; default localStorage. */
  storage?: Storage | null;
  /**
   * Attempts after the first (default 4) for each part (signing and sending
   * it) and for completing the upload. Network errors, 408, 429 and 5xx are
   * retried with backoff, never sooner than the server's Retry-After.
   */
  retries?: number;
  /**
   * Milliseconds a request to storage may go without moving a byte before
   * it is abandoned and retried (default 60000; 0 = never).
   */
  stallTimeout?: number;
}

export interface Progress {
  /** Bytes stored so far, including parts finished before a resume. */
  bytes: number;
  total: number;
  /** Bytes per second over the last few seconds. */
  rate: number;
  resumed?: boolean;
}

export interface UploadOptions {
  store: string;
  onProgress?: (p: Progress) => void;
  /** Aborting also aborts a multipart upload on the server. */
  signal?: AbortSignal;
  /** Parts sent at once (default 4). */
  concurrency?: number;
  metadata?: Record<string, string>;
  /** Base64 SHA-256 of the file, or true to compute it (reads the file into memory). */
  checksum?: string | boolean;
  key?: string;
  multipart?: boolean;
  contentType?: string;
  /**
   * Resume a remembered upload of the same file (same name, size and
   * modification time) to the same key, content type and metadata (default
   * true). A remembered upload of the file with other ones is aborted and
   * a new one started.
   */
  resume?: boolean;
}

export interface ObjectInfo {
  key: string;
  size: number;
  content_type: string;
  etag?: string;
  last_modified?: string;
}

export interface Media extends ObjectInfo {
  /** Short-lived signed URL, usable as <video src>. */
  url: string;
  expires_at?: string;
}

export interface PendingUpload {
  store: string;
  name: string;
  size: number;
  lastModified: number;
  upload_id: string;
  key: string;
}

export class ValetError extends Error {
  /** Stable code from problem+json, or "network", "storage". */
  code: string;
  /** HTTP status; 0 for network failures. */
  status: number;
  title: string;
  detail: string;
  type: string;
  retryAfter?: number;
}

export class Valet {
  constructor(opts?: ValetOptions);
  baseUrl: string;
  api(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<any>;
  stores(): Promise<Array<{ name: string; [k: string]: unknown }>>;
  list(store: string, prefix?: string, opts?: { cursor?: string; limit?: number; signal?: AbortSignal }):
    Promise<{ objects: ObjectInfo[]; next_cursor?: string }>;
  media(store: string, key: string, opts?: { disposition?: 'inline' | 'attachment'; filename?: string; signal?: AbortSignal }): Promise<Media>;
  upload(file: File, opts: UploadOptions): Promise<ObjectInfo>;
  pending(): PendingUpload[];
  discard(p: PendingUpload): Promise<void>;
}
