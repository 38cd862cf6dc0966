import type { Readable } from 'node:stream';

/**
 * The storage seam: keys and bytes, nothing about digests or repositories. Those live one
 * layer up, in `registry/`. Every driver passes the shared suite in `driver-suite.ts`.
 *
 * Key layout (the same for every driver; S3 puts it under the URL's PREFIX/):
 *
 *   blobs/<algorithm>/<first 2 hex>/<hex>   content named by its digest, immutable
 *   blobs/uploads/<upload id>               content of a finished upload left where it landed
 *                                           (S3: no copy); the blobs row's storage_key names it
 *   uploads/<upload id>[/…]                 bytes of an upload in progress (driver-specific)
 */
export interface BlobDriver {
  readonly name: string;
  /** Size of the object, or undefined when it does not exist. */
  stat(key: string): Promise<{ size: number } | undefined>;
  /** Streams the object, or the inclusive byte range of it. Throws `BlobNotFoundError`. */
  read(key: string, range?: { start: number; end: number }): Promise<Readable>;
  /** Writes a small object atomically and durably. */
  put(key: string, bytes: Buffer): Promise<void>;
  /** Removes the object; missing objects are not an error. */
  delete(key: string): Promise<void>;
  /**
   * Every object whose key starts with `prefix/`, page by page (memory stays bounded however
   * many there are), for garbage collection.
   */
  list(prefix: string): AsyncIterable<StoredObject>;
  /** Chunked uploads. */
  readonly sessions: UploadSessions;
  /**
   * A URL that serves the object to anyone holding it for `ttlSeconds` (S3: a presigned GET),
   * for answering blob GETs with a redirect. Absent when the driver cannot.
   */
  presignGet?(key: string, ttlSeconds: number): Promise<string>;
  /**
   * Checks at start that the storage is usable (exists, credentials work, writable) and throws
   * one clear error otherwise. Optional: the filesystem needs none.
   */
  check?(): Promise<void>;
  /**
   * A name for this storage that every node using the same storage computes alike, so the
   * database can tell when a node uses another storage (a second filesystem node's own disk).
   */
  identity(): Promise<string>;
  /** Releases connections. */
  close?(): Promise<void>;
  /**
   * Optional: reads into buffers the caller owns. Serving a blob this way lets the HTTP layer
   * recycle a few buffers instead of allocating one per chunk, which is most of what a pull
   * costs besides the socket copy. `range` (inclusive) is what the caller will read, front to
   * back: the filesystem reads at any position and ignores it; S3 opens one GET of that range
   * and then reads only sequentially. Undefined means "use `read`" (S3: for small ranges).
   * Throws `BlobNotFoundError`.
   */
  openRandomAccess?(key: string, range?: { start: number; end: number }): Promise<RandomAccessObject | undefined>;
}

/** An open object for positioned reads; `close` must be called exactly once. */
export interface RandomAccessObject {
  readonly size: number;
  /** Reads up to `length` bytes at `position` into `buffer` at `offset`; returns how many were read. */
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<number>;
  close(): Promise<void>;
}

export interface StoredObject {
  key: string;
  size: number;
  modifiedAt: number;
}

/**
 * What a driver must remember about an upload in progress: JSON, opaque above the driver, kept
 * by the registry in the upload's database row so that any node can continue the upload.
 */
export type SessionState = Record<string, unknown>;

/**
 * Upload sessions: an upload grows by appends (each a PATCH, possibly on another node) and
 * ends in `finish` or `abort`. The caller persists every returned state before the next call
 * and serialises calls per session; it also hashes the bytes (drivers know no digests).
 */
export interface UploadSessions {
  /**
   * True when a session's state lives entirely in its `SessionState` and shared storage, so an
   * append may run on any node (S3). False when it is tied to this machine's disk: then the
   * caller may keep per-session state (such as a running hash) in memory.
   */
  readonly portable: boolean;
  /** Appends smaller than this cost extra work (S3: kept aside until a part is full); advertised to clients. */
  readonly minChunkBytes?: number;
  /** The state of a new, empty session. No I/O. */
  begin(id: string): SessionState;
  /**
   * Appends `source` to the session, which holds `size` bytes in `state`. All or nothing: when
   * it throws, `state` still describes the session. On success the caller persists the new
   * state, then calls `settle()` (removes what only the old state needed); when it cannot
   * persist it (another append won), it calls `undo()` instead.
   */
  append(id: string, state: SessionState, size: number, source: AsyncIterable<Buffer>): Promise<Appended>;
  /** The session's first `size` bytes, to rebuild a hash after a restart (non-portable drivers). */
  read(id: string, state: SessionState, size: number): Promise<Readable>;
  /**
   * Makes the session's bytes a durable, readable object and returns its key: the digest's
   * own key (`blobKey`) or one of the driver's choosing. The session is gone afterwards.
   * `digest` is the verified digest of the bytes, or undefined when the caller could not
   * verify them yet: then the driver must not write under a key another blob could share.
   */
  finish(id: string, state: SessionState, size: number, digest: string | undefined): Promise<string>;
  /** Removes everything the session stored. Missing sessions are not an error. */
  abort(id: string, state: SessionState): Promise<void>;
  /**
   * Removes storage of sessions started before `cutoff` (epoch ms) for which `isLive(id)` is
   * false: leftovers of crashes and of aborts that failed. Returns how many were removed.
   */
  sweep(cutoff: number, isLive: (id: string) => Promise<boolean>): Promise<number>;
}

export interface Appended {
  state: SessionState;
  size: number;
  settle(): Promise<void>;
  undo(): Promise<void>;
}

export class BlobNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`no object at ${key}`);
    this.name = 'BlobNotFoundError';
  }
}

/** The key that holds a digest's content by default. */
export function blobKey(digest: string): string {
  const colon = digest.indexOf(':');
  const algorithm = digest.slice(0, colon);
  const hex = digest.slice(colon + 1);
  return `blobs/${algorithm}/${hex.slice(0, 2)}/${hex}`;
}

/** Where a driver may leave a finished upload's content instead of moving it to `blobKey`. */
export function uploadedBlobKey(uploadId: string): string {
  return `blobs/uploads/${uploadId}`;
}

/** The upload id of an `uploadedBlobKey`, or undefined. */
export function uploadIdOfBlobKey(key: string): string | undefined {
  const m = /^blobs\/uploads\/([0-9a-f-]{36})$/.exec(key);
  return m?.[1];
}

export function uploadKey(uploadId: string): string {
  return `uploads/${uploadId}`;
}
