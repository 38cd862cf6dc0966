import { randomBytes } from 'node:crypto';
import { blobKey, uploadedBlobKey, uploadKey, type Appended, type SessionState, type UploadSessions } from './driver.js';
import type { S3Bucket } from './s3-bucket.js';

/** S3's smallest part but the last. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
export const DEFAULT_PART_BYTES = 8 * 1024 * 1024;
/**
 * S3's largest part number. Part sizes double every PARTS_PER_SIZE parts (8, 16, 32, 64, 128
 * MiB), so a blob may reach about 0.5 TiB while memory stays bounded by the largest part.
 */
const MAX_PARTS = 10_000;
const PARTS_PER_SIZE = 2_000;
/** Parts uploaded side by side while the request keeps streaming in. */
const PARTS_IN_FLIGHT = 2;
/**
 * Bytes of a session's tail that may live in its state (the database row) instead of in tail
 * objects: a small blob pushed with POST, PATCH, PUT (every config, most small layers) then
 * costs one PutObject when it finishes instead of a put, a get and a delete of a tail object
 * besides.
 */
const INLINE_TAIL_BYTES = 64 * 1024;
/** Idle part buffers kept for the next upload: one upload's worth (in flight, plus one filling). */
const POOL_LIMIT = PARTS_IN_FLIGHT + 1;

/**
 * An upload in progress on S3. Bytes go into a multipart upload (created with the first part)
 * whose object is `blobs/uploads/<id>`; bytes that do not fill a part yet (S3 needs 5 MiB for
 * every part but the last, clients PATCH 1 MiB) wait as small "tail" objects under
 * `uploads/<id>/`, named by their offset plus a nonce so no two appends ever write the same
 * key. The append that fills a part reads the tail back and folds it in: memory per upload
 * stays within a few parts (PARTS_IN_FLIGHT uploading, one filling) whatever the blob size.
 * A tail of at most INLINE_TAIL_BYTES stays in the session state itself (base64), not in S3.
 * Incoming bytes are copied into part-sized buffers that are reused from upload to upload:
 * allocating and dropping 8 MiB per part kept the garbage collector busy and the process
 * larger than the parts in flight.
 *
 * Two appends racing on one offset (a client retry on another node) are settled by the
 * caller's conditional update; the loser's parts may overwrite the winner's part numbers,
 * which CompleteMultipartUpload then rejects by ETag (never silently wrong content).
 */
interface S3Session {
  mpu?: string;
  parts: { n: number; etag: string; size: number }[];
  tail: TailPiece[];
}

/** Bytes not in a part yet: a tail object, or (small) the bytes themselves in base64. */
type TailPiece = { key: string; size: number } | { inline: string; size: number };

