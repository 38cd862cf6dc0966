import { randomUUID, type Hash } from 'node:crypto';
import type { Db, Upload } from '../db/index.js';
import { AppError } from '../errors/index.js';
import { createDigester, parseDigest, type Digest } from '../oci/index.js';
import { blobKey, type BlobDriver, type SessionState } from '../storage/index.js';
import { BlobService } from './blobs.js';
import { KeyedMutex } from './keyed-mutex.js';
import { NO_QUOTA, type PushQuota } from './quotas.js';
import { uploadHashes, type UploadHashes } from './upload-hashes.js';

/** Whole blobs up to this size (monolithic pushes) are hashed in memory and stored in one write. */
const SMALL_BLOB_BYTES = 5 * 1024 * 1024;

/**
 * Upload sessions: bytes stream into the driver's session (a file, or an S3 multipart upload)
 * while a sha256 runs over them; the row records how many bytes are durable, the driver's
 * session state and, where sessions move between nodes, the hash state, so a client (or a
 * restarted server, or another node) resumes there. Completion verifies the digest, has the
 * driver make the bytes an object (without copying them), then writes the blob row that maps
 * the digest to that object.
 */
export class UploadService {
  private readonly hashes: UploadHashes;
  private readonly mutex = new KeyedMutex();

  constructor(
    private readonly db: Db,
    private readonly driver: BlobDriver,
    private readonly quota: PushQuota = NO_QUOTA,
  ) {
    this.hashes = uploadHashes(driver.sessions);
  }

  /** Opens a session, within the team's cap on open sessions and its repository allowance. */
  async start(repositoryId: string): Promise<Upload> {
    const now = Date.now();
    const id = randomUUID();
    const upload: Upload = {
      id,
      repository_id: repositoryId,
      received_bytes: 0,
      reserved_bytes: 0,
      reserved_until: null,
      created_at: now,
      updated_at: now,
      driver_state: JSON.stringify(this.driver.sessions.begin(id)),
      hash_state: null,
    };
    await this.db.transaction().execute(async (tx) => {
      await this.quota.checkNewUpload(repositoryId, tx);
      await tx.insertInto('uploads').values(upload).execute();
    });
    return upload;
  }

  /** The upload, if it belongs to this repository; another repository's id is unknown here. */
  async get(repositoryId: string, uploadId: string): Promise<Upload> {
    const upload = /^[0-9a-f-]{36}$/.test(uploadId)
      ? await this.db.selectFrom('uploads').selectAll().where('id', '=', uploadId).where('repository_id', '=', repositoryId).executeTakeFirst()
      : undefined;
    if (!upload) throw new AppError('BLOB_UPLOAD_UNKNOWN', `upload ${uploadId} is unknown, finished or expired`, { detail: { uuid: uploadId } });
    return upload;
  }

  /**
   * Appends a chunk. `start` is where the client says the chunk begins (Content-Range, or the
   * offset its upload URL was issued for); it must equal what was received or the answer is 416.
   * `length` is the chunk's declared length, when the client declared one.
   */
  async append(repositoryId: string, uploadId: string, source: AsyncIterable<Buffer>, start?: number, length?: number): Promise<Upload> {
    return this.mutex.run(uploadId, async () => {
      const upload = await this.get(repositoryId, uploadId);
      if (start !== undefined && start !== upload.received_bytes) throw rangeError(upload.received_bytes);
      return this.appendLocked(upload, source, length);
    });
  }

