import { randomUUID } from 'node:crypto';
import type { Db, Repository } from '../db/index.js';

/** Repositories exist from their first push; lookups never create them. */
export class RepositoryService {
  constructor(private readonly db: Db) {}

  async find(registryId: string, path: string): Promise<Repository | undefined> {
    return this.db.selectFrom('repositories').selectAll().where('registry_id', '=', registryId).where('name', '=', path).executeTakeFirst();
  }

  /** Returns the repository, creating it on first push; concurrent first pushes agree on one row. */
  async ensure(registryId: string, path: string): Promise<Repository> {
    const existing = await this.find(registryId, path);
    if (existing) return existing;
    await this.db
      .insertInto('repositories')
      .values({ id: randomUUID(), registry_id: registryId, name: path, created_at: Date.now() })
      .onConflict((oc) => oc.columns(['registry_id', 'name']).doNothing())
      .execute();
    return (await this.find(registryId, path))!;
  }
}