/** Upload sessions on S3 multipart uploads; any node can continue one from its stored state. */
export function s3Sessions(bucket: S3Bucket, partSize = DEFAULT_PART_BYTES): UploadSessions {
  const partSizeFor = (n: number): number => partSize * 2 ** Math.floor((n - 1) / PARTS_PER_SIZE);
  const pool: Buffer[] = [];
  const take = (size: number): Buffer => (size === partSize ? pool.pop() : undefined) ?? Buffer.allocUnsafeSlow(size);
  const give = (buffer: Buffer): void => {
    if (buffer.length === partSize && pool.length < POOL_LIMIT) pool.push(buffer);
  };
  const bytesOf = async (t: TailPiece): Promise<Buffer> => {
    const bytes = 'inline' in t ? Buffer.from(t.inline, 'base64') : await bucket.getBytes(t.key);
    if (bytes.length !== t.size) throw new Error(`a tail piece of ${'key' in t ? t.key : 'the session state'} holds ${bytes.length} bytes, its session says ${t.size}`);
    return bytes;
  };

  return {
    portable: true,
    minChunkBytes: MIN_PART_BYTES,
    begin: () => ({ parts: [], tail: [] }) satisfies S3Session,

    async append(id, state, size, source): Promise<Appended> {
      const session = parseSession(state, size);
      const target = uploadedBlobKey(id);
      let mpu = session.mpu;
      const parts = [...session.parts];
      let tail = [...session.tail];
      const consumed: string[] = [];
      const written: string[] = [];
      const inFlight: Promise<void>[] = [];
      // The part being filled: the tail's bytes go in front (fetched when it is full),
      // this request's bytes after them.
      let part: Buffer | undefined;
      let tailBytes = sum(tail);
      let fill = 0;
      let received = size;

      const cutPart = async (): Promise<void> => {
        const body = part!;
        part = undefined;
        try {
          let at = 0;
          for (const bytes of await Promise.all(tail.map(bytesOf))) at += bytes.copy(body, at);
          consumed.push(...tailKeys(tail));
          tail = [];
          tailBytes = 0;
          fill = 0;
          if (parts.length >= MAX_PARTS) throw new Error(`upload ${id} exceeds S3's ${MAX_PARTS} parts`);
          mpu ??= await bucket.createMultipart(target);
        } catch (err) {
          give(body);
          throw err;
        }
        const slot = { n: parts.length + 1, etag: '', size: body.length };
        parts.push(slot);
        const uploadId = mpu;
        inFlight.push(
          bucket
            .uploadPart(target, uploadId, slot.n, body)
            .then((etag) => void (slot.etag = etag))
            .finally(() => give(body)),
        );
        if (inFlight.length >= PARTS_IN_FLIGHT) await inFlight.shift();
      };

      try {
        for await (const chunk of source) {
          received += chunk.length;
          for (let at = 0; at < chunk.length; ) {
            const partBytes = partSizeFor(parts.length + 1);
            part ??= take(partBytes);
            const n = Math.min(partBytes - tailBytes - fill, chunk.length - at);
            chunk.copy(part, tailBytes + fill, at, at + n);
            fill += n;
            at += n;
            // Only full parts: a client sending 6 MiB PATCHes must not spend S3's 10,000 parts on 6 MiB each.
            if (tailBytes + fill === partBytes) await cutPart();
          }
        }
        if (fill > 0) {
          const bytes = part!.subarray(tailBytes, tailBytes + fill);
          if (sum(tail.filter((t) => 'inline' in t)) + fill <= INLINE_TAIL_BYTES) {
            tail.push({ inline: bytes.toString('base64'), size: fill });
          } else {
            const key = `${uploadKey(id)}/${String(received - fill).padStart(15, '0')}-${randomBytes(6).toString('hex')}`;
            await bucket.put(key, bytes);
            written.push(key);
            tail.push({ key, size: fill });
          }
        }
        await Promise.all(inFlight);
      } catch (err) {
        await Promise.allSettled(inFlight);
        await Promise.allSettled(written.map((k) => bucket.delete(k)));
        throw err;
      } finally {
        if (part) give(part);
      }
      const next: S3Session = { ...(mpu ? { mpu } : {}), parts, tail };
      return {
        state: next as unknown as SessionState,
        size: received,
        settle: async () => void (await Promise.allSettled(consumed.map((k) => bucket.delete(k)))),
        undo: async () => void (await Promise.allSettled(written.map((k) => bucket.delete(k)))),
      };
    },

    async read() {
      throw new Error('S3 upload sessions cannot be read back before they finish; their hash state is kept instead');
    },

    async finish(id, state, size, digest) {
      const session = parseSession(state, size);
      const tailBytes = await Promise.all(session.tail.map(bytesOf));
      let key: string;
      if (session.parts.length === 0) {
        // Smaller than a part: one PutObject under the digest's own key, no multipart upload.
        key = digest ? blobKey(digest) : uploadedBlobKey(id);
        await bucket.put(key, Buffer.concat(tailBytes));
        if (session.mpu) await bucket.abortMultipart(uploadedBlobKey(id), session.mpu);
      } else {
        key = uploadedBlobKey(id);
        const parts = [...session.parts];
        if (tailBytes.length > 0) {
          const body = Buffer.concat(tailBytes);
          parts.push({ n: parts.length + 1, etag: await bucket.uploadPart(key, session.mpu!, parts.length + 1, body), size: body.length });
        }
        await bucket.completeMultipart(key, session.mpu!, parts);
        // radosgw 16 answers CompleteMultipartUpload with an empty ETag: check the object itself.
        const head = await bucket.head(key);
        if (head?.size !== size) throw new Error(`S3 assembled ${head ? head.size : 'no'} bytes for upload ${id}, expected ${size}`);
      }
      await Promise.allSettled(tailKeys(session.tail).map((k) => bucket.delete(k)));
      return key;
    },

    async abort(id, state) {
      const session = state as Partial<S3Session>;
      const target = uploadedBlobKey(id);
      if (typeof session.mpu === 'string') await bucket.abortMultipart(target, session.mpu);
      // Multipart uploads an interrupted append created but never recorded.
      for await (const u of bucket.multipartUploads(target)) if (u.key === target) await bucket.abortMultipart(u.key, u.uploadId);
      for await (const o of bucket.list(uploadKey(id))) await bucket.delete(o.key);
    },

    async sweep(cutoff, isLive) {
      let removed = 0;
      for await (const u of bucket.multipartUploads('blobs/uploads/')) {
        if (u.initiated >= cutoff || (await isLive(u.key.slice('blobs/uploads/'.length)))) continue;
        await bucket.abortMultipart(u.key, u.uploadId);
        removed++;
      }
      for await (const o of bucket.list('uploads')) {
        if (o.modifiedAt >= cutoff || (await isLive(o.key.split('/')[1] ?? ''))) continue;
        await bucket.delete(o.key);
        removed++;
      }
      return removed;
    },
  };
}

function sum(items: { size: number }[]): number {
  return items.reduce((total, i) => total + i.size, 0);
}

/** The keys of a tail's objects (inline pieces have none). */
function tailKeys(tail: TailPiece[]): string[] {
  return tail.flatMap((t) => ('key' in t ? [t.key] : []));
}

function isTailPiece(t: unknown): t is TailPiece {
  const p = t as Record<string, unknown>;
  return typeof p === 'object' && p !== null && Number.isSafeInteger(p.size) && (typeof p.key === 'string' || typeof p.inline === 'string');
}

/** The session as stored, checked against the size the caller recorded. */
function parseSession(state: SessionState, size: number): S3Session {
  const s = state as Partial<S3Session>;
  if (!Array.isArray(s.parts) || !Array.isArray(s.tail) || !s.tail.every(isTailPiece)) throw new Error('not an S3 upload session (was the storage changed while uploads were open?)');
  const session: S3Session = { ...(typeof s.mpu === 'string' ? { mpu: s.mpu } : {}), parts: s.parts, tail: s.tail };
  const held = sum(session.parts) + sum(session.tail);
  if (held !== size) throw new Error(`S3 upload session holds ${held} bytes, its row says ${size}`);
  return session;
}
