import { randomBytes } from 'node:crypto';
import { AppError } from '../errors/index.js';
import { BlobNotFoundError, type BlobDriver } from './driver.js';
import { rejectingWith } from './rejecting.js';
import { S3Bucket, type BucketOptions } from './s3-bucket.js';
import { describeS3Failure, isS3QuotaExceeded, isS3Unavailable } from './s3-errors.js';
import { openObjectReader, StoredSizeMismatchError } from './s3-object-reader.js';
import { s3Sessions } from './s3-sessions.js';

export interface S3Options extends BucketOptions {
  /** Size of a multipart part (memory held per upload is a small multiple of it). */
  partSize?: number;
}

/**
 * Reads at least this large go through `openObjectReader` (one connection of their own, read
 * into pooled buffers); smaller ones through the SDK's pooled connections, where setting up a
 * connection would cost more than the copying saves.
 */
const DIRECT_READ_BYTES = 4 * 1024 * 1024;
/** Lifetime of the presigned URL a direct read opens its connection with (checked only then). */
const DIRECT_READ_URL_SECONDS = 60;

/**
 * Blobs in an S3-compatible bucket under `prefix/`: uploads stream into multipart uploads
 * whose state the database keeps (s3-sessions.ts), reads stream ranges or hand out presigned
 * URLs, listings go page by page. Several nodes may share one bucket and prefix.
 *
 * The SDK retries every call that failed for want of the store (refused, reset, timed out,
 * 5xx) with exponential backoff, S3_ATTEMPTS tries in all: reads are safe to repeat, and so are
 * S3's writes (a part or object written twice holds the same bytes; a multipart upload
 * completed twice is no error). A store still unreachable after that is `UNAVAILABLE` (503
 * with Retry-After) and a used-up quota `STORAGE_FULL` (507), whichever call met it. Nothing
 * half-written becomes visible: objects appear whole or not at all, and the database row is
 * written only after `finish`.
 */
export function createS3Driver(options: S3Options): BlobDriver {
  const bucket = new S3Bucket(options);
  const where = `s3://${options.bucket}/${options.prefix}${options.endpoint ? ` at ${options.endpoint}` : ''}`;
  const driver: BlobDriver = {
    name: 's3',
    stat: (key) => bucket.head(key),
    read: (key, range) => bucket.read(key, range),
    put: (key, bytes) => bucket.put(key, bytes),
    delete: (key) => bucket.delete(key),
    list: (prefix) => bucket.list(prefix),
    sessions: s3Sessions(bucket, options.partSize),
    presignGet: (key, ttlSeconds) => bucket.presignGet(key, ttlSeconds),
    async openRandomAccess(key, range) {
      if (!range || range.end - range.start + 1 < DIRECT_READ_BYTES) return undefined;
      try {
        return await openObjectReader(new URL(await bucket.presignGet(key, DIRECT_READ_URL_SECONDS)), key, range);
      } catch (err) {
        // What the store said about the object holds for any reader. Otherwise: the direct
        // reader tries once and reads only the plainest answer, while the SDK's read retries
        // with backoff and speaks every dialect, so a blip or an unusual store costs speed,
        // not the pull.
        if (err instanceof BlobNotFoundError || err instanceof StoredSizeMismatchError) throw err;
        return undefined;
      }
    },

    async check() {
      try {
        await bucket.exists();
      } catch (err) {
        throw new Error(`S3 storage ${where}: ${describeS3Failure(err, options.bucket, 'bucket')}`, { cause: err });
      }
      // HeadBucket passes with read-only credentials: write, list and delete a probe too.
      const probe = `.berth-probe/${randomBytes(8).toString('hex')}`;
      try {
        await bucket.put(probe, Buffer.from('berth storage probe\n'));
        for await (const o of bucket.list('.berth-probe')) if (o.key === probe) break;
        await bucket.delete(probe);
      } catch (err) {
        throw new Error(`S3 storage ${where}: the bucket exists but ${describeS3Failure(err, options.bucket, 'probe')}`, { cause: err });
      }
    },

    // The endpoint is left out: nodes may reach one store under different names.
    identity: async () => `s3://${options.bucket}/${options.prefix}`,
    close: async () => bucket.close(),
  };
  // check() says what is wrong at start in its own words; every other call is translated.
  const { check, ...calls } = driver;
  const translated = rejectingWith(calls, (err) => {
    if (err instanceof AppError) return err;
    if (isS3QuotaExceeded(err)) {
      return new AppError('STORAGE_FULL', 'the blob store refused the write: its quota is used up; free space or raise the quota and push again', { cause: err });
    }
    if (isS3Unavailable(err)) {
      // Clients learn what failed, not where the store is; the log has the cause.
      return new AppError('UNAVAILABLE', 'the blob store is unavailable; try again shortly', { cause: err, headers: { 'Retry-After': '5' } });
    }
    return err;
  });
  return { ...translated, check };
}
