import { sql } from 'kysely';
import { bytewise, type Db, type Dialect } from '../db/index.js';

export interface Page<T> {
  items: T[];
  /** True when more items follow the last one returned. */
  more: boolean;
}

/** Tag lists and the catalog, in byte-wise lexical order with `n`/`last` paging. */
export class ListingService {
  constructor(
    private readonly db: Db,
    private readonly dialect: Dialect,
  ) {}

  async tags(repositoryId: string, options: { n?: number; last?: string }): Promise<Page<string>> {
    const name = bytewise(this.dialect, 'name');
    let query = this.db.selectFrom('tags').select('name').where('repository_id', '=', repositoryId);
    if (options.last !== undefined) query = query.where(name, '>', options.last);
    query = query.orderBy(name);
    if (options.n !== undefined) query = query.limit(options.n + 1);
    const rows = await query.execute();
    const more = options.n !== undefined && rows.length > options.n;
    return { items: rows.slice(0, options.n ?? rows.length).map((r) => r.name), more };
  }

  /**
   * Full names (`registry/repository`) of repositories holding at least one manifest, in the
   * given registries only.
   */
  async catalog(registryIds: readonly string[], options: { n?: number; last?: string }): Promise<Page<string>> {
    if (registryIds.length === 0 || options.n === 0) return { items: [], more: false };
    const fullName = bytewise(this.dialect, sql<string>`g.name || '/' || r.name`);
    let query = this.db
      .selectFrom('repositories as r')
      .innerJoin('registries as g', 'g.id', 'r.registry_id')
      .select(fullName.as('full_name'))
      .where('r.registry_id', 'in', registryIds)
      .where((eb) => eb.exists(eb.selectFrom('manifests as m').select('m.id').whereRef('m.repository_id', '=', 'r.id')));
    if (options.last !== undefined) query = query.where(fullName, '>', options.last);
    query = query.orderBy(fullName);
    if (options.n !== undefined) query = query.limit(options.n + 1);
    const rows = await query.execute();
    const more = options.n !== undefined && rows.length > options.n;
    return { items: rows.slice(0, options.n ?? rows.length).map((r) => r.full_name), more };
  }
}
