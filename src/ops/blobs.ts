/**
 * Blob bytes for backup, restore and migrate-data, always through the BlobDriver seam (never
 * file paths), so any driver pair works: filesystem → filesystem today, → S3 once it exists.
 * Every copy is hashed on the way and committed only when digest and size match.
 */
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import { createDigester, parseDigest } from '../oci/index.js';
import { blobKey, BlobNotFoundError, uploadKey, type BlobDriver } from '../storage/index.js';
import type { RateLimit } from './progress.js';

/** A blob as the metadata records it. */
export interface BlobRef {
  digest: string;
  size: number;
  /**
   * Where the bytes are when not at the digest's default key. Not in the schema yet; the S3
   * work adds `blobs.storage_key` and then selects it in `listBlobs` below.
   */
  storage_key?: string | null;
}

/** The storage key holding a blob's bytes: the one place that knows how a row maps to a key. */
export function storageKeyOf(blob: BlobRef): string {
  return blob.storage_key ?? blobKey(blob.digest);
}

/** The source's blobs in digest order, a page at a time (bounded memory for any registry size). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- also reads snapshot databases at older schema versions
export async function* listBlobs(db: Kysely<any>, pageSize = 1_000): AsyncIterable<BlobRef> {
  let after = '';
  for (;;) {
    const page = (await db.selectFrom('blobs').select(['digest', 'size']).where('digest', '>', after).orderBy('digest').limit(pageSize).execute()) as BlobRef[];
    for (const row of page) yield { digest: row.digest, size: Number(row.size) };
    if (page.length < pageSize) return;
    after = page[page.length - 1]!.digest;
  }
}

/** Bytes that do not hash to the digest they are stored under. */
export class CorruptBlobError extends Error {
  constructor(
    readonly digest: string,
    readonly actual: string,
    readonly size: number,
    where: string,
  ) {
    super(`blob ${digest} in ${where} is corrupt: its ${size} bytes hash to ${actual}`);
    this.name = 'CorruptBlobError';
  }
}

export type CopyOutcome = 'copied' | 'present' | 'missing';

export interface CopyOptions {
  /** Where the source is, for messages. */
  sourceName: string;
  /** Re-hash a blob the target already has instead of trusting its size (restore does). */
  verifyPresent?: boolean;
  limit?: RateLimit;
}

/**
 * Copies one blob to the target's default key for its digest. A blob the target already holds
 * is left alone (`present`): that is what makes an interrupted copy resume without copying
 * anything twice. A blob whose bytes the source lacks is `missing`.
 */
export async function copyBlob(from: BlobDriver, to: BlobDriver, blob: BlobRef, options: CopyOptions): Promise<CopyOutcome> {
  const existing = await to.stat(blobKey(blob.digest));
  if (existing && existing.size === blob.size) {
    if (!options.verifyPresent) return 'present';
    const actual = await hashStream(await to.read(blobKey(blob.digest)), blob.digest);
    if (actual.digest === blob.digest) return 'present';
    // A damaged copy from an earlier attempt: replace it below.
  }
  let stream: Readable;
  try {
    stream = await from.read(storageKeyOf(blob));
  } catch (err) {
    if (err instanceof BlobNotFoundError) return 'missing';
    throw err;
  }
  await storeVerified(to, blob, stream, options);
  return 'copied';
}

/**
 * Writes bytes that must hash to `blob.digest` into the target: to a temporary upload key
 * while hashing, then committed (fsync and rename on the filesystem) under the digest's key.
 * Nothing reaches the final key unless digest and size match.
 *
 * TODO(ops): when the S3 seam lands (upload sessions instead of write/commit), this becomes
 * sessions.begin/append/finish(digest); the key finish() returns must then be recorded as the
 * target row's storage_key (see transfer.ts, `rowFor`).
 */
async function storeVerified(to: BlobDriver, blob: BlobRef, source: AsyncIterable<Buffer>, options: CopyOptions): Promise<string> {
  const parsed = parseDigest(blob.digest);
  if (typeof parsed !== 'object') throw new Error(`the source records a blob with an invalid digest: ${JSON.stringify(blob.digest)}`);
  const hash = createDigester(parsed.algorithm);
  const temp = uploadKey(randomUUID());
  try {
    const size = await to.write(temp, hashed(source, hash, options.limit), 0);
    const actual = `${parsed.algorithm}:${hash.digest('hex')}`;
    if (actual !== blob.digest || size !== blob.size) throw new CorruptBlobError(blob.digest, actual, size, options.sourceName);
    const key = blobKey(blob.digest);
    await to.commit(temp, key);
    return key;
  } catch (err) {
    await to.delete(temp).catch(() => undefined);
    throw err;
  }
}

async function* hashed(source: AsyncIterable<Buffer>, hash: ReturnType<typeof createDigester>, limit?: RateLimit): AsyncIterable<Buffer> {
  for await (const chunk of source) {
    if (limit) await limit.take(chunk.length);
    hash.update(chunk);
    yield chunk;
  }
}

/** Hashes a stream with the digest's algorithm; returns the digest and the byte count. */
export async function hashStream(stream: AsyncIterable<Buffer>, digest: string): Promise<{ digest: string; size: number }> {
  const parsed = parseDigest(digest);
  const algorithm = typeof parsed === 'object' ? parsed.algorithm : 'sha256';
  const hash = createDigester(algorithm);
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { digest: `${algorithm}:${hash.digest('hex')}`, size };
}

/** Checks one blob in a driver: present, the right size and hashing to its digest. */
export async function verifyBlob(driver: BlobDriver, blob: BlobRef): Promise<'ok' | 'missing' | { actual: string; size: number }> {
  let stream: Readable;
  try {
    stream = await driver.read(storageKeyOf(blob));
  } catch (err) {
    if (err instanceof BlobNotFoundError) return 'missing';
    throw err;
  }
  const actual = await hashStream(stream, blob.digest);
  return actual.digest === blob.digest && actual.size === blob.size ? 'ok' : { actual: actual.digest, size: actual.size };
}

/**
 * Runs `work` over `items` with at most `concurrency` at once, in order of arrival; the first
 * failure stops new work and is rethrown once the running ones have settled.
 */
export async function forEachConcurrently<T>(items: AsyncIterable<T>, concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  const iterator = items[Symbol.asyncIterator]();
  // The workers share one iterator, whose next() calls must not overlap: they are chained.
  let previous: Promise<unknown> = Promise.resolve();
  const next = (): Promise<IteratorResult<T>> => {
    const result = previous.then(() => iterator.next());
    previous = result.catch(() => undefined);
    return result;
  };
  let failure: { err: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (!failure) {
      try {
        const item = await next();
        if (item.done) return;
        await work(item.value);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  if (failure) throw failure.err;
}
