import type { Readable } from 'node:stream';
import type { Db } from '../db/index.js';
import { AppError } from '../errors/index.js';
import { blobKey, BlobNotFoundError, type BlobDriver, type RandomAccessObject } from '../storage/index.js';
import { NO_QUOTA, type PushQuota } from './quotas.js';

type Executor = Pick<Db, 'insertInto' | 'selectFrom' | 'updateTable'>;

/** A blob as a repository sees it: its size and where its bytes are. */
export interface LinkedBlob {
  digest: string;
  size: number;
  key: string;
}

/**
 * Blob visibility: bytes are stored once by digest, and a repository sees a blob only
 * through a link. A digest stored for another repository is unknown here.
 */
export class BlobService {
  constructor(
    private readonly db: Db,
    private readonly driver: BlobDriver,
    private readonly quota: PushQuota = NO_QUOTA,
    /** A link seen older than this is touched, so garbage collection's grace period restarts. */
    private readonly touchAfterMs = 30 * 60_000,
  ) {}

  /**
   * Size and storage key of a blob linked into the repository, or undefined. A client that
   * finds a blob here will reference it in a manifest soon; refreshing an old link keeps
   * garbage collection from unlinking it in between.
   */
  async stat(repositoryId: string, digest: string): Promise<LinkedBlob | undefined> {
    const row = await this.db
      .selectFrom('repository_blobs as rb')
      .innerJoin('blobs as b', 'b.digest', 'rb.digest')
      .select(['b.size', 'b.storage_key', 'rb.created_at'])
      .where('rb.repository_id', '=', repositoryId)
      .where('rb.digest', '=', digest)
      .executeTakeFirst();
    if (!row) return undefined;
    const now = Date.now();
    if (row.created_at < now - this.touchAfterMs) {
      await this.db.updateTable('repository_blobs').set({ created_at: now }).where('repository_id', '=', repositoryId).where('digest', '=', digest).execute();
    }
    return { digest, size: row.size, key: row.storage_key ?? blobKey(digest) };
  }

  /** Opens a linked blob (from `stat`), optionally an inclusive byte range of it. */
  async open(blob: LinkedBlob, range?: { start: number; end: number }): Promise<Readable> {
    try {
      return await this.driver.read(blob.key, range);
    } catch (err) {
      if (err instanceof BlobNotFoundError) throw new AppError('BLOB_UNKNOWN', `blob ${blob.digest} is recorded but its bytes are missing`, { detail: { digest: blob.digest } });
      throw err;
    }
  }

  /**
   * Opens a linked blob for positioned reads, when the driver can (see `openRandomAccess` on
   * BlobDriver); undefined otherwise, and the caller streams with `open`.
   */
  async openRandomAccess(blob: LinkedBlob, range?: { start: number; end: number }): Promise<RandomAccessObject | undefined> {
    if (!this.driver.openRandomAccess) return undefined;
    try {
      return await this.driver.openRandomAccess(blob.key, range);
    } catch (err) {
      if (err instanceof BlobNotFoundError) throw new AppError('BLOB_UNKNOWN', `blob ${blob.digest} is recorded but its bytes are missing`, { detail: { digest: blob.digest } });
      throw err;
    }
  }

  /**
   * A URL the client may fetch the blob from directly for `ttlSeconds`, or undefined when the
   * storage cannot hand out such URLs.
   */
  async redirectUrl(blob: LinkedBlob, ttlSeconds: number): Promise<string | undefined> {
    return this.driver.presignGet?.(blob.key, ttlSeconds);
  }

  /** The key holding a digest's bytes, when it has a row and the bytes are there. */
  static async locate(db: Pick<Db, 'selectFrom'>, driver: BlobDriver, digest: string): Promise<string | undefined> {
    const row = await db.selectFrom('blobs').select('storage_key').where('digest', '=', digest).executeTakeFirst();
    if (!row) return undefined;
    const key = row.storage_key ?? blobKey(digest);
    return (await driver.stat(key)) ? key : undefined;
  }

