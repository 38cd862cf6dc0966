import { randomUUID } from 'node:crypto';
import type { Db, Repository } from '../db/index.js';
import { NO_QUOTA, type PushQuota } from './quotas.js';

/** Repositories exist from their first push; lookups never create them. */
export class RepositoryService {
  constructor(
    private readonly db: Db,
    private readonly quota: PushQuota = NO_QUOTA,
  ) {}

  async find(registryId: string, path: string): Promise<Repository | undefined> {
    return this.db.selectFrom('repositories').selectAll().where('registry_id', '=', registryId).where('name', '=', path).executeTakeFirst();
  }

  /** A repository, in one of the given registries, that holds the blob (for mounts without `from`). */
  async findHolding(registryIds: readonly string[], digest: string, exceptRepositoryId: string): Promise<string | undefined> {
    if (registryIds.length === 0) return undefined;
    const row = await this.db
      .selectFrom('repository_blobs as rb')
      .innerJoin('repositories as r', 'r.id', 'rb.repository_id')
      .select('r.id')
      .where('r.registry_id', 'in', registryIds)
      .where('rb.digest', '=', digest)
      .where('r.id', '!=', exceptRepositoryId)
      .limit(1)
      .executeTakeFirst();
    return row?.id;
  }

  /**
   * Removes repositories that hold nothing (no manifest, link or upload) and were created
   * before `cutoff`: what remains after their images were deleted and collected, or after a
   * push that never finished. Returns how many.
   */
  async removeEmpty(cutoff: number): Promise<number> {
    const result = await this.db
      .deleteFrom('repositories as r')
      .where('r.created_at', '<', cutoff)
      .where((eb) =>
        eb.not(
          eb.or([
            eb.exists(eb.selectFrom('manifests as m').select('m.id').whereRef('m.repository_id', '=', 'r.id')),
            eb.exists(eb.selectFrom('repository_blobs as rb').select('rb.digest').whereRef('rb.repository_id', '=', 'r.id')),
            eb.exists(eb.selectFrom('uploads as u').select('u.id').whereRef('u.repository_id', '=', 'r.id')),
          ]),
        ),
      )
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /** Returns the repository, creating it on first push; concurrent first pushes agree on one row. */
  async ensure(registryId: string, path: string): Promise<Repository> {
    const existing = await this.find(registryId, path);
    if (existing) return existing;
    await this.quota.checkNewRepository(registryId, path);
    await this.db
      .insertInto('repositories')
      .values({ id: randomUUID(), registry_id: registryId, name: path, created_at: Date.now() })
      .onConflict((oc) => oc.columns(['registry_id', 'name']).doNothing())
      .execute();
    return (await this.find(registryId, path))!;
  }
}
