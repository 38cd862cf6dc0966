import type { Db } from '../db/index.js';
import { AppError } from '../errors/index.js';
import { tierOfTeam, type Tier, type Tiers } from './tiers.js';
import type { UsageService } from './usage.js';

/** Hooks the push path calls before anything is stored. */
export interface PushQuota {
  /** Before a repository is created by a push. */
  checkNewRepository(registryId: string): Promise<void>;
  /**
   * Before a blob's bytes are committed or linked into a repository. Called once early (to
   * refuse before storing anything) and again inside the recording transaction with `tx`,
   * where it locks the team first so concurrent pushes cannot both fit under the limit.
   */
  checkBlob(repositoryId: string, digest: string, size: number, tx?: Db): Promise<void>;
}

/** Enforces the team's tier where bytes arrive: repository allowance and, without overage, storage. */
export class TierQuota implements PushQuota {
  constructor(
    private readonly db: Db,
    private readonly usage: UsageService,
    private readonly tiers: Tiers,
  ) {}

  async checkNewRepository(registryId: string): Promise<void> {
    const team = await this.teamOfRegistry(registryId);
    await this.checkRepositoryAllowance(team.id, tierOfTeam(this.tiers, team));
  }

  async checkBlob(repositoryId: string, digest: string, size: number, tx?: Db): Promise<void> {
    const q = tx ?? this.db;
    const row = await q
      .selectFrom('repositories as r')
      .innerJoin('registries as g', 'g.id', 'r.registry_id')
      .innerJoin('teams as t', 't.id', 'g.team_id')
      .select(['t.id as team_id', 't.tier', 'g.id as registry_id'])
      .where('r.id', '=', repositoryId)
      .executeTakeFirstOrThrow();
    const tier = tierOfTeam(this.tiers, row);
    if (tier.included_repositories === 0 && tier.allow_storage_overage) return;
    // A no-op write locks the team (PostgreSQL row lock, SQLite write lock) until the caller commits.
    if (tx) await tx.updateTable('teams').set((eb) => ({ tier: eb.ref('tier') })).where('id', '=', row.team_id).execute();
    // A repository that holds nothing does not count; content arriving in it counts it again.
    if (tier.included_repositories !== 0 && !(await this.holdsContent(repositoryId, q))) await this.checkRepositoryAllowance(row.team_id, tier, repositoryId, q);
    if (tier.allow_storage_overage) return;
    // Bytes already linked somewhere in this registry are not counted again.
    const already = await q
      .selectFrom('repository_blobs as rb')
      .innerJoin('repositories as r', 'r.id', 'rb.repository_id')
      .select('rb.digest')
      .where('r.registry_id', '=', row.registry_id)
      .where('rb.digest', '=', digest)
      .executeTakeFirst();
    if (already) return;
    const used = await this.usage.teamBytes(row.team_id, q);
    if (used + size > tier.included_storage_bytes) {
      throw new AppError(
        'DENIED',
        `storage limit reached: the ${tier.name} tier includes ${tier.included_storage_bytes} bytes, ${used} are used and this blob needs ${size} more; delete images and run garbage collection, or upgrade`,
      );
    }
  }

  /** Refuses one more repository when the others already use the tier's allowance. */
  private async checkRepositoryAllowance(teamId: string, tier: Tier, except?: string, q: Db = this.db): Promise<void> {
    if (tier.included_repositories === 0) return;
    const count = await this.usage.teamRepositories(teamId, except, q);
    if (count >= tier.included_repositories) {
      throw new AppError(
        'DENIED',
        `the ${tier.name} tier includes ${tier.included_repositories} repositor${tier.included_repositories === 1 ? 'y' : 'ies'} and this team has ${count}; delete one or upgrade the subscription`,
      );
    }
  }

  private async holdsContent(repositoryId: string, q: Db): Promise<boolean> {
    const manifest = await q.selectFrom('manifests').select('id').where('repository_id', '=', repositoryId).limit(1).executeTakeFirst();
    const link = await q.selectFrom('repository_blobs').select('digest').where('repository_id', '=', repositoryId).limit(1).executeTakeFirst();
    return manifest !== undefined || link !== undefined;
  }

  private async teamOfRegistry(registryId: string): Promise<{ id: string; tier: string }> {
    return this.db
      .selectFrom('registries as g')
      .innerJoin('teams as t', 't.id', 'g.team_id')
      .select(['t.id', 't.tier'])
      .where('g.id', '=', registryId)
      .executeTakeFirstOrThrow();
  }
}

/** No limits (admin tools, tests of other behaviour). */
export const NO_QUOTA: PushQuota = {
  async checkNewRepository() {},
  async checkBlob() {},
};
