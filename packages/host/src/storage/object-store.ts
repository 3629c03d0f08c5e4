import type { Readable } from 'node:stream';

/** Metadata of one stored object. */
export interface ObjectInfo {
  key: string;
  size: number;
  /** An opaque version tag (S3 ETag or a content hash); changes whenever the bytes change. */
  etag: string;
  modifiedAt: Date;
}

export interface GetRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive; omitted means to the end. */
  end?: number;
}

export interface PutOptions {
  contentType?: string;
  /** Known length of a streamed body, when there is one. */
  contentLength?: number;
}

/** A window of a listing, in key order. */
export interface ListOptions {
  /** Only keys after this one (UTF-8 byte order); it need not exist. */
  startAfter?: string;
  /** At most this many objects. */
  limit?: number;
}

/**
 * Durable bytes by key: the only durable home of workspace files, conversations, run logs and
 * session transcripts. Keys are `/`-separated and never start with `/`. Implementations: S3
 * (AWS SDK v3, any S3-compatible endpoint) and a local directory (the embedded default).
 */
export interface ObjectStore {
  /** A short name for logs and health (`s3://bucket/prefix`, `dir:/path`). */
  readonly description: string;
  /** Stores `body` under `key`, replacing any object there; readers never see a partial write. */
  put(key: string, body: Buffer | string | Readable, options?: PutOptions): Promise<ObjectInfo>;
  /** The object's bytes as a stream, or null when there is none. */
  get(key: string, range?: GetRange): Promise<{ info: ObjectInfo; body: Readable } | null>;
  /** The whole object in memory, or null; for small internal records. */
  getBuffer(key: string): Promise<Buffer | null>;
  head(key: string): Promise<ObjectInfo | null>;
  /**
   * The objects whose key starts with `prefix`, in key order (UTF-8 bytes); with `options`,
   * only those after `startAfter`, at most `limit` of them (a page costs what the page holds).
   */
  list(prefix: string, options?: ListOptions): Promise<ObjectInfo[]>;
  /**
   * Copies the object at `from` to `to` inside the store (S3 CopyObject: no byte passes through
   * the host), replacing any object at `to`; the copy's modification time is now. Throws
   * `not_found` when `from` does not exist.
   */
  copy(from: string, to: string): Promise<ObjectInfo>;
  /** Removes one object; removing a missing key is not an error. */
  delete(key: string): Promise<void>;
  /** Removes many objects (batched where the store supports it). */
  deleteMany(keys: readonly string[]): Promise<void>;
  /** Removes every object under `prefix`. */
  deletePrefix(prefix: string): Promise<number>;
  /** Answers whether the store is reachable, throwing with a reason when it is not. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
