import type { Readable } from 'node:stream';
import type { Db } from '../db/index.js';
import { AppError } from '../errors/index.js';
import { blobKey, BlobNotFoundError, type BlobDriver } from '../storage/index.js';
import { NO_QUOTA, type PushQuota } from './quotas.js';

type Executor = Pick<Db, 'insertInto' | 'selectFrom'>;

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
   * Size of a blob linked into the repository, or undefined. A client that finds a blob here
   * will reference it in a manifest soon; refreshing an old link keeps garbage collection from
   * unlinking it in between.
   */
  async stat(repositoryId: string, digest: string): Promise<{ size: number } | undefined> {
    const row = await this.db
      .selectFrom('repository_blobs as rb')
      .innerJoin('blobs as b', 'b.digest', 'rb.digest')
      .select(['b.size', 'rb.created_at'])
      .where('rb.repository_id', '=', repositoryId)
      .where('rb.digest', '=', digest)
      .executeTakeFirst();
    if (!row) return undefined;
    const now = Date.now();
    if (row.created_at < now - this.touchAfterMs) {
      await this.db.updateTable('repository_blobs').set({ created_at: now }).where('repository_id', '=', repositoryId).where('digest', '=', digest).execute();
    }
    return { size: row.size };
  }

  /** Opens a linked blob, optionally an inclusive byte range of it. */
  async open(repositoryId: string, digest: string, range?: { start: number; end: number }): Promise<Readable> {
    try {
      return await this.driver.read(blobKey(digest), range);
    } catch (err) {
      if (err instanceof BlobNotFoundError) throw new AppError('BLOB_UNKNOWN', `blob ${digest} is recorded but its bytes are missing`, { detail: { digest } });
      throw err;
    }
  }

  /**
   * Records that committed bytes exist and links them into a repository, in the caller's
   * transaction. The bytes are checked after the row is claimed: garbage collection deletes a
   * blob's bytes while holding its row, so a push racing it fails loudly instead of recording
   * a blob with no bytes.
   */
  static async record(db: Executor, driver: BlobDriver, repositoryId: string, digest: string, size: number): Promise<void> {
    const now = Date.now();
    await db.insertInto('blobs').values({ digest, size, uncompressed_size: null, created_at: now }).onConflict((oc) => oc.column('digest').doNothing()).execute();
    await db
      .insertInto('repository_blobs')
      .values({ repository_id: repositoryId, digest, created_at: now })
      .onConflict((oc) => oc.columns(['repository_id', 'digest']).doUpdateSet({ created_at: now }))
      .execute();
    if (!(await driver.stat(blobKey(digest)))) {
      throw new AppError('UNAVAILABLE', `blob ${digest} was removed by garbage collection while it was being pushed; push it again`);
    }
  }

  /**
   * Removes bytes a failed push put at the blob's key, unless a row references them by now
   * (another push of the same content recorded them). Holds a placeholder row while deleting,
   * as garbage collection's orphan sweep does: a push recording the digest meanwhile waits,
   * then finds the bytes gone and fails loudly instead of recording a blob without bytes.
   * True when the bytes were removed.
   */
  static async discardUnreferenced(db: Db, driver: BlobDriver, digest: string): Promise<boolean> {
    return db.transaction().execute(async (tx) => {
      const claimed = await tx
        .insertInto('blobs')
        .values({ digest, size: 0, uncompressed_size: null, created_at: 0 })
        .onConflict((oc) => oc.column('digest').doNothing())
        .executeTakeFirst();
      if (Number(claimed.numInsertedOrUpdatedRows ?? 0) === 0) return false;
      await driver.delete(blobKey(digest));
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
