import type { Readable } from 'node:stream';
import type { Db } from '../db/index.js';
import { AppError } from '../errors/index.js';
import { blobKey, BlobNotFoundError, type BlobDriver } from '../storage/index.js';

type Executor = Pick<Db, 'insertInto' | 'selectFrom'>;

/**
 * Blob visibility: bytes are stored once by digest, and a repository sees a blob only
 * through a link. A digest stored for another repository is unknown here.
 */
export class BlobService {
  constructor(
    private readonly db: Db,
    private readonly driver: BlobDriver,
  ) {}

  /** Size of a blob linked into the repository, or undefined. */
  async stat(repositoryId: string, digest: string): Promise<{ size: number } | undefined> {
    return this.db
      .selectFrom('repository_blobs as rb')
      .innerJoin('blobs as b', 'b.digest', 'rb.digest')
      .select('b.size')
      .where('rb.repository_id', '=', repositoryId)
      .where('rb.digest', '=', digest)
      .executeTakeFirst();
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

  /** Records that committed bytes exist and links them into a repository, in the caller's transaction. */
  static async record(db: Executor, repositoryId: string, digest: string, size: number): Promise<void> {
    const now = Date.now();
    await db.insertInto('blobs').values({ digest, size, created_at: now }).onConflict((oc) => oc.column('digest').doNothing()).execute();
    await db
      .insertInto('repository_blobs')
      .values({ repository_id: repositoryId, digest, created_at: now })
      .onConflict((oc) => oc.columns(['repository_id', 'digest']).doNothing())
      .execute();
  }

  /** Links a blob the source repository holds into the target; false when the source lacks it. */
  async mount(targetRepositoryId: string, sourceRepositoryId: string, digest: string): Promise<{ size: number } | undefined> {
    const source = await this.stat(sourceRepositoryId, digest);
    if (!source) return undefined;
    await BlobService.record(this.db, targetRepositoryId, digest, source.size);
    return source;
  }

  /** Removes the repository's link; the bytes stay for garbage collection to judge. */
  async unlink(repositoryId: string, digest: string): Promise<void> {
    const result = await this.db.deleteFrom('repository_blobs').where('repository_id', '=', repositoryId).where('digest', '=', digest).executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw new AppError('BLOB_UNKNOWN', `blob ${digest} is not in this repository`, { detail: { digest } });
  }
}