  /**
   * Records that committed bytes exist at `key` and links them into a repository, in the
   * caller's transaction; returns the key the blob's row names afterwards. When the digest
   * was already stored elsewhere and those bytes exist, they win and the caller removes its
   * own object; when they were lost, the row moves to `key` (a re-push heals). Without `key`
   * (a mount) the bytes the row names must exist.
   *
   * The bytes are checked after the row is claimed: garbage collection deletes a blob's bytes
   * while holding its row, so a push racing it fails loudly instead of recording a blob with
   * no bytes.
   */
  static async record(db: Executor, driver: BlobDriver, repositoryId: string, digest: string, size: number, key?: string): Promise<string> {
    const now = Date.now();
    const storageKey = (k: string | undefined) => (k === undefined || k === blobKey(digest) ? null : k);
    await db
      .insertInto('blobs')
      .values({ digest, size, uncompressed_size: null, created_at: now, storage_key: storageKey(key) })
      .onConflict((oc) => oc.column('digest').doNothing())
      .execute();
    await db
      .insertInto('repository_blobs')
      .values({ repository_id: repositoryId, digest, created_at: now })
      .onConflict((oc) => oc.columns(['repository_id', 'digest']).doUpdateSet({ created_at: now }))
      .execute();
    const row = await db.selectFrom('blobs').select('storage_key').where('digest', '=', digest).executeTakeFirstOrThrow();
    const current = row.storage_key ?? blobKey(digest);
    if (await driver.stat(current)) return current;
    if (key !== undefined && current !== key && (await driver.stat(key))) {
      await db.updateTable('blobs').set({ storage_key: storageKey(key) }).where('digest', '=', digest).execute();
      return key;
    }
    throw new AppError('UNAVAILABLE', `blob ${digest} was removed by garbage collection while it was being pushed; push it again`);
  }

  /**
   * Removes bytes a failed push put at the blob's key, unless a row references them by now
   * (another push of the same content recorded them). Holds a placeholder row while deleting,
   * as garbage collection's orphan sweep does: a push recording the digest meanwhile waits,
   * then finds the bytes gone and fails loudly instead of recording a blob without bytes.
   * True when the bytes were removed.
   */
  static async discardUnreferenced(db: Db, driver: BlobDriver, digest: string, key = blobKey(digest)): Promise<boolean> {
    return db.transaction().execute(async (tx) => {
      const claimed = await tx
        .insertInto('blobs')
        .values({ digest, size: 0, uncompressed_size: null, created_at: 0 })
        .onConflict((oc) => oc.column('digest').doNothing())
        .executeTakeFirst();
      if (Number(claimed.numInsertedOrUpdatedRows ?? 0) === 0) return false;
      await driver.delete(key);
      await tx.deleteFrom('blobs').where('digest', '=', digest).execute();
      return true;
    });
  }

  /** Links a blob the source repository holds into the target; false when the source lacks it. */
  async mount(targetRepositoryId: string, sourceRepositoryId: string, digest: string): Promise<{ size: number } | undefined> {
    const source = await this.stat(sourceRepositoryId, digest);
    if (!source) return undefined;
    await this.quota.checkBlob(targetRepositoryId, digest, source.size);
    await this.db.transaction().execute(async (tx) => {
      await this.quota.checkBlob(targetRepositoryId, digest, source.size, tx);
      await BlobService.record(tx, this.driver, targetRepositoryId, digest, source.size);
    });
    return source;
  }

  /** Removes the repository's link; the bytes stay for garbage collection to judge. */
  async unlink(repositoryId: string, digest: string): Promise<void> {
    const result = await this.db.deleteFrom('repository_blobs').where('repository_id', '=', repositoryId).where('digest', '=', digest).executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw new AppError('BLOB_UNKNOWN', `blob ${digest} is not in this repository`, { detail: { digest } });
  }
}
