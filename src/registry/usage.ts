import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Db } from '../db/index.js';

/**
 * Storage usage: the distinct bytes linked into a registry's repositories. Exact queries for
 * quota checks; the stored `storage_usage_bytes` is refreshed asynchronously after changes.
 */
export class UsageService {
  private readonly dirty = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly db: Db,
    private readonly logger: Logger,
    private readonly debounceMs = 500,
  ) {}

  /** `q` lets a caller count inside its own transaction. */
  async registryBytes(registryId: string, q: Db = this.db): Promise<number> {
    const row = await q
      .selectFrom('blobs as b')
      .select(sql<number>`coalesce(sum(b.size), 0)`.as('bytes'))
      .where('b.digest', 'in', (eb) =>
        eb.selectFrom('repository_blobs as rb').innerJoin('repositories as r', 'r.id', 'rb.repository_id').select('rb.digest').where('r.registry_id', '=', registryId),
      )
      .executeTakeFirstOrThrow();
    return Number(row.bytes);
  }

  /** The team's usage: the sum over its registries, each counted as DigitalOcean does. */
  async teamBytes(teamId: string, q: Db = this.db): Promise<number> {
    const registries = await q.selectFrom('registries').select('id').where('team_id', '=', teamId).execute();
    let total = 0;
    for (const r of registries) total += await this.registryBytes(r.id, q);
    return total;
  }

  /**
   * The team's repositories that hold something or are being pushed to: a manifest, a linked
   * blob or an upload in progress. A repository whose images were deleted and collected (and
   * whose abandoned uploads expired) keeps its row but no longer counts: it is not listed, and
   * the API cannot delete it either. `except` leaves one repository out of the count.
   */
  /**
   * Repositories of the team that hold content, leaving out `except`: a repository's id, or
   * the name a first push is about to create (which a concurrent first push to the same name
   * may have created already: that one is not another repository).
   */
  async teamRepositories(teamId: string, except?: string | { registryId: string; name: string }, q: Db = this.db): Promise<number> {
    let query = q
      .selectFrom('repositories as r')
      .innerJoin('registries as g', 'g.id', 'r.registry_id')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('g.team_id', '=', teamId)
      .where((eb) =>
        eb.or([
          eb.exists(eb.selectFrom('manifests as m').select('m.id').whereRef('m.repository_id', '=', 'r.id')),
          eb.exists(eb.selectFrom('repository_blobs as rb').select('rb.digest').whereRef('rb.repository_id', '=', 'r.id')),
          eb.exists(eb.selectFrom('uploads as u').select('u.id').whereRef('u.repository_id', '=', 'r.id')),
        ]),
      );
    if (typeof except === 'string') query = query.where('r.id', '!=', except);
    else if (except) query = query.where((eb) => eb.not(eb.and([eb('r.registry_id', '=', except.registryId), eb('r.name', '=', except.name)])));
    const row = await query.executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async refresh(registryId: string): Promise<void> {
    const bytes = await this.registryBytes(registryId);
    await this.db.updateTable('registries').set({ storage_usage_bytes: bytes, storage_usage_updated_at: Date.now() }).where('id', '=', registryId).execute();
  }

  /** Schedules a refresh shortly; many changes in a burst cost one query. */
  markDirty(registryId: string): void {
    this.dirty.add(registryId);
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.flush();
      }, this.debounceMs);
      this.timer.unref();
    }
  }

  /** Refreshes everything marked; also used to catch changes other nodes made. */
  async flush(all = false): Promise<void> {
    if (this.running) await this.running;
    const ids = all ? (await this.db.selectFrom('registries').select('id').execute()).map((r) => r.id) : [...this.dirty];
    for (const id of ids) this.dirty.delete(id);
    this.running = (async () => {
      for (const id of ids) await this.refresh(id).catch((err: unknown) => this.logger.error({ err, registryId: id }, 'storage usage refresh failed'));
    })();
    await this.running;
    this.running = undefined;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
