import { randomUUID, type Hash } from 'node:crypto';
import type { Db, Upload } from '../db/index.js';
import { AppError } from '../errors/index.js';
import { createDigester, parseDigest, type Digest } from '../oci/index.js';
import { blobKey, uploadKey, type BlobDriver } from '../storage/index.js';
import { BlobService } from './blobs.js';
import { KeyedMutex } from './keyed-mutex.js';
import { NO_QUOTA, type PushQuota } from './quotas.js';

/** The running hash of an upload's bytes, valid for exactly `offset` bytes. */
interface HashState {
  hash: Hash;
  offset: number;
}

/**
 * Upload sessions: bytes stream into `uploads/<id>` while a sha256 runs over them; the row
 * records how many bytes are durable so a client (or a restarted server) resumes there.
 * Completion verifies the digest, commits the bytes by content address, then writes the row.
 */
export class UploadService {
  private readonly hashes = new Map<string, HashState>();
  private readonly mutex = new KeyedMutex();

  constructor(
    private readonly db: Db,
    private readonly driver: BlobDriver,
    private readonly quota: PushQuota = NO_QUOTA,
  ) {}

  async start(repositoryId: string): Promise<Upload> {
    const now = Date.now();
    const upload: Upload = { id: randomUUID(), repository_id: repositoryId, received_bytes: 0, created_at: now, updated_at: now };
    await this.db.insertInto('uploads').values(upload).execute();
    this.hashes.set(upload.id, { hash: createDigester('sha256'), offset: 0 });
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
   */
  async append(repositoryId: string, uploadId: string, source: AsyncIterable<Buffer>, start?: number): Promise<Upload> {
    return this.mutex.run(uploadId, async () => {
      const upload = await this.get(repositoryId, uploadId);
      if (start !== undefined && start !== upload.received_bytes) throw rangeError(upload.received_bytes);
      return this.appendLocked(upload, source);
    });
  }

  /** Finishes the upload with an optional last chunk; verifies the digest and commits. */
  async complete(repositoryId: string, uploadId: string, digest: string, source: AsyncIterable<Buffer> | undefined, start?: number): Promise<{ digest: string; size: number }> {
    const expected = requireDigest(digest);
    return this.mutex.run(uploadId, async () => {
      let upload = await this.get(repositoryId, uploadId);
      if (source) {
        if (start !== undefined && start !== upload.received_bytes) throw rangeError(upload.received_bytes);
        upload = await this.appendLocked(upload, source);
      }
      const actual = await this.digestOf(upload, expected.algorithm);
      if (actual !== expected.value) {
        throw new AppError('DIGEST_INVALID', `uploaded content has digest ${actual}, not ${expected.value}`, { detail: { expected: expected.value, actual } });
      }
      await this.quota.checkBlob(repositoryId, expected.value, upload.received_bytes);
      await this.commit(upload.id, expected.value, upload.received_bytes);
      await this.db.transaction().execute(async (tx) => {
        await this.quota.checkBlob(repositoryId, expected.value, upload.received_bytes, tx);
        await BlobService.record(tx, this.driver, repositoryId, expected.value, upload.received_bytes);
        await tx.deleteFrom('uploads').where('id', '=', upload.id).execute();
      });
      this.hashes.delete(upload.id);
      return { digest: expected.value, size: upload.received_bytes };
    });
  }

  /**
   * A whole blob in one request (`POST ?digest=`). No session row: if the process dies
   * mid-way the temporary file is an orphan that expiry removes.
   */
  async putMonolithic(repositoryId: string, digest: string, source: AsyncIterable<Buffer>): Promise<{ digest: string; size: number }> {
    const expected = requireDigest(digest);
    const id = randomUUID();
    const hash = createDigester(expected.algorithm);
    const key = uploadKey(id);
    let size: number;
    try {
      size = await this.driver.write(key, hashing(source, hash), 0);
      const actual = `${expected.algorithm}:${hash.digest('hex')}`;
      if (actual !== expected.value) {
        throw new AppError('DIGEST_INVALID', `uploaded content has digest ${actual}, not ${expected.value}`, { detail: { expected: expected.value, actual } });
      }
      await this.quota.checkBlob(repositoryId, expected.value, size);
      await this.commit(id, expected.value, size);
    } catch (err) {
      await this.driver.delete(key).catch(() => undefined);
      throw err;
    }
    await this.db.transaction().execute(async (tx) => {
      await this.quota.checkBlob(repositoryId, expected.value, size, tx);
      await BlobService.record(tx, this.driver, repositoryId, expected.value, size);
    });
    return { digest: expected.value, size };
  }

  async cancel(repositoryId: string, uploadId: string): Promise<void> {
    await this.mutex.run(uploadId, async () => {
      const upload = await this.get(repositoryId, uploadId);
      await this.db.deleteFrom('uploads').where('id', '=', upload.id).execute();
      this.hashes.delete(upload.id);
      await this.driver.delete(uploadKey(upload.id));
    });
  }

  /** Removes sessions idle since before `cutoff` and orphaned temporary files; returns how many. */
  async expire(cutoff: number): Promise<number> {
    const stale = await this.db.selectFrom('uploads').select('id').where('updated_at', '<', cutoff).execute();
    for (const { id } of stale) {
      await this.db.deleteFrom('uploads').where('id', '=', id).where('updated_at', '<', cutoff).execute();
      this.hashes.delete(id);
      await this.driver.delete(uploadKey(id));
    }
    let orphans = 0;
    for await (const object of this.driver.list('uploads')) {
      if (object.modifiedAt >= cutoff) continue;
      const id = object.key.slice('uploads/'.length);
      const row = await this.db.selectFrom('uploads').select('id').where('id', '=', id).executeTakeFirst();
      if (!row) {
        await this.driver.delete(object.key);
        orphans++;
      }
    }
    return stale.length + orphans;
  }

  private async appendLocked(upload: Upload, source: AsyncIterable<Buffer>): Promise<Upload> {
    const state = await this.hashAt(upload);
    let size: number;
    try {
      size = await this.driver.write(uploadKey(upload.id), hashing(source, state.hash), upload.received_bytes);
    } catch (err) {
      // The hash saw bytes the store did not keep; rebuild it from storage next time.
      this.hashes.delete(upload.id);
      throw err;
    }
    const updatedAt = Date.now();
    const result = await this.db
      .updateTable('uploads')
      .set({ received_bytes: size, updated_at: updatedAt })
      .where('id', '=', upload.id)
      .where('received_bytes', '=', upload.received_bytes)
      .executeTakeFirst()
      .catch((err: unknown) => {
        // The database did not record the new bytes (e.g. it is unreachable): the hash has seen
        // them, the row has not, so the hash is rebuilt from the recorded bytes next time.
        this.hashes.delete(upload.id);
        throw err;
      });
    if (Number(result.numUpdatedRows) === 0) {
      // Another node moved this upload on; our bytes may be stale.
      this.hashes.delete(upload.id);
      const current = await this.db.selectFrom('uploads').select('received_bytes').where('id', '=', upload.id).executeTakeFirst();
      if (!current) throw new AppError('BLOB_UPLOAD_UNKNOWN', `upload ${upload.id} was cancelled`);
      throw rangeError(current.received_bytes);
    }
    this.hashes.set(upload.id, { hash: state.hash, offset: size });
    return { ...upload, received_bytes: size, updated_at: updatedAt };
  }

  /** The sha256 state for exactly the recorded bytes, rebuilt from storage after a restart. */
  private async hashAt(upload: Upload): Promise<HashState> {
    const cached = this.hashes.get(upload.id);
    if (cached && cached.offset === upload.received_bytes) return cached;
    const hash = createDigester('sha256');
    if (upload.received_bytes > 0) await this.hashStored(upload.id, upload.received_bytes, hash);
    const state = { hash, offset: upload.received_bytes };
    this.hashes.set(upload.id, state);
    return state;
  }

  private async digestOf(upload: Upload, algorithm: Digest['algorithm']): Promise<string> {
    if (algorithm === 'sha256') {
      const state = await this.hashAt(upload);
      return `sha256:${state.hash.copy().digest('hex')}`;
    }
    const hash = createDigester(algorithm);
    if (upload.received_bytes > 0) await this.hashStored(upload.id, upload.received_bytes, hash);
    return `${algorithm}:${hash.digest('hex')}`;
  }

  private async hashStored(uploadId: string, length: number, hash: Hash): Promise<void> {
    const stream = await this.driver.read(uploadKey(uploadId), { start: 0, end: length - 1 });
    for await (const chunk of stream) hash.update(chunk as Buffer);
  }

  private async commit(uploadId: string, digest: string, size: number): Promise<void> {
    const existing = await this.driver.stat(blobKey(digest));
    if (existing && existing.size === size) {
      await this.driver.delete(uploadKey(uploadId));
      return;
    }
    if (size === 0 && !(await this.driver.stat(uploadKey(uploadId)))) {
      await this.driver.put(blobKey(digest), Buffer.alloc(0));
      return;
    }
    await this.driver.commit(uploadKey(uploadId), blobKey(digest));
  }
}

async function* hashing(source: AsyncIterable<Buffer>, hash: Hash): AsyncIterable<Buffer> {
  for await (const chunk of source) {
    hash.update(chunk);
    yield chunk;
  }
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
