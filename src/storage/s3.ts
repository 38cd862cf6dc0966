import { randomBytes } from 'node:crypto';
import type { BlobDriver } from './driver.js';
import { S3Bucket, type BucketOptions } from './s3-bucket.js';
import { describeS3Failure } from './s3-errors.js';
import { openObjectReader } from './s3-object-reader.js';
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
 */
export function createS3Driver(options: S3Options): BlobDriver {
  const bucket = new S3Bucket(options);
  const where = `s3://${options.bucket}/${options.prefix}${options.endpoint ? ` at ${options.endpoint}` : ''}`;
  return {
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
      return openObjectReader(new URL(await bucket.presignGet(key, DIRECT_READ_URL_SECONDS)), key, range);
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
}
