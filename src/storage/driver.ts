import type { Readable } from 'node:stream';

/**
 * The storage seam: keys and bytes, nothing about digests or repositories. Those live one
 * layer up, in `registry/`. Every driver passes the shared suite in `driver-suite.ts`.
 *
 * Key layout (the same for every driver):
 *
 *   blobs/<algorithm>/<first 2 hex>/<hex>   committed content, immutable, named by digest
 *   uploads/<upload id>                     bytes of an upload in progress
 */
export interface BlobDriver {
  readonly name: string;
  /** Size of the object, or undefined when it does not exist. */
  stat(key: string): Promise<{ size: number } | undefined>;
  /** Streams the object, or the inclusive byte range of it. Throws `BlobNotFoundError`. */
  read(key: string, range?: { start: number; end: number }): Promise<Readable>;
  /**
   * Writes `source` into the object starting at `offset` (creating it when offset is 0) and
   * returns the new size. All or nothing: on failure the object keeps its first `offset`
   * bytes. Bytes beyond `offset` from an interrupted earlier attempt are discarded.
   */
  write(key: string, source: AsyncIterable<Buffer>, offset: number): Promise<number>;
  /** Writes a small object atomically and durably. */
  put(key: string, bytes: Buffer): Promise<void>;
  /**
   * Makes `from` durable and moves it to `to` atomically: readers of `to` see all of it or
   * nothing. When `to` already exists (same content), `from` is just removed.
   */
  commit(from: string, to: string): Promise<void>;
  /** Removes the object; missing objects are not an error. */
  delete(key: string): Promise<void>;
  /** Every object under the prefix, for garbage collection. */
  list(prefix: string): AsyncIterable<{ key: string; size: number; modifiedAt: number }>;
  /**
   * Optional: reads at any position into buffers the caller owns. Serving a blob this way
   * lets the HTTP layer recycle a few buffers instead of allocating one per chunk, which is
   * most of what a pull costs besides the socket copy. Drivers without cheap random access
   * (object stores) leave it out and are served through `read`. Throws `BlobNotFoundError`.
   */
  openRandomAccess?(key: string): Promise<RandomAccessObject>;
}

/** An open object for positioned reads; `close` must be called exactly once. */
export interface RandomAccessObject {
  readonly size: number;
  /** Reads up to `length` bytes at `position` into `buffer` at `offset`; returns how many were read. */
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<number>;
  close(): Promise<void>;
}

export class BlobNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`no object at ${key}`);
    this.name = 'BlobNotFoundError';
  }
}

export function blobKey(digest: string): string {
  const colon = digest.indexOf(':');
  const algorithm = digest.slice(0, colon);
  const hex = digest.slice(colon + 1);
  return `blobs/${algorithm}/${hex.slice(0, 2)}/${hex}`;
}

export function uploadKey(uploadId: string): string {
  return `uploads/${uploadId}`;
}