  /** Finishes the upload with an optional last chunk; verifies the digest and commits. */
  async complete(
    repositoryId: string,
    uploadId: string,
    digest: string,
    source: AsyncIterable<Buffer> | undefined,
    start?: number,
    length?: number,
  ): Promise<{ digest: string; size: number }> {
    const expected = requireDigest(digest);
    return this.mutex.run(uploadId, async () => {
      let upload = await this.get(repositoryId, uploadId);
      if (source) {
        if (start !== undefined && start !== upload.received_bytes) throw rangeError(upload.received_bytes);
        upload = await this.appendLocked(upload, source, length, true);
      }
      const state = sessionState(upload, this.driver);
      // sha256 is checked from the running hash; another algorithm needs the bytes, which a
      // portable session cannot read back before it finishes: checked on the object instead.
      const unverified = expected.algorithm !== 'sha256' && this.driver.sessions.portable;
      if (!unverified) checkDigest(expected.value, await this.digestOf(upload, state, expected.algorithm));
      await this.quota.checkBlob(repositoryId, expected.value, upload.received_bytes, undefined, upload.id);
      const placed = await this.place(upload, state, expected, unverified);
      let kept: string;
      try {
        kept = await this.db.transaction().execute(async (tx) => {
          await this.quota.checkBlob(repositoryId, expected.value, upload.received_bytes, tx, upload.id);
          const recorded = await BlobService.record(tx, this.driver, repositoryId, expected.value, upload.received_bytes, placed.key);
          await tx.deleteFrom('uploads').where('id', '=', upload.id).execute();
          return recorded;
        });
      } catch (err) {
        await placed.discard();
        throw err;
      } finally {
        this.hashes.forget(upload.id);
      }
      await placed.settle(kept);
      return { digest: expected.value, size: upload.received_bytes };
    });
  }

  /**
   * A whole blob in one request (`POST ?digest=`). It streams through an upload session like a
   * chunked push, so where the team's storage is limited its bytes count against the
   * allowance (and the open-session cap) on every node while they arrive, and a crash leaves a
   * session that expiry removes. One exception: on object storage an unmetered blob of up to
   * 5 MiB is hashed in memory and written in one PUT, where a multipart upload would cost
   * three round trips; memory per request stays within that.
   */
  async putMonolithic(repositoryId: string, digest: string, source: AsyncIterable<Buffer>, length?: number): Promise<{ digest: string; size: number }> {
    const expected = requireDigest(digest);
    const iterator = source[Symbol.asyncIterator]();
    const head: Buffer[] = [];
    if (!this.driver.sessions.portable || (await this.quota.limitsStorage(repositoryId))) {
      return this.putThroughSession(repositoryId, expected, head, iterator, length);
    }
    let headBytes = 0;
    let ended = false;
    while (headBytes <= SMALL_BLOB_BYTES) {
      const next = await iterator.next();
      if (next.done) {
        ended = true;
        break;
      }
      head.push(next.value);
      headBytes += next.value.length;
    }
    if (!ended) return this.putThroughSession(repositoryId, expected, head, iterator, length);

    const bytes = Buffer.concat(head);
    const hash = createDigester(expected.algorithm);
    hash.update(bytes);
    checkDigest(expected.value, `${expected.algorithm}:${hash.digest('hex')}`);
    await this.quota.checkBlob(repositoryId, expected.value, bytes.length);
    const key = (await BlobService.locate(this.db, this.driver, expected.value)) ?? blobKey(expected.value);
    const placed = key === blobKey(expected.value) && !(await this.driver.stat(key));
    if (placed) await this.driver.put(key, bytes);
    try {
      await this.db.transaction().execute(async (tx) => {
        await this.quota.checkBlob(repositoryId, expected.value, bytes.length, tx);
        await BlobService.record(tx, this.driver, repositoryId, expected.value, bytes.length, key);
      });
    } catch (err) {
      // Bytes this push put in place and nothing records are removed now, not at the next collection.
      if (placed) await BlobService.discardUnreferenced(this.db, this.driver, expected.value).catch(() => undefined);
      throw err;
    }
    return { digest: expected.value, size: bytes.length };
  }

  private async putThroughSession(repositoryId: string, expected: Digest, head: Buffer[], rest: AsyncIterator<Buffer>, length?: number): Promise<{ digest: string; size: number }> {
    const upload = await this.start(repositoryId);
    async function* body(): AsyncIterable<Buffer> {
      yield* head;
      for (let next = await rest.next(); !next.done; next = await rest.next()) yield next.value;
    }
    try {
      // The digest is known up front: bytes the registry already holds cost nothing while they
      // stream. `last`: every byte arrives in this request, so the hash needs no midstate
      // (upload-hashes.ts) and the finished digest is kept in the row for a retry on any node.
      await this.mutex.run(upload.id, () => this.appendLocked(upload, body(), length, true, expected.value));
      return await this.complete(repositoryId, upload.id, expected.value, undefined);
    } catch (err) {
      await this.cancel(repositoryId, upload.id).catch(() => undefined);
      throw err;
    }
  }

