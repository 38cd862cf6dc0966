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

  /** Returns the repository, creating it on first push; concurrent first pushes agree on one row. */
  async ensure(registryId: string, path: string): Promise<Repository> {
    const existing = await this.find(registryId, path);
    if (existing) return existing;
    await this.quota.checkNewRepository(registryId);
    await this.db
      .insertInto('repositories')
      .values({ id: randomUUID(), registry_id: registryId, name: path, created_at: Date.now() })
      .onConflict((oc) => oc.columns(['registry_id', 'name']).doNothing())
      .execute();
    return (await this.find(registryId, path))!;
  }
}
