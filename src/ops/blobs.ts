/**
 * Blob bytes for backup, restore and migrate-data, always through the BlobDriver seam (never
 * file paths), so any pair of drivers works: filesystem or S3 on either side. Every copy goes
 * through an upload session of the target, is hashed on the way and is finished (made a
 * readable object) only when digest and size match.
 */
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import { createDigester, parseDigest } from '../oci/index.js';
import { blobKey, BlobNotFoundError, uploadedBlobKey, type BlobDriver, type SessionState } from '../storage/index.js';
import type { RateLimit } from './progress.js';

/** A blob as the metadata records it. */
export interface BlobRef {
  digest: string;
  size: number;
  /** Where the bytes are when not at the digest's default key (a finished S3 upload); null otherwise. */
  storage_key: string | null;
}

/** The storage key holding a blob's bytes: the one place that knows how a row maps to a key. */
export function storageKeyOf(blob: Pick<BlobRef, 'digest' | 'storage_key'>): string {
  return blob.storage_key ?? blobKey(blob.digest);
}

/** What a target row's `storage_key` must say for bytes stored at `key`: null for the digest's default key. */
export function storageKeyColumn(digest: string, key: string): string | null {
  return key === blobKey(digest) ? null : key;
}

/** The source's blobs in digest order, a page at a time (bounded memory for any registry size). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- also reads snapshot databases at older schema versions
export async function* listBlobs(db: Kysely<any>, pageSize = 1_000): AsyncIterable<BlobRef> {
  let after = '';
  for (;;) {
    // selectAll: a snapshot from before storage_key existed has no such column.
    const page = (await db.selectFrom('blobs').selectAll().where('digest', '>', after).orderBy('digest').limit(pageSize).execute()) as Partial<BlobRef>[];
    for (const row of page) yield { digest: row.digest!, size: Number(row.size), storage_key: row.storage_key ?? null };
    if (page.length < pageSize) return;
    after = page[page.length - 1]!.digest!;
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

/**
 * Where a resumable copy writes down what it did to the target, committed per blob: a copy's
 * session id before its first byte (so a copy cut short can be cleaned up) and the key the
 * target finished it under (so it is neither copied again nor lost: on S3 that key is the
 * upload's own, `blobs/uploads/<id>`, not the digest's).
 */
export interface CopyJournal {
  /** The key a finished copy of `digest` is stored under, if one finished. */
  finished(digest: string): Promise<string | undefined>;
  started(digest: string, sessionId: string): Promise<void>;
  finish(digest: string, key: string): Promise<void>;
}

export type CopyOutcome = 'copied' | 'present' | 'missing';

export interface CopyOptions {
  /** Where the source is, for messages. */
  sourceName: string;
  /** Re-hash a blob the target already has instead of trusting its size (restore does). */
  verifyPresent?: boolean;
  limit?: RateLimit;
  journal?: CopyJournal;
}

/**
 * Copies one blob into the target. A blob the target already holds (finished by an earlier,
 * interrupted run, or at the digest's default key) is left alone (`present`): that is what
 * makes an interrupted copy resume without copying anything twice. A blob whose bytes the
 * source lacks is `missing`. Returns the target key of the bytes, when there are any.
 */
export async function copyBlob(from: BlobDriver, to: BlobDriver, blob: BlobRef, options: CopyOptions): Promise<{ outcome: CopyOutcome; key?: string }> {
  const recorded = await options.journal?.finished(blob.digest);
  const candidate = recorded ?? blobKey(blob.digest);
  const existing = await to.stat(candidate);
  if (existing && existing.size === blob.size) {
    const intact = !options.verifyPresent || (await hashStream(await to.read(candidate), blob.digest)).digest === blob.digest;
    if (intact) {
      if (!recorded) await options.journal?.finish(blob.digest, candidate);
      return { outcome: 'present', key: candidate };
    }
    // A damaged copy from an earlier attempt: copy again below.
  }
  let stream: Readable;
  try {
    stream = await from.read(storageKeyOf(blob));
  } catch (err) {
    if (err instanceof BlobNotFoundError) return { outcome: 'missing' };
    throw err;
  }
  return { outcome: 'copied', key: await storeVerified(to, blob, stream, options) };
}

/**
 * Writes bytes that must hash to `blob.digest` through an upload session of the target, and
 * finishes the session with the verified digest only when digest and size match (the
 * filesystem then renames into the digest's key; S3 completes a multipart upload at
 * `blobs/uploads/<id>` or puts a small blob at the digest's key). A copy that fails is aborted:
 * nothing half-written stays readable.
 */
async function storeVerified(to: BlobDriver, blob: BlobRef, source: AsyncIterable<Buffer>, options: CopyOptions): Promise<string> {
  const parsed = parseDigest(blob.digest);
  if (typeof parsed !== 'object') throw new Error(`the source records a blob with an invalid digest: ${JSON.stringify(blob.digest)}`);
  const hash = createDigester(parsed.algorithm);
  const id = randomUUID();
  await options.journal?.started(blob.digest, id);
  let state: SessionState = to.sessions.begin(id);
  try {
    const appended = await to.sessions.append(id, state, 0, hashed(source, hash, options.limit));
    // A session of our own has no rival append: what the old state needed can go at once.
    await appended.settle();
    state = appended.state;
    const actual = `${parsed.algorithm}:${hash.digest('hex')}`;
    if (actual !== blob.digest || appended.size !== blob.size) throw new CorruptBlobError(blob.digest, actual, appended.size, options.sourceName);
    const key = await to.sessions.finish(id, state, appended.size, blob.digest);
    await options.journal?.finish(blob.digest, key);
    return key;
  } catch (err) {
    // A source stream left half-read would hold its connection (S3) or file open.
    (source as Partial<Readable>).destroy?.();
    await to.sessions.abort(id, state).catch(() => undefined);
    throw err;
  }
}

/**
 * Removes what a copy cut short by a crash may have left in the target: its session's storage
 * and, had the session finished without being recorded, the object it finished into.
 */
export async function discardCopy(to: BlobDriver, sessionId: string): Promise<void> {
  await to.sessions.abort(sessionId, to.sessions.begin(sessionId));
  await to.delete(uploadedBlobKey(sessionId));
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