  async cancel(repositoryId: string, uploadId: string): Promise<void> {
    await this.mutex.run(uploadId, async () => {
      const upload = await this.get(repositoryId, uploadId);
      await this.db.deleteFrom('uploads').where('id', '=', upload.id).execute();
      this.hashes.forget(upload.id);
      await this.driver.sessions.abort(upload.id, sessionState(upload, this.driver));
    });
  }

  /** Removes sessions idle since before `cutoff` and storage of sessions that no longer exist; returns how many. */
  async expire(cutoff: number): Promise<number> {
    const stale = await this.db.selectFrom('uploads').selectAll().where('updated_at', '<', cutoff).execute();
    let expired = 0;
    for (const upload of stale) {
      // Every node runs this job: only the one whose delete took the row cleans its storage.
      const result = await this.db.deleteFrom('uploads').where('id', '=', upload.id).where('updated_at', '<', cutoff).executeTakeFirst();
      if (Number(result.numDeletedRows) === 0) continue;
      expired++;
      this.hashes.forget(upload.id);
      await this.driver.sessions.abort(upload.id, sessionState(upload, this.driver));
    }
    const orphans = await this.driver.sessions.sweep(cutoff, async (id) => {
      if (!/^[0-9a-f-]{36}$/.test(id)) return false;
      return (await this.db.selectFrom('uploads').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;
    });
    return expired + orphans;
  }

  /**
   * `last`: the request appends the upload's last bytes and then finishes it. `digest`: the
   * blob's digest, when the client named it before sending the bytes.
   */
  private async appendLocked(upload: Upload, source: AsyncIterable<Buffer>, length?: number, last = false, digest?: string): Promise<Upload> {
    const state = sessionState(upload, this.driver);
    const hash = await this.hashes.resume(upload, state, last);
    if (hash.sealed) {
      throw new AppError('BLOB_UPLOAD_INVALID', `upload ${upload.id} took its bytes in a request that was to finish it and did not; it cannot take more: finish it or start a new upload`);
    }
    let appended;
    try {
      const metered = await this.quota.meterUpload(upload.repository_id, upload.id, source, length, digest);
      appended = await this.driver.sessions.append(upload.id, state, upload.received_bytes, hashing(metered, hash));
    } catch (err) {
      // The hash saw bytes the store did not keep; start again from the recorded state.
      this.hashes.forget(upload.id);
      throw err;
    }
    const updatedAt = Date.now();
    const driverState = JSON.stringify(appended.state);
    const hashState = hash.save();
    const result = await this.db
      .updateTable('uploads')
      // The stored bytes now count as received; what the stream had claimed is given back.
      .set({ received_bytes: appended.size, reserved_bytes: 0, reserved_until: null, updated_at: updatedAt, driver_state: driverState, hash_state: hashState })
      .where('id', '=', upload.id)
      .where('received_bytes', '=', upload.received_bytes)
      .executeTakeFirst()
      .catch(async (err: unknown) => {
        // The database did not record the new bytes (e.g. it is unreachable): the hash and the
        // store have seen them, the row has not. Drop both; the row's state stays the truth.
        this.hashes.forget(upload.id);
        await appended.undo().catch(() => undefined);
        throw err;
      });
    if (Number(result.numUpdatedRows) === 0) {
      // Another node moved this upload on; our bytes may be stale.
      await appended.undo();
      this.hashes.forget(upload.id);
      const current = await this.db.selectFrom('uploads').select('received_bytes').where('id', '=', upload.id).executeTakeFirst();
      if (!current) throw new AppError('BLOB_UPLOAD_UNKNOWN', `upload ${upload.id} was cancelled`);
      throw rangeError(current.received_bytes);
    }
    await appended.settle();
    this.hashes.remember(upload.id, hash, appended.size);
    return { ...upload, received_bytes: appended.size, reserved_bytes: 0, reserved_until: null, updated_at: updatedAt, driver_state: driverState, hash_state: hashState };
  }

  private async digestOf(upload: Upload, state: SessionState, algorithm: Digest['algorithm']): Promise<string> {
    if (algorithm === 'sha256') return (await this.hashes.resume(upload, state)).digest();
    const hash = createDigester(algorithm);
    if (upload.received_bytes > 0) await hashStream(await this.driver.sessions.read(upload.id, state, upload.received_bytes), hash);
    return `${algorithm}:${hash.digest('hex')}`;
  }

  /**
   * Puts the session's bytes where the blob's row will point: at the digest's stored bytes when
   * it is stored already (the session is dropped once the row commits), else at the object the
   * driver makes of the session. Says what to do once the row committed (`settle`, with the
   * key the row names) or failed (`discard`).
   */
  private async place(upload: Upload, state: SessionState, expected: Digest, unverified: boolean): Promise<Placed> {
    const existing = unverified ? undefined : await BlobService.locate(this.db, this.driver, expected.value);
    if (existing) {
      return { key: existing, settle: () => this.driver.sessions.abort(upload.id, state).catch(() => undefined), discard: async () => undefined };
    }
    const key = await this.driver.sessions.finish(upload.id, state, upload.received_bytes, unverified ? undefined : expected.value);
    // finish() consumed the session: after a failure nothing is left to resume.
    const discard = async (): Promise<void> => {
      await this.db.deleteFrom('uploads').where('id', '=', upload.id).execute().catch(() => undefined);
      // Bytes at the digest's own key may be another push's by now: removed only if unreferenced.
      if (key !== blobKey(expected.value)) await this.driver.delete(key).catch(() => undefined);
      else await BlobService.discardUnreferenced(this.db, this.driver, expected.value).catch(() => undefined);
    };
    if (unverified) {
      const hash = createDigester(expected.algorithm);
      await hashStream(await this.driver.read(key), hash);
      const actual = `${expected.algorithm}:${hash.digest('hex')}`;
      if (actual !== expected.value) {
        await discard();
        checkDigest(expected.value, actual);
      }
    }
    return {
      key,
      // Another push stored the digest meanwhile: its bytes win, ours go.
      settle: async (kept) => void (kept !== key && (await this.driver.delete(key).catch(() => undefined))),
      discard,
    };
  }
}

/** Where a finished upload's bytes are, and how to tidy up once its row committed or failed. */
interface Placed {
  key: string;
  settle(kept: string): Promise<void>;
  discard(): Promise<void>;
}

function sessionState(upload: Upload, driver: BlobDriver): SessionState {
  // Rows from before sessions had state belong to the filesystem driver, whose state is empty.
  return upload.driver_state ? (JSON.parse(upload.driver_state) as SessionState) : driver.sessions.begin(upload.id);
}

async function hashStream(stream: AsyncIterable<unknown>, hash: Hash): Promise<void> {
  for await (const chunk of stream) hash.update(chunk as Buffer);
}

async function* hashing(source: AsyncIterable<Buffer>, hash: { update(chunk: Buffer): void }): AsyncIterable<Buffer> {
  for await (const chunk of source) {
    hash.update(chunk);
    yield chunk;
  }
}

function checkDigest(expected: string, actual: string): void {
  if (actual !== expected) throw new AppError('DIGEST_INVALID', `uploaded content has digest ${actual}, not ${expected}`, { detail: { expected, actual } });
}

function requireDigest(input: string): Digest {
  const digest = parseDigest(input);
  if (digest === 'unsupported-algorithm') throw new AppError('DIGEST_INVALID', `unsupported digest algorithm in "${input}"; use sha256 or sha512`);
  if (digest === 'malformed') throw new AppError('DIGEST_INVALID', `"${input}" is not a valid digest`);
  return digest;
}

function rangeError(received: number): AppError {
  return new AppError('RANGE_INVALID', `the upload has ${received} bytes; the next chunk must start at offset ${received}`, {
    headers: { Range: `0-${Math.max(0, received - 1)}` },
    detail: { received },
  });
}
