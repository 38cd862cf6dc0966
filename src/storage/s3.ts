import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { blobKey, BlobNotFoundError, uploadedBlobKey, uploadKey, type Appended, type BlobDriver, type SessionState, type UploadSessions } from './driver.js';
import { describeS3Failure, isNotFound } from './s3-errors.js';

export interface S3Options {
  bucket: string;
  /** Objects live under `prefix/`; empty for the bucket's root. */
  prefix: string;
  /** An S3-compatible endpoint (radosgw, MinIO, Spaces); AWS when absent. */
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
  /** Size of a multipart part (memory held per upload is a small multiple of it). */
  partSize?: number;
}

/** S3's smallest part but the last. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
const DEFAULT_PART_BYTES = 8 * 1024 * 1024;
/**
 * S3's largest part number. Part sizes double every PARTS_PER_SIZE parts (8, 16, 32, 64, 128
 * MiB), so a blob may reach about 0.5 TiB while memory stays bounded by the largest part.
 */
const MAX_PARTS = 10_000;
const PARTS_PER_SIZE = 2_000;
/** Parts uploaded side by side while the request keeps streaming in. */
const PARTS_IN_FLIGHT = 2;

/**
 * An upload in progress on S3. Bytes go into a multipart upload (created with the first part)
 * whose object is `blobs/uploads/<id>`; bytes that do not fill a part yet (S3 needs 5 MiB for
 * every part but the last, clients PATCH 1 MiB) wait as small "tail" objects under
 * `uploads/<id>/`, named by their offset plus a nonce so no two appends ever write the same
 * key. The append that fills a part reads the tail back and folds it in: memory per upload
 * stays within a few parts (PARTS_IN_FLIGHT uploading, one filling) whatever the blob size.
 *
 * Two appends racing on one offset (a client retry on another node) are settled by the
 * caller's conditional update; the loser's parts may overwrite the winner's part numbers,
 * which CompleteMultipartUpload then rejects by ETag (never silently wrong content).
 */
interface S3Session {
  mpu?: string;
  parts: { n: number; etag: string; size: number }[];
  tail: { key: string; size: number }[];
}

export function createS3Driver(options: S3Options): BlobDriver {
  const client = new S3Client({
    region: options.region,
    endpoint: options.endpoint,
    forcePathStyle: options.forcePathStyle,
    // S3-compatible stores (radosgw 16, older MinIO) reject the SDK's default trailing
    // checksums; S3 checks the SigV4 payload hash and part ETags anyway.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 5_000, socketTimeout: 120_000 },
  });
  const Bucket = options.bucket;
  const root = options.prefix ? `${options.prefix.replace(/\/+$/, '')}/` : '';
  const full = (key: string): string => `${root}${key}`;
  const partSizeFor = (n: number): number => (options.partSize ?? DEFAULT_PART_BYTES) * 2 ** Math.floor((n - 1) / PARTS_PER_SIZE);
  const where = `s3://${Bucket}/${options.prefix}${options.endpoint ? ` at ${options.endpoint}` : ''}`;

  async function getBytes(key: string): Promise<Buffer> {
    const out = await client.send(new GetObjectCommand({ Bucket, Key: full(key) })).catch((err: unknown) => {
      if (isNotFound(err)) throw new BlobNotFoundError(key);
      throw err;
    });
    return Buffer.from(await out.Body!.transformToByteArray());
  }

  async function putBytes(key: string, bytes: Buffer): Promise<void> {
    await client.send(new PutObjectCommand({ Bucket, Key: full(key), Body: bytes, ContentLength: bytes.length }));
  }

  async function deleteKey(key: string): Promise<void> {
    await client.send(new DeleteObjectCommand({ Bucket, Key: full(key) }));
  }

  async function* list(prefix: string): AsyncIterable<{ key: string; size: number; modifiedAt: number }> {
    let ContinuationToken: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket, Prefix: full(`${prefix.replace(/\/+$/, '')}/`), ContinuationToken, MaxKeys: 1000 }));
      for (const o of page.Contents ?? []) {
        yield { key: o.Key!.slice(root.length), size: o.Size ?? 0, modifiedAt: o.LastModified?.getTime() ?? 0 };
      }
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
  }

  /** Multipart uploads whose key starts with `keyPrefix` (full key), page by page. */
  async function* multipartUploads(keyPrefix: string): AsyncIterable<{ key: string; uploadId: string; initiated: number }> {
    let KeyMarker: string | undefined;
    let UploadIdMarker: string | undefined;
    for (;;) {
      const page = await client.send(new ListMultipartUploadsCommand({ Bucket, Prefix: keyPrefix, KeyMarker, UploadIdMarker }));
      for (const u of page.Uploads ?? []) yield { key: u.Key!, uploadId: u.UploadId!, initiated: u.Initiated?.getTime() ?? 0 };
      if (!page.IsTruncated) return;
      KeyMarker = page.NextKeyMarker;
      UploadIdMarker = page.NextUploadIdMarker;
    }
  }

  async function abortMultipart(key: string, uploadId: string): Promise<void> {
    await client.send(new AbortMultipartUploadCommand({ Bucket, Key: key, UploadId: uploadId })).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
  }

  const sessions: UploadSessions = {
    portable: true,
    minChunkBytes: MIN_PART_BYTES,
    begin: () => ({ parts: [], tail: [] }) satisfies S3Session,

    async append(id, state, size, source): Promise<Appended> {
      const session = parseSession(state, size);
      const target = full(uploadedBlobKey(id));
      let mpu = session.mpu;
      const parts = [...session.parts];
      let tail = [...session.tail];
      const consumed: string[] = [];
      const written: string[] = [];
      const inFlight: Promise<void>[] = [];
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      let tailBytes = sum(tail);
      let received = size;

      const cutPart = async (): Promise<void> => {
        const body = Buffer.concat([...(await Promise.all(tail.map((t) => getBytes(t.key)))), ...pending]);
        consumed.push(...tail.map((t) => t.key));
        tail = [];
        tailBytes = 0;
        pending = [];
        pendingBytes = 0;
        if (parts.length >= MAX_PARTS) throw new Error(`upload ${id} exceeds S3's ${MAX_PARTS} parts`);
        mpu ??= (await client.send(new CreateMultipartUploadCommand({ Bucket, Key: target, ContentType: 'application/octet-stream' }))).UploadId!;
        const n = parts.length + 1;
        const slot = { n, etag: '', size: body.length };
        parts.push(slot);
        const uploadId = mpu;
        inFlight.push(
          client.send(new UploadPartCommand({ Bucket, Key: target, UploadId: uploadId, PartNumber: n, Body: body, ContentLength: body.length })).then((out) => {
            if (!out.ETag) throw new Error(`S3 returned no ETag for part ${n} of upload ${id}`);
            slot.etag = out.ETag;
          }),
        );
        if (inFlight.length >= PARTS_IN_FLIGHT) await inFlight.shift();
      };

      try {
        for await (const chunk of source) {
          pending.push(chunk);
          pendingBytes += chunk.length;
          received += chunk.length;
          if (tailBytes + pendingBytes >= partSizeFor(parts.length + 1)) await cutPart();
        }
        // Only full parts: a client sending 6 MiB PATCHes must not spend S3's 10,000 parts on 6 MiB each.
        if (tailBytes + pendingBytes >= partSizeFor(parts.length + 1)) {
          await cutPart();
        } else if (pendingBytes > 0) {
          const key = `${uploadKey(id)}/${String(received - pendingBytes).padStart(15, '0')}-${randomBytes(6).toString('hex')}`;
          await putBytes(key, Buffer.concat(pending));
          written.push(key);
          tail.push({ key, size: pendingBytes });
        }
        await Promise.all(inFlight);
      } catch (err) {
        await Promise.allSettled(inFlight);
        await Promise.allSettled(written.map(deleteKey));
        throw err;
      }
      const next: S3Session = { ...(mpu ? { mpu } : {}), parts, tail };
      return {
        state: next as unknown as SessionState,
        size: received,
        settle: async () => {
          await Promise.allSettled(consumed.map(deleteKey));
        },
        undo: async () => {
          await Promise.allSettled(written.map(deleteKey));
        },
      };
    },

    async read() {
      throw new Error('S3 upload sessions cannot be read back before they finish; their hash state is kept instead');
    },

    async finish(id, state, size, digest) {
      const session = parseSession(state, size);
      const tailBytes = await Promise.all(session.tail.map((t) => getBytes(t.key)));
      let key: string;
      if (session.parts.length === 0) {
        // Smaller than a part: one PutObject under the digest's own key, no multipart upload.
        key = digest ? blobKey(digest) : uploadedBlobKey(id);
        await putBytes(key, Buffer.concat(tailBytes));
        if (session.mpu) await abortMultipart(full(uploadedBlobKey(id)), session.mpu);
      } else {
        key = uploadedBlobKey(id);
        const Key = full(key);
        const parts = [...session.parts];
        if (tailBytes.length > 0) {
          const body = Buffer.concat(tailBytes);
          const n = parts.length + 1;
          const out = await client.send(new UploadPartCommand({ Bucket, Key, UploadId: session.mpu, PartNumber: n, Body: body, ContentLength: body.length }));
          parts.push({ n, etag: out.ETag!, size: body.length });
        }
        await client
          .send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId: session.mpu, MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.n, ETag: p.etag })) } }))
          .catch((err: unknown) => {
            // Completed by an earlier attempt whose answer was lost: the object tells.
            if (!isNotFound(err)) throw err;
          });
        // radosgw 16 answers CompleteMultipartUpload with an empty ETag: check the object itself.
        const head = await client.send(new HeadObjectCommand({ Bucket, Key })).catch((err: unknown) => {
          if (isNotFound(err)) throw new BlobNotFoundError(key);
          throw err;
        });
        if (head.ContentLength !== size) throw new Error(`S3 assembled ${head.ContentLength} bytes for upload ${id}, expected ${size}`);
      }
      await Promise.allSettled(session.tail.map((t) => deleteKey(t.key)));
      return key;
    },

    async abort(id, state) {
      const session = state as Partial<S3Session>;
      const target = full(uploadedBlobKey(id));
      if (typeof session.mpu === 'string') await abortMultipart(target, session.mpu);
      // Multipart uploads an interrupted append created but never recorded.
      for await (const u of multipartUploads(target)) if (u.key === target) await abortMultipart(u.key, u.uploadId);
      for await (const o of list(uploadKey(id))) await deleteKey(o.key);
    },

    async sweep(cutoff, isLive) {
      let removed = 0;
      const uploadsRoot = full('blobs/uploads/');
      for await (const u of multipartUploads(uploadsRoot)) {
        const id = u.key.slice(uploadsRoot.length);
        if (u.initiated >= cutoff || (await isLive(id))) continue;
        await abortMultipart(u.key, u.uploadId);
        removed++;
      }
      for await (const o of list('uploads')) {
        const id = o.key.split('/')[1] ?? '';
        if (o.modifiedAt >= cutoff || (await isLive(id))) continue;
        await deleteKey(o.key);
        removed++;
      }
      return removed;
    },
  };

  return {
    name: 's3',

    async stat(key) {
      try {
        const head = await client.send(new HeadObjectCommand({ Bucket, Key: full(key) }));
        return { size: head.ContentLength ?? 0 };
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },

    async read(key, range) {
      try {
        const out = await client.send(new GetObjectCommand({ Bucket, Key: full(key), Range: range ? `bytes=${range.start}-${range.end}` : undefined }));
        return out.Body as Readable;
      } catch (err) {
        if (isNotFound(err)) throw new BlobNotFoundError(key);
        throw err;
      }
    },

    put: putBytes,
    delete: deleteKey,
    list,
    sessions,

    async presignGet(key, ttlSeconds) {
      return getSignedUrl(client, new GetObjectCommand({ Bucket, Key: full(key) }), { expiresIn: ttlSeconds });
    },

    async check() {
      try {
        await client.send(new HeadBucketCommand({ Bucket }));
      } catch (err) {
        throw new Error(`S3 storage ${where}: ${describeS3Failure(err, Bucket, 'bucket')}`, { cause: err });
      }
      // HeadBucket passes with read-only credentials: write, list and delete a probe too.
      const probe = `.berth-probe/${randomBytes(8).toString('hex')}`;
      try {
        await putBytes(probe, Buffer.from('berth storage probe\n'));
        for await (const o of list('.berth-probe')) if (o.key === probe) break;
        await deleteKey(probe);
      } catch (err) {
        throw new Error(`S3 storage ${where}: the bucket exists but ${describeS3Failure(err, Bucket, 'probe')}`, { cause: err });
      }
    },

    // The endpoint is left out: nodes may reach one store under different names.
    identity: async () => `s3://${Bucket}/${options.prefix}`,

    async close() {
      client.destroy();
    },
  };
}

function sum(items: { size: number }[]): number {
  return items.reduce((total, i) => total + i.size, 0);
}

/** The session as stored, checked against the size the caller recorded. */
function parseSession(state: SessionState, size: number): S3Session {
  const s = state as Partial<S3Session>;
  if (!Array.isArray(s.parts) || !Array.isArray(s.tail)) throw new Error('not an S3 upload session (was the storage changed while uploads were open?)');
  const session: S3Session = { ...(typeof s.mpu === 'string' ? { mpu: s.mpu } : {}), parts: s.parts, tail: s.tail };
  if (sum(session.parts) + sum(session.tail) !== size) throw new Error(`S3 upload session holds ${sum(session.parts) + sum(session.tail)} bytes, its row says ${size}`);
  return session;
}
